"""The lifecycle every command goes through: hooks, states, halting, errors, results."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from foobara_py import (
    AsyncCommand,
    Command,
    CommandFailedError,
    CouldNotProcessResultError,
    FoobaraError,
    InvalidErrorContextError,
    PossibleError,
)


class Numbers(BaseModel):
    a: int
    b: int = 0


def test_run_returns_the_result_and_keeps_raw_inputs() -> None:
    seen: dict[str, Any] = {}

    class Add(Command[Numbers, int]):
        def execute(self) -> int:
            seen["raw"] = self.raw_inputs
            seen["inputs"] = self.inputs
            return self.inputs.a + self.inputs.b

    outcome = Add.run(a="3", b=4)
    assert outcome.is_success() and outcome.result == 7 and outcome.unwrap() == 7
    assert seen["raw"] == {"a": "3", "b": 4}
    assert seen["inputs"] == Numbers(a=3, b=4)


def test_hooks_run_once_each_in_lifecycle_order() -> None:
    calls: list[str] = []

    class Traced(Command[Numbers, int]):
        def load_records(self) -> None:
            calls.append(f"load_records:{self.state}")

        def validate_records(self) -> None:
            calls.append(f"validate_records:{self.state}")

        def validate(self) -> None:
            calls.append(f"validate:{self.state}")

        def before_execute(self) -> None:
            calls.append(f"before_execute:{self.state}")

        def execute(self) -> int:
            calls.append("execute")
            return self.inputs.a

        def after_execute(self, result: int) -> int:
            calls.append(f"after_execute:{result}")
            return result * 10

    assert Traced.run(a=2).unwrap() == 20
    assert calls == [
        "load_records:inputs_casted_and_validated",
        "validate_records:loaded_records",
        "validate:validated_records",
        "before_execute:validated_execution",
        "execute",
        "after_execute:2",
    ]


async def test_async_hooks_run_once_each_in_lifecycle_order() -> None:
    calls: list[str] = []

    class Traced(AsyncCommand[Numbers, int]):
        async def load_records(self) -> None:
            calls.append("load_records")

        async def validate_records(self) -> None:
            calls.append("validate_records")

        async def validate(self) -> None:
            calls.append("validate")

        async def before_execute(self) -> None:
            calls.append("before_execute")

        async def execute(self) -> int:
            calls.append("execute")
            return self.inputs.a

        async def after_execute(self, result: int) -> int:
            calls.append("after_execute")
            return result + 1

    assert (await Traced.run(a=2)).unwrap() == 3
    assert calls == ["load_records", "validate_records", "validate", "before_execute", "execute", "after_execute"]


def test_the_command_ends_in_the_state_its_run_reached() -> None:
    instances: list[Command[Any, Any]] = []

    class Watch(Command[Numbers, int]):
        def execute(self) -> int:
            instances.append(self)
            if self.inputs.a == 1:
                self.add_runtime_error("one")
            if self.inputs.a == 2:
                raise ValueError("two")
            return 0

    Watch.run(a=0)
    Watch.run(a=1)
    Watch.run(a=2)
    assert [command.state for command in instances] == ["succeeded", "failed", "errored"]
    assert isinstance(instances[2].exception, ValueError)
    assert instances[0].outcome is not None and instances[0].outcome.result == 0


def test_halt_without_errors_is_a_failure() -> None:
    class Quitter(Command[None, int]):
        def execute(self) -> int:
            self.halt()

    outcome = Quitter.run()
    assert outcome.is_failure()
    assert outcome.error_keys == ["runtime.halted"]


def test_input_errors_collect_until_the_end_of_the_step() -> None:
    executed: list[bool] = []

    class Check(Command[Numbers, int]):
        def validate(self) -> None:
            if self.inputs.a < 0:
                self.add_input_error("a", "negative", "a must not be negative", context={"a": self.inputs.a})
            if self.inputs.b < 0:
                self.add_input_error(("b",), "negative")

        def execute(self) -> int:
            executed.append(True)
            return 0

    outcome = Check.run(a=-1, b=-2)
    assert outcome.error_keys == ["data.a.negative", "data.b.negative"]
    assert outcome.errors[0].to_dict() == {
        "key": "data.a.negative",
        "path": ["a"],
        "runtime_path": [],
        "category": "data",
        "symbol": "negative",
        "message": "a must not be negative",
        "context": {"a": -1},
        "is_fatal": False,
    }
    assert outcome.errors[1].message == "Negative"
    assert executed == []


def test_runtime_errors_halt_at_once_unless_told_not_to() -> None:
    reached: list[str] = []

    class Steps(Command[Numbers, int]):
        def execute(self) -> int:
            self.add_runtime_error("first", "First problem", halt=False)
            reached.append("after first")
            self.add_runtime_error("second", context={"n": 2})
            reached.append("after second")
            return 0

    outcome = Steps.run(a=1)
    assert reached == ["after first"]
    assert outcome.error_keys == ["runtime.first", "runtime.second"]
    assert outcome.errors[1].message == "Second"
    assert outcome.errors[1].context == {"n": 2}
    assert outcome.errors_sentence == "First problem, and Second"


def test_errors_with_the_same_key_are_one_error() -> None:
    class Twice(Command[None, None]):
        def execute(self) -> None:
            self.add_input_error("x", "bad", "first")
            self.add_input_error("x", "bad", "second")

    outcome = Twice.run()
    assert [e.message for e in outcome.errors] == ["first"]


def test_an_exception_becomes_an_execution_error_with_its_cause() -> None:
    class Boom(Command[None, int]):
        def execute(self) -> int:
            raise LookupError("no such thing")

    outcome = Boom.run()
    error = outcome.errors[0]
    assert error.key == "runtime.execution_error"
    assert error.message == "no such thing"
    assert error.context == {"exception_class": "LookupError"}
    assert isinstance(error.cause, LookupError) and error.cause.__traceback__ is not None
    assert "cause" not in error.to_dict()
    with pytest.raises(CommandFailedError) as raised:
        outcome.unwrap()
    assert raised.value.__cause__ is error.cause


def test_errors_from_other_outcomes_can_be_added() -> None:
    class Source(Command[None, None]):
        def execute(self) -> None:
            self.add_runtime_error("upstream_down", "Upstream is down")

    class Relay(Command[None, None]):
        def execute(self) -> None:
            self.add_error(Source.run().errors[0])

    assert Relay.run().error_keys == ["runtime.upstream_down"]
    with pytest.raises(TypeError):
        Relay.add_error(Relay(), "not an error")  # type: ignore[arg-type]


def test_the_result_is_cast_to_the_result_type() -> None:
    class Five(Command[None, int]):
        def execute(self) -> Any:
            return "5"

    assert Five.run().unwrap() == 5


def test_a_result_that_does_not_fit_raises() -> None:
    class Wrong(Command[None, int]):
        def execute(self) -> Any:
            return "five"

    with pytest.raises(CouldNotProcessResultError, match='Cannot cast "five" to an integer'):
        Wrong.run()


async def test_an_async_result_that_does_not_fit_raises() -> None:
    class Wrong(AsyncCommand[None, list[int]]):
        async def execute(self) -> Any:
            return [1, "x"]

    with pytest.raises(CouldNotProcessResultError, match=r"At 1: Cannot cast"):
        await Wrong.run()


def test_a_model_result_may_be_returned_as_a_dict() -> None:
    class Point(BaseModel):
        x: int
        y: int

    class Origin(Command[None, Point]):
        def execute(self) -> Any:
            return {"x": 0, "y": "0"}

    assert Origin.run().unwrap() == Point(x=0, y=0)


def test_a_command_without_inputs_refuses_any() -> None:
    class Now(Command[None, int]):
        def execute(self) -> int:
            return 42

    assert Now.run().unwrap() == 42
    error = Now.run(x=1).errors[0]
    assert error.key == "data.unexpected_attributes"
    assert error.context == {"unexpected_attributes": ["x"], "allowed_attributes": []}


def test_a_model_that_allows_extra_inputs_keeps_them() -> None:
    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        a: int

    class Echo(Command[Open, dict[str, Any]]):
        def execute(self) -> dict[str, Any]:
            return self.inputs.model_dump()

    assert Echo.run(a=1, b=2).unwrap() == {"a": 1, "b": 2}


def test_declared_errors_give_default_messages_and_checked_contexts() -> None:
    class Divide(Command[Numbers, int]):
        possible_errors = [
            PossibleError("division_by_zero", message="Cannot divide by zero", context={"dividend": int}),
            "data.b.too_small",
        ]

        def execute(self) -> int:
            if self.inputs.b == 0:
                self.add_runtime_error("division_by_zero", context={"dividend": self.inputs.a})
            return self.inputs.a // self.inputs.b

    error = Divide.run(a=1).errors[0]
    assert (error.key, error.message, error.context) == (
        "runtime.division_by_zero",
        "Cannot divide by zero",
        {"dividend": 1},
    )
    assert set(Divide.declared_errors()) == {"runtime.division_by_zero", "data.b.too_small"}
    assert Divide.declared_errors()["data.b.too_small"].path == ("b",)

    class Sloppy(Divide):
        def execute(self) -> int:
            self.add_runtime_error("division_by_zero", context={"dividend": "lots"})
            return 0

    with pytest.raises(InvalidErrorContextError, match=r"runtime\.division_by_zero"):
        Sloppy.run(a=1)
    assert set(Sloppy.declared_errors()) == {"runtime.division_by_zero", "data.b.too_small"}


def test_a_malformed_error_declaration_fails_when_the_class_is_made() -> None:
    with pytest.raises(ValueError, match="possible_errors"):

        class Bad(Command[None, None]):
            possible_errors = ["not a symbol!"]

            def execute(self) -> None:
                return None


def test_a_sync_command_with_an_async_hook_is_refused() -> None:
    with pytest.raises(TypeError, match="AsyncCommand"):

        class Confused(Command[None, None]):
            async def execute(self) -> None:  # type: ignore[override]
                return None


def test_async_commands_may_use_plain_hooks() -> None:
    class Plain(AsyncCommand[Numbers, int]):
        def execute(self) -> int:  # type: ignore[override]
            return self.inputs.a

    import asyncio

    assert asyncio.run(Plain.run(a=3)).unwrap() == 3


def test_foobara_error_has_the_documented_attributes() -> None:
    error = FoobaraError("x", "X", "data", ("items", 1), ("a::b",), {"k": 1}, True)
    assert (error.symbol, error.message, error.category, error.path) == ("x", "X", "data", ("items", 1))
    assert error.runtime_path == ("a::b",) and error.context == {"k": 1} and error.is_fatal
    assert error.key == "a::b>data.items.1.x"
    assert FoobaraError.from_dict(error.to_dict()) == error
