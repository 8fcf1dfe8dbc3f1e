"""Casting and validating inputs with pydantic, and reporting problems the way Ruby Foobara does.

pydantic does the work; this module translates its errors into Foobara's symbols, paths,
contexts and precedence (missing attributes first, then unexpected ones, then everything else,
level by level). Where Ruby casts a value that pydantic refuses (a number for a string, `None`
for an attribute with a default), the value is repaired and validated again: the cost falls on
the failure path only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator

from .error_catalogue import CONSTRAINTS
from .errors import FoobaraError, PathPart, UnsupportedTypeError
from .jsonable import FILTERED, MAX_DEPTH, describe_int, redact, to_json, writable_int
from .types import FOOBARA_ERRORS, TypeNode, node_for

__all__ = ["InputsCaster", "describe_value", "missing_attribute", "translate_errors"]

_DELETE = object()
_MAX_REPAIR_ROUNDS = 3

# pydantic error types meaning "this value is not of that type at all".
_CANNOT_CAST = frozenset(
    {
        "int_type", "int_parsing", "int_parsing_size", "int_from_float",
        "float_type", "float_parsing", "finite_number",
        "bool_type", "bool_parsing",
        "string_type", "string_unicode", "string_sub_type", "bytes_type", "bytes_invalid_encoding",
        "decimal_type", "decimal_parsing",
        "date_type", "date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact",
        "datetime_type", "datetime_parsing", "datetime_object_invalid", "datetime_from_date_parsing",
        "time_type", "time_parsing", "timedelta_type", "timedelta_parsing",
        "uuid_type", "uuid_parsing", "url_type", "url_parsing",
        "model_type", "model_attributes_type", "dataclass_type", "dict_type", "mapping_type",
        "list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type",
        "is_instance_of", "is_subclass_of", "none_required", "callable_type",
        "json_type", "json_invalid",
    }
)  # fmt: skip

# What each type accepts, for the end of a cannot_cast message (Ruby's wording where the
# reference outputs show it).
_EXPECTATIONS = {
    "integer": "a Integer, or be a string of digits optionally with a minus sign in front",
    "float": "a Float, be an Integer, or be a string of digits with one decimal point optionally "
    "amongst them and optionally with a minus sign in front and optionally an exponent denoted with e",
    "big_decimal": "a BigDecimal, be an Integer, or be a string of digits with one decimal point "
    "optionally amongst them and optionally with a minus sign in front and optionally an exponent "
    "denoted with e",
    "string": "a String, be a Numeric, or be a Symbol",
    "email": "a String, be a Numeric, or be a Symbol",
    "symbol": "a Symbol, or be a String",
    "boolean": "a TrueClass or FalseClass, or be a String or Symbol that is one of true, t, 1, yes, y, "
    "false, f, 0, no, n (case-insensitive)",
    "date": "a Date, or be a valid date string with year-month-day order",
    "datetime": "a Time, be a Date, be an integer representing seconds since epoch, or be a valid date string",
    "array": "a list, or be a tuple or a set",
    "tuple": "a list, or be a tuple",
    "attributes": "a hash with symbolizable keys, or be a model instance",
    "associative_array": "a Hash, or be an array of pairs",
    "duck": "one of the declared types",
}


class _Located(NamedTuple):
    path: tuple[PathPart, ...]
    node: TypeNode | None  # None: the location names an attribute that does not exist
    parent: TypeNode | None  # the attributes node holding the last path part, if any
    sensitive: bool
    in_union: bool  # the location lies inside a union: report it at the union's path


_LOCATIONS_KEPT = 256  # per root type: the places its errors were found, kept for the next time


def _locate(root: TypeNode, loc: tuple[Any, ...]) -> _Located:
    """Where pydantic's error location `loc` is in Foobara's terms (the same every time: kept)."""
    known = root._located
    if known is None:
        known = root._located = {}
    located = known.get(loc)
    if located is None:
        located = _find(root, loc)
        if len(known) >= _LOCATIONS_KEPT:
            known.clear()
        known[loc] = located
    return located


def _find(root: TypeNode, loc: tuple[Any, ...]) -> _Located:
    node: TypeNode | None = root
    parent: TypeNode | None = None
    path: list[PathPart] = []
    sensitive = root.sensitive
    for part in loc:
        if node is None:
            break
        if node.members is not None:
            return _Located(tuple(path), node, parent, sensitive, True)
        parent = None
        if node.fields is not None:
            spec = node.field_named(part)
            parent = node
            node = spec.node if spec is not None else None
        elif node.elements is not None:
            node = node.elements[part] if isinstance(part, int) and part < len(node.elements) else None
        elif node.type == "associative_array":
            if isinstance(part, str) and part == "[key]":
                continue
            node = node.element
        elif node.type == "array":
            node = node.element
        else:  # an atomic type: pydantic went deeper than Foobara sees
            break
        path.append(part)
        if node is not None and node.sensitive:
            sensitive = True
    return _Located(tuple(path), node, parent, sensitive, False)


def describe_value(value: Any, _depth: int = 0) -> str:
    """A value written as Ruby's `inspect` writes it, for messages shared with Ruby Foobara.
    Whatever the value (an integer too long to write, a list nested 2,000 deep), it is written."""
    if value is None:
        return "nil"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        if value.isprintable() and '"' not in value and "\\" not in value:
            return f'"{value}"'  # what json.dumps writes, without its cost
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return describe_int(value)
    if isinstance(value, float):
        return str(to_json(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (list, tuple)):
        if _depth >= MAX_DEPTH:
            return "[...]"
        return "[" + ", ".join(describe_value(v, _depth + 1) for v in value) + "]"
    if isinstance(value, Mapping):
        if _depth >= MAX_DEPTH:
            return "{...}"
        pairs = (f"{describe_value(k, _depth + 1)} => {describe_value(v, _depth + 1)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return repr(value)


def _shown(value: Any, node: TypeNode | None, sensitive: bool) -> Any:
    """The value an error quotes: with the secrets its type declares replaced by "[FILTERED]"."""
    if sensitive:
        return FILTERED
    return value if node is None or node._holds_secret is False else redact(node, value)


def _described(shown: Any) -> str:
    return FILTERED if shown is FILTERED else describe_value(shown)


def _symbols(names: Iterable[Any]) -> str:
    return "[" + ", ".join(f":{name}" for name in names) + "]"


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiouy" else "a"


def _at(path: tuple[PathPart, ...]) -> str:
    if len(path) == 1:
        return f"At {path[0]}: "
    return f"At {'.'.join(str(p) for p in path)}: " if path else ""


def _value_at(data: Any, path: tuple[PathPart, ...]) -> Any:
    for part in path:
        try:
            data = data[part] if not isinstance(data, BaseModel) else getattr(data, str(part))
        except (KeyError, IndexError, TypeError, AttributeError):
            return None
    return data


def _cannot_cast(path: tuple[PathPart, ...], node: TypeNode, value: Any, sensitive: bool) -> FoobaraError:
    value = _shown(value, node, sensitive)
    entity = node.model if node.model is not None and hasattr(node.model, "__primary_key__") else None
    if entity is not None:
        phrase = _entity_cast_phrase(entity)
    else:
        phrase = _FORMAT_PHRASES.get(node.json_format or "") or _cast_phrase(node.type)
    message = f"{_at(path)}Cannot cast {_described(value)} {phrase}"
    context = {"cast_to": node.declaration(), "value": value}
    return FoobaraError("cannot_cast", message, "data", path, (), context, True)


_CAST_PHRASES: dict[str, str] = {}

# Strings of a stricter shape (Ruby has no such types): "Cannot cast "x" to a string" would puzzle
# whoever sent a string.
_FORMAT_PHRASES = {
    "uuid": "to a UUID. Expected it to be 32 hexadecimal digits, as 8-4-4-4-12 groups joined by hyphens",
    "uri": "to a URL. Expected it to be an absolute URL, such as https://example.com/",
}


def _cast_phrase(type_name: str) -> str:
    """`to an integer. Expected it to be a Integer, or ...`: the end of a cannot_cast message."""
    phrase = _CAST_PHRASES.get(type_name)
    if phrase is None:
        expected = _EXPECTATIONS.get(type_name, "a " + type_name)
        phrase = _CAST_PHRASES[type_name] = f"to {_article(type_name)} {type_name}. Expected it to be {expected}"
    return phrase


def _entity_cast_phrase(entity: Any) -> str:
    """Ruby's wording for an entity, which takes a record, attributes or a primary key."""
    name = entity.entity_name()
    key = node_for(entity.model_fields[entity.primary_key_attribute()].annotation)
    expected = _EXPECTATIONS.get(key.type, "a " + key.type)
    return f"to a {name}. Expected it to be a {name}, be a hash with symbolizable keys, or be {expected}"


