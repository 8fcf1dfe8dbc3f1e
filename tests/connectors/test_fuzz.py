"""/openapi.json fuzzed by schemathesis against a live uvicorn server: for every operation, with
examples that fit the documented inputs and examples that do not, no 5xx, and every answer has a
documented status, content type and schema."""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import BaseModel, Field
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from foobara_py import AsyncCommand, Command, Domain, Organization, Sensitive
from foobara_py.connectors import Connector
from foobara_py.connectors.openapi import openapi_document
from tests import acme
from tests.connectors import sample
from tests.connectors.serving import serve

shop = Domain("Shop", organization=Organization("FuzzTests"))


class Size(enum.Enum):
    SMALL = "small"
    LARGE = "large"


class Line(BaseModel):
    sku: str = Field(min_length=1, max_length=12)
    quantity: int = Field(ge=1, le=1000)
    size: Size = Size.SMALL


class Address(BaseModel):
    street: str
    city: str
    postcode: str | None = None


class Order(BaseModel):
    customer: str
    lines: list[Line] = Field(min_length=1)
    address: Address
    tags: list[str] = []
    note: str | None = None
    coupon: Annotated[str, Sensitive] | None = None


class Receipt(BaseModel):
    customer: str
    items: int
    sizes: list[Size]
    city: str
    total: Decimal
    placed_on: dt.date


@shop.command
class PlaceOrder(Command[Order, Receipt]):
    """A nested model, arrays of models, an enum, a sensitive input."""

    def execute(self) -> Receipt:
        order = self.inputs
        return Receipt(
            customer=order.customer,
            items=sum(line.quantity for line in order.lines),
            sizes=[line.size for line in order.lines],
            city=order.address.city,
            total=Decimal("9.99") * len(order.lines),
            placed_on=dt.date(2026, 1, 1),
        )


class Measure(BaseModel):
    values: list[float]
    precision: int = Field(2, ge=0, le=10)
    labels: dict[str, str] = {}


@shop.command
class Average(AsyncCommand[Measure, float | None]):
    """An async command over an array of numbers."""

    async def execute(self) -> float | None:
        values = self.inputs.values
        return round(sum(values) / len(values), self.inputs.precision) if values else None


@shop.command
class Echo(Command[Measure, dict[str, Any]]):
    """Returns its inputs as they were cast."""

    def execute(self) -> dict[str, Any]:
        return self.inputs.model_dump(mode="json")


def connector() -> Connector:
    return Connector(acme.math, shop, sample.SignIn, sample.ThreadName, sample.Concrete, sample.Add)


OPERATIONS = list(openapi_document(connector())["paths"])


@pytest.fixture(scope="module")
def api() -> Iterator[Any]:
    """The schema as a client loads it: /openapi.json of a live server."""
    with serve(connector().asgi(mcp=False)) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


@schemathesis.check
def valid_inputs_are_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """Inputs that fit the documented schema get no data error: a command may still fail (a
    runtime error, as dividing by zero), but a `data.*` error means the schema is looser than the
    command. (Schemathesis' own positive_data_acceptance wants a 2xx, which a command's runtime
    errors rule out; and data outside the schema may be accepted, as Foobara casts `"1"` to 1, so
    its negative_data_rejection does not apply either.)"""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    data_errors = [error["key"] for error in response.json() if error["category"] == "data"]
    if data_errors:
        raise AssertionError(f"Schema-valid inputs refused with {data_errors}: {response.text[:500]}")
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    valid_inputs_are_accepted,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", OPERATIONS)
def test_every_operation_answers_as_documented(api: Any, path: str, mode: GenerationMode) -> None:
    operation = api[path]["POST"]

    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(checks=CHECKS)

    check()
