"""Entities, transactions and concurrency: the same tests on every store."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from foobara_py import AsyncCommand, Command, Entity, NotFoundError, persistence, transaction
from foobara_py.errors import FrameworkUsageError
from foobara_py.persistence import NoTransactionOpenError
from tests.persistence.library import (
    ABorrowBook,
    ACreateBook,
    AIncrement,
    Author,
    Book,
    BookInputs,
    BorrowBook,
    CountCopies,
    Counter,
    CreateAuthor,
    CreateBook,
    CreateBookInputs,
    Document,
    FindBook,
    Folder,
    Increment,
    Isbn,
    ListBooks,
    Member,
    Series,
)

# How each store under test is reached: a URL for `persistence.configure`, per test.
STORE_URLS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "memory": lambda request, tmp_path: "memory://",
    "sqlite": lambda request, tmp_path: f"sqlite:///{tmp_path}/library.db",
    "postgresql": lambda request, tmp_path: request.getfixturevalue("postgres_database"),
    "redis": lambda request, tmp_path: request.getfixturevalue("redis_db_url"),
}


@pytest.fixture(params=list(STORE_URLS), autouse=True)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store in turn, empty, configured as the default for every entity."""
    url = STORE_URLS[request.param](request, tmp_path)
    store = persistence.configure(url)
    yield url
    persistence.reset()
    store.close()


def books() -> list[dict[str, Any]]:
    with transaction():
        return [{"id": b.id, "title": b.title, "copies": b.copies} for b in Book.all()]


# --------------------------------------------------------------------------------------------
# Records through commands


def test_a_created_record_gets_a_generated_key_and_is_stored() -> None:
    author = CreateAuthor.run(name="Ursula K. Le Guin").unwrap()
    assert author.id is not None
    outcome = CreateBook.run(title="A Wizard of Earthsea", copies=2, author=author.id)
    assert outcome.to_dict()["result"] == {
        "id": outcome.unwrap().id,
        "title": "A Wizard of Earthsea",
        "copies": 2,
        "author": author.id,
    }
    with transaction():
        book = Book.load(outcome.unwrap().id)
        assert (book.title, book.copies, book.author.name) == ("A Wizard of Earthsea", 2, "Ursula K. Le Guin")


def test_an_entity_input_takes_a_key_or_a_string_of_digits_and_is_loaded() -> None:
    book = CreateBook.run(title="Kindred", copies=1).unwrap()
    for given in (book.id, str(book.id)):
        found = FindBook.run(book=given)
        assert found.is_success(), found.errors_sentence
        assert found.to_dict()["result"] == {"id": book.id, "title": "Kindred", "copies": 1}


def test_a_missing_record_is_a_not_found_error_with_rubys_context() -> None:
    outcome = FindBook.run(book=999)
    assert outcome.errors_hash == {
        "data.book.not_found": {
            "key": "data.book.not_found",
            "path": ["book"],
            "runtime_path": [],
            "category": "data",
            "symbol": "not_found",
            "message": "Could not find Test::Shelf::Book for 999",
            "context": {"entity_class": "Test::Shelf::Book", "criteria": 999, "data_path": "book"},
            "is_fatal": False,
        }
    }


def test_a_key_of_the_wrong_type_cannot_be_cast() -> None:
    for bad in ("abc", 1.5, [1]):
        outcome = FindBook.run(book=bad)
        assert outcome.error_keys == ["data.book.cannot_cast"]
        error = outcome.errors[0]
        assert error.context == {"cast_to": "Test::Shelf::Book", "value": bad}
        assert (
            error.message.startswith(f"At book: Cannot cast {bad!r}".replace("'", '"'))
            or "Cannot cast" in error.message
        )


def test_attributes_for_an_entity_input_make_a_new_record() -> None:
    outcome = CreateBook.run(title="T2", author={"name": "New Author"})
    assert outcome.is_success(), outcome.errors_sentence
    with transaction():
        assert Author.find_by(name="New Author") is not None


