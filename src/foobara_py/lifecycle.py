"""The command lifecycle: its states and transitions, its steps, and the one generator that runs
them, driven two ways.

The lifecycle is written once, as a generator (`run`). Wherever it must call code that may be
async (hooks, callbacks, transaction methods) it yields that call, a zero-argument callable,
instead of making it. `drive_sync` makes each call; `drive_async` makes it and awaits the result
when it is awaitable. So Command and AsyncCommand share every rule: the order of steps, when a
run halts, how errors, exceptions and cancellations end it, and that every transaction begun is
committed or rolled back exactly once.

Steps belong to transitions. The built-in ones are the user's hooks, casting the inputs, running
`execute` and the transaction steps; a subsystem adds its own with `add_step` (entity loading
plugs a step into `Transition.LOAD_RECORDS`). A class's plan (which steps it needs, and its
callbacks) is compiled when it first runs and kept until a callback or a step is added or a hook
replaced. A plan with nothing but casting the inputs and calling hooks, most commands' plan, is
run straight through by `run_sync` / `run_async` (which are `Command.run` / `AsyncCommand.run`)
without the generator; what goes wrong there ends the way it ends in the generator.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import re
import sys
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from operator import methodcaller
from types import CoroutineType, FunctionType
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, SecretBytes, SecretStr, ValidationError

from . import transactions
from .errors import FoobaraError, FrameworkUsageError
from .jsonable import FILTERED, holds_secret
from .outcome import Outcome
from .persistence.unit import entities_in, load_entity_inputs, load_entity_result

if TYPE_CHECKING:
    from .callbacks import CallbackSet
    from .command import CommandBase
    from .types import TypeNode

__all__ = [
    "State",
    "Step",
    "Transition",
    "add_step",
    "drive_async",
    "drive_sync",
    "extended_plan",
    "run_planned_async",
    "run_planned_sync",
]

R = TypeVar("R")
logger = logging.getLogger("foobara_py")


class Transition(StrEnum):
    OPEN_TRANSACTION = "open_transaction"
    CAST_AND_VALIDATE_INPUTS = "cast_and_validate_inputs"
    LOAD_RECORDS = "load_records"
    VALIDATE_RECORDS = "validate_records"
    VALIDATE = "validate"
    RUN_EXECUTE = "run_execute"
    COMMIT_TRANSACTION = "commit_transaction"
    SUCCEED = "succeed"
    FAIL = "fail"
    ERROR = "error"


class State(StrEnum):
    INITIALIZED = "initialized"
    TRANSACTION_OPENED = "transaction_opened"
    INPUTS_CASTED_AND_VALIDATED = "inputs_casted_and_validated"
    LOADED_RECORDS = "loaded_records"
    VALIDATED_RECORDS = "validated_records"
    VALIDATED_EXECUTION = "validated_execution"
    EXECUTING = "executing"
    TRANSACTION_COMMITTED = "transaction_committed"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ERRORED = "errored"


LEADS_TO: dict[Transition, State] = {
    Transition.OPEN_TRANSACTION: State.TRANSACTION_OPENED,
    Transition.CAST_AND_VALIDATE_INPUTS: State.INPUTS_CASTED_AND_VALIDATED,
    Transition.LOAD_RECORDS: State.LOADED_RECORDS,
    Transition.VALIDATE_RECORDS: State.VALIDATED_RECORDS,
    Transition.VALIDATE: State.VALIDATED_EXECUTION,
    Transition.RUN_EXECUTE: State.EXECUTING,
    Transition.COMMIT_TRANSACTION: State.TRANSACTION_COMMITTED,
    Transition.SUCCEED: State.SUCCEEDED,
    Transition.FAIL: State.FAILED,
    Transition.ERROR: State.ERRORED,
}
# The transitions of a successful run before `succeed`, in order.
RUN_ORDER = tuple(Transition)[:7]
# Enum members, looked up once: reading `State.X` costs an attribute walk on every run.
_VALIDATED_EXECUTION, _SUCCEEDED, _FAILED = State.VALIDATED_EXECUTION, State.SUCCEEDED, State.FAILED


class Halt(BaseException):
    """Stops a run. A BaseException so that user code's `except Exception` does not swallow it."""


class _StopIterationRaised(Exception):
    """A StopIteration raised by user code, carried into the lifecycle generator (where a bare
    StopIteration would read as the generator's own end)."""

    def __init__(self, original: StopIteration) -> None:
        super().__init__(original)
        self.original = original


# --------------------------------------------------------------------------------------------
# Steps


def _always(cls: type[CommandBase[Any, Any]]) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Step:
    """One thing a transition does. `action(command)` does it (returning None, or a generator
    that yields the calls it needs made, as the lifecycle does); `needed(command_class)` says,
    once per class, whether the class needs it at all (every class, unless given)."""

    transition: Transition
    name: str
    action: Callable[[Any], Generator[Any, Any, Any] | None]
    needed: Callable[[type[CommandBase[Any, Any]]], bool] = _always


