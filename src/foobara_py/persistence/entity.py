"""Entities: models with a primary key, kept in a store, loaded and written in transactions.

A record is an `Entity` instance. One that has only its primary key (an input given as a key,
an association read from a store) is a *reference*: its other attributes are loaded the first
time one of them is read. Within a transaction there is one instance per record, so a change
made through one reference is seen through every other.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Self, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SecretBytes,
    SecretStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError, to_jsonable_python

from ..errors import FoobaraError, FrameworkUsageError, to_sentence
from ..jsonable import holds_secret
from ..naming import underscore
from ..types import Model, field_nodes
from .store import Column, ColumnKind, Table

if TYPE_CHECKING:
    from pydantic import ModelWrapValidatorHandler

    from .unit import UnitOfWork

__all__ = ["Entity", "InvalidRecordError", "NoTransactionOpenError", "NotFoundError", "RecordState"]


class NotFoundError(LookupError):
    """No record has that primary key."""

    def __init__(self, entity: type[Entity], key: Any) -> None:
        super().__init__(f"Could not find {entity.entity_name()} for {key!r}")
        self.entity = entity
        self.key = key


class InvalidRecordError(ValueError):
    """Attributes that do not fit the entity: refused before anything is written. In a command
    run it becomes the runtime error `invalid_record`, with Foobara's errors in its context."""

    def __init__(self, entity: type[Entity], errors: Sequence[FoobaraError]) -> None:
        self.entity = entity
        self.errors = list(errors)
        super().__init__(f"Invalid {entity.entity_name()}: {to_sentence(e.message for e in self.errors)}")

    @classmethod
    def of(cls, entity: type[Entity], attributes: Mapping[str, Any], error: ValidationError) -> InvalidRecordError:
        """pydantic's errors for these attributes, as Foobara's."""
        from ..types import node_for_model
        from ..validation import translate_errors

        return cls(entity, translate_errors(node_for_model(entity), dict(attributes), error.errors()))

    def to_foobara_error(self) -> FoobaraError:
        return FoobaraError(
            "invalid_record",
            str(self),
            "runtime",
            context={"entity_class": self.entity.entity_name(), "errors": [e.to_dict() for e in self.errors]},
            cause=self,
        )


class NoTransactionOpenError(FrameworkUsageError):
    """Records are read and written inside a transaction: a command run or `transaction()`."""


class RecordState:
    """What the framework knows about one record instance."""

    __slots__ = ("deleted", "loaded", "original", "persisted", "unit")

    def __init__(self, unit: UnitOfWork | None, loaded: bool, persisted: bool, original: dict[str, Any] | None):
        self.unit = unit
        self.loaded = loaded  # all attributes are present
        self.persisted = persisted  # the record exists in its store (or will, at the commit)
        self.original = original  # the row as the store has it, for change detection and conflicts
        self.deleted = False


