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

from .lifecycle import Transition

__all__ = ["CallbackSet", "resolve_transition"]

Kind = Literal["before", "after", "around"]

# Friendlier names users may write.
_ALIASES = {"execute": Transition.RUN_EXECUTE, "cast_inputs": Transition.CAST_AND_VALIDATE_INPUTS}


def resolve_transition(name: str | None) -> Transition | None:
    """The transition a name means, or None for "any transition"."""
    if name is None:
        return None
    canonical = _ALIASES.get(name)
    if canonical is not None:
        return canonical
    try:
        return Transition(name)
    except ValueError:
        known = ", ".join([*Transition, *_ALIASES])
        raise ValueError(f"Unknown transition {name!r}; known transitions: {known}") from None


@dataclass(frozen=True, slots=True)
class Callback:
    kind: Kind
    transition: Transition | None  # None: any transition
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


def build_table(callbacks: list[Callback]) -> dict[Transition, CallbackSet]:
    """Merge callbacks (ancestors' first) into one CallbackSet per transition.

    Before: any-transition callbacks, then the transition's own. After: the transition's own,
    then any-transition ones. Around: any-transition callbacks wrap the transition's own.
    """
    table: dict[Transition, CallbackSet] = {}
    for transition in Transition:
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