def _hook(name: str) -> Callable[[Any], Generator[Any, Any, Any]]:
    def call_hook(command: Any) -> Generator[Any, Any, Any]:
        yield getattr(command, name)

    call_hook.__qualname__ = f"call_{name}"
    call_hook.hook_name = name  # type: ignore[attr-defined]
    return call_hook


def _overrides(name: str) -> Callable[[type[CommandBase[Any, Any]]], bool]:
    return lambda cls: name in cls.spec.hooks


def _has_transactions(cls: type[CommandBase[Any, Any]]) -> bool:
    return bool(cls.spec.transaction_resources)


def _has_entity_inputs(cls: type[CommandBase[Any, Any]]) -> bool:
    return cls.spec.entity_inputs


def _has_entity_result(cls: type[CommandBase[Any, Any]]) -> bool:
    return cls.spec.result_node is not None and bool(entities_in(cls.spec.result_node))


def _cast_and_validate_inputs(command: CommandBase[Any, Any]) -> None:
    caster = type(command)._inputs_caster
    assert caster is not None
    try:
        command.inputs = caster.validate(command.raw_inputs)
    except ValidationError as error:
        _recover_inputs(command, error)


def _recover_inputs(command: Any, error: ValidationError) -> None:
    """The failure path of casting the inputs: Ruby's casts, or Foobara's errors."""
    inputs, errors = type(command)._inputs_caster.recover(command.raw_inputs, error)
    if not errors:
        command.inputs = inputs
    for problem in errors:
        command._record(problem)


def _run_execute(command: Any) -> Generator[Any, Any, None]:
    hooks = type(command).spec.hooks
    if "before_execute" in hooks:
        yield command.before_execute
        if command._errors:
            raise Halt
    result = yield command.execute
    if command._inflight:  # subcommands it started and did not await are part of the run
        yield partial(_wait_for_subcommands, command, False)
    if command._errors:
        raise Halt
    if "after_execute" in hooks:
        result = yield partial(command.after_execute, result)
        if command._errors:
            raise Halt
    command.result = type(command)._check_result(result)


_new_outcome = Outcome.__new__


STEPS: list[Step] = [
    Step(Transition.OPEN_TRANSACTION, "begin_transactions", transactions.begin, _has_transactions),
    Step(Transition.CAST_AND_VALIDATE_INPUTS, "cast_and_validate_inputs", _cast_and_validate_inputs, _always),
    Step(Transition.LOAD_RECORDS, "load_entity_inputs", load_entity_inputs, _has_entity_inputs),
    Step(Transition.LOAD_RECORDS, "load_records", _hook("load_records"), _overrides("load_records")),
    Step(Transition.VALIDATE_RECORDS, "validate_records", _hook("validate_records"), _overrides("validate_records")),
    Step(Transition.VALIDATE, "validate", _hook("validate"), _overrides("validate")),
    Step(Transition.RUN_EXECUTE, "run_execute", _run_execute, _always),
    Step(Transition.COMMIT_TRANSACTION, "load_entity_result", load_entity_result, _has_entity_result),
    Step(Transition.COMMIT_TRANSACTION, "commit_transactions", transactions.commit, _has_transactions),
]
_plans_changed: list[Callable[[], None]] = []


def add_step(
    transition: Transition | str,
    action: Callable[[Any], Generator[Any, Any, Any] | None],
    *,
    needed: Callable[[type[CommandBase[Any, Any]]], bool] = _always,
    name: str | None = None,
    before: str | None = None,
) -> Step:
    """Plug a step into a transition of a run (after the steps it has, or before the step named
    `before`: `before="load_records"` runs ahead of the user's hook). `needed(command_class)`
    is asked once per class; a class that does not need the step pays nothing for it. Classes
    that already ran pick the step up on their next run."""
    transition = Transition(transition)
    if transition not in RUN_ORDER:
        raise ValueError(f"Steps plug into {', '.join(RUN_ORDER)}; {transition} ends a run")
    step = Step(transition, name or str(getattr(action, "__name__", "step")), action, needed)
    _insert(STEPS, step, before)
    for invalidate in _plans_changed:
        invalidate()
    return step


def _insert(steps: list[Step], step: Step, before: str | None) -> None:
    """Put `step` in `steps`: at the end of its transition, or before the step named `before`."""
    transition = step.transition
    if before is None:
        order = RUN_ORDER.index(transition)
        index = max((i + 1 for i, s in enumerate(steps) if RUN_ORDER.index(s.transition) <= order), default=0)
    else:
        named = [i for i, s in enumerate(steps) if s.name == before]
        if not named:
            raise ValueError(f"No step is named {before!r}; steps: {', '.join(s.name for s in steps)}")
        index = named[0]
        if steps[index].transition is not transition:
            raise ValueError(f"Step {before!r} belongs to {steps[index].transition}, not {transition}")
    steps.insert(index, step)


def remove_step(step: Step) -> None:
    """Take out a step `add_step` put in."""
    STEPS.remove(step)
    for invalidate in _plans_changed:
        invalidate()


