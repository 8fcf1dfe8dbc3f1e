"""Class-level callbacks: before, after and around each transition or any transition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from foobara_py import AsyncCommand, Command


class Inputs(BaseModel):
    n: int


def make_command() -> type[Command[Inputs, int]]:
    class Double(Command[Inputs, int]):
        def validate(self) -> None:
            if self.inputs.n < 0:
                self.add_input_error("n", "negative")

        def execute(self) -> int:
            if self.inputs.n == 13:
                raise RuntimeError("unlucky")
            return self.inputs.n * 2

    return Double


def test_before_and_after_a_transition() -> None:
    Double = make_command()
    seen: list[tuple[str, str, str]] = []

    @Double.before("execute")
    def before(command: Command[Any, Any], transition: str) -> None:
        seen.append(("before", transition, command.state))

    @Double.after("run_execute")
    def after(command: Command[Any, Any], transition: str) -> None:
        seen.append(("after", transition, command.state))

    assert Double.run(n=2).unwrap() == 4
    assert seen == [
        ("before", "run_execute", "validated_execution"),
        ("after", "run_execute", "executing"),
    ]


def test_around_wraps_the_transition() -> None:
    Double = make_command()
    seen: list[Any] = []

    @Double.around("execute")
    def timed(command: Command[Any, Any], transition: str, proceed: Callable[[], Any]) -> Any:
        seen.append("start")
        value = proceed()
        seen.append(("end", command.result))
        return value

    assert Double.run(n=5).unwrap() == 10
    assert seen == ["start", ("end", 10)]


def test_any_transition_callbacks_see_every_transition_in_order() -> None:
    Double = make_command()
    seen: list[str] = []

    @Double.before()
    def log(command: Command[Any, Any], transition: str) -> None:
        seen.append(transition)

    Double.run(n=1)
    assert seen == [
        "open_transaction",
        "cast_and_validate_inputs",
        "load_records",
        "validate_records",
        "validate",
        "run_execute",
        "commit_transaction",
        "succeed",
    ]
    seen.clear()
    Double.run(n=-1)
    assert seen == [
        "open_transaction",
        "cast_and_validate_inputs",
        "load_records",
        "validate_records",
        "validate",
        "fail",
    ]


def test_error_callbacks_see_the_exception() -> None:
    Double = make_command()
    seen: list[Any] = []

    @Double.after("error")
    def report(command: Command[Any, Any], transition: str) -> None:
        seen.append((command.state, repr(command.exception)))

    assert Double.run(n=13).error_keys == ["runtime.execution_error"]
    assert seen == [("errored", "RuntimeError('unlucky')")]


def test_inherited_callbacks_run_once_parents_first() -> None:
    Parent = make_command()
    seen: list[str] = []

    class Child(Parent):  # type: ignore[valid-type, misc]
        pass

    @Parent.before("execute")
    def parent_callback(command: Command[Any, Any], transition: str) -> None:
        seen.append("parent")

    @Child.before("execute")
    def child_callback(command: Command[Any, Any], transition: str) -> None:
        seen.append("child")

    Child.run(n=1)
    assert seen == ["parent", "child"]
    seen.clear()
    Parent.run(n=1)
    assert seen == ["parent"]


def test_callbacks_that_add_errors_fail_the_run() -> None:
    Double = make_command()

    @Double.before("execute")
    def guard(command: Command[Any, Any], transition: str) -> None:
        command.add_runtime_error("closed", "We are closed")

    assert Double.run(n=1).error_keys == ["runtime.closed"]


def test_unknown_transitions_and_async_callbacks_on_sync_commands_are_refused() -> None:
    Double = make_command()
    with pytest.raises(ValueError, match="Unknown transition 'exectue'"):
        Double.before("exectue")
    with pytest.raises(TypeError, match="async"):

        @Double.before("execute")
        async def nope(command: Any, transition: str) -> None: ...


async def test_async_callbacks_are_awaited() -> None:
    seen: list[str] = []

    class Fetch(AsyncCommand[Inputs, int]):
        async def execute(self) -> int:
            seen.append("execute")
            return self.inputs.n

    @Fetch.before("execute")
    async def before(command: Any, transition: str) -> None:
        seen.append("before")

    @Fetch.around("execute")
    async def around(command: Any, transition: str, proceed: Callable[[], Any]) -> Any:
        seen.append("around in")
        value = await proceed()
        seen.append("around out")
        return value

    @Fetch.after("execute")
    def after(command: Any, transition: str) -> None:
        seen.append("after")

    assert (await Fetch.run(n=4)).unwrap() == 4
    assert seen == ["before", "around in", "execute", "around out", "after"]
