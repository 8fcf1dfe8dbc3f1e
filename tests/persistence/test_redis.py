"""The Redis store on a real redis-server: its layout, its optimistic transactions, its faults."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import redis
from pydantic import BaseModel

from foobara_py.persistence.redis import RedisStore
from foobara_py.persistence.store import (
    Column,
    StoreError,
    StoreUnavailableError,
    Table,
    TransactionConflict,
    UniqueViolationError,
)
from tests.servers import free_port


def _table(table_name: str, key_kind: Any = "integer", generated: bool = True, **kinds: Any) -> Table:
    columns = {
        "id": Column("id", key_kind, True),
        **{field: Column(field, kind, True) for field, kind in kinds.items()},
    }
    return Table(table_name, f"Test::{table_name.title()}", "id", columns, generated, key_kind)


ITEMS = _table(
    "test_item",
    name="string",
    price="decimal",
    at="datetime",
    day="date",
    ratio="float",
    ok="boolean",
    meta="json",
    owner="integer",
)
COUNTERS = _table("test_counter", value="integer")
TAGS = _table("test_tag", key_kind="string", generated=False, label="string")


class Item(BaseModel):
    id: int
    name: str
    price: Decimal
    at: datetime
    day: date
    ratio: float
    ok: bool
    meta: dict[str, Any]
    owner: int | None


AN_ITEM = {
    "id": None,
    "name": 'Wrench "é"',
    "price": Decimal("12.50"),
    "at": datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    "day": date(2024, 5, 1),
    "ratio": 0.25,
    "ok": True,
    "meta": {"sizes": [8, 10], "note": None},
    "owner": None,
}


@pytest.fixture
def client(redis_db_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_db_url, decode_responses=True) as client:
        yield client


@pytest.fixture
def store(redis_db_url: str) -> Iterator[RedisStore]:
    store = RedisStore(redis_db_url)
    yield store
    store.close()


def _contents(client: redis.Redis) -> dict[str, Any]:
    """Every key of the database and what it holds."""
    contents: dict[str, Any] = {}
    for key in client.keys("*"):
        kind = client.type(key)
        if kind == "hash":
            contents[key] = client.hgetall(key)
        elif kind == "zset":
            contents[key] = client.zrange(key, 0, -1, withscores=True)
        else:
            contents[key] = client.get(key)
    return contents


def _create(store: RedisStore, table: Table, **row: Any) -> Any:
    session = store.session()
    key = session.insert(table, {"id": None, **row})
    session.commit()
    return key


# --- layout ------------------------------------------------------------------------------------


def test_a_record_is_a_hash_of_json_values_indexed_in_a_sorted_set_with_a_sequence(
    store: RedisStore, client: redis.Redis
) -> None:
    session = store.session()
    first = session.insert(ITEMS, AN_ITEM)
    second = session.insert(ITEMS, {**AN_ITEM, "name": "Hammer", "owner": first})
    session.commit()

    assert (first, second) == (1, 2)
    assert client.hgetall("foobara:test_item:1") == {
        "id": "1",
        "name": '"Wrench \\"é\\""',
        "price": '"12.50"',
        "at": '"2024-05-01T12:30:00+00:00"',
        "day": '"2024-05-01"',
        "ratio": "0.25",
        "ok": "true",
        "meta": '{"sizes":[8,10],"note":null}',
        "owner": "null",
    }
    assert client.hget("foobara:test_item:2", "owner") == "1"
    assert client.zrange("foobara:test_item", 0, -1, withscores=True) == [("1", 1.0), ("2", 2.0)]
    assert client.get("foobara:test_item#sequence") == "2"


def test_rows_come_back_as_they_were_written_and_validate_as_the_entity(store: RedisStore) -> None:
    key = _create(store, ITEMS, **{**AN_ITEM, "id": None})

    row = store.session().get_many(ITEMS, [key])[key]

    assert row == {**AN_ITEM, "id": key}
    assert Item.model_validate(row) == Item.model_validate({**AN_ITEM, "id": key})


def test_string_keys_are_indexed_with_score_zero_and_found_in_key_order(store: RedisStore, client: redis.Redis) -> None:
    session = store.session()
    for key in ["pear", "apple", "Zoo", "été"]:
        assert session.insert(TAGS, {"id": key, "label": key.upper()}) == key
    session.commit()

    assert client.zrange("foobara:test_tag", 0, -1, withscores=True) == [
        ("Zoo", 0.0),
        ("apple", 0.0),
        ("pear", 0.0),
        ("été", 0.0),
    ]
    assert [row["id"] for row in store.session().find(TAGS, {})] == ["Zoo", "apple", "pear", "été"]
    assert client.exists("foobara:test_tag#sequence") == 0


def test_integer_keys_are_found_in_numeric_order(store: RedisStore) -> None:
    session = store.session()
    for key in [10, 9, 100, 1]:
        session.insert(COUNTERS, {"id": key, "value": key})
    session.commit()

    assert [row["id"] for row in store.session().find(COUNTERS, {})] == [1, 9, 10, 100]


def test_an_explicit_integer_key_moves_the_sequence_past_it(store: RedisStore) -> None:
    session = store.session()
    session.insert(COUNTERS, {"id": 41, "value": 0})
    session.commit()

    assert _create(store, COUNTERS, value=0) == 42


def test_a_table_name_redis_keys_cannot_hold_is_refused(store: RedisStore) -> None:
    with pytest.raises(StoreError, match="cannot name a Redis table"):
        store.session().find(_table("bad:name"), {})


# --- reads -------------------------------------------------------------------------------------


def test_get_many_leaves_out_missing_keys_and_keeps_the_order_asked(store: RedisStore) -> None:
    keys = [_create(store, COUNTERS, value=n) for n in range(3)]

    found = store.session().get_many(COUNTERS, [keys[2], 99, keys[0]])

    assert list(found) == [keys[2], keys[0]]
    assert found[keys[0]]["value"] == 0


def test_find_and_count_by_criteria_with_limits(store: RedisStore) -> None:
    for n in range(6):
        _create(store, ITEMS, **{**AN_ITEM, "price": Decimal(n % 2), "owner": n})
    session = store.session()

    assert [row["owner"] for row in session.find(ITEMS, {"price": Decimal("1.0")})] == [1, 3, 5]
    assert [row["owner"] for row in session.find(ITEMS, {"price": 0}, limit=2)] == [0, 2]
    assert [row["owner"] for row in session.find(ITEMS, {}, limit=2)] == [0, 1]
    assert session.find(ITEMS, {"at": "2024-05-01T12:30:00+00:00", "owner": 4})[0]["owner"] == 4
    assert session.find(ITEMS, {"day": date(2024, 5, 2)}) == []
    assert session.find(ITEMS, {}, limit=0) == []
    assert session.count(ITEMS, {}) == 6
    assert session.count(ITEMS, {"price": Decimal(1)}) == 3
    assert session.count(ITEMS, {"meta": {"sizes": [8, 10], "note": None}}) == 6


def test_a_sessions_writes_are_its_own_until_it_commits(store: RedisStore) -> None:
    kept = _create(store, COUNTERS, value=1)
    gone = _create(store, COUNTERS, value=2)
    writer = store.session()
    new = writer.insert(COUNTERS, {"id": None, "value": 3})
    writer.update(COUNTERS, kept, {"value": 10}, {"id": kept, "value": 1})
    writer.delete(COUNTERS, gone, {"id": gone, "value": 2})

    assert writer.get_many(COUNTERS, [kept, gone, new]) == {
        kept: {"id": kept, "value": 10},
        new: {"id": new, "value": 3},
    }
    assert [row["value"] for row in writer.find(COUNTERS, {})] == [10, 3]
    assert writer.find(COUNTERS, {}, limit=1) == [{"id": kept, "value": 10}]
    assert writer.count(COUNTERS, {}) == 2
    assert writer.count(COUNTERS, {"value": 3}) == 1
    other = store.session()
    assert [row["value"] for row in other.find(COUNTERS, {})] == [1, 2]

    writer.commit()

    assert [row["value"] for row in store.session().find(COUNTERS, {})] == [10, 3]


def test_a_session_reads_a_record_again_as_it_first_read_it(store: RedisStore) -> None:
    key = _create(store, COUNTERS, value=1)
    reader = store.session()
    assert reader.get_many(COUNTERS, [key])[key]["value"] == 1
    changer = store.session()
    changer.update(COUNTERS, key, {"value": 2}, {"id": key, "value": 1})
    changer.commit()

    assert reader.get_many(COUNTERS, [key])[key]["value"] == 1
    reader.commit()  # it wrote nothing: nothing to refuse
    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 2


# --- transactions ------------------------------------------------------------------------------


def test_a_record_changed_after_a_session_read_it_refuses_the_sessions_commit(store: RedisStore) -> None:
    key = _create(store, COUNTERS, value=0)
    first = store.session()
    second = store.session()
    first_row = first.get_many(COUNTERS, [key])[key]
    second_row = second.get_many(COUNTERS, [key])[key]
    second.update(COUNTERS, key, {"value": 2}, second_row)
    second.commit()

    first.update(COUNTERS, key, {"value": 1}, first_row)  # as it read it: the check is the commit's
    with pytest.raises(TransactionConflict, match="changed"):
        first.commit()

    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 2


def test_any_record_a_session_loaded_guards_its_commit(store: RedisStore) -> None:
    source = _create(store, COUNTERS, value=5)
    target = _create(store, COUNTERS, value=0)
    copier = store.session()
    rows = copier.get_many(COUNTERS, [source, target])
    copier.update(COUNTERS, target, {"value": rows[source]["value"]}, rows[target])
    changer = store.session()
    changer.update(COUNTERS, source, {"value": 6}, {"id": source, "value": 5})
    changer.commit()

    with pytest.raises(TransactionConflict):
        copier.commit()

    assert store.session().get_many(COUNTERS, [target])[target]["value"] == 0


def test_records_loaded_past_the_watch_limit_are_still_guarded_when_changed(store: RedisStore) -> None:
    session = store.session()
    keys = [session.insert(COUNTERS, {"id": None, "value": 0}) for _ in range(300)]
    session.commit()
    reader = store.session()
    rows = reader.get_many(COUNTERS, keys)
    last, before_last = keys[-1], keys[-2]
    changer = store.session()
    changer.update(COUNTERS, last, {"value": 1}, rows[last])
    changer.commit()

    with pytest.raises(TransactionConflict):  # changed since it was read
        reader.update(COUNTERS, last, {"value": 2}, rows[last])
    reader.update(COUNTERS, before_last, {"value": 2}, rows[before_last])  # watched from here on
    changer = store.session()
    changer.update(COUNTERS, before_last, {"value": 1}, rows[before_last])
    changer.commit()
    with pytest.raises(TransactionConflict):
        reader.commit()

    assert [row["value"] for row in store.session().get_many(COUNTERS, keys[-2:]).values()] == [1, 1]


def test_an_update_or_delete_of_a_row_that_is_no_longer_stored_is_refused_at_once(store: RedisStore) -> None:
    key = _create(store, COUNTERS, value=0)
    stale = store.session().find(COUNTERS, {})[0]
    changer = store.session()
    changer.update(COUNTERS, key, {"value": 7}, stale)
    changer.commit()

    with pytest.raises(TransactionConflict, match=r"Test::Test_Counter 1 was changed by another transaction"):
        store.session().update(COUNTERS, key, {"value": 8}, stale)
    with pytest.raises(TransactionConflict, match="changed"):
        store.session().delete(COUNTERS, key, stale)
    remover = store.session()
    remover.delete(COUNTERS, key, {"id": key, "value": 7})
    remover.commit()
    with pytest.raises(TransactionConflict, match="deleted"):
        store.session().update(COUNTERS, key, {"value": 8}, {"id": key, "value": 7})


def test_the_row_read_is_compared_by_value_not_by_its_text(store: RedisStore) -> None:
    key = _create(store, ITEMS, **AN_ITEM)
    originals = [
        lambda read: Item.model_validate(read).model_dump() | {"price": Decimal("12.5")},
        lambda read: {
            **read,
            "at": "2024-05-01T12:30:00+00:00",
            "day": "2024-05-01",
            "price": "12.500",
            "ratio": "0.25",
        },
    ]

    for number, original in enumerate(originals):
        session = store.session()
        session.update(ITEMS, key, {"name": f"Spanner {number}"}, original(session.find(ITEMS, {})[0]))
        session.commit()

    assert store.session().get_many(ITEMS, [key])[key]["name"] == "Spanner 1"


def test_a_rolled_back_session_writes_nothing(store: RedisStore, client: redis.Redis) -> None:
    kept = _create(store, ITEMS, **AN_ITEM)
    _create(store, TAGS, id="a", label="A")
    before = _contents(client)
    session = store.session()
    row = session.get_many(ITEMS, [kept])[kept]
    session.update(ITEMS, kept, {"name": "Changed"}, row)
    session.insert(TAGS, {"id": "b", "label": "B"})
    session.delete(TAGS, "a", {"id": "a", "label": "A"})
    session.insert(ITEMS, {**AN_ITEM, "id": 50})

    session.rollback()

    assert _contents(client) == before
    assert store.session().get_many(ITEMS, [kept])[kept]["name"] == AN_ITEM["name"]


def test_a_generated_key_is_not_given_back_by_a_rollback(store: RedisStore, client: redis.Redis) -> None:
    session = store.session()
    assert session.insert(COUNTERS, {"id": None, "value": 0}) == 1
    session.rollback()

    assert client.exists("foobara:test_counter:1") == 0
    assert _create(store, COUNTERS, value=0) == 2


def test_a_session_is_usable_again_after_its_commit_or_rollback(store: RedisStore) -> None:
    session = store.session()
    first = session.insert(COUNTERS, {"id": None, "value": 1})
    session.commit()
    second = session.insert(COUNTERS, {"id": None, "value": 2})
    session.rollback()
    third = session.insert(COUNTERS, {"id": None, "value": 3})
    session.commit()

    assert sorted(store.session().get_many(COUNTERS, [first, second, third])) == [first, third]


def test_inserting_a_key_that_is_taken_is_a_unique_violation(store: RedisStore) -> None:
    session = store.session()
    session.insert(TAGS, {"id": "a", "label": "A"})
    with pytest.raises(UniqueViolationError, match="Test::Test_Tag 'a' already exists") as raised:
        session.insert(TAGS, {"id": "a", "label": "again"})
    session.commit()

    with pytest.raises(UniqueViolationError) as raised:
        store.session().insert(TAGS, {"id": "a", "label": "again"})
    assert raised.value.to_foobara_error().symbol == "not_unique"
    assert raised.value.context == {"entity_class": "Test::Test_Tag", "attribute": "id", "value": "a"}


def test_a_key_taken_by_another_session_before_the_commit_is_a_unique_violation(store: RedisStore) -> None:
    first = store.session()
    first.insert(TAGS, {"id": "a", "label": "first"})
    second = store.session()
    second.insert(TAGS, {"id": "a", "label": "second"})
    second.commit()

    with pytest.raises(UniqueViolationError, match="'a' already exists"):
        first.commit()

    assert store.session().get_many(TAGS, ["a"])["a"]["label"] == "second"


def test_a_generated_key_taken_meanwhile_is_a_unique_violation_and_overwrites_nothing(store: RedisStore) -> None:
    generating = store.session()
    key = generating.insert(COUNTERS, {"id": None, "value": 1})
    explicit = store.session()
    explicit.insert(COUNTERS, {"id": key, "value": 2})
    explicit.commit()

    with pytest.raises(UniqueViolationError):
        generating.commit()

    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 2


def test_a_deleted_record_may_be_inserted_again_in_the_same_session(store: RedisStore, client: redis.Redis) -> None:
    _create(store, TAGS, id="a", label="A")
    session = store.session()
    session.delete(TAGS, "a", {"id": "a", "label": "A"})
    session.insert(TAGS, {"id": "a", "label": "again"})
    session.commit()

    assert client.hgetall("foobara:test_tag:a") == {"id": '"a"', "label": '"again"'}


def test_a_record_inserted_and_deleted_in_one_session_leaves_nothing(store: RedisStore, client: redis.Redis) -> None:
    session = store.session()
    key = session.insert(COUNTERS, {"id": None, "value": 1})
    session.update(COUNTERS, key, {"value": 2}, {"id": key, "value": 1})
    session.delete(COUNTERS, key, {"id": key, "value": 2})
    session.commit()

    assert client.keys("foobara:test_counter*") == ["foobara:test_counter#sequence"]


# --- concurrency -------------------------------------------------------------------------------


def _increment(store: RedisStore, key: int) -> int:
    """Read-modify-write the counter, retried from the start on a conflict; returns the tries."""
    tries = 0
    while True:
        tries += 1
        session = store.session()
        try:
            row = session.get_many(COUNTERS, [key])[key]
            session.update(COUNTERS, key, {"value": row["value"] + 1}, row)
            session.commit()
            return tries
        except TransactionConflict:
            session.rollback()


async def _aincrement(store: RedisStore, key: int) -> int:
    tries = 0
    while True:
        tries += 1
        session = store.asession()
        try:
            row = (await session.get_many(COUNTERS, [key]))[key]
            await asyncio.sleep(0)  # let the other tasks read it too
            await session.update(COUNTERS, key, {"value": row["value"] + 1}, row)
            await session.commit()
            return tries
        except TransactionConflict:
            await session.rollback()


def test_threads_incrementing_one_counter_lose_no_update(store: RedisStore) -> None:
    key = _create(store, COUNTERS, value=0)
    tries: list[int] = []
    start = threading.Barrier(8)

    def work() -> None:
        start.wait()
        for _ in range(25):
            tries.append(_increment(store, key))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 200
    assert len(tries) == 200


async def test_tasks_incrementing_one_counter_lose_no_update(store: RedisStore) -> None:
    key = _create(store, COUNTERS, value=0)

    tries = await asyncio.gather(*(_aincrement(store, key) for _ in range(100)))

    session = store.asession()
    assert (await session.get_many(COUNTERS, [key]))[key]["value"] == 100
    await session.commit()
    assert max(tries) > 1  # they did collide, and were retried


async def test_the_async_session_does_what_the_sync_one_does(store: RedisStore, client: redis.Redis) -> None:
    session = store.asession()
    key = await session.insert(ITEMS, AN_ITEM)
    await session.insert(TAGS, {"id": "t", "label": "T"})
    assert (await session.find(TAGS, {"label": "T"}))[0]["id"] == "t"
    await session.commit()

    session = store.asession()
    row = (await session.get_many(ITEMS, [key]))[key]
    assert row == {**AN_ITEM, "id": key}
    await session.update(ITEMS, key, {"name": "Changed"}, row)
    await session.delete(TAGS, "t", {"id": "t", "label": "T"})
    assert await session.count(TAGS, {}) == 0
    await session.rollback()
    assert client.hget(f"foobara:test_item:{key}", "name") == '"Wrench \\"é\\""'

    session = store.asession()
    with pytest.raises(UniqueViolationError):
        await session.insert(TAGS, {"id": "t", "label": "again"})
    await session.rollback()
    await store.aclose()


def test_a_store_serves_two_event_loops_one_after_the_other(store: RedisStore) -> None:
    key = _create(store, COUNTERS, value=0)

    for _ in range(2):
        asyncio.run(_aincrement(store, key))
        gc.collect()  # a connection left open in the finished loop would warn here

    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 2


async def test_a_cancelled_call_leaves_no_reply_behind_for_the_next_session(store: RedisStore) -> None:
    keys = [_create(store, COUNTERS, value=n) for n in range(3)]
    for delay in range(100):  # cancelled at each step of the call in turn, until it finishes first
        session = store.asession()
        task = asyncio.ensure_future(session.get_many(COUNTERS, keys))
        for _ in range(delay):
            await asyncio.sleep(0)
        cancelled = task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await session.rollback()

        other = store.asession()
        assert [row["value"] for row in (await other.get_many(COUNTERS, keys)).values()] == [0, 1, 2]
        await other.commit()
        if not cancelled:
            break
    assert delay > 1


# --- faults ------------------------------------------------------------------------------------


def test_an_unreachable_store_names_itself_without_its_password() -> None:
    port = free_port()
    store = RedisStore(f"redis://:s3cr3t-pw@127.0.0.1:{port}/0")

    with pytest.raises(StoreUnavailableError) as raised:
        store.session().get_many(COUNTERS, [1])

    message = str(raised.value)
    assert message.startswith(f"Redis store redis://:***@127.0.0.1:{port}/0 is unavailable: ")
    assert "Connection refused" in message
    assert "s3cr3t-pw" not in message + repr(store) + store.url
    error = raised.value.to_foobara_error()
    assert error.symbol == "store_unavailable"
    assert error.context == {"store": f"redis://:***@127.0.0.1:{port}/0"}


async def test_an_unreachable_store_fails_the_same_way_in_async_code() -> None:
    port = free_port()
    store = RedisStore(f"redis://user:s3cr3t-pw@127.0.0.1:{port}/0")

    with pytest.raises(StoreUnavailableError, match=r"redis://user:\*\*\*@127\.0\.0\.1:\d+/0 is unavailable") as raised:
        await store.asession().insert(COUNTERS, {"id": None, "value": 0})
    assert "s3cr3t-pw" not in str(raised.value)


def test_a_wrong_password_is_the_store_being_unavailable(redis_url: str) -> None:
    store = RedisStore(redis_url.replace("redis://", "redis://someone:s3cr3t-pw@"))

    with pytest.raises(StoreUnavailableError, match="invalid username-password pair") as raised:
        store.session().count(COUNTERS, {})
    assert "s3cr3t-pw" not in str(raised.value)


def test_a_url_that_is_not_redis_is_refused_without_its_password() -> None:
    with pytest.raises(ValueError, match=r"http://u:\*\*\*@host/0 is not a Redis URL") as raised:
        RedisStore("http://u:s3cr3t-pw@host/0")
    assert "s3cr3t-pw" not in str(raised.value)


def test_connections_closed_by_the_server_while_idle_are_replaced(store: RedisStore, client: redis.Redis) -> None:
    key = _create(store, COUNTERS, value=0)
    client.client_kill_filter(_type="normal", skipme=True)

    assert _increment(store, key) == 1
    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 1


def test_a_connection_lost_during_a_transaction_fails_it_and_writes_nothing(
    store: RedisStore, client: redis.Redis
) -> None:
    key = _create(store, COUNTERS, value=0)
    session = store.session()
    row = session.get_many(COUNTERS, [key])[key]
    session.update(COUNTERS, key, {"value": 1}, row)
    client.client_kill_filter(_type="normal", skipme=True)

    with pytest.raises(StoreUnavailableError, match=r"is unavailable: Connection closed by server"):
        session.commit()

    assert store.session().get_many(COUNTERS, [key])[key]["value"] == 0


def test_a_command_redis_refuses_is_a_store_error_and_the_connection_stays_in_step(
    store: RedisStore, client: redis.Redis
) -> None:
    key = _create(store, COUNTERS, value=0)
    client.set("foobara:test_tag", "not a sorted set")
    session = store.session()
    assert session.get_many(COUNTERS, [key])[key]["value"] == 0

    with pytest.raises(StoreError, match=r"Redis store redis://127\.0\.0\.1:\d+/0 refused a command: WRONGTYPE"):
        session.find(TAGS, {})

    assert session.find(COUNTERS, {}) == [{"id": key, "value": 0}]
    session.rollback()


def test_the_module_says_how_to_install_redis_when_it_is_missing() -> None:
    code = "import sys; sys.modules['redis'] = None; import foobara_py.persistence.redis"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert result.returncode == 1
    assert "pip install 'foobara-py[redis]'" in result.stderr


async def test_a_burst_of_concurrent_runs_leaves_few_connections_open(redis_db_url: str) -> None:
    import asyncio

    import redis as redis_py

    from foobara_py import AsyncCommand, persistence, transaction
    from foobara_py.persistence.redis import IDLE_KEPT
    from tests.persistence.library import Book

    store = persistence.configure(redis_db_url)
    try:

        class CountShelf(AsyncCommand[None, int]):
            depends_on_entities = (Book,)

            async def execute(self) -> int:
                count = await Book.acount()
                await asyncio.sleep(0.01)  # every run holds its connection at once
                return count

        outcomes = await asyncio.gather(*(CountShelf.run() for _ in range(60)))
        assert all(outcome.is_success() for outcome in outcomes)
        with redis_py.Redis.from_url(redis_db_url) as client:
            clients = len(client.client_list())
        assert clients <= IDLE_KEPT + 1  # the kept ones and this client
        async with transaction():
            assert await Book.acount() == 0
    finally:
        persistence.reset()
        await store.aclose()
