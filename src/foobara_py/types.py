"""Foobara's view of pydantic types: type declarations in Ruby's strict compact form, the markers
and builtin types pydantic lacks (`Sensitive`, `Email`), and where secrets lie (the jsonable
module leaves them out of whatever is shown).

A `TypeNode` is built once per command class from its pydantic annotations. The validation
module walks it to turn pydantic's error locations into Foobara paths, and the manifest reads
its declarations.
"""

from __future__ import annotations

import builtins
import datetime as dt
import enum
import inspect
import re
import threading
import types as pytypes
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import AnyUrl, BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, PydanticKnownError, PydanticUndefined, core_schema

from . import registry
from .error_catalogue import declared_constraint
from .errors import UnsupportedTypeError
from .jsonable import to_json, writable_int
from .registry import GLOBAL_DOMAIN_NAME, GLOBAL_ORGANIZATION_NAME

__all__ = [
    "Array",
    "Attributes",
    "BigDecimal",
    "Boolean",
    "Date",
    "DateTime",
    "Duck",
    "Email",
    "Float",
    "Integer",
    "Model",
    "RegisteredType",
    "Sensitive",
    "String",
    "Symbol",
    "Tuple",
    "TypeNode",
    "node_for",
    "node_for_model",
    "register_model",
    "register_type",
]

LAZILY_SET = "[<Lazily Set>]"


class Sensitive:
    """Marks a value as secret: `Annotated[str, Sensitive]`.

    A sensitive value never appears in errors, messages, reprs or serialized results, and
    manifests made for connectors leave it out. `Sensitive(exposed=True)` keeps it in those
    manifests (Ruby's `sensitive_exposed`): for a secret the client must send, like a password.
    """

    def __init__(self, *, exposed: bool = False) -> None:
        self.exposed = exposed

    def __repr__(self) -> str:
        return "Sensitive(exposed=True)" if self.exposed else "Sensitive()"


# --------------------------------------------------------------------------------------------
# Email: Ruby Foobara's builtin email type (a downcased string checked by nine rules).

# Ruby evaluates the rules in this order; the order shows in the errors a bad address gets.
_EMAIL_RULES: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    # (symbol, pattern, whether a match is the problem)
    ("second_part_has_bad_characters", re.compile(r"@[.a-z\d-]+\Z"), False),
    ("must_have_an_at_sign", re.compile(r"\A[^@]+\Z"), True),
    ("first_part_has_bad_characters", re.compile(r"\A[.a-z\d_!#$%&'*+/=?^\u2018{|}~-]+@"), False),
    ("cannot_have_multiple_at_signs", re.compile(r"@.*@"), True),
    (
        "first_part_cannot_start_with_or_end_with_a_dot_or_have_two_dots_in_a_row",
        re.compile(r"(^\.|\.@|\.\..*@)"),
        True,
    ),
    ("domain_cannot_start_with_or_end_with_a_hyphen", re.compile(r"(@-|-$)"), True),
    ("first_part_cannot_be_empty", re.compile(r"\A@"), True),
    ("second_part_cannot_be_empty", re.compile(r"@\Z"), True),
    ("cannot_exceed64_characters", re.compile(r"\A.{0,64}\Z"), False),
)
EMAIL_ERROR_SYMBOLS = tuple(sorted(rule[0] for rule in _EMAIL_RULES))

# The nine rules as one regular expression (ECMA 262 and Python alike), for JSON Schema's
# `pattern`: a client generating or checking an address against the schema gets one the command
# accepts. Letters are either case, as the address is downcased before the rules run.
_EMAIL_LOCAL_CHAR = r"[a-zA-Z\d_!#$%&'*+/=?^\u2018{|}~-]"
EMAIL_PATTERN = (
    rf"^(?=.{{1,64}}$){_EMAIL_LOCAL_CHAR}+(\.{_EMAIL_LOCAL_CHAR}+)*@([.a-zA-Z\d]|[.a-zA-Z\d][.a-zA-Z\d-]*[.a-zA-Z\d])$"
)

