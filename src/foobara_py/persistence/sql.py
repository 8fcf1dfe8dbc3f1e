"""The SQL store: SQLite and PostgreSQL through SQLAlchemy 2 Core (not the ORM).

`SqlStore("sqlite:///path")`, `SqlStore("sqlite://")` or `SqlStore("postgresql://user:pass@host/db")`.
SQLAlchemy, aiosqlite and psycopg are optional extras, imported when a store is made, never by
`import foobara_py`.

Each entity's `Table` is mapped once per store to a `sqlalchemy.Table` whose statements are built
once; the table is created (`CREATE TABLE IF NOT EXISTS`, committed at once) the first time a
session uses it, and is never altered or dropped (docs/persistence.md: Alembic).

A session holds one pooled connection and one database transaction from its first call until
`commit` or `rollback`. `update` and `delete` are conditional: `WHERE key = :key AND column IS NOT
DISTINCT FROM :original` for every column of the original row, so a row another transaction
changed since it was read matches nothing and raises `TransactionConflict` (the run is retried).
JSON columns take part too: PostgreSQL stores them as `jsonb`, which compares by value, and SQLite
as canonical JSON text (sorted keys, no spaces), so equal values are equal text. Lock timeouts,
deadlocks and serialization failures are conflicts as well; a duplicate key is
`UniqueViolationError`; a database that cannot be reached is `StoreUnavailableError`, which names the
store by its redacted URL. These errors keep the first line of the driver's message but not the
driver's exception, whose text can quote a row's values (a secret among them); SQLAlchemy is told to
hide statement parameters as well.

SQLite: file databases run in WAL mode (readers never wait for the writer) with a 30-second busy
timeout, and Python's sqlite3 opens the write transaction at the first write statement, so
concurrent writers queue for the lock instead of failing, and no transaction ever upgrades a stale
read snapshot to a write (which SQLite refuses at once with SQLITE_BUSY_SNAPSHOT). Reads before a
session's first write each see the latest commit; the conditional update is what keeps an update
from being lost. `sqlite://` is a private temporary database file (in /dev/shm where there is one),
removed when the store is garbage-collected or the process exits: SQLite's own in-memory databases
belong to one connection, and a shared-cache one locks whole tables instead of isolating
transactions, while sync and async sessions of one store must see the same data.

Async sessions use SQLAlchemy's async engine (aiosqlite, psycopg's async connection). An async
engine is bound to the event loop it was made in, so the store keeps one per running loop and
disposes it when that loop shuts down (an async generator that `asyncio.run` and pytest-asyncio
finalize before closing the loop): a store works across successive `asyncio.run` calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import json
import os
import re
import tempfile
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .store import (
    ColumnKind,
    Row,
    StoreError,
    StoreUnavailableError,
    Table,
    TransactionConflict,
    UniqueViolationError,
    redact_url,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["MissingExtraError", "SqlAsyncSession", "SqlSession", "SqlStore"]

BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for the write lock before giving up (a conflict)
CONNECT_TIMEOUT = 10  # seconds to reach a PostgreSQL server

_CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})  # serialization failure, deadlock, lock timeout
_GONE_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})  # the server shut down or restarts
_SQLITE_BUSY = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED (any extended code)
_SQLITE_UNIQUE = frozenset({1555, 2067})  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE


class MissingExtraError(StoreError, ImportError):
    """The store's driver is not installed."""


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"The SQL store needs {module}, which is not installed: pip install 'foobara-py[{extra}]'"
        ) from error


def _canonical_json(value: Any) -> str:
    """One text per JSON value, so SQLite can compare JSON columns as text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.cache
def _sqlite_types() -> tuple[Any, Any]:
    """Column types that keep a timezone and a Decimal's digits in SQLite (as text)."""
    from sqlalchemy import Text
    from sqlalchemy.types import TypeDecorator

    class IsoDateTime(TypeDecorator[datetime]):
        impl = Text
        cache_ok = True

        def process_bind_param(self, value: Any, dialect: Any) -> str | None:
            return value.isoformat() if isinstance(value, datetime) else value

        def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
            return None if value is None else datetime.fromisoformat(value)

    class TextDecimal(TypeDecorator[Decimal]):
        impl = Text
        cache_ok = True

        def process_bind_param(self, value: Any, dialect: Any) -> str | None:
            return None if value is None else str(value)

        def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
            return None if value is None else Decimal(value)

    return IsoDateTime, TextDecimal


