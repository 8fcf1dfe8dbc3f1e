"""Values as strict JSON, with secrets left out: the one conversion behind results (`to_dict`),
error contexts, manifests' defaults and JSON Schema's values.

Strict JSON has no NaN, no infinity and no set, and Python refuses to write very long integers;
a value that cannot be carried as it is gets a string, always the same one, so that the output
does not depend on the process (a set's order follows the hash seed: it is sorted).

Secrets: a model's sensitive attributes are left out, a `SecretStr` is `"[FILTERED]"`, and
`redact` replaces the secrets a type declares in values that are not models (a list of secrets,
a secret result, raw inputs quoted in an error) by `"[FILTERED]"`.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import re
import sys
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import AnyUrl, BaseModel, SecretBytes, SecretStr

if TYPE_CHECKING:
    from .types import TypeNode

__all__ = ["FILTERED", "MAX_DEPTH", "describe_int", "holds_secret", "redact", "to_json", "writable_int"]

FILTERED = "[FILTERED]"

# Deeper values are written as "[...]" or "{...}": JSON parsers (and Python's own encoder)
# refuse much deeper nesting, and an error must never fail for the value it quotes.
MAX_DEPTH = 100


def to_json(value: Any, node: TypeNode | None = None) -> Any:
    """A JSON-ready copy of `value` (of the type `node`, when known: its secrets are redacted)."""
    if node is not None and holds_secret(node):
        value = redact(node, value)
    return _convert(value, 0)


def _convert(value: Any, depth: int, records_as_keys: bool = False) -> Any:
    """`records_as_keys`: inside a model, a record (an entity) is written as its primary key,
    as Ruby's atomic serializer writes it; at the top, and in lists at the top, as its attributes."""
    if value is None:
        return value
    if isinstance(value, enum.Enum):
        return _convert(value.value, depth)
    if isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if writable_int(value) else describe_int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, (SecretStr, SecretBytes)):
        return FILTERED
    if isinstance(value, (Decimal, uuid.UUID, AnyUrl)):
        return str(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, re.Pattern):
        return value.pattern
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if depth >= MAX_DEPTH and isinstance(value, (BaseModel, Mapping, list, tuple, set, frozenset)):
        return "[...]" if isinstance(value, (list, tuple, set, frozenset)) else "{...}"
    if isinstance(value, BaseModel):
        if hasattr(value, "__primary_key__"):
            if records_as_keys or not value.is_loaded:  # type: ignore[attr-defined]
                return _convert(value.primary_key, depth)  # type: ignore[attr-defined]
            return _model(value, depth + 1, skip_none=True)
        return _model(value, depth + 1)
    if isinstance(value, Mapping):
        return {_key(k): _convert(v, depth + 1, records_as_keys) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(v, depth + 1, records_as_keys) for v in value]
    if isinstance(value, (set, frozenset)):
        return _sorted(value, depth + 1)
    return str(value)


