"""Outcome and FoobaraError as the SPEC describes them."""

from __future__ import annotations

from typing import Generic, TypeVar

import pytest
from pydantic import BaseModel

from foobara_py import Command, CommandFailedError, FoobaraError, Outcome, PossibleError
from foobara_py.errors import error_key, parse_key, to_sentence


def test_key_grammar() -> None:
    assert error_key("data", "cannot_cast", ("a",)) == "data.a.cannot_cast"
    assert error_key("data", "cannot_cast", ("items", 1)) == "data.items.1.cannot_cast"
    assert error_key("runtime", "user_not_found") == "runtime.user_not_found"
    assert error_key("runtime", "user_not_found", (), ("fetch_user",)) == "fetch_user>runtime.user_not_found"
    assert error_key("runtime", "x", (), ("a::b", "c")) == "a::b>c>runtime.x"


def test_parse_key() -> None:
    assert parse_key("division_by_zero") == ("runtime", (), "division_by_zero")
    assert parse_key("data.customer.blocked_customer") == ("data", ("customer",), "blocked_customer")
    assert parse_key("data.items.#.sku.missing") == ("data", ("items", "#", "sku"), "missing")
    assert PossibleError("runtime.out_of_stock").key == "runtime.out_of_stock"
    for bad in ("", "data.", "oops.x", "runtime.a.b", "has space"):
        with pytest.raises(ValueError, match=r"key|symbol|runtime error"):
            parse_key(bad)


def test_sentences_and_messages() -> None:
    assert to_sentence([]) == ""
    assert to_sentence(["a"]) == "a"
    assert to_sentence(["a", "b"]) == "a, and b"
    assert to_sentence(["a", "b", "c"]) == "a, b, and c"


def test_outcome_accessors() -> None:
    errors = [
        FoobaraError("a_problem", "A problem", "runtime"),
        FoobaraError("missing_required_attribute", "Missing", "data", ("x",), is_fatal=True),
    ]
    failure: Outcome[int] = Outcome.failure(errors)
    assert failure.is_failure() and not failure.is_success()
    assert failure.error_keys == ["runtime.a_problem", "data.x.missing_required_attribute"]
    assert failure.errors_hash["data.x.missing_required_attribute"]["is_fatal"] is True
    assert failure.errors_sentence == "A problem, and Missing"
    assert failure.to_dict() == {"success": False, "errors": [e.to_dict() for e in errors]}
    with pytest.raises(CommandFailedError) as raised:
        failure.unwrap()
    assert raised.value.errors == errors and str(raised.value) == "A problem, and Missing"

    success = Outcome.success(5)
    assert success.unwrap() == 5 and success.errors == [] and success.errors_hash == {}
    assert success.to_dict() == {"success": True, "result": 5}
    with pytest.raises(ValueError, match="at least one error"):
        Outcome.failure([])


InT = TypeVar("InT", bound=BaseModel)


class Named(BaseModel):
    name: str


def test_generic_command_bases_are_resolved_in_subclasses() -> None:
    class Greeter(Command[InT, str], Generic[InT]):
        def execute(self) -> str:
            return f"hello {self.inputs.name}"  # type: ignore[attr-defined]

    class Hello(Greeter[Named]):
        pass

    assert Hello.run(name="ada").unwrap() == "hello ada"
    assert Hello.inputs_type() is Named
    with pytest.raises(Exception, match="does not say its inputs"):
        Greeter.run(name="x")


def test_errors_copy_with_their_cause_and_pickle_without_it() -> None:
    import copy
    import pickle
    import threading

    class Unpicklable(Exception):
        def __init__(self) -> None:
            super().__init__("held a lock")
            self.lock = threading.Lock()

    error = FoobaraError("broken", "Broken", context={"items": [1, 2]}, cause=Unpicklable())
    assert copy.copy(error).cause is error.cause
    deep = copy.deepcopy(error)
    assert deep == error and deep.cause is error.cause and deep.context is not error.context
    restored = pickle.loads(pickle.dumps(error))
    assert restored == error and restored.key == "runtime.broken" and restored.cause is None
