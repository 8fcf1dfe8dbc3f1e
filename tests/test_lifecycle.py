"""The lifecycle under faults: every transaction begun ends in exactly one commit or one rollback,
and nothing but a cancellation (or a misuse of the framework) escapes `run()`."""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from foobara_py import AsyncCommand, Command, FrameworkUsageError
from foobara_py.lifecycle import State, Transition, add_step, remove_step
from foobara_py.transactions import open_transactions


class Tracked:
    """A resource whose transactions remember how they ended."""

    def __init__(self, name: str = "db", *, fail_begin: bool = False, fail_commit: bool = False) -> None:
        self.name = name
        self.fail_begin = fail_begin
        self.fail_commit = fail_commit
        self.fail_rollback = False
        self.transactions: list[Tracked.Tx] = []

    def begin(self) -> Tracked.Tx:
        if self.fail_begin:
            raise ConnectionError(f"{self.name} is down")
        transaction = Tracked.Tx(self)
        self.transactions.append(transaction)
        return transaction

    class Tx:
        def __init__(self, resource: Tracked) -> None:
            self.resource = resource
            self.ends: list[str] = []
            self.writes: list[Any] = []

        def commit(self) -> None:
            if self.resource.fail_commit:
                raise OSError(f"{self.resource.name} lost the commit")
            self.ends.append("commit")

        def rollback(self) -> None:
            self.ends.append("rollback")
            if self.resource.fail_rollback:
                raise OSError(f"{self.resource.name} lost the rollback")

    def ends(self) -> list[list[str]]:
        return [transaction.ends for transaction in self.transactions]


class AsyncTx(Tracked.Tx):
    """A transaction whose methods really suspend, so that cancellations can land inside them."""

    async def commit(self) -> None:  # type: ignore[override]
        await asyncio.sleep(0.001)
        Tracked.Tx.commit(self)

    async def rollback(self) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        Tracked.Tx.rollback(self)


class AsyncTracked(Tracked):
    def __init__(self, name: str = "db", *, transactions: type[AsyncTx] = AsyncTx) -> None:
        super().__init__(name)
        self.transaction_class = transactions

    async def begin(self) -> Tracked.Tx:  # type: ignore[override]
        await asyncio.sleep(0)
        if self.fail_begin:
            raise ConnectionError(f"{self.name} is down")
        transaction = self.transaction_class(self)
        self.transactions.append(transaction)
        return transaction


class Text(BaseModel):
    text: str = "hello"


def each_ended_once(*resources: Tracked) -> bool:
    return all(len(ends) == 1 for resource in resources for ends in resource.ends())


# --------------------------------------------------------------------------------------------
# Faults in the transaction methods


def test_a_commit_that_raises_rolls_back_the_rest_and_fails_the_run() -> None:
    first, second, third = Tracked("first"), Tracked("second", fail_commit=True), Tracked("third")

    class SaveTx(Command[Text, str]):
        transaction_resources = (first, second, third)

        def execute(self) -> str:
            return self.inputs.text

    outcome = SaveTx.run()
    assert outcome.error_keys == ["runtime.execution_error"]
    assert outcome.errors[0].message == "second lost the commit"
    assert first.ends() == [["commit"]]
    assert second.ends() == [["rollback"]]
    assert third.ends() == [["rollback"]]


def test_a_begin_that_raises_rolls_back_what_was_begun() -> None:
    first, second = Tracked("first"), Tracked("second", fail_begin=True)

    class SaveTx(Command[Text, str]):
        transaction_resources = (first, second)

        def execute(self) -> str:
            raise AssertionError("must not run")

    outcome = SaveTx.run()
    assert outcome.error_keys == ["runtime.execution_error"]
    assert outcome.errors[0].message == "second is down"
    assert first.ends() == [["rollback"]]