def on_plans_changed(invalidate: Callable[[], None]) -> None:
    _plans_changed.append(invalidate)


# --------------------------------------------------------------------------------------------
# Plans


@dataclass(frozen=True, slots=True)
class PlannedTransition:
    transition: Transition
    actions: tuple[Callable[[Any], Generator[Any, Any, Any] | None], ...]
    callbacks: CallbackSet | None
    state: State  # where the run is once this transition (and any skipped after it) is done


@dataclass(frozen=True, slots=True)
class Plan:
    transitions: tuple[PlannedTransition, ...]
    first_state: State  # the state a run starts its first planned transition in
    finish: dict[Transition, CallbackSet]  # callbacks of succeed, fail and error
    runs_init: bool  # the class defines __init__: it runs at the start of each run
    has_transactions: bool
    # A plan whose steps are only casting the inputs and calling hooks (no callbacks, no
    # transactions, no step a subsystem added) is run directly, without the generator: most
    # commands are. `direct_hooks` are the hooks before `execute` (the class's functions), each
    # with the state it runs in.
    direct: bool
    direct_hooks: tuple[tuple[State, Callable[[Any], Any]], ...]  # calls `command.<hook>()`
    after_execute: bool
    validate_inputs: Callable[[Any], Any]  # the inputs caster's success path
    check_result: Callable[[Any], Any]  # casts a result, raising CouldNotProcessResultError
    result_exact: type | None  # a result of exactly this class is taken as it is
    result_node: TypeNode | None
    table: dict[Transition, CallbackSet]  # the callbacks it was compiled with (for `extended_plan`)


def compile_plan(
    cls: type[CommandBase[Any, Any]], table: dict[Transition, CallbackSet], steps: Sequence[Step] | None = None
) -> Plan:
    """The transitions `cls` must go through: those with a step it needs or a callback. A
    transition left out still happens, instantly: the state moves past it. `steps`: the step
    list to plan from (STEPS unless given)."""
    steps = STEPS if steps is None else steps
    planned: list[tuple[Transition, list[Any], CallbackSet | None]] = []
    for transition in RUN_ORDER:
        actions = [step.action for step in steps if step.transition is transition and step.needed(cls)]
        callbacks = table.get(transition)
        if actions or callbacks is not None:
            planned.append((transition, actions, callbacks))
    transitions = []
    for index, (transition, actions, callbacks) in enumerate(planned):
        # The state after the last transition before the next planned one (or before succeed).
        following = planned[index + 1][0] if index + 1 < len(planned) else None
        last = RUN_ORDER[RUN_ORDER.index(following) - 1] if following is not None else RUN_ORDER[-1]
        transitions.append(PlannedTransition(transition, tuple(actions), callbacks, LEADS_TO[last]))
    first = planned[0][0] if planned else Transition.SUCCEED
    first_index = RUN_ORDER.index(first) if first in RUN_ORDER else len(RUN_ORDER)
    first_state = LEADS_TO[RUN_ORDER[first_index - 1]] if first_index else State.INITIALIZED
    finish: dict[Transition, CallbackSet] = {
        t: table[t] for t in (Transition.SUCCEED, Transition.FAIL, Transition.ERROR) if t in table
    }
    runs_init = cls.__init__ is not _base_init()
    direct_hooks: list[tuple[State, Callable[[Any], Any]]] = []
    direct = not table and not runs_init
    state = first_state
    for step in transitions:
        for action in step.actions:
            if action is _run_execute and "before_execute" in cls.spec.hooks:
                direct_hooks.append((state, _hook_call(cls, "before_execute")))
            elif hasattr(action, "hook_name"):
                direct_hooks.append((state, _hook_call(cls, action.hook_name)))
            elif action not in (_cast_and_validate_inputs, _run_execute):
                direct = False
        state = step.state
    return Plan(
        tuple(transitions),
        first_state,
        finish,
        runs_init=runs_init,
        has_transactions=bool(cls.spec.transaction_resources),
        direct=direct,
        direct_hooks=tuple(direct_hooks),
        after_execute="after_execute" in cls.spec.hooks,
        validate_inputs=cls._inputs_caster.validate,  # type: ignore[union-attr]
        check_result=cls._check_result,
        result_exact=cls._result_exact,
        result_node=cls.spec.result_node,
        table=table,
    )


def extended_plan(cls: type[CommandBase[Any, Any]], steps: Sequence[tuple[Step, str | None]]) -> Plan:
    """`cls`'s plan with more steps, each at the end of its transition or before the step it
    names: for the runs that ask for it with `run_planned_sync` / `run_planned_async` (a
    connector's, whose rules and loading apply to the outermost run only). The class's own runs,
    and its runs as a subcommand, keep its plan and pay nothing."""
    plan = cls._plan or cls._compile_plan()
    key = (cls, steps)
    cached = _extended_plans.get(key)
    if cached is not None and cached[0] is plan:  # made from the class's current plan
        return cached[1]
    extended = list(STEPS)
    for step, before in steps:
        _insert(extended, step, before)
    made = compile_plan(cls, plan.table, extended)
    _extended_plans[key] = (plan, made)
    return made


