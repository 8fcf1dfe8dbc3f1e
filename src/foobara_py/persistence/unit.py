"""The unit of work: what one transaction knows about records, and the operations on them.

Every operation is written once, as a generator that yields the store calls it needs
(`(store, method, args)`) and receives their results: `run_sync` makes the calls, `run_async`
makes them and awaits what they return. The sync and async class APIs, and the commit and
rollback of Command and AsyncCommand runs, share these generators.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Generator, Iterable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from .. import transactions
from ..errors import FoobaraError, FrameworkUsageError
from ..types import field_nodes
from ..validation import missing_attribute
from .config import store_for
from .entity import (
    Entity,
    InvalidRecordError,
    NotFoundError,
    NoTransactionOpenError,
    RecordState,
    association_of,
    associations,
    stored_json,
    table_of,
)
from .store import Row, Store

if TYPE_CHECKING:
    from ..types import TypeNode
    from .store import Table

__all__ = ["ENTITIES", "UnitOfWork", "current_unit", "run_async", "run_sync", "unit_for"]

E = TypeVar("E", bound=Entity)
T = TypeVar("T")
Call = tuple[Store, str, tuple[Any, ...]]
Ops = Generator[Call, Any, T]


class UnitOfWork:
    """One transaction over every store its records live in. Store sessions are opened when
    first needed; the commit writes the changed records and commits each session."""

    __slots__ = ("dirty", "identity", "inserted", "is_async", "open", "sessions", "stores", "watched")

    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.open = True
        self.sessions: dict[Store, Any] = {}
        # The store of each entity, from its first use on: `configure` meanwhile is for later transactions.
        self.stores: dict[type[Entity], Store] = {}
        self.identity: dict[tuple[type[Entity], Any], Entity] = {}
        self.dirty: dict[int, Entity] = {}
        # Records with attributes a run may change in place, without assigning: every flush looks at them.
        self.watched: list[Entity] = []
        # Records this transaction inserted, with the key each had: new again if it rolls back.
        self.inserted: list[tuple[Entity, Any]] = []

    # The transaction protocol (see foobara_py.transactions)

    def commit(self) -> Any:
        return run_async(self, _commit(self)) if self.is_async else run_sync(self, _commit(self))

    def rollback(self) -> Any:
        return run_async(self, _rollback(self)) if self.is_async else run_sync(self, _rollback(self))

    def _close(self) -> None:
        self.open = False
        self.sessions = {}
        self.stores = {}
        self.dirty = {}
        self.watched = []
        self.inserted = []
        # Records keep their state (an outcome's result is read after the run); references not
        # loaded by now cannot be loaded any more.
        self.identity = {}


class _Entities:
    """The transaction resource of every entity: a command run whose types involve an entity
    opens a unit of work on it (`begin` for sync runs, `abegin` for async ones)."""

    def begin(self) -> UnitOfWork:
        return UnitOfWork(is_async=False)

    def abegin(self) -> UnitOfWork:
        return UnitOfWork(is_async=True)

    def __repr__(self) -> str:
        return "<entities>"


ENTITIES = _Entities()


def current_unit() -> UnitOfWork | None:
    unit = transactions.open_transactions().get(ENTITIES)
    return unit if isinstance(unit, UnitOfWork) and unit.open else None


def unit_for(entity: type[Entity], operation: str) -> UnitOfWork:
    unit = current_unit()
    if unit is None:
        raise NoTransactionOpenError(
            f"{entity.__name__}.{operation} needs a transaction: call it in a command run whose inputs, result or "
            f"depends_on_entities include {entity.__name__}, or inside `with transaction():`"
        )
    return unit


# --------------------------------------------------------------------------------------------
# Drivers


_PLAIN = frozenset({dict, list, int, str, type(None)})  # what sync sessions return: nothing to await


def _store(unit: UnitOfWork, entity: type[Entity]) -> Store:
    store = unit.stores.get(entity)
    if store is None:
        store = unit.stores[entity] = store_for(entity)
    return store


def run_sync(unit: UnitOfWork, ops: Ops[T]) -> T:
    value: Any = None
    try:
        while True:
            store, method, args = ops.send(value)
            session = unit.sessions.get(store)
            if session is None:
                session = unit.sessions[store] = store.session()
            value = getattr(session, method)(*args)
            if type(value) not in _PLAIN and inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise FrameworkUsageError(
                    f"The store {store.url} is in use by async code in this transaction: sync code cannot "
                    "join it (use the async twins: aload, acreate, ...)"
                )
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def run_async(unit: UnitOfWork, ops: Ops[T]) -> T:
    value: Any = None
    try:
        while True:
            store, method, args = ops.send(value)
            session = unit.sessions.get(store)
            if session is None:
                session = unit.sessions[store] = store.asession()
            value = getattr(session, method)(*args)
            if type(value) not in _PLAIN and inspect.isawaitable(value):
                value = await value
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Rows and records


def _row_of(unit: UnitOfWork, record: Entity) -> Ops[Row]:
    """The record as its store keeps it; associated records not yet stored are created first."""
    table = table_of(type(record))
    links = associations(type(record))
    values = record.__dict__
    secrets = table.extra["secrets"]
    row: Row = {}
    for name, column in table.columns.items():
        value = values.get(name)
        if name in links and value is not None:
            target, many = links[name]
            if many:
                keys = []
                for item in value:
                    if not item.is_persisted:
                        yield from _insert(unit, item)
                    keys.append(_stored_key(target, item.primary_key))
                value = keys
            else:
                if not value.is_persisted:
                    yield from _insert(unit, value)
                value = _stored_key(target, value.primary_key)
        elif column.kind == "json" and value is not None:
            value = stored_json(value, name in secrets)
        row[name] = value
    return row


def _materialize(unit: UnitOfWork, entity: type[E], key: Any, row: Row) -> E:
    """The record for a row: the instance this unit already has for it (filled in if it was a
    reference), or a new one. A row is not validated again (it was when written): its
    associations become references and its JSON values are read into their types."""
    known = unit.identity.get((entity, key))
    if known is not None and known.__pydantic_private__["_foobara"].loaded:  # type: ignore[index]
        return known  # type: ignore[return-value]
    table = table_of(entity)
    values = dict(row)
    for name, (target, many) in table.extra["associations"].items():
        value = values.get(name)
        if value is not None:
            if target.__foobara_key_type__ is None:  # a key kept as JSON, read back as its type
                value = [_key(target, k) for k in value] if many else _key(target, value)
            values[name] = [target._reference(k, unit) for k in value] if many else target._reference(value, unit)
    for name, adapter in table.extra["json"]:
        value = values.get(name)
        if value is not None:
            values[name] = adapter.validate_python(value)
    mutable = table.extra["mutable"]
    if mutable:  # the row as read must not share what the record's values may change in place
        row = {**row, **{name: copy.deepcopy(row.get(name)) for name in mutable}}
    state = RecordState(unit, True, True, row)
    # A row that refers to its own record (`pals` holding itself) made a reference to it above:
    # that instance is the record.
    known = unit.identity.get((entity, key))
    record = known if known is not None else entity.__new__(entity)
    object.__setattr__(record, "__dict__", values)
    object.__setattr__(record, "__pydantic_fields_set__", set(values))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", {"_foobara": state})
    if known is None:
        unit.identity[(entity, key)] = record
    if mutable:
        unit.watched.append(record)
    return record  # type: ignore[return-value]


def _state(record: Entity) -> RecordState | None:
    private = record.__pydantic_private__
    return private.get("_foobara") if private else None


# --------------------------------------------------------------------------------------------
# Operations


def _insert(unit: UnitOfWork, record: Entity) -> Ops[None]:
    entity = type(record)
    table = table_of(entity)
    state = _state(record)
    if state is not None and state.persisted:
        return
    if record.__dict__.get(table.primary_key) is None and not table.generated_key:
        missing = missing_attribute((table.primary_key,))
        raise InvalidRecordError(entity, [missing])  # only integer keys are generated
    placeholder = RecordState(unit, loaded=True, persisted=True, original=None)  # no cycles while rows are made
    record.__pydantic_private__ = {"_foobara": placeholder}
    try:
        row = yield from _row_of(unit, record)
        key = yield (_store(unit, entity), "insert", (table, row))
    except BaseException:
        record.__pydantic_private__ = {"_foobara": state}
        raise
    row[table.primary_key] = key
    key = _key(entity, key)
    unit.inserted.append((record, record.__dict__.get(table.primary_key)))
    record.__dict__[table.primary_key] = key
    record.__pydantic_fields_set__.add(table.primary_key)
    placeholder.original = row
    unit.identity[(entity, key)] = record
    if table.extra["mutable"]:
        unit.watched.append(record)


def create(unit: UnitOfWork, entity: type[E], attributes: Mapping[str, Any]) -> Ops[E]:
    try:
        record = entity(**attributes)
    except ValidationError as error:
        raise InvalidRecordError.of(entity, attributes, error) from None
    yield from _insert(unit, record)
    return record


def _key(entity: type[Entity], key: Any) -> Any:
    if type(key) is entity.__foobara_key_type__:
        return key
    if isinstance(key, entity):
        return key.primary_key
    return entity.__foobara_key_adapter__.validate_python(key)


def load_keys(unit: UnitOfWork, entity: type[E], keys: Sequence[Any], *, missing_ok: bool = False) -> Ops[list[E]]:
    """The records with these keys, loading in one query those this unit has not loaded."""
    try:
        keys = [_key(entity, key) for key in keys]
    except ValidationError:
        keys = _castable_keys(entity, keys, missing_ok)
    wanted = []
    for key in keys:
        known = unit.identity.get((entity, key))
        state = _state(known) if known is not None else None
        if state is None or not state.loaded:
            wanted.append(key)
    rows: dict[Any, Row] = {}
    if wanted:
        table = table_of(entity)
        if table.key_kind == "json":  # keys the store keeps as JSON (a UUID as its text)
            stored = yield (
                _store(unit, entity),
                "get_many",
                (table, [_stored_key(entity, k) for k in dict.fromkeys(wanted)]),
            )
            rows = {_key(entity, k): row for k, row in stored.items()}
        else:
            rows = yield (_store(unit, entity), "get_many", (table, list(dict.fromkeys(wanted))))
    found: list[E] = []
    for key in keys:
        row = rows.get(key)
        if row is not None:
            found.append(_materialize(unit, entity, key, row))
            continue
        known = unit.identity.get((entity, key))
        state = _state(known) if known is not None else None
        if known is not None and state is not None and state.loaded and not state.deleted:
            found.append(known)  # type: ignore[arg-type]
        elif not missing_ok:
            raise NotFoundError(entity, key)
    return found


def _stored_key(entity: type[Entity], key: Any) -> Any:
    """A primary key as the store keeps it: records and the identity map hold it as its type."""
    if entity.__foobara_key_type__ is not None or table_of(entity).key_kind != "json":
        return key
    return stored_json(key, False)  # a UUID as its text


def _castable_keys(entity: type[Entity], keys: Sequence[Any], missing_ok: bool) -> list[Any]:
    """The keys that can be keys of the entity: no record has one that cannot (`NotFoundError`,
    or left out when missing records are fine)."""
    castable = []
    for key in keys:
        try:
            castable.append(_key(entity, key))
        except ValidationError:
            if not missing_ok:
                raise NotFoundError(entity, key) from None
    return castable


def load_one(unit: UnitOfWork, entity: type[E], key: Any) -> Ops[E]:
    found = yield from load_keys(unit, entity, [key])
    return found[0]


def _criteria(entity: type[Entity], criteria: Mapping[str, Any]) -> Row:
    fields = entity.model_fields
    table = table_of(entity)
    links = table.extra["associations"]
    stored: Row = {}
    for name, value in criteria.items():
        if name not in fields:
            raise TypeError(f"{entity.__name__} has no attribute {name!r}")
        if value is None:
            pass
        elif name in links and isinstance(value, Entity):
            value = _stored_key(type(value), value.primary_key)
        elif table.columns[name].kind == "json":
            value = stored_json(value, name in table.extra["secrets"])
        elif name not in links:
            value = _criterion(entity, name, value)
        stored[name] = value
    return stored


def _criterion(entity: type[Entity], name: str, value: Any) -> Any:
    """A value to look for, as the attribute's type makes it (`"3"` for an integer is 3); one
    the attribute could never hold is `InvalidRecordError`, not a store's error."""
    adapters: dict[str, TypeAdapter[Any]] = table_of(entity).extra.setdefault("criteria", {})
    adapter = adapters.get(name)
    if adapter is None:
        adapter = adapters[name] = TypeAdapter[Any](entity.model_fields[name].annotation)  # type: ignore[arg-type]
    try:
        return adapter.validate_python(value)
    except ValidationError:
        error = FoobaraError(
            "cannot_cast",
            f"Cannot look for {value!r} in {entity.__name__}.{name}",
            "data",
            (name,),
            context={"value": value if not isinstance(value, (bytes, bytearray)) else repr(value)},
            is_fatal=True,
        )
        raise InvalidRecordError(entity, [error]) from None


