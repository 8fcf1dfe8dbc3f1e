"""The steps a connection adds inside the command's own run: its `allow_if` rules, checked at the
end of load_records (the records loaded, a refusal rolled back), and, for the aggregate
serializer, the loading of every record the result reaches before the commit.

They are lifecycle steps rather than code around the run because both must happen inside the
command's transaction; `Connection` lists them in its `steps`, and the core sets `running_connection` for
them to read the call. Kept apart from the core so that the lifecycle's side of a connection is
in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import lifecycle
from ..errors import FoobaraError
from ..persistence.entity import Entity
from ..persistence.unit import current_unit, load_keys, references_in, run_async, run_sync
from .calls import AllowRule, Call, ConnectorRequest, is_awaitable, settle_on_own_loop, unknown_error_outcome

if TYPE_CHECKING:
    from .core import Connection

__all__: list[str] = []


@dataclass(frozen=True, slots=True)
class RunningConnection:
    """What the steps a connection adds to a run read: the call being run."""

    connection: Connection
    inputs: Mapping[str, Any]
    request: ConnectorRequest
    user: Any


running_connection: ContextVar[RunningConnection | None] = ContextVar("foobara_py_connector_call", default=None)


def _decided(rule: Callable[[], Any]) -> Any:
    """A rule's answer in a sync command's run: an async rule's on its own event loop."""
    value = rule()
    return settle_on_own_loop(value) if is_awaitable(value) else value


def _check_rules(command: Any) -> Generator[Any, Any, None]:
    """The step checking a connection's `allow_if` rules, at the end of load_records: the records
    are loaded, and a refusal halts the run, so its transaction is rolled back."""
    running = running_connection.get()
    if running is None or command.errors:
        return
    connection = running.connection
    call = Call(type(command), getattr(command, "inputs", None), running.request, running.inputs)
    is_async = type(command).spec.is_async
    explanations = []
    for rule in connection.allow_if:
        try:
            decide = partial(rule, call, running.user)
            answer = yield decide if is_async else partial(_decided, decide)  # async rules for sync commands too
            allowed, explanation = answer if isinstance(answer, tuple) else (answer, None)
        except Exception as exc:  # a rule that cannot decide refuses (and says why only in the log)
            command.add_error(unknown_error_outcome(connection, exc, running.inputs, call.inputs).errors[0])
            return
        if allowed:
            return
        explanations.append(explanation or _rule_name(rule))
    explanation = " or ".join(explanations)
    context = {"rule_symbol": _rule_name(connection.allow_if[0]), "explanation": explanation}
    command.add_error(FoobaraError("not_allowed", f"Not allowed: {explanation}", context=context))


def _load_aggregates(command: Any) -> Generator[Any, Any, None]:
    """The step loading, before the commit, every record the result reaches (records, then the
    records those refer to, one query per entity and depth), so that the aggregate serializer
    can write them all once the transaction is over."""
    unit = current_unit()
    if unit is None or command.errors:
        return
    driver = run_async if type(command).spec.is_async else run_sync
    seen: set[int] = set()
    frontier: list[Any] = [command.result]
    while frontier:
        reached: list[Entity] = []
        missing: dict[type[Entity], list[Any]] = {}
        for value in frontier:
            for _, record in references_in(value):
                if id(record) not in seen:
                    seen.add(id(record))
                    reached.append(record)
                    if not record.is_loaded:
                        missing.setdefault(type(record), []).append(record.primary_key)
        for entity, keys in missing.items():
            yield partial(driver, unit, load_keys(unit, entity, keys, missing_ok=True))
        frontier = [record.__dict__ for record in reached if record.is_loaded]


RULES_STEP = lifecycle.Step(lifecycle.Transition.LOAD_RECORDS, "connector_allow_if", _check_rules)
AGGREGATE_STEP = lifecycle.Step(lifecycle.Transition.COMMIT_TRANSACTION, "load_aggregates", _load_aggregates)


def _rule_name(rule: AllowRule) -> str:
    return getattr(rule, "__name__", None) or type(rule).__name__
