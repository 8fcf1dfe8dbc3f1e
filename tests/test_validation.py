"""Input errors in Foobara's symbols, paths, contexts and precedence, never pydantic's."""

from __future__ import annotations

import enum
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_core import PydanticCustomError

from foobara_py import Command, Email, Sensitive


def command_for(inputs: type[BaseModel]) -> type[Command[Any, Any]]:
    class Echo(Command[inputs, Any]):  # type: ignore[valid-type]
        def execute(self) -> Any:
            return self.inputs

    return Echo


class Item(BaseModel):
    sku: str
    quantity: int = Field(1, ge=1, le=10)


class Address(BaseModel):
    street: str
    city: str


class Order(BaseModel):
    customer: str
    items: list[Item]
    address: Address
    note: str = Field("", max_length=5)
    code: str = Field("A1", pattern=r"^[A-Z]\d$")
    priority: Literal["low", "high"] = "low"
    point: tuple[int, int] = (0, 0)


Place = command_for(Order)
GOOD: dict[str, Any] = {
    "customer": "ada",
    "items": [{"sku": "a"}],
    "address": {"street": "1 Main", "city": "X"},
}


def keys(**inputs: Any) -> list[str]:
    return Place.run(**inputs).error_keys


def test_missing_attributes_come_first_alone_and_alphabetically() -> None:
    outcome = Place.run(items="not a list")
    assert outcome.error_keys == [
        "data.address.missing_required_attribute",
        "data.customer.missing_required_attribute",
    ]
    assert outcome.errors[0].context == {"attribute_name": "address"}


def test_unexpected_attributes_come_next_alone() -> None:
    outcome = Place.run(**GOOD, extra=1, other=2, note=123456)
    assert outcome.error_keys == ["data.unexpected_attributes"]
    assert outcome.errors[0].context == {
        "unexpected_attributes": ["extra", "other"],
        "allowed_attributes": ["customer", "items", "address", "note", "code", "priority", "point"],
    }


def test_siblings_at_the_level_above_go_on_in_order() -> None:
    outcome = Place.run(
        customer="ada",
        items=[{"sku": "a", "quantity": "x"}, {"quantity": 2}, {"sku": "c", "color": "red"}],
        address={"street": "1 Main", "city": "X", "zip": 1},
        note="far too long",
    )
    # Ruby's order: one element's errors before the next element's; missing attributes come
    # first and alone at their own level only.
    assert outcome.error_keys == [
        "data.items.0.quantity.cannot_cast",
        "data.items.1.sku.missing_required_attribute",
        "data.items.2.unexpected_attributes",
        "data.address.unexpected_attributes",
        "data.note.max_length_exceeded",
    ]
    by_key = outcome.errors_hash
    assert by_key["data.items.0.quantity.cannot_cast"]["path"] == ["items", 0, "quantity"]
    assert by_key["data.items.0.quantity.cannot_cast"]["context"] == {
        "cast_to": {"type": "integer", "min": 1, "max": 10},
        "value": "x",
    }
    assert by_key["data.note.max_length_exceeded"]["context"] == {"value": "far too long", "max_length": 5}
    assert by_key["data.note.max_length_exceeded"]["is_fatal"] is False


def test_index_paths_in_keys() -> None:
    Numbers = command_for(type("Numbers", (BaseModel,), {"__annotations__": {"values": list[int]}}))
    outcome = Numbers.run(values=[1, "two", 3, None])
    assert outcome.error_keys == ["data.values.1.cannot_cast", "data.values.3.cannot_cast"]
    assert (
        outcome.errors[0].message == 'At values.1: Cannot cast "two" to an integer. '
        "Expected it to be a Integer, or be a string of digits optionally with a minus sign in front"
    )


@pytest.mark.parametrize(
    ("inputs", "key", "context", "message"),
    [
        (
            {"items": [{"sku": "a", "quantity": 11}]},
            "data.items.0.quantity.max_exceeded",
            {"value": 11, "max": 10},
            "Max exceeded. 11 is larger than 10",
        ),
        (
            {"items": [{"sku": "a", "quantity": 0}]},
            "data.items.0.quantity.below_minimum",
            {"value": 0, "min": 1},
            "Below minimum allowed. 0 is less than 1",
        ),
        (
            {"code": "a1"},
            "data.code.does_not_match",
            {"value": "a1", "regex": r"^[A-Z]\d$"},
            r'"a1" did not match /^[A-Z]\d$/',
        ),
        (
            {"priority": "urgent"},
            "data.priority.value_not_valid",
            {"value": "urgent", "valid_values": ["low", "high"]},
            'urgent is not one of ["low", "high"]',
        ),
        (
            {"point": [1, 2, 3]},
            "data.point.incorrect_tuple_size",
            {"expected_size": 2, "actual_size": 3, "value": [1, 2, 3]},
            "Invalid tuple size. [1, 2, 3] should have had 2 elements but had 3.",
        ),
    ],
)
def test_validators_use_foobara_symbols(
    inputs: dict[str, Any], key: str, context: dict[str, Any], message: str
) -> None:
    outcome = Place.run(**(GOOD | inputs))
    assert outcome.error_keys == [key]
    error = outcome.errors[0]
    assert (error.context, error.message, error.is_fatal) == (context, message, False)


