"""The command state machine's transitions and the callbacks that hook into them.

Callbacks are registered on a command class, for one transition or for any. A class runs its
ancestors' callbacks first, then its own, and each exactly once. The merged table is built the
first time a class runs, and rebuilt only after a callback is registered on it or an ancestor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["STATES", "TRANSITIONS", "CallbackSet", "resolve_transition"]

Kind = Literal["before", "after", "around"]

# transition -> the state it leads to, in the order a successful run takes them.
TRANSITIONS: dict[str, str] = {
    "open_transaction": "transaction_opened",
    "cast_and_validate_inputs": "inputs_casted_and_validated",
    "load_records": "loaded_records",
    "validate_records": "validated_records",
    "validate": "validated_execution",
    "run_execute": "executing",
    "commit_transaction": "transaction_committed",
    "succeed": "succeeded",
    "fail": "failed",
    "error": "errored",
}
STATES = ("initialized", *TRANSITIONS.values())

# Friendlier names users may write.
_ALIASES = {"execute": "run_execute", "cast_inputs": "cast_and_validate_inputs"}


def resolve_transition(name: str | None) -> str | None:
    """The canonical transition name, or None for "any transition"."""
    if name is None:
        return None
    canonical = _ALIASES.get(name, name)
    if canonical not in TRANSITIONS:
        known = ", ".join([*TRANSITIONS, *_ALIASES])
        raise ValueError(f"Unknown transition {name!r}; known transitions: {known}")
    return canonical


@dataclass(frozen=True, slots=True)
class Callback:
    kind: Kind
    transition: str | None  # None: any transition
    fn: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class CallbackSet:
    """The callbacks that run around one transition, in running order."""

    before: tuple[Callable[..., Any], ...] = ()
    after: tuple[Callable[..., Any], ...] = ()
    around: tuple[Callable[..., Any], ...] = ()  # outermost first


def make_callback(kind: Kind, transition: str | None, fn: Callable[..., Any], *, is_async: bool) -> Callback:
    if not callable(fn):
        raise TypeError(f"A {kind} callback must be callable, not {fn!r}")
    if not is_async and inspect.iscoroutinefunction(fn):
        raise TypeError(
            f"{fn.__qualname__} is async: a sync Command's callbacks must be plain functions "
            "(register it on an AsyncCommand instead)"
        )
    return Callback(kind, resolve_transition(transition), fn)


def build_table(callbacks: list[Callback]) -> dict[str, CallbackSet]:
    """Merge callbacks (ancestors' first) into one CallbackSet per transition.

    Before: any-transition callbacks, then the transition's own. After: the transition's own,
    then any-transition ones. Around: any-transition callbacks wrap the transition's own.
    """
    table: dict[str, CallbackSet] = {}
    for transition in TRANSITIONS:
        mine = [c for c in callbacks if c.transition == transition]
        anys = [c for c in callbacks if c.transition is None]
        if not mine and not anys:
            continue
        table[transition] = CallbackSet(
            before=tuple(c.fn for c in anys + mine if c.kind == "before"),
            after=tuple(c.fn for c in mine + anys if c.kind == "after"),
            around=tuple(c.fn for c in anys + mine if c.kind == "around"),
        )
    return table
