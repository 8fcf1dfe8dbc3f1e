"""JSON Schema from TypeNodes: each rule, checked on real pydantic models, with real data
validated against the schemas by `jsonschema` (draft 2020-12)."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, SecretStr

from foobara_py import Command, Model
from foobara_py.jsonable import to_json
from foobara_py.schema import json_schema, result_json_schema
from foobara_py.types import (
    EMAIL_PATTERN,
    Attributes,
    BigDecimal,
    Date,
    DateTime,
    Email,
    Sensitive,
    Symbol,
    node_for_model,
)
from tests import acme


def schema_of(model: type[BaseModel], *, remove_sensitive: bool = False) -> dict[str, Any]:
    schema = json_schema(node_for_model(model), remove_sensitive=remove_sensitive)
    Draft202012Validator.check_schema(schema)  # every schema made here is a valid 2020-12 schema
    return schema


def valid(schema: dict[str, Any], data: Any) -> bool:
    return Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(data)


# --------------------------------------------------------------------------------------------
# Attributes


class AddInputs(BaseModel):
    a: int = Field(description="first operand")
    b: int = Field(0, description="second operand")


def test_add_inputs() -> None:
    schema = schema_of(AddInputs)
    assert schema == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "first operand"},
            "b": {"type": "integer", "description": "second operand", "default": 0},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert valid(schema, {"a": 1, "b": 2})
    assert valid(schema, {"a": 1})
    assert not valid(schema, {"b": 2})  # a is required
    assert not valid(schema, {"a": 1.5})  # an integer, never any number
    assert not valid(schema, {"a": "1"})
    assert not valid(schema, {"a": 1, "c": 3})  # unexpected attribute


def test_the_acme_add_command_inputs() -> None:
    assert schema_of(acme.AddInputs) == schema_of(AddInputs)


class Point(BaseModel):
    x: float
    y: float = 0.0


class Shape(BaseModel):
    name: str
    origin: Point = Field(description="where it starts")
    points: list[Point]


def test_nested_model_and_list_of_models() -> None:
    schema = schema_of(Shape)
    point = {
        "type": "object",
        "properties": {"x": {"type": "number"}, "y": {"type": "number", "default": 0.0}},
        "required": ["x"],
        "additionalProperties": False,
    }
    assert schema["properties"]["origin"] == {**point, "description": "where it starts"}
    assert schema["properties"]["points"] == {"type": "array", "items": point}
    assert schema["required"] == ["name", "origin", "points"]
    good = {"name": "tri", "origin": {"x": 0}, "points": [{"x": 1, "y": 2.5}, {"x": 3}]}
    assert valid(schema, good)
    Shape.model_validate(good)
    assert not valid(schema, {**good, "points": [{"y": 1}]})
    assert not valid(schema, {**good, "origin": {"x": 0, "z": 1}})
    assert not valid(schema, {**good, "points": {"x": 1}})


class Aliased(BaseModel):
    first_name: str = Field(alias="firstName")
    last_name: str = "Doe"


def test_alias_is_the_property_name() -> None:
    schema = schema_of(Aliased)
    assert set(schema["properties"]) == {"firstName", "last_name"}
    assert schema["required"] == ["firstName"]
    assert schema["properties"]["last_name"]["default"] == "Doe"
    assert valid(schema, {"firstName": "Jane"})
    assert not valid(schema, {"first_name": "Jane"})


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


def test_extra_allow_opens_the_object() -> None:
    schema = schema_of(Open)
    assert schema["additionalProperties"] is True
    assert valid(schema, {"name": "x", "anything": [1, 2]})


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Defaults(BaseModel):
    tags: list[str] = Field(default_factory=list)
    color: Color = Color.RED
    day: dt.date = dt.date(2024, 1, 2)
    amount: Decimal = Decimal("2.50")
    origin: Point = Point(x=1, y=2)
    note: str | None = None


def test_defaults_are_json_ready_and_factories_are_left_out() -> None:
    schema = schema_of(Defaults)
    props = schema["properties"]
    assert "default" not in props["tags"]
    assert props["color"]["default"] == "red"
    assert props["day"]["default"] == "2024-01-02"
    assert props["amount"]["default"] == 2.5
    assert props["origin"]["default"] == {"x": 1.0, "y": 2.0}
    assert props["note"]["default"] is None
    assert "required" not in schema
    json.dumps(schema)
    # Each default is valid data for its own property.
    for name, prop in props.items():
        if "default" in prop:
            assert valid(prop, prop["default"]), name


def test_a_command_without_inputs() -> None:
    schema = json_schema(None)
    assert schema == {"type": "object", "properties": {}, "additionalProperties": False}
    Draft202012Validator.check_schema(schema)
    assert valid(schema, {})
    assert not valid(schema, {"a": 1})


class Empty(BaseModel):
    pass


def test_a_model_without_fields() -> None:
    assert schema_of(Empty) == json_schema(None)


# --------------------------------------------------------------------------------------------
# Atomic types


class Atoms(BaseModel):
    count: int
    ratio: float
    price: BigDecimal
    name: str
    kind: Symbol
    email: Email
    active: bool
    born: Date
    at: DateTime
    anything: Any
    maybe_anything: Any | None = None
    attributes: Attributes


def test_atomic_types() -> None:
    props = schema_of(Atoms)["properties"]
    assert props["count"] == {"type": "integer"}
    assert props["ratio"] == {"type": "number"}
    assert props["price"] == {"type": "number"}
    assert props["name"] == {"type": "string"}
    assert props["kind"] == {"type": "string"}
    assert props["email"] == {"type": "string", "format": "email", "pattern": EMAIL_PATTERN}
    assert props["active"] == {"type": "boolean"}
    assert props["born"] == {"type": "string", "format": "date"}
    assert props["at"] == {"type": "string", "format": "date-time"}
    assert props["anything"] == {}
    assert props["maybe_anything"] == {"default": None}  # anything already takes null
    assert props["attributes"] == {"type": "object"}  # any attributes: no fields to list


def test_email_format_is_checked() -> None:
    schema = schema_of(Atoms)["properties"]["email"]
    assert valid(schema, "jane@example.com")
    assert not valid(schema, "not an email")
    # Formats allow what Foobara's rules refuse (found by fuzzing /openapi.json): the pattern says it.
    assert not valid(schema, "`jane@example.com")
    assert not valid(schema, "jane..doe@example.com")
    assert not valid(schema, "jane@-example.com")
    born = schema_of(Atoms)["properties"]["born"]
    assert valid(born, "2024-02-29")
    assert not valid(born, "2024-02-30")


class _Identified(BaseModel):
    ident: uuid.UUID
    home: AnyUrl


def test_uuids_and_urls_say_their_format() -> None:
    """A client (or /help's example) that reads a bare string sends one that does not cast."""
    props = schema_of(_Identified)["properties"]
    assert props["ident"] == {"type": "string", "format": "uuid"}
    assert props["home"] == {"type": "string", "format": "uri"}
    assert valid(props["ident"], "4b3c3a1e-7d2b-4a7e-9a55-0f6f0d7c7e01")
    assert not valid(props["ident"], "string")


class _EmailOnly(BaseModel):
    email: Email


_EMAIL_CHARS = st.sampled_from("aZ09._-@!#`'\u2018+~|{}^/=?&%$*\n -.@")
_ADDRESSES = st.one_of(st.emails(), st.text(_EMAIL_CHARS, max_size=70), st.from_regex(EMAIL_PATTERN, fullmatch=True))


@settings(max_examples=500, deadline=None)
@given(_ADDRESSES)
def test_the_email_pattern_accepts_exactly_what_the_rules_accept(address: str) -> None:
    try:
        _EmailOnly(email=address)
    except ValueError:
        accepted = False
    else:
        accepted = True
    assert valid({"type": "string", "pattern": EMAIL_PATTERN}, address) == accepted, address


class Prices(BaseModel):
    price: Decimal
    ratio: float | None = None


class Priced(Command[Prices, Prices]):
    def execute(self) -> Prices:
        return self.inputs


@pytest.mark.parametrize(
    ("price", "ratio"),
    [
        (Decimal("9.99"), 1.5),
        (Decimal("1E+2"), float("inf")),
        (Decimal("-0.0000001"), float("nan")),
        (Decimal(0), None),
    ],
)
def test_a_result_schema_describes_results_as_they_are_written(price: Decimal, ratio: float | None) -> None:
    """A Decimal is written as a string and a float that is not finite as a name (found by fuzzing
    /openapi.json); an input takes a number."""
    schema = result_json_schema(Priced)
    written = to_json(Prices(price=price, ratio=ratio))
    assert valid(schema, written), written
    assert schema_of(Prices)["properties"]["price"] == {"type": "number"}
    assert not valid(schema, {"price": "nine", "ratio": "Infinite"})


# --------------------------------------------------------------------------------------------
# Nullability, enums, unions


class Optionals(BaseModel):
    count: int | None = None
    point: Point | None = Field(None, description="maybe a point")
    numbers: list[int] | None
    either: int | str | None = Field(None, description="int or str or nothing")


def test_optional() -> None:
    schema = schema_of(Optionals)
    props = schema["properties"]
    assert props["count"] == {"type": ["integer", "null"], "default": None}
    assert props["point"]["type"] == ["object", "null"]
    assert props["point"]["description"] == "maybe a point"
    assert props["numbers"] == {"type": ["array", "null"], "items": {"type": "integer"}}
    assert props["either"] == {
        "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}],
        "description": "int or str or nothing",
        "default": None,
    }
    assert schema["required"] == ["numbers"]  # Optional is not the same as having a default
    assert valid(schema, {"numbers": None, "point": None, "count": None, "either": None})
    assert valid(schema, {"numbers": [1], "point": {"x": 1}, "count": 2, "either": "x"})
    assert not valid(schema, {"numbers": None, "point": {"y": 1}})
    assert not valid(schema, {"numbers": None, "either": 1.5})


class Number(enum.IntEnum):
    ONE = 1
    TWO = 2


class Choices(BaseModel):
    mode: Literal["fast", "slow"]
    color: Color
    number: Number
    maybe: Literal["a", "b"] | None = None
    mixed: Literal["a", 1]
    nothing: None = None


def test_literal_and_enum() -> None:
    schema = schema_of(Choices)
    props = schema["properties"]
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"]}
    assert props["color"] == {"type": "string", "enum": ["red", "green"]}
    assert props["number"] == {"type": "integer", "enum": [1, 2]}
    assert props["maybe"] == {"type": ["string", "null"], "enum": ["a", "b", None], "default": None}
    assert props["mixed"] == {"enum": ["a", 1]}
    assert props["nothing"] == {"enum": [None], "default": None}
    data = {"mode": "fast", "color": "green", "number": 2, "maybe": None, "mixed": 1}
    assert valid(schema, data)
    Choices.model_validate(data)
    assert not valid(schema, {**data, "mode": "medium"})
    assert not valid(schema, {**data, "color": "blue"})
    assert not valid(schema, {**data, "number": 3})
    assert not valid(schema, {**data, "maybe": "c"})


class Unions(BaseModel):
    value: int | str
    shapes: list[Point | Shape]


def test_union() -> None:
    schema = schema_of(Unions)
    assert schema["properties"]["value"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert [s["required"] for s in schema["properties"]["shapes"]["items"]["anyOf"]] == [
        ["x"],
        ["name", "origin", "points"],
    ]
    assert valid(schema, {"value": 1, "shapes": [{"x": 1}]})
    assert valid(schema, {"value": "1", "shapes": []})
    assert not valid(schema, {"value": 1.5, "shapes": []})
    assert not valid(schema, {"value": None, "shapes": []})
    assert not valid(schema, {"value": 1, "shapes": [{"y": 1}]})


# --------------------------------------------------------------------------------------------
# Tuples and associative arrays


class Collections(BaseModel):
    pair: tuple[int, str]
    many: tuple[int, ...]
    counts: dict[str, int]
    by_color: dict[Literal["red", "green"], float]
    by_code: dict[Annotated[str, Field(pattern=r"^[A-Z]{2}$")], str]
    by_number: dict[int, str]
    loose: dict  # type: ignore[type-arg]
    sizes: set[int]


def test_tuple() -> None:
    schema = schema_of(Collections)["properties"]
    pair = schema["pair"]
    assert pair == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    assert valid(pair, [1, "a"])
    assert not valid(pair, [1])
    assert not valid(pair, [1, "a", 2])
    assert not valid(pair, ["a", 1])
    assert schema["many"] == {"type": "array", "items": {"type": "integer"}}
    assert schema["sizes"] == {"type": "array", "items": {"type": "integer"}}


def test_associative_array() -> None:
    schema = schema_of(Collections)["properties"]
    counts = schema["counts"]
    assert counts == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert valid(counts, {"a": 1, "b": 2})
    assert not valid(counts, {"a": "1"})
    assert schema["by_color"] == {
        "type": "object",
        "propertyNames": {"type": "string", "enum": ["red", "green"]},
        "additionalProperties": {"type": "number"},
    }
    assert not valid(schema["by_color"], {"blue": 1.0})
    assert schema["by_code"]["propertyNames"] == {"type": "string", "pattern": "^[A-Z]{2}$"}
    assert valid(schema["by_code"], {"US": "x"})
    assert not valid(schema["by_code"], {"usa": "x"})
    assert schema["by_number"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert schema["loose"] == {"type": "object"}


# --------------------------------------------------------------------------------------------
# Constraints


class Constrained(BaseModel):
    age: int = Field(ge=0, le=150)
    ratio: float = Field(gt=0, lt=1)
    step: int = Field(multiple_of=5)
    price: Decimal = Field(ge=Decimal("0.01"), le=Decimal("100"))
    code: str = Field(min_length=2, max_length=4, pattern=r"^[a-z]+$")
    tags: list[str] = Field(min_length=1, max_length=3)
    scores: dict[str, int] = Field(max_length=2)
    since: dt.date = Field(ge=dt.date(2000, 1, 1))
    maybe_age: int | None = Field(None, ge=0)


def test_constraints() -> None:
    schema = schema_of(Constrained)
    props = schema["properties"]
    assert props["age"] == {"type": "integer", "minimum": 0, "maximum": 150}
    assert props["ratio"] == {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}
    assert props["step"] == {"type": "integer", "multipleOf": 5}
    assert props["price"] == {"type": "number", "minimum": 0.01, "maximum": 100}
    assert props["code"] == {"type": "string", "minLength": 2, "maxLength": 4, "pattern": "^[a-z]+$"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3}
    assert props["scores"]["maxProperties"] == 2
    # A bound on a date has no JSON Schema keyword: the command validates it.
    assert props["since"] == {"type": "string", "format": "date"}
    assert props["maybe_age"] == {"type": ["integer", "null"], "minimum": 0, "default": None}

    good = {
        "age": 30,
        "ratio": 0.5,
        "step": 10,
        "price": 9.99,
        "code": "abc",
        "tags": ["x"],
        "scores": {"a": 1},
        "since": "2001-01-01",
    }
    assert valid(schema, good)
    Constrained.model_validate(good)
    for name, bad in [
        ("age", -1),
        ("age", 151),
        ("ratio", 0),
        ("ratio", 1),
        ("step", 7),
        ("price", 0),
        ("code", "a"),
        ("code", "abcde"),
        ("code", "AB"),
        ("tags", []),
        ("tags", ["a", "b", "c", "d"]),
        ("scores", {"a": 1, "b": 2, "c": 3}),
        ("maybe_age", -1),
    ]:
        assert not valid(schema, {**good, name: bad}), (name, bad)


# --------------------------------------------------------------------------------------------
# Sensitive values


class Login(BaseModel):
    username: str
    password: SecretStr
    token: Annotated[str, Sensitive] = "secret-default"
    pin: Annotated[str, Sensitive(exposed=True)] = Field(description="the client sends it")


def test_sensitive_fields_are_write_only() -> None:
    schema = schema_of(Login)
    props = schema["properties"]
    assert props["password"] == {"type": "string", "writeOnly": True}
    assert props["token"] == {"type": "string", "writeOnly": True}  # its default is a secret too
    assert props["pin"] == {"type": "string", "description": "the client sends it", "writeOnly": True}
    assert schema["required"] == ["password", "pin", "username"]
    assert "secret-default" not in json.dumps(schema)


def test_remove_sensitive_leaves_out_hidden_fields() -> None:
    schema = schema_of(Login, remove_sensitive=True)
    assert set(schema["properties"]) == {"username", "pin"}  # exposed stays
    assert schema["properties"]["pin"]["writeOnly"] is True
    assert schema["required"] == ["pin", "username"]
    assert valid(schema, {"username": "jane", "pin": "1234"})
    assert not valid(schema, {"username": "jane", "pin": "1234", "password": "x"})


class Account(BaseModel):
    login: Login
    logins: list[Login]


def test_remove_sensitive_applies_at_any_depth() -> None:
    schema = schema_of(Account, remove_sensitive=True)
    assert set(schema["properties"]["login"]["properties"]) == {"username", "pin"}
    assert set(schema["properties"]["logins"]["items"]["properties"]) == {"username", "pin"}
    full = schema_of(Account)
    assert set(full["properties"]["login"]["properties"]) == {"username", "password", "token", "pin"}


# --------------------------------------------------------------------------------------------
# Registered types


def test_registered_model_is_inlined_with_a_title() -> None:
    schema = schema_of(acme.RegisterUserInputs)
    user = schema["properties"]["user"]
    assert user == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": ["string", "null"], "format": "email", "pattern": EMAIL_PATTERN, "default": None},
        },
        "required": ["name"],
        "additionalProperties": False,
        "title": "User",
    }
    assert valid(schema, {"user": {"name": "Jane", "email": "jane@example.com"}})
    assert not valid(schema, {"user": {"name": "Jane", "email": "nope"}})
    # The registered model's own schema carries no title: only a reference to it does.
    assert "title" not in schema_of(acme.User)


# --------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    "model",
    [
        AddInputs,
        Shape,
        Aliased,
        Open,
        Defaults,
        Atoms,
        Optionals,
        Choices,
        Unions,
        Collections,
        Constrained,
        Login,
        Account,
        acme.RegisterUserInputs,
    ],
)
@pytest.mark.parametrize("remove_sensitive", [False, True])
def test_schemas_are_json(model: type[BaseModel], remove_sensitive: bool) -> None:
    schema = schema_of(model, remove_sensitive=remove_sensitive)
    assert json.loads(json.dumps(schema)) == schema


