"""Choosing stores: per entity, by URL scheme, from the environment."""

from __future__ import annotations

from pathlib import Path

from foobara_py import Command, persistence, transaction
from foobara_py.persistence.memory import MemoryStore
from foobara_py.persistence.sql import SqlStore
from tests.persistence.library import Author, Book


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
