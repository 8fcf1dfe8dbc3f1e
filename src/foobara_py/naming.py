"""How Foobara turns one kind of name into another, in one place so that every name agrees with
Ruby Foobara's (error classes, runtime paths, messages)."""

from __future__ import annotations

import re

__all__ = ["classify", "humanize", "underscore"]

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD = re.compile(r"([a-z\d])([A-Z])")


def underscore(name: str) -> str:
    """`Shop::Inventory::ReserveStock` -> `shop::inventory::reserve_stock` (a runtime path part)."""
    parts = []
    for part in name.split("::"):
        part = _ACRONYM.sub(r"\1_\2", part)
        part = _WORD.sub(r"\1_\2", part)
        parts.append(part.replace("-", "_").lower())
    return "::".join(parts)


def classify(name: str) -> str:
    """`cannot_exceed64_characters` -> `CannotExceed64Characters` (an error or command class name).
    Runs of underscores count as one; the rest of each word keeps its case."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def humanize(symbol: str) -> str:
    """`division_by_zero` -> `Division by zero` (Ruby's default message for an error)."""
    text = symbol.replace("_", " ").strip()
    return text[:1].upper() + text[1:]
