"""Inputs, result and errors transformers of a connection: through run/arun, the manifest, the
schemas the doors publish, and over HTTP."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import pytest
from pydantic import BaseModel, Field

from foobara_py import Command, Domain, FoobaraError, Organization, Sensitive
from foobara_py.connectors import Connector, ConnectorRequest, cookie, header
from tests.connectors.serving import serve

shop = Domain("Shop", organization=Organization("TransformerTests"))


class OrderInputs(BaseModel):
    item: str
    quantity: int = 1
    customer: str
    note: str = ""


class Order(BaseModel):
    item: str
    quantity: int
    customer: str
    note: str
    secret_code: Annotated[str, Sensitive] = "s3cret"


@shop.command
class PlaceOrder(Command[OrderInputs, Order]):
    def execute(self) -> Order:
        return Order(**dict(self.inputs))


@shop.command
class Fail(Command[OrderInputs, int]):
    possible_errors = ["out_of_stock"]

    def execute(self) -> int:
        self.add_runtime_error("out_of_stock", f"No {self.inputs.item} left")
        return 0


def unexpected(names: list[str], allowed: list[str]) -> dict[str, Any]:
    listed, expected = ", ".join(f":{n}" for n in names), ", ".join(f":{n}" for n in allowed)
    return {
        "key": "data.unexpected_attributes",
        "path": [],
        "runtime_path": [],
        "category": "data",
        "symbol": "unexpected_attributes",
        "message": f"Unexpected attributes [{listed}]. Expected only [{expected}]",
        "context": {"unexpected_attributes": names, "allowed_attributes": allowed},
        "is_fatal": True,
    }


def from_header(user: str = "ann") -> ConnectorRequest:
    return ConnectorRequest(headers={"x-customer": user}, cookies={"note": "from a cookie"})


# --- inputs ----------------------------------------------------------------------------------


def test_only_and_reject_refuse_the_rest_as_the_command_would() -> None:
    connector = Connector()
    connector.connect(PlaceOrder, inputs={"only": ["item", "customer"]})
    connector.connect(Fail, inputs={"reject": ["note"]})
    assert connector.run("PlaceOrder", {"item": "pen", "customer": "ann"}).result.quantity == 1
    refused = connector.run("PlaceOrder", {"item": "pen", "customer": "ann", "quantity": 2})
    assert [e.to_dict() for e in refused.errors] == [unexpected(["quantity"], ["item", "customer"])]
    refused = asyncio.run(connector.arun("Fail", {"item": "pen", "customer": "ann", "note": "x"}))
    assert [e.to_dict() for e in refused.errors] == [unexpected(["note"], ["item", "quantity", "customer"])]
    # What the command refuses itself stays its own error.
    plain = Connector(PlaceOrder).run("PlaceOrder", {"item": "pen", "customer": "ann", "bogus": 1})
    assert plain.errors[0].context["allowed_attributes"] == ["item", "quantity", "customer", "note"]


def test_set_takes_an_input_from_a_header_a_cookie_or_a_function_and_the_caller_cannot_send_it() -> None:
    connector = Connector()
    connector.connect(
        PlaceOrder,
        inputs={"set": {"customer": header("X-Customer"), "note": cookie("note"), "quantity": lambda r: 3}},
    )
    order = connector.run("PlaceOrder", {"item": "pen"}, from_header()).unwrap()
    assert (order.customer, order.note, order.quantity) == ("ann", "from a cookie", 3)
    order = asyncio.run(connector.arun("PlaceOrder", {"item": "pen"}, from_header("bob"))).unwrap()
    assert order.customer == "bob"
    refused = connector.run("PlaceOrder", {"item": "pen", "customer": "mallory"}, from_header())
    assert [e.to_dict() for e in refused.errors] == [unexpected(["customer"], ["item"])]
    # A missing header leaves the input unset: the command says what that means.
    assert connector.run("PlaceOrder", {"item": "pen"}).error_keys == ["data.customer.missing_required_attribute"]


def test_a_function_of_the_inputs_and_the_request() -> None:
    def shout(inputs: dict[str, Any], request: ConnectorRequest) -> dict[str, Any]:
        return {**inputs, "item": inputs["item"].upper(), "customer": request.door}

    connector = Connector()
    connector.connect(PlaceOrder, inputs=[{"reject": ["customer"]}, shout])
    order = connector.run("PlaceOrder", {"item": "pen"}).unwrap()
    assert (order.item, order.customer) == ("PEN", "python")


def test_inputs_options_naming_no_attribute_are_refused_when_connecting() -> None:
    with pytest.raises(ValueError, match="has no inputs attribute 'bogus'"):
        Connector().connect(PlaceOrder, inputs={"only": ["bogus"]})
    with pytest.raises(ValueError, match="knows only, reject, set"):
        Connector().connect(PlaceOrder, inputs={"drop": ["note"]})
    with pytest.raises(TypeError, match="header"):
        Connector().connect(PlaceOrder, inputs={"set": {"note": "a constant"}})


def test_the_manifest_and_the_schemas_show_what_a_caller_sends() -> None:
    connector = Connector()
    (connection,) = connector.connect(PlaceOrder, inputs={"reject": ["note"], "set": {"customer": header("X-C")}})
    entry = connector.manifest()["command"]["TransformerTests::Shop::PlaceOrder"]
    assert entry["inputs_type"] == {
        "type": "attributes",
        "element_type_declarations": {"item": "string", "quantity": "integer"},
        "required": ["item"],
        "defaults": {"quantity": 1},
    }
    assert not [key for key in entry["possible_errors"] if key.startswith(("data.note.", "data.customer."))]
    assert "data.item.missing_required_attribute" in entry["possible_errors"]
    schema = connection.inputs_json_schema()
    assert list(schema["properties"]) == ["item", "quantity"]
    assert schema["required"] == ["item"]
    assert schema["additionalProperties"] is False


# --- result ----------------------------------------------------------------------------------


def test_result_only_reject_and_functions() -> None:
    connector = Connector()
    connector.connect(PlaceOrder, result={"only": ["item", "quantity"]})
    connector.connect(Fail)
    inputs = {"item": "pen", "customer": "ann"}
    assert connector.run("PlaceOrder", inputs).unwrap() == {"item": "pen", "quantity": 1}
    assert asyncio.run(connector.arun("PlaceOrder", inputs)).unwrap() == {"item": "pen", "quantity": 1}
    rejecting = Connector()
    rejecting.connect(PlaceOrder, result={"reject": ["customer"]})
    # The sensitive attribute stays out, as it does without a transformer.
    assert rejecting.run("PlaceOrder", inputs).unwrap() == {"item": "pen", "quantity": 1, "note": ""}
    counting = Connector()
    counting.connect(PlaceOrder, result=lambda order: f"{order.quantity} x {order.item}")
    assert counting.run("PlaceOrder", inputs).unwrap() == "1 x pen"
    with pytest.raises(TypeError, match="model or attributes result"):
        Connector().connect(Fail, result={"only": ["x"]})


def test_the_manifest_and_the_schema_show_the_result_as_transformed() -> None:
    connector = Connector()
    (connection,) = connector.connect(PlaceOrder, result={"only": ["item", "quantity", "secret_code"]})
    entry = connector.manifest()["command"]["TransformerTests::Shop::PlaceOrder"]
    assert entry["result_type"] == {
        "type": "attributes",
        "element_type_declarations": {"item": "string", "quantity": "integer"},
        "required": ["item", "quantity"],
    }
    schema = connection.result_json_schema()
    assert list(schema["properties"]) == ["item", "quantity"]
    assert "s3cret" not in str(connector.manifest())
    answer = connector.run("PlaceOrder", {"item": "pen", "customer": "ann"}).unwrap()
    assert answer == {"item": "pen", "quantity": 1}  # a sensitive attribute stays out, even named


# --- errors ----------------------------------------------------------------------------------


def test_errors_transformers_replace_the_errors() -> None:
    def soften(errors: list[FoobaraError]) -> list[FoobaraError]:
        return [FoobaraError("try_later", f"Try later ({errors[0].message})", "runtime")]

    connector = Connector()
    connector.connect(Fail, errors=soften)
    outcome = connector.run("Fail", {"item": "pen", "customer": "ann"})
    assert outcome.error_keys == ["runtime.try_later"]
    assert outcome.errors[0].message == "Try later (No pen left)"
    broken = Connector()
    broken.connect(Fail, errors=lambda errors: [])
    assert broken.run("Fail", {"item": "pen", "customer": "ann"}).error_keys == ["runtime.unknown_error"]


# --- over HTTP -------------------------------------------------------------------------------


def test_over_http_the_header_sets_the_input_and_the_manifest_agrees() -> None:
    connector = Connector()
    connector.connect(PlaceOrder, inputs={"set": {"customer": header("X-Customer")}}, result={"reject": ["note"]})
    with serve(connector.asgi(mcp=False)) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.post(
            "/run/TransformerTests::Shop::PlaceOrder", json={"item": "pen"}, headers={"x-customer": "ann"}
        )
        assert (response.status_code, response.json()) == (200, {"item": "pen", "quantity": 1, "customer": "ann"})
        response = client.post("/run/TransformerTests::Shop::PlaceOrder", json={"item": "pen", "customer": "eve"})
        assert response.status_code == 422
        assert response.json() == [unexpected(["customer"], ["item", "quantity", "note"])]
        manifest = client.get("/manifest").json()["command"]["TransformerTests::Shop::PlaceOrder"]
        assert "customer" not in manifest["inputs_type"]["element_type_declarations"]


def test_openapi_describes_the_transformed_inputs_and_result() -> None:
    from foobara_py.connectors.openapi import openapi_document

    connector = Connector()
    connector.connect(PlaceOrder, inputs={"set": {"customer": header("X-Customer")}}, result={"only": ["item"]})
    operation = openapi_document(connector)["paths"]["/run/TransformerTests::Shop::PlaceOrder"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    assert list(request["properties"]) == ["item", "quantity", "note"]
    assert "customer" not in request["required"]
    result = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert list(result["properties"]) == ["item"]


# --- attributes with an alias ------------------------------------------------------------------


class SignUp(BaseModel):
    first_name: str = Field(alias="firstName")
    last_name: str = Field("", alias="lastName")
    referrer: str = ""


@shop.command
class Register(Command[SignUp, str]):
    def execute(self) -> str:
        return f"{self.inputs.first_name} {self.inputs.last_name} via {self.inputs.referrer or 'nobody'}"


@pytest.mark.parametrize("named", ["python names", "aliases"])
def test_only_reject_and_set_name_an_aliased_attribute_as_the_caller_sends_it(named: str) -> None:
    """A caller sends `firstName` (the command takes nothing else): the connection may name it
    either way, and what it lets through, sets and hides is what the caller sends."""
    first, last = ("first_name", "last_name") if named == "python names" else ("firstName", "lastName")
    only = Connector()
    only.connect(Register, inputs={"only": [first]})
    assert only.run("Register", {"firstName": "Ann"}).unwrap() == "Ann  via nobody"
    refused = only.run("Register", {"firstName": "Ann", "lastName": "Lee"})
    assert [e.to_dict() for e in refused.errors] == [unexpected(["lastName"], ["firstName"])]
    setting = Connector()
    (connection,) = setting.connect(Register, inputs={"set": {last: header("X-Last")}, "reject": ["referrer"]})
    request = ConnectorRequest(headers={"x-last": "Lee"})
    assert setting.run("Register", {"firstName": "Ann"}, request).unwrap() == "Ann Lee via nobody"
    refused = setting.run("Register", {"firstName": "Ann", "lastName": "Eve"}, request)
    assert [e.to_dict() for e in refused.errors] == [unexpected(["lastName"], ["firstName"])]
    assert list(connection.inputs_json_schema()["properties"]) == ["firstName"]
    entry = setting.manifest()["command"]["TransformerTests::Shop::Register"]
    assert list(entry["inputs_type"]["element_type_declarations"]) == ["first_name"]


# --- async transformers --------------------------------------------------------------------------


async def customer_from_session(request: ConnectorRequest) -> str:
    await asyncio.sleep(0)
    return f"customer of {request.cookies['session']}"


async def noted(inputs: dict[str, Any], request: ConnectorRequest) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {**inputs, "note": "checked"}


async def summary(order: Order) -> str:
    await asyncio.sleep(0)
    return f"{order.item} for {order.customer} ({order.note})"


async def apologetic(errors: list[FoobaraError]) -> list[FoobaraError]:
    await asyncio.sleep(0)
    return [FoobaraError("sorry", f"Sorry: {errors[0].message}", "runtime")]


@pytest.mark.parametrize("door", ["run", "arun"])
def test_transformers_may_be_async_as_authenticators_may(door: str) -> None:
    """An async source, inputs function, result function or errors function is awaited (in
    sync code on its own event loop, as an async authenticator is), never used as its coroutine."""
    connector = Connector()
    options: dict[str, Any] = {"inputs": [{"set": {"customer": customer_from_session}}, noted], "errors": apologetic}
    connector.connect(PlaceOrder, **options, result=summary)
    connector.connect(Fail, **options)
    request = ConnectorRequest(cookies={"session": "ann"})

    def run(name: str, inputs: dict[str, Any]) -> Any:
        if door == "run":
            return connector.run(name, inputs, request)
        return asyncio.run(connector.arun(name, inputs, request))

    assert run("PlaceOrder", {"item": "pen"}).unwrap() == "pen for customer of ann (checked)"
    failed = run("Fail", {"item": "pen"})
    assert [(e.key, e.message) for e in failed.errors] == [("runtime.sorry", "Sorry: No pen left")]


@shop.command
class MaybeOrder(Command[OrderInputs, Order | None]):
    def execute(self) -> Order | None:
        return None if self.inputs.item == "nothing" else Order(**dict(self.inputs))


def test_the_result_schema_of_an_optional_model_follows_only_and_reject() -> None:
    """A result that may be null keeps null, and loses the attributes the connection takes away
    (a client checking the answer against the schema must not require them)."""
    connector = Connector()
    (connection,) = connector.connect(MaybeOrder, result={"reject": ["customer", "note"]})
    inputs = {"item": "pen", "customer": "ann"}
    assert connector.run("MaybeOrder", inputs).unwrap() == {"item": "pen", "quantity": 1}
    assert connector.run("MaybeOrder", {**inputs, "item": "nothing"}).unwrap() is None
    schema = connection.result_json_schema()
    assert schema["type"] == ["object", "null"]
    assert list(schema["properties"]) == ["item", "quantity"]
    assert schema["required"] == ["item", "quantity"]
