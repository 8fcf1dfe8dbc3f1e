"""The store contract: the same tests on every store (tests/persistence/conftest.py lists them),
through sync sessions and async sessions alike."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import TypeAdapter

from foobara_py.persistence.store import Column, ColumnKind, Row, Table, TransactionConflict, UniqueViolationError
from tests.persistence.conftest import Awaited

Open = Callable[[], Awaited]


def table(name: str, primary_key: str, generated_key: bool, **columns: tuple[ColumnKind, bool]) -> Table:
    return Table(
        name=name,
        entity_name=f"Contract::{name.title()}",
        primary_key=primary_key,
        columns={column: Column(column, kind, nullable) for column, (kind, nullable) in columns.items()},
        generated_key=generated_key,
        key_kind=columns[primary_key][0],
    )


BOOK = table(
    "book",
    "id",
    True,
    id=("integer", False),
    title=("string", False),
    copies=("integer", False),
    shelf=("string", True),
)
THING = table(
    "thing",
    "code",
    False,
    code=("string", False),
    flag=("boolean", False),
    ratio=("float", False),
    price=("decimal", False),
    born=("date", False),
    at=("datetime", False),
    tags=("json", True),
    note=("string", True),
)
PYTHON_TYPES: dict[str, Any] = {
    "integer": int,
    "float": float,
    "boolean": bool,
    "string": str,
    "decimal": Decimal,
    "datetime": datetime,
    "date": date,
    "json": Any,
}


def as_python(table: Table, row: Row) -> Row:
    """The row as the entity's attributes would hold it (pydantic's lax mode, as the entity layer reads rows)."""
    return {
        name: TypeAdapter(PYTHON_TYPES[column.kind] | None).validate_python(row[name])
        for name, column in table.columns.items()
    }


def book(title: str, copies: int = 1, shelf: str | None = None, id: int | None = None) -> Row:
    return {"id": id, "title": title, "copies": copies, "shelf": shelf}


def thing(code: str, **changes: Any) -> Row:
    row: Row = {
        "code": code,
        "flag": True,
        "ratio": 0.25,
        "price": Decimal("12.50"),
        "born": date(1970, 1, 2),
        "at": datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        "tags": {"colors": ["red", "green"], "size": {"w": 2, "h": 3}},
        "note": None,
    }
    row.update(changes)
    return row


async def insert(open_session: Open, table: Table, *rows: Row) -> list[Any]:
    """Insert the rows in one committed transaction; their keys."""
    session = open_session()
    keys = [await session.insert(table, row) for row in rows]
    await session.commit()
    return keys


async def read(open_session: Open, table: Table, *keys: Any) -> dict[Any, Row]:
    """The rows as a new transaction sees them."""
    session = open_session()
    try:
        found: dict[Any, Row] = await session.get_many(table, list(keys))
        return found
    finally:
        await session.rollback()


async def titles(open_session: Open) -> list[str]:
    session = open_session()
    try:
        return [row["title"] for row in await session.find(BOOK, {})]
    finally:
        await session.rollback()


# --------------------------------------------------------------------------------------------
# Inserting and reading


async def test_insert_generates_an_integer_key_or_keeps_the_given_one(open_session: Open) -> None:
    first, given, after = await insert(open_session, BOOK, book("Dune"), book("Emma", id=100), book("Ulysses"))
    assert isinstance(first, int)
    assert given == 100
    assert isinstance(after, int)
    assert after not in (first, given)  # a generated key never takes one given explicitly
    rows = await read(open_session, BOOK, first, given, after)
    assert {key: row["title"] for key, row in rows.items()} == {first: "Dune", 100: "Emma", after: "Ulysses"}
    assert rows[100] == {"id": 100, "title": "Emma", "copies": 1, "shelf": None}


async def test_a_table_without_a_generated_key_takes_the_given_key(open_session: Open) -> None:
    assert await insert(open_session, THING, thing("b"), thing("a")) == ["b", "a"]
    assert set(await read(open_session, THING, "a", "b")) == {"a", "b"}


async def test_get_many_returns_the_rows_found_by_key_and_leaves_out_missing_ones(open_session: Open) -> None:
    keys = await insert(open_session, BOOK, book("A"), book("B"), book("C"))
    rows = await read(open_session, BOOK, keys[2], 9999, keys[0])
    assert {key: row["title"] for key, row in rows.items()} == {keys[2]: "C", keys[0]: "A"}
    assert await read(open_session, BOOK, 9999) == {}
    assert await read(open_session, BOOK) == {}


async def test_find_filters_by_equal_columns_in_key_order_with_a_limit(open_session: Open) -> None:
    await insert(
        open_session,
        BOOK,
        book("C", copies=2, id=30),
        book("A", copies=2, shelf="top", id=10),
        book("B", copies=1, id=20),
        book("D", copies=2, id=40),
    )
    session = open_session()
    assert [row["id"] for row in await session.find(BOOK, {})] == [10, 20, 30, 40]
    assert [row["title"] for row in await session.find(BOOK, {"copies": 2})] == ["A", "C", "D"]
    assert [row["title"] for row in await session.find(BOOK, {"copies": 2}, 2)] == ["A", "C"]
    assert [row["title"] for row in await session.find(BOOK, {"copies": 2, "shelf": None})] == ["C", "D"]
    assert await session.find(BOOK, {"copies": 2, "shelf": "top"}) == [
        {"id": 10, "title": "A", "copies": 2, "shelf": "top"}
    ]
    assert await session.find(BOOK, {"title": "nope"}) == []
    await session.rollback()


async def test_find_by_a_value_of_each_kind(open_session: Open) -> None:
    other = thing(
        "b",
        flag=False,
        ratio=0.5,
        price=Decimal("3.10"),
        born=date(1980, 1, 2),
        at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        tags={"colors": ["red"]},
    )
    await insert(open_session, THING, thing("a"), other)
    session = open_session()
    original = thing("a")
    for name in ("flag", "ratio", "price", "born", "at", "tags"):
        found = await session.find(THING, {name: original[name]})
        assert [row["code"] for row in found] == ["a"], name
    await session.rollback()


async def test_count_counts_the_rows_that_match(open_session: Open) -> None:
    await insert(open_session, BOOK, book("A", copies=2), book("B", copies=1), book("C", copies=2, shelf="x"))
    session = open_session()
    assert await session.count(BOOK, {}) == 3
    assert await session.count(BOOK, {"copies": 2}) == 2
    assert await session.count(BOOK, {"copies": 2, "shelf": None}) == 1
    assert await session.count(BOOK, {"copies": 7}) == 0
    await session.rollback()


async def test_a_table_not_used_yet_is_empty(open_session: Open) -> None:
    session = open_session()
    assert await session.find(BOOK, {}) == []
    assert await session.count(THING, {}) == 0
    assert await session.get_many(BOOK, [1, 2]) == {}
    await session.commit()


# --------------------------------------------------------------------------------------------
# Kinds of values


async def test_values_of_every_kind_come_back_as_they_were_written(open_session: Open) -> None:
    written = [
        thing("a"),
        thing(
            "b",
            flag=False,
            ratio=-1e-3,
            price=Decimal("-0.000001"),
            at=datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=2))),
            tags=[1, "two", None, {"three": [3.5]}],
            note="é ünïcødé ✓",
        ),
        thing("c", tags=None),
    ]
    await insert(open_session, THING, *written)
    rows = await read(open_session, THING, "a", "b", "c")
    for row in written:
        assert as_python(THING, rows[row["code"]]) == row
    assert rows["c"]["tags"] is None


async def test_an_update_of_a_row_holding_every_kind_of_value_is_not_taken_for_a_conflict(
    open_session: Open,
) -> None:
    await insert(open_session, THING, thing("a"), thing("b", tags=None, note="x"))
    session = open_session()
    rows = await session.get_many(THING, ["a", "b"])
    await session.update(THING, "a", {"note": "seen"}, rows["a"])
    await session.update(THING, "b", {"tags": {"new": True}}, rows["b"])
    await session.commit()
    rows = await read(open_session, THING, "a", "b")
    assert (rows["a"]["note"], rows["b"]["tags"]) == ("seen", {"new": True})


# --------------------------------------------------------------------------------------------
# Updating and deleting


async def test_an_update_is_read_back_by_its_own_transaction_and_by_others_after_the_commit(
    open_session: Open,
) -> None:
    (key,) = await insert(open_session, BOOK, book("Draft", copies=1))
    session = open_session()
    original = (await session.get_many(BOOK, [key]))[key]
    await session.update(BOOK, key, {"title": "Final", "shelf": "top"}, original)
    assert (await session.get_many(BOOK, [key]))[key] == {"id": key, "title": "Final", "copies": 1, "shelf": "top"}
    assert [row["title"] for row in await session.find(BOOK, {"title": "Final"})] == ["Final"]
    assert (await read(open_session, BOOK, key))[key]["title"] == "Draft"
    await session.commit()
    assert (await read(open_session, BOOK, key))[key] == {"id": key, "title": "Final", "copies": 1, "shelf": "top"}


async def test_a_second_update_in_one_transaction_is_given_the_row_as_first_read(open_session: Open) -> None:
    (key,) = await insert(open_session, BOOK, book("A", copies=1))
    session = open_session()
    original = (await session.get_many(BOOK, [key]))[key]
    await session.update(BOOK, key, {"copies": 2}, original)
    await session.update(BOOK, key, {"copies": 3}, {**original, "copies": 2})
    await session.commit()
    assert (await read(open_session, BOOK, key))[key]["copies"] == 3


async def test_a_delete_removes_the_row_at_the_commit(open_session: Open) -> None:
    keep, gone = await insert(open_session, BOOK, book("Keep"), book("Gone"))
    session = open_session()
    rows = await session.get_many(BOOK, [gone])
    await session.delete(BOOK, gone, rows[gone])
    assert await session.get_many(BOOK, [gone]) == {}
    assert await session.count(BOOK, {}) == 1
    assert set(await read(open_session, BOOK, keep, gone)) == {keep, gone}
    await session.commit()
    assert set(await read(open_session, BOOK, keep, gone)) == {keep}


# --------------------------------------------------------------------------------------------
# Transactions


async def test_uncommitted_writes_are_invisible_to_other_transactions_until_the_commit(open_session: Open) -> None:
    (existing,) = await insert(open_session, BOOK, book("Old", copies=1))
    writer = open_session()
    new = await writer.insert(BOOK, book("New"))
    original = (await writer.get_many(BOOK, [existing]))[existing]
    await writer.update(BOOK, existing, {"copies": 5}, original)

    reader = open_session()
    assert await reader.get_many(BOOK, [new]) == {}
    assert (await reader.get_many(BOOK, [existing]))[existing]["copies"] == 1
    assert [row["title"] for row in await reader.find(BOOK, {})] == ["Old"]
    assert await reader.count(BOOK, {}) == 1
    await reader.rollback()

    await writer.commit()
    rows = await read(open_session, BOOK, new, existing)
    assert (rows[new]["title"], rows[existing]["copies"]) == ("New", 5)


async def test_a_rollback_leaves_nothing_behind(open_session: Open) -> None:
    kept, deleted = await insert(open_session, BOOK, book("Kept", copies=1), book("Deleted"))
    session = open_session()
    rows = await session.get_many(BOOK, [kept, deleted])
    await session.insert(BOOK, book("Never"))
    await session.update(BOOK, kept, {"copies": 9}, rows[kept])
    await session.delete(BOOK, deleted, rows[deleted])
    await session.rollback()
    assert await titles(open_session) == ["Kept", "Deleted"]
    assert (await read(open_session, BOOK, kept))[kept]["copies"] == 1


async def test_a_session_can_be_committed_or_rolled_back_without_having_been_used(open_session: Open) -> None:
    await open_session().commit()
    await open_session().rollback()


async def test_a_session_goes_on_with_a_new_transaction_after_a_commit(open_session: Open) -> None:
    session = open_session()
    first = await session.insert(BOOK, book("First"))
    await session.commit()
    await session.insert(BOOK, book("Second"))
    await session.rollback()
    assert await titles(open_session) == ["First"]
    assert set(await read(open_session, BOOK, first)) == {first}


# --------------------------------------------------------------------------------------------
# Optimistic conflicts


async def expect_conflict(session: Awaited, action: str, *args: Any) -> None:
    """`action` refuses the write, now or at the commit."""
    try:
        await getattr(session, action)(*args)
        await session.commit()
    except TransactionConflict:
        await session.rollback()
    else:
        pytest.fail(f"{action} overwrote a row another transaction changed")


async def test_an_update_of_a_row_changed_since_it_was_read_is_a_conflict(open_session: Open) -> None:
    (key,) = await insert(open_session, BOOK, book("Counter", copies=0))
    first, second = open_session(), open_session()
    seen_first = (await first.get_many(BOOK, [key]))[key]
    seen_second = (await second.get_many(BOOK, [key]))[key]
    await first.update(BOOK, key, {"copies": seen_first["copies"] + 1}, seen_first)
    await first.commit()
    await expect_conflict(second, "update", BOOK, key, {"copies": seen_second["copies"] + 1}, seen_second)
    assert (await read(open_session, BOOK, key))[key]["copies"] == 1


async def test_a_change_to_a_json_column_alone_is_seen_as_a_conflict(open_session: Open) -> None:
    await insert(open_session, THING, thing("a", tags=["x"]))
    first, second = open_session(), open_session()
    seen_first = (await first.get_many(THING, ["a"]))["a"]
    seen_second = (await second.get_many(THING, ["a"]))["a"]
    await first.update(THING, "a", {"tags": ["x", "first"]}, seen_first)
    await first.commit()
    await expect_conflict(second, "update", THING, "a", {"tags": ["x", "second"]}, seen_second)
    assert (await read(open_session, THING, "a"))["a"]["tags"] == ["x", "first"]


async def test_an_update_of_a_row_deleted_since_it_was_read_is_a_conflict(open_session: Open) -> None:
    (key,) = await insert(open_session, BOOK, book("Doomed"))
    first, second = open_session(), open_session()
    seen_first = (await first.get_many(BOOK, [key]))[key]
    seen_second = (await second.get_many(BOOK, [key]))[key]
    await first.delete(BOOK, key, seen_first)
    await first.commit()
    await expect_conflict(second, "update", BOOK, key, {"title": "Saved"}, seen_second)
    assert await read(open_session, BOOK, key) == {}


async def test_a_delete_of_a_row_changed_since_it_was_read_is_a_conflict(open_session: Open) -> None:
    (key,) = await insert(open_session, BOOK, book("Changed", copies=1))
    first, second = open_session(), open_session()
    seen_first = (await first.get_many(BOOK, [key]))[key]
    seen_second = (await second.get_many(BOOK, [key]))[key]
    await first.update(BOOK, key, {"copies": 2}, seen_first)
    await first.commit()
    await expect_conflict(second, "delete", BOOK, key, seen_second)
    assert (await read(open_session, BOOK, key))[key]["copies"] == 2


async def test_a_delete_of_a_row_already_deleted_is_a_conflict(open_session: Open) -> None:
    (key,) = await insert(open_session, BOOK, book("Gone"))
    first, second = open_session(), open_session()
    seen_first = (await first.get_many(BOOK, [key]))[key]
    seen_second = (await second.get_many(BOOK, [key]))[key]
    await first.delete(BOOK, key, seen_first)
    await first.commit()
    await expect_conflict(second, "delete", BOOK, key, seen_second)


# --------------------------------------------------------------------------------------------
# Unique keys


async def insert_and_commit(session: Awaited, table: Table, row: Row) -> None:
    """A store may refuse a taken key at the insert or at the commit."""
    await session.insert(table, row)
    await session.commit()


async def test_inserting_a_taken_key_is_a_unique_violation_naming_the_entity_and_key(open_session: Open) -> None:
    await insert(open_session, BOOK, book("First", id=7))
    session = open_session()
    with pytest.raises(UniqueViolationError) as raised:
        await insert_and_commit(session, BOOK, book("Second", id=7))
    await session.rollback()
    assert raised.value.context == {"entity_class": "Contract::Book", "attribute": "id", "value": 7}
    assert "Contract::Book" in str(raised.value)
    assert raised.value.to_foobara_error().key == "runtime.not_unique"
    assert (await read(open_session, BOOK, 7))[7]["title"] == "First"


async def test_inserting_a_key_twice_in_one_transaction_is_a_unique_violation(open_session: Open) -> None:
    session = open_session()
    await session.insert(THING, thing("a"))
    with pytest.raises(UniqueViolationError) as raised:
        await insert_and_commit(session, THING, thing("a", note="again"))
    await session.rollback()
    assert raised.value.context["value"] == "a"
    assert await read(open_session, THING, "a") == {}