_extended_plans: dict[tuple[type, Sequence[tuple[Step, str | None]]], tuple[Plan, Plan]] = {}


def _hook_call(cls: type, name: str) -> Callable[[Any], Any]:
    """What calls `command.<name>()`: the class's function itself where it is one (the cheapest
    call; a plan is made again when a hook is replaced), else a method call by name (a mock)."""
    hook = getattr(cls, name)
    return hook if isinstance(hook, FunctionType) else methodcaller(name)


def _base_init() -> Any:
    from .command import CommandBase

    return CommandBase.__init__


# --------------------------------------------------------------------------------------------
# The lifecycle


class Around:
    """An instruction to the driver: run a transition's actions inside its around callbacks.
    A transition that has steps must happen: an around callback that does not call `proceed()`
    there is a mistake (its step's checks, the inputs' or the result's, would be skipped)."""

    __slots__ = ("arounds", "command", "perform", "proceeded", "required", "transition")

    def __init__(
        self,
        command: Any,
        transition: Transition,
        arounds: tuple[Callable[..., Any], ...],
        perform: Callable[[], Generator[Any, Any, Any]],
    ) -> None:
        self.command = command
        self.transition = transition
        self.arounds = arounds
        self.perform = perform
        self.proceeded = False
        self.required = transition in RUN_ORDER

    def run_sync(self) -> Any:
        def proceed_from(index: int) -> Any:
            if index == len(self.arounds):
                self.proceeded = True
                return drive_sync(self.perform())
            return self.arounds[index](self.command, self.transition, lambda: proceed_from(index + 1))

        value = proceed_from(0)
        self._check_proceeded()
        return value

    async def run_async(self) -> Any:
        async def proceed_from(index: int) -> Any:
            if index == len(self.arounds):
                self.proceeded = True
                return await drive_async(self.perform())
            value = self.arounds[index](self.command, self.transition, lambda: proceed_from(index + 1))
            return await value if inspect.isawaitable(value) else value

        value = await proceed_from(0)
        self._check_proceeded()
        return value

    def _check_proceeded(self) -> None:
        if self.required and not self.proceeded:
            raise FrameworkUsageError(
                f"An around callback of {type(self.command).full_name()}'s {self.transition} transition "
                "returned without calling proceed(): the transition's steps did not happen"
            )


# The two runners: `Command.run` and `AsyncCommand.run`. A plan whose steps are only casting the
# inputs and calling hooks (most commands) is run right here, step by step; any other plan is the
# lifecycle generator, driven. Either way a run that does not succeed ends in `_end_early`. These
# two functions are the one place where the sync and the async path are written out twice (the
# second awaiting where the first calls): run through the generator, a plain command costs about
# 30% more, and the success path's speed is what the project promises.


def run_sync(cls: type[CommandBase[Any, R]], /, **inputs: Any) -> Outcome[R]:
    """Run the command with these inputs. Returns an `Outcome`; bad input and exceptions in the
    command's own code are errors in it, never raised."""
    plan = cls._plan or cls._compile_plan()
    command: Any = cls.__new__(cls)
    command.raw_inputs = inputs
    if not plan.direct:
        return drive_sync(_attempts(command, plan) if plan.has_transactions else run(command, plan))
    try:
        try:
            command.inputs = plan.validate_inputs(inputs)
        except ValidationError as error:
            if (failed := _inputs_failed(command, error)) is not None:
                return failed
        if plan.direct_hooks:
            for state, hook in plan.direct_hooks:
                command.state = state
                if type(value := hook(command)) is CoroutineType:
                    _refuse_coroutine(value)
                if command._errors:
                    raise Halt
        command.state = _VALIDATED_EXECUTION
        result = command.execute()
        if type(result) is CoroutineType:
            _refuse_coroutine(result)
        if plan.after_execute:
            if command._errors:
                raise Halt
            result = command.after_execute(result)
        outcome = _succeed(command, plan, result)
    except Halt:  # a direct plan has no transaction and no callback: nothing else to undo
        command.state = _FAILED
        outcome = _halted(command)
    except BaseException as raised:
        outcome = drive_sync(_end_early(command, plan, _caught(raised)))
    command.outcome = outcome
    return outcome


async def run_async(cls: type[CommandBase[Any, R]], /, **inputs: Any) -> Outcome[R]:
    """Run the command with these inputs: `await FetchUser.run(user_id=1)`. `run_sync`, awaiting
    where it calls (an AsyncCommand's hooks may also be plain functions). Its steps are helpers,
    so that the frame each run in flight keeps while it awaits holds little: a run in flight
    costs little more memory than a bare task."""
    plan = cls._plan or cls._compile_plan()
    command: Any = cls.__new__(cls)
    command.raw_inputs = inputs
    if not plan.direct:
        return await drive_async(_attempts(command, plan) if plan.has_transactions else run(command, plan))
    try:
        try:
            command.inputs = plan.validate_inputs(inputs)
        except ValidationError:
            if (result := _inputs_failed(command, sys.exception())) is not None:  # type: ignore[arg-type]
                return result
        command.state = _VALIDATED_EXECUTION
        if plan.direct_hooks:
            await _call_hooks(command, plan)
        result = command.execute()
        if type(result) is CoroutineType or _awaitable(result):
            result = await result
        if command._inflight or plan.after_execute:
            result = await _after_execute(command, plan, result)
        else:
            result = _succeed(command, plan, result)
    except BaseException:
        result = await _end_async(command, plan)
    command.outcome = result
    return result