class Entity(Model):
    """A model with a primary key (`id` unless the class says `primary_key="code"`), kept in a
    store. Assigning an attribute validates it; the change is written when the transaction
    commits."""

    model_config = ConfigDict(validate_assignment=True)

    __foobara_base__: ClassVar[bool] = True
    __primary_key__: ClassVar[str] = "id"
    __table_name__: ClassVar[str | None] = None
    _foobara: RecordState | None = PrivateAttr(default=None)

    def __init_subclass__(cls, primary_key: str | None = None, table: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if primary_key is not None:
            cls.__primary_key__ = primary_key
        if table is not None:
            cls.__table_name__ = table
        cls.__foobara_table__ = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("__foobara_base__"):
            return
        if cls.__primary_key__ not in cls.model_fields:
            raise TypeError(
                f"{cls.__name__} has no attribute {cls.__primary_key__!r} to be its primary key "
                f"(declare it, or name another: class {cls.__name__}(Entity, primary_key=...))"
            )
        key_type = _without_none(cls.model_fields[cls.__primary_key__].annotation)
        cls.__foobara_key_adapter__ = TypeAdapter(key_type)
        cls.__foobara_key_type__ = key_type if key_type in (int, str) else None  # taken as it is

    __foobara_table__: ClassVar[Table | None]
    __foobara_key_adapter__: ClassVar[TypeAdapter[Any]]
    __foobara_key_type__: ClassVar[type | None]

    # ----------------------------------------------------------------------------------------
    # What a value given for an entity-typed attribute becomes

    @model_validator(mode="wrap")
    @classmethod
    def _record_or_reference(cls, value: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Attributes (a dict) make a new record; a record stays itself; anything else is a
        primary key, made a reference to that record."""
        if isinstance(value, (dict, BaseModel)):
            return handler(value)
        if type(value) is cls.__foobara_key_type__:
            key = value
        else:
            try:
                key = cls.__foobara_key_adapter__.validate_python(value)
            except ValidationError:
                raise PydanticCustomError(
                    "model_type", "Cannot cast {value!r} to a {entity}", {"value": value, "entity": cls.entity_name()}
                ) from None
        return cls._reference(key, units.current_unit())

    @classmethod
    def _reference(cls, key: Any, unit: UnitOfWork | None) -> Self:
        if unit is not None:
            known = unit.identity.get((cls, key))
            if known is not None:
                return known  # type: ignore[return-value]
        record = cls.__new__(cls)
        object.__setattr__(record, "__dict__", {cls.__primary_key__: key})
        object.__setattr__(record, "__pydantic_fields_set__", {cls.__primary_key__})
        object.__setattr__(record, "__pydantic_extra__", None)
        state = RecordState(unit, loaded=False, persisted=True, original=None)
        object.__setattr__(record, "__pydantic_private__", {"_foobara": state})
        if unit is not None:
            unit.identity[(cls, key)] = record
        return record

    # ----------------------------------------------------------------------------------------
    # Reading and assigning attributes

    def __getattr__(self, name: str) -> Any:
        if name in type(self).__pydantic_fields__:
            self._load_now()
            return self.__dict__[name]
        return super().__getattr__(name)  # type: ignore[misc]

    def _load_now(self) -> None:
        """Load a reference's attributes: the first read of one of them."""
        state = self.__pydantic_private__["_foobara"]  # type: ignore[index]
        unit = state.unit if state.unit is not None and state.unit.open else units.current_unit()
        if unit is None:
            raise NoTransactionOpenError(
                f"{type(self).__name__} {self.primary_key!r} is not loaded and no transaction is open: read it "
                "inside the command (or the `transaction()` block) that loaded it"
            )
        units.run_sync(unit, units.load_keys(unit, type(self), [self.primary_key]))

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).__pydantic_fields__:
            super().__setattr__(name, value)
            return
        state: RecordState | None = self.__pydantic_private__.get("_foobara") if self.__pydantic_private__ else None
        if state is not None:
            if name == type(self).__primary_key__ and state.persisted:
                raise FrameworkUsageError(f"The primary key of a stored {type(self).__name__} cannot change")
            if not state.loaded:
                self._load_now()
            if state.deleted:
                raise FrameworkUsageError(f"{type(self).__name__} {self.primary_key!r} was deleted")
            if state.unit is not None and not state.unit.open:
                raise NoTransactionOpenError(
                    f"{type(self).__name__} {self.primary_key!r} belongs to a transaction that has ended: a change "
                    "now would never be written; load it again in a command run or a `transaction()` block"
                )
        try:
            super().__setattr__(name, value)
        except ValidationError as error:
            if not any(e["type"] == "recursion_loop" for e in error.errors(include_url=False)):
                raise InvalidRecordError.of(type(self), {name: value}, error) from None
            self._assign_referring_to_itself(name, value)
        if state is not None and state.unit is not None and state.persisted:
            state.unit.dirty[id(self)] = self

    def _assign_referring_to_itself(self, name: str, value: Any) -> None:
        """An assignment whose value holds this record (`a.pals = [a, b]`): pydantic refuses it as
        a cycle, since the record is being validated while it meets it again. Records may refer to
        themselves: the value is validated against a copy of the record instead, then taken."""
        stand_in = type(self).__new__(type(self))
        object.__setattr__(stand_in, "__dict__", dict(self.__dict__))
        object.__setattr__(stand_in, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        object.__setattr__(stand_in, "__pydantic_extra__", self.__pydantic_extra__)
        object.__setattr__(stand_in, "__pydantic_private__", self.__pydantic_private__)
        try:
            type(self).__pydantic_validator__.validate_assignment(stand_in, name, value)
        except ValidationError as error:
            raise InvalidRecordError.of(type(self), {name: value}, error) from None
        object.__setattr__(self, "__dict__", stand_in.__dict__)
        object.__setattr__(self, "__pydantic_fields_set__", stand_in.__pydantic_fields_set__)

    def __repr__(self) -> str:
        return _written(self, super().__repr__)

    def __str__(self) -> str:
        return _written(self, super().__str__)

    def __repr_args__(self) -> Any:
        if not self.is_loaded:
            return [(type(self).__primary_key__, self.primary_key)]
        return super().__repr_args__()

    def __eq__(self, other: Any) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        if self is other:
            return True
        key = self.primary_key
        return key is not None and key == other.primary_key

    def __hash__(self) -> int:
        return hash((type(self), self.primary_key))

    # ----------------------------------------------------------------------------------------
    # The record

    @property
    def primary_key(self) -> Any:
        return self.__dict__.get(type(self).__primary_key__)

    @property
    def is_loaded(self) -> bool:
        state = self.__pydantic_private__.get("_foobara") if self.__pydantic_private__ else None
        return state is None or state.loaded

    @property
    def is_persisted(self) -> bool:
        state = self.__pydantic_private__.get("_foobara") if self.__pydantic_private__ else None
        return state is not None and state.persisted and not state.deleted

    @classmethod
    def entity_name(cls) -> str:
        """The entity's full name (`Lib::Lending::Book`)."""
        return getattr(cls, "__foobara_full_name__", cls.__name__)

    @classmethod
    def primary_key_attribute(cls) -> str:
        return cls.__primary_key__

    # ----------------------------------------------------------------------------------------
    # The class API (sync, and async twins named as Django names them)

    @classmethod
    def create(cls, **attributes: Any) -> Self:
        """A new record, written to its store now (its generated key is set) and kept if the
        transaction commits."""
        found: Self = _sync(cls, "create", "create", cls, attributes)
        return found

    @classmethod
    async def acreate(cls, **attributes: Any) -> Self:
        found: Self = await _async(cls, "acreate", "create", cls, attributes)
        return found

    @classmethod
    def load(cls, key: Any) -> Self:
        """The record with this primary key; `NotFoundError` (a `LookupError`) if there is none."""
        found: Self = _sync(cls, "load", "load_one", cls, key)
        return found

    @classmethod
    async def aload(cls, key: Any) -> Self:
        found: Self = await _async(cls, "aload", "load_one", cls, key)
        return found

    @classmethod
    def load_many(cls, keys: Sequence[Any]) -> list[Self]:
        """The records with these keys, in this order, loaded in one query."""
        found: list[Self] = _sync(cls, "load_many", "load_keys", cls, keys)
        return found

    @classmethod
    async def aload_many(cls, keys: Sequence[Any]) -> list[Self]:
        found: list[Self] = await _async(cls, "aload_many", "load_keys", cls, keys)
        return found

    @classmethod
    def find_by(cls, **criteria: Any) -> Self | None:
        """The first record (by primary key) whose attributes equal these, or None."""
        found = _sync(cls, "find_by", "find", cls, criteria, 1)
        return found[0] if found else None

    @classmethod
    async def afind_by(cls, **criteria: Any) -> Self | None:
        found = await _async(cls, "afind_by", "find", cls, criteria, 1)
        return found[0] if found else None

    @classmethod
    def find_all_by(cls, **criteria: Any) -> list[Self]:
        found: list[Self] = _sync(cls, "find_all_by", "find", cls, criteria, None)
        return found

    @classmethod
    async def afind_all_by(cls, **criteria: Any) -> list[Self]:
        found: list[Self] = await _async(cls, "afind_all_by", "find", cls, criteria, None)
        return found

    @classmethod
    def all(cls) -> list[Self]:
        return cls.find_all_by()

    @classmethod
    async def aall(cls) -> list[Self]:
        return await cls.afind_all_by()

    @classmethod
    def count(cls, **criteria: Any) -> int:
        found: int = _sync(cls, "count", "count", cls, criteria)
        return found

    @classmethod
    async def acount(cls, **criteria: Any) -> int:
        found: int = await _async(cls, "acount", "count", cls, criteria)
        return found

    @classmethod
    def exists(cls, key: Any) -> bool:
        return bool(_sync(cls, "exists", "load_keys", cls, [key], missing_ok=True))

    @classmethod
    async def aexists(cls, key: Any) -> bool:
        return bool(await _async(cls, "aexists", "load_keys", cls, [key], missing_ok=True))

    def hard_delete(self) -> None:
        """Delete the record from its store when the transaction commits."""
        _sync(type(self), "hard_delete", "delete", self)

    async def ahard_delete(self) -> None:
        await _async(type(self), "ahard_delete", "delete", self)


# Whether a record is being written by repr or str in this thread: records met inside it are
# written by key, as Ruby's inspect writes them (`<Book 5>`), so that records referring to each
# other are written once, not followed around their cycle.
_writing = threading.local()


def _written(record: Entity, write: Callable[[], str]) -> str:
    if getattr(_writing, "active", False):
        key = record.primary_key
        return f"<{type(record).__name__} {'new' if key is None else key}>"
    _writing.active = True
    try:
        return write()
    finally:
        _writing.active = False


def _sync(entity: type[Entity], operation: str, ops: str, *args: Any, **options: Any) -> Any:
    """Run one of the unit of work's operations (`ops`, named in unit.py) from sync code, in the
    transaction open now; the class API's sync side."""
    unit = units.unit_for(entity, operation)
    return units.run_sync(unit, getattr(units, ops)(unit, *args, **options))


async def _async(entity: type[Entity], operation: str, ops: str, *args: Any, **options: Any) -> Any:
    """`_sync`, for the async twins: the same operation, awaited."""
    unit = units.unit_for(entity, operation)
    return await units.run_async(unit, getattr(units, ops)(unit, *args, **options))


# --------------------------------------------------------------------------------------------
# Entities as stores see them


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
        return Union[tuple(args)]  # noqa: UP007
    return annotation


def _allows_none(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def association_of(annotation: Any) -> tuple[type[Entity], bool] | None:
    """The entity an attribute refers to, and whether it holds a list of them."""
    annotation = _without_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Entity):
        return annotation, False
    if get_origin(annotation) in (list, tuple, set, frozenset, Sequence, typing.List):  # noqa: UP006
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if len(args) == 1:
            inner = _without_none(args[0])
            if isinstance(inner, type) and issubclass(inner, Entity):
                return inner, True
    return None


_KINDS: list[tuple[type, ColumnKind]] = [
    (bool, "boolean"),
    (int, "integer"),
    (float, "float"),
    (Decimal, "decimal"),
    (str, "string"),
    (dt.datetime, "datetime"),
    (dt.date, "date"),
]


def _bare(annotation: Any) -> Any:
    """The type an attribute holds, without None and without Annotated's metadata."""
    annotation = _without_none(annotation)
    return get_args(annotation)[0] if get_origin(annotation) is typing.Annotated else annotation


def _kind(annotation: Any) -> ColumnKind:
    annotation = _bare(annotation)
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return "json"
        for python_type, kind in _KINDS:
            if issubclass(annotation, python_type):
                return kind
    return "json"


def table_of(entity: type[Entity]) -> Table:
    """The entity's table, resolved at its first use (its attributes may refer to entities
    defined after it)."""
    table: Table | None = entity.__dict__.get("__foobara_table__")
    if table is not None:
        return table
    if not entity.__pydantic_complete__:
        entity.model_rebuild()
    columns: dict[str, Column] = {}
    links: dict[str, tuple[type[Entity], bool]] = {}
    json_adapters = []
    for name, info in entity.model_fields.items():
        association = association_of(info.annotation)
        nullable = _allows_none(info.annotation) or not info.is_required()
        if association is None:
            columns[name] = Column(name, _kind(info.annotation), nullable)
            if columns[name].kind == "json":
                json_adapters.append((name, TypeAdapter[Any](info.annotation)))  # type: ignore[arg-type]
        else:
            target, many = links[name] = association
            key_kind = "json" if many else _kind(target.model_fields[target.__primary_key__].annotation)
            columns[name] = Column(name, key_kind, nullable, association=table_name(target))
    # JSON columns whose values a run may change in place (`record.tags.append(...)`): each flush
    # compares them with the row as read.
    mutable = tuple(
        name
        for name, column in columns.items()
        if column.kind == "json" and _may_change_in_place(entity.model_fields[name].annotation)
    )
    # JSON columns whose values hold secrets: stored as they are (pydantic would write "**********").
    secrets = frozenset(
        name for name, node in field_nodes(entity).items() if columns[name].kind == "json" and holds_secret(node)
    )
    key_column = columns[entity.__primary_key__]
    columns[entity.__primary_key__] = Column(key_column.name, key_column.kind, False)
    table = Table(
        name=table_name(entity),
        entity_name=entity.entity_name(),
        primary_key=entity.__primary_key__,
        columns=columns,
        generated_key=key_column.kind == "integer",
        key_kind=key_column.kind,
        # How a record becomes a row and a stored row a record's values (see unit._row_of, unit._materialize).
        extra={"associations": links, "json": tuple(json_adapters), "secrets": secrets, "mutable": mutable},
    )
    entity.__foobara_table__ = table
    return table


def _may_change_in_place(annotation: Any) -> bool:
    annotation = _bare(annotation)
    if not isinstance(annotation, type):
        return True  # list[str], dict[str, Any], a union, Any...
    return issubclass(annotation, (BaseModel, list, dict, set, bytearray))


def stored_json(value: Any, revealed: bool) -> Any:
    """A value of a JSON column as its store keeps it; `revealed`: with its secrets (which
    pydantic would write as "**********")."""
    return to_jsonable_python(_revealed(value) if revealed else value)


def _revealed(value: Any) -> Any:
    if isinstance(value, (SecretStr, SecretBytes)):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {name: _revealed(value.__dict__.get(name)) for name in type(value).model_fields}
    if isinstance(value, Mapping):
        return {key: _revealed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_revealed(item) for item in value]
    return value


def table_name(entity: type[Entity]) -> str:
    return entity.__table_name__ or underscore(entity.entity_name()).replace("::", "_")


def associations(entity: type[Entity]) -> dict[str, tuple[type[Entity], bool]]:
    """The attributes that hold records of other entities, and whether each holds a list."""
    found: dict[str, tuple[type[Entity], bool]] = table_of(entity).extra["associations"]
    return found


# The unit of work builds on this module; it is imported last, once everything it uses is defined.
from . import unit as units  # noqa: E402