def test_a_list_of_records_is_loaded_in_one_query() -> None:
    ids = [CreateBook.run(title=f"B{n}", copies=n).unwrap().id for n in range(5)]
    store = persistence.store_for(Book)
    calls: list[int] = []
    session_class = type(store.session())
    real_get_many = session_class.get_many

    def counting(self: Any, table: Any, keys: Any) -> Any:
        calls.append(len(keys))
        return real_get_many(self, table, keys)

    session_class.get_many = counting  # type: ignore[method-assign]
    try:
        outcome = CountCopies.run(books=ids)
    finally:
        session_class.get_many = real_get_many  # type: ignore[method-assign]
    assert outcome.unwrap() == 0 + 1 + 2 + 3 + 4
    assert calls == [5]


def test_missing_records_in_a_list_each_get_their_path() -> None:
    real = CreateBook.run(title="Real").unwrap().id
    outcome = CountCopies.run(books=[real, 998, 999])
    assert outcome.error_keys == ["data.books.1.not_found", "data.books.2.not_found"]


def test_records_are_loaded_before_validate_records() -> None:
    seen: list[Any] = []

    class Inputs(BaseModel):
        book: Book

    class PeekBook(Command[Inputs, int]):
        def validate_records(self) -> None:
            seen.append(self.inputs.book.is_loaded)
            if self.inputs.book.copies > 5:
                self.add_input_error("book", "too_many_copies", "Too many")

        def execute(self) -> int:
            return self.inputs.book.copies

    many = CreateBook.run(title="Many", copies=9).unwrap().id
    assert PeekBook.run(book=many).error_keys == ["data.book.too_many_copies"]
    assert seen == [True]


# --------------------------------------------------------------------------------------------
# Transactions


def test_a_runtime_error_after_a_change_rolls_it_back() -> None:
    book = CreateBook.run(title="Earthsea", copies=1).unwrap().id
    assert BorrowBook.run(book=book).unwrap().copies == 0
    failed = BorrowBook.run(book=book)
    assert failed.error_keys == ["runtime.no_copies_left"]
    assert failed.errors[0].context == {"book_id": book, "copies": -1}
    assert FindBook.run(book=book).unwrap().copies == 0


def test_an_exception_rolls_back_created_records() -> None:
    class CreateThenCrash(Command[None, None]):
        depends_on_entities = (Book,)

        def execute(self) -> None:
            Book.create(title="Ghost")
            raise RuntimeError("boom")

    outcome = CreateThenCrash.run()
    assert outcome.error_keys == ["runtime.execution_error"]
    assert books() == []


async def test_an_async_command_commits_and_rolls_back() -> None:
    book = (await ACreateBook.run(title="Dune", copies=1)).unwrap()
    assert (await ABorrowBook.run(book=book.id)).unwrap().copies == 0
    assert (await ABorrowBook.run(book=book.id)).error_keys == ["runtime.no_copies_left"]
    async with transaction():
        assert (await Book.aload(book.id)).copies == 0


async def test_a_cancelled_async_command_leaves_no_trace() -> None:
    started = asyncio.Event()

    class SlowCreate(AsyncCommand[None, None]):
        depends_on_entities = (Book,)

        async def execute(self) -> None:
            await Book.acreate(title="Never")
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(SlowCreate.run())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with transaction():
        assert await Book.acount() == 0


def test_subcommands_join_their_callers_transaction() -> None:
    class Shelve(Command[None, int]):
        depends_on = (FindBook,)
        depends_on_entities = (Book,)

        def execute(self) -> int:
            book = Book.create(title="Inner", copies=3)
            found = self.run_subcommand(FindBook, book=book.id)  # sees the uncommitted record
            assert found is book
            found.copies = 4
            self.add_runtime_error("nope", "changed my mind")
            return 0

    outcome = Shelve.run()
    assert outcome.error_keys == ["runtime.nope"]
    assert books() == []


def test_transaction_blocks_commit_or_roll_back() -> None:
    with transaction():
        Book.create(title="Kept")

    def dropped() -> None:
        with transaction():
            Book.create(title="Dropped")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        dropped()
    assert [b["title"] for b in books()] == ["Kept"]


async def test_async_transaction_blocks_commit_or_roll_back() -> None:
    async with transaction():
        await Book.acreate(title="Kept")

    async def dropped() -> None:
        async with transaction():
            await Book.acreate(title="Dropped")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await dropped()
    async with transaction():
        assert [b.title for b in await Book.aall()] == ["Kept"]


def test_a_command_run_inside_a_block_joins_it() -> None:

    def joined() -> None:
        with transaction():
            CreateBook.run(title="Joined").unwrap()
            raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        joined()
    assert books() == []


