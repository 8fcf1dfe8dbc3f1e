"""What the SQL store does beyond the store contract: tables, unreachable databases, event loops,
concurrent writers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import glob
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from foobara_py.persistence.sql import MissingExtraError, SqlStore
from foobara_py.persistence.store import (
    Column,
    ColumnKind,
    Row,
    StoreError,
    StoreUnavailableError,
    Table,
    TransactionConflict,
)
from tests.servers import free_port


def counter_table(*extra: str) -> Table:
    columns = {"id": Column("id", "integer", False), "value": Column("value", "integer", False)}
    columns.update({name: Column(name, "string", True) for name in extra})
    return Table("counter", "Sql::Counter", "id", columns, generated_key=True)


COUNTER = counter_table()

SQL_URLS = ["sqlite", "sqlite-memory", "postgresql"]


@pytest.fixture(params=SQL_URLS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    if request.param == "sqlite-memory":
        return "sqlite://"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def file_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database that outlives its store (unlike `sqlite://`)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def store(sql_url: str) -> Iterator[SqlStore]:
    made = SqlStore(sql_url)
    yield made
    made.close()


def column_names(url: str, name: str) -> list[str] | None:
    """The table's columns as the database has them (None: no such table), read without the store."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        inspector = sa.inspect(engine)
        if not inspector.has_table(name):
            return None
        return [column["name"] for column in inspector.get_columns(name)]
    finally:
        engine.dispose()


def add(store: SqlStore, value: int) -> int:
    session = store.session()
    key = session.insert(COUNTER, {"id": None, "value": value})
    session.commit()
    return int(key)


def value_of(store: SqlStore, key: int) -> int:
    session = store.session()
    try:
        return int(session.get_many(COUNTER, [key])[key]["value"])
    finally:
        session.rollback()


# --------------------------------------------------------------------------------------------
# Tables


def test_a_table_is_created_when_first_used_and_never_altered_or_dropped(file_url: str) -> None:
    first = SqlStore(file_url)
    assert column_names(file_url, "counter") is None
    key = add(first, 41)
    assert column_names(file_url, "counter") == ["id", "value"]
    first.close()

    second = SqlStore(file_url)
    assert value_of(second, key) == 41  # a new store finds the table and its rows
    session = second.session()
    with pytest.raises(StoreError, match=r"no such column|does not exist"):  # an entity grown a column
        session.find(counter_table("label"), {})
    session.rollback()
    assert column_names(file_url, "counter") == ["id", "value"]
    assert value_of(second, key) == 41
    second.close()


def test_a_table_created_by_a_rolled_back_transaction_is_there_when_used_again(store: SqlStore) -> None:
    session = store.session()
    session.insert(COUNTER, {"id": None, "value": 1})  # the table's first use
    session.rollback()
    add(store, 2)
    session = store.session()
    assert [row["value"] for row in session.find(COUNTER, {})] == [2]
    session.rollback()


def test_a_table_created_by_a_transaction_still_open_can_be_used_by_others(store: SqlStore) -> None:
    writer = store.session()
    writer.insert(COUNTER, {"id": None, "value": 1})  # the table's first use, in a transaction left open
    counted: list[int] = []

    def count() -> None:
        session = store.session()
        counted.append(session.count(COUNTER, {}))
        session.commit()

    reader = threading.Thread(target=count)
    reader.start()
    reader.join(5)
    finished = not reader.is_alive()
    writer.commit()
    reader.join(10)
    assert finished, "the reader waited for the writer's transaction to end"
    assert counted == [0]


def test_an_error_of_the_database_is_a_store_error_without_the_rows_values(store: SqlStore) -> None:
    table = Table(
        "secret",
        "Sql::Secret",
        "id",
        {
            "id": Column("id", "integer", False),
            "name": Column("name", "string", False),
            "token": Column("token", "string", True),
        },
        generated_key=True,
    )
    session = store.session()
    with pytest.raises(StoreError) as raised:
        session.insert(table, {"id": None, "name": None, "token": "hunter2-secret"})
    session.rollback()
    assert "name" in str(raised.value)
    assert store.url in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "hunter2" not in str(raised.value) and "hunter2" not in repr(raised.value.context)