def missing_attribute(path: tuple[PathPart, ...]) -> FoobaraError:
    """`data.<path>.missing_required_attribute`, as input validation and a record being stored give it."""
    name = path[-1]
    return FoobaraError(
        symbol="missing_required_attribute",
        message=f"Missing required attribute {name}",
        category="data",
        path=path,
        context={"attribute_name": name},
        is_fatal=True,
    )


def _unexpected(path: tuple[PathPart, ...], names: list[Any], allowed: list[str]) -> FoobaraError:
    return FoobaraError(
        symbol="unexpected_attributes",
        message=f"Unexpected attributes {_symbols(names)}. Expected only {_symbols(allowed)}",
        category="data",
        path=path,
        context={"unexpected_attributes": names, "allowed_attributes": allowed},
        is_fatal=True,
    )


def _data_error(path: tuple[PathPart, ...], symbol: str, message: str, context: dict[str, Any]) -> FoobaraError:
    return FoobaraError(symbol=symbol, message=message, category="data", path=path, context=context)


# pydantic constraint error -> (Foobara symbol, pydantic's context key, Foobara's context key, message),
# from the one catalogue of constraints.
_CONSTRAINTS: dict[str, tuple[str, str, str, str]] = {
    error: (c.symbol, c.pydantic_key, c.context_key, c.message)
    for c in CONSTRAINTS.values()
    for error in c.pydantic_errors
}


