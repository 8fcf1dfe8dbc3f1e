"""The Redis store (redis-py, sync and asyncio), laid out like Ruby Foobara's redis-crud-driver.

Layout, for a table `t` (the entity's underscored name):
- `foobara:t:<pk>`: a hash per record, a field per column, each value JSON text. Decimals are
  JSON strings of their digits (`"1.50"`), datetimes and dates JSON strings in ISO 8601
  (`"2024-05-01T12:00:00+00:00"`, `"2024-05-01"`): pydantic's lax mode reads them as they are,
  and the store gives them back as Decimal, datetime and date (by the column's kind).
- `foobara:t`: a sorted set of the primary keys (score = the key for integer keys, 0 for other
  keys, which Redis then orders by their bytes).
- `foobara:t#sequence`: the counter (INCR) that generates integer keys.

Transactions are optimistic. A session holds one connection until it ends (its first round trip
starts with UNWATCH, so nothing a session left watched reaches the next). Records loaded by key
are WATCHed in the same round trip that reads them (and kept, so the session reads them again as
they were); writes wait in the session (visible to its own reads) and are sent at the commit in
one MULTI/EXEC, which Redis refuses if a watched record changed meanwhile: `TransactionConflict`,
and the run is retried. `update` and `delete` also compare the row the caller read with the stored
one (watching it from then on, if it was not yet) before anything is written. `find` and `count`
scan the table's sorted set and read hashes without watching them, and so does `get_many` past
the first 256 records of a session: Redis's WATCH costs time in the square of the keys watched.
So every record a session changes is guarded, and the records it only read while loading by key
are guarded too (up to that limit). Generated keys are watched at the commit, to be sure nobody
took them meanwhile: a transaction inserting thousands of records pays for that watch.
A rolled-back session writes nothing, except that generated keys are not given back (the counter
is not transactional, as in SQL databases).

The whole session logic is written once, as generators that yield the commands of a round trip
and receive its replies; the sync and async sessions only carry them over their connection.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from .store import (
    Row,
    StoreError,
    StoreUnavailableError,
    Table,
    TransactionConflict,
    UniqueViolationError,
    redact_url,
)

try:
    import redis.asyncio.connection as _async_connection
    from redis import connection as _sync_connection
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError, ResponseError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as _missing:  # pragma: no cover - checked in a subprocess
    raise ImportError("The Redis store needs the redis package: pip install 'foobara-py[redis]'") from _missing

__all__ = ["AsyncRedisSession", "RedisSession", "RedisStore"]

T = TypeVar("T")
Command = tuple[Any, ...]
Steps = Generator[list[Command], list[Any], T]  # yields a round trip's commands, gets its replies

_LOST = (RedisConnectionError, RedisTimeoutError, OSError)  # the connection is gone or was never made
_UNWATCH: Command = ("UNWATCH",)
_CHUNK = 500  # hashes read per round trip while looking for a limited number of matches
# Records a session watches when it loads them by key, at most: Redis (7.0) takes time in the square
# of a connection's watched keys. Records loaded beyond it are checked when they are changed.
_WATCH_LIMIT = 256
_TABLE_NAME = re.compile(r"[A-Za-z0-9_]+")
# Raises a table's counter to an explicit integer key, so generated keys never collide with it.
_RAISE_SEQUENCE = (
    "local n = tonumber(ARGV[1]) "
    "if (tonumber(redis.call('GET', KEYS[1])) or 0) < n then redis.call('SET', KEYS[1], ARGV[1]) end "
    "return 0"
)


# --- values ------------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} values cannot be stored in Redis")


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default).encode
_loads = json.loads


def _encode(value: Any) -> str:
    """A column value as JSON text (the common kinds without going through the encoder)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is datetime or kind is date:
        return f'"{value.isoformat()}"'
    if kind is Decimal:
        return f'"{value}"'
    return _dumps(value)


