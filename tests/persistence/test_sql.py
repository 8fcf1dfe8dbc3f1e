"""What the SQL store does beyond the store contract: tables, unreachable databases, event loops,
concurrent writers."""

from __future__ import annotations

import asyncio
import gc
import glob
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from foobara_py.persistence.sql import MissingExtraError, SqlStore
from foobara_py.persistence.store import (
    Column,
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