# A pydantic error type that carries several Foobara errors for one value.
FOOBARA_ERRORS = "foobara_errors"


def _validate_email(value: Any) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        if isinstance(value, int) and not writable_int(value):
            raise PydanticKnownError("string_type")
        value = str(value)
    elif isinstance(value, enum.Enum) and isinstance(value.value, str):
        value = value.value
    if not isinstance(value, str):
        raise PydanticKnownError("string_type")
    email = value.lower()
    failures = []
    for symbol, pattern, negate in _EMAIL_RULES:
        if bool(pattern.search(email)) == negate:
            failures.append(
                (
                    symbol,
                    symbol.replace("_", " ").capitalize(),
                    {"value": email, "regex": pattern.pattern, "negate_regex": negate},
                )
            )
    if failures:
        raise PydanticCustomError(
            FOOBARA_ERRORS,
            "{summary}",
            {"summary": ", ".join(message for _, message, _ in failures), "errors": failures},
        )
    return email


class _EmailType:
    """Validates an `Email` and names its Foobara type in declarations."""

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_email,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {"type": "string", "format": "email", "pattern": EMAIL_PATTERN}


Email = Annotated[str, _EmailType()]
"""An email address: downcased, and validated with Ruby Foobara's rules and error symbols."""


class _Named:
    """Names the Foobara type of an alias whose Python type is more general (`Symbol`)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"foobara:{self.type_name}"


# Ruby Foobara's builtin types, as Python annotations.
Integer = int
Float = float
BigDecimal = Decimal
String = str
Symbol = Annotated[str, _Named("symbol")]
Boolean = bool
Date = dt.date
DateTime = dt.datetime
Duck = Any
Array = list
Tuple = tuple  # type: ignore[type-arg]
Attributes = Annotated[dict[str, Any], _Named("attributes")]


# --------------------------------------------------------------------------------------------
# Registered types: models and custom types with a name in a domain, declared by that name.


# Registered types' nodes are built under this lock: another thread waits for a node being built
# rather than see it half done, while the building thread gets it back (a model refers to itself).
_BUILDING = threading.RLock()


@dataclass(eq=False)
class RegisteredType:
    name: str
    full_name: str
    domain: str  # the domain's full name
    organization: str
    kind: Literal["model", "entity", "type"]
    target: Any  # the model class, or the annotation of a custom type
    description: str | None = None
    _node: TypeNode | None = field(default=None, repr=False)
    _built: bool = field(default=False, repr=False)

    @property
    def node(self) -> TypeNode:
        """The type's own structure (its fields, for a model), built once. Where a model occurs in
        its own structure (`children: list["Node"]`), the occurrence shares these fields."""
        node = self._node
        if node is not None and self._built:
            return node
        with _BUILDING:
            if self._node is None:
                try:
                    if self.kind in ("model", "entity"):
                        self._node = TypeNode(type="attributes", fields={}, model=self.target)
                        _fill_model_node(self._node, self.target, set())
                    else:
                        self._node = node_for(self.target)
                except BaseException:
                    self._node = None
                    raise
                self._built = True
            return self._node


class _TypeReference:
    def __init__(self, registered: RegisteredType) -> None:
        self.registered = registered

    def __repr__(self) -> str:
        return f"foobara:{self.registered.full_name}"


def register_model(
    model: builtins.type[BaseModel], *, full_name: str, domain: str, organization: str
) -> RegisteredType:
    """Make a pydantic model a Foobara model type: declared by its name wherever it is used."""
    if not (isinstance(model, builtins.type) and issubclass(model, BaseModel)):
        raise TypeError(f"A model type is a pydantic model class, not {model!r}")
    doc = model.__dict__.get("__doc__")
    model.__foobara_full_name__ = full_name  # type: ignore[attr-defined]
    registered = RegisteredType(
        name=model.__name__,
        full_name=full_name,
        domain=domain,
        organization=organization,
        kind="entity" if hasattr(model, "__primary_key__") else "model",
        target=model,
        description=inspect.cleandoc(doc) if doc else None,
    )
    registry.current().add_type(registered)
    return registered


def register_type(
    annotation: Any, *, name: str, full_name: str, domain: str, organization: str, description: str | None = None
) -> Any:
    """Name a type (`Annotated[str, Field(pattern=...)]`) in a domain; returns the annotation to
    use, which manifests declare by the name."""
    registered = RegisteredType(
        name=name,
        full_name=full_name,
        domain=domain,
        organization=organization,
        kind="type",
        target=annotation,
        description=description,
    )
    registered.node  # noqa: B018 - fail now on a type Foobara cannot declare
    registry.current().add_type(registered)
    return Annotated[annotation, _TypeReference(registered)]


class Model(BaseModel):
    """A Foobara model: a pydantic model registered as a type, so manifests declare it by name
    (`Acme::Math::User`) instead of inline. It lives in the global domain unless placed in one
    with `@domain.model`."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("__foobara_base__"):  # a base for models (Entity), not a model itself
            return
        register_model(cls, full_name=cls.__name__, domain=GLOBAL_DOMAIN_NAME, organization=GLOBAL_ORGANIZATION_NAME)