def _typed(kind: str, value: Any) -> Any:
    """A value in the column's Python kind, to compare a stored value with a given one."""
    if value is None or isinstance(value, bool):
        return value
    try:
        if kind == "decimal":
            return Decimal(str(value))
        if kind == "float" and isinstance(value, int | str):
            return float(value)
        if kind == "datetime" and isinstance(value, str):
            return datetime.fromisoformat(value)
        if kind == "date" and isinstance(value, str):
            return date.fromisoformat(value)
    except (ValueError, InvalidOperation):
        return value
    return value


_CONVERTED = frozenset({"decimal", "datetime", "date", "float"})


def _decode(raw: Mapping[str, str], keys: _Keys) -> Row:
    """A stored hash as a row, values of the kinds JSON lacks turned back into them."""
    row = {name: _loads(text) for name, text in raw.items()}
    for name, kind in keys.converted:
        value = row.get(name)
        if value is not None:
            row[name] = _typed(kind, value)
    return row


def _same(table: Table, raw: Mapping[str, str], row: Mapping[str, Any]) -> bool:
    """Whether a stored hash holds the row (the row a caller read, to detect a concurrent change)."""
    for name, column in table.columns.items():
        text = raw.get(name)
        value = row.get(name)
        if text is not None and text == _encode(value):
            continue
        stored = None if text is None else _loads(text)
        if _typed(column.kind, stored) != _typed(column.kind, value):
            return False
    return True


def _matches(raw_or_row: Mapping[str, Any], criteria: Sequence[tuple[str, str, Any]], raw: bool) -> bool:
    for name, kind, value in criteria:
        stored = raw_or_row.get(name)
        if raw and stored is not None:
            stored = _loads(stored)
        if _typed(kind, stored) != value:
            return False
    return True


def _hash(reply: Any) -> dict[str, str] | None:
    """An HGETALL reply (a flat list of fields and values) as a dict; None for a missing record."""
    if not reply:
        return None
    if isinstance(reply, dict):  # RESP3
        return reply
    pairs = iter(reply)
    return dict(zip(pairs, pairs, strict=True))


# --- keys --------------------------------------------------------------------------------------


class _Keys:
    """A table's Redis key names, made once per table (kept in `Table.extra`)."""

    __slots__ = ("converted", "index", "integer", "record", "sequence")

    def __init__(self, table: Table) -> None:
        if not _TABLE_NAME.fullmatch(table.name):
            raise StoreError(f"{table.name!r} cannot name a Redis table (letters, digits and _ only)")
        self.record = f"foobara:{table.name}:"
        self.index = f"foobara:{table.name}"
        self.sequence = f"foobara:{table.name}#sequence"
        self.integer = table.key_kind == "integer"
        self.converted = [(name, column.kind) for name, column in table.columns.items() if column.kind in _CONVERTED]


def _keys(table: Table) -> _Keys:
    keys = table.extra.get("redis")
    if keys is None:
        keys = table.extra["redis"] = _Keys(table)
    return keys


def _member(key: Any) -> str:
    """A primary key as it appears in the record's name and in the index."""
    if type(key) is str:
        return key
    text = _encode(key)
    return text[1:-1] if text.startswith('"') else text


class _Write:
    __slots__ = ("inserted", "key", "row", "table")

    def __init__(self, table: Table, key: Any, row: Row | None, inserted: bool) -> None:
        self.table = table
        self.key = key
        self.row = row  # None: deleted
        self.inserted = inserted


# --- the session logic, free of I/O -----------------------------------------------------------