def test_records_need_a_transaction() -> None:
    with pytest.raises(NoTransactionOpenError, match="needs a transaction"):
        Book.load(1)


def test_an_association_not_loaded_in_the_transaction_cannot_be_read_after_it() -> None:
    author = CreateAuthor.run(name="Octavia Butler").unwrap().id
    book = CreateBook.run(title="Kindred", author=author).unwrap().id
    with transaction():
        loaded = Book.load(book)
    assert loaded.title == "Kindred"
    with pytest.raises(NoTransactionOpenError, match="not loaded"):
        _ = loaded.author.name  # type: ignore[union-attr]
    assert loaded.author.id == author  # type: ignore[union-attr]  # its key is known


# --------------------------------------------------------------------------------------------
# The class API


def test_finders_counts_and_deletes() -> None:
    with transaction():
        le_guin = Author.create(name="Le Guin")
        for n, title in enumerate(["A", "B", "C"]):
            Book.create(title=title, copies=n, author=le_guin)
    with transaction():
        assert Book.count() == 3
        assert Book.find_by(title="B").copies == 1  # type: ignore[union-attr]
        assert Book.find_by(title="Z") is None
        assert [b.title for b in Book.find_all_by(author=le_guin)] == ["A", "B", "C"]
        first = Book.find_by(title="A")
        assert first is not None and Book.exists(first.id) and not Book.exists(12345)
        with pytest.raises(NotFoundError):
            Book.load(12345)
        first.hard_delete()
        assert Book.count() == 2
    with transaction():
        assert sorted(b.title for b in Book.all()) == ["B", "C"]


def test_a_change_is_seen_by_queries_in_the_same_transaction() -> None:
    with transaction():
        book = Book.create(title="Old")
    with transaction():
        loaded = Book.load(book.id)
        loaded.title = "New"
        assert Book.find_by(title="New") is loaded
        assert Book.load(book.id) is loaded


def test_list_associations_and_other_primary_keys() -> None:
    with transaction():
        first = Book.create(title="One")
        second = Book.create(title="Two")
        series = Series.create(name="Earthsea", books=[first, second])
        Isbn.create(code="978-0", book=first)
    with transaction():
        loaded = Series.load(series.id)
        assert [b.title for b in loaded.books] == ["One", "Two"]
        assert Isbn.load("978-0").book.title == "One"


def test_attributes_that_do_not_fit_are_refused_before_anything_is_written() -> None:
    class BadCreate(Command[None, None]):
        depends_on_entities = (Book,)

        def execute(self) -> None:
            Book.create(title="Fine", copies=1)
            Book.create(title="Bad", copies="many")

    outcome = BadCreate.run()
    assert outcome.error_keys == ["runtime.invalid_record"]
    assert "copies" in outcome.errors[0].message and "many" in outcome.errors[0].message
    assert books() == []
    with transaction():
        book = Book.create(title="Typed")
        with pytest.raises(persistence.InvalidRecordError):
            book.copies = "lots"  # type: ignore[assignment]


def test_a_duplicate_primary_key_is_an_error_in_the_outcome() -> None:
    class TwoIsbns(Command[None, None]):
        depends_on_entities = (Isbn,)

        def execute(self) -> None:
            book = Book.create(title="Dup")
            Isbn.create(code="1", book=book)
            Isbn.create(code="1", book=book)

    outcome = TwoIsbns.run()
    assert outcome.error_keys == ["runtime.not_unique"]
    assert books() == []


def test_list_books_returns_every_record() -> None:
    for title in ("X", "Y"):
        CreateBook.run(title=title)
    assert [b["title"] for b in ListBooks.run().to_dict()["result"]] == ["X", "Y"]


# --------------------------------------------------------------------------------------------
# Concurrency


def _new_counter() -> int:
    with transaction():
        return Counter.create(value=0).id  # type: ignore[return-value]


def _counter_value(key: int) -> int:
    with transaction():
        return Counter.load(key).value


async def test_a_hundred_concurrent_async_increments_are_all_kept() -> None:
    key = _new_counter()
    outcomes = await asyncio.gather(*(AIncrement.run(counter=key) for _ in range(100)))
    assert all(o.is_success() for o in outcomes), [o.errors_sentence for o in outcomes if o.is_failure()]
    assert _counter_value(key) == 100


