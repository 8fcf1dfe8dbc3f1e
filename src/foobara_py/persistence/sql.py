"""The SQL store: SQLite and PostgreSQL through SQLAlchemy 2 Core (not the ORM).

`SqlStore("sqlite:///path")`, `SqlStore("sqlite://")` or `SqlStore("postgresql://user:pass@host/db")`.
SQLAlchemy, aiosqlite and psycopg are optional extras, imported when a store is made, never by
`import foobara_py`.

Each entity's `Table` is mapped once per store to a `sqlalchemy.Table`, and its statements are
compiled once to SQL text. Sync sessions (Command) run that text on the pooled driver connection
itself (sqlite3, psycopg): SQLAlchemy's per-statement machinery costs more than the whole framework
may take on top of a query. Async sessions run the same text through SQLAlchemy's async connection
(`exec_driver_sql`). Values are converted to and from the database by the store (`_to_database`,
`_FROM_DATABASE`), for both alike. A missing table is created (`CREATE TABLE IF NOT EXISTS`,
committed at once where the database allows: `_create_table`) the first time a session uses it, and
is never altered or dropped (docs/persistence.md: Alembic).

A session holds one pooled connection from its first call until `commit` or `rollback` (the store
keeps up to `IDLE_KEPT` of them, out of any transaction, for its next sync sessions), and one
database transaction from its first write (reads before it each see the latest commit, and a
session that only read has nothing to commit; PostgreSQL's async sessions open it at the first
statement). `update` and `delete` are conditional: `WHERE key = :key AND column IS NOT
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
read snapshot to a write (which SQLite refuses at once with SQLITE_BUSY_SNAPSHOT); the conditional
update is what keeps an update from being lost. `sqlite://` is a private temporary database file
(in /dev/shm where there is one), removed when the store is garbage-collected or the process exits:
SQLite's own in-memory databases belong to one connection, and a shared-cache one locks whole
tables instead of isolating transactions, while sync and async sessions of one store must see the
same data. PostgreSQL: sync sessions read in autocommit mode until their first write.

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
from datetime import date, datetime
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
IDLE_KEPT = 2  # pool connections a store keeps checked out between sync sessions

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


def _column_type(kind: ColumnKind, dialect: str) -> Any:
    """The column's SQL type, for CREATE TABLE and the casts PostgreSQL statements carry. Values
    are converted by `_to_database` and `_FROM_DATABASE`, not by SQLAlchemy."""
    import sqlalchemy as sa

    if dialect == "sqlite":
        sqlite_types = {
            "integer": sa.Integer,  # INTEGER PRIMARY KEY is SQLite's rowid, so keys are generated
            "float": sa.Float,
            "boolean": sa.Boolean,
            "string": sa.Text,
            "decimal": sa.Text,  # the Decimal's digits
            "datetime": sa.Text,  # ISO 8601 with the offset
            "date": sa.Date,
            "json": sa.JSON,  # canonical JSON text
        }
        return sqlite_types[kind]()
    from sqlalchemy.dialects.postgresql import JSONB

    postgres_types = {
        "integer": sa.BigInteger,
        "float": sa.Double,
        "boolean": sa.Boolean,
        "string": sa.Text,
        "decimal": sa.Numeric,
        "date": sa.Date,
        "json": JSONB,
    }
    if kind == "datetime":
        return sa.DateTime(timezone=True)
    return postgres_types[kind]()


# How values of each kind are written and read (None stays None; kinds not listed go as they are).
# SQLite keeps as text what it has no type for; psycopg adapts all but JSON itself.


def _sqlite_datetime(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _sqlite_date(value: Any) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _json_text(value: Any) -> Any:
    """A JSON number comes back as a number: the column's NUMERIC affinity stored its text as one."""
    return json.loads(value) if isinstance(value, str) else value


def _to_database(dialect: str) -> dict[str, Callable[[Any], Any]]:
    if dialect == "sqlite":
        return {"decimal": str, "datetime": _sqlite_datetime, "date": _sqlite_date, "json": _canonical_json}
    from psycopg.types.json import Jsonb

    return {"json": Jsonb}