def test_constraints_without_a_ruby_twin_get_documented_symbols() -> None:
    class Limits(BaseModel):
        positive: int = Field(1, gt=0)
        small: int = Field(0, lt=10)
        even: int = Field(0, multiple_of=2)
        name: str = Field("abc", min_length=2)

    Check = command_for(Limits)
    outcome = Check.run(positive=0, small=10, even=3, name="a")
    assert outcome.error_keys == [
        "data.positive.not_greater_than",
        "data.small.not_less_than",
        "data.even.not_multiple_of",
        "data.name.min_length_not_met",
    ]


def test_enums_are_one_of_their_values() -> None:
    class Color(enum.Enum):
        RED = "red"
        BLUE = "blue"

    Paint = command_for(type("Paint", (BaseModel,), {"__annotations__": {"color": Color}}))
    assert Paint.run(color="blue").unwrap().color is Color.BLUE
    error = Paint.run(color="green").errors[0]
    assert (error.key, error.context) == (
        "data.color.value_not_valid",
        {"value": "green", "valid_values": ["red", "blue"]},
    )


def test_custom_validators_report_their_own_symbol() -> None:
    class Signup(BaseModel):
        username: str
        age: int = 20

        @field_validator("username")
        @classmethod
        def no_admins(cls, value: str) -> str:
            if value == "admin":
                raise ValueError("admin is reserved")
            if value == "root":
                raise PydanticCustomError("reserved_name", "{name} is reserved", {"name": value})
            return value

    Register = command_for(Signup)
    error = Register.run(username="admin").errors[0]
    assert (error.key, error.message) == ("data.username.invalid", "admin is reserved")
    error = Register.run(username="root").errors[0]
    assert (error.key, error.message, error.context) == (
        "data.username.reserved_name",
        "root is reserved",
        {"value": "root", "name": "root"},
    )


def test_unions_report_one_cannot_cast_at_the_union() -> None:
    class Flexible(BaseModel):
        id: int | Decimal

    outcome = command_for(Flexible).run(id=[1])
    assert outcome.error_keys == ["data.id.cannot_cast"]
    assert outcome.errors[0].context["value"] == [1]


def test_ruby_casts_that_pydantic_refuses() -> None:
    class Profile(BaseModel):
        name: str
        nickname: str = "none"
        tags: list[str] = []

    Save = command_for(Profile)
    # A number for a string is its text; None for an attribute with a default takes the default.
    assert Save.run(name=123, nickname=None, tags=[1, 2.5]).unwrap() == Profile(name="123", tags=["1", "2.5"])
    # A None where nothing allows it is still refused.
    assert Save.run(name=None).error_keys == ["data.name.cannot_cast"]
    # Booleans are not numbers.
    assert Save.run(name=True).error_keys == ["data.name.cannot_cast"]


def test_nested_none_takes_the_nested_default() -> None:
    class Inner(BaseModel):
        size: int = 3

    class Outer(BaseModel):
        inner: Inner

    assert command_for(Outer).run(inner={"size": None}).unwrap() == Outer(inner=Inner(size=3))


class Secrets(BaseModel):
    username: str
    password: Annotated[str, Sensitive, Field(min_length=8)]
    token: SecretStr
    pin: Annotated[int, Sensitive] = 0


def test_secrets_never_appear_in_errors_messages_or_reprs() -> None:
    Login = command_for(Secrets)
    outcome = Login.run(username="ada", password="hunter2", token=[12345678], pin="secret-pin")
    assert outcome.error_keys == [
        "data.password.min_length_not_met",
        "data.token.cannot_cast",
        "data.pin.cannot_cast",
    ]
    dumped = repr(outcome.to_dict()) + outcome.errors_sentence + repr(outcome) + repr(outcome.errors)
    for secret in ("hunter2", "12345678", "secret-pin"):
        assert secret not in dumped

    ok = Login.run(username="ada", password="correct horse", token="t0ps3cret", pin=1234)
    inputs = ok.unwrap()
    for text in (repr(inputs), str(inputs), repr(ok)):
        assert "correct horse" not in text and "t0ps3cret" not in text and "1234" not in text
    assert ok.to_dict() == {"success": True, "result": {"username": "ada"}}