def test_increments_from_several_threads_are_all_kept() -> None:
    key = _new_counter()
    failures: list[str] = []

    def work() -> None:
        for _ in range(25):
            outcome = Increment.run(counter=key)
            if outcome.is_failure():
                failures.append(outcome.errors_sentence)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _counter_value(key) == 100


async def test_a_run_does_not_see_another_runs_uncommitted_writes() -> None:
    written = asyncio.Event()
    release = asyncio.Event()

    class CreateAndWait(AsyncCommand[None, None]):
        depends_on_entities = (Book,)

        async def execute(self) -> None:
            await Book.acreate(title="Pending")
            written.set()
            await release.wait()

    class CountBooks(AsyncCommand[None, int]):
        depends_on_entities = (Book,)

        async def execute(self) -> int:
            return await Book.acount()

    writer = asyncio.create_task(CreateAndWait.run())
    await written.wait()
    assert (await CountBooks.run()).unwrap() == 0
    release.set()
    assert (await writer).is_success()
    assert (await CountBooks.run()).unwrap() == 1


def test_configure_refuses_an_unknown_scheme() -> None:
    with pytest.raises(ValueError, match=r"mysql://.*known schemes are memory://, sqlite://"):
        persistence.configure("mysql://localhost/db")


def test_the_default_store_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    persistence.reset()
    monkeypatch.setenv("FOOBARA_DATABASE_URL", "memory://from-env")
    assert persistence.store_for(Book).url == "memory://from-env"
    persistence.reset()


def test_entity_is_an_entity() -> None:
    assert issubclass(Book, Entity)


def test_a_record_from_another_transaction_is_read_afresh_and_its_change_kept() -> None:
    book = CreateBook.run(title="Passed", copies=5).unwrap()  # its transaction is over
    assert BorrowBook.run(book=book).unwrap().copies == 4
    assert BorrowBook.run(book=book).unwrap().copies == 3  # not the stale 5 of `book`
    assert FindBook.run(book=book.id).unwrap().copies == 3


def test_changing_a_record_after_its_transaction_raises_instead_of_losing_the_change() -> None:
    book = CreateBook.run(title="Done").unwrap()
    with pytest.raises(NoTransactionOpenError, match="has ended"):
        book.copies = 3


async def test_a_sync_subcommand_of_an_async_command_joins_its_transaction_or_says_why_not(store_url: str) -> None:
    earlier = CreateBook.run(title="Earlier", copies=5).unwrap().id

    class ShelveThenFind(AsyncCommand[None, int]):
        depends_on = (FindBook,)
        depends_on_entities = (Book,)

        async def execute(self) -> int:
            book = await Book.acreate(title="Shared", copies=2)
            assert (await self.run_subcommand(FindBook, book=book.id)).copies == 2  # known to the run
            found = await self.run_subcommand(FindBook, book=earlier)  # to be read from the store
            return found.copies

    if store_url.startswith("memory"):
        assert (await ShelveThenFind.run()).unwrap() == 5
        return
    # A sync command cannot use the async connection the run holds: a misuse, which raises (after
    # the run rolled back) with what to do instead.
    with pytest.raises(FrameworkUsageError, match="sync code cannot join it"):
        await ShelveThenFind.run()
    async with transaction():
        assert await Book.acount() == 1


# --------------------------------------------------------------------------------------------
# Defects found in review


def test_a_key_that_cannot_be_a_key_is_a_missing_record() -> None:
    with transaction():
        with pytest.raises(NotFoundError, match="Could not find Test::Shelf::Book for 'abc'"):
            Book.load("abc")
        with pytest.raises(NotFoundError):
            Book.load_many([1, "abc"])
        assert Book.exists("abc") is False


def test_a_secret_attribute_is_stored_as_it_is_and_found_by() -> None:
    with transaction():
        member = Member.create(name="Ann", password="hunter2")
    with transaction():
        loaded = Member.load(member.id)
        assert loaded.password.get_secret_value() == "hunter2"
        assert Member.find_by(password="hunter2") is loaded
        assert Member.find_by(password="**********") is None
        assert "hunter2" not in repr(loaded)