def _non_finite(value: float) -> str:
    """NaN and infinities as JavaScript and pydantic (`ser_json_inf_nan="strings"`) write them,
    and as pydantic reads them back."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def writable_int(value: int) -> bool:
    """Whether Python writes the integer in decimal (it refuses past `sys.get_int_max_str_digits()`)."""
    limit = sys.get_int_max_str_digits()
    # A number of b bits has at most b * log10(2) + 1 digits.
    return limit == 0 or value.bit_length() <= int(limit * 3.32)


def describe_int(value: int) -> str:
    """An integer as Python writes it; one too long to write (Python refuses, to stay fast) in
    scientific notation with six significant digits."""
    if writable_int(value):
        return str(value)
    magnitude = abs(value)
    shift = magnitude.bit_length() - 64
    exponent10 = math.log10(magnitude >> shift) + shift * math.log10(2)
    exponent = math.floor(exponent10)
    mantissa = f"{10 ** (exponent10 - exponent):.5f}"
    if mantissa.startswith("10"):
        mantissa, exponent = "1.00000", exponent + 1
    return f"{'-' if value < 0 else ''}{mantissa}e+{exponent}"


def _key(key: Any) -> str:
    """JSON object keys are strings; other keys are written as JSON writes them."""
    if isinstance(key, str):
        return key
    converted = _convert(key, MAX_DEPTH - 1)
    return converted if isinstance(converted, str) else json.dumps(converted, sort_keys=True)


def _sorted(items: set[Any] | frozenset[Any], depth: int) -> list[Any]:
    """A set as a list in an order that does not depend on the hash seed."""
    try:
        return [_convert(v, depth) for v in sorted(items)]
    except TypeError:  # values that do not compare: order them by their JSON text
        converted = [_convert(v, depth) for v in items]
        return sorted(converted, key=lambda v: json.dumps(v, sort_keys=True))


def _model(value: BaseModel, depth: int, skip_none: bool = False) -> dict[str, Any]:
    """A model's attributes; `skip_none` (a record) leaves out those without a value, as Ruby does."""
    hidden, redacted = _model_plan(type(value))
    data: dict[str, Any] = {}
    for name in type(value).model_fields:
        if name in hidden:
            continue
        field_value = getattr(value, name)
        if skip_none and field_value is None:
            continue
        node = redacted.get(name)
        data[name] = _convert(field_value if node is None else redact(node, field_value), depth, True)
    for name, extra in (value.__pydantic_extra__ or {}).items():
        data[name] = _convert(extra, depth, True)
    return data


_MODEL_PLANS: dict[type[BaseModel], tuple[frozenset[str], dict[str, TypeNode]]] = {}


def _model_plan(model: type[BaseModel]) -> tuple[frozenset[str], dict[str, TypeNode]]:
    """A model's attributes left out (their value is a secret) and those holding secrets deeper
    (a list of secrets), with their types."""
    plan = _MODEL_PLANS.get(model)
    if plan is None:
        from .types import field_nodes  # the types module imports this one

        hidden: set[str] = set()
        redacted: dict[str, TypeNode] = {}
        for name, node in field_nodes(model).items():
            if node.sensitive or any(member.sensitive for member in node.members or ()):
                hidden.add(name)
            elif holds_secret(node):
                redacted[name] = node
        plan = _MODEL_PLANS[model] = (frozenset(hidden), redacted)
    return plan


# --------------------------------------------------------------------------------------------
# Secrets in values that are not models


def holds_secret(node: TypeNode) -> bool:
    """Whether a value of this type can hold a secret, at any depth."""
    found = node._holds_secret
    if found is None:
        node._holds_secret = False  # a type that refers to itself holds no secret through itself
        found = node._holds_secret = node.sensitive or any(holds_secret(child) for child in node.children())
    return found


def redact(node: TypeNode, value: Any) -> Any:
    """`value`, as a value of type `node`, with the secrets the type declares replaced by
    "[FILTERED]". Models are left as they are: they keep their secrets out of their repr, and
    `to_json` leaves out their sensitive attributes."""
    if node.sensitive:
        return FILTERED
    if isinstance(value, BaseModel) or not holds_secret(node):
        return value
    if node.members is not None:
        # Which member the value was meant for is unknown: apply each member's rules.
        for member in node.members:
            value = redact(member, value)
        return value
    if node.fields is not None:
        if not isinstance(value, Mapping):
            return value
        redacted = {}
        for key, item in value.items():
            spec = node.field_named(key)
            redacted[key] = item if spec is None else redact(spec.node, item)
        return redacted
    if node.type == "associative_array" and isinstance(value, Mapping):
        if node.key is not None and holds_secret(node.key):
            return FILTERED
        element = node.element
        return {k: v if element is None else redact(element, v) for k, v in value.items()}
    if node.elements is not None and isinstance(value, (list, tuple)):
        return [redact(n, v) for n, v in zip(node.elements, value, strict=False)] + list(value[len(node.elements) :])
    if node.element is not None and isinstance(value, (list, tuple, set, frozenset)):
        element = node.element
        return [redact(element, v) for v in value]
    return value