class _Transaction:
    """One session's state and operations; each operation is a generator of round trips."""

    __slots__ = ("broken", "checked", "pending", "snapshot", "store_url", "unverified")

    def __init__(self, store_url: str) -> None:
        self.store_url = store_url
        self.pending: dict[str, _Write] = {}  # by record name
        self.snapshot: dict[str, dict[str, str] | None] = {}  # watched records, as read then
        self.checked: set[str] = set()  # records whose caller's row matched the stored one
        self.unverified: dict[str, _Write] = {}  # generated keys not yet seen to be free
        self.broken = False

    def reset(self) -> None:
        self.pending = {}
        self.snapshot = {}
        self.checked = set()
        self.unverified = {}

    def _current(self, name: str, keys: _Keys) -> Row | None:
        write = self.pending.get(name)
        if write is not None:
            return dict(write.row) if write.row is not None else None
        raw = self.snapshot.get(name)
        return _decode(raw, keys) if raw is not None else None

    def _watch(self, names: list[str]) -> Steps[None]:
        """WATCH the records and read them in the same round trip."""
        replies = yield [("WATCH", *names), *(("HGETALL", name) for name in names)]
        self._check(replies[0])
        for name, reply in zip(names, replies[1:], strict=True):
            self.snapshot[name] = self._hash(reply)

    def _read(self, names: list[str]) -> Steps[dict[str, dict[str, str] | None]]:
        """Read the records without watching them, in one round trip."""
        replies = yield [("HGETALL", name) for name in names]
        return {name: self._hash(reply) for name, reply in zip(names, replies, strict=True)}

    def _check(self, reply: Any) -> Any:
        if isinstance(reply, ResponseError):
            raise StoreError(f"Redis store {self.store_url} refused a command: {reply}", store=self.store_url)
        return reply

    def _hash(self, reply: Any) -> dict[str, str] | None:
        return _hash(self._check(reply))

    def get_many(self, table: Table, keys: Sequence[Any]) -> Steps[dict[Any, Row]]:
        table_keys = _keys(table)
        names = [table_keys.record + _member(key) for key in keys]
        unread = [name for name in dict.fromkeys(names) if name not in self.pending and name not in self.snapshot]
        fetched: dict[str, dict[str, str] | None] = {}
        if len(unread) + len(self.snapshot) <= _WATCH_LIMIT:
            if unread:
                yield from self._watch(unread)
        else:
            fetched = yield from self._read(unread)
        found = {}
        for key, name in zip(keys, names, strict=True):
            if name in fetched:
                raw = fetched[name]
                row = _decode(raw, table_keys) if raw is not None else None
            else:
                row = self._current(name, table_keys)
            if row is not None:
                found[key] = row
        return found

    def _table_keys(self, table: Table, first: int | None) -> Steps[list[Any]]:
        """The table's primary keys in order (this session's inserts and deletes counted), the
        first `first` of them when given."""
        keys = _keys(table)
        added: list[Any] = []
        removed: set[Any] = set()
        for write in self.pending.values():
            if write.table.name == table.name:
                if write.row is None:
                    removed.add(write.key)
                else:
                    added.append(write.key)
        stop = -1 if first is None else first + len(removed) - 1
        (members,) = yield [("ZRANGE", keys.index, 0, stop)]
        self._check(members)
        stored = [int(member) for member in members] if keys.integer else list(members)
        if not added and not removed:
            return stored
        merged = set(stored)
        merged.difference_update(removed)
        merged.update(added)
        try:
            ordered = sorted(merged)
        except TypeError:  # keys of mixed types
            ordered = sorted(merged, key=repr)
        return ordered if first is None else ordered[:first]

    def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> Steps[list[Row]]:
        if limit is not None and limit <= 0:
            return []
        wanted = []
        for name, value in criteria.items():
            column = table.columns.get(name)
            kind = column.kind if column is not None else "json"
            wanted.append((name, kind, _typed(kind, value)))
        all_keys = yield from self._table_keys(table, None if wanted else limit)
        table_keys = _keys(table)
        prefix = table_keys.record
        chunk = _CHUNK if wanted and limit is not None else max(len(all_keys), 1)
        rows: list[Row] = []
        for start in range(0, len(all_keys), chunk):
            names = [prefix + _member(key) for key in all_keys[start : start + chunk]]
            unread = [name for name in names if name not in self.pending and name not in self.snapshot]
            fetched: dict[str, dict[str, str] | None] = {}
            if unread:
                fetched = yield from self._read(unread)
            for name in names:
                if name in fetched:
                    raw = fetched[name]
                    if raw is None or not _matches(raw, wanted, True):
                        continue
                    row = _decode(raw, table_keys)
                else:
                    found = self._current(name, table_keys)
                    if found is None or not _matches(found, wanted, False):
                        continue
                    row = found
                rows.append(row)
                if limit is not None and len(rows) >= limit:
                    return rows
        return rows

    def count(self, table: Table, criteria: Mapping[str, Any]) -> Steps[int]:
        if criteria:
            rows = yield from self.find(table, criteria)
            return len(rows)
        if not any(write.table.name == table.name for write in self.pending.values()):
            (count,) = yield [("ZCARD", _keys(table).index)]
            return int(self._check(count))
        keys = yield from self._table_keys(table, None)
        return len(keys)

    def _not_unique(self, table: Table, key: Any) -> UniqueViolationError:
        return UniqueViolationError(
            f"{table.entity_name} {key!r} already exists",
            entity_class=table.entity_name,
            attribute=table.primary_key,
            value=key,
        )

    def insert(self, table: Table, row: Row) -> Steps[Any]:
        keys = _keys(table)
        key = row.get(table.primary_key)
        generated = key is None
        if generated:
            (key,) = yield [("INCR", keys.sequence)]
            key = int(self._check(key))
        name = keys.record + _member(key)
        write = _Write(table, key, {**row, table.primary_key: key}, inserted=True)
        earlier = self.pending.get(name)
        if earlier is not None and earlier.row is not None:
            raise self._not_unique(table, key)
        if earlier is None or earlier.inserted:  # else a stored record deleted here: watched, free now
            if name in self.snapshot:
                if self.snapshot[name] is not None:
                    raise self._not_unique(table, key)
            elif generated:  # seen to be free at the commit, all such keys in one round trip
                self.unverified[name] = write
            else:
                yield from self._watch([name])
                if self.snapshot[name] is not None:
                    raise self._not_unique(table, key)
        self.pending[name] = write
        return key

    def _original(self, table: Table, key: Any, name: str, original: Row) -> Steps[None]:
        """Refuse to change a record that is no longer the row the caller read."""
        write = self.pending.get(name)
        if name in self.checked or (write is not None and write.inserted):
            return
        if name not in self.snapshot:
            yield from self._watch([name])
        raw = self.snapshot[name]
        if raw is None:
            raise TransactionConflict(f"{table.entity_name} {key!r} was deleted by another transaction")
        if not _same(table, raw, original):
            raise TransactionConflict(f"{table.entity_name} {key!r} was changed by another transaction")
        self.checked.add(name)

    def update(self, table: Table, key: Any, changes: Row, original: Row) -> Steps[None]:
        table_keys = _keys(table)
        name = table_keys.record + _member(key)
        yield from self._original(table, key, name, original)
        current = self._current(name, table_keys)
        if current is None:
            raise TransactionConflict(f"{table.entity_name} {key!r} was deleted by another transaction")
        current.update(changes)
        earlier = self.pending.get(name)
        self.pending[name] = _Write(table, key, current, inserted=earlier is not None and earlier.inserted)

    def delete(self, table: Table, key: Any, original: Row) -> Steps[None]:
        name = _keys(table).record + _member(key)
        yield from self._original(table, key, name, original)
        earlier = self.pending.get(name)
        inserted = earlier is not None and earlier.inserted  # then there is nothing to write
        self.pending[name] = _Write(table, key, None, inserted=inserted)
        self.unverified.pop(name, None)

    def commit(self) -> Steps[None]:
        if not self.pending:
            return
        if self.unverified:
            names = list(self.unverified)
            replies = yield [("WATCH", *names), *(("EXISTS", name) for name in names)]
            self._check(replies[0])
            for name, reply in zip(names, replies[1:], strict=True):
                if self._check(reply):
                    write = self.unverified[name]
                    raise self._not_unique(write.table, write.key)
        commands: list[Command] = [("MULTI",)]
        inserted = []
        for name, write in self.pending.items():
            keys = _keys(write.table)
            member = _member(write.key)
            if write.row is None:
                if write.inserted:
                    continue
                commands.append(("DEL", name))
                commands.append(("ZREM", keys.index, member))
                continue
            fields = [part for column, value in write.row.items() for part in (column, _encode(value))]
            if write.inserted:
                inserted.append(name)
                score = write.key if keys.integer else 0
                commands.append(("DEL", name))  # a record deleted and inserted again keeps no old field
                commands.append(("HSET", name, *fields))
                commands.append(("ZADD", keys.index, score, member))
                if keys.integer and write.table.generated_key and name not in self.unverified:
                    commands.append(("EVAL", _RAISE_SEQUENCE, 1, keys.sequence, write.key))
            else:
                commands.append(("HSET", name, *fields))
        commands.append(("EXEC",))
        replies = yield commands
        for reply in replies[:-1]:
            self._check(reply)
        results = self._check(replies[-1])
        if results is None:  # a watched record changed: nothing was written
            if inserted:
                exists = yield [("EXISTS", name) for name in inserted]
                for name, reply in zip(inserted, exists, strict=True):
                    if self._check(reply):
                        write = self.pending[name]
                        raise self._not_unique(write.table, write.key)
            raise TransactionConflict(f"Redis store {self.store_url}: a record this transaction read was changed")
        for result in results:
            self._check(result)


