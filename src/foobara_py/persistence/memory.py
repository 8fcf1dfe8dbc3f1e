"""The in-memory store: the default when nothing is configured, and for tests.

Records live in this process only. A session keeps its writes aside and applies them at the
commit, under the store's lock, after checking that every row it updates or deletes is still the
version it read (so concurrent runs never see each other's uncommitted writes, and an update
cannot be lost). Nothing here blocks, so async code uses the sync session.
"""

from __future__ import annotations

import copy
import datetime
import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from .store import Row, Table, TransactionConflict, UniqueViolationError

__all__ = ["MemoryStore"]

_DELETED = object()
_IMMUTABLE = frozenset({int, float, bool, str, type(None), Decimal, datetime.datetime, datetime.date})


def _copy(row: Row) -> Row:
    """A copy of a row that shares nothing mutable with it (containers are copied deeply)."""
    return {name: value if type(value) in _IMMUTABLE else copy.deepcopy(value) for name, value in row.items()}


class _Table:
    __slots__ = ("rows", "sequence", "versions")

    def __init__(self) -> None:
        self.rows: dict[Any, Row] = {}
        self.versions: dict[Any, int] = {}
        self.sequence = 0


class MemoryStore:
    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._tables: dict[str, _Table] = {}
        self._lock = threading.Lock()

    def _table(self, table: Table) -> _Table:
        stored = self._tables.get(table.name)
        if stored is None:
            stored = self._tables.setdefault(table.name, _Table())
        return stored

    def session(self) -> MemorySession:
        return MemorySession(self)

    def asession(self) -> MemorySession:
        return MemorySession(self)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    def clear(self) -> None:
        """Forget every record (tests start from an empty store)."""
        with self._lock:
            self._tables.clear()


class MemorySession:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.pending: dict[tuple[str, Any], Any] = {}  # (table, key) -> row, or _DELETED
        self.read_versions: dict[tuple[str, Any], int | None] = {}  # version each written row was read at
        self.inserted: set[tuple[str, Any]] = set()

    def _current(self, table: Table, key: Any) -> Row | None:
        pending = self.pending.get((table.name, key))
        if pending is _DELETED:
            return None
        if pending is not None:
            return _copy(pending)
        row = self.store._table(table).rows.get(key)
        return _copy(row) if row is not None else None

    def _keys(self, table: Table) -> list[Any]:
        keys = set(self.store._table(table).rows)
        for (name, key), pending in self.pending.items():
            if name == table.name:
                if pending is _DELETED:
                    keys.discard(key)
                else:
                    keys.add(key)
        try:
            return sorted(keys)
        except TypeError:  # keys of mixed types
            return sorted(keys, key=repr)

    def get_many(self, table: Table, keys: Sequence[Any]) -> dict[Any, Row]:
        found = {}
        for key in keys:
            row = self._current(table, key)
            if row is not None:
                found[key] = row
        return found

    def find(self, table: Table, criteria: Mapping[str, Any], limit: int | None = None) -> list[Row]:
        rows = []
        for key in self._keys(table):
            row = self._current(table, key)
            if row is not None and all(row.get(name) == value for name, value in criteria.items()):
                rows.append(row)
                if limit is not None and len(rows) >= limit:
                    break
        return rows

    def count(self, table: Table, criteria: Mapping[str, Any]) -> int:
        return len(self.find(table, criteria))

    def insert(self, table: Table, row: Row) -> Any:
        stored = self.store._table(table)
        key = row.get(table.primary_key)
        with self.store._lock:
            if key is None:
                stored.sequence += 1
                key = stored.sequence
            elif table.generated_key and isinstance(key, int):
                stored.sequence = max(stored.sequence, key)
        if self._current(table, key) is not None or (table.name, key) in self.inserted:
            raise UniqueViolationError(
                f"{table.entity_name} {key!r} already exists",
                entity_class=table.entity_name,
                attribute=table.primary_key,
                value=key,
            )
        self.pending[(table.name, key)] = {**_copy(row), table.primary_key: key}
        self.read_versions.setdefault((table.name, key), None)  # must still be absent at the commit
        self.inserted.add((table.name, key))
        return key

    def _read_version(self, table: Table, key: Any, original: Row) -> None:
        where = (table.name, key)
        if where in self.read_versions:
            return
        stored = self.store._table(table)
        with self.store._lock:
            if stored.rows.get(key) != original:
                raise TransactionConflict(f"{table.entity_name} {key!r} was changed by another transaction")
            self.read_versions[where] = stored.versions.get(key, 0)

    def update(self, table: Table, key: Any, changes: Row, original: Row) -> None:
        self._read_version(table, key, original)
        current = self._current(table, key)
        if current is None:
            raise TransactionConflict(f"{table.entity_name} {key!r} was deleted by another transaction")
        current.update(_copy(changes))
        self.pending[(table.name, key)] = current

    def delete(self, table: Table, key: Any, original: Row) -> None:
        self._read_version(table, key, original)
        self.pending[(table.name, key)] = _DELETED

    def commit(self) -> None:
        store = self.store
        with store._lock:
            for (name, key), version in self.read_versions.items():
                stored = store._tables.get(name)
                present = stored is not None and key in stored.rows
                if version is None:  # inserted here: nobody else may have inserted it meanwhile
                    if present:
                        raise UniqueViolationError(f"{name} {key!r} already exists", value=key)
                elif not present or stored.versions.get(key, 0) != version:  # type: ignore[union-attr]
                    raise TransactionConflict(f"{name} {key!r} was changed by another transaction")
            for (name, key), pending in self.pending.items():
                stored = store._tables.setdefault(name, _Table())
                if pending is _DELETED:
                    stored.rows.pop(key, None)
                    stored.versions.pop(key, None)
                else:
                    stored.rows[key] = pending
                    stored.versions[key] = stored.versions.get(key, 0) + 1
        self.pending = {}
        self.read_versions = {}

    def rollback(self) -> None:
        self.pending = {}
        self.read_versions = {}
