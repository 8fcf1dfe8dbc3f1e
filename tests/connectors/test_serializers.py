"""Serializers: atomic (the default) and aggregate, against Ruby's Rack connector on Lib::Lending.

tests/fixtures/ruby_library/http.json holds Ruby's answers, in the order it was asked. The same
requests, in the same order, go to our HTTP door on uvicorn, on the same rows. Ruby's
`serializers: [AggregateSerializer]` alone raises NoTransactionOpenError (it loads the records
after the transaction is over); ours loads them before the commit, so both of our aggregate
options answer what Ruby's `aggregate_entities: true` answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from foobara_py import Command, Domain, Entity, Organization, persistence, registry
from foobara_py.connectors import AGGREGATE_SERIALIZERS, SERIALIZERS, Connector
from foobara_py.persistence.memory import MemoryStore
from tests.conftest import load_fixture
from tests.connectors.serving import serve
from tests.test_manifest_entities import Library, define_library

RUBY_HTTP: list[dict[str, Any]] = load_fixture("ruby_library", "http.json")
RUBY_MANIFEST = load_fixture("ruby_library", "manifest.json")
RUBY_ROWS = load_fixture("ruby_library", "outcomes.json")["crud_driver_rows_after_outcomes"]
DEFAULT = "Http::Rack.new; connect(Lib::Lending) (default serializers)"
AGGREGATE_ALONE = "Http::Rack.new; connect(FindBook/ListBooks, serializers: [AggregateSerializer])"
# Ruby raises where foobara-py answers; the answer Ruby gives once the records are loaded in time.
ANSWERED_LIKE = {
    "find_book_aggregate_serializer": "find_book_aggregate_entities_true",
    "list_books_aggregate_serializer": "list_books_aggregate_entities_true",
}


@pytest.fixture
def library() -> Iterator[Library]:
    """Lib::Lending with the rows Ruby's capture had made before its HTTP requests."""
    with registry.isolated():
        defined = define_library()
        store = persistence.configure(MemoryStore("memory://"), entities=[defined.author, defined.book])
        create_author = defined.commands["Lib::Lending::CreateAuthor"]
        create_book = defined.commands["Lib::Lending::CreateBook"]
        for row in RUBY_ROWS["Lib::Lending::Author"]:
            assert create_author.run(name=row["name"]).unwrap().id == row["id"]
        for row in RUBY_ROWS["Lib::Lending::Book"]:
            inputs = {key: value for key, value in row.items() if key != "id"}
            assert create_book.run(**inputs).unwrap().id == row["id"]
        yield defined
        persistence.reset()
        store.close()


def connectors(library: Library) -> dict[str, Connector]:
    """Each of Ruby's connectors, as foobara-py connects it."""
    find_book, list_books = (library.commands[f"Lib::Lending::{name}"] for name in ("FindBook", "ListBooks"))
    aggregate = Connector()
    aggregate.connect(find_book, serializer="aggregate")
    aggregate.connect(list_books, serializer="aggregate")
    entities = Connector()
    entities.connect(find_book, aggregate_entities=True)
    entities.connect(list_books, aggregate_entities=True)
    return {
        DEFAULT: Connector(library.lending),
        AGGREGATE_ALONE: aggregate,
        f"{AGGREGATE_ALONE[:-1]}, pre_commit_transformers: [LoadAggregatesPreCommitTransformer])": entities,
        "Http::Rack.new; connect(FindBook/ListBooks, aggregate_entities: true)": entities,
    }


def expected(case: dict[str, Any]) -> tuple[int, Any]:
    if case["case"] in ANSWERED_LIKE:
        assert case["exception"] == "Foobara::Persistence::NoTransactionOpenError"
        case = next(c for c in RUBY_HTTP if c["case"] == ANSWERED_LIKE[case["case"]])
    if case["case"] == "list_books_unexpected_input":
        # Ruby raises NoMethodError for an input to a command without inputs: we refuse it
        # (docs/differences.md, "Quirks we do not copy").
        assert case["exception"] == "NoMethodError"
        return 422, ["data.unexpected_attributes"]
    return case["status"], case["body_json"]