_awaitable = inspect.isawaitable


def run_planned_sync(cls: type[CommandBase[Any, R]], plan: Plan, inputs: dict[str, Any]) -> Outcome[R]:
    """Run `cls` by a plan of `extended_plan` (never a direct one: it has steps of its own)."""
    command: Any = cls.__new__(cls)
    command.raw_inputs = inputs
    return drive_sync(_attempts(command, plan) if plan.has_transactions else run(command, plan))


async def run_planned_async(cls: type[CommandBase[Any, R]], plan: Plan, inputs: dict[str, Any]) -> Outcome[R]:
    """`run_planned_sync` for an AsyncCommand."""
    command: Any = cls.__new__(cls)
    command.raw_inputs = inputs
    return await drive_async(_attempts(command, plan) if plan.has_transactions else run(command, plan))


# A run that opened its transactions is retried from the start when a store reports that a
# concurrent transaction got in the way (optimistic concurrency), after a short random wait
# that doubles each time. Runs inside a transaction they did not open let the conflict go up.
CONFLICT_ATTEMPTS = 50
_CONFLICT_FIRST_WAIT = 0.001
_CONFLICT_MAX_WAIT = 0.1


def _conflict_wait(attempt: int) -> float:
    return random.uniform(0, min(_CONFLICT_MAX_WAIT, _CONFLICT_FIRST_WAIT * 2**attempt))


def _attempts(command: Any, plan: Plan) -> Generator[Any, Any, Outcome[Any]]:
    """A run that opens transactions, retried from the start (a fresh command, the same raw
    inputs) while a store reports a conflict, if it opened them itself."""
    owner = not transactions.open_transactions()
    attempt = 1
    while True:
        try:
            return (yield from run(command, plan))
        except transactions.TransactionConflict as conflict:
            if not owner:
                raise
            if attempt >= CONFLICT_ATTEMPTS:
                return _gave_up(command, conflict, attempt)
            yield partial(_pause, _conflict_wait(attempt), type(command).spec.is_async)
            attempt += 1
            command = _fresh(type(command), command)


def _pause(seconds: float, is_async: bool) -> Any:
    return asyncio.sleep(seconds) if is_async else time.sleep(seconds)


def _fresh(cls: type[CommandBase[Any, Any]], previous: Any) -> Any:
    command = cls.__new__(cls)
    command.raw_inputs = previous.raw_inputs
    return command


def _gave_up(command: Any, conflict: BaseException, attempts: int) -> Outcome[Any]:
    command._errors = {}
    command._record(
        FoobaraError(
            "transaction_conflict",
            f"Gave up after {attempts} attempts: concurrent transactions kept changing the same records ({conflict})",
            "runtime",
            context={"attempts": attempts},
            cause=conflict,
        )
    )
    outcome = _halted(command)
    command.outcome = outcome
    return outcome


async def _call_hooks(command: Any, plan: Plan) -> None:
    for state, hook in plan.direct_hooks:
        command.state = state
        value = hook(command)
        if inspect.isawaitable(value):
            await value
        if command._errors:
            raise Halt
    command.state = _VALIDATED_EXECUTION


async def _after_execute(command: Any, plan: Plan, result: Any) -> Outcome[Any]:
    """What follows `execute` in a direct async run: the subcommands it started and did not
    await, then `after_execute`, then the outcome."""
    if command._inflight:
        await _wait_for_subcommands(command, False)
    if plan.after_execute:
        if command._errors:
            raise Halt
        result = command.after_execute(result)
        if inspect.isawaitable(result):
            result = await result
    return _succeed(command, plan, result)


def _succeed(command: Any, plan: Plan, result: Any) -> Outcome[Any]:
    """The end of a direct run whose `execute` (and `after_execute`) gave `result`."""
    if command._errors:
        raise Halt
    command.result = result = result if type(result) is plan.result_exact else plan.check_result(result)
    command.state = _SUCCEEDED
    outcome = _new_outcome(Outcome)
    outcome._errors = ()
    outcome.result = result
    outcome._result_type = plan.result_node
    return outcome


def _inputs_failed(command: Any, error: ValidationError) -> Outcome[Any] | None:
    """A direct run's inputs did not validate: Ruby's casts may still save them (None), else the
    run ends here, the commonest failure, without raising a Halt."""
    _recover_inputs(command, error)
    if not command._errors:
        return None
    command.state = _FAILED
    command.outcome = outcome = _halted(command)
    return outcome