def find(unit: UnitOfWork, entity: type[E], criteria: Mapping[str, Any], limit: int | None) -> Ops[list[E]]:
    yield from flush(unit)
    table = table_of(entity)
    rows = yield (_store(unit, entity), "find", (table, _criteria(entity, criteria), limit))
    return [_materialize(unit, entity, _key(entity, row[table.primary_key]), row) for row in rows]


def count(unit: UnitOfWork, entity: type[E], criteria: Mapping[str, Any]) -> Ops[int]:
    yield from flush(unit)
    number = yield (_store(unit, entity), "count", (table_of(entity), _criteria(entity, criteria)))
    return int(number)


def delete(unit: UnitOfWork, record: Entity) -> Ops[None]:
    state = _state(record)
    if state is None or not state.persisted or state.deleted:
        raise FrameworkUsageError(f"{type(record).__name__} {record.primary_key!r} is not stored: nothing to delete")
    if not state.loaded:
        yield from load_keys(unit, type(record), [record.primary_key])
    entity = type(record)
    unit.dirty.pop(id(record), None)
    yield from _flush_record(unit, record)
    table = table_of(entity)
    yield (_store(unit, entity), "delete", (table, _stored_key(entity, record.primary_key), state.original))
    state.deleted = True
    unit.identity.pop((entity, record.primary_key), None)