def test_a_rollback_that_raises_does_not_stop_the_others_or_escape() -> None:
    first, second = Tracked("first"), Tracked("second")
    second.fail_rollback = True

    class SaveTx(Command[Text, str]):
        transaction_resources = (first, second)

        def execute(self) -> str:
            self.add_runtime_error("refused")
            return ""

    outcome = SaveTx.run()
    assert outcome.error_keys == ["runtime.refused", "runtime.rollback_failed"]
    assert outcome.errors[1].message == "Rolling back failed: second lost the rollback"
    assert first.ends() == [["rollback"]] and second.ends() == [["rollback"]]


async def test_a_cancellation_during_an_async_commit_rolls_back() -> None:
    started = asyncio.Event()

    class SlowCommit(AsyncTx):
        async def commit(self) -> None:  # type: ignore[override]
            started.set()
            await asyncio.sleep(10)
            self.ends.append("commit")

    db = AsyncTracked("db", transactions=SlowCommit)

    class SaveTx(AsyncCommand[Text, str]):
        transaction_resources = (db,)

        async def execute(self) -> str:
            return self.inputs.text

    task = asyncio.create_task(SaveTx.run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert db.ends() == [["rollback"]]


async def test_wait_for_timeouts_never_leave_a_transaction_open() -> None:
    db = AsyncTracked("db")
    rng = random.Random(7)

    class Work(AsyncCommand[Text, str]):
        transaction_resources = (db,)

        async def validate(self) -> None:
            await asyncio.sleep(0)

        async def execute(self) -> str:
            await asyncio.sleep(0)
            return self.inputs.text

    outcomes = {"done": 0, "timed out": 0}
    for _ in range(2000):
        try:
            await asyncio.wait_for(Work.run(), timeout=rng.choice([0, 0.0001, 0.0005, 0.001, 0.002, 0.05]))
            outcomes["done"] += 1
        except TimeoutError:
            outcomes["timed out"] += 1
    assert outcomes["done"] and outcomes["timed out"]  # both endings were exercised
    assert each_ended_once(db), [ends for ends in db.ends() if len(ends) != 1][:5]


class Item(BaseModel):
    n: int


async def test_a_cancelled_parent_rolls_back_and_its_gathered_subcommands_stop() -> None:
    db = AsyncTracked("db")
    inside = asyncio.Event()
    finished: list[int] = []

    class Step(AsyncCommand[Item, int]):
        transaction_resources = (db,)

        async def execute(self) -> int:
            open_transactions()[db].writes.append(self.inputs.n)  # type: ignore[attr-defined]
            inside.set()
            await asyncio.sleep(0.05 * self.inputs.n)
            finished.append(self.inputs.n)
            return self.inputs.n

    class Parent(AsyncCommand[None, list[int]]):
        depends_on = (Step,)

        async def execute(self) -> list[int]:
            return list(await asyncio.gather(*(self.run_subcommand(Step, n=n) for n in (1, 2, 3))))

    assert Parent.spec.transaction_resources == (db,)  # the parent opens what its subcommands use
    task = asyncio.create_task(Parent.run())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    assert finished == []
    assert db.ends() == [["rollback"]]  # one transaction, the parent's, joined by every subcommand


async def test_a_failing_sibling_halts_the_parent_and_nothing_commits() -> None:
    db = AsyncTracked("db")

    class Step(AsyncCommand[Item, int]):
        transaction_resources = (db,)

        async def execute(self) -> int:
            await asyncio.sleep(0.01 * self.inputs.n)
            if self.inputs.n == 1:
                self.add_runtime_error("broken")
            return self.inputs.n

    class Parent(AsyncCommand[None, list[int]]):
        depends_on = (Step,)

        async def execute(self) -> list[int]:
            return list(await asyncio.gather(*(self.run_subcommand(Step, n=n) for n in (1, 2))))

    outcome = await Parent.run()
    assert outcome.error_keys == ["step>runtime.broken"]
    assert db.ends() == [["rollback"]]


async def test_subcommands_in_a_task_group_fail_the_run_with_their_errors() -> None:
    class Check(AsyncCommand[Item, int]):
        async def execute(self) -> int:
            await asyncio.sleep(0.001 * self.inputs.n)
            if self.inputs.n == 2:
                self.add_runtime_error("too_big", f"{self.inputs.n} is too big")
            return self.inputs.n

    class CheckAll(AsyncCommand[None, int]):
        depends_on = (Check,)

        async def execute(self) -> int:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self.run_subcommand(Check, n=n)) for n in (1, 2, 3)]
            return sum(task.result() for task in tasks)

    outcome = await CheckAll.run()
    assert outcome.error_keys == ["check>runtime.too_big"]
    assert outcome.errors[0].message == "2 is too big"