def test_commands_give_their_inputs_and_result_schemas() -> None:
    from foobara_py import inputs_json_schema, result_json_schema
    from tests.acme import Add, Divide

    assert inputs_json_schema(Add) == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "first operand"},
            "b": {"type": "integer", "description": "second operand", "default": 0},
        },
        "required": ["a"],
        "additionalProperties": False,
    }
    assert result_json_schema(Divide) == {"type": "integer"}


class Branch(Model):
    label: str = Field(max_length=5)
    children: list[Branch] = []
    parent: Branch | None = None


class Forest(BaseModel):
    trees: list[Branch]
    biggest: Branch


def test_a_registered_model_that_refers_to_itself_is_defined_once_and_referred_to() -> None:
    schema = schema_of(Forest)
    ref = {"$ref": "#/$defs/Branch", "title": "Branch"}
    assert schema["properties"] == {"trees": {"type": "array", "items": ref}, "biggest": ref}
    assert schema["$defs"] == {
        "Branch": {
            "type": "object",
            "properties": {
                "label": {"type": "string", "maxLength": 5},
                "children": {"type": "array", "items": ref, "default": []},
                "parent": {"anyOf": [{"$ref": "#/$defs/Branch"}, {"type": "null"}], "title": "Branch", "default": None},
            },
            "required": ["label"],
            "additionalProperties": False,
            "title": "Branch",
        }
    }
    deep = {"label": "a", "children": [{"label": "b", "children": [{"label": "c", "parent": {"label": "d"}}]}]}
    assert valid(schema, {"trees": [deep], "biggest": deep})
    too_long = {"label": "a", "children": [{"label": "b", "children": [{"label": "much too long"}]}]}
    assert not valid(schema, {"trees": [], "biggest": too_long})
    # A result that is the recursive model itself.
    assert schema_of(Branch)["properties"]["children"]["items"] == ref
    assert "Branch" in schema_of(Branch)["$defs"]