def _flush_record(unit: UnitOfWork, record: Entity) -> Ops[None]:
    state = _state(record)
    if state is None or state.deleted or state.original is None:
        return
    row = yield from _row_of(unit, record)
    changes = {name: value for name, value in row.items() if state.original.get(name) != value}
    if changes:
        table: Table = table_of(type(record))
        key = _stored_key(type(record), record.primary_key)
        yield (_store(unit, type(record)), "update", (table, key, changes, state.original))
        state.original = row


def flush(unit: UnitOfWork) -> Ops[None]:
    """Write the records changed since the last flush (before a query, and at the commit)."""
    for record in unit.watched:
        unit.dirty[id(record)] = record
    while unit.dirty:
        _, record = unit.dirty.popitem()
        yield from _flush_record(unit, record)


def _commit(unit: UnitOfWork) -> Ops[None]:
    try:
        yield from flush(unit)
        for store in list(unit.sessions):
            yield (store, "commit", ())
            del unit.sessions[store]
    finally:
        if not unit.sessions:
            unit._close()


def _rollback(unit: UnitOfWork) -> Ops[None]:
    problems: list[BaseException] = []
    for store in list(unit.sessions):
        try:
            yield (store, "rollback", ())
        except Exception as exc:  # the other stores must still roll back
            problems.append(exc)
    for record, key in unit.inserted:  # never stored: a later run may store them
        record.__pydantic_private__ = {"_foobara": None}
        record.__dict__[type(record).__primary_key__] = key
    unit._close()
    if problems:
        raise problems[0]


