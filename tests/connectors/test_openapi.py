"""The OpenAPI document of a connector: valid OpenAPI 3.1, one path per connected command and none
for the rest, the same schemas and possible errors as the manifest, served at `/openapi.json`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from foobara_py import Command, Domain, Model, Organization, registry
from foobara_py.connectors import Connector
from foobara_py.connectors.openapi import openapi_document
from foobara_py.schema import inputs_json_schema, result_json_schema
from tests import acme
from tests.connectors import sample
from tests.connectors.serving import serve
from tests.persistence import library

ERROR_KEYS = {"key", "path", "runtime_path", "category", "symbol", "message", "context", "is_fatal"}


def document_of(connector: Connector, **options: Any) -> dict[str, Any]:
    document = openapi_document(connector, **options)
    validate(document)  # raises on an invalid document
    json.dumps(document)  # and it is plain JSON
    return document


def refs_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from refs_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs_in(item)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for token in ref[2:].split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_acme_document_is_valid_openapi_with_a_path_per_command() -> None:
    document = document_of(Connector(acme.acme))
    assert document["openapi"].startswith("3.1")
    assert list(document["paths"]) == [
        "/run/Acme::Math::Add",
        "/run/Acme::Math::Divide",
        "/run/Acme::Math::CreateUser",
        "/run/Acme::Math::RegisterUser",
    ]
    for ref in refs_in(document):
        assert resolve(document, ref) is not None
    error = document["components"]["schemas"]["FoobaraError"]
    assert set(error["properties"]) == set(error["required"]) == ERROR_KEYS


def test_a_command_operation_has_its_schemas_description_and_possible_errors() -> None:
    connector = Connector(acme.acme)
    document = document_of(connector)
    add = document["paths"]["/run/Acme::Math::Add"]
    assert list(add) == ["post"]
    operation = add["post"]
    assert operation["operationId"] == "Acme__Math__Add"
    assert operation["summary"] == operation["description"] == "Adds two integers"
    assert operation["tags"] == ["Acme::Math"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == inputs_json_schema(acme.Add, remove_sensitive=True)
    responses = operation["responses"]
    assert set(responses) == {"200", "400", "413", "415", "422", "500"}  # no records loaded: no 404
    assert responses["200"]["content"]["application/json"]["schema"] == result_json_schema(acme.Add)
    errors_schema = {"type": "array", "items": {"$ref": "#/components/schemas/FoobaraError"}}
    assert responses["422"]["content"]["application/json"]["schema"] == errors_schema
    manifest = connector.manifest()["command"]
    for name, path in document["paths"].items():
        listed = path["post"]["responses"]["422"]["x-foobara-possible-errors"]
        assert listed == sorted(manifest[name.removeprefix("/run/")]["possible_errors"])
    divide = document["paths"]["/run/Acme::Math::Divide"]["post"]["responses"]["422"]
    assert "runtime.division_by_zero" in divide["x-foobara-possible-errors"]
    assert "`runtime.division_by_zero`" in divide["description"]
    for name in ("BadRequest", "TooLarge", "UnexpectedError"):
        shared = document["components"]["responses"][name]
        assert shared["content"]["application/json"]["schema"] == errors_schema


def test_only_connected_commands_have_a_path() -> None:
    document = document_of(Connector(acme.Add, sample.Add))
    assert list(document["paths"]) == ["/run/Acme::Math::Add", "/run/ConnectorTests::Other::Add"]
    text = json.dumps(document)
    assert "Divide" not in text and "CreateUser" not in text
    ids = [path["post"]["operationId"] for path in document["paths"].values()]
    assert all(i.isidentifier() for i in ids) and len(set(ids)) == len(ids)


def test_a_command_with_an_entity_input_answers_404_for_a_record_not_found() -> None:
    document = document_of(Connector(library.FindBook))
    assert list(document["paths"]) == ["/run/Test::Shelf::FindBook"]
    responses = document["paths"]["/run/Test::Shelf::FindBook"]["post"]["responses"]
    assert "`data.book.not_found`" in responses["404"]["description"]
    assert responses["404"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/FoobaraError"
    }
    assert "data.book.not_found" in responses["422"]["x-foobara-possible-errors"]


def test_a_sensitive_input_is_write_only_and_a_sensitive_result_attribute_left_out() -> None:
    document = document_of(Connector(sample.SignIn))
    operation = document["paths"]["/run/ConnectorTests::Tools::SignIn"]["post"]
    inputs = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(inputs["properties"]) == {"username", "password"}  # a client can call the command
    assert inputs["properties"]["password"] == {"type": "string", "writeOnly": True}  # no default, no example
    text = json.dumps(document)
    assert "token" not in text
    assert '"example' not in text  # no example values at all, so none that could be a secret


def test_a_recursive_model_is_defined_once_in_components() -> None:
    with registry.isolated():
        trees = Domain("Trees", organization=Organization("Woods"))

        @trees.model
        class Node(Model):
            label: str
            children: list[Node] = []

        class Plant(BaseModel):
            root: Node

        @trees.command
        class Grow(Command[Plant, Node]):
            def execute(self) -> Node:
                return self.inputs.root

        @trees.command
        class Prune(Command[Plant, Node]):
            def execute(self) -> Node:
                return Node(label=self.inputs.root.label)

        document = document_of(Connector(trees))
    text = json.dumps(document)
    assert "$defs" not in text
    node = document["components"]["schemas"]["Woods.Trees.Node"]
    assert node["properties"]["children"]["items"]["$ref"] == "#/components/schemas/Woods.Trees.Node"
    for name in ("Grow", "Prune"):
        operation = document["paths"][f"/run/Woods::Trees::{name}"]["post"]
        inputs = operation["requestBody"]["content"]["application/json"]["schema"]
        assert inputs["properties"]["root"]["$ref"] == "#/components/schemas/Woods.Trees.Node"
    for ref in refs_in(document):
        assert resolve(document, ref) is not None


def test_the_server_url_is_the_documents_server() -> None:
    assert "servers" not in document_of(Connector(acme.acme))
    document = document_of(Connector(acme.acme), server_url="https://example.test/api")
    assert document["servers"] == [{"url": "https://example.test/api"}]


@pytest.mark.parametrize(("prefix", "server_url"), [("", None), ("/api", "/api")])
def test_openapi_json_is_served_over_http(prefix: str, server_url: str | None) -> None:
    connector = Connector(acme.acme, library.FindBook)
    with serve(connector.asgi(prefix=prefix, mcp=False)) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.get(f"{prefix}/openapi.json")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == document_of(connector, server_url=server_url)
        # A documented path is a real one: the document's Add answers as it says.
        added = client.post(f"{prefix}/run/Acme::Math::Add", json={"a": 1, "b": 2})
        assert (added.status_code, added.json()) == (200, 3)
        posted = client.post(f"{prefix}/openapi.json")
        assert posted.status_code == 405