def test_a_list_or_dict_changed_in_place_is_written() -> None:
    with transaction():
        member = Member.create(name="Ann", password="x", tags=["a"], settings={"theme": {"dark": False}})
        first = Book.create(title="One")
        series = Series.create(name="Earthsea", books=[first])
    with transaction():
        loaded = Member.load(member.id)
        loaded.tags.append("b")
        loaded.settings["theme"]["dark"] = True
        Series.load(series.id).books.append(Book.create(title="Two"))
    with transaction():
        loaded = Member.load(member.id)
        assert loaded.tags == ["a", "b"]
        assert loaded.settings == {"theme": {"dark": True}}
        assert [b.title for b in Series.load(series.id).books] == ["One", "Two"]


def test_a_uuid_primary_key() -> None:
    key = uuid.uuid4()
    with transaction():
        created = Document.create(id=key, title="Draft")
        assert created.id == key
    with transaction():
        loaded = Document.load(key)
        assert loaded.id == key and loaded.title == "Draft"
        assert Document.load(str(key)) is loaded
        assert Document.find_by(title="Draft") is loaded
        loaded.title = "Final"
    with transaction():
        assert Document.load(key).title == "Final"
        Document.load(key).hard_delete()
    with transaction():
        assert not Document.exists(key)


def test_associations_to_records_with_a_uuid_key() -> None:
    with transaction():
        first = Document.create(id=uuid.uuid4(), title="First")
        second = Document.create(id=uuid.uuid4(), title="Second")
        folder = Folder.create(main=first, documents=[first, second])
    with transaction():
        loaded = Folder.load(folder.id)
        assert loaded.main is not None and loaded.main.id == first.id and loaded.main.title == "First"
        assert [d.title for d in loaded.documents] == ["First", "Second"]
        assert loaded.documents[0] is loaded.main
        assert Folder.find_by(main=loaded.main) is loaded
        assert Folder.find_by(main=first.id) is loaded


def test_a_record_read_but_not_changed_is_not_written() -> None:
    with transaction():
        member = Member.create(name="Ann", password="x", tags=["a"], settings={"theme": {"dark": False}})

    def change_it_meanwhile() -> None:
        with transaction():
            Member.load(member.id).name = "Bea"

    with transaction():
        assert Member.load(member.id).settings == {"theme": {"dark": False}}
        writer = threading.Thread(target=change_it_meanwhile)
        writer.start()
        writer.join()
    # Had this block written its unchanged record, it would have conflicted (or undone "Bea").
    with transaction():
        assert Member.load(member.id).name == "Bea"


def test_a_new_record_given_to_a_run_that_failed_is_still_new() -> None:
    class CreateOrRefuse(Command[CreateBookInputs, Book]):
        possible_errors = ["no_copies"]

        def execute(self) -> Book:
            book = Book.create(**dict(self.inputs))  # creates the author too
            if not book.copies:
                self.add_runtime_error("no_copies", "A book needs copies")
            return book

    author = Author(name="Ann Leckie")
    assert CreateOrRefuse.run(title="Ancillary Justice", author=author).error_keys == ["runtime.no_copies"]
    assert not author.is_persisted and author.id is None  # rolled back: it was never stored
    book = CreateOrRefuse.run(title="Ancillary Justice", copies=1, author=author).unwrap()
    with transaction():
        assert Book.load(book.id).author.name == "Ann Leckie"  # type: ignore[union-attr]
        assert Author.count() == 1


def _written_or_refused(written: tuple[int, int], refused: BaseException | None) -> None:
    """A block whose failed statement was caught either commits all of its writes or none, saying so."""
    if refused is None:
        assert written == (7, 2)
    else:
        assert isinstance(refused, persistence.StoreError)
        assert "cannot commit" in str(refused) or "transaction is aborted" in str(refused)
        assert written == (1, 1)


def test_a_caught_store_error_never_loses_the_transactions_writes_silently() -> None:
    with transaction():
        book = Book.create(title="One", copies=1)
    refused = None
    try:
        with transaction():
            Book.load(book.id).copies = 7
            Book.create(title="Two")
            Isbn.create(code="dup", book=book)
            with contextlib.suppress(persistence.StoreError):  # a statement that fails (PostgreSQL aborts)
                Isbn.create(code="dup", book=book)
    except persistence.StoreError as error:
        refused = error
    with transaction():
        _written_or_refused((Book.load(book.id).copies, Book.count()), refused)