def _column_type(kind: ColumnKind, dialect: str) -> Any:
    import sqlalchemy as sa

    if dialect == "sqlite":
        iso_datetime, text_decimal = _sqlite_types()
        sqlite_types = {
            "integer": sa.Integer,  # INTEGER PRIMARY KEY is SQLite's rowid, so keys are generated
            "float": sa.Float,
            "boolean": sa.Boolean,
            "string": sa.Text,
            "decimal": text_decimal,
            "datetime": iso_datetime,
            "date": sa.Date,
        }
        return sa.JSON(none_as_null=True) if kind == "json" else sqlite_types[kind]()
    from sqlalchemy.dialects.postgresql import JSONB

    postgres_types = {
        "integer": sa.BigInteger,
        "float": sa.Double,
        "boolean": sa.Boolean,
        "string": sa.Text,
        "decimal": sa.Numeric,
        "date": sa.Date,
    }
    if kind == "json":
        return JSONB(none_as_null=True)
    if kind == "datetime":
        return sa.DateTime(timezone=True)
    return postgres_types[kind]()


class _Mapped:
    """A table as one store sees it: its sqlalchemy.Table and the statements built on it."""

    __slots__ = (
        "count_statements",
        "created",
        "ddl",
        "delete_statements",
        "dialect",
        "find_statements",
        "get_one",
        "get_some",
        "insert",
        "key_index",
        "names",
        "sequence_fix",
        "sql",
        "table",
        "update_statements",
    )

    def __init__(self, table: Table, dialect: str) -> None:
        import sqlalchemy as sa
        from sqlalchemy.schema import CreateTable

        columns = []
        for name, column in table.columns.items():
            is_key = name == table.primary_key
            columns.append(
                sa.Column(
                    column.name,
                    _column_type(column.kind, dialect),
                    key=name,
                    primary_key=is_key,
                    nullable=column.nullable and not is_key,
                    autoincrement=table.generated_key if is_key else False,
                )
            )
        sql = sa.Table(table.name, sa.MetaData(), *columns)
        key = sql.c[table.primary_key]
        self.table = table
        self.sql = sql
        self.dialect = dialect
        self.names = tuple(sql.c.keys())
        self.key_index = self.names.index(table.primary_key)
        self.ddl = CreateTable(sql, if_not_exists=True)
        self.created = False
        self.insert = sql.insert()
        self.get_one = sa.select(sql).where(key == sa.bindparam("key"))
        self.get_some = sa.select(sql).where(key.in_(sa.bindparam("keys", expanding=True)))
        self.find_statements: dict[tuple[Any, ...], Any] = {}
        self.count_statements: dict[tuple[Any, ...], Any] = {}
        self.update_statements: dict[tuple[Any, ...], Any] = {}
        self.delete_statements: dict[tuple[Any, ...], Any] = {}
        self.sequence_fix: Any = None
        if dialect == "postgresql" and table.generated_key:
            # A key given explicitly moves the sequence past it, as SQLite's rowid and the memory store do.
            self.sequence_fix = sa.text(
                "SELECT setval(s.seq, :key) FROM"
                " (SELECT CAST(pg_get_serial_sequence(:table, :column) AS regclass) AS seq) AS s"
                " WHERE :key > COALESCE(pg_sequence_last_value(s.seq), 0)"
            ).bindparams(table='"' + table.name.replace('"', '""') + '"', column=key.name)

    def column(self, name: str) -> Any:
        try:
            return self.sql.c[name]
        except KeyError:
            raise StoreError(f"{self.table.entity_name} has no attribute {name!r}", attribute=name) from None

    def where(self, criteria: Mapping[str, Any]) -> tuple[tuple[Any, ...], list[Any], dict[str, Any]]:
        """Conditions for `criteria` (a None value is IS NULL), the key they are cached by, and their parameters."""
        import sqlalchemy as sa

        shape = tuple((name, criteria[name] is None) for name in criteria)
        conditions = []
        for name, is_none in shape:
            column = self.column(name)
            conditions.append(column.is_(None) if is_none else column == sa.bindparam("c_" + name, type_=column.type))
        return shape, conditions, {"c_" + name: value for name, value in criteria.items() if value is not None}

    def find(self, criteria: Mapping[str, Any], limit: int | None) -> tuple[Any, dict[str, Any]]:
        import sqlalchemy as sa

        shape, conditions, params = self.where(criteria)
        statement = self.find_statements.get((shape, limit))
        if statement is None:
            statement = sa.select(self.sql).where(*conditions).order_by(self.sql.c[self.table.primary_key])
            if limit is not None:
                statement = statement.limit(limit)
            self.find_statements[(shape, limit)] = statement
        return statement, params

    def count(self, criteria: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        import sqlalchemy as sa

        shape, conditions, params = self.where(criteria)
        statement = self.count_statements.get(shape)
        if statement is None:
            statement = sa.select(sa.func.count()).select_from(self.sql).where(*conditions)
            self.count_statements[shape] = statement
        return statement, params

    def unchanged(self, original: Row) -> tuple[tuple[str, ...], list[Any]]:
        """The original's columns (the key aside) and the conditions that they still hold their values."""
        import sqlalchemy as sa

        names = tuple(name for name in original if name != self.table.primary_key)
        conditions = [self.sql.c[self.table.primary_key] == sa.bindparam("key")]
        for name in names:
            column = self.column(name)
            conditions.append(column.is_not_distinct_from(sa.bindparam("was_" + name, type_=column.type)))
        return names, conditions

    def update(self, changes: Row, original: Row) -> Any:
        import sqlalchemy as sa

        shape = (tuple(changes), tuple(original))
        statement = self.update_statements.get(shape)
        if statement is None:
            _, conditions = self.unchanged(original)
            values = {self.column(name): sa.bindparam("new_" + name, type_=self.column(name).type) for name in changes}
            statement = self.sql.update().where(*conditions).values(values)
            self.update_statements[shape] = statement
        return statement

    def delete(self, original: Row) -> Any:
        shape = tuple(original)
        statement = self.delete_statements.get(shape)
        if statement is None:
            _, conditions = self.unchanged(original)
            statement = self.sql.delete().where(*conditions)
            self.delete_statements[shape] = statement
        return statement


def _original_params(key: Any, original: Row, primary_key: str) -> dict[str, Any]:
    params = {"was_" + name: value for name, value in original.items() if name != primary_key}
    params["key"] = key
    return params


def _conflict(table: Table, key: Any) -> TransactionConflict:
    return TransactionConflict(f"{table.entity_name} {key!r} was changed or deleted by another transaction")


def _is_unique_violation(error: BaseException) -> bool:
    orig = getattr(error, "orig", None)
    if orig is None:
        return False
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    return getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE or str(orig).startswith("UNIQUE constraint")


def _unique_violation(table: Table, row: Mapping[str, Any], key: Any, error: BaseException) -> UniqueViolationError:
    """Name the attribute whose value is taken (the key unless the database says another)."""
    orig = getattr(error, "orig", None)
    attribute = table.primary_key
    detail = getattr(getattr(orig, "diag", None), "message_detail", None) or str(orig)
    match = re.search(r"Key \(([^,)]+)\)=|UNIQUE constraint failed: [^.,\s]+\.(\w+)", detail)
    if match:
        column = match.group(1) or match.group(2)
        attribute = next((name for name, col in table.columns.items() if col.name == column), attribute)
    if attribute == table.primary_key:
        value = key
        message = f"{table.entity_name} {value!r} already exists"
    else:
        value = row.get(attribute)
        message = f"{table.entity_name} with {attribute} {value!r} already exists"
    return UniqueViolationError(message, entity_class=table.entity_name, attribute=attribute, value=value)


def _create_table(conn: Connection, session: SqlSession | SqlAsyncSession, mapped: _Mapped) -> None:
    """CREATE TABLE IF NOT EXISTS, committed at once where the database allows, so that no other
    transaction waits for this one to end to see the table.

    SQLite: on the session's connection, which commits it at once unless the session has written
    already (then with the session's commit; another connection would wait for this one's write
    lock). PostgreSQL: on a connection of its own (in the session's transaction, the table's
    catalog rows would make every other creator wait for this transaction); a concurrent creator
    that committed first makes the statement fail although the table is there."""
    if mapped.dialect == "sqlite":
        conn.execute(mapped.ddl)
        session._creating.append(mapped)  # known to exist once this transaction commits
        return
    from sqlalchemy.exc import DBAPIError

    with conn.engine.connect() as own:
        try:
            own.execute(mapped.ddl)
            own.commit()
        except DBAPIError as error:
            own.rollback()
            if getattr(error.orig, "sqlstate", None) not in ("42P07", "23505"):  # duplicate table, duplicate type
                raise
    mapped.created = True


# The operations, shared by sync sessions and async ones (which run them through `run_sync`).


def _get_many(conn: Connection, mapped: _Mapped, keys: Sequence[Any]) -> dict[Any, Row]:
    if len(keys) == 1:
        result = conn.execute(mapped.get_one, {"key": keys[0]})
    else:
        result = conn.execute(mapped.get_some, {"keys": list(keys)})
    names, index = mapped.names, mapped.key_index
    return {row[index]: dict(zip(names, row, strict=True)) for row in result.all()}


def _find(conn: Connection, mapped: _Mapped, criteria: Mapping[str, Any], limit: int | None) -> list[Row]:
    statement, params = mapped.find(criteria, limit)
    names = mapped.names
    return [dict(zip(names, row, strict=True)) for row in conn.execute(statement, params).all()]


def _count(conn: Connection, mapped: _Mapped, criteria: Mapping[str, Any]) -> int:
    statement, params = mapped.count(criteria)
    return int(conn.execute(statement, params).scalar_one())


def _insert(conn: Connection, mapped: _Mapped, row: Row) -> Any:
    primary_key = mapped.table.primary_key
    key = row.get(primary_key)
    try:
        if key is None:
            result = conn.execute(mapped.insert, {name: value for name, value in row.items() if name != primary_key})
            return result.inserted_primary_key[0]  # type: ignore[index]
        conn.execute(mapped.insert, row)
    except Exception as error:
        if _is_unique_violation(error):
            raise _unique_violation(mapped.table, row, key, error) from None
        raise
    if mapped.sequence_fix is not None and isinstance(key, int):
        conn.execute(mapped.sequence_fix, {"key": key})
    return key


def _update(conn: Connection, mapped: _Mapped, key: Any, changes: Row, original: Row) -> None:
    if not changes:  # nothing to write: still check (and lock) the row
        changes = {mapped.table.primary_key: key}
    params = _original_params(key, original, mapped.table.primary_key)
    for name, value in changes.items():
        params["new_" + name] = value
    try:
        result = conn.execute(mapped.update(changes, original), params)
    except Exception as error:
        if _is_unique_violation(error):
            raise _unique_violation(mapped.table, changes, key, error) from None
        raise
    if result.rowcount == 0:
        raise _conflict(mapped.table, key)


def _delete(conn: Connection, mapped: _Mapped, key: Any, original: Row) -> None:
    result = conn.execute(mapped.delete(original), _original_params(key, original, mapped.table.primary_key))
    if result.rowcount == 0:
        raise _conflict(mapped.table, key)


def _run(
    conn: Connection, session: SqlSession | SqlAsyncSession, op: Callable[..., Any], table: Table, args: Any
) -> Any:
    store = session.store
    mapped = store._tables.get(table) or store._map(table)
    if not mapped.created and mapped not in session._creating:
        _create_table(conn, session, mapped)
    return op(conn, mapped, *args)


def _quiet(action: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):  # the connection is broken: the database drops its transaction anyway
        action()


class SqlSession:
    """One transaction on one pooled connection, for sync code."""

    __slots__ = ("_conn", "_creating", "store")

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._conn: Connection | None = None
        self._creating: list[_Mapped] = []  # tables created in this transaction: known to exist once it commits

    def _call(self, op: Callable[..., Any], table: Table, *args: Any) -> Any:
        for attempt in (1, 2):
            conn = self._conn
            fresh = conn is None
            if conn is None:
                conn = self._conn = self.store._connect()
            try:
                return _run(conn, self, op, table, args)
            except Exception as error:
                problem = self.store._problem(error)
                if problem is None:
                    raise
                if fresh and attempt == 1 and _stale(error):  # a pooled connection the server dropped
                    self._end(conn.rollback)
                    continue
                raise problem from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]:
        if not keys:
            return {}
        result: dict[Any, Row] = self._call(_get_many, table, keys)
        return result

    def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]:
        result: list[Row] = self._call(_find, table, criteria, limit)
        return result

    def count(self, table: Table, criteria: Mapping[str, Any]) -> int:
        result: int = self._call(_count, table, criteria)
        return result

    def insert(self, table: Table, row: Row) -> Any:
        return self._call(_insert, table, row)

    def update(self, table: Table, key: Any, changes: Row, original: Row) -> None:
        self._call(_update, table, key, changes, original)

    def delete(self, table: Table, key: Any, original: Row) -> None:
        self._call(_delete, table, key, original)

    def _end(self, finish: Callable[[], None]) -> None:
        conn = self._conn
        self._conn = None
        self._creating = []
        if conn is not None:
            _quiet(finish)
            _quiet(conn.close)

    def commit(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            conn.commit()
        except Exception as error:
            self._end(conn.rollback)
            problem = self.store._problem(error)
            if problem is None:
                raise
            raise problem from None
        self._conn = None
        if self._creating:
            for mapped in self._creating:
                mapped.created = True
            self._creating = []
        conn.close()

    def rollback(self) -> None:
        conn = self._conn
        if conn is not None:
            self._end(conn.rollback)


class SqlAsyncSession:
    """`SqlSession` for async code: the same operations, run on an async connection."""

    __slots__ = ("_conn", "_creating", "store")

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._conn: AsyncConnection | None = None
        self._creating: list[_Mapped] = []

    async def _call(self, op: Callable[..., Any], table: Table, *args: Any) -> Any:
        for attempt in (1, 2):
            conn = self._conn
            fresh = conn is None
            if conn is None:
                conn = self._conn = await self.store._aconnect()
            try:
                return await conn.run_sync(_run, self, op, table, args)
            except Exception as error:
                problem = self.store._problem(error)
                if problem is None:
                    raise
                if fresh and attempt == 1 and _stale(error):
                    await self._end(conn.rollback)
                    continue
                raise problem from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]:
        if not keys:
            return {}
        result: dict[Any, Row] = await self._call(_get_many, table, keys)
        return result

    async def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]:
        result: list[Row] = await self._call(_find, table, criteria, limit)
        return result

    async def count(self, table: Table, criteria: Mapping[str, Any]) -> int:
        result: int = await self._call(_count, table, criteria)
        return result

    async def insert(self, table: Table, row: Row) -> Any:
        return await self._call(_insert, table, row)

    async def update(self, table: Table, key: Any, changes: Row, original: Row) -> None:
        await self._call(_update, table, key, changes, original)

    async def delete(self, table: Table, key: Any, original: Row) -> None:
        await self._call(_delete, table, key, original)

    async def _end(self, finish: Callable[[], Any]) -> None:
        conn = self._conn
        self._conn = None
        self._creating = []
        if conn is not None:
            for action in (finish, conn.close):
                with contextlib.suppress(Exception):  # as in SqlSession._end
                    await action()

    async def commit(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            await conn.commit()
        except Exception as error:
            await self._end(conn.rollback)
            problem = self.store._problem(error)
            if problem is None:
                raise
            raise problem from None
        self._conn = None
        if self._creating:
            for mapped in self._creating:
                mapped.created = True
            self._creating = []
        await conn.close()

    async def rollback(self) -> None:
        conn = self._conn
        if conn is not None:
            await self._end(conn.rollback)


def _stale(error: BaseException) -> bool:
    return bool(getattr(error, "connection_invalidated", False))


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0].strip() if text else type(error).__name__