# --- connections and sessions -----------------------------------------------------------------


def _exchange(connection: Any, commands: list[Command]) -> list[Any]:
    """Send the commands in one write and read every reply (errors as values, so the connection
    stays in step)."""
    connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies


async def _aexchange(connection: Any, commands: list[Command]) -> list[Any]:
    await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies = []
    for _ in commands:
        try:
            replies.append(await connection.read_response())
        except ResponseError as error:
            replies.append(error)
    return replies


IDLE_KEPT = 16  # connections kept between sessions (sync, and per event loop): a burst's others close


class RedisStore:
    """Records in Redis at `redis://[:password@]host:port/db` (or `rediss://`, `unix://path`)."""

    def __init__(self, url: str) -> None:
        shown = redact_url(url)
        self.url = shown
        try:
            sync_options = dict(_sync_connection.parse_url(url))  # type: ignore[no-untyped-call]
            async_options: dict[str, Any] = dict(_async_connection.parse_url(url))
        except ValueError as error:
            raise ValueError(f"{shown} is not a Redis URL: {error}") from None
        self._password: str | None = sync_options.get("password")
        defaults = {"decode_responses": True, "socket_connect_timeout": 5.0}
        self._connection_class: Any = sync_options.pop("connection_class", _sync_connection.Connection)
        self._options = {**defaults, **sync_options}
        self._async_connection_class: Any = async_options.pop("connection_class", _async_connection.Connection)
        self._async_options = {**defaults, **async_options}
        self._idle: list[Any] = []  # sync connections, free
        self._loops: dict[asyncio.AbstractEventLoop, _LoopConnections] = {}  # async connections

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"

    def session(self) -> RedisSession:
        return RedisSession(self)

    def asession(self) -> AsyncRedisSession:
        return AsyncRedisSession(self)

    def unavailable(self, error: BaseException) -> StoreUnavailableError:
        """The error for a connection that failed: which store (no password) and why."""
        return StoreUnavailableError(f"Redis store {self.url} is unavailable: {self._reason(error)}", store=self.url)

    def _reason(self, error: BaseException) -> str:
        reason = str(error) or type(error).__name__
        return reason.replace(self._password, "***") if self._password else reason

    def _failure(self, error: BaseException) -> StoreError | None:
        """What a failure while talking to Redis is for the caller (None: let it go as it is)."""
        if isinstance(error, _LOST):
            return self.unavailable(error)
        if isinstance(error, RedisError):  # e.g. a reply the client cannot parse
            return StoreError(f"Redis store {self.url} failed: {self._reason(error)}", store=self.url)
        return None

    def _lost(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Redis store {self.url} lost the connection of an open transaction", store=self.url
        )

    # sync connections

    def _acquire(self) -> tuple[Any, bool]:
        """A connection and whether it was used before (it may have gone stale meanwhile)."""
        try:
            return self._idle.pop(), True
        except IndexError:
            pass
        connection = self._connection_class(**self._options)
        try:
            connection.connect()
        except (RedisError, OSError) as error:
            connection.disconnect()
            raise self.unavailable(error) from error
        return connection, False

    def _release(self, connection: Any) -> None:
        if len(self._idle) < IDLE_KEPT:
            self._idle.append(connection)
        else:
            connection.disconnect()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().disconnect()

    # async connections: each event loop has its own, closed when the loop shuts down

    async def _aacquire(self) -> tuple[Any, bool]:
        loop = asyncio.get_running_loop()
        connections = self._loops.get(loop)
        if connections is None:
            connections = self._loops[loop] = _LoopConnections()
            connections.guard = self._guard(loop, connections)
            await connections.guard.__anext__()
        if connections.idle:
            connection, reused = connections.idle.pop(), True
        else:
            connection, reused = self._async_connection_class(**self._async_options), False
            try:
                await connection.connect()
            except (RedisError, OSError) as error:
                await connection.disconnect(nowait=True)
                raise self.unavailable(error) from error
        connections.busy.add(connection)
        return connection, reused

    async def _arelease(self, connection: Any, lost: bool = False) -> None:
        """Give a connection back, or close it when it may be out of step (`lost`)."""
        connections = self._loops.get(asyncio.get_running_loop())
        if connections is not None:
            connections.busy.discard(connection)
        if lost or connections is None or len(connections.idle) >= IDLE_KEPT:  # or the store was closed meanwhile
            await connection.disconnect(nowait=True)
        else:
            connections.idle.append(connection)

    async def _guard(
        self, loop: asyncio.AbstractEventLoop, connections: _LoopConnections
    ) -> AsyncGenerator[None, None]:
        """Started in the loop, closed by the loop's shutdown (`asyncio.run` closes its async
        generators): the loop's connections are closed before it goes, even those of sessions
        never ended."""
        try:
            yield
        finally:
            self._loops.pop(loop, None)
            for connection in [*connections.idle, *connections.busy]:
                await connection.disconnect()
            connections.idle.clear()
            connections.busy.clear()

    async def aclose(self) -> None:
        connections = self._loops.get(asyncio.get_running_loop())
        if connections is not None and connections.guard is not None:
            await connections.guard.aclose()