async def test_an_around_callback_may_run_the_step_under_wait_for() -> None:
    db = AsyncTracked("db")

    class SaveTx(AsyncCommand[Text, str]):
        transaction_resources = (db,)

        async def execute(self) -> str:
            open_transactions()[db].writes.append(self.inputs.text)  # type: ignore[attr-defined]
            return self.inputs.text

    @SaveTx.around()
    async def with_timeout(command: Any, transition: str, proceed: Callable[[], Any]) -> Any:
        return await asyncio.wait_for(proceed(), timeout=5)

    outcome = await SaveTx.run(text="kept")
    assert outcome.unwrap() == "kept"
    assert db.ends() == [["commit"]]
    assert db.transactions[0].writes == ["kept"]
    assert open_transactions() == {}


# --------------------------------------------------------------------------------------------
# Exceptions in odd places


class Weird(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_an_exception_whose_str_raises_is_still_an_error() -> None:
    class Odd(Command[None, int]):
        def execute(self) -> int:
            raise Weird

    outcome = Odd.run()
    assert outcome.error_keys == ["runtime.execution_error"]
    assert outcome.errors[0].message == "tests.test_lifecycle.Weird"


@pytest.mark.parametrize("transition", ["fail", "error"])
def test_a_callback_raising_on_fail_or_error_does_not_escape(transition: str) -> None:
    db = Tracked()

    class Fragile(Command[Item, int]):
        transaction_resources = (db,)

        def execute(self) -> int:
            if self.inputs.n == 1:
                self.add_runtime_error("one")
            raise ValueError("two")

    @Fragile.after(transition)
    def explode(command: Any, transition: str) -> None:
        raise KeyError("callback broke")

    outcome = Fragile.run(n=1 if transition == "fail" else 2)
    assert outcome.is_failure()
    expected = ["runtime.one", "runtime.execution_error"] if transition == "fail" else ["runtime.execution_error"]
    assert outcome.error_keys == expected
    assert db.ends() == [["rollback"]]


def test_stop_iteration_in_execute_is_reported_as_itself() -> None:
    class Iterate(Command[None, int]):
        def execute(self) -> int:
            return next(iter([]))

    outcome = Iterate.run()
    assert outcome.error_keys == ["runtime.execution_error"]
    assert outcome.errors[0].context == {"exception_class": "StopIteration"}

    class IterateWithHook(Iterate):
        def validate(self) -> None:
            pass

    assert IterateWithHook.run().errors[0].context == {"exception_class": "StopIteration"}


async def test_stop_iteration_in_async_execute_is_reported_as_itself() -> None:
    class Iterate(AsyncCommand[None, int]):
        async def execute(self) -> int:
            return next(iter([]))

    outcome = await Iterate.run()
    assert outcome.errors[0].context == {"exception_class": "StopIteration"}


# --------------------------------------------------------------------------------------------
# Inputs, state, __init__


class Reserved(BaseModel):
    cls: int
    self: int


def test_inputs_may_be_named_like_run_s_own_parameters() -> None:
    class SumReserved(Command[Reserved, int]):
        def execute(self) -> int:
            return self.inputs.cls + self.inputs.self

    assert SumReserved.run(cls=1, self=2).unwrap() == 3


def test_state_inside_execute_does_not_depend_on_callbacks() -> None:
    seen: list[str] = []

    class Plain(Command[None, int]):
        def execute(self) -> int:
            seen.append(self.state)
            return 1

    class Hooked(Plain):
        def validate(self) -> None:
            seen.append(self.state)

    class Called(Plain):
        pass

    Called.before("load_records")(lambda command, transition: seen.append(command.state))

    Plain.run()
    Hooked.run()
    Called.run()
    assert seen == [
        State.VALIDATED_EXECUTION,
        State.VALIDATED_RECORDS,  # validate starts where validate_records left off
        State.VALIDATED_EXECUTION,
        State.INPUTS_CASTED_AND_VALIDATED,  # load_records starts after the inputs
        State.VALIDATED_EXECUTION,
    ]


def test_a_command_s_own_init_runs_at_the_start_of_each_run() -> None:
    class Counting(Command[Item, int]):
        def __init__(self, /, **raw_inputs: Any) -> None:
            super().__init__(**raw_inputs)
            self.seen = [raw_inputs["n"]]

        def execute(self) -> int:
            return self.seen[0] + self.inputs.n

    assert Counting.run(n=2).unwrap() == 4

    class Named(Command[Reserved, int]):
        def __init__(self, /, **raw_inputs: Any) -> None:
            super().__init__(**raw_inputs)
            self.offset = 100

        def execute(self) -> int:
            return self.offset + self.inputs.cls + self.inputs.self

    assert Named.run(cls=1, self=2).unwrap() == 103  # an input named self reaches __init__ too

    class Broken(Command[Item, int]):
        def __init__(self, /, **raw_inputs: Any) -> None:
            raise RuntimeError("no setup")

        def execute(self) -> int:
            return 0

    assert Broken.run(n=1).error_keys == ["runtime.execution_error"]


async def test_an_async_command_s_own_init_runs_too() -> None:
    class Counting(AsyncCommand[Item, int]):
        def __init__(self, /, **raw_inputs: Any) -> None:
            super().__init__(**raw_inputs)
            self.base = 10

        async def execute(self) -> int:
            return self.base + self.inputs.n

    assert (await Counting.run(n=2)).unwrap() == 12


# --------------------------------------------------------------------------------------------
# Steps added by a subsystem


def test_a_subsystem_adds_a_step_to_a_transition() -> None:
    order: list[str] = []

    class Loads(Command[Item, int]):
        def load_records(self) -> None:
            order.append("hook")

        def execute(self) -> int:
            return self.inputs.n

    Loads.run(n=1)
    step = add_step(
        Transition.LOAD_RECORDS,
        lambda command: order.append(f"step {command.inputs.n}"),
        needed=lambda cls: cls is Loads,
        name="load_things",
        before="load_records",
    )
    try:
        assert Loads.run(n=2).unwrap() == 2
        assert order == ["hook", "step 2", "hook"]
    finally:
        remove_step(step)
    Loads.run(n=3)
    assert order == ["hook", "step 2", "hook", "hook"]


def test_add_step_refuses_what_cannot_be_a_step() -> None:
    with pytest.raises(ValueError, match="ends a run"):
        add_step("succeed", lambda command: None)
    with pytest.raises(ValueError, match="No step is named"):
        add_step("validate", lambda command: None, before="nope")
    with pytest.raises(ValueError, match="belongs to"):
        add_step("validate", lambda command: None, before="load_records")


# --------------------------------------------------------------------------------------------
# Found by review: runs in flight while a class changes, rollbacks under cancellation, succeed


async def test_a_callback_registered_while_a_run_is_in_flight_does_not_break_it() -> None:
    gate = asyncio.Event()

    class Slow(AsyncCommand[None, int]):
        async def execute(self) -> int:
            await gate.wait()
            return 1

    class SlowWithHook(Slow):
        async def validate(self) -> None:
            pass

    runs = [asyncio.create_task(Slow.run()), asyncio.create_task(SlowWithHook.run())]
    await asyncio.sleep(0)
    Slow.after("succeed")(lambda command, transition: None)  # resets both classes' plans
    step = add_step(Transition.VALIDATE, lambda command: None, needed=lambda cls: False, name="noop")
    try:
        gate.set()
        outcomes = await asyncio.gather(*runs)
    finally:
        remove_step(step)
    assert [outcome.unwrap() for outcome in outcomes] == [1, 1]


async def test_a_cancellation_during_a_rollback_lets_the_rollback_finish() -> None:
    rolling_back = asyncio.Event()

    class SlowRollback(AsyncTx):
        async def rollback(self) -> None:  # type: ignore[override]
            rolling_back.set()
            await asyncio.sleep(0.02)
            self.ends.append("rollback")

    db = AsyncTracked("db", transactions=SlowRollback)

    class Declined(AsyncCommand[None, int]):
        transaction_resources = (db,)

        async def execute(self) -> int:
            self.add_runtime_error("declined")
            return 0

    task = asyncio.create_task(Declined.run())
    await rolling_back.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert db.ends() == [["rollback"]]


def test_a_succeed_callback_cannot_undo_a_committed_run(caplog: pytest.LogCaptureFixture) -> None:
    db = Tracked()

    class Notify(Command[None, int]):
        transaction_resources = (db,)

        def execute(self) -> int:
            return 1

    @Notify.after("succeed")
    def mail(command: Any, transition: str) -> None:
        command.add_runtime_error("mailer_down", halt=False)
        raise ConnectionError("mailer down")

    @Notify.before("succeed")
    def stop(command: Any, transition: str) -> None:
        command.halt()

    seen: list[Any] = []
    Notify.after("succeed")(lambda command, transition: seen.append(command))
    outcome = Notify.run()
    assert outcome.unwrap() == 1
    assert db.ends() == [["commit"]]
    assert seen[0].state == State.SUCCEEDED
    assert "mailer down" in caplog.text and "runtime.mailer_down" in caplog.text


@pytest.mark.parametrize("with_callback", [False, True])
def test_a_hook_patched_on_the_class_is_what_runs_call(with_callback: bool) -> None:
    from unittest import mock

    class Check(Command[Item, int]):
        def validate(self) -> None:
            pass

        def execute(self) -> int:
            return self.inputs.n

    if with_callback:  # the lifecycle generator calls hooks; without callbacks, the direct runner
        Check.before("execute")(lambda command, transition: None)

    def refuse(self: Any) -> None:
        self.add_input_error("n", "too_small")

    assert Check.run(n=1).unwrap() == 1
    with mock.patch.object(Check, "validate", refuse):
        assert Check.run(n=1).error_keys == ["data.n.too_small"]
    assert Check.run(n=1).unwrap() == 1
    with mock.patch.object(Check, "validate") as validate:  # a mock: called as the method was
        assert Check.run(n=1).unwrap() == 1
        validate.assert_called_once_with()


def test_a_hook_replaced_on_a_parent_is_what_its_subclasses_call_and_a_sync_one_stays_sync() -> None:
    from unittest import mock

    class Parent(Command[Item, int]):
        def validate(self) -> None:
            pass

        def execute(self) -> int:
            return self.inputs.n

    class Child(Parent):
        pass

    assert Child.run(n=1).unwrap() == 1
    with mock.patch.object(Parent, "validate", lambda self: self.add_input_error("n", "nope")):
        assert Child.run(n=1).error_keys == ["data.n.nope"]
    assert Child.run(n=1).unwrap() == 1

    async def async_validate(self: Any) -> None:
        pass

    with pytest.raises(TypeError, match="would be async"):
        Parent.validate = async_validate  # type: ignore[assignment, method-assign]
    assert not inspect.iscoroutinefunction(Parent.validate)  # refused: not set
    assert Parent.run(n=1).unwrap() == 1


def test_a_sync_command_refuses_a_hook_that_turns_out_async() -> None:
    class Check(Command[Item, int]):
        def validate(self) -> Any:
            return asyncio.sleep(0)  # a coroutine: an async hook in disguise

        def execute(self) -> int:
            return self.inputs.n

    with pytest.raises(FrameworkUsageError, match="is async"):
        Check.run(n=1)


def test_a_command_may_mix_in_an_abstract_base_class() -> None:
    import abc

    class Audited(abc.ABC):
        @abc.abstractmethod
        def audit(self) -> str: ...

    class Add(Command[Item, str], Audited):
        def audit(self) -> str:
            return "audited"

        def execute(self) -> str:
            return f"{self.audit()} {self.inputs.n}"

    assert Add.run(n=1).unwrap() == "audited 1"


async def test_a_run_ends_only_when_the_subcommands_it_started_have() -> None:
    db = AsyncTracked("db")
    log: list[str] = []

    class Sub(AsyncCommand[Item, int]):
        transaction_resources = (db,)

        async def execute(self) -> int:
            await asyncio.sleep(0.01)
            log.append(f"sub {self.inputs.n}")
            if self.inputs.n == 2:
                self.add_runtime_error("broken")
            return self.inputs.n

    class FireAndForget(AsyncCommand[Item, int]):
        depends_on = (Sub,)

        async def execute(self) -> int:
            self.task = asyncio.create_task(self.run_subcommand(Sub, n=self.inputs.n))
            await asyncio.sleep(0)  # the subcommand has started: it is part of the run from now on
            return 0

    assert (await FireAndForget.run(n=1)).unwrap() == 0
    assert log == ["sub 1"] and db.ends() == [["commit"]]
    outcome = await FireAndForget.run(n=2)
    assert outcome.error_keys == ["sub>runtime.broken"]
    assert db.ends()[1] == ["rollback"]

    class Quick(AsyncCommand[Item, int]):
        async def execute(self) -> int:
            return self.inputs.n

    class RunsLate(AsyncCommand[Item, int]):
        depends_on = (Quick,)

        async def execute(self) -> int:
            self.late = asyncio.create_task(self.run_subcommand(Quick, n=self.inputs.n))  # not started yet
            return 0

    ran: list[Any] = []
    RunsLate.after("succeed")(lambda command, transition: ran.append(command))
    assert (await RunsLate.run(n=3)).unwrap() == 0
    with pytest.raises(FrameworkUsageError, match="after its run had ended"):
        await ran[0].late


async def test_a_failing_subcommand_left_in_its_own_task_leaves_nothing_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    class Fails(AsyncCommand[None, int]):
        async def execute(self) -> int:
            self.add_runtime_error("broken")
            return 0

    class Leaves(AsyncCommand[None, int]):
        depends_on = (Fails,)

        async def execute(self) -> int:
            self.left = asyncio.create_task(self.run_subcommand(Fails))  # left to run: not awaited
            await asyncio.sleep(0)
            return 0

    assert (await Leaves.run()).error_keys == ["fails>runtime.broken"]
    await asyncio.sleep(0)
    gc.collect()
    assert "never retrieved" not in caplog.text


@pytest.mark.parametrize("transition", ["execute", "cast_inputs"])
def test_an_around_callback_must_let_a_step_happen(transition: str) -> None:
    class Skipped(Command[Item, int]):
        def execute(self) -> int:
            return self.inputs.n

    Skipped.around(transition)(lambda command, transition, proceed: None)
    with pytest.raises(FrameworkUsageError, match="without calling proceed"):
        Skipped.run(n=1)


async def test_a_cancelled_run_stops_the_subcommands_it_waits_for_and_rolls_back() -> None:
    db = AsyncTracked("db")
    finished: list[int] = []
    cancelled: list[int] = []

    class Sub(AsyncCommand[Item, int]):
        async def execute(self) -> int:
            if self.inputs.n == 1:
                self.add_runtime_error("broken")
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                cancelled.append(self.inputs.n)
                raise
            finished.append(self.inputs.n)
            return self.inputs.n

    class Gathers(AsyncCommand[None, int]):
        depends_on = (Sub,)
        transaction_resources = (db,)

        async def execute(self) -> int:
            return sum(await asyncio.gather(self.run_subcommand(Sub, n=1), self.run_subcommand(Sub, n=2)))

    class Starts(AsyncCommand[None, int]):
        depends_on = (Sub,)
        transaction_resources = (db,)

        async def execute(self) -> int:
            self.started = asyncio.create_task(self.run_subcommand(Sub, n=3))
            await asyncio.sleep(0)
            return 0

    for command in (Gathers, Starts):  # halted, then cancelled while waiting; waiting after execute
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(command.run(), timeout=0.05)
        assert loop.time() - began < 0.7  # the timeout was not stretched to the subcommand's end
    assert (finished, sorted(cancelled)) == ([], [2, 3])  # cancelled, not waited for
    assert db.ends() == [["rollback"], ["rollback"]]


def test_a_failed_rollback_comes_after_what_failed_the_run_and_each_is_told() -> None:
    first, second = Tracked("first"), Tracked("second")
    first.fail_rollback = second.fail_rollback = True

    class Fails(Command[None, int]):
        transaction_resources = (first, second)

        def execute(self) -> int:
            raise ValueError("the real problem")

    outcome = Fails.run()
    assert outcome.error_keys == ["runtime.execution_error", "runtime.rollback_failed"]
    assert outcome.errors[1].message == "Rolling back failed: second lost the rollback; first lost the rollback"
    assert outcome.errors[1].context == {"exception_classes": ["OSError", "OSError"]}


def test_an_error_added_in_init_before_super_is_kept() -> None:
    class Early(Command[None, int]):
        def __init__(self, /, **raw_inputs: Any) -> None:
            self.add_runtime_error("too_early", halt=False)
            super().__init__(**raw_inputs)

        def execute(self) -> int:
            return 1

    assert Early.run().error_keys == ["runtime.too_early"]


def test_an_outcome_shows_a_result_too_long_to_write() -> None:
    class Huge(Command[None, int]):
        def execute(self) -> int:
            return 10**5000

    assert repr(Huge.run()) == "<Outcome success <int>>"


def test_an_extended_plan_adds_steps_to_the_runs_that_ask_for_it_only() -> None:
    from foobara_py.lifecycle import Step, extended_plan, run_planned_async, run_planned_sync

    class Double(BaseModel):
        value: int

    class Twice(Command[Double, int]):
        def execute(self) -> int:
            return self.inputs.value * 2

    class ATwice(AsyncCommand[Double, int]):
        async def execute(self) -> int:
            return self.inputs.value * 2

    seen: list[tuple[str, Any]] = []

    def note(command: Any) -> None:
        seen.append((type(command).__name__, command.state))

    steps = ((Step(Transition.LOAD_RECORDS, "note", note, lambda cls: True), None),)
    plan = extended_plan(Twice, steps)
    assert extended_plan(Twice, steps) is plan  # made once per class plan
    assert run_planned_sync(Twice, plan, {"value": 2}).unwrap() == 4
    assert asyncio.run(run_planned_async(ATwice, extended_plan(ATwice, steps), {"value": 3})).unwrap() == 6
    assert seen == [("Twice", State.INPUTS_CASTED_AND_VALIDATED), ("ATwice", State.INPUTS_CASTED_AND_VALIDATED)]
    assert Twice.run(value=1).unwrap() == 2  # the class's own runs: no step
    assert len(seen) == 2
    Twice.before("execute")(lambda command, transition: seen.append(("callback", None)))
    replanned = extended_plan(Twice, steps)  # the class's plan changed: so does the extended one
    assert replanned is not plan
    assert run_planned_sync(Twice, replanned, {"value": 2}).unwrap() == 4
    assert seen[2:] == [("Twice", State.INPUTS_CASTED_AND_VALIDATED), ("callback", None)]