def _validator_error(err: Mapping[str, Any], at: _Located) -> list[FoobaraError]:
    """Errors from validators (constraints, one_of, custom checks): not fatal."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    path = at.path
    node = at.node
    value = _shown(err.get("input"), node, at.sensitive)
    shown = _described(value)
    if kind == FOOBARA_ERRORS:
        return [
            _data_error(path, symbol, message, {**context, "value": FILTERED} if at.sensitive else context)
            for symbol, message, context in ctx["errors"]
        ]
    if kind in ("literal_error", "enum"):
        valid = list(node.one_of) if node is not None and node.one_of is not None else []
        return [
            _data_error(
                path, "value_not_valid", f"{value} is not one of {describe_value(valid)}",
                {"value": value, "valid_values": valid},
            )
        ]  # fmt: skip
    if node is not None and node.elements is not None and kind in ("too_long", "too_short"):
        size, actual = len(node.elements), ctx.get("actual_length")
        message = f"Invalid tuple size. {shown} should have had {size} elements but had {actual}."
        return [
            _data_error(
                path, "incorrect_tuple_size", message, {"expected_size": size, "actual_size": actual, "value": value}
            )
        ]
    if kind in _CONSTRAINTS:
        symbol, source_key, context_key, template = _CONSTRAINTS[kind]
        limit = ctx.get(source_key)
        message = template.format(shown=shown, limit=limit)
        return [_data_error(path, symbol, message, {"value": value, context_key: limit})]
    if kind in ("value_error", "assertion_error"):
        error = ctx.get("error")
        text = str(error) if error is not None else err.get("msg", "Invalid")
        return [_data_error(path, "invalid", text, {"value": value})]
    # A PydanticCustomError names its own symbol; any other pydantic check keeps its name.
    context = {"value": value, **{k: v for k, v in ctx.items() if k != "error"}}
    return [_data_error(path, kind, err.get("msg", kind), context)]


def translate_errors(root: TypeNode, data: Any, errors: Iterable[Mapping[str, Any]]) -> list[FoobaraError]:
    """pydantic's errors for `data` validated against `root`, as Foobara errors, with Ruby's
    precedence: at each attributes level, missing attributes alone (alphabetically), else
    unexpected ones alone, else every attribute's own errors. Levels come in the order Ruby
    processes them, which is pydantic's: one attribute or element after the other, depth first."""
    missing: list[FoobaraError] = []
    others: list[FoobaraError] = []
    unexpected: dict[tuple[PathPart, ...], list[Any]] = {}
    union_paths: set[tuple[PathPart, ...]] = set()
    seen: dict[tuple[PathPart, ...], int] = {}  # each path's rank in pydantic's order
    errors = errors if isinstance(errors, list) else list(errors)
    many = len(errors) > 1  # one error needs no ranking

    for err in errors:
        at = _locate(root, tuple(err["loc"]))
        if many:
            for i in range(1, len(at.path) + 1):
                seen.setdefault(at.path[:i], len(seen))
        kind = err["type"]
        if at.in_union:  # anything inside a union, even an unexpected attribute, is the union's
            if at.path not in union_paths:
                union_paths.add(at.path)
                assert at.node is not None
                others.append(_cannot_cast(at.path, at.node, _value_at(data, at.path), at.sensitive))
        elif kind == "extra_forbidden":
            unexpected.setdefault(at.path[:-1], []).append(at.path[-1])
        elif kind == "missing":
            missing.append(missing_attribute(at.path))
        elif kind in _CANNOT_CAST and at.node is not None:
            others.append(_cannot_cast(at.path, at.node, err.get("input"), at.sensitive))
        else:
            others.extend(_validator_error(err, at))

    unexpected_errors = (
        [_unexpected(level, names, _allowed_names(root, level)) for level, names in unexpected.items()]
        if unexpected
        else []
    )
    if not many:  # what one pydantic error became: nothing to stop, nothing to order
        found = [*missing, *unexpected_errors, *others]
        return found if len(found) == 1 else _dedupe(found)
    # Levels that stop at a fatal error: missing attributes, or else unexpected ones.
    missing_levels = {error.path[:-1] for error in missing}
    stopped = missing_levels | {e.path for e in unexpected_errors}

    def stopped_above(level: tuple[PathPart, ...]) -> bool:
        return any(level[:i] in stopped for i in range(len(level)))

    def rank(path: tuple[PathPart, ...]) -> list[tuple[int, str]]:
        return [(seen[path[:i]], "") for i in range(1, len(path) + 1)]

    # A level's missing attributes share the place of the first one pydantic reported.
    first_missing: dict[tuple[PathPart, ...], int] = {}
    for e in missing:
        first_missing.setdefault(e.path[:-1], seen[e.path])
    ranked = [
        ([*rank(e.path[:-1]), (first_missing[e.path[:-1]], str(e.path[-1]))], e)
        for e in missing
        if not stopped_above(e.path[:-1])
    ]
    ranked += [
        (rank(e.path), e) for e in unexpected_errors if e.path not in missing_levels and not stopped_above(e.path)
    ]
    ranked += [(rank(e.path), e) for e in others if not stopped_above(e.path)]
    ranked.sort(key=lambda pair: pair[0])  # stable: a path's own errors keep pydantic's order
    return _dedupe([e for _, e in ranked])