def test_email_is_downcased_and_checked_with_rubys_rules() -> None:
    class Contact(BaseModel):
        email: Email

    Save = command_for(Contact)
    assert Save.run(email="Ada@Example.COM").unwrap().email == "ada@example.com"
    assert Save.run(email="a.@b.c").error_keys == [
        "data.email.first_part_cannot_start_with_or_end_with_a_dot_or_have_two_dots_in_a_row"
    ]
    assert Save.run(email="a@b@c").error_keys == ["data.email.cannot_have_multiple_at_signs"]
    assert Save.run(email="@x").error_keys == [
        "data.email.first_part_has_bad_characters",
        "data.email.first_part_cannot_be_empty",
    ]
    long = "a" * 60 + "@example.com"
    assert Save.run(email=long).error_keys == ["data.email.cannot_exceed64_characters"]
    assert Save.run(email=["x"]).error_keys == ["data.email.cannot_cast"]


def test_booleans_cast_from_rubys_words() -> None:
    class Flags(BaseModel):
        enabled: bool

    Toggle = command_for(Flags)
    for word in ("true", "t", "yes", "y", "1", "TRUE", "Yes", 1):
        assert Toggle.run(enabled=word).unwrap().enabled is True, word
    for word in ("false", "f", "no", "n", "0", "False", 0):
        assert Toggle.run(enabled=word).unwrap().enabled is False, word
    assert Toggle.run(enabled="maybe").error_keys == ["data.enabled.cannot_cast"]
    assert Toggle.run(enabled=2).error_keys == ["data.enabled.cannot_cast"]


def test_errors_inside_arrays_come_element_by_element() -> None:
    class Line(BaseModel):
        sku: str
        quantity: int
        size: str = "m"

    class Cart(BaseModel):
        items: list[Line]

    outcome = command_for(Cart).run(
        items=[{"sku": "a", "quantity": "x"}, {"size": "l"}, {"sku": "c", "quantity": 1, "color": 1}]
    )
    assert outcome.error_keys == [
        "data.items.0.quantity.cannot_cast",
        "data.items.1.quantity.missing_required_attribute",
        "data.items.1.sku.missing_required_attribute",
        "data.items.2.unexpected_attributes",
    ]


def test_a_union_of_models_reports_its_error_under_the_union() -> None:
    class Card(BaseModel):
        number: str

    class Bank(BaseModel):
        iban: str

    class Payment(BaseModel):
        payment: Card | Bank

    Pay = command_for(Payment)
    outcome = Pay.run(payment={"foo": 1})
    assert outcome.error_keys == ["data.payment.cannot_cast"]
    assert outcome.errors[0].context["value"] == {"foo": 1}
    assert Pay.run(payment={"iban": "DE1"}).unwrap() == Payment(payment=Bank(iban="DE1"))
    assert Pay.run(payment={"iban": "DE1"}, other=1).error_keys == ["data.unexpected_attributes"]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")
    a: int


class Plain(BaseModel):
    a: int


def test_a_nested_model_keeps_its_own_extra_setting() -> None:
    class Outer(BaseModel):
        loose: Loose
        lenient: Lenient
        plain: Plain

    Run = command_for(Outer)
    inputs = Run.run(loose={"a": 1, "z": 2}, lenient={"a": 1, "z": 2}, plain={"a": 1}).unwrap()
    assert inputs.loose.model_extra == {"z": 2}
    assert inputs.lenient == Lenient(a=1)
    outcome = Run.run(loose={"a": 1, "z": 2}, lenient={"a": 1, "z": 2}, plain={"a": 1, "z": 2})
    assert outcome.error_keys == ["data.plain.unexpected_attributes"]
    assert Run.run(loose={"a": 1}, lenient={"a": 1}, plain={"a": 1}, z=1).error_keys == ["data.unexpected_attributes"]


def test_a_top_level_extra_allow_does_not_loosen_nested_models() -> None:
    class Top(BaseModel):
        model_config = ConfigDict(extra="allow")
        plain: Plain
        plains: list[Plain] = []

    Run = command_for(Top)
    assert Run.run(plain={"a": 1}, other=3).unwrap().model_extra == {"other": 3}
    assert Run.run(plain={"a": 1, "z": 2}, other=3).error_keys == ["data.plain.unexpected_attributes"]
    assert Run.run(plain={"a": 1}, plains=[{"a": 1}, {"a": 2, "z": 2}]).error_keys == [
        "data.plains.1.unexpected_attributes"
    ]