async def _end_async(command: Any, plan: Plan) -> Outcome[Any]:
    """The end of a direct async run that did not succeed (called while handling what ended it)."""
    raised = sys.exception()
    assert raised is not None
    if type(raised) is Halt and not command._inflight:
        command.state = _FAILED
        return _halted(command)
    # Subcommands still running in other tasks are waited for (or cancelled) first.
    return await drive_async(_end_early(command, plan, _caught(raised)))


def _caught(raised: BaseException) -> BaseException:
    return _StopIterationRaised(raised) if isinstance(raised, StopIteration) else raised


def run(command: Any, plan: Plan) -> Generator[Any, Any, Outcome[Any]]:
    """One command run, from its raw inputs to its outcome: the lifecycle."""
    try:
        if plan.runs_init:
            yield partial(command.__init__, **command.raw_inputs)
        if plan.has_transactions:
            command._transactions = transactions.RunTransactions()
        command.state = plan.first_state
        for planned in plan.transitions:
            if planned.callbacks is None:
                yield from _perform(command, planned.actions)
            else:
                yield from _with_callbacks(command, planned.transition, planned.actions, planned.callbacks)
            command.state = planned.state
            if command._errors:
                raise Halt
    except BaseException as raised:  # every way a run can end early
        outcome = yield from _end_early(command, plan, raised)
    else:
        yield from _succeeded(command, plan)
        outcome = Outcome(command.result, (), plan.result_node)
    finally:
        if command._transactions is not None:
            command._transactions.close()
    command.outcome = outcome
    return outcome


def _succeeded(command: Any, plan: Plan) -> Generator[Any, Any, None]:
    """The succeed transition. It comes after the commit: nothing its callbacks do (raise, halt,
    add an error) can undo the run, so what they raise or add is logged, not reported."""
    if Transition.SUCCEED not in plan.finish:
        command.state = _SUCCEEDED
        return
    known = set(command._errors)
    yield from _final(command, plan, Transition.SUCCEED)
    added = [error.key for key, error in command._errors.items() if key not in known]
    if added:
        logger.error(
            "%s: a callback of its succeed transition added %s after the run succeeded; ignored",
            type(command).full_name(),
            ", ".join(added),
        )
        command._errors = {}


def _end_early(command: Any, plan: Plan, raised: BaseException) -> Generator[Any, Any, Outcome[Any]]:
    """How a run that did not succeed ends: subcommands settled, transactions rolled back, the
    fail or error transition, and the outcome (or the exception re-raised). Steps with nothing
    to do are skipped, so a plain failure costs little."""
    other = _unexpected(raised)
    if command._inflight:
        # Subcommands still running in other tasks end before the transactions do: after a halt
        # they finish (every error they add is kept), after anything else they are cancelled.
        try:
            yield partial(_wait_for_subcommands, command, other is not None)
        except BaseException as exc:  # cancelled meanwhile: roll back all the same, then go on up
            other = exc
    failed_rollbacks: list[Exception] = []
    if command._transactions is not None:
        for problem in (yield from transactions.rollback(command)):
            if isinstance(problem, Exception):
                failed_rollbacks.append(problem)
            elif other is None or isinstance(other, Exception):
                other = problem  # a cancellation (or an exit) during the rollbacks goes on up
    # An exception from the command's own code is an error in the outcome; a misuse of the
    # framework and a cancellation go on up once the run has ended.
    escapes = other is not None and (
        not isinstance(other, Exception) or isinstance(other, (FrameworkUsageError, transactions.TransactionConflict))
    )
    if other is None:
        _report_halt(command)
    else:
        command.exception = other
        if not escapes:
            command._record(_execution_error_of(command, other))
    if failed_rollbacks:  # after what made the run fail
        command._record(_rollback_failed(failed_rollbacks))
    ending = Transition.FAIL if other is None else Transition.ERROR
    if plan.finish:
        yield from _final(command, plan, ending)
    else:
        command.state = LEADS_TO[ending]
    if escapes:
        assert other is not None
        raise other
    return _halted(command)


def _halted(command: Any) -> Outcome[Any]:
    """The outcome of a run that did not succeed: its errors."""
    _report_halt(command)
    outcome = _new_outcome(Outcome)
    outcome._errors = tuple(command._errors.values())
    outcome.result = outcome._result_type = None
    return outcome


def _report_halt(command: Any) -> None:
    """A run that stopped without reporting an error fails with `runtime.halted`."""
    if not command._errors:
        command._record(FoobaraError("halted", "The command halted without reporting an error", "runtime"))


def _unexpected(raised: BaseException) -> BaseException | None:
    """What ended a run besides a halt: None if it only halted."""
    if isinstance(raised, Halt):
        return None
    if isinstance(raised, BaseExceptionGroup):  # subcommands run in a TaskGroup
        _, rest = raised.split(Halt)
        if rest is None:
            return None
        if len(rest.exceptions) == 1 and not isinstance(rest.exceptions[0], BaseExceptionGroup):
            return _unexpected(rest.exceptions[0])
        return rest
    if isinstance(raised, _StopIterationRaised):
        return raised.original
    return raised