def _dedupe(errors: list[FoobaraError]) -> list[FoobaraError]:
    seen: dict[str, FoobaraError] = {}
    for error in errors:
        seen.setdefault(error.key, error)
    return list(seen.values())


def _allowed_names(root: TypeNode, level: tuple[PathPart, ...]) -> list[str]:
    node = _locate(root, level).node if level else root
    if node is None or node.fields is None:
        return []
    return [spec.alias or spec.name for spec in node.fields.values()]


# --------------------------------------------------------------------------------------------
# Repairs: values Ruby casts and pydantic refuses.


def _repairs(root: TypeNode, errors: Iterable[Mapping[str, Any]]) -> list[tuple[tuple[Any, ...], Any]]:
    repairs = []
    for err in errors:
        kind = err["type"]
        if kind in ("missing", "extra_forbidden"):
            continue
        value = err.get("input")
        if value is not None and kind != "string_type":
            continue  # neither repair applies: skip locating it
        at = _locate(root, tuple(err["loc"]))
        if at.in_union or at.node is None or len(at.path) != len(err["loc"]):
            continue
        if value is None and at.parent is not None and not at.node.allow_nil:
            spec = at.parent.field_named(at.path[-1])
            if spec is not None and not spec.required:
                repairs.append((tuple(err["loc"]), _DELETE))
        elif (
            kind == "string_type"
            and isinstance(value, (int, float, Decimal))
            and not isinstance(value, bool)
            and (not isinstance(value, int) or writable_int(value))
        ):
            repairs.append((tuple(err["loc"]), str(value)))
    return repairs


def _apply_repair(data: Any, loc: tuple[Any, ...], replacement: Any) -> Any:
    head, rest = loc[0], loc[1:]
    if isinstance(data, Mapping):
        copy: Any = dict(data)
    elif isinstance(data, (list, tuple)):
        copy = list(data)
    else:
        return data
    if rest:
        copy[head] = _apply_repair(copy[head], rest, replacement)
    elif replacement is _DELETE:
        del copy[head]
    else:
        copy[head] = replacement
    return copy