_FROM_DATABASE: dict[str, dict[str, Callable[[Any], Any]]] = {
    "sqlite": {
        "boolean": bool,
        "decimal": Decimal,
        "datetime": datetime.fromisoformat,
        "date": date.fromisoformat,
        "json": _json_text,
    },
    "postgresql": {},
}


class _Statement:
    """A statement compiled once: its SQL in the driver's positional paramstyle, the names of its
    parameters in order, and the values of those bound when it was built (a LIMIT)."""

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, clause: Any, dialect: Any, column_keys: Sequence[str] | None = None) -> None:
        compiled = clause.compile(dialect=dialect, column_keys=column_keys)
        sql: str = compiled.string
        if compiled.positiontup is not None:  # SQLite: qmark
            names = list(compiled.positiontup)
        else:  # psycopg: pyformat, made positional
            names = []

            def positional(match: re.Match[str]) -> str:
                names.append(match.group(1))
                return "%s"

            sql = re.sub(r"%\(([^)]+)\)s", positional, sql)
        self.sql = sql
        self.names = tuple(names)
        self.defaults = {name: bind.effective_value for name, bind in compiled.binds.items()}

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        defaults = self.defaults
        return tuple(values[name] if name in values else defaults[name] for name in self.names)


_MANY_CACHED = 100  # statements for up to this many keys are kept
_SHAPES_CACHED = 1000  # statements kept per table: shapes are few, but a runaway caller must not grow this forever