# --------------------------------------------------------------------------------------------
# Entity inputs


def references_in(value: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[tuple[Any, ...], Entity]]:
    """The records in a value (a command's inputs), with their paths."""
    if isinstance(value, Entity):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from references_in(value.__dict__.get(name), (*path, name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from references_in(item, (*path, index))
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from references_in(item, (*path, name))


def entities_in(node: TypeNode) -> list[type[Entity]]:
    """The entities a type can hold records of (a command's inputs or result type)."""
    found: dict[type[Entity], None] = {}
    seen: set[int] = set()

    def visit(item: TypeNode) -> None:
        if id(item) in seen:
            return
        seen.add(id(item))
        if isinstance(item.model, type) and issubclass(item.model, Entity):
            found[item.model] = None
            return  # its associations are loaded through it, in the same unit of work
        for child in item.children():
            visit(child)

    visit(node)
    return list(found)


def load_entity_inputs(command: Any) -> Generator[Any, Any, None]:
    """The load_entity_inputs step: load the records the inputs refer to, one query per entity,
    before `validate_records`; a missing one is `data.<path>.not_found`."""
    unit = current_unit()
    assert unit is not None
    by_entity: dict[type[Entity], list[tuple[tuple[Any, ...], Entity]]] = {}
    for path, record in _records_in_inputs(command.inputs):
        state = _state(record)
        if state is None:
            continue  # attributes for a new record
        if state.unit is not unit and state.persisted:
            # A record from another transaction: this run reads it afresh in its own.
            record = type(record)._reference(record.primary_key, unit)
            _replace(command.inputs, path, record)
            state = _state(record)
            assert state is not None
        if not state.loaded:
            by_entity.setdefault(type(record), []).append((path, record))
    driver = run_async if type(command).spec.is_async else run_sync
    for entity, found in by_entity.items():
        keys = [record.primary_key for _, record in found]
        yield partial(driver, unit, load_keys(unit, entity, keys, missing_ok=True))
        for path, record in found:
            if not record.is_loaded:
                command._record(not_found_error(entity, record.primary_key, path))


def _records_in_inputs(inputs: BaseModel) -> list[tuple[tuple[Any, ...], Entity]]:
    """The records in a command's inputs, with their paths. The attributes that cannot hold one
    are found once per inputs class and skipped."""
    found: list[tuple[tuple[Any, ...], Entity]] = []
    values = inputs.__dict__
    for name, direct in _entity_fields(type(inputs)):
        value = values.get(name)
        if direct:
            if value is not None:
                found.append(((name,), value))
        else:
            found.extend(references_in(value, (name,)))
    return found


_ENTITY_FIELDS: dict[type[BaseModel], tuple[tuple[str, bool], ...]] = {}


def _entity_fields(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """The attributes of an inputs class that can hold records: (name, holds exactly one record)."""
    fields = _ENTITY_FIELDS.get(model)
    if fields is None:
        chosen = []
        nodes = field_nodes(model)
        for name, info in model.model_fields.items():
            association = association_of(info.annotation)
            if association is not None and not association[1]:
                chosen.append((name, True))
            elif name in nodes and entities_in(nodes[name]):
                chosen.append((name, False))
        fields = _ENTITY_FIELDS[model] = tuple(chosen)
    return fields


def _replace(root: Any, path: tuple[Any, ...], value: Any) -> None:
    container = root
    for part in path[:-1]:
        container = container.__dict__[part] if isinstance(container, BaseModel) else container[part]
    last = path[-1]
    if isinstance(container, BaseModel):
        container.__dict__[last] = value
    elif isinstance(container, (list, dict)):
        container[last] = value


def not_found_error(entity: type[Entity], key: Any, path: tuple[Any, ...]) -> FoobaraError:
    name = entity.entity_name()
    return FoobaraError(
        "not_found",
        f"Could not find {name} for {key}",
        "data",
        path,
        context={"entity_class": name, "criteria": key, "data_path": ".".join(str(part) for part in path)},
    )


def load_entity_result(command: Any) -> Generator[Any, Any, None]:
    """The load_entity_result step, before the commit: a record the result holds at its top (or
    in a list or dict there) that the run never read is loaded now, so that the outcome shows its
    attributes and can be read after the run."""
    unit = current_unit()
    if unit is None:
        return
    result = command.result
    if isinstance(result, Entity):
        records: Iterable[Any] = (result,)
    elif isinstance(result, (list, tuple)):
        records = result
    elif isinstance(result, dict):
        records = result.values()
    else:
        return
    by_entity: dict[type[Entity], list[Any]] = {}
    for record in records:
        if isinstance(record, Entity):
            state = _state(record)
            if state is not None and not state.loaded and state.unit is unit:
                by_entity.setdefault(type(record), []).append(record.primary_key)
    driver = run_async if type(command).spec.is_async else run_sync
    for entity, keys in by_entity.items():
        yield partial(driver, unit, load_keys(unit, entity, keys, missing_ok=True))