class _LoopConnections:
    __slots__ = ("busy", "guard", "idle")

    def __init__(self) -> None:
        self.idle: list[Any] = []
        self.busy: set[Any] = set()
        self.guard: AsyncGenerator[None, None] | None = None


class RedisSession:
    """A transaction in a `RedisStore`, for sync code."""

    __slots__ = ("_connection", "_store", "_tx")

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._tx = _Transaction(store.url)
        self._connection: Any = None

    def _run(self, steps: Steps[T]) -> T:
        try:
            commands = next(steps)
            while True:
                commands = steps.send(self._roundtrip(commands))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _roundtrip(self, commands: list[Command]) -> list[Any]:
        connection = self._connection
        if connection is not None:
            try:
                return _exchange(connection, commands)
            except BaseException as error:
                connection.disconnect()
                self._connection = None
                self._tx.broken = True
                failure = self._store._failure(error)
                if failure is None:
                    raise
                raise failure from error
        if self._tx.broken:
            raise self._store._lost()
        while True:  # the first round trip on a connection: it may have gone stale while free
            connection, reused = self._store._acquire()
            try:
                replies = _exchange(connection, [_UNWATCH, *commands])
            except _LOST as error:
                connection.disconnect()
                if reused:
                    continue
                raise self._store.unavailable(error) from error
            except BaseException:
                connection.disconnect()
                raise
            self._connection = connection
            return replies[1:]

    def _end(self) -> None:
        self._tx.reset()
        connection = self._connection
        if connection is not None:
            self._connection = None
            self._store._release(connection)

    def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]:
        return self._run(self._tx.get_many(table, keys))

    def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]:
        return self._run(self._tx.find(table, criteria, limit))

    def count(self, table: Table, criteria: Mapping[str, Any]) -> int:
        return self._run(self._tx.count(table, criteria))

    def insert(self, table: Table, row: Row) -> Any:
        return self._run(self._tx.insert(table, row))

    def update(self, table: Table, key: Any, changes: Row, original: Row) -> None:
        self._run(self._tx.update(table, key, changes, original))

    def delete(self, table: Table, key: Any, original: Row) -> None:
        self._run(self._tx.delete(table, key, original))

    def commit(self) -> None:
        try:
            self._run(self._tx.commit())
        finally:
            self._end()

    def rollback(self) -> None:
        self._tx.broken = False
        self._end()