def _with_callbacks(
    command: Any,
    transition: Transition,
    actions: Iterable[Callable[[Any], Generator[Any, Any, Any] | None]],
    callbacks: CallbackSet,
) -> Generator[Any, Any, None]:
    for before in callbacks.before:
        yield partial(before, command, transition)
    if callbacks.around:
        yield Around(command, transition, callbacks.around, partial(_perform, command, tuple(actions)))
    else:
        yield from _perform(command, actions)
    command.state = LEADS_TO[transition]
    for after in callbacks.after:
        yield partial(after, command, transition)


def _perform(command: Any, actions: Iterable[Callable[[Any], Any]]) -> Generator[Any, Any, None]:
    for action in actions:
        steps = action(command)
        if steps is not None:
            yield from steps


def _final(command: Any, plan: Plan, transition: Transition) -> Generator[Any, Any, None]:
    """The final transition: succeed, fail or error. The run is over: nothing its callbacks
    raise may escape it. After a failure, what they raise becomes an error in the outcome (as do
    the errors they add); after the commit of a success, it is logged."""
    callbacks = plan.finish.get(transition)
    if callbacks is not None:
        for before in callbacks.before:
            yield from _guarded(command, transition, partial(before, command, transition))
        if callbacks.around:
            yield from _guarded(command, transition, Around(command, transition, callbacks.around, _nothing))
    command.state = LEADS_TO[transition]
    if callbacks is not None:
        for after in callbacks.after:
            yield from _guarded(command, transition, partial(after, command, transition))


def _guarded(command: Any, transition: Transition, instruction: Any) -> Generator[Any, Any, None]:
    try:
        yield instruction
    except Halt:
        pass
    except Exception as exc:
        if transition is Transition.SUCCEED:
            log_exception(
                logger,
                exc,
                _secrets_of(command),
                "%s: a callback of its succeed transition raised %s after the run succeeded",
                type(command).full_name(),
                type(exc).__name__,
            )
        else:
            command._record(_execution_error_of(command, exc))


def _nothing() -> Generator[Any, Any, None]:
    yield from ()


async def _wait_for_subcommands(command: Any, cancel: bool) -> None:
    """Wait until the subcommands running in other tasks have ended, cancelling them first if
    `cancel`, or as soon as this run is cancelled itself (then the cancellation goes on)."""
    if cancel:
        _cancel_subcommands(command)
    cancelled: asyncio.CancelledError | None = None
    while command._inflight:
        command._idle = asyncio.Event()
        try:
            await command._idle.wait()
        except asyncio.CancelledError as exc:
            if cancelled is None:
                _cancel_subcommands(command)
            cancelled = exc
    if cancelled is not None:
        raise cancelled


def _cancel_subcommands(command: Any) -> None:
    current = asyncio.current_task()
    for task in command._subtasks or ():
        if task is not current:
            task.cancel()


def _refuse_coroutine(coroutine: Any) -> None:
    """A sync Command's hook returned a coroutine: it is async, which a sync Command cannot await."""
    coroutine.close()
    raise FrameworkUsageError(
        f"{coroutine.__qualname__} is async: a sync Command cannot await it "
        "(use an AsyncCommand, or make it a plain function)"
    )


def execution_error(exc: BaseException, secrets: Sequence[str] = ()) -> FoobaraError:
    """An exception from user code as the `runtime.execution_error` it becomes (or as the
    error it says it is, for exceptions with a `to_foobara_error()`: a store that is down).
    `secrets`: texts its message may quote that must not be shown (`input_secrets`)."""
    to_foobara_error = getattr(exc, "to_foobara_error", None)
    if to_foobara_error is not None:
        return to_foobara_error()  # type: ignore[no-any-return]
    if isinstance(exc, RuntimeError) and isinstance(exc.__cause__, StopIteration):
        exc = exc.__cause__  # an async def that raised StopIteration
    name, message = exception_text(exc, secrets)
    return FoobaraError(
        symbol="execution_error",
        message=message,
        category="runtime",
        context={"exception_class": name},
        cause=exc,
    )


def _execution_error_of(command: Any, exc: BaseException) -> FoobaraError:
    """`execution_error` of an exception from the run's code, the secrets of its inputs filtered."""
    return execution_error(exc, _secrets_of(command))


def _secrets_of(command: Any) -> list[str]:
    """The secrets of a run's inputs, as sent and as cast (a pin sent as "0042" is quoted as 42)."""
    return input_secrets(type(command), getattr(command, "raw_inputs", None) or {}, getattr(command, "inputs", None))


def input_secrets(cls: type[CommandBase[Any, Any]], *inputs: Any) -> list[str]:
    """The texts of `inputs` (what was sent, the inputs as cast: mappings or models) that the
    command's types declare sensitive (every text or number under an attribute that holds a
    secret anywhere), longest first, to keep out of a message or a log."""
    node = cls.spec.inputs_node
    found: list[str] = []
    if node is None:
        return found
    for given in inputs:
        values = given.__dict__ if isinstance(given, BaseModel) else given
        if not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            spec = node.field_named(name)
            if spec is not None and holds_secret(spec.node):
                _texts(value, found)
    return sorted({text for text in found if text}, key=len, reverse=True)


