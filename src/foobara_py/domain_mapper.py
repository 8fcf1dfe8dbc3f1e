"""Domain mappers: turn one domain's concept into another's without either knowing the other.

A mapper names what it maps from and to with its generic parameters and says how in `map()`:

    class ContactToNewCustomer(DomainMapper[CrmContact, NewCustomer]):
        def map(self) -> NewCustomer:
            return NewCustomer(name=self.from_value.full_name, email=self.from_value.email_address)

A command class as a parameter stands for its inputs model (`to`) or its result type (`from`), so
a mapper can feed a command without naming the command's model (type checkers then see the
command class, though). Mappers are found by how well they fit a value (`find_mapper`), and
commands run them with `run_mapped_subcommand`.

This module does not import `command` at run time (command imports it): commands are recognized
by what they have, not by their class.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from . import registry
from .domain import GLOBAL_DOMAIN, Domain
from .errors import (
    CannotAccessDomainError,
    CouldNotProcessResultError,
    FoobaraError,
    FrameworkUsageError,
    UnsupportedTypeError,
)
from .lifecycle import Halt
from .naming import underscore
from .spec import CommandSpec
from .types import FieldSpec, TypeNode, generic_arguments, node_for
from .validation import translate_errors

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = [
    "AmbiguousDomainMapperError",
    "DomainMapper",
    "ForgotToDependOnDomainMapperError",
    "NoDomainMapperFoundError",
    "all_mappers",
    "domain_mapper",
    "find_mapper",
    "register_mapper",
]

FromT = TypeVar("FromT")
ToT = TypeVar("ToT")
MapperT = TypeVar("MapperT", bound="type[DomainMapper[Any, Any]]")
_TYPE_PARAMETERS: Any = (FromT, ToT)

# How well a mapper fits; the best total wins. From side: the value's class is the mapper's
# from type, a subclass of it, or the from type accepts the value (a dict for a model, say).
_FROM_EXACT, _FROM_SUBCLASS, _FROM_ACCEPTS = 3, 2, 1
# To side: the mapper makes exactly what was asked for, or a subclass of it.
_TO_EXACT, _TO_SUBCLASS = 2, 1


# ---------------------------------------------------------------------------------------------
# Exceptions


class NoDomainMapperFoundError(FrameworkUsageError, LookupError):
    """No mapper maps that value (or type) to that target. `refused` says, for each mapper to
    the target, why it did not take the value."""

    def __init__(
        self,
        from_: Any,
        to: Any,
        refused: Mapping[type[DomainMapper[Any, Any]], str] | None = None,
        *,
        message: str | None = None,
    ) -> None:
        self.from_ = from_
        self.to = to
        self.refused = dict(refused or {})
        if message is None:
            message = f"No domain mapper maps {_describe_from(from_)} to {_describe_to(to)}"
            if self.refused:
                reasons = "; ".join(
                    f"{m.full_name()} (from {_type_name(m._from_type)}): {why}" for m, why in self.refused.items()
                )
                message += f". Mappers to it that did not take it: {reasons}"
        super().__init__(message)


class AmbiguousDomainMapperError(NoDomainMapperFoundError):
    """Several mappers fit equally well: which one is meant cannot be told."""

    def __init__(self, from_: Any, to: Any, candidates: Collection[type[DomainMapper[Any, Any]]]) -> None:
        self.candidates = list(candidates)
        names = ", ".join(m.full_name() for m in self.candidates)
        super().__init__(
            from_,
            to,
            message=f"{len(self.candidates)} domain mappers map {_describe_from(from_)} to {_describe_to(to)} "
            f"equally well ({names}): keep one (in depends_on, or in the domains searched), or map a value of a "
            "more specific type",
        )


class ForgotToDependOnDomainMapperError(FrameworkUsageError):
    """A command used a mapper it did not list in `depends_on`."""

    def __init__(self, command: type[CommandBase[Any, Any]], mappers: Collection[type[DomainMapper[Any, Any]]]) -> None:
        self.command = command
        self.mappers = list(mappers)
        names = " or ".join(m.full_name() for m in self.mappers)
        super().__init__(
            f"{command.full_name()} needs the domain mapper {names} but does not declare it: "
            f"add it to {command.__name__}.depends_on"
        )


# ---------------------------------------------------------------------------------------------
# The mapper


class DomainMapper(Generic[FromT, ToT]):
    """Maps a value of one domain's type to another's: `DomainMapper[ExternalUser, Customer]`.

    Subclass it with concrete types and define `map()`, which reads `self.from_value` (already
    cast to the from type). `map_value` does the casting on both sides. A subclass with
    `abstract = True`, or without its own types, is a base for other mappers and is not
    registered.
    """

    # Resolved when the class is created.
    _from_declared: ClassVar[Any] = _TYPE_PARAMETERS[0]  # as written: maybe a command class
    _to_declared: ClassVar[Any] = _TYPE_PARAMETERS[1]
    _from_type: ClassVar[Any] = _TYPE_PARAMETERS[0]  # the type values are cast to
    _to_type: ClassVar[Any] = _TYPE_PARAMETERS[1]
    _from_adapter: ClassVar[TypeAdapter[Any] | None] = None
    _to_adapter: ClassVar[TypeAdapter[Any] | None] = None
    _from_node: ClassVar[TypeNode | None] = None  # built on the first value that does not fit
    _domain: ClassVar[Domain] = GLOBAL_DOMAIN

    def __init__(self, from_value: FromT) -> None:
        self.from_value = from_value

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _prepare_mapper(cls)

    def map(self) -> ToT:
        """The mapping itself; return a value of the to type (a dict is fine for a model)."""
        raise NotImplementedError(f"{type(self).__name__} must define map()")

    @classmethod
    def map_value(cls, value: Any) -> ToT:
        """Cast `value` to the from type (a dict is fine for a model), map it, and cast the result
        to the to type. A value that does not fit raises pydantic's `ValidationError`; a `map()`
        whose result does not fit raises `CouldNotProcessResultError` (a bug in the mapper)."""
        mapped: ToT = _map_cast(cls, _cast_from(cls, value))
        return mapped

    @classmethod
    def from_type(cls) -> Any:
        """The type mapped from (a command's result type when a command was given)."""
        return cls._from_type

    @classmethod
    def to_type(cls) -> Any:
        """The type mapped to (a command's inputs model when a command was given)."""
        return cls._to_type

    @classmethod
    def domain(cls) -> Domain:
        return cls._domain

    @classmethod
    def full_name(cls) -> str:
        """`Org::Domain::MapperName`, or just the class name in the global domain."""
        return cls._domain.command_full_name(cls.__name__)

    @classmethod
    def _adapters(cls) -> tuple[TypeAdapter[Any], TypeAdapter[Any]]:
        if cls._from_adapter is None or cls._to_adapter is None:
            raise FrameworkUsageError(
                f"{cls.__name__} does not say what it maps from and to: subclass DomainMapper[From, To]"
            )
        return cls._from_adapter, cls._to_adapter


# ---------------------------------------------------------------------------------------------
# Running a mapper: for commands (`run_mapped_subcommand`) and `map_value`. Functions rather than
# methods, so a user's mapper class has only the names it means to have.


def _runtime_name(mapper: type[DomainMapper[Any, Any]]) -> str:
    """The name a mapper's errors carry in a command's runtime path, `crm::contact_to_customer`."""
    return underscore(mapper.full_name())


def _cast_from(mapper: type[DomainMapper[Any, Any]], value: Any) -> Any:
    """`value` cast to the mapper's from type; pydantic's `ValidationError` if it does not fit."""
    return mapper._adapters()[0].validate_python(value)


def _map_cast(mapper: type[DomainMapper[Any, Any]], from_value: Any) -> Any:
    """Map an already cast value and check the result against the to type."""
    mapped = mapper(from_value).map()
    try:
        return mapper._adapters()[1].validate_python(mapped)
    except ValidationError as exc:
        raise CouldNotProcessResultError(
            f"{mapper.full_name()}.map() returned a value that does not fit {_type_name(mapper._to_type)}: "
            f"{_summary(exc)}"
        ) from None


def _cast_errors(mapper: type[DomainMapper[Any, Any]], value: Any, exc: ValidationError) -> list[FoobaraError]:
    """Why `value` does not fit the from type, as the data errors of an input named `from`
    (Ruby's mappers are commands whose input is `from`)."""
    if mapper._from_node is None:
        try:
            mapper._from_node = node_for(mapper._from_type)
        except UnsupportedTypeError:
            return [
                FoobaraError(
                    symbol="cannot_cast",
                    message=f"At from: Cannot cast to {_type_name(mapper._from_type)}: {_summary(exc)}",
                    category="data",
                    path=("from",),
                    is_fatal=True,
                )
            ]
    root = TypeNode(type="attributes", fields={"from": FieldSpec(name="from", node=mapper._from_node, required=True)})
    errors = [{**error, "loc": ("from", *error["loc"])} for error in exc.errors(include_url=False)]
    return translate_errors(root, {"from": value}, errors)


def _prepare_mapper(cls: type[DomainMapper[Any, Any]]) -> None:
    if inspect.iscoroutinefunction(cls.map):
        raise TypeError(f"{cls.__name__}.map is async: mapping is a pure conversion, make it a plain method")
    from_declared, to_declared = generic_arguments(cls, DomainMapper, ("_from_declared", "_to_declared"))
    cls._from_declared, cls._to_declared = from_declared, to_declared
    cls._from_node = None
    if isinstance(from_declared, TypeVar) or isinstance(to_declared, TypeVar):
        cls._from_type, cls._to_type = from_declared, to_declared
        cls._from_adapter = cls._to_adapter = None
        return  # a generic base for other mappers
    cls._from_type = _from_type_of(cls, from_declared)
    cls._to_type = _to_type_of(cls, to_declared)
    cls._from_adapter = TypeAdapter(cls._from_type)
    cls._to_adapter = TypeAdapter(cls._to_type)
    if cls.map is not DomainMapper.map and not cls.__dict__.get("abstract", False):
        register_mapper(cls)  # in the global domain, until a decorator places it elsewhere


def _is_command_class(value: Any) -> bool:
    return isinstance(value, type) and isinstance(getattr(value, "spec", None), CommandSpec)


def _check_declared(cls: type[DomainMapper[Any, Any]], declared: Any, side: str) -> None:
    if isinstance(declared, (str, typing.ForwardRef)):
        name = declared.__forward_arg__ if isinstance(declared, typing.ForwardRef) else declared
        raise TypeError(f"{cls.__name__}: its {side} type is the string {name!r}; give the class itself")


def _from_type_of(cls: type[DomainMapper[Any, Any]], declared: Any) -> Any:
    _check_declared(cls, declared, "from")
    return declared.result_type() if _is_command_class(declared) else declared


def _to_type_of(cls: type[DomainMapper[Any, Any]], declared: Any) -> Any:
    _check_declared(cls, declared, "to")
    return _target(declared, what=f"{cls.__name__} maps to")


def _target(to: Any, *, what: str = "Cannot map to") -> Any:
    """The type a mapping must produce: a command's inputs model, or `to` itself."""
    if not _is_command_class(to):
        return to
    inputs = to.inputs_type()
    if inputs is None:
        raise FrameworkUsageError(f"{what} {to.full_name()}, which takes no inputs: there is nothing to map to")
    return inputs


# ---------------------------------------------------------------------------------------------
# Registering (in the registry, registry.py)


def register_mapper(mapper_cls: MapperT, domain: Domain | None = None) -> MapperT:
    """Put a mapper in `domain` (None: the global domain), moving it if it was elsewhere. A mapper
    with the same qualified name already there is replaced, as tests and notebooks need."""
    if not (isinstance(mapper_cls, type) and issubclass(mapper_cls, DomainMapper)):
        raise TypeError(f"{mapper_cls!r} is not a DomainMapper subclass")
    mapper_cls._adapters()  # a generic base cannot be registered
    target = domain or GLOBAL_DOMAIN
    mapper_cls._domain = target
    registry.current().add_mapper(mapper_cls, target.full_name)
    return mapper_cls


def domain_mapper(domain: Domain | None = None) -> Callable[[MapperT], MapperT]:
    """Class decorator: `@domain_mapper(crm)` puts the mapper in the domain `crm`."""

    def place(mapper_cls: MapperT) -> MapperT:
        return register_mapper(mapper_cls, domain)

    return place


def all_mappers(domains: Iterable[Domain | None] | None = None) -> list[type[DomainMapper[Any, Any]]]:
    """The registered mappers of `domains` (None in it: the global domain), or of every domain."""
    if domains is None:
        return registry.current().mappers()
    names = dict.fromkeys((domain or GLOBAL_DOMAIN).full_name for domain in domains)
    return registry.current().mappers(names)


# ---------------------------------------------------------------------------------------------
# Lookup


def find_mapper(*, from_: Any, to: Any, domains: Iterable[Domain | None] | None = None) -> type[DomainMapper[Any, Any]]:
    """The registered mapper that best maps `from_` (a value, or a type) to `to` (a type, or a
    command: its inputs). The value's exact class beats a subclass, which beats a value the from
    type merely accepts (a dict for a model). None, or a tie, raises NoDomainMapperFoundError."""
    return _best(all_mappers(domains), from_, to)


def _mapper_for_command(command: type[CommandBase[Any, Any]], from_: Any, to: Any) -> type[DomainMapper[Any, Any]]:
    """The mapper `command` must use to map `from_` to `to`, chosen among the ones it declares.

    A registered mapper it does not declare that would do raises ForgotToDependOnDomainMapperError.
    Plain data (a dict, a list, a string...) that no declared mapper takes, when only one declared
    mapper maps to `to`, is taken to be bad data for that mapper: it is returned, and casting the
    value will say what is wrong. Anything else that no mapper takes raises NoDomainMapperFoundError.
    """
    declared: Collection[type[DomainMapper[Any, Any]]] = command.spec.domain_mappers
    try:
        return _best(declared, from_, to)
    except AmbiguousDomainMapperError:
        raise
    except NoDomainMapperFoundError:
        target = _target(to)
        undeclared = [m for m in all_mappers() if m not in declared and _to_score(m, target)]
        fitting = [m for m in undeclared if _from_score(m, from_)[0]]
        declared_to = [m for m in declared if _to_score(m, target)]
        if fitting or (undeclared and not declared_to):
            raise ForgotToDependOnDomainMapperError(command, fitting or undeclared) from None
        if len(declared_to) == 1 and _is_plain_data(from_):
            return declared_to[0]
        raise


def _best(mappers: Iterable[type[DomainMapper[Any, Any]]], from_: Any, to: Any) -> type[DomainMapper[Any, Any]]:
    target = _target(to)
    scored: list[tuple[int, type[DomainMapper[Any, Any]]]] = []
    refused: dict[type[DomainMapper[Any, Any]], str] = {}
    for mapper in mappers:
        to_score = _to_score(mapper, target)
        if not to_score:
            continue
        from_score, why = _from_score(mapper, from_)
        if from_score:
            scored.append((from_score + to_score, mapper))
        elif why is not None:
            refused[mapper] = why
    if not scored:
        raise NoDomainMapperFoundError(from_, to, refused)
    best = max(score for score, _ in scored)
    winners = [mapper for score, mapper in scored if score == best]
    if len(winners) > 1:
        raise AmbiguousDomainMapperError(from_, to, winners)
    return winners[0]


def is_type_like(value: Any) -> bool:
    """Whether `value` is a type (`Customer`, `list[int]`, `int | None`) rather than a value."""
    return isinstance(value, type) or typing.get_origin(value) is not None


def _is_plain_data(value: Any) -> bool:
    """A builtin value (dict, list, str, int...): data that came from outside, not a domain object."""
    return type(value).__module__ == "builtins" and not is_type_like(value)


def _is_subclass(kind: Any, of: Any) -> bool:
    try:
        return isinstance(kind, type) and isinstance(of, type) and issubclass(kind, of)
    except TypeError:  # typing.Any and friends refuse subclass checks
        return False


def _is_instance(value: Any, of: Any) -> bool:
    try:
        return isinstance(of, type) and isinstance(value, of)
    except TypeError:
        return False


def _to_score(mapper: type[DomainMapper[Any, Any]], target: Any) -> int:
    made = mapper._to_type
    if made == target:
        return _TO_EXACT
    if _is_subclass(made, target):
        return _TO_SUBCLASS
    return 0


def _from_score(mapper: type[DomainMapper[Any, Any]], from_: Any) -> tuple[int, str | None]:
    """The from side's score, and (for a value refused by the from type) why."""
    takes = mapper._from_type
    if _is_command_class(from_):
        from_ = from_.result_type()
    if is_type_like(from_):
        if from_ == takes:
            return _FROM_EXACT, None
        if _is_subclass(from_, takes):
            return _FROM_SUBCLASS, None
        return 0, None
    if type(from_) is takes:
        return _FROM_EXACT, None
    if _is_instance(from_, takes):
        return _FROM_SUBCLASS, None
    try:
        _cast_from(mapper, from_)
    except ValidationError as exc:
        return 0, _summary(exc)
    return _FROM_ACCEPTS, None


# ---------------------------------------------------------------------------------------------
# Messages. Values are described by their type only: they may hold secrets.


def _type_name(kind: Any) -> str:
    if isinstance(kind, type):
        return kind.__name__
    return repr(kind).replace("typing.", "")


def _describe_from(from_: Any) -> str:
    if _is_command_class(from_):
        return f"the result of {from_.full_name()} ({_type_name(from_.result_type())})"
    if is_type_like(from_):
        return _type_name(from_)
    name = type(from_).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _describe_to(to: Any) -> str:
    if _is_command_class(to):
        inputs = to.inputs_type()
        return f"the inputs of {to.full_name()} ({_type_name(inputs)})"
    return _type_name(to)


def _summary(exc: ValidationError) -> str:
    """pydantic's errors in one line, without the values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# Mapped subcommands: what `run_mapped_subcommand` does around running the subcommand.


def plan_mapped_run(
    command: CommandBase[Any, Any],
    subcommand: type[CommandBase[Any, Any]],
    value: Any,
    to: Any,
    inputs: dict[str, Any],
) -> tuple[dict[str, Any], Callable[[Any], Any]]:
    """The subcommand's inputs (mapped from `value`, `inputs` on top) and the function that maps
    its result to `to`, for the sync and async `run_mapped_subcommand` alike. The mappers are
    chosen before the subcommand runs, so a missing or undeclared one raises before anything has
    happened. The caller has checked that it may run `subcommand`."""
    if value is None and to is None:
        raise FrameworkUsageError(
            f"{type(command).full_name()} ran {subcommand.full_name()} with nothing to map: give a value to map "
            "to its inputs and/or to= for its result (or use run_subcommand)"
        )
    inputs_mapper = None if value is None else _mapper_for(command, value, subcommand)
    result_mapper = None
    result_type = subcommand.spec.result_type
    if to is not None and is_type_like(result_type):
        try:  # by the subcommand's result type; failing that, by its result once it has run
            result_mapper = _mapper_for(command, result_type, to)
        except NoDomainMapperFoundError as missing:
            if isinstance(missing, AmbiguousDomainMapperError):
                raise
    if inputs_mapper is not None:
        inputs = {**_as_raw_inputs(_run_mapper(command, inputs_mapper, value)), **inputs}
    if to is None:
        return inputs, _unchanged

    def map_result(result: Any) -> Any:
        return _run_mapper(command, result_mapper or _mapper_for(command, result, to), result)

    return inputs, map_result


def _mapper_for(command: CommandBase[Any, Any], from_: Any, to: Any) -> type[DomainMapper[Any, Any]]:
    cls = type(command)
    mapper = _mapper_for_command(cls, from_, to)
    domain = cls.spec.domain
    if not domain.can_run_commands_of(mapper.domain()):
        raise CannotAccessDomainError(
            f"{cls.full_name()} (domain {domain.full_name}) cannot use the domain mapper "
            f"{mapper.full_name()}: domain {domain.full_name} does not depend on {mapper.domain().full_name}"
        )
    return mapper


def _run_mapper(command: CommandBase[Any, Any], mapper: type[DomainMapper[Any, Any]], value: Any) -> Any:
    """`mapper.map_value(value)`, except that a value that does not fit the from type fails the
    run with data errors, as bad inputs to a subcommand would (the mapper leads the runtime
    path: `crm::contact_to_customer>data.from.email.missing_required_attribute`)."""
    try:
        from_value = _cast_from(mapper, value)
    except ValidationError as exc:
        for error in _cast_errors(mapper, value, exc):
            command.add_error(error.with_runtime_prefix(_runtime_name(mapper)))
        raise Halt from None
    return _map_cast(mapper, from_value)


def _unchanged(value: Any) -> Any:
    return value


def _as_raw_inputs(model: BaseModel) -> dict[str, Any]:
    """A mapped inputs model as the raw inputs of a run: keyed as validation expects (by alias),
    and shallow, so nested models are passed on as they are."""
    raw = {info.alias or name: getattr(model, name) for name, info in type(model).model_fields.items()}
    raw.update(model.model_extra or {})
    return raw