# --------------------------------------------------------------------------------------------
# Type nodes


@dataclass(eq=False)
class FieldSpec:
    name: str
    node: TypeNode
    required: bool
    default: Any = PydanticUndefined
    default_factory: Callable[..., Any] | None = None
    alias: str | None = None

    @property
    def has_default(self) -> bool:
        return not self.required


@dataclass(eq=False)
class TypeNode:
    """One type in a command's inputs or result, as Foobara sees it."""

    type: str  # Foobara type name: integer, string, attributes, array, tuple, ...
    description: str | None = None
    allow_nil: bool = False
    sensitive: bool = False
    sensitive_exposed: bool = False
    reference: str | None = None  # a registered type's full name: declared by name
    one_of: tuple[Any, ...] | None = None
    constraints: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, FieldSpec] | None = None  # attributes
    element: TypeNode | None = None  # array, associative_array values
    elements: tuple[TypeNode, ...] | None = None  # tuple
    key: TypeNode | None = None  # associative_array keys
    members: tuple[TypeNode, ...] | None = None  # a union of several types
    model: builtins.type[BaseModel] | None = None
    json_format: str | None = None  # a string's stricter shape for JSON Schema (uuid, uri); Ruby has none
    _declarations: dict[bool, Any] = field(default_factory=dict, repr=False)
    _by_alias: dict[str, str] | None = field(default=None, repr=False)
    _holds_secret: bool | None = field(default=None, repr=False)  # see jsonable.holds_secret
    _located: dict[tuple[Any, ...], Any] | None = field(default=None, repr=False)  # see validation._locate

    def field_named(self, key: str | int) -> FieldSpec | None:
        if self.fields is None or not isinstance(key, str):
            return None
        spec = self.fields.get(key)
        if spec is None:
            if self._by_alias is None:
                self._by_alias = {f.alias: f.name for f in self.fields.values() if f.alias}
            name = self._by_alias.get(key)
            spec = self.fields.get(name) if name else None
        return spec

    def children(self) -> list[TypeNode]:
        """The types this one is made of: attributes, elements, keys, union members."""
        children = [spec.node for spec in (self.fields or {}).values()]
        children += [n for n in (self.element, self.key) if n is not None]
        return [*children, *(self.elements or ()), *(self.members or ())]

    @property
    def hidden(self) -> bool:
        """Left out of manifests made for connectors."""
        return self.sensitive and not self.sensitive_exposed

    def visible_fields(self, remove_sensitive: bool) -> dict[str, FieldSpec]:
        fields = self.fields or {}
        if not remove_sensitive:
            return fields
        return {name: spec for name, spec in fields.items() if not spec.node.hidden}

    def declaration(self, *, remove_sensitive: bool = False) -> Any:
        """Ruby's strict declaration, compacted to the bare type name when nothing else is set.
        A registered type is declared by its name."""
        decl = self._declarations.get(remove_sensitive)
        if decl is None:
            decl = self._declarations[remove_sensitive] = _declare(self, remove_sensitive, inline=False)
        return decl

    def inline_declaration(self, *, remove_sensitive: bool = False) -> Any:
        """The declaration of the type's structure, even for a registered type."""
        return _declare(self, remove_sensitive, inline=True)