def _set_pragmas(temporary: bool, dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    if temporary:  # a throwaway database need not survive a power cut
        cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _check_directory(url: str, path: str, *_connect_args: Any) -> None:
    """Refuse a missing directory before the driver tries (aiosqlite's worker thread, when its connect
    fails, reports to an event loop that may be closed by then)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise StoreUnavailableError(f"The store {url} is unavailable: {_missing(directory)}.", store=url)


def _missing(directory: str) -> str:
    return f"the directory {directory} does not exist"


def _remove_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            os.remove(path + suffix)


async def _dispose_with_loop(engine: AsyncEngine, engines: dict[Any, Any], loop: Any) -> AsyncGenerator[None, None]:
    """Suspended for the loop's lifetime; finalized by `loop.shutdown_asyncgens()` (which `asyncio.run`
    and pytest-asyncio call before closing the loop), when the engine's connections can still be closed."""
    try:
        yield
    finally:
        if engines.get(loop, (None,))[0] is engine:
            del engines[loop]
        await engine.dispose()


class SqlStore:
    """A SQLite or PostgreSQL database (see the module's docstring)."""

    def __init__(self, url: str) -> None:
        self.url = redact_url(url)
        self._raw_url = url
        backend, _, driver = url.partition(":")[0].partition("+")
        self._temporary: str | None = None
        if backend == "sqlite" and driver in ("", "pysqlite", "aiosqlite"):
            self.dialect = "sqlite"
            self._async_driver = ("aiosqlite", "sql")
        elif backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
            self.dialect = "postgresql"
            self._async_driver = ("psycopg", "postgres")
        else:
            raise StoreError(
                f"{self.url}: the SQL store knows sqlite:// (sqlite3, aiosqlite) and postgresql:// (psycopg 3)",
                store=self.url,
            )
        extra = self._async_driver[1]
        _require("sqlalchemy", extra)
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"{self.url} is not a database URL", store=self.url) from None
        self._path = ""
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                shm = "/dev/shm"
                directory = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
                fd, database = tempfile.mkstemp(prefix="foobara-", suffix=".sqlite", dir=directory)
                os.close(fd)
                self._temporary = database
                weakref.finalize(self, _remove_files, database)
            self._path = database
            self._sa_url = parsed.set(drivername="sqlite+pysqlite", database=database)
            self._async_drivername = "sqlite+aiosqlite"
        else:
            _require("psycopg", extra)
            self._sa_url = parsed.set(drivername="postgresql+psycopg")
            self._async_drivername = "postgresql+psycopg"
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._async_engines: dict[Any, tuple[AsyncEngine, Any]] = {}  # running loop -> (engine, its disposer)
        self._tables: dict[Table, _Mapped] = {}

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r})"

    def session(self) -> SqlSession:
        return SqlSession(self)

    def asession(self) -> SqlAsyncSession:
        return SqlAsyncSession(self)

    def _map(self, table: Table) -> _Mapped:
        with self._lock:
            mapped = self._tables.get(table)
            if mapped is None:
                mapped = self._tables[table] = _Mapped(table, self.dialect)
            return mapped

    def _engine_options(self) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return {
                "hide_parameters": True,
                "connect_args": {"timeout": BUSY_TIMEOUT},
                "json_serializer": _canonical_json,
            }
        return {"hide_parameters": True, "connect_args": {"connect_timeout": CONNECT_TIMEOUT}}

    def _listen(self, engine: Engine) -> None:
        if self.dialect == "sqlite":
            from sqlalchemy import event

            event.listen(engine, "do_connect", functools.partial(_check_directory, self.url, self._path))
            event.listen(engine, "connect", functools.partial(_set_pragmas, self._temporary is not None))

    def _sync_engine(self) -> Engine:
        engine = self._engine
        if engine is None:
            import sqlalchemy as sa

            with self._lock:
                engine = self._engine
                if engine is None:
                    engine = self._engine = sa.create_engine(self._sa_url, **self._engine_options())
                    self._listen(engine)
        return engine

    async def _async_engine(self) -> AsyncEngine:
        loop = asyncio.get_running_loop()
        entry = self._async_engines.get(loop)
        if entry is not None:
            return entry[0]
        module, extra = self._async_driver
        _require(module, extra)
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(self._sa_url.set(drivername=self._async_drivername), **self._engine_options())
        self._listen(engine.sync_engine)
        disposer = _dispose_with_loop(engine, self._async_engines, loop)
        with self._lock:
            for other in [other for other in self._async_engines if other.is_closed()]:
                del self._async_engines[other]  # a loop closed without shutting down its async generators
            self._async_engines[loop] = (engine, disposer)
        await disposer.asend(None)
        return engine

    def _connect(self) -> Connection:
        try:
            return self._sync_engine().connect()
        except Exception as error:
            raise self._unavailable(error) from None

    async def _aconnect(self) -> AsyncConnection:
        engine = await self._async_engine()
        try:
            return await engine.connect()
        except Exception as error:
            raise self._unavailable(error) from None

    def _unavailable(self, error: BaseException) -> Exception:
        if isinstance(error, StoreError):
            return error
        orig = getattr(error, "orig", None) or error
        return StoreUnavailableError(
            f"The store {self.url} is unavailable: {self._reason(orig)}.", store=self.url, reason=type(orig).__name__
        )

    def _reason(self, orig: BaseException) -> str:
        """Why the database cannot be reached, in words (the driver's own sentence as a last resort)."""
        if self.dialect == "sqlite":
            directory = os.path.dirname(os.path.abspath(self._path))
            if not os.path.isdir(directory):
                return _missing(directory)
            return f"SQLite cannot open {self._path} ({_first_line(orig)})"
        from sqlalchemy.engine import make_url

        url = make_url(self._raw_url)
        text = str(orig).lower()
        if "connection refused" in text:
            reason = f"{url.host or 'the server'} refused the connection on port {url.port or 5432} (is it running?)"
        elif "authentication failed" in text:
            reason = f"authentication failed for user {url.username!r}"
        elif any(words in text for words in ("resolve host", "translate host name", "name or service not known")):
            reason = f"the host {url.host!r} is unknown"
        elif "timeout" in text or "timed out" in text:
            reason = f"no answer from {url.host} within {CONNECT_TIMEOUT} seconds"
        else:
            reason = re.split(r"failed: (?:FATAL:\s+)?", _first_line(orig))[-1]
        password = url.password
        return reason.replace(str(password), "***") if password else reason

    def _problem(self, error: BaseException) -> Exception | None:
        """The store's error for a database error (None: not one, let it go as it is)."""
        from sqlalchemy.exc import DBAPIError

        if not isinstance(error, DBAPIError):
            return None
        orig: BaseException = error.orig or error
        sqlstate = getattr(orig, "sqlstate", None) or ""
        sqlite_code = getattr(orig, "sqlite_errorcode", None)
        if error.connection_invalidated or sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES:
            return self._unavailable(error)
        if sqlstate in _CONFLICT_SQLSTATES or (sqlite_code is not None and sqlite_code & 0xFF in _SQLITE_BUSY):
            return TransactionConflict(f"Another transaction got in the way in {self.url}: {_first_line(orig)}")
        if _is_unique_violation(error):
            return UniqueViolationError(f"A value in {self.url} is not unique: {_first_line(orig)}", store=self.url)
        return StoreError(f"The store {self.url} failed: {_first_line(orig)}", store=self.url)

    def close(self) -> None:
        """Dispose the sync engine (and forget async ones whose loop is gone)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()
        with self._lock:
            for loop in [loop for loop in self._async_engines if loop.is_closed()]:
                del self._async_engines[loop]

    async def aclose(self) -> None:
        """Dispose the async engine of the running loop."""
        entry = self._async_engines.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()