class _Mapped:
    """A table as one store sees it: its sqlalchemy.Table, the statements compiled on it, and how
    its values are converted. Sync sessions run the statements on the driver's connection, async
    ones through SQLAlchemy's `exec_driver_sql`: the same SQL and the same values either way."""

    __slots__ = (
        "compiler",
        "created",
        "ddl",
        "dialect",
        "get_one",
        "names",
        "reads",
        "sequence_fix",
        "sql",
        "statements",
        "table",
        "writes",
    )

    def __init__(self, table: Table, dialect: str, compiler: Any) -> None:
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
        self.table = table
        self.sql = sql
        self.dialect = dialect
        self.compiler = compiler
        self.names = tuple(sql.c.keys())
        to_database, from_database = _to_database(dialect), _FROM_DATABASE[dialect]
        self.writes = {name: to_database.get(column.kind) for name, column in table.columns.items()}
        self.reads = tuple(
            (name, from_database[column.kind]) for name, column in table.columns.items() if column.kind in from_database
        )
        self.ddl: str = CreateTable(sql, if_not_exists=True).compile(dialect=compiler).string
        self.created = False
        self.statements: dict[tuple[Any, ...], _Statement] = {}
        self.get_one = self.get(1)
        self.sequence_fix: _Statement | None = None
        if dialect == "postgresql" and table.generated_key:
            # A key given explicitly moves the sequence past it, as SQLite's rowid and the memory store do.
            text = sa.text(
                "SELECT setval(s.seq, :key) FROM"
                " (SELECT CAST(pg_get_serial_sequence(:table, :column) AS regclass) AS seq) AS s"
                " WHERE :key > COALESCE(pg_sequence_last_value(s.seq), 0)"
            )
            quoted = '"' + table.name.replace('"', '""') + '"'
            key = sql.c[table.primary_key]
            self.sequence_fix = _Statement(text.bindparams(table=quoted, column=key.name), compiler)

    def column(self, name: str) -> Any:
        try:
            return self.sql.c[name]
        except KeyError:
            raise StoreError(f"{self.table.entity_name} has no attribute {name!r}", attribute=name) from None

    def value(self, name: str, value: Any) -> Any:
        """The value as the database stores it."""
        write = self.writes[name]
        return value if write is None or value is None else write(value)

    def keys(self, keys: Sequence[Any]) -> tuple[Any, ...]:
        write = self.writes[self.table.primary_key]
        return tuple(keys) if write is None else tuple(self.value(self.table.primary_key, key) for key in keys)

    def row(self, values: Sequence[Any]) -> Row:
        row = dict(zip(self.names, values, strict=True))
        for name, read in self.reads:
            value = row[name]
            if value is not None:
                row[name] = read(value)
        return row

    def _compile(self, shape: tuple[Any, ...], build: Callable[[], Any], column_keys: Any = None) -> _Statement:
        statement = _Statement(build(), self.compiler, column_keys)
        if len(self.statements) < _SHAPES_CACHED:
            self.statements[shape] = statement
        return statement

    def get(self, count: int) -> _Statement:
        """SELECT the rows of `count` keys, given in order."""
        statement = self.statements.get(("get", count))
        if statement is not None:
            return statement
        import sqlalchemy as sa

        key = self.sql.c[self.table.primary_key]

        def build() -> Any:
            if count == 1:
                return sa.select(self.sql).where(key == sa.bindparam("k0"))
            return sa.select(self.sql).where(key.in_([sa.bindparam(f"k{n}") for n in range(count)]))

        if count > _MANY_CACHED:
            return _Statement(build(), self.compiler)
        return self._compile(("get", count), build)

    def insert(self, names: tuple[str, ...], returning: bool) -> _Statement:
        """INSERT these columns (RETURNING the generated key when asked, on PostgreSQL)."""
        statement = self.statements.get(("insert", names))
        if statement is not None:
            return statement
        for name in names:
            self.column(name)

        def build() -> Any:
            insert = self.sql.insert()
            return insert.returning(self.sql.c[self.table.primary_key]) if returning else insert

        return self._compile(("insert", names), build, names)

    def where(self, criteria: Mapping[str, Any]) -> tuple[tuple[Any, ...], Callable[[], list[Any]], dict[str, Any]]:
        """The shape of `criteria` (a None value is IS NULL), its conditions, and their parameters."""
        import sqlalchemy as sa

        shape = tuple((name, criteria[name] is None) for name in criteria)
        for name in criteria:
            self.column(name)

        def conditions() -> list[Any]:
            return [
                self.sql.c[name].is_(None) if is_none else self.sql.c[name] == sa.bindparam("c_" + name)
                for name, is_none in shape
            ]

        params = {"c_" + name: self.value(name, value) for name, value in criteria.items() if value is not None}
        return shape, conditions, params

    def find(self, criteria: Mapping[str, Any], limit: int | None) -> tuple[_Statement, dict[str, Any]]:
        import sqlalchemy as sa

        shape, conditions, params = self.where(criteria)
        statement = self.statements.get(("find", shape, limit))
        if statement is None:

            def build() -> Any:
                select = sa.select(self.sql).where(*conditions()).order_by(self.sql.c[self.table.primary_key])
                return select if limit is None else select.limit(limit)

            statement = self._compile(("find", shape, limit), build)
        return statement, params

    def count(self, criteria: Mapping[str, Any]) -> tuple[_Statement, dict[str, Any]]:
        import sqlalchemy as sa

        shape, conditions, params = self.where(criteria)
        statement = self.statements.get(("count", shape))
        if statement is None:
            statement = self._compile(
                ("count", shape), lambda: sa.select(sa.func.count()).select_from(self.sql).where(*conditions())
            )
        return statement, params

    def unchanged(self, key: Any, original: Row) -> tuple[Callable[[], list[Any]], dict[str, Any]]:
        """The conditions that the row `key` still holds the original's values, and their parameters."""
        import sqlalchemy as sa

        primary_key = self.table.primary_key
        names = [name for name in original if name != primary_key]
        for name in names:
            self.column(name)

        def conditions() -> list[Any]:
            return [self.sql.c[primary_key] == sa.bindparam("key")] + [
                self.sql.c[name].is_not_distinct_from(sa.bindparam("was_" + name)) for name in names
            ]

        params = {"was_" + name: self.value(name, original[name]) for name in names}
        params["key"] = self.value(primary_key, key)
        return conditions, params

    def update(self, key: Any, changes: Row, original: Row) -> tuple[_Statement, dict[str, Any]]:
        import sqlalchemy as sa

        conditions, params = self.unchanged(key, original)
        for name, value in changes.items():
            params["new_" + name] = self.value(name, value)
        shape = ("update", tuple(changes), tuple(original))
        statement = self.statements.get(shape)
        if statement is None:
            values: dict[Any, Any] = {self.column(name): sa.bindparam("new_" + name) for name in changes}
            statement = self._compile(shape, lambda: self.sql.update().where(*conditions()).values(values))
        return statement, params

    def delete(self, key: Any, original: Row) -> tuple[_Statement, dict[str, Any]]:
        conditions, params = self.unchanged(key, original)
        shape = ("delete", tuple(original))
        statement = self.statements.get(shape)
        if statement is None:
            statement = self._compile(shape, lambda: self.sql.delete().where(*conditions()))
        return statement, params