def _declare(node: TypeNode, remove_sensitive: bool, inline: bool) -> Any:
    if node.reference is not None and not inline:
        decl: dict[str, Any] = {"type": node.reference}
        _declare_common(node, decl, with_constraints=False)
        return node.reference if len(decl) == 1 else decl
    decl = {"type": node.type}
    if node.fields is not None:
        fields = node.visible_fields(remove_sensitive)
        decl["element_type_declarations"] = {
            name: spec.node.declaration(remove_sensitive=remove_sensitive) for name, spec in fields.items()
        }
        required = sorted(name for name, spec in fields.items() if spec.required)
        if required:
            decl["required"] = required
        defaults = {
            name: (LAZILY_SET if spec.default_factory is not None else to_json(spec.default))
            for name, spec in fields.items()
            if not spec.required
            and not spec.node.sensitive  # a secret's default is a secret too
            and (spec.default_factory is not None or spec.default is not PydanticUndefined)
            and not (spec.default is None and spec.node.allow_nil)
        }
        if defaults:
            decl["defaults"] = defaults
    if node.type == "array" and node.element is not None:
        decl["element_type_declaration"] = node.element.declaration(remove_sensitive=remove_sensitive)
    if node.elements is not None:
        decl["element_type_declarations"] = [e.declaration(remove_sensitive=remove_sensitive) for e in node.elements]
    if node.type == "associative_array":
        if node.key is not None:
            decl["key_type_declaration"] = node.key.declaration(remove_sensitive=remove_sensitive)
        if node.element is not None:
            decl["value_type_declaration"] = node.element.declaration(remove_sensitive=remove_sensitive)
    _declare_common(node, decl, with_constraints=True)
    return node.type if len(decl) == 1 else decl


def _declare_common(node: TypeNode, decl: dict[str, Any], *, with_constraints: bool) -> None:
    if node.description:
        decl["description"] = node.description
    if node.allow_nil:
        decl["allow_nil"] = True
    if with_constraints:
        if node.one_of is not None:
            decl["one_of"] = [to_json(v) for v in node.one_of]
        decl.update(node.constraints)
    if node.sensitive:
        decl["sensitive"] = True
    if node.sensitive_exposed:
        decl["sensitive_exposed"] = True


_ATOMIC: dict[Any, str] = {
    bool: "boolean",  # before int: bool is an int
    int: "integer",
    float: "float",
    Decimal: "big_decimal",
    str: "string",
    dt.datetime: "datetime",  # before date: datetime is a date
    dt.date: "date",
    uuid.UUID: "string",
    SecretStr: "string",
    SecretBytes: "string",
}
_ARRAYS = (list, set, frozenset, Sequence, typing.List, typing.Set, typing.FrozenSet)  # noqa: UP006
_MAPPINGS = (dict, Mapping, typing.Dict)  # noqa: UP006


# The models whose nodes are being built, along the current path: meeting one again is recursion.
_Building = set[type[BaseModel]]


def node_for_model(model: type[BaseModel], _building: _Building | None = None) -> TypeNode:
    """The attributes node of a pydantic model (declared inline, as Ruby declares attributes).
    A registered model inside it is declared by name; an unregistered one inside itself is refused."""
    node = TypeNode(type="attributes", fields={}, model=model)
    _fill_model_node(node, model, _building if _building is not None else set())
    return node


