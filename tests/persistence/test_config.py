"""Choosing stores: per entity, by URL scheme, from the environment."""

from __future__ import annotations

import threading
from pathlib import Path

from foobara_py import Command, persistence, transaction
from foobara_py.persistence.memory import MemoryStore
from foobara_py.persistence.sql import SqlStore
from tests.persistence.library import Author, Book, Counter, CounterInputs


def test_entities_in_two_stores_commit_and_roll_back_together(tmp_path: Path) -> None:
    books = persistence.configure(f"sqlite:///{tmp_path}/books.db")
    authors = persistence.configure("memory://", entities=[Author])
    try:
        assert isinstance(persistence.store_for(Book), SqlStore)
        assert persistence.store_for(Author) is authors and isinstance(authors, MemoryStore)

        class Publish(Command[None, int]):
            depends_on_entities = (Book, Author)
            fail = False

            def execute(self) -> int:
                author = Author.create(name="Both")
                Book.create(title="In two stores", author=author)
                if Publish.fail:
                    self.add_runtime_error("changed_my_mind", "No")
                return 1

        Publish.fail = True
        assert Publish.run().error_keys == ["runtime.changed_my_mind"]
        with transaction():
            assert (Book.count(), Author.count()) == (0, 0)
        Publish.fail = False
        assert Publish.run().unwrap() == 1
        with transaction():
            book = Book.find_by(title="In two stores")
            assert book is not None and book.author is not None and book.author.name == "Both"
    finally:
        persistence.reset()
        books.close()


def test_a_run_in_flight_keeps_its_stores_when_another_thread_configures_others(tmp_path: Path) -> None:
    """A transaction reads and writes each entity in one store: configuring another meanwhile takes
    effect for the transactions that begin after it."""
    first = persistence.configure(f"sqlite:///{tmp_path}/first.db")
    try:
        with transaction():
            key = Counter.create(value=1).id

        class IncrementWhileReconfigured(Command[CounterInputs, int]):
            def execute(self) -> int:
                counter = self.inputs.counter
                counter.value += 1
                thread = threading.Thread(target=persistence.configure, args=("memory://",))
                thread.start()
                thread.join()
                Counter.create(value=10)
                return counter.value

        assert IncrementWhileReconfigured.run(counter=key).unwrap() == 2
        assert isinstance(persistence.store_for(Counter), MemoryStore)
        with transaction():
            assert Counter.count() == 0  # the new store, untouched
        persistence.configure(first)
        with transaction():
            assert [(c.id, c.value) for c in Counter.all()] == [(key, 2), (key + 1, 10)]
    finally:
        persistence.reset()
        first.close()