# --------------------------------------------------------------------------------------------
# Values: sync sessions run the driver directly, async ones go through SQLAlchemy; the rows are the same

KINDS: dict[str, ColumnKind] = {
    "flag": "boolean",
    "ratio": "float",
    "count": "integer",
    "price": "decimal",
    "born": "date",
    "at": "datetime",
    "tags": "json",
    "note": "string",
}
VALUES = Table(
    "value",
    "Sql::Value",
    "code",
    {"code": Column("code", "string", False)} | {name: Column(name, kind, True) for name, kind in KINDS.items()},
    generated_key=False,
    key_kind="string",
)
VALUE_ROWS: list[Row] = [
    {
        "code": "a",
        "flag": True,
        "ratio": 0.25,
        "count": 2**40,
        "price": Decimal("12.50"),
        "born": date(1970, 1, 2),
        "at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "tags": {"size": {"w": 2, "h": 3}, "colors": ["red", "green"]},
        "note": "é ünïcødé ✓",
    },
    {
        "code": "b",
        "flag": False,
        "ratio": -1e-3,
        "count": -7,
        "price": Decimal("-0.000001"),
        "born": date(999, 12, 31),
        "at": datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        "tags": [1, "two", None, True, {"three": [3.5]}],
        "note": "",
    },
    {"code": "c", "tags": 42} | dict.fromkeys(["flag", "ratio", "count", "price", "born", "at", "note"]),
    {"code": "d", "flag": True, "tags": "text", "ratio": 3.0, "count": 0, "price": Decimal("1E+3")}
    | dict.fromkeys(["born", "at", "note"]),
    {"code": "e", "tags": 2.5} | dict.fromkeys(["flag", "ratio", "count", "price", "born", "at", "note"]),
]


def same_instant(row: Row) -> Row:
    """The row with its datetime in UTC (PostgreSQL gives it back in the session's time zone)."""
    at = row["at"]
    return row | {"at": None if at is None else at.astimezone(UTC)}


async def write_values(store: SqlStore, how: str) -> None:
    if how == "sync":
        session: Any = store.session()
        for row in VALUE_ROWS:
            session.insert(VALUES, row)
        session.commit()
        return
    asession = store.asession()
    for row in VALUE_ROWS:
        await asession.insert(VALUES, row)
    await asession.commit()


async def read_values(store: SqlStore, how: str) -> dict[Any, Row]:
    codes = [row["code"] for row in VALUE_ROWS]
    if how == "sync":
        session = store.session()
        rows = session.get_many(VALUES, codes)
        session.rollback()
        return rows
    asession = store.asession()
    arows = await asession.get_many(VALUES, codes)
    await asession.rollback()
    return arows


@pytest.mark.parametrize(("writer", "reader"), [("sync", "async"), ("async", "sync")])
async def test_rows_written_by_sync_sessions_read_the_same_in_async_ones_and_back(
    store: SqlStore, writer: str, reader: str
) -> None:
    await write_values(store, writer)
    rows = await read_values(store, reader)
    assert {code: same_instant(row) for code, row in rows.items()} == {
        row["code"]: same_instant(row) for row in VALUE_ROWS
    }
    for row in VALUE_ROWS:
        for name, value in rows[row["code"]].items():
            assert type(value) is type(row[name]), (row["code"], name)
    assert rows == await read_values(store, writer)

    # What one path reads, the other finds and takes as unchanged (a conditional update that matches)
    for code, row in rows.items():
        for name, value in row.items():
            if value is not None:
                criteria = {name: value}
                if reader == "sync":
                    asession = store.asession()
                    found = await asession.find(VALUES, criteria)
                    await asession.rollback()
                else:
                    session = store.session()
                    found = session.find(VALUES, criteria)
                    session.rollback()
                assert code in [other["code"] for other in found], (code, name)
    if reader == "sync":
        asession = store.asession()
        for code, row in rows.items():
            await asession.update(VALUES, code, {"note": "seen"}, row)
        await asession.commit()
    else:
        session = store.session()
        for code, row in rows.items():
            session.update(VALUES, code, {"note": "seen"}, row)
        session.commit()
    assert {row["note"] for row in (await read_values(store, writer)).values()} == {"seen"}