async def test_a_caught_store_error_never_loses_an_async_transactions_writes_silently() -> None:
    async with transaction():
        book = await Book.acreate(title="One", copies=1)
    refused = None
    try:
        async with transaction():
            (await Book.aload(book.id)).copies = 7
            await Book.acreate(title="Two")
            await Isbn.acreate(code="dup", book=book)
            with contextlib.suppress(persistence.StoreError):  # a statement that fails (PostgreSQL aborts)
                await Isbn.acreate(code="dup", book=book)
    except persistence.StoreError as error:
        refused = error
    async with transaction():
        _written_or_refused(((await Book.aload(book.id)).copies, await Book.acount()), refused)


def test_a_result_record_the_run_never_read_is_loaded_before_the_commit() -> None:
    author = CreateAuthor.run(name="Octavia Butler").unwrap().id
    book = CreateBook.run(title="Kindred", author=author).unwrap().id

    class AuthorOf(Command[BookInputs, Author]):
        def execute(self) -> Author:
            return self.inputs.book.author  # type: ignore[return-value]  # a reference, never read here

    outcome = AuthorOf.run(book=book)
    assert outcome.to_dict()["result"] == {"id": author, "name": "Octavia Butler"}
    assert outcome.unwrap().name == "Octavia Butler"


def test_a_string_key_must_be_given() -> None:
    class Ticket(Entity, primary_key="code"):
        code: str | None = None  # only integer keys are generated
        note: str = ""

    class NoCode(Command[None, None]):
        depends_on_entities = (Ticket,)

        def execute(self) -> None:
            Ticket.create(note="keyless")

    outcome = NoCode.run()
    assert outcome.error_keys == ["runtime.invalid_record"]
    assert outcome.errors[0].message == "Invalid Ticket: Missing required attribute code"


def test_criteria_are_read_as_the_attributes_type() -> None:
    CreateBook.run(title="Three", copies=3)
    with transaction():
        assert [b.title for b in Book.find_all_by(copies="3")] == ["Three"]
        with pytest.raises(persistence.InvalidRecordError, match="Cannot look for 'abc'"):
            Book.find_by(copies="abc")


# --------------------------------------------------------------------------------------------
# Records that refer to themselves


class Pal(Entity):
    """An entity whose associations are to its own kind."""

    id: int | None = None
    name: str
    best: Pal | None = None
    pals: list[Pal] = []


def test_a_record_may_refer_to_itself_and_round_trips_through_the_store() -> None:
    with transaction():
        first = Pal.create(name="first")
        second = Pal.create(name="second")
        first.pals = [first, second]
        first.best = first
        second.best = first
    with transaction():
        loaded = Pal.load(first.id)
        assert [pal.name for pal in loaded.pals] == ["first", "second"]
        assert loaded.pals[0] is loaded and loaded.best is loaded
        assert loaded.pals[1].best is loaded


def test_a_records_repr_shows_the_records_it_refers_to_by_key() -> None:
    with transaction():
        first = Pal.create(name="first")
        second = Pal.create(name="second", best=first)
        first.best = second  # a cycle without a list between: repr followed it forever
        first.pals = [first, second]
        assert repr(first) == (
            f"Pal(id={first.id}, name='first', best=<Pal {second.id}>, pals=[<Pal {first.id}>, <Pal {second.id}>])"
        )
        assert str(second) == f"id={second.id} name='second' best=<Pal {first.id}> pals=[]"


def test_an_assignment_that_does_not_fit_a_record_in_a_cycle_is_an_invalid_record() -> None:
    class Befriend(Command[None, None]):
        depends_on_entities = (Pal,)

        def execute(self) -> None:
            first = Pal.create(name="first")
            second = Pal.create(name="second", best=first)
            first.best = second
            first.pals = [first, {"name": ["not", "a", "name"], "best": first}, 2.5]

    outcome = Befriend.run()
    assert outcome.error_keys == ["runtime.invalid_record"]
    assert [error["key"] for error in outcome.errors[0].context["errors"]] == [
        "data.pals.1.name.cannot_cast",
        "data.pals.2.cannot_cast",
    ]
    assert outcome.errors[0].message.startswith("Invalid Pal: At pals.1.name: Cannot cast")
    with transaction():
        assert Pal.count() == 0