def _conflict(table: Table, key: Any) -> TransactionConflict:
    return TransactionConflict(f"{table.entity_name} {key!r} was changed or deleted by another transaction")


def _driver_error(error: BaseException) -> BaseException:
    """The driver's exception: SQLAlchemy's wraps it, sync sessions get it as it is."""
    orig = getattr(error, "orig", None)
    return error if orig is None else orig


def _is_unique_violation(error: BaseException) -> bool:
    orig = _driver_error(error)
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    return getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE or str(orig).startswith("UNIQUE constraint")


def _unique_violation(table: Table, row: Mapping[str, Any], key: Any, error: BaseException) -> UniqueViolationError:
    """Name the attribute whose value is taken (the key unless the database says another)."""
    orig = _driver_error(error)
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


Execute = Callable[[str, tuple[Any, ...]], Any]


def _create_table(
    execute: Execute, connect: Callable[[], Connection], session: SqlSession | SqlAsyncSession, mapped: _Mapped
) -> None:
    """CREATE TABLE IF NOT EXISTS, committed at once where the database allows, so that no other
    transaction waits for this one to end to see the table.

    SQLite: on the session's connection, which commits it at once unless the session has written
    already (then with the session's commit; another connection would wait for this one's write
    lock). PostgreSQL: on a connection of its own (in the session's transaction, the table's
    catalog rows would make every other creator wait for this transaction); a concurrent creator
    that committed first makes the statement fail although the table is there."""
    if mapped.dialect == "sqlite":
        execute(mapped.ddl, ())
        session._creating.append(mapped)  # known to exist once this transaction commits
        return
    from sqlalchemy.exc import DBAPIError

    with connect() as own:
        try:
            own.exec_driver_sql(mapped.ddl)
            own.commit()
        except DBAPIError as error:
            own.rollback()
            if getattr(error.orig, "sqlstate", None) not in ("42P07", "23505"):  # duplicate table, duplicate type
                raise
    mapped.created = True


# The operations, shared by sync sessions (`execute` is the driver connection's) and async ones
# (`execute` is `exec_driver_sql` of the connection `run_sync` gives): both return a cursor, or a
# result that reads like one.


def _get_many(execute: Execute, mapped: _Mapped, keys: Sequence[Any]) -> dict[Any, Row]:
    statement = mapped.get_one if len(keys) == 1 else mapped.get(len(keys))
    primary_key, row = mapped.table.primary_key, mapped.row
    return {found[primary_key]: found for found in map(row, execute(statement.sql, mapped.keys(keys)).fetchall())}


def _find(execute: Execute, mapped: _Mapped, criteria: Mapping[str, Any], limit: int | None) -> list[Row]:
    statement, params = mapped.find(criteria, limit)
    return [mapped.row(values) for values in execute(statement.sql, statement.params(params)).fetchall()]


def _count(execute: Execute, mapped: _Mapped, criteria: Mapping[str, Any]) -> int:
    statement, params = mapped.count(criteria)
    return int(execute(statement.sql, statement.params(params)).fetchone()[0])