def _fill_model_node(node: TypeNode, model: type[BaseModel], building: _Building) -> None:
    if not model.__pydantic_complete__:
        try:
            model.model_rebuild()
        except Exception as exc:
            raise UnsupportedTypeError(
                f"{model.__name__} is not fully defined ({exc}); define what it refers to, then call "
                f"{model.__name__}.model_rebuild()"
            ) from None
    if model in building:
        raise UnsupportedTypeError(
            f"{model.__name__} refers to itself; recursive models cannot be declared inline: register it "
            "(subclass foobara_py.Model, or decorate it with @domain.model) to declare it by name"
        )
    assert node.fields is not None
    building.add(model)
    try:
        for name, info in model.model_fields.items():
            try:
                child = _node_for_field(info, building)
            except UnsupportedTypeError as exc:
                raise UnsupportedTypeError(f"{model.__name__}.{name}: {exc}") from None
            if info.repr and _shows_secret_in_repr(child):
                # Keep secrets out of the model's repr too.
                info.repr = False
            required = info.is_required()
            node.fields[name] = FieldSpec(
                name=name,
                node=child,
                required=required,
                default=PydanticUndefined if required else info.default,
                default_factory=info.default_factory,
                alias=info.alias if info.alias != name else None,
            )
    finally:
        building.discard(model)


def _node_for_field(info: FieldInfo, building: _Building | tuple[()] = ()) -> TypeNode:
    """The node of a model's field; `building` as for `node_for_model` (a fresh start: `()`)."""
    node = node_for(info.annotation, tuple(info.metadata), _seen=building if isinstance(building, set) else set())
    if info.description:
        node.description = info.description
    return node


def node_for(annotation: Any, metadata: tuple[Any, ...] = (), *, _seen: _Building | None = None) -> TypeNode:
    """Build the node for a type annotation; unsupported annotations raise UnsupportedTypeError."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        return node_for(inner, (*metadata, *extra), _seen=_seen)

    node = _bare_node(annotation, origin, _seen if _seen is not None else set())
    _apply_metadata(node, metadata)
    return node


def _bare_node(annotation: Any, origin: Any, seen: _Building) -> TypeNode:
    if annotation is Any or annotation is object:
        return TypeNode(type="duck")
    if annotation is None or annotation is type(None):
        return TypeNode(type="duck", allow_nil=True, one_of=(None,))
    if origin in (typing.Union, pytypes.UnionType):
        args = typing.get_args(annotation)
        non_nil = [a for a in args if a is not type(None)]
        if len(non_nil) == 1:
            node = node_for(non_nil[0], _seen=seen)
        else:
            members = tuple(node_for(a, _seen=seen) for a in non_nil)
            node = TypeNode(type="duck", members=members)
        if len(non_nil) < len(args):
            node.allow_nil = True
        return node
    if origin is Literal:
        values = typing.get_args(annotation)
        return TypeNode(type=_common_type(values), one_of=values)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        values = tuple(member.value for member in annotation)
        return TypeNode(type=_common_type(values), one_of=values)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        registered = registry.current().model_type(annotation)
        if registered is None:
            return node_for_model(annotation, seen)
        # Declared by name: its structure is the registered type's own (built once, and shared
        # with the occurrences inside it when the model refers to itself).
        return TypeNode(
            type="attributes", fields=registered.node.fields, model=annotation, reference=registered.full_name
        )
    if annotation in _ATOMIC:
        node = TypeNode(type=_ATOMIC[annotation])
        node.sensitive = annotation in (SecretStr, SecretBytes)
        if annotation is uuid.UUID:
            node.json_format = "uuid"
        return node
    if isinstance(annotation, type) and issubclass(annotation, AnyUrl):
        return TypeNode(type="string", json_format="uri")
    if origin is tuple or annotation is tuple:
        args = typing.get_args(annotation)
        if not args:
            return TypeNode(type="array")
        if len(args) == 2 and args[1] is Ellipsis:
            return TypeNode(type="array", element=node_for(args[0], _seen=seen))
        return TypeNode(type="tuple", elements=tuple(node_for(a, _seen=seen) for a in args))
    if annotation in _ARRAYS or origin in _ARRAYS:
        args = typing.get_args(annotation)
        element = node_for(args[0], _seen=seen) if args else None
        return TypeNode(type="array", element=element)
    if annotation in _MAPPINGS or origin in _MAPPINGS:
        args = typing.get_args(annotation)
        if not args:
            return TypeNode(type="associative_array")
        return TypeNode(
            type="associative_array",
            key=node_for(args[0], _seen=seen),
            element=node_for(args[1], _seen=seen),
        )
    if isinstance(annotation, type) and issubclass(annotation, str):
        return TypeNode(type="string")
    raise UnsupportedTypeError(f"{_type_name(annotation)} is not a type Foobara can declare")


def generic_arguments(cls: type, generic_base: type, attributes: tuple[str, ...]) -> tuple[Any, ...]:
    """What a class fills in for its generic base's parameters (`Command[AddInputs, int]` gives
    `(AddInputs, int)`), through generic subclasses in between; inherited when it fills in none.
    `attributes` name where each class keeps what it resolved (a TypeVar while still open)."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = typing.get_origin(base)
        if isinstance(origin, builtins.type) and issubclass(origin, generic_base):
            substitution = dict(zip(getattr(origin, "__parameters__", ()), typing.get_args(base), strict=False))
            declared = (getattr(origin, attribute) for attribute in attributes)
            return tuple(substitution.get(d, d) if isinstance(d, typing.TypeVar) else d for d in declared)
    return tuple(getattr(cls, attribute) for attribute in attributes)


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or repr(annotation)


