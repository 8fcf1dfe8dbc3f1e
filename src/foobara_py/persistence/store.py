"""What a store is: the interface every store implements, and the tables it is given.

A store keeps the records of some entities. The framework talks to it through a *session*: one
per store per transaction, opened when the transaction first needs that store. A session's writes
are visible to its own later reads and to nobody else until it commits (SQL stores get this from
the database; the others keep the writes aside until the commit).

Records cross this interface as rows: plain dicts of column values by attribute name, where an
association holds the associated record's primary key (a list of them for a list association).
Columns of the atomic kinds hold Python values of that kind (int, float, bool, str, Decimal,
datetime, date); `json` columns hold JSON-compatible values. Rows coming back may hold anything
pydantic's lax mode turns into the attribute's type (JSON text decoded, ISO dates as strings).

Concurrency is optimistic: `update` and `delete` are given the row as the transaction read it,
and refuse (raise `TransactionConflict`) when the stored row no longer matches it, now or at the
commit. The run that owns the transaction is then retried from the start.

Sync sessions serve Command and `with transaction()`, async sessions (methods of the same names,
`async def`) serve AsyncCommand and `async with transaction()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..errors import FoobaraError
from ..transactions import TransactionConflict

__all__ = [
    "AsyncSession",
    "Column",
    "ColumnKind",
    "Row",
    "Session",
    "Store",
    "StoreError",
    "StoreUnavailableError",
    "Table",
    "TransactionConflict",
    "UniqueViolationError",
    "redact_url",
]

Row = dict[str, Any]
ColumnKind = Literal["integer", "float", "boolean", "string", "decimal", "datetime", "date", "json"]


@dataclass(frozen=True, eq=False)
class Column:
    name: str
    kind: ColumnKind
    nullable: bool
    association: str | None = None  # the associated entity's table name, for an association


@dataclass(frozen=True, eq=False)
class Table:
    """An entity as stores see it, resolved once per entity class."""

    name: str  # e.g. "lib_lending_book"
    entity_name: str  # the entity's full name, e.g. "Lib::Lending::Book", for messages
    primary_key: str
    columns: Mapping[str, Column]  # every attribute, the primary key included, in declaration order
    generated_key: bool  # an integer key the store generates when a row is inserted without one
    key_kind: ColumnKind = "integer"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # what layers using the table derive from it


class Session(Protocol):
    """One transaction in a store, used from sync code."""

    def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]:
        """The rows with these primary keys, by key; missing ones are left out. One query."""
        ...

    def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]:
        """The rows whose columns equal `criteria` (all rows for `{}`), in primary-key order."""
        ...

    def count(self, table: Table, criteria: Mapping[str, Any]) -> int: ...

    def insert(self, table: Table, row: Row) -> Any:
        """Insert a row; returns its primary key (generated when the row's key is None).
        A key already taken raises `UniqueViolationError`."""
        ...

    def update(self, table: Table, key: Any, changes: Row, original: Row) -> None:
        """Write `changes` to the row `key`, if it still is `original` (else `TransactionConflict`)."""
        ...

    def delete(self, table: Table, key: Any, original: Row) -> None:
        """Delete the row `key`, if it still is `original` (else `TransactionConflict`)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class AsyncSession(Protocol):
    """One transaction in a store, used from async code: `Session`, awaited."""

    async def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]: ...
    async def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]: ...
    async def count(self, table: Table, criteria: Mapping[str, Any]) -> int: ...
    async def insert(self, table: Table, row: Row) -> Any: ...
    async def update(self, table: Table, key: Any, changes: Row, original: Row) -> None: ...
    async def delete(self, table: Table, key: Any, original: Row) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class Store(Protocol):
    """Where records live. `url` is shown in messages, so it never holds a password."""

    url: str

    def session(self) -> Session:
        """Open a sync session (a transaction)."""
        ...

    def asession(self) -> AsyncSession | Session:
        """Open a session for async code. A store whose operations never block may return a
        sync session: async code can use it too."""
        ...

    def close(self) -> None:
        """Release connections (sync side)."""
        ...

    async def aclose(self) -> None:
        """Release connections (async side)."""
        ...


class StoreError(Exception):
    """A store failed; `to_foobara_error` makes it an error in the run's outcome."""

    symbol = "store_error"

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message)
        self.context = context

    def to_foobara_error(self) -> FoobaraError:
        return FoobaraError(self.symbol, str(self), "runtime", context=dict(self.context), cause=self)


class StoreUnavailableError(StoreError):
    """The store cannot be reached (down, refusing connections, bad credentials)."""

    symbol = "store_unavailable"


class UniqueViolationError(StoreError):
    """A write would give two records the same primary key (or another unique value)."""

    symbol = "not_unique"


# A URL's password: after `scheme://user:`, up to the "@" that SQLAlchemy ends it at (the first) or
# the one urllib does (redis-py; the last before the path), whichever comes later, so that a password
# with an unescaped "/", "?", "#" or "@" is hidden whole; and libpq's and redis-py's `?password=`.
_USER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:")
_PATH = re.compile(r"[/?#]")
_QUERY_PASSWORD = re.compile(r"(?<=[?&]password=)[^&#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***`, for messages and logs."""
    user = _USER.match(url)
    if user is not None:
        start = user.end()
        end = url.find("@", start)
        if end != -1:
            path = _PATH.search(url, end)
            end = url.rfind("@", end, path.start() if path is not None else len(url))
            url = f"{url[:start]}***{url[end:]}"
    return _QUERY_PASSWORD.sub("***", url)