def test_every_answer_of_rubys_rack_connector_atomic_and_aggregate(library: Library) -> None:
    apps = {name: connector.asgi(mcp=False) for name, connector in connectors(library).items()}
    with serve(_Dispatch(apps)) as url, httpx.Client(base_url=url, timeout=30) as client:
        for case in RUBY_HTTP:
            request = case["request"]
            response = client.request(
                request["method"],
                request["path"],
                content=request["body"],
                headers={"content-type": "application/json", "x-connector": case["connector"]},
            )
            status, body = expected(case)
            answer = response.json()
            if case["case"] == "list_books_unexpected_input":
                answer = [error["key"] for error in answer]
            elif status == 422 and case["case"] in ("find_book_wrong_type_primary_key", "create_book_bad_input"):
                # Our cast messages are our own (docs/differences.md): the keys and paths are Ruby's.
                answer = [(e["key"], e["path"]) for e in answer]
                body = [(e["key"], e["path"]) for e in body]
            assert (case["case"], response.status_code, answer) == (case["case"], status, body)


class _Dispatch:
    """One server for Ruby's several connectors: the `x-connector` header picks the app."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        await self.apps[headers[b"x-connector"].decode()](scope, receive, send)


def test_aggregate_loads_the_records_inside_the_commands_transaction(library: Library) -> None:
    """FindBook never reads the book's author: it is loaded before the commit, in the run's own
    transaction (Ruby's plain AggregateSerializer, loading it afterwards, fails)."""
    connector = Connector()
    connector.connect(library.commands["Lib::Lending::FindBook"], serializer="aggregate")
    connector.connect(library.commands["Lib::Lending::ListBooks"], aggregate_entities=True)
    atomic = Connector(library.lending)
    book = {"id": 1, "copies": 0, "title": "A Wizard of Earthsea"}
    ursula = {"id": 1, "name": "Ursula K. Le Guin"}
    assert connector.run("FindBook", {"book": 1}).unwrap() == {**book, "author": ursula}
    assert asyncio.run(connector.arun("FindBook", {"book": "1"})).unwrap() == {**book, "author": ursula}
    assert atomic.run("FindBook", {"book": 1}).to_dict()["result"] == {**book, "author": 1}
    books = connector.run("ListBooks").unwrap()
    assert [b.get("author") for b in books] == [ursula, ursula, None, {"id": 3, "name": "New Author"}]
    assert connector.run("FindBook", {"book": 99}).error_keys == ["data.book.not_found"]


def test_the_manifest_names_rubys_serializers(library: Library) -> None:
    ruby = RUBY_MANIFEST["connector_command_entry_find_book"]
    find_book = library.commands["Lib::Lending::FindBook"]
    for serializer, ruby_case in (("atomic", "default_serializers"), ("aggregate", "aggregate_entities_true")):
        connector = Connector()
        connector.connect(find_book, serializer=serializer)
        entry = connector.manifest()["command"]["Lib::Lending::FindBook"]
        assert entry["serializers"] == ruby[ruby_case]["serializers"]
        assert entry.get("pre_commit_transformers") == ruby[ruby_case].get("pre_commit_transformers")
    assert list(SERIALIZERS) == ruby["default_serializers"]["serializers"]
    assert list(AGGREGATE_SERIALIZERS) == ruby["aggregate_entities_true"]["serializers"]


def test_an_unknown_serializer_is_refused_when_connecting(library: Library) -> None:
    with pytest.raises(ValueError, match="atomic' or 'aggregate"):
        Connector().connect(library.commands["Lib::Lending::FindBook"], serializer="yaml")


def test_result_only_and_reject_shape_the_schema_of_a_record_referring_to_its_own_type() -> None:
    """Such a record's schema is a reference to its type: the attributes the connection takes
    away leave the answer's schema, and the type stays whole for the references in it."""
    with registry.isolated():
        people = Domain("People", organization=Organization("SerializerTests"))

        @people.model
        class Person(Entity):
            id: int | None = None
            name: str
            friend: Person | None = None

        class PersonInputs(BaseModel):
            person: Person

        @people.command
        class FindPerson(Command[PersonInputs, Person]):
            def execute(self) -> Person:
                return self.inputs.person

        (connection,) = Connector().connect(FindPerson, result={"reject": ["friend"]})
        schema = connection.result_json_schema()
    assert list(schema["properties"]) == ["id", "name"]
    person = schema["$defs"]["SerializerTests.People.Person"]
    assert "friend" in next(member for member in person["anyOf"] if member.get("type") == "object")["properties"]
