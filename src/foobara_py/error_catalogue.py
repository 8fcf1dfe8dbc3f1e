"""The constraint vocabulary, in one place: what each constraint of a type declaration is called,
which annotation states it, which error its check reports and how, and its JSON Schema keyword.

types.py reads it to declare constraints, validation.py to translate pydantic's errors, the
manifest (possible_errors.py) to name the error classes, and schema.py to write JSON Schema. The
first five are Ruby Foobara's validators (symbols, contexts and messages word for word); the others
have no Ruby twin and follow the same pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import annotated_types

__all__ = ["CONSTRAINTS", "Constraint", "declared_constraint"]


@dataclass(frozen=True)
class Constraint:
    name: str  # the key in a type declaration (`max`)
    symbol: str  # the error a value breaking it gets (`max_exceeded`)
    value_type: str  # the builtin type whose validator it is: number or string
    processor: str  # Ruby's validator class (`Max`), naming the error class
    context_key: str  # the error context's key for the limit (`regex` for `matches`)
    context_type: str  # that key's type in the error's context declaration
    message: str  # the error's message: `{shown}` is the value as Ruby shows it, `{limit}` the limit
    pydantic_errors: tuple[str, ...]  # pydantic's error types for a broken constraint
    pydantic_key: str  # where pydantic's error context holds the limit
    json_schema: str  # the JSON Schema keyword (lengths: `Length` becomes `Items` or `Properties`)
    marker: type | None  # the annotated_types class stating it; None: any metadata with `marker_attribute`
    marker_attribute: str  # the marker's attribute holding the limit


_TOO_LONG = "Max length exceeded. Cannot be longer than {limit}"
_TOO_SHORT = "Min length not met. Cannot be shorter than {limit}"

# Markers first, then `matches`, whose marker is any metadata with a pattern (a Field's).
CONSTRAINTS: dict[str, Constraint] = {
    c.name: c
    for c in (
        Constraint("max", "max_exceeded", "number", "Max", "max", "number",
                   "Max exceeded. {shown} is larger than {limit}",
                   ("less_than_equal",), "le", "maximum", annotated_types.Le, "le"),
        Constraint("min", "below_minimum", "number", "Min", "min", "number",
                   "Below minimum allowed. {shown} is less than {limit}",
                   ("greater_than_equal",), "ge", "minimum", annotated_types.Ge, "ge"),
        Constraint("max_length", "max_length_exceeded", "string", "MaxLength", "max_length", "integer", _TOO_LONG,
                   ("string_too_long", "too_long"), "max_length", "maxLength", annotated_types.MaxLen, "max_length"),
        Constraint("greater_than", "not_greater_than", "number", "GreaterThan", "greater_than", "number",
                   "Must be greater than {limit}",
                   ("greater_than",), "gt", "exclusiveMinimum", annotated_types.Gt, "gt"),
        Constraint("less_than", "not_less_than", "number", "LessThan", "less_than", "number",
                   "Must be less than {limit}",
                   ("less_than",), "lt", "exclusiveMaximum", annotated_types.Lt, "lt"),
        Constraint("multiple_of", "not_multiple_of", "number", "MultipleOf", "multiple_of", "number",
                   "Must be a multiple of {limit}",
                   ("multiple_of",), "multiple_of", "multipleOf", annotated_types.MultipleOf, "multiple_of"),
        Constraint("min_length", "min_length_not_met", "string", "MinLength", "min_length", "integer", _TOO_SHORT,
                   ("string_too_short", "too_short"), "min_length", "minLength", annotated_types.MinLen, "min_length"),
        Constraint("matches", "does_not_match", "string", "MatchesRegex", "regex", "duck",
                   "{shown} did not match /{limit}/",
                   ("string_pattern_mismatch",), "pattern", "pattern", None, "pattern"),
    )
}  # fmt: skip


def declared_constraint(marker: Any) -> tuple[str, Any] | None:
    """The constraint an annotation's metadata states (`Ge(0)` gives `("min", 0)`), if any."""
    for constraint in CONSTRAINTS.values():
        if constraint.marker is not None:
            if isinstance(marker, constraint.marker):
                return constraint.name, getattr(marker, constraint.marker_attribute)
            continue
        limit = getattr(marker, constraint.marker_attribute, None)
        if limit is not None:
            return constraint.name, limit.pattern if isinstance(limit, re.Pattern) else limit
    return None