def validate_with_repairs(
    validate: Callable[[Any], Any], root: TypeNode, data: Any, error: ValidationError
) -> tuple[Any, list[FoobaraError]]:
    """After pydantic refused `data`: repair what Ruby would cast and try again; otherwise,
    translate the errors. Returns (value, []) or (None, errors)."""
    for _ in range(_MAX_REPAIR_ROUNDS):
        errors = error.errors(include_url=False)
        repairs = _repairs(root, errors)
        if not repairs:
            return None, translate_errors(root, data, errors)
        for loc, replacement in repairs:
            data = _apply_repair(data, loc, replacement)
        try:
            return validate(data), []
        except ValidationError as again:
            error = again
    return None, translate_errors(root, data, error.errors(include_url=False))


class InputsCaster:
    """Casts and validates a command's raw inputs into its inputs model; made once per class.

    `validate(raw)` is the success path: pydantic alone, with Ruby's rule for unexpected
    attributes, raising `ValidationError`. `recover(raw, error)` is the failure path: Ruby's casts
    pydantic refuses, then Foobara's errors."""

    __slots__ = ("model", "node", "validate")

    validate: Callable[[Mapping[str, Any]], Any]

    def __init__(self, model: type[BaseModel] | None, node: TypeNode | None) -> None:
        self.model = model
        self.node = node
        self.validate = _no_inputs if model is None else _forbidding_validator(model)

    def recover(self, raw: Mapping[str, Any], error: ValidationError) -> tuple[Any, list[FoobaraError]]:
        """After `validate(raw)` raised `error`: the inputs after Ruby's casts, or the errors."""
        if self.model is None:
            return None, [_unexpected((), list(raw), [])]
        assert self.node is not None
        return validate_with_repairs(self.validate, self.node, raw, error)


# Unexpected attributes are an error (Ruby's rule) in every model that does not set `extra` itself.
# pydantic's per-call `extra="forbid"` would also override the models that do, and costs a quarter
# of a simple validation on every run; so each inputs model gets, once, a validator of its own
# schema with `extra_behavior="forbid"` written into those models.


def _forbidding_validator(model: type[BaseModel]) -> Callable[[Any], Any]:
    """`model`'s validation with Ruby's rule for unexpected attributes."""
    schema = model.__pydantic_core_schema__
    classes = _models_in(schema, {})
    # pydantic-core takes a complete model's own validator in place of its schema: marked
    # incomplete while the new validator is built, each model is built from the new schema.
    with _BUILDING:
        marked = {cls: cls.__dict__.get("__pydantic_complete__") for cls in classes}
        try:
            for cls in classes:
                setattr(cls, "__pydantic_complete__", False)  # noqa: B010
            validator = SchemaValidator(_forbidding(schema))
        except Exception as exc:
            raise UnsupportedTypeError(f"{model.__name__}: its pydantic schema cannot be validated: {exc}") from None
        finally:
            for cls, complete in marked.items():
                if complete is None:
                    delattr(cls, "__pydantic_complete__")
                else:
                    setattr(cls, "__pydantic_complete__", complete)  # noqa: B010
    return validator.validate_python


_BUILDING = threading.Lock()


def _models_in(schema: Any, found: dict[type, None]) -> dict[type, None]:
    if isinstance(schema, dict):
        if schema.get("type") == "model":
            found[schema["cls"]] = None
        for value in schema.values():
            _models_in(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _models_in(value, found)
    return found


def _forbidding(schema: Any) -> Any:
    """A copy of a core schema in which the models that do not set `extra` forbid extra keys."""
    if isinstance(schema, list):
        return [_forbidding(value) for value in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: _forbidding(value) for key, value in schema.items()}
    if copy.get("type") == "model" and "extra" not in copy["cls"].model_config:
        inner = copy["schema"]
        if isinstance(inner, dict) and inner.get("type") == "model-fields":
            copy["schema"] = {**inner, "extra_behavior": "forbid"}
    return copy


class _NoFields(BaseModel, extra="forbid"):
    pass


def _no_inputs(raw: Mapping[str, Any]) -> None:
    """The inputs of a command that takes none: nothing, or a ValidationError naming each one."""
    if raw:
        _NoFields.__pydantic_validator__.validate_python(raw)
    return None