def _common_type(values: tuple[Any, ...]) -> str:
    kinds = {_ATOMIC.get(type(v), "duck") for v in values}
    return kinds.pop() if len(kinds) == 1 else "duck"


def _apply_metadata(node: TypeNode, metadata: tuple[Any, ...]) -> None:
    for item in metadata:
        if item is Sensitive or isinstance(item, Sensitive):
            node.sensitive = True
            node.sensitive_exposed = getattr(item, "exposed", False)
        elif isinstance(item, _EmailType):
            node.type = "email"
        elif isinstance(item, _Named):
            node.type = item.type_name
            node.key = node.element = None
        elif isinstance(item, _TypeReference):
            node.reference = item.registered.full_name
        elif isinstance(item, FieldInfo):
            if item.description:
                node.description = item.description
            _apply_metadata(node, tuple(item.metadata))
        elif isinstance(item, annotated_types.GroupedMetadata):
            _apply_metadata(node, tuple(item))
        else:
            constraint = declared_constraint(item)
            if constraint is not None:
                node.constraints[constraint[0]] = constraint[1]


# --------------------------------------------------------------------------------------------
# Secrets


def field_nodes(model: builtins.type[BaseModel]) -> dict[str, TypeNode]:
    """The types of a model's attributes, as far as Foobara can describe them: enough to find
    the secrets of any model, even one no command declares."""
    nodes = {}
    for name, info in model.model_fields.items():
        try:
            nodes[name] = _node_for_field(info, ())
        except UnsupportedTypeError:
            continue  # a type Foobara cannot declare carries no Sensitive marker it knows of
    return nodes


def _shows_secret_in_repr(node: TypeNode) -> bool:
    """Whether a model's repr would show a secret of this attribute: a nested model hides its
    own secrets, a list of secrets or a union with a secret member does not."""
    if node.sensitive:
        return True
    return node.fields is None and any(_shows_secret_in_repr(child) for child in node.children())
