"""A connector's manifest as its connections serve the commands: each command's entry with its
inputs and result types as the transformers change them, its serializers and the errors its
authentication and rules add, and the entries of those errors (Ruby's `Foobara::CommandConnector`
errors).

Ruby tools read this manifest (remote commands, TypeScript generators), so it follows Ruby's
layout; kept apart from the core because it is a document about connections, built only when
asked for (`Connector.manifest()` caches it), never on a run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..possible_errors import ErrorClass, attributes_node, types_depended_on
from .transformers import kept_by

if TYPE_CHECKING:
    from .core import Connection

__all__: list[str] = []

_LOAD_AGGREGATES = "Foobara::CommandConnectors::Transformers::LoadAggregatesPreCommitTransformer"


def connected_manifest(connections: Sequence[Connection], base: dict[str, Any]) -> dict[str, Any]:
    """`base` (`manifest()` of the connected commands) with each command as its connection serves
    it, and the errors the connections' authentication and rules add."""
    by_name = {c.command.full_name(): c for c in connections}
    commands = {
        name: _connected_entry(entry, by_name[name], base) if name in by_name else entry
        for name, entry in base["command"].items()
    }
    ours = {**base, "command": commands}
    added_errors = {}
    if any(c.authenticators for c in connections):
        added_errors[_UNAUTHENTICATED.reference] = _error_class_entry(_UNAUTHENTICATED)
    if any(c.allow_if for c in connections):
        added_errors[_NOT_ALLOWED.reference] = _error_class_entry(_NOT_ALLOWED)
    if added_errors:
        every = {**base["error"], **added_errors}
        ours["error"] = {name: every[name] for name in sorted(every)}
    return ours


def _runtime_error_class(name: str, symbol: str, context: dict[str, str]) -> ErrorClass:
    """One of Ruby's `Foobara::CommandConnector` errors, as its manifest's error category holds it."""
    path = ["Foobara", "CommandConnector", name]
    return ErrorClass(
        reference="::".join(path),
        symbol=symbol,
        category="runtime",
        context=attributes_node(context),
        base_error="Foobara::RuntimeError",
        scoped_path=path,
        scoped_prefix=path[:-1],
        full_path=path,
        error_class="::".join(path),
    )


_UNAUTHENTICATED = _runtime_error_class("UnauthenticatedError", "unauthenticated", {})
_NOT_ALLOWED = _runtime_error_class(
    "NotAllowedError", "not_allowed", {"rule_symbol": "symbol", "explanation": "string"}
)


def _possible(error: ErrorClass) -> dict[str, Any]:
    return {"category": "runtime", "symbol": error.symbol, "key": f"runtime.{error.symbol}", "error": error.reference}


def _error_class_entry(error: ErrorClass) -> dict[str, Any]:
    """The error category's entry of a connector error (laid out as Ruby's entries are)."""
    return {
        "scoped_path": error.scoped_path,
        "scoped_name": error.reference,
        "scoped_short_name": error.full_path[-1],
        "scoped_prefix": error.scoped_prefix,
        "scoped_full_path": error.full_path,
        "scoped_full_name": error.reference,
        "scoped_category": "error",
        "reference": error.reference,
        "domain": error.domain,
        "organization": error.organization,
        "parent": list(error.parent),
        "types_depended_on": sorted(types_depended_on(error)),
        "category": error.category,
        "symbol": error.symbol,
        "context_type_declaration": error.context_declaration(),
        "is_fatal": error.is_fatal,
        "error_class": error.error_class,
        "base_error": error.base_error,
    }


def _connected_entry(entry: dict[str, Any], connection: Connection, base: dict[str, Any]) -> dict[str, Any]:
    """A command's manifest entry as this connection serves it: its inputs and result types as
    its transformers change them, its serializers, and the errors its authentication and rules
    add (`runtime.unauthenticated` also where an authenticator may raise, since that refuses)."""
    ours = {**entry, "serializers": list(connection.serializers)}
    possible = dict(entry.get("possible_errors", {}))
    if connection.inputs is not None and connection.inputs.hidden:
        hidden = connection.inputs.hidden
        ours["inputs_type"] = _without_attributes(entry["inputs_type"], lambda name: name in hidden)
        possible = {key: e for key, e in possible.items() if not e.get("path") or e["path"][0] not in hidden}
    plan = connection.result
    if plan is not None and not plan.functions and (plan.only is not None or plan.reject):
        declaration = entry.get("result_type")
        if isinstance(declaration, str) and declaration in base["type"]:
            declaration = base["type"][declaration].get("attributes_type", declaration)
        if isinstance(declaration, dict) and declaration.get("type") == "attributes":
            ours["result_type"] = _without_attributes(declaration, lambda name: not kept_by(plan, name))
    if connection.authenticators:
        possible[_possible(_UNAUTHENTICATED)["key"]] = _possible(_UNAUTHENTICATED)
    if connection.allow_if:
        possible[_possible(_NOT_ALLOWED)["key"]] = _possible(_NOT_ALLOWED)
    if "possible_errors" in entry:
        ours["possible_errors"] = {key: possible[key] for key in sorted(possible)}
    if connection.aggregate:
        ours["pre_commit_transformers"] = [_LOAD_AGGREGATES]
    if connection.capture_unknown_error:
        ours["capture_unknown_error"] = True
    if connection.requires_auth:
        ours["requires_authentication"] = True
    return ours


def _without_attributes(declaration: dict[str, Any], drop: Callable[[str], bool]) -> dict[str, Any]:
    """An attributes declaration without some attributes (and their required and default entries)."""
    ours = dict(declaration)
    ours["element_type_declarations"] = {
        name: d for name, d in declaration.get("element_type_declarations", {}).items() if not drop(name)
    }
    if "required" in declaration:
        required = [name for name in declaration["required"] if not drop(name)]
        if required:
            ours["required"] = required
        else:
            del ours["required"]
    if "defaults" in declaration:
        defaults = {name: value for name, value in declaration["defaults"].items() if not drop(name)}
        if defaults:
            ours["defaults"] = defaults
        else:
            del ours["defaults"]
    return ours