def test_sqlite_keeps_values_as_its_earlier_versions_wrote_them(tmp_path: Path) -> None:
    """Databases written before keep working: the file holds each kind as it did then."""
    store = SqlStore(f"sqlite:///{tmp_path}/store.db")
    session = store.session()
    for row in VALUE_ROWS[:3]:
        session.insert(VALUES, row)
    session.commit()
    store.close()
    with contextlib.closing(sqlite3.connect(tmp_path / "store.db")) as connection:
        stored = connection.execute(
            "SELECT code, flag, ratio, count, price, born, at, tags, note FROM value ORDER BY code"
        ).fetchall()
    assert stored == [
        (
            "a",
            1,
            0.25,
            2**40,
            "12.50",
            "1970-01-02",
            "2024-05-06T07:08:09.123456+00:00",
            '{"colors":["red","green"],"size":{"h":3,"w":2}}',
            "é ünïcødé ✓",
        ),
        (
            "b",
            0,
            -1e-3,
            -7,
            "-0.000001",
            "0999-12-31",
            "1999-12-31T23:59:59-05:30",
            '[1,"two",null,true,{"three":[3.5]}]',
            "",
        ),
        ("c", None, None, None, None, None, None, 42, None),  # the JSON column's NUMERIC affinity
    ]


def backends_in_a_transaction(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_postgresql_session_opens_its_transaction_at_its_first_write(postgres_database: str) -> None:
    """Reads before it need no transaction: a session that only read holds none and commits nothing."""
    store = SqlStore(postgres_database)
    key = add(store, 1)
    session = store.session()
    row = session.get_many(COUNTER, [key])[key]
    assert session.count(COUNTER, {}) == 1
    assert backends_in_a_transaction(postgres_database) == 0
    session.update(COUNTER, key, {"value": 2}, row)
    assert backends_in_a_transaction(postgres_database) == 1
    assert value_of(store, key) == 1
    session.commit()
    assert backends_in_a_transaction(postgres_database) == 0
    assert value_of(store, key) == 2
    store.close()


def test_a_session_that_writes_first_on_a_connection_a_reader_used_is_still_one_transaction(file_url: str) -> None:
    store = SqlStore(file_url)
    key = add(store, 1)
    for _ in range(3):  # the pool hands the readers' connection on
        assert value_of(store, key) == 1
        session = store.session()
        session.insert(COUNTER, {"id": None, "value": 2})
        session.update(COUNTER, key, {"value": 3}, {"id": key, "value": 1})
        session.rollback()
    session = store.session()
    assert session.find(COUNTER, {}) == [{"id": key, "value": 1}]
    session.rollback()
    store.close()


# --------------------------------------------------------------------------------------------
# A database that cannot be reached


def test_a_refused_connection_names_the_store_without_its_password() -> None:
    port = free_port()
    store = SqlStore(f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/library")
    expected = (
        f"The store postgresql://alice:***@127.0.0.1:{port}/library is unavailable: "
        f"127.0.0.1 refused the connection on port {port} (is it running?)."
    )
    assert store.url == f"postgresql://alice:***@127.0.0.1:{port}/library"
    assert "s3cret" not in repr(store)

    with pytest.raises(StoreUnavailableError) as raised:
        store.session().find(COUNTER, {})
    assert str(raised.value) == expected

    async def find() -> None:
        await store.asession().find(COUNTER, {})

    with pytest.raises(StoreUnavailableError) as async_raised:
        asyncio.run(find())
    assert str(async_raised.value) == expected

    error = raised.value.to_foobara_error()
    assert error.key == "runtime.store_unavailable"
    assert error.message == expected
    for text in (str(raised.value), repr(raised.value.context), repr(error.context)):
        assert "s3cret" not in text
        assert "Traceback" not in text
    store.close()


def test_an_unknown_host_is_said_to_be_unknown() -> None:
    store = SqlStore("postgresql://alice:pw@no-such-host.invalid/library")
    with pytest.raises(StoreUnavailableError) as raised:
        store.session().count(COUNTER, {})
    assert str(raised.value) == (
        "The store postgresql://alice:***@no-such-host.invalid/library is unavailable: "
        "the host 'no-such-host.invalid' is unknown."
    )


def test_a_sqlite_database_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing/library.db"
    store = SqlStore(url)
    expected = f"The store {url} is unavailable: the directory {tmp_path}/missing does not exist."
    with pytest.raises(StoreUnavailableError) as raised:
        store.session().insert(COUNTER, {"id": None, "value": 1})
    assert str(raised.value) == expected

    async def insert() -> None:
        await store.asession().insert(COUNTER, {"id": None, "value": 1})

    with pytest.raises(StoreUnavailableError) as async_raised:
        asyncio.run(insert())
    assert str(async_raised.value) == expected
    store.close()


def terminate_other_connections(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def test_a_pooled_connection_the_server_dropped_is_replaced(postgres_database: str) -> None:
    store = SqlStore(postgres_database)
    key = add(store, 5)  # leaves a connection in the pool
    terminate_other_connections(postgres_database)
    assert value_of(store, key) == 5
    store.close()


def test_a_connection_lost_in_a_transaction_is_unavailable_and_loses_nothing_committed(
    postgres_database: str,
) -> None:
    store = SqlStore(postgres_database)
    key = add(store, 5)
    session = store.session()
    row = session.get_many(COUNTER, [key])[key]
    terminate_other_connections(postgres_database)
    with pytest.raises(
        StoreUnavailableError, match=r"^The store postgresql://postgres@127\.0\.0\.1:\d+/test_\d+ is unavailable: "
    ):
        session.update(COUNTER, key, {"value": 6}, row)
    session.rollback()
    assert value_of(store, key) == 5
    store.close()


def store_connections(url: str, *, settled: int | None = None) -> int:
    """Connections to the test's database, other than the one asking. With `settled`, asked again
    (for up to 10 s) until there are that many: a closed connection's backend process leaves
    pg_stat_activity a moment after the client has hung up."""
    import psycopg

    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
            assert row is not None
            if settled is None or row[0] == settled or time.monotonic() > deadline:
                return int(row[0])
            time.sleep(0.02)


def test_closing_a_store_closes_the_connections_it_kept_between_sessions(postgres_database: str) -> None:
    store = SqlStore(postgres_database)
    key = add(store, 1)
    first, second = store.session(), store.session()
    assert first.get_many(COUNTER, [key]) == second.get_many(COUNTER, [key])  # two connections at once
    first.commit()
    second.rollback()
    assert store_connections(postgres_database) >= 1
    store.close()
    assert store_connections(postgres_database, settled=0) == 0
    assert value_of(store, key) == 1  # a closed store connects again when used
    store.close()


def test_a_session_that_ends_after_its_store_closed_gives_its_connection_back(postgres_database: str) -> None:
    store = SqlStore(postgres_database)
    key = add(store, 1)
    session = store.session()
    session.get_many(COUNTER, [key])
    store.close()
    session.commit()
    assert store_connections(postgres_database, settled=0) == 0


# --------------------------------------------------------------------------------------------
# Configuration


def test_a_missing_driver_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'foobara-py\[postgres\]'") as raised:
        SqlStore("postgresql://alice:pw@localhost/library")
    assert isinstance(raised.value, ImportError)

    store = SqlStore(f"sqlite:///{tmp_path}/library.db")
    monkeypatch.setitem(sys.modules, "aiosqlite", None)

    async def count() -> int:
        return int(await store.asession().count(COUNTER, {}))

    with pytest.raises(MissingExtraError, match=r"pip install 'foobara-py\[sql\]'"):
        asyncio.run(count())
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'foobara-py\[sql\]'"):
        SqlStore("sqlite://")
    store.close()


def test_a_driver_the_store_does_not_use_is_refused_with_the_ones_it_knows() -> None:
    with pytest.raises(StoreError, match=r"knows sqlite:// .* and postgresql://"):
        SqlStore("postgresql+asyncpg://alice:pw@localhost/library")


def test_importing_the_sql_store_does_not_import_sqlalchemy() -> None:
    code = "import sys, foobara_py, foobara_py.persistence.sql; print('sqlalchemy' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_an_in_memory_database_is_its_stores_alone_and_leaves_no_file() -> None:
    before = set(glob.glob("/dev/shm/foobara-*")) | set(glob.glob(f"{tempfile.gettempdir()}/foobara-*"))
    first, second = SqlStore("sqlite://"), SqlStore("sqlite://")
    key = add(first, 1)
    assert value_of(first, key) == 1
    assert second.session().get_many(COUNTER, [key]) == {}
    first.close()
    second.close()
    del first, second
    gc.collect()
    after = set(glob.glob("/dev/shm/foobara-*")) | set(glob.glob(f"{tempfile.gettempdir()}/foobara-*"))
    assert after <= before


# --------------------------------------------------------------------------------------------
# Event loops


def test_the_store_serves_successive_event_loops_and_sync_code_alike(store: SqlStore) -> None:
    async def add_async(value: int) -> Any:
        session = store.asession()
        key = await session.insert(COUNTER, {"id": None, "value": value})
        await session.commit()
        return key

    async def total() -> int:
        session = store.asession()
        rows = await session.find(COUNTER, {})
        await session.rollback()
        return sum(row["value"] for row in rows)

    first = asyncio.run(add_async(1))
    second = asyncio.run(add_async(2))
    add(store, 4)
    assert asyncio.run(total()) == 7
    assert value_of(store, first) + value_of(store, second) == 3
    with asyncio.Runner() as runner:
        assert runner.run(total()) == 7
        runner.run(store.aclose())
        assert runner.run(total()) == 7  # a closed store opens a new engine when used again


# --------------------------------------------------------------------------------------------
# Concurrency


def test_concurrent_writers_wait_for_each_other_instead_of_failing(store: SqlStore) -> None:
    first = store.session()
    first.insert(COUNTER, {"id": None, "value": 1})  # holds SQLite's write lock until the commit
    done = threading.Event()
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            add(store, 2)
        except BaseException as error:
            errors.append(error)
        done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    done.wait(0.3)
    first.commit()
    thread.join(10)
    assert errors == []
    session = store.session()
    assert sorted(row["value"] for row in session.find(COUNTER, {})) == [1, 2]
    session.rollback()


WRITERS = 8


def test_threads_incrementing_one_row_lose_no_update(store: SqlStore) -> None:
    key = add(store, 0)
    everyone_has_read = threading.Barrier(WRITERS)
    conflicts: list[int] = []
    errors: list[BaseException] = []

    def increment() -> None:
        attempt = 0
        try:
            while True:
                attempt += 1
                session = store.session()
                try:
                    row = session.get_many(COUNTER, [key])[key]
                    if attempt == 1:
                        everyone_has_read.wait(10)
                    session.update(COUNTER, key, {"value": row["value"] + 1}, row)
                    session.commit()
                    return
                except TransactionConflict:
                    session.rollback()
                    conflicts.append(1)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert value_of(store, key) == WRITERS
    assert len(conflicts) >= WRITERS - 1  # all read 0 before anyone wrote: all but one had to retry


async def test_tasks_incrementing_one_row_lose_no_update(store: SqlStore) -> None:
    key = add(store, 0)
    everyone_has_read = asyncio.Barrier(WRITERS)
    conflicts: list[int] = []

    async def increment() -> None:
        attempt = 0
        while True:
            attempt += 1
            session = store.asession()
            try:
                row = (await session.get_many(COUNTER, [key]))[key]
                if attempt == 1:
                    await everyone_has_read.wait()
                await session.update(COUNTER, key, {"value": row["value"] + 1}, row)
                await session.commit()
                return
            except TransactionConflict:
                await session.rollback()
                conflicts.append(1)

    await asyncio.wait_for(asyncio.gather(*(increment() for _ in range(WRITERS))), 60)
    assert value_of(store, key) == WRITERS
    assert len(conflicts) >= WRITERS - 1
