"""A lending library with entities on SQLite: sync and async commands, and a rollback.

Records live in a SQLite file (a fresh one in a temporary directory, so every run starts the
same; set FOOBARA_DATABASE_URL to keep them elsewhere, e.g. postgresql://user:pass@host/db).

    python examples/library/library.py
"""

from __future__ import annotations

import asyncio
import os
import tempfile

from pydantic import BaseModel

from foobara_py import AsyncCommand, Command, Domain, Entity, Organization, persistence, transaction

lending = Domain("Lending", organization=Organization("Library"))


@lending.model
class Author(Entity):
    id: int | None = None
    name: str


@lending.model
class Book(Entity):
    id: int | None = None
    title: str
    copies: int = 0
    author: Author | None = None  # stored as the author's id, loaded when first read


class CreateAuthorInputs(BaseModel):
    name: str


@lending.command
class CreateAuthor(Command[CreateAuthorInputs, Author]):
    """Adds an author."""

    def execute(self) -> Author:
        return Author.create(name=self.inputs.name)


class AddBookInputs(BaseModel):
    title: str
    copies: int = 1
    author: Author  # an author's id: the record is loaded before the command runs


@lending.command
class AddBook(AsyncCommand[AddBookInputs, Book]):
    """Adds a book by a known author (async: AsyncCommand has entities and transactions too)."""

    async def execute(self) -> Book:
        return await Book.acreate(title=self.inputs.title, copies=self.inputs.copies, author=self.inputs.author)


class BookInputs(BaseModel):
    book: Book


@lending.command
class BorrowBook(Command[BookInputs, Book]):
    """Takes a copy. The copy is taken first and the command then fails when none was left:
    the failure rolls the change back."""

    possible_errors = ["no_copies_left"]

    def execute(self) -> Book:
        book = self.inputs.book
        book.copies -= 1
        if book.copies < 0:
            self.add_runtime_error("no_copies_left", f"No copies of {book.title} left", context={"book_id": book.id})
        return book


@lending.command
class ReturnBook(AsyncCommand[BookInputs, Book]):
    """Gives a copy back."""

    async def execute(self) -> Book:
        self.inputs.book.copies += 1
        return self.inputs.book


def main() -> None:
    url = os.environ.get("FOOBARA_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/library.db"
    persistence.configure(url)
    print("store:", persistence.store_for(Book).url)

    author = CreateAuthor.run(name="Ursula K. Le Guin").unwrap()
    book = asyncio.run(AddBook.run(title="A Wizard of Earthsea", copies=1, author=author.id)).unwrap()
    print("added:", book.title, "by", author.name, "- copies:", book.copies)

    print("borrow:", BorrowBook.run(book=book.id).to_dict()["result"])
    failed = BorrowBook.run(book=book.id)
    print("borrow again:", failed.errors_sentence, failed.error_keys)
    with transaction():
        print("copies after the failed borrow (rolled back):", Book.load(book.id).copies)

    print("missing book:", BorrowBook.run(book=999).error_keys)

    async def return_many() -> None:  # ten concurrent runs, each adding one copy: none is lost
        outcomes = await asyncio.gather(*(ReturnBook.run(book=book.id) for _ in range(10)))
        assert all(outcome.is_success() for outcome in outcomes)

    asyncio.run(return_many())
    with transaction():
        print("copies after ten concurrent returns:", Book.load(book.id).copies)


if __name__ == "__main__":
    main()
