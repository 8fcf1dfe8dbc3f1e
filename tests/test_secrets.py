"""Secrets (SecretStr, Annotated[..., Sensitive]) never appear in errors, messages, reprs or
serialized outcomes, wherever they sit: in a model, a union, a list, a dict or the result."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, SecretStr, model_validator

from foobara_py import Command, Outcome, Sensitive

SECRET = "hunter2-secret"


def everything_shown(outcome: Outcome[Any]) -> str:
    """All a user, a log or a client can see of an outcome."""
    return "\n".join(
        [
            repr(outcome),
            json.dumps(outcome.to_dict()),
            outcome.errors_sentence,
            repr(outcome.errors),
            *(str(error) for error in outcome.errors),
        ]
    )


def command_for(inputs: type[BaseModel], result: Any = Any) -> type[Command[Any, Any]]:
    class Echo(Command[inputs, result]):  # type: ignore[valid-type]
        def execute(self) -> Any:
            return self.inputs

    return Echo


class Login(BaseModel):
    user: str
    password: SecretStr
    pin: Annotated[str, Sensitive]

    @model_validator(mode="after")
    def never_valid(self) -> Login:
        raise ValueError("bad login")


def test_a_model_validator_failure_quotes_the_inputs_without_their_secrets() -> None:
    outcome = command_for(Login).run(user="ada", password=SECRET, pin=SECRET)
    assert outcome.error_keys == ["data.invalid"]
    assert outcome.errors[0].context == {"value": {"user": "ada", "password": "[FILTERED]", "pin": "[FILTERED]"}}
    assert SECRET not in everything_shown(outcome)


class Token(BaseModel):
    token: SecretStr

    @model_validator(mode="before")
    @classmethod
    def never_valid(cls, value: Any) -> Any:
        raise ValueError("no tokens today")


class Session(BaseModel):
    token: Token


def test_a_nested_model_validator_failure_hides_the_nested_secret() -> None:
    outcome = command_for(Session).run(token={"token": SECRET})
    assert outcome.error_keys == ["data.token.invalid"]
    assert outcome.errors[0].context == {"value": {"token": "[FILTERED]"}}
    assert SECRET not in everything_shown(outcome)


class Creds(BaseModel):
    user: str
    password: Annotated[str, Sensitive]


class Auth(BaseModel):
    auth: Creds | int


def test_a_union_with_a_model_holding_a_secret_hides_it() -> None:
    outcome = command_for(Auth).run(auth={"user": "ada", "password": SECRET, "extra": 1})
    assert outcome.error_keys == ["data.auth.cannot_cast"]
    assert outcome.errors[0].context["value"] == {"user": "ada", "password": "[FILTERED]", "extra": 1}
    assert SECRET not in everything_shown(outcome)


class Key(BaseModel):
    key: Annotated[str, Sensitive] | int


def test_a_union_with_a_secret_member_hides_the_value() -> None:
    Use = command_for(Key)
    outcome = Use.run(key=[SECRET])
    assert outcome.error_keys == ["data.key.cannot_cast"]
    assert outcome.errors[0].context["value"] == "[FILTERED]"
    assert SECRET not in everything_shown(outcome)

    ok = Use.run(key=SECRET)
    assert ok.unwrap().key == SECRET
    assert SECRET not in repr(ok.unwrap()) + everything_shown(ok)


class Keyring(BaseModel):
    keys: list[Annotated[str, Sensitive]]
    by_name: dict[str, Annotated[str, Sensitive]]
    owner: str


def test_secrets_inside_lists_and_dicts_are_filtered() -> None:
    outcome = command_for(Keyring).run(keys=[SECRET], by_name={"main": SECRET}, owner="ada")
    assert outcome.unwrap().keys == [SECRET]
    assert outcome.to_dict() == {
        "success": True,
        "result": {"keys": ["[FILTERED]"], "by_name": {"main": "[FILTERED]"}, "owner": "ada"},
    }
    assert SECRET not in everything_shown(outcome)

    failed = command_for(Keyring).run(keys=[SECRET, [1]], by_name={"main": [SECRET]}, owner="ada")
    assert failed.error_keys == ["data.keys.1.cannot_cast", "data.by_name.main.cannot_cast"]
    assert SECRET not in everything_shown(failed)


class Empty(BaseModel):
    pass


def test_a_secret_result_is_filtered() -> None:
    class Reveal(Command[Empty, Annotated[str, Sensitive]]):
        def execute(self) -> str:
            return SECRET

    outcome = Reveal.run()
    assert outcome.result == SECRET  # the caller's own value
    assert outcome.to_dict() == {"success": True, "result": "[FILTERED]"}
    assert SECRET not in everything_shown(outcome)


def test_a_result_listing_secrets_filters_each() -> None:
    class RevealAll(Command[Empty, list[Annotated[str, Sensitive]]]):
        def execute(self) -> list[str]:
            return [SECRET, SECRET]

    outcome = RevealAll.run()
    assert outcome.to_dict() == {"success": True, "result": ["[FILTERED]", "[FILTERED]"]}
    assert SECRET not in everything_shown(outcome)


class Vault(BaseModel):
    user: str
    password: SecretStr
    pin: Annotated[str, Sensitive]
    nested: dict[str, Annotated[str, Sensitive]] = {}


def test_an_exception_quoting_a_secret_input_is_an_execution_error_without_it() -> None:
    """Code that puts an input in an exception's message (a driver quoting a failed query): the
    runtime.execution_error a caller gets says it, every secret of the inputs filtered."""

    class Quoting(Command[Vault, int]):
        def execute(self) -> int:
            secret = self.inputs.password.get_secret_value()
            raise RuntimeError(f"login {self.inputs.user}/{secret}/{self.inputs.pin}/{self.inputs.nested} refused")

    outcome = Quoting.run(user="ada", password=SECRET, pin="pin-4711", nested={"key": "key-0815"})
    assert outcome.error_keys == ["runtime.execution_error"]
    message = "login ada/[FILTERED]/[FILTERED]/{'key': '[FILTERED]'} refused"
    assert outcome.errors[0].message == message
    assert outcome.errors[0].context == {"exception_class": "RuntimeError"}
    shown = everything_shown(outcome)
    assert all(secret not in shown for secret in (SECRET, "pin-4711", "key-0815"))


class Safe(BaseModel):
    owner: str
    combination: Annotated[int, Sensitive]


def test_an_exception_quoting_a_secret_number_is_an_execution_error_without_it() -> None:
    """A sensitive number, sent as a number or as text that casts to another text ("0042" is
    42), is filtered where it stands alone: other numbers are left as they are."""

    class Cracked(Command[Safe, int]):
        def execute(self) -> int:
            raise RuntimeError(f"{self.inputs.owner}'s safe opened with {self.inputs.combination}, at 17:{7}0")

    for sent in (7, "07"):
        outcome = Cracked.run(owner="ada", combination=sent)
        assert outcome.errors[0].message == "ada's safe opened with [FILTERED], at 17:70"
    big = Cracked.run(owner="ada", combination=123456789)
    assert big.errors[0].message == "ada's safe opened with [FILTERED], at 17:70"