def _insert(execute: Execute, mapped: _Mapped, row: Row) -> Any:
    primary_key = mapped.table.primary_key
    key = row.get(primary_key)
    generated = key is None and primary_key in row
    names = tuple(name for name in row if name != primary_key) if generated else tuple(row)
    statement = mapped.insert(names, generated and mapped.dialect == "postgresql")
    value = mapped.value
    try:
        cursor = execute(statement.sql, tuple(value(name, row[name]) for name in statement.names))
        if key is None:
            return cursor.fetchone()[0] if mapped.dialect == "postgresql" else cursor.lastrowid
    except Exception as error:
        if _is_unique_violation(error):
            raise _unique_violation(mapped.table, row, key, error) from None
        raise
    fix = mapped.sequence_fix
    if fix is not None and isinstance(key, int):
        execute(fix.sql, fix.params({"key": key}))
    return key


def _update(execute: Execute, mapped: _Mapped, key: Any, changes: Row, original: Row) -> None:
    if not changes:  # nothing to write: still check (and lock) the row
        changes = {mapped.table.primary_key: key}
    statement, params = mapped.update(key, changes, original)
    try:
        cursor = execute(statement.sql, statement.params(params))
    except Exception as error:
        if _is_unique_violation(error):
            raise _unique_violation(mapped.table, changes, key, error) from None
        raise
    if cursor.rowcount == 0:
        raise _conflict(mapped.table, key)


def _delete(execute: Execute, mapped: _Mapped, key: Any, original: Row) -> None:
    statement, params = mapped.delete(key, original)
    if execute(statement.sql, statement.params(params)).rowcount == 0:
        raise _conflict(mapped.table, key)


_WRITES = frozenset({_insert, _update, _delete})


def _run(
    execute: Execute,
    connect: Callable[[], Connection],
    session: SqlSession | SqlAsyncSession,
    op: Callable[..., Any],
    table: Table,
    args: Any,
) -> Any:
    store = session.store
    mapped = store._tables.get(table) or store._map(table)
    if not mapped.created and mapped not in session._creating:
        _create_table(execute, connect, session, mapped)
    return op(execute, mapped, *args)


def _run_on(conn: Connection, session: SqlAsyncSession, op: Callable[..., Any], table: Table, args: Any) -> Any:
    return _run(conn.exec_driver_sql, conn.engine.connect, session, op, table, args)


def _quiet(action: Callable[[], Any]) -> None:
    with contextlib.suppress(Exception):  # the connection is broken: the database drops its transaction anyway
        action()


class SqlSession:
    """One transaction on one pooled connection, for sync code. The statements run on the driver's
    connection itself (sqlite3, psycopg), without SQLAlchemy's execution machinery: that is where a
    command's time would go. Reads before the first write run outside a transaction (SQLite's
    driver opens it at the first write; psycopg is told to, by autocommit until then), so a session
    that only read has nothing to commit."""

    __slots__ = ("_aborted", "_conn", "_creating", "_db", "_reading", "_wrote", "store")

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._conn: Any = None  # the pool's connection (closing it gives it back)
        self._db: Any = None  # the driver's connection in it
        self._creating: list[_Mapped] = []  # tables created in this transaction: known to exist once it commits
        self._wrote = False
        self._reading = False  # PostgreSQL: in autocommit mode, no write yet
        self._aborted: StoreError | None = None  # see _failed_statement

    def _checkout(self) -> Any:
        conn = self.store._raw_connect()
        db = conn.driver_connection
        if self.store.dialect == "postgresql" and not self._wrote:
            db.autocommit = True
            self._reading = True
        self._conn, self._db = conn, db
        return db

    def _call(self, op: Callable[..., Any], table: Table, *args: Any) -> Any:
        store = self.store
        write = op in _WRITES
        if write:
            self._wrote = True
        for attempt in (1, 2):
            db = self._db
            fresh = db is None
            if fresh:
                db = self._checkout()
            try:
                if write and self._reading:
                    self._reading = False
                    db.autocommit = False  # psycopg begins the transaction with this write
                return _run(db.execute, store._connect, self, op, table, args)
            except Exception as error:
                gone = store._gone(db)
                problem = store._problem(error, gone)
                if problem is None:
                    raise
                if gone:
                    store._lost(self._conn)
                    if fresh and attempt == 1:  # a pooled connection the server dropped
                        self._end(None)
                        continue
                if self._wrote and not self._reading:
                    self._aborted = _failed_statement(store, problem)
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

    def _end(self, finish: Callable[[], Any] | None) -> None:
        conn, db = self._conn, self._db
        self._conn = self._db = None
        self._creating = []
        self._wrote = False
        if conn is None:
            return
        clean = True
        if finish is not None:
            try:
                finish()
            except Exception:  # the connection is broken: the database drops its transaction anyway
                clean = False
        if self._reading:
            self._reading = False
            try:
                db.autocommit = False  # as the pool's other users expect it
            except Exception:
                clean = False
                _quiet(conn.invalidate)  # never back in the pool in autocommit mode
        self.store._release(conn, db, clean)

    def commit(self) -> None:
        db = self._db
        if db is None:
            return
        if self._aborted is not None:
            aborted, self._aborted = self._aborted, None
            self._end(db.rollback)
            raise aborted
        if self._wrote:
            try:
                db.commit()
            except Exception as error:
                gone = self.store._gone(db)
                if gone:
                    self.store._lost(self._conn)
                self._end(db.rollback)
                problem = self.store._problem(error, gone)
                if problem is None:
                    raise
                raise problem from None
        for mapped in self._creating:  # committed now, or at once if the session had not written
            mapped.created = True
        self._end(None)

    def rollback(self) -> None:
        self._aborted = None
        db = self._db
        if db is not None:
            self._end(db.rollback if self._wrote else None)


