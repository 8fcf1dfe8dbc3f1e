"""Entities in the manifest are Ruby Foobara's: Lib::Lending built in Python gives Ruby's entries.

The domain is tests/fixtures/ruby_library/library.rb written in Python. Where a value must differ,
`expected_from_ruby` applies the difference to Ruby's value, in one place, with the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from foobara_py import Command, Domain, Entity, Organization, PossibleError, Sensitive, manifest, persistence, registry
from foobara_py.persistence.memory import MemoryStore
from foobara_py.possible_errors import BUILTIN_TYPES
from foobara_py.schema import inputs_json_schema, result_json_schema
from tests.conftest import load_fixture

RUBY = load_fixture("ruby_library", "manifest.json")
OUTCOMES = load_fixture("ruby_library", "outcomes.json")
OPTIONAL_AUTHOR = {"type": "Lib::Lending::Author", "allow_nil": True}
# Commands without inputs: foobara-py lists what a command refuses any input with; Ruby lists nothing.
NO_INPUTS_ERRORS = ["data.cannot_cast", "data.unexpected_attributes"]


@dataclass
class Library:
    lending: Domain
    author: type[Entity]
    book: type[Entity]
    commands: dict[str, type[Command[Any, Any]]]


def define_library() -> Library:
    """library.rb in Python."""
    lending = Domain("Lending", organization=Organization("Lib"))

    @lending.model
    class Author(Entity):
        id: int | None = None
        name: str

    @lending.model
    class Book(Entity):
        id: int | None = None
        title: str
        copies: int = 0
        author: Author | None = None

    class CreateAuthorInputs(BaseModel):
        name: str

    @lending.command
    class CreateAuthor(Command[CreateAuthorInputs, Author]):
        def execute(self) -> Author:
            return Author.create(name=self.inputs.name)

    class CreateBookInputs(BaseModel):
        title: str
        copies: int = 0
        author: Author | None = None

    @lending.command
    class CreateBook(Command[CreateBookInputs, Book]):
        def execute(self) -> Book:
            return Book.create(**dict(self.inputs))

    class BookInputs(BaseModel):
        book: Book

    @lending.command
    class FindBook(Command[BookInputs, Book]):
        def execute(self) -> Book:
            return self.inputs.book

    @lending.command
    class BorrowBook(Command[BookInputs, Book]):
        possible_errors = [
            PossibleError("no_copies_left", message="No copies left", context={"book_id": int, "copies": int})
        ]

        def execute(self) -> Book:
            book = self.inputs.book
            book.copies -= 1
            if book.copies < 0:
                self.add_runtime_error(
                    "no_copies_left",
                    f"No copies of {book.title} left",
                    context={"book_id": book.id, "copies": book.copies},
                )
            return book

    @lending.command
    class ListBooks(Command[None, list[Book]]):
        depends_on_entities = (Book,)

        def execute(self) -> list[Book]:
            return Book.all()

    commands: list[type[Command[Any, Any]]] = [CreateAuthor, CreateBook, FindBook, BorrowBook, ListBooks]
    return Library(lending, Author, Book, {command.full_name(): command for command in commands})


@pytest.fixture(scope="module")
def library() -> Iterator[Library]:
    with registry.isolated():
        defined = define_library()
        persistence.configure(MemoryStore("memory://"), entities=[defined.author, defined.book])
        yield defined


def expected_from_ruby(category: str, name: str, entry: dict[str, Any], *, connector: bool = False) -> dict[str, Any]:
    expected = copy.deepcopy(entry)
    if category == "type" and "target_classes" in expected and name in BUILTIN_TYPES:
        # Difference: target classes name Python classes, not Ruby's (`int` for `Integer`).
        expected["target_classes"] = BUILTIN_TYPES[name][1]
    if name == "Lib::Lending::Book":
        # Difference: an optional attribute is `X | None = None` in Python, so it allows nil (a
        # book's author can be set to None). The primary key, None only until the store
        # generates it, is declared `integer` as Ruby declares it.
        expected["attributes_type"]["element_type_declarations"]["author"] = OPTIONAL_AUTHOR
        expected["declaration_data"]["attributes_declaration"]["element_type_declarations"]["author"] = OPTIONAL_AUTHOR
    if name == "Lib::Lending::CreateBook":
        expected["inputs_type"]["element_type_declarations"]["author"] = OPTIONAL_AUTHOR
        # Difference: every entity input is loaded before validate_records (Ruby's `load_all`), so
        # each gets the error class Ruby gives a loaded input: one per command and input path.
        expected["possible_errors"]["data.author.not_found"]["error"] = "Lib::Lending::CreateBook::AuthorNotFoundError"
    if name == "Lib::Lending::BorrowBook::NoCopiesLeftError":
        # Difference: declared errors carry their message (docs/differences.md 17).
        expected["message"] = "No copies left"
    if name == "Lib::Lending::ListBooks":
        no_inputs = {key: manifest()["command"][name]["possible_errors"][key] for key in NO_INPUTS_ERRORS}
        expected = _insert_after(expected, "result_types_depended_on", "possible_errors", no_inputs)
        expected = _insert_after(expected, "result_types_depended_on", "errors_types_depended_on", _ERROR_TYPES)
    if connector and category == "command":
        # Ruby's connector adds serializers, lists a registered result type's dependencies instead
        # of the type, and keeps empty lists (docs/differences.md 22): `manifest(...)` gives the
        # command's own manifest (the connector test checks that).
        expected = expected_from_ruby(category, name, RUBY["commands"][name])
    return expected


_ERROR_TYPES = ["array", "attributes", "duck", "symbol"]
CONNECTOR_QUIRKS = {"serializers", "types_depended_on", "result_types_depended_on"}


def _insert_after(entry: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    items = list(entry.items())
    index = list(entry).index(after) + 1
    return dict([*items[:index], (key, value), *items[index:]])


def differences(category: str, ours: dict[str, Any], ruby: dict[str, Any], *, connector: bool = False) -> list[str]:
    """Every entry of Ruby's, key by key, against ours (with the same keys, in Ruby's order)."""
    problems = []
    for name, entry in ruby.items():
        mine = ours.get(name)
        if mine is None:
            problems.append(f"{category} {name}: missing")
            continue
        expected = expected_from_ruby(category, name, entry, connector=connector)
        # Ruby's connector sorts some entries' keys: only its own manifests show its order.
        if (list(mine) if not connector else set(mine)) != (list(expected) if not connector else set(expected)):
            problems.append(f"{category} {name} keys: {list(mine)} != {list(expected)}")
        problems.extend(
            f"{category} {name} {key}: {mine.get(key)!r} != {value!r}"
            for key, value in expected.items()
            if mine.get(key) != value
        )
    return problems


def test_entity_types_match_rubys(library: Library) -> None:
    ours = manifest()["type"]
    ruby = {name: entity["type_foobara_manifest"] for name, entity in RUBY["entity_types"].items()}
    assert differences("type", ours, ruby) == []
    for name, entity in RUBY["entity_types"].items():
        assert list(ours[name]) == entity["entity_class_manifest_keys"]
        assert ours[name]["primary_key_attribute"] == entity["primary_key_attribute"]
        assert ours[name].get("associations", {}) == entity["associations"]


def test_entity_types_declare_the_primary_key_as_ruby_does(library: Library) -> None:
    book = manifest()["type"]["Lib::Lending::Book"]
    assert book["declaration_data"]["type"] == book["base_type"] == "entity"
    assert book["declaration_data"]["primary_key"] == "id"
    # `id: int | None = None`: neither required nor nil-able, as in Ruby.
    assert book["attributes_type"]["element_type_declarations"]["id"] == "integer"
    assert "id" not in book["attributes_type"]["required"]
    assert book["primary_key_type"] == "integer"
    # A value for an entity is its primary key: its attributes' errors are not its own.
    assert list(book["possible_errors"]) == ["data.cannot_cast"]


def test_commands_match_rubys(library: Library) -> None:
    assert differences("command", manifest()["command"], RUBY["commands"]) == []


def test_possible_error_keys_match_rubys(library: Library) -> None:
    for name, keys in RUBY["possible_errors"].items():
        expected = NO_INPUTS_ERRORS if name == "Lib::Lending::ListBooks" else keys
        assert sorted(manifest()["command"][name]["possible_errors"]) == sorted(expected), name


def test_the_connector_manifest_matches_rubys(library: Library) -> None:
    ruby = RUBY["http_connector_manifest"]
    # Ruby's connector lists commands as their own manifests list them but for its quirks, so those
    # are what ours are compared with (see expected_from_ruby).
    for name, entry in ruby["command"].items():
        full = RUBY["commands"][name]
        different = {key for key in entry.keys() | full.keys() if entry.get(key) != full.get(key)}
        kept_empty = {key for key in different if entry.get(key) in ([], {}) and key not in full}
        assert different - kept_empty <= CONNECTOR_QUIRKS, name
    ours = manifest(library.lending, remove_sensitive=True)
    for category, entries in ruby.items():
        assert differences(category, ours[category], entries, connector=True) == []
    # The not_found errors' base and its base are there, as in Ruby.
    assert ours["error"]["Foobara::Entity::NotFoundError"] == ruby["error"]["Foobara::Entity::NotFoundError"]
    extra = {category: sorted(set(ours[category]) - set(ruby[category])) for category in ruby}
    assert extra == {
        "command": [],
        "domain": [],
        # CreateBook's author is loaded like every entity input (see expected_from_ruby).
        "error": ["Lib::Lending::CreateBook::AuthorNotFoundError"],
        "organization": [],
        "type": [],
    }


def ruby_case(command: str, case: str) -> dict[str, Any]:
    return next(record for record in OUTCOMES[command] if record["case"] == case)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["Lib::Lending::FindBook", "Lib::Lending::BorrowBook"])
def test_a_missing_record_fails_as_the_manifest_declares(library: Library, name: str) -> None:
    outcome = library.commands[name].run(book=999)
    error = outcome.to_dict()["errors"][0]
    ruby = ruby_case(name, "not_found")
    assert {error["key"]: error} == ruby["errors_hash"]
    # The manifest lists the key, and its error class has the context the run gives.
    ours = manifest()
    declared = ours["command"][name]["possible_errors"][error["key"]]
    assert declared["path"] == error["path"] and declared["symbol"] == error["symbol"]
    error_class = ours["error"][declared["error"]]
    assert error_class["error_class"] == ruby["errors"][0]["ruby_class"]
    assert error_class["base_error"] == ruby["errors"][0]["ruby_ancestors"][1]
    assert set(error_class["context_type_declaration"]["element_type_declarations"]) == set(error["context"])
    assert error_class["is_fatal"] is error["is_fatal"] is False


def test_a_command_with_depends_on_entities_depends_on_their_types(library: Library) -> None:
    entry = manifest()["command"]["Lib::Lending::ListBooks"]
    assert entry["types_depended_on"] == RUBY["commands"]["Lib::Lending::ListBooks"]["types_depended_on"]


# --------------------------------------------------------------------------------------------
# Entities inside models, lists and tuples; associations


@dataclass
class Shelves:
    shelf: type[Entity]
    employee: type[Entity]
    place: type[Command[Any, Any]]


@pytest.fixture(scope="module")
def shelves() -> Iterator[Shelves]:
    with registry.isolated():
        library = define_library()
        author, book = library.author, library.book
        storage = Domain("Storage", organization=Organization("Lib"))
        storage.add_dependency(library.lending)

        class Shelf(Entity, primary_key="code"):
            code: str
            books: list[book] = []  # type: ignore[valid-type]
            owner: author | None = None  # type: ignore[valid-type]
            keeper: Annotated[author | None, Sensitive] = None  # type: ignore[valid-type]

        class Employee(Entity):
            id: int | None = None
            manager: Employee | None = None
            shelf: Shelf | None = None

        Employee.model_rebuild()
        storage.model(Shelf)
        storage.model(Employee)

        class Spot(BaseModel):
            shelf: Shelf
            favorite: book | None = None  # type: ignore[valid-type]

        class PlaceInputs(BaseModel):
            books: list[book]  # type: ignore[valid-type]
            spot: Spot
            pair: tuple[author, int]  # type: ignore[valid-type]
            note: str = ""

        @storage.command
        class Place(Command[PlaceInputs, Shelf]):
            def execute(self) -> Shelf:
                return self.inputs.spot.shelf

        store = MemoryStore("memory://")
        persistence.configure(store, entities=[author, book, Shelf, Employee])
        yield Shelves(Shelf, Employee, Place)


def test_entity_inputs_inside_models_lists_and_tuples_may_be_not_found(shelves: Shelves) -> None:
    entry = manifest()["command"]["Lib::Storage::Place"]
    assert sorted(entry["possible_errors"]) == [
        "data.books.#.cannot_cast",
        "data.books.#.not_found",
        "data.books.cannot_cast",
        "data.books.missing_required_attribute",
        "data.cannot_cast",
        "data.missing_required_attribute",
        "data.note.cannot_cast",
        "data.pair.0.cannot_cast",
        "data.pair.0.not_found",
        "data.pair.1.cannot_cast",
        "data.pair.cannot_cast",
        "data.pair.incorrect_tuple_size",
        "data.pair.missing_required_attribute",
        "data.spot.cannot_cast",
        "data.spot.favorite.cannot_cast",
        "data.spot.favorite.not_found",
        "data.spot.missing_required_attribute",
        "data.spot.shelf.cannot_cast",
        "data.spot.shelf.missing_required_attribute",
        "data.spot.shelf.not_found",
        "data.spot.unexpected_attributes",
        "data.unexpected_attributes",
    ]
    errors = {key: value["error"] for key, value in entry["possible_errors"].items() if key.endswith("not_found")}
    # Named by their paths, as Ruby names them (`#` is "Collection").
    assert errors == {
        "data.books.#.not_found": "Lib::Storage::Place::BooksCollectionNotFoundError",
        "data.pair.0.not_found": "Lib::Storage::Place::Pair0NotFoundError",
        "data.spot.favorite.not_found": "Lib::Storage::Place::SpotFavoriteNotFoundError",
        "data.spot.shelf.not_found": "Lib::Storage::Place::SpotShelfNotFoundError",
    }
    assert manifest()["error"]["Lib::Storage::Place::SpotShelfNotFoundError"]["parent"] == [
        "command",
        "Lib::Storage::Place",
    ]


def test_a_missing_record_in_a_list_is_the_declared_not_found(shelves: Shelves) -> None:
    outcome = shelves.place.run(books=[999], spot={"shelf": "nowhere"}, pair=[998, 1])
    declared = manifest()["command"]["Lib::Storage::Place"]["possible_errors"]
    # A list's index is `#` in the manifest, as for every error inside a list.
    runtime_to_declared = {
        "data.books.0.not_found": "data.books.#.not_found",
        "data.pair.0.not_found": "data.pair.0.not_found",
        "data.spot.shelf.not_found": "data.spot.shelf.not_found",
    }
    assert sorted(outcome.error_keys) == sorted(runtime_to_declared)
    for error in outcome.errors:
        entry = declared[runtime_to_declared[error.key]]
        assert entry["symbol"] == error.symbol and entry["category"] == error.category


def test_associations_are_paths_to_entities(shelves: Shelves) -> None:
    types = manifest()["type"]
    shelf = types["Lib::Storage::Shelf"]
    assert shelf["associations"] == {
        "books.#": "Lib::Lending::Book",
        "keeper": "Lib::Lending::Author",
        "owner": "Lib::Lending::Author",
    }
    assert shelf["deep_associations"] == {
        "books.#": "Lib::Lending::Book",
        "books.#.author": "Lib::Lending::Author",
        "keeper": "Lib::Lending::Author",
        "owner": "Lib::Lending::Author",
    }
    # In attribute order, and by depth then path, as Ruby lists them.
    assert shelf["depends_on"] == ["Lib::Lending::Book", "Lib::Lending::Author"]
    assert shelf["deep_depends_on"] == ["Lib::Lending::Author", "Lib::Lending::Book"]
    assert shelf["primary_key_attribute"] == "code"
    assert shelf["primary_key_type"] == "string"
    assert shelf["declaration_data"]["primary_key"] == "code"
    # An entity that leads back to itself ends there.
    employee = types["Lib::Storage::Employee"]
    assert employee["associations"] == {"manager": "Lib::Storage::Employee", "shelf": "Lib::Storage::Shelf"}
    assert employee["deep_associations"] == {
        "manager": "Lib::Storage::Employee",
        "shelf": "Lib::Storage::Shelf",
        "shelf.books.#": "Lib::Lending::Book",
        "shelf.books.#.author": "Lib::Lending::Author",
        "shelf.keeper": "Lib::Lending::Author",
        "shelf.owner": "Lib::Lending::Author",
    }


def test_a_sensitive_association_is_left_out_of_connector_manifests(shelves: Shelves) -> None:
    shelf = manifest(shelves.place, remove_sensitive=True)["type"]["Lib::Storage::Shelf"]
    assert "keeper" not in shelf["associations"] and "keeper" not in shelf["deep_associations"]
    assert "keeper" not in shelf["attributes_type"]["element_type_declarations"]


# --------------------------------------------------------------------------------------------
# JSON Schema (a connector's inputSchema) of entities: a primary key, or attributes


def is_valid(schema: dict[str, Any], data: Any) -> bool:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema).is_valid(data)


def test_an_entity_input_takes_a_primary_key_or_a_new_records_attributes(library: Library) -> None:
    find_book = inputs_json_schema(library.commands["Lib::Lending::FindBook"])
    assert is_valid(find_book, {"book": 5})
    assert is_valid(find_book, {"book": {"title": "Kindred", "author": 4}})
    assert is_valid(find_book, {"book": {"title": "Kindred", "author": {"name": "Octavia Butler"}}})
    assert not is_valid(find_book, {"book": None})  # the key is never null, though `id: int | None`
    assert not is_valid(find_book, {"book": "five"})
    assert not is_valid(find_book, {"book": {"copies": 1}})
    create_book = inputs_json_schema(library.commands["Lib::Lending::CreateBook"])
    assert is_valid(create_book, {"title": "Kindred", "author": 4})
    assert is_valid(create_book, {"title": "Kindred", "author": None})


def test_an_entity_result_holds_the_records_it_refers_to_as_keys(library: Library) -> None:
    create_author = library.commands["Lib::Lending::CreateAuthor"]
    create_book = library.commands["Lib::Lending::CreateBook"]
    author = create_author.run(name="Octavia Butler").result
    create_book.run(title="Kindred", copies=1, author=author.id)
    list_books = library.commands["Lib::Lending::ListBooks"]
    books = list_books.run().to_dict()["result"]
    assert books and all(isinstance(book["author"], int) for book in books if "author" in book)
    assert is_valid(result_json_schema(list_books), books)


def test_a_string_primary_key_is_a_string_in_the_schema(shelves: Shelves) -> None:
    schema = inputs_json_schema(shelves.place)
    inputs = {"books": [1], "spot": {"shelf": "A-1", "favorite": 2}, "pair": [3, 4]}
    assert is_valid(schema, inputs)
    assert not is_valid(schema, {**inputs, "spot": {"shelf": 1}})