class AsyncRedisSession:
    """A transaction in a `RedisStore`, for async code (the same logic over redis.asyncio)."""

    __slots__ = ("_connection", "_store", "_tx")

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._tx = _Transaction(store.url)
        self._connection: Any = None

    async def _run(self, steps: Steps[T]) -> T:
        try:
            commands = next(steps)
            while True:
                commands = steps.send(await self._roundtrip(commands))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _roundtrip(self, commands: list[Command]) -> list[Any]:
        connection = self._connection
        if connection is not None:
            try:
                return await _aexchange(connection, commands)
            except BaseException as error:  # a cancelled read leaves replies unread: drop the connection
                self._connection = None
                self._tx.broken = True
                await self._store._arelease(connection, lost=True)
                failure = self._store._failure(error)
                if failure is None:
                    raise
                raise failure from error
        if self._tx.broken:
            raise self._store._lost()
        while True:
            connection, reused = await self._store._aacquire()
            try:
                replies = await _aexchange(connection, [_UNWATCH, *commands])
            except _LOST as error:
                await self._store._arelease(connection, lost=True)
                if reused:
                    continue
                raise self._store.unavailable(error) from error
            except BaseException:
                await self._store._arelease(connection, lost=True)
                raise
            self._connection = connection
            return replies[1:]

    async def _end(self) -> None:
        self._tx.reset()
        connection = self._connection
        if connection is not None:
            self._connection = None
            await self._store._arelease(connection)

    async def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]:
        return await self._run(self._tx.get_many(table, keys))

    async def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]:
        return await self._run(self._tx.find(table, criteria, limit))

    async def count(self, table: Table, criteria: Mapping[str, Any]) -> int:
        return await self._run(self._tx.count(table, criteria))

    async def insert(self, table: Table, row: Row) -> Any:
        return await self._run(self._tx.insert(table, row))

    async def update(self, table: Table, key: Any, changes: Row, original: Row) -> None:
        await self._run(self._tx.update(table, key, changes, original))

    async def delete(self, table: Table, key: Any, original: Row) -> None:
        await self._run(self._tx.delete(table, key, original))

    async def commit(self) -> None:
        try:
            await self._run(self._tx.commit())
        finally:
            await self._end()

    async def rollback(self) -> None:
        self._tx.broken = False
        await self._end()