class SqlAsyncSession:
    """`SqlSession` for async code: the same statements, run through SQLAlchemy's async connection
    (whose transaction begins with the first statement)."""

    __slots__ = ("_aborted", "_conn", "_creating", "_wrote", "store")

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._conn: AsyncConnection | None = None
        self._creating: list[_Mapped] = []
        self._wrote = False
        self._aborted: StoreError | None = None  # see _failed_statement

    async def _call(self, op: Callable[..., Any], table: Table, *args: Any) -> Any:
        if op in _WRITES:
            self._wrote = True
        for attempt in (1, 2):
            conn = self._conn
            fresh = conn is None
            if conn is None:
                conn = self._conn = await self.store._aconnect()
            try:
                return await conn.run_sync(_run_on, self, op, table, args)
            except Exception as error:
                problem = self.store._problem(error)
                if problem is None:
                    raise
                if fresh and attempt == 1 and _stale(error):
                    await self._end(conn.rollback)
                    continue
                if self._wrote:
                    self._aborted = _failed_statement(self.store, problem)
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

    async def _end(self, finish: Callable[[], Any] | None) -> None:
        conn = self._conn
        self._conn = None
        self._creating = []
        self._wrote = False
        if conn is not None:
            for action in (finish, conn.close):
                if action is not None:
                    with contextlib.suppress(Exception):  # as in SqlSession._end
                        await action()

    async def commit(self) -> None:
        conn = self._conn
        if conn is None:
            return
        if self._aborted is not None:
            aborted, self._aborted = self._aborted, None
            await self._end(conn.rollback)
            raise aborted
        if self._wrote:  # else closing ends the reads' transaction: a round trip (or thread hop) less
            try:
                await conn.commit()
            except Exception as error:
                await self._end(conn.rollback)
                problem = self.store._problem(error)
                if problem is None:
                    raise
                raise problem from None
        for mapped in self._creating:  # as in SqlSession.commit
            mapped.created = True
        await self._end(None)

    async def rollback(self) -> None:
        self._aborted = None
        conn = self._conn
        if conn is not None:
            await self._end(conn.rollback)


def _failed_statement(store: SqlStore, problem: Exception) -> StoreError | None:
    """What the commit of a transaction with writes raises after one of its statements failed
    (and was caught): PostgreSQL has aborted such a transaction, and its COMMIT silently rolls
    back, so the writes would be lost without a word. SQLite keeps them: None."""
    if store.dialect != "postgresql":
        return None
    return StoreError(
        f"The store {store.url} cannot commit: a statement of this transaction failed ({problem}), "
        "and PostgreSQL keeps none of the transaction's writes after that",
        store=store.url,
    )


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


