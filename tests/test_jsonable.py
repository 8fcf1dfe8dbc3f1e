"""One conversion of values to strict JSON, for results, error contexts, manifests and schemas."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, SecretStr

from foobara_py import FoobaraError, Sensitive
from foobara_py.jsonable import FILTERED, MAX_DEPTH, describe_int, to_json
from foobara_py.types import node_for


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Account(BaseModel):
    name: str
    password: Annotated[str, Sensitive]
    token: SecretStr


def strict(value: Any) -> Any:
    """What a strict JSON encoder and decoder make of the converted value."""
    return json.loads(json.dumps(to_json(value), allow_nan=False))


def test_plain_values_are_kept_and_others_written_as_text() -> None:
    assert to_json({"a": [1, 2.5, True, None, "x"]}) == {"a": [1, 2.5, True, None, "x"]}
    assert to_json((1, 2)) == [1, 2]
    assert to_json(Color.RED) == "red"
    assert to_json(Level.HIGH) == 3
    assert to_json(Decimal("1.50")) == "1.50"
    assert to_json(dt.date(2024, 1, 2)) == "2024-01-02"
    assert to_json(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert to_json(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert to_json(re.compile(r"^\d+$")) == r"^\d+$"
    assert to_json(b"bytes") == "bytes"
    assert to_json(object) == "<class 'object'>"


def test_keys_are_strings_as_json_writes_them() -> None:
    assert to_json({2: "a", None: "b", True: "c", Color.RED: "d", (1, 2): "e"}) == {
        "2": "a",
        "null": "b",
        "true": "c",
        "red": "d",
        "[1, 2]": "e",
    }


def test_sets_are_sorted_whatever_the_hash_seed() -> None:
    assert to_json({"pear", "apple", "fig"}) == ["apple", "fig", "pear"]
    assert to_json(frozenset({3, 1, 2})) == [1, 2, 3]
    assert to_json({Decimal("10"), Decimal("9")}) == ["9", "10"]  # by value, not by text
    assert to_json({"b", 1, None}) == ["b", 1, None]  # values that do not compare: by JSON text


def test_nan_infinity_and_long_integers_stay_strict_json() -> None:
    assert strict([float("nan"), float("inf"), float("-inf")]) == ["NaN", "Infinity", "-Infinity"]
    assert strict(Decimal("NaN")) == "NaN"
    assert strict(10**5000) == "1.00000e+5000"
    assert describe_int(-(10**5000) * 3) == "-3.00000e+5000"
    assert describe_int(10**4000) == str(10**4000)  # short enough for Python to write
    assert strict(10**20) == 10**20


def test_deep_values_are_cut_short() -> None:
    value: Any = []
    for _ in range(2000):
        value = [{"a": value}]
    converted = strict(value)
    depth = 0
    while isinstance(converted, (list, dict)):
        converted = converted[0] if isinstance(converted, list) else converted["a"]
        depth += 1
    assert depth == MAX_DEPTH
    assert converted in ("[...]", "{...}")


def test_models_leave_their_secrets_out() -> None:
    account = Account(name="ada", password="p4ss", token=SecretStr("t0k"))
    assert to_json(account) == {"name": "ada"}
    assert to_json({"account": account, "token": SecretStr("t0k")}) == {"account": {"name": "ada"}, "token": FILTERED}


def test_a_type_with_secrets_filters_them_in_plain_values() -> None:
    node = node_for(dict[str, list[Annotated[str, Sensitive]]])
    assert to_json({"a": ["x", "y"]}, node) == {"a": [FILTERED, FILTERED]}
    assert to_json({"name": "ada", "password": "p4ss"}, node_for(Account)) == {"name": "ada", "password": FILTERED}
    assert to_json("plain", node_for(str)) == "plain"


def test_error_contexts_use_the_same_conversion() -> None:
    error = FoobaraError(
        "odd", "Odd", context={"when": dt.datetime(2024, 1, 2, 3, 4), "tags": {"b", "a"}, "ratio": float("nan")}
    )
    assert error.to_dict()["context"] == {"when": "2024-01-02T03:04:00", "tags": ["a", "b"], "ratio": "NaN"}