def test_an_explicit_extra_forbid_forbids_inside_a_loose_model() -> None:
    class Closed(BaseModel):
        model_config = ConfigDict(extra="forbid")
        a: int

    class Top(BaseModel):
        model_config = ConfigDict(extra="allow")
        closed: Closed

    Run = command_for(Top)
    assert Run.run(closed={"a": 1}, other=1).unwrap().model_extra == {"other": 1}
    assert Run.run(closed={"a": 1, "z": 2}, other=1).error_keys == ["data.closed.unexpected_attributes"]


def test_an_extra_allow_model_inside_a_union_keeps_its_setting() -> None:
    class Holder(BaseModel):
        value: Loose | int

    inputs = command_for(Holder).run(value={"a": 1, "z": 2}).unwrap()
    assert inputs.value == Loose(a=1, z=2)


class Huge(BaseModel):
    n: int = Field(0, le=10)
    s: str = ""
    numbers: list[int] = []
    anything: list[Any] = []


def nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def test_integers_too_long_to_write_are_data_errors() -> None:
    Run = command_for(Huge)
    outcome = Run.run(n=10**5000)
    assert outcome.error_keys == ["data.n.max_exceeded"]
    assert outcome.errors[0].message.startswith("Max exceeded. 1.0")
    json.dumps(outcome.to_dict(), allow_nan=False)
    outcome = Run.run(s=-(10**5000))
    assert outcome.error_keys == ["data.s.cannot_cast"]
    assert command_for(type("Mail", (BaseModel,), {"__annotations__": {"to": Email}})).run(to=10**5000).error_keys == [
        "data.to.cannot_cast"
    ]
    assert "-1.0" in outcome.errors[0].message
    json.dumps(outcome.to_dict(), allow_nan=False)


class Identified(BaseModel):
    ident: uuid.UUID
    home: AnyUrl


def test_uuids_and_urls_that_do_not_cast_say_what_was_expected() -> None:
    """Not "Cannot cast "x" to a string": whoever sent it did send a string."""
    outcome = command_for(Identified).run(ident="x", home="nowhere")
    assert sorted(outcome.error_keys) == ["data.home.cannot_cast", "data.ident.cannot_cast"]
    messages = {error.key: error.message for error in outcome.errors}
    assert messages["data.ident.cannot_cast"].startswith('At ident: Cannot cast "x" to a UUID. Expected it to be 32')
    assert messages["data.home.cannot_cast"].startswith('At home: Cannot cast "nowhere" to a URL.')
    assert all(error.context["cast_to"] == "string" for error in outcome.errors)  # Ruby's declaration


def test_deeply_nested_lists_are_data_errors() -> None:
    Run = command_for(Huge)
    outcome = Run.run(numbers=nested(2000))
    assert outcome.error_keys == ["data.numbers.0.cannot_cast"]
    json.dumps(outcome.to_dict())
    assert Run.run(anything=nested(2000)).is_success()


def test_nan_and_infinity_are_written_as_strings() -> None:
    class Measure(BaseModel):
        x: float
        y: float = Field(0, le=10)

    Run = command_for(Measure)
    ok = Run.run(x=float("nan"), y=float("-inf")).to_dict()
    assert ok["result"] == {"x": "NaN", "y": "-Infinity"}
    failed = Run.run(x="inf", y=float("inf")).to_dict()
    assert failed["errors"][0]["context"] == {"value": "Infinity", "max": 10}
    assert failed["errors"][0]["message"] == "Max exceeded. Infinity is larger than 10.0"
    json.dumps(ok, allow_nan=False)
    json.dumps(failed, allow_nan=False)


def test_the_inputs_models_are_left_as_they_were() -> None:
    """A command validates its inputs with a validator of its own (Ruby's rule for unexpected
    attributes compiled in); the models themselves, used outside commands, are unchanged."""
    from pydantic import BaseModel

    class Part(BaseModel):
        n: int

    class Whole(BaseModel):
        part: Part
        tag: str = ""

    class UsesWhole(Command[Whole, int]):
        def execute(self) -> int:
            return self.inputs.part.n

    assert UsesWhole.run(part={"n": 1, "x": 2}).error_keys == ["data.part.unexpected_attributes"]
    assert Whole.__pydantic_complete__ and Part.__pydantic_complete__
    assert Whole.model_validate({"part": {"n": 1, "x": 2}, "y": 3}) == Whole(part=Part(n=1))  # pydantic's default
    assert type(UsesWhole.run(part={"n": 1}).unwrap()) is int