def _close_all(connections: list[Any]) -> None:
    while connections:
        _quiet(connections.pop().close)


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
            import sqlite3

            self._driver_error: type[Exception] = sqlite3.Error
        else:
            self._driver_error = _require("psycopg", extra).Error
            self._sa_url = parsed.set(drivername="postgresql+psycopg")
            self._async_drivername = "postgresql+psycopg"
        self._compiler = self._sa_url.get_dialect()()  # compiles the statements; never connects
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._async_engines: dict[Any, tuple[AsyncEngine, Any]] = {}  # running loop -> (engine, its disposer)
        self._tables: dict[Table, _Mapped] = {}
        self._idle: list[Any] = []  # pool connections kept between sync sessions, out of any transaction

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
                mapped = self._tables[table] = _Mapped(table, self.dialect, self._compiler)
            return mapped

    def _engine_options(self) -> dict[str, Any]:
        if self.dialect == "sqlite":
            return {"hide_parameters": True, "connect_args": {"timeout": BUSY_TIMEOUT}}
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

    def _raw_connect(self) -> Any:
        """A connection of the sync engine's pool, used through its driver connection: one the store
        kept from an earlier session, or a checkout (which costs as much as a query on SQLite)."""
        try:
            return self._idle.pop()
        except IndexError:
            pass
        try:
            return self._sync_engine().raw_connection()
        except Exception as error:
            raise self._unavailable(error) from None

    def _release(self, conn: Any, db: Any, clean: bool) -> None:
        """Keep a connection for the next session if it is out of any transaction, else give it back
        to the pool (which rolls back, or drops it if it was invalidated)."""
        if self._engine is None:  # the store was closed meanwhile: its pool is gone, so is the connection
            _quiet(conn.invalidate)
        elif clean and len(self._idle) < IDLE_KEPT and conn.is_valid and self._idle_state(db):
            self._idle.append(conn)
        else:
            _quiet(conn.close)

    def _idle_state(self, db: Any) -> bool:
        if self.dialect == "sqlite":
            return not db.in_transaction
        return not db.autocommit and db.info.transaction_status == 0  # psycopg's TransactionStatus.IDLE

    def _lost(self, conn: Any) -> None:
        """The database dropped a connection, and likely the others with it (a restart): they are all
        replaced, as SQLAlchemy does when its own connections find one lost."""
        engine = self._engine
        if engine is not None:
            _quiet(functools.partial(engine.pool._invalidate, conn))  # connections made before now: new ones
        else:
            _quiet(conn.invalidate)
        while self._idle:
            _quiet(self._idle.pop().invalidate)

    def _gone(self, db: Any) -> bool:
        """Whether the driver connection is lost (psycopg marks it; a SQLite file is never lost)."""
        return self.dialect == "postgresql" and bool(db.broken or db.closed)

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

    def _problem(self, error: BaseException, gone: bool = False) -> Exception | None:
        """The store's error for a database error, SQLAlchemy's or the driver's (None: not one, let
        it go as it is). `gone`: the connection is known to be lost."""
        from sqlalchemy.exc import DBAPIError

        if isinstance(error, DBAPIError):
            orig: BaseException = error.orig or error
            gone = gone or error.connection_invalidated
        elif isinstance(error, self._driver_error):
            orig = error
        else:
            return None
        sqlstate = getattr(orig, "sqlstate", None) or ""
        sqlite_code = getattr(orig, "sqlite_errorcode", None)
        if gone or sqlstate.startswith("08") or sqlstate in _GONE_SQLSTATES:
            return self._unavailable(orig)
        if sqlstate in _CONFLICT_SQLSTATES or (sqlite_code is not None and sqlite_code & 0xFF in _SQLITE_BUSY):
            return TransactionConflict(f"Another transaction got in the way in {self.url}: {_first_line(orig)}")
        if _is_unique_violation(orig):
            return UniqueViolationError(f"A value in {self.url} is not unique: {_first_line(orig)}", store=self.url)
        return StoreError(f"The store {self.url} failed: {_first_line(orig)}", store=self.url)

    def close(self) -> None:
        """Dispose the sync engine (and forget async ones whose loop is gone)."""
        _close_all(self._idle)
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
