"""A small library domain for the persistence tests (Ruby's Lib::Lending, under another name)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pydantic import BaseModel, SecretStr

from foobara_py import AsyncCommand, Command, Domain, Entity, Organization

shelf = Domain("Shelf", organization=Organization("Test"))


@shelf.model
class Author(Entity):
    id: int | None = None
    name: str


@shelf.model
class Book(Entity):
    id: int | None = None
    title: str
    copies: int = 0
    author: Author | None = None


@shelf.model
class Series(Entity):
    id: int | None = None
    name: str
    books: list[Book] = []


@shelf.model
class Isbn(Entity, primary_key="code"):
    code: str
    book: Book


@shelf.model
class Member(Entity):
    """A secret, and attributes a run may change in place."""

    id: int | None = None
    name: str
    password: SecretStr
    tags: list[str] = []
    settings: dict[str, Any] = {}


@shelf.model
class Document(Entity):
    """A primary key that is neither an integer nor a string."""

    id: uuid.UUID
    title: str


@shelf.model
class Folder(Entity):
    id: int | None = None
    main: Document | None = None
    documents: list[Document] = []


@shelf.model
class Counter(Entity):
    id: int | None = None
    value: int = 0


class NameInputs(BaseModel):
    name: str


@shelf.command
class CreateAuthor(Command[NameInputs, Author]):
    def execute(self) -> Author:
        return Author.create(name=self.inputs.name)


class CreateBookInputs(BaseModel):
    title: str
    copies: int = 0
    author: Author | None = None


@shelf.command
class CreateBook(Command[CreateBookInputs, Book]):
    def execute(self) -> Book:
        return Book.create(**dict(self.inputs))


@shelf.command
class ACreateBook(AsyncCommand[CreateBookInputs, Book]):
    async def execute(self) -> Book:
        return await Book.acreate(**dict(self.inputs))


class BookInputs(BaseModel):
    book: Book


@shelf.command
class FindBook(Command[BookInputs, Book]):
    def execute(self) -> Book:
        return self.inputs.book


@shelf.command
class BorrowBook(Command[BookInputs, Book]):
    """Takes a copy: the change is made first, then rejected when none was left."""

    possible_errors = ["no_copies_left"]

    def execute(self) -> Book:
        book = self.inputs.book
        book.copies -= 1
        if book.copies < 0:
            self.add_runtime_error(
                "no_copies_left", f"No copies of {book.title} left", context={"book_id": book.id, "copies": book.copies}
            )
        return book


@shelf.command
class ABorrowBook(AsyncCommand[BookInputs, Book]):
    possible_errors = ["no_copies_left"]

    async def execute(self) -> Book:
        book = self.inputs.book
        book.copies -= 1
        await asyncio.sleep(0)
        if book.copies < 0:
            self.add_runtime_error("no_copies_left", f"No copies of {book.title} left")
        return book


class BooksInputs(BaseModel):
    books: list[Book]


@shelf.command
class CountCopies(Command[BooksInputs, int]):
    def execute(self) -> int:
        return sum(book.copies for book in self.inputs.books)


@shelf.command
class ListBooks(Command[None, list[Book]]):
    depends_on_entities = (Book,)

    def execute(self) -> list[Book]:
        return Book.all()


class CounterInputs(BaseModel):
    counter: Counter


@shelf.command
class Increment(Command[CounterInputs, int]):
    def execute(self) -> int:
        self.inputs.counter.value += 1
        return self.inputs.counter.value


@shelf.command
class AIncrement(AsyncCommand[CounterInputs, int]):
    async def execute(self) -> int:
        counter = self.inputs.counter
        value = counter.value
        await asyncio.sleep(0)  # another run reads the same value meanwhile
        counter.value = value + 1
        return counter.value
