"""JSON Schema (draft 2020-12) for a command's inputs and results, derived from its TypeNode.

The HTTP, MCP and OpenAPI connectors describe commands to clients that speak JSON Schema (an MCP
tool's `inputSchema`, OpenAPI 3.1). Deriving it from the TypeNode rather than from pydantic's
`model_json_schema` keeps it in step with Foobara's manifest: the same types, the same rules for
sensitive values. Registered types are inlined (with a `title`), so a client has no `$defs` to
resolve, except a registered model that refers to itself (`children: list["Node"]`): inlining it
would never end, and cutting it off at some depth would refuse (or let through unchecked) deeper
data that the command accepts (or refuses). Such a model is written once under `$defs` and
referred to with `$ref`, as JSON Schema 2020-12 defines for recursive structures.

An entity is its primary key or its attributes: an input takes a record's key (or the attributes
of a new record), and a result holds a record's attributes with the records it refers to as keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic_core import PydanticUndefined

from .error_catalogue import CONSTRAINTS
from .jsonable import to_json
from .possible_errors import is_entity
from .types import EMAIL_PATTERN, FieldSpec, TypeNode

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = ["inputs_json_schema", "json_schema", "result_json_schema"]

# The schema of each Foobara type before its structure, constraints and annotations are added.
_BASE: dict[str, dict[str, Any]] = {
    "integer": {"type": "integer"},
    "float": {"type": "number"},
    "big_decimal": {"type": "number"},
    "string": {"type": "string"},
    "symbol": {"type": "string"},
    "email": {"type": "string", "format": "email", "pattern": EMAIL_PATTERN},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "array": {"type": "array"},
    "tuple": {"type": "array"},
    "associative_array": {"type": "object"},
    "attributes": {"type": "object"},
}

# Where a result is written otherwise than an input is read: a Decimal as a string (`"9.99"`, as
# Ruby writes a BigDecimal), a float that is not finite as `"NaN"`, `"Infinity"` or `"-Infinity"`.
_RESULT_BASE: dict[str, dict[str, Any]] = {
    "float": {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]},
    "big_decimal": {"type": "string", "pattern": r"^-?\d+(\.\d+)?(E[+-]\d+)?$"},
}

# A constraint's JSON Schema keyword: bounds on numbers, lengths (`maxLength`, made `maxItems` or
# `maxProperties` by what is counted) and patterns.
_BOUNDS = {c.name: c.json_schema for c in CONSTRAINTS.values() if c.value_type == "number"}
_LENGTHS = {c.name: c.json_schema for c in CONSTRAINTS.values() if c.json_schema.endswith("Length")}
_PATTERNS = {c.name: c.json_schema for c in CONSTRAINTS.values() if c.json_schema == "pattern"}
# What a length constraint counts, by JSON type.
_COUNTED = {"string": "Length", "array": "Items", "object": "Properties"}
_STRING_TYPES = ("string", "symbol", "email")


def json_schema(node: TypeNode | None, *, remove_sensitive: bool = False, result: bool = False) -> dict[str, Any]:
    """The JSON Schema of a type; `None` (a command without inputs) is an empty object.

    With `remove_sensitive`, hidden attributes (sensitive and not exposed) are left out, as in
    manifests made for connectors: a client never sees them. With `result`, values as a result
    is written (a Decimal is a string), rather than as an input is read.
    """
    if node is None:
        return {"type": "object", "properties": {}, "additionalProperties": False}
    walk = _Walk(remove_sensitive, result)
    schema = _schema(node, walk)
    if walk.defs:
        schema["$defs"] = {name: walk.defs[name] for name in sorted(walk.defs)}
    return schema


def inputs_json_schema(command: type[CommandBase[Any, Any]], *, remove_sensitive: bool = False) -> dict[str, Any]:
    """The JSON Schema of a command's inputs (an MCP tool's `inputSchema`)."""
    return json_schema(command.spec.inputs_node, remove_sensitive=remove_sensitive)


def result_json_schema(command: type[CommandBase[Any, Any]], *, remove_sensitive: bool = False) -> dict[str, Any]:
    """The JSON Schema of a command's result; `{}` for a result of any type."""
    node = command.spec.result_node
    if node is None:
        return {"type": "null"}
    return json_schema(node, remove_sensitive=remove_sensitive, result=True)


@dataclass
class _Walk:
    """One schema being written: the registered models open on the current path (meeting one
    again is recursion), those found recursive, and their definitions."""

    remove_sensitive: bool
    result: bool = False
    open: set[str] = field(default_factory=set)
    recursive: set[str] = field(default_factory=set)
    defs: dict[str, dict[str, Any]] = field(default_factory=dict)