def _texts(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, SecretBytes):
        found.append(value.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(value, BaseModel):
        _texts(value.__dict__, found)
    elif isinstance(value, Mapping):
        for item in value.values():
            _texts(item, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _texts(item, found)
    elif value is not None and not isinstance(value, bool):
        found.append(str(value))  # a number too: a sensitive pin


_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?")


def filtered(text: str, secrets: Sequence[str]) -> str:
    """`text` with each of `secrets` (longest first) replaced by [FILTERED]. A number is replaced
    where it stands alone: a pin of 7 leaves 17 as it is."""
    for secret in secrets:
        if _NUMBER.fullmatch(secret):
            text = re.sub(rf"(?<![0-9.]){re.escape(secret)}(?![0-9]|\.[0-9])", FILTERED, text)
        else:
            text = text.replace(secret, FILTERED)
    return text


def exception_text(exc: BaseException, secrets: Sequence[str]) -> tuple[str, str]:
    """An exception's class name (with its module unless a builtin) and its message, `secrets`
    filtered (the class name when it has no message, or one that cannot be written)."""
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        return name, filtered(str(exc) or name, secrets)
    except Exception:  # an exception whose __str__ raises
        return name, name


def log_exception(
    log: logging.Logger, exc: BaseException, secrets: Sequence[str], what: str, *args: Any, message: bool = True
) -> None:
    """Log `what % args` as an error, followed by the exception's class and message (its class
    only with `message=False`, for an exception whose text is about credentials): with its
    traceback as `exc_info` when no secret was given, else (a handler would write its text,
    or send it on) with its traceback filtered as the record's formatted traceback."""
    if not log.isEnabledFor(logging.ERROR):
        return
    name, text = exception_text(exc, secrets)
    what, args = (f"{what} (%s: %s)", (*args, name, text)) if message else (f"{what} (%s)", (*args, name))
    if not secrets:
        log.error(what, *args, exc_info=exc, stacklevel=2)
        return
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, what, args, None)
    record.exc_text = filtered("".join(traceback.format_exception(exc)).rstrip(), secrets)
    log.handle(record)


def _rollback_failed(problems: list[Exception]) -> FoobaraError:
    causes = [execution_error(problem) for problem in problems]
    return FoobaraError(
        symbol="rollback_failed",
        message=f"Rolling back failed: {'; '.join(cause.message for cause in causes)}",
        category="runtime",
        context={"exception_classes": [cause.context["exception_class"] for cause in causes]},
        cause=problems[0],
    )


# --------------------------------------------------------------------------------------------
# Drivers


def drive_sync(lifecycle: Generator[Any, Any, R]) -> R:
    """Run a lifecycle generator, making each call it yields."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            instruction = lifecycle.send(value) if error is None else lifecycle.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = error = None
        try:
            value = instruction.run_sync() if type(instruction) is Around else instruction()
            if type(value) is CoroutineType:
                value.close()
                raise FrameworkUsageError(
                    f"{_describe_call(instruction)} is async: a sync Command cannot await it "
                    "(use an AsyncCommand, or make it a plain function)"
                )
        except StopIteration as exc:
            error = _StopIterationRaised(exc)
        except BaseException as exc:  # handed to the lifecycle, which decides
            error = exc


async def drive_async(lifecycle: Generator[Any, Any, R]) -> R:
    """Run a lifecycle generator, making each call it yields and awaiting what it returns."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            instruction = lifecycle.send(value) if error is None else lifecycle.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value = error = None
        try:
            if type(instruction) is Around:
                value = await instruction.run_async()
            elif type(instruction) is transactions.Shielded:
                value = await _to_the_end(instruction.call)
            else:
                value = instruction()
                if inspect.isawaitable(value):
                    value = await value
        except StopIteration as exc:
            error = _StopIterationRaised(exc)
        except BaseException as exc:
            error = exc


async def _to_the_end(call: Callable[[], Any]) -> Any:
    """Make the call and await what it returns, to the end even if the run is cancelled
    meanwhile; then let the cancellation go on (before what the call raised, if both)."""
    value = call()
    if not inspect.isawaitable(value):
        return value
    task = asyncio.ensure_future(value)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.cancelled():  # the call itself was cancelled, not the run awaiting it
                raise
            cancelled = exc
        except BaseException:  # the call raised: task.result() below raises it again
            break
    if cancelled is not None:
        problem = task.exception()
        if problem is not None:  # the cancellation goes on up; what the call raised is logged
            logger.error("%s raised while the run was being cancelled", _describe_call(call), exc_info=problem)
        raise cancelled
    return task.result()


def _describe_call(instruction: Any) -> str:
    target = instruction.func if isinstance(instruction, partial) else instruction
    return str(getattr(target, "__qualname__", target))