def _ref(reference: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{_def_name(reference)}"}


def _def_name(reference: str) -> str:
    """`Acme::Tree::Node` -> `Acme.Tree.Node`: a JSON pointer token every tool takes."""
    return reference.replace("::", ".")


def _schema(node: TypeNode, walk: _Walk) -> dict[str, Any]:
    reference = node.reference
    if reference is None or node.fields is None:
        schema = _structure(node, walk)
    elif reference in walk.open or _def_name(reference) in walk.defs:
        walk.recursive.add(reference)
        schema = _ref(reference)
    else:
        walk.open.add(reference)
        try:
            schema = _structure(node, walk)
        finally:
            walk.open.discard(reference)
        if reference in walk.recursive:
            walk.defs[_def_name(reference)] = {**schema, "title": reference.rsplit("::", 1)[-1]}
            schema = _ref(reference)
    _add_constraints(node, schema)
    if node.one_of is not None:
        values = [_json_value(v) for v in node.one_of]
        if node.allow_nil and None not in values:
            values.append(None)
        schema["enum"] = values
    if node.allow_nil:
        schema = _nullable(schema)
    # Annotations go on the outer schema, so a nullable wrapper keeps them visible.
    if node.reference is not None:
        schema["title"] = node.reference.rsplit("::", 1)[-1]
    if node.description:
        schema["description"] = node.description
    if node.sensitive:
        # Clients send secrets but never get them back.
        schema["writeOnly"] = True
    return schema


def _structure(node: TypeNode, walk: _Walk) -> dict[str, Any]:
    if node.members is not None:
        return {"anyOf": [_schema(m, walk) for m in node.members]}
    base = (walk.result and _RESULT_BASE.get(node.type)) or _BASE.get(node.type, {})
    schema = dict(base)  # duck: anything
    if node.json_format is not None:
        schema["format"] = node.json_format
    if node.type == "array" and node.element is not None:
        schema["items"] = _schema(node.element, walk)
    elif node.type == "tuple" and node.elements is not None:
        schema["prefixItems"] = [_schema(e, walk) for e in node.elements]
        schema["minItems"] = schema["maxItems"] = len(node.elements)
    elif node.type == "associative_array":
        key = node.key
        # JSON keys are strings: only a string key's own rules (a pattern, an enum) say anything.
        if key is not None and key.type in _STRING_TYPES and (key.constraints or key.one_of is not None):
            schema["propertyNames"] = _schema(key, walk)
        if node.element is not None:
            schema["additionalProperties"] = _schema(node.element, walk)
    elif node.type == "attributes" and node.fields is not None:
        schema.update(_object(node, walk))
        if is_entity(node):
            return {"anyOf": [_primary_key(node, walk), schema]}
    return schema


def _primary_key(node: TypeNode, walk: _Walk) -> dict[str, Any]:
    """An entity's primary key, never null (`id: int | None = None` is None only until the store
    generates it)."""
    assert node.model is not None and node.fields is not None
    key = node.fields[node.model.__primary_key__].node  # type: ignore[attr-defined]
    schema = _structure(key, walk)
    _add_constraints(key, schema)
    return schema


def _object(node: TypeNode, walk: _Walk) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    for spec in node.visible_fields(walk.remove_sensitive).values():
        name = spec.alias or spec.name  # the name clients send
        prop = _schema(spec.node, walk)
        if _has_plain_default(spec):
            prop["default"] = _json_value(spec.default)
        properties[name] = prop
        if spec.required:
            required.append(name)
    schema: dict[str, Any] = {"properties": properties}
    if required:
        schema["required"] = sorted(required)
    # Commands reject unexpected attributes unless the model lets extra ones in.
    extra = node.model.model_config.get("extra") if node.model is not None else None
    schema["additionalProperties"] = extra == "allow"
    return schema


def _has_plain_default(spec: FieldSpec) -> bool:
    """A default a client can be told: not computed by a factory, and never a secret."""
    return (
        not spec.required
        and spec.default_factory is None
        and spec.default is not PydanticUndefined
        and not spec.node.sensitive
    )


def _add_constraints(node: TypeNode, schema: dict[str, Any]) -> None:
    """Map the constraints that apply to the schema's JSON type; the rest (a bound on a date,
    say) have no JSON Schema keyword and are left to the command's own validation."""
    kind = schema.get("type")
    for name, value in node.constraints.items():
        if name in _BOUNDS:
            if (
                kind in ("integer", "number")
                and isinstance(value, (int, float, Decimal))
                and not isinstance(value, bool)
            ):
                schema[_BOUNDS[name]] = _json_value(value)
        elif name in _LENGTHS:
            counted = _COUNTED.get(kind) if isinstance(kind, str) else None
            if counted is not None:
                # setdefault: a tuple's fixed length already says more.
                schema.setdefault(_LENGTHS[name].replace("Length", counted), value)
        elif name in _PATTERNS and kind == "string":
            schema[_PATTERNS[name]] = value


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if not schema or "enum" in schema:
        return schema  # already takes null: anything, or an enum that lists it
    if list(schema) == ["anyOf"]:
        return {"anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}]}


def _json_value(value: Any) -> Any:
    """A value as JSON: a Decimal as a number (the schema says big_decimal is one), anything
    else as results are serialized."""
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    return to_json(value)
