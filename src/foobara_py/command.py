"""Command and AsyncCommand: the classes users subclass.

A command class is prepared when it is created: its inputs and result types, the hooks it
defines, its subcommands and declared errors are resolved then and kept in its `spec` (a
`CommandSpec`), so a run does only the work of that run. The run itself is the lifecycle
(`lifecycle.py`): one generator, driven by `Command.run` calling and by `AsyncCommand.run`
awaiting.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from abc import ABCMeta
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from . import callbacks as cb
from . import lifecycle, registry
from .domain import GLOBAL_DOMAIN, Domain
from .domain_mapper import DomainMapper, plan_mapped_run
from .errors import (
    CannotAccessDomainError,
    CannotRunAsyncSubcommandError,
    CouldNotProcessResultError,
    FoobaraError,
    FrameworkUsageError,
    InvalidErrorContextError,
    PathPart,
    PossibleError,
    SubcommandNotRegisteredError,
    UnsupportedTypeError,
)
from .lifecycle import Halt, State
from .naming import humanize, underscore
from .outcome import Outcome
from .persistence.entity import Entity
from .persistence.unit import ENTITIES, entities_in
from .spec import CommandSpec
from .transactions import RunTransactions, TransactionResource
from .types import TypeNode, generic_arguments, node_for, node_for_model
from .validation import InputsCaster, translate_errors

__all__ = ["AsyncCommand", "Command", "CommandBase"]

InputsT = TypeVar("InputsT")
ResultT = TypeVar("ResultT")
R = TypeVar("R")
MappedInputsT = TypeVar("MappedInputsT")
T = TypeVar("T")
_TYPE_PARAMETERS: Any = (InputsT, ResultT)

_HOOKS = ("load_records", "validate_records", "validate", "before_execute", "execute", "after_execute")


class _CommandClass(ABCMeta):
    """The class of command classes. A hook set or deleted on a command class after it was made
    (as `unittest.mock.patch.object` does) is what its next runs call: its plan is made again.
    An ABCMeta, so that a command may mix in abstract base classes."""

    def __setattr__(cls, name: str, value: Any) -> None:
        prepared = name in _HOOKS and "spec" in cls.__dict__
        if prepared and not cls.__dict__["spec"].is_async and inspect.iscoroutinefunction(value):
            raise TypeError(f"{cls.__name__}.{name} would be async: subclass AsyncCommand for async hooks")
        super().__setattr__(name, value)
        if prepared:
            _hooks_changed(typing.cast("type[CommandBase[Any, Any]]", cls))

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        if name in _HOOKS and "spec" in cls.__dict__:
            _hooks_changed(typing.cast("type[CommandBase[Any, Any]]", cls))


class CommandBase(Generic[InputsT, ResultT], metaclass=_CommandClass):
    """What Command and AsyncCommand share. Subclass one of those two, not this."""

    # --- what a command class declares ---------------------------------------------------
    depends_on: ClassVar[Sequence[type[CommandBase[Any, Any]] | type[DomainMapper[Any, Any]]]] = ()
    possible_errors: ClassVar[Sequence[str | PossibleError]] = ()
    description: ClassVar[str | None] = None
    is_query: ClassVar[bool] = False
    transaction_resources: ClassVar[Sequence[TransactionResource]] = ()
    depends_on_entities: ClassVar[Sequence[type[Entity]]] = ()

    # --- resolved when the class is created ----------------------------------------------
    spec: ClassVar[CommandSpec]  # what the command is: everything other modules read
    # What running it takes, beside the spec:
    _is_async: ClassVar[bool] = False
    _inputs_type: ClassVar[Any] = _TYPE_PARAMETERS[0]  # as declared (a TypeVar in a generic base)
    _result_type: ClassVar[Any] = _TYPE_PARAMETERS[1]
    _inputs_caster: ClassVar[InputsCaster | None] = None
    _result_validate: ClassVar[Callable[[Any], Any] | None] = None
    _result_exact: ClassVar[type | None] = None  # a result of exactly this class needs no check
    _own_callbacks: ClassVar[list[cb.Callback]] = []
    _plan: ClassVar[lifecycle.Plan | None] = None

    # Per run. What every run sets lives in slots (an instance takes less memory than with a
    # dict); a slot a run has not set reads as its default (see __getattr__). What few runs
    # touch has a class-level default and goes in the instance dict when set.
    __slots__ = ("__dict__", "inputs", "outcome", "raw_inputs", "result", "state")
    _inflight: int = 0
    _idle: asyncio.Event | None = None
    _subtasks: set[asyncio.Task[Any]] | None = None
    _transactions: RunTransactions | None = None
    exception: BaseException | None = None
    inputs: InputsT  # the validated inputs model
    result: ResultT | None
    state: State
    outcome: Outcome[ResultT] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:  # Command and AsyncCommand themselves
            return
        _prepare_class(cls)

    raw_inputs: dict[str, Any]
    _errors: Mapping[str, FoobaraError] = MappingProxyType({})  # a dict once an error is added

    def __getattr__(self, name: str) -> Any:
        if name in _UNSET_SLOTS:
            return _UNSET_SLOTS[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __init__(self, /, **raw_inputs: Any) -> None:
        """Runs at the start of every run of a class that overrides it, with the raw inputs
        (call `super().__init__(**raw_inputs)`); an exception here fails the run like one in
        `execute`. Commands are made by `run()`, not by calling the class."""
        self.raw_inputs = raw_inputs

    @classmethod
    def full_name(cls) -> str:
        """`Acme::Math::Add`, or just `Add` in the global domain."""
        return cls.spec.full_name

    @classmethod
    def domain(cls) -> Domain:
        return cls.spec.domain

    @classmethod
    def inputs_type(cls) -> type[BaseModel] | None:
        return cls.spec.inputs_type

    @classmethod
    def result_type(cls) -> Any:
        return cls.spec.result_type

    @classmethod
    def declared_errors(cls) -> dict[str, PossibleError]:
        """The errors this command declares it may report, by key."""
        return dict(cls.spec.possible_errors)

    @classmethod
    def subcommands(cls) -> frozenset[type[CommandBase[Any, Any]]]:
        return frozenset(cls.spec.depends_on)

    @classmethod
    def domain_mappers(cls) -> frozenset[type[DomainMapper[Any, Any]]]:
        """The domain mappers listed in `depends_on`: the only ones `run_mapped_subcommand` uses."""
        return frozenset(cls.spec.domain_mappers)

    # --- callbacks -----------------------------------------------------------------------

    @classmethod
    def before(cls, transition: str | Callable[..., Any] | None = None) -> Any:
        """`@Cmd.before("execute")` (or `@Cmd.before()` for every transition):
        `fn(command, transition)` runs before the transition."""
        return cls._register_callback("before", transition)

    @classmethod
    def after(cls, transition: str | Callable[..., Any] | None = None) -> Any:
        """`fn(command, transition)` runs after the transition."""
        return cls._register_callback("after", transition)

    @classmethod
    def around(cls, transition: str | Callable[..., Any] | None = None) -> Any:
        """`fn(command, transition, proceed)` wraps the transition; it must call `proceed()`
        (and `await` it in an AsyncCommand) for the transition to happen."""
        return cls._register_callback("around", transition)

    @classmethod
    def _register_callback(cls, kind: cb.Kind, transition: str | Callable[..., Any] | None) -> Any:
        if callable(transition):  # used bare: @Cmd.before
            return cls._register_callback(kind, None)(transition)
        cb.resolve_transition(transition)  # fail now on a typo, not at the first run

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            callback = cb.make_callback(kind, transition, fn, is_async=cls._is_async)
            cls._own_callbacks = [*cls.__dict__.get("_own_callbacks", []), callback]
            _invalidate(cls)
            return fn

        return register

    # --- hooks users override ------------------------------------------------------------

    def execute(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define execute()")

    # --- errors --------------------------------------------------------------------------

    @property
    def errors(self) -> list[FoobaraError]:
        return list(self._errors.values())

    def add_error(self, error: FoobaraError) -> None:
        """Report an error; an error with the same key as an earlier one is ignored."""
        if not isinstance(error, FoobaraError):
            raise TypeError(f"add_error takes a FoobaraError, not {type(error).__name__}")
        self._record(error)

    def _record(self, error: FoobaraError) -> None:
        errors = self._errors
        if type(errors) is not dict:
            errors = self._errors = {}
        errors.setdefault(error.key, error)

    def add_runtime_error(
        self,
        symbol: str,
        message: str | None = None,
        *,
        halt: bool = True,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Report a runtime error (`runtime.<symbol>`); stops the run unless `halt=False`."""
        declared = self.spec.possible_errors.get(f"runtime.{symbol}")
        self.add_error(
            FoobaraError(
                symbol=symbol,
                message=message or (declared.default_message if declared else humanize(symbol)),
                category="runtime",
                context=_checked_context(self, declared, context),
            )
        )
        if halt:
            raise Halt

    def add_input_error(
        self,
        input: str | Sequence[PathPart],
        symbol: str,
        message: str | None = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Report a problem with an input (`data.<input>.<symbol>`). The run stops at the end of
        the current step, so every input problem found in it is reported."""
        path: tuple[PathPart, ...] = (input,) if isinstance(input, str) else tuple(input)
        declared = self.spec.possible_errors.get(".".join(["data", *map(str, path), symbol]))
        self.add_error(
            FoobaraError(
                symbol=symbol,
                message=message or (declared.default_message if declared else humanize(symbol)),
                category="data",
                path=path,
                context=_checked_context(self, declared, context),
            )
        )

    def halt(self) -> typing.NoReturn:
        """Stop the run now. It fails with the errors added so far (or `runtime.halted`)."""
        raise Halt

    # --- subcommands (shared checks; running them differs between sync and async) --------

    def _check_subcommand(self, command: type[CommandBase[Any, Any]]) -> None:
        cls = type(self)
        spec = cls.spec
        if self.state in _ENDED:
            raise FrameworkUsageError(
                f"{spec.full_name} ran {_name_of(command)} after its run had ended ({self.state}): a subcommand "
                "started in a task of its own must have started before the run ends (await it, or gather it)"
            )
        if command not in spec.depends_on:
            raise SubcommandNotRegisteredError(
                f"{spec.full_name} ran {_name_of(command)} without declaring it: add it to {cls.__name__}.depends_on"
            )
        if not spec.domain.can_run_commands_of(command.spec.domain):
            raise CannotAccessDomainError(
                f"{spec.full_name} (domain {spec.domain.full_name}) cannot run "
                f"{command.full_name()}: domain {spec.domain.full_name} does not depend on "
                f"{command.spec.domain.full_name}"
            )
        if command._is_async and not cls._is_async:
            raise CannotRunAsyncSubcommandError(
                f"{cls.full_name()} is a sync Command and cannot run the AsyncCommand "
                f"{command.full_name()}; make {cls.__name__} an AsyncCommand"
            )

    def _take_subcommand_outcome(self, command: type[CommandBase[Any, R]], outcome: Outcome[R]) -> R:
        if outcome.is_success():
            return outcome.result  # type: ignore[return-value]
        for error in outcome.errors:
            self.add_error(error.with_runtime_prefix(command.spec.runtime_name))
        raise Halt

    # --- running -------------------------------------------------------------------------

    @classmethod
    def _compile_plan(cls) -> lifecycle.Plan:
        """The plan of this class's runs, with its callbacks (ancestors' first): compiled on its
        first run, and again after a callback or a lifecycle step is added or a hook replaced."""
        if cls._inputs_caster is None:
            raise FrameworkUsageError(
                f"{cls.__name__} cannot run: it does not say its inputs and result types "
                "(subclass Command[Inputs, Result])"
            )
        callbacks: list[cb.Callback] = []
        for klass in reversed(cls.__mro__):
            callbacks.extend(klass.__dict__.get("_own_callbacks", ()))
        plan = cls._plan = lifecycle.compile_plan(cls, cb.build_table(callbacks))
        return plan

    @classmethod
    def _check_result(cls, result: Any) -> Any:
        """The result cast to the result type; a result that does not fit is a bug in the
        command. A result that is exactly the declared class is taken as it is."""
        if type(result) is cls._result_exact:
            return result
        validate = cls._result_validate
        if validate is None:
            return result
        try:
            return validate(result)
        except ValidationError as exc:
            node = cls.spec.result_node
            if node is None:
                details = f"it returns nothing, yet returned {result!r}"
            else:
                problems = translate_errors(node, result, exc.errors(include_url=False))
                details = "; ".join(error.message for error in problems)
            raise CouldNotProcessResultError(
                f"{cls.full_name()} returned a result that does not fit its result type: {details}"
            ) from None

    def __repr__(self) -> str:
        return f"<{type(self).full_name()} {self.state} inputs={self.inputs!r}>"


# A run in one of these states has committed or ended: a subcommand can no longer be part of it.
_ENDED = frozenset({State.TRANSACTION_COMMITTED, State.SUCCEEDED, State.FAILED, State.ERRORED})

_UNSET_SLOTS: dict[str, Any] = {
    "inputs": None,
    "outcome": None,
    "raw_inputs": {},
    "result": None,
    "state": State.INITIALIZED,
}


def _name_of(command: Any) -> str:
    return command.full_name() if isinstance(command, type) and issubclass(command, CommandBase) else repr(command)


def _checked_context(
    command: CommandBase[Any, Any], declared: PossibleError | None, context: Mapping[str, Any] | None
) -> dict[str, Any]:
    context = dict(context or {})
    if declared is None or declared.context is None:
        return context
    try:
        _context_adapter(declared).validate_python(context)
    except ValidationError as exc:
        raise InvalidErrorContextError(
            f"{type(command).full_name()} added {declared.key} with a context that does not fit "
            f"its declaration: {exc.errors(include_url=False, include_input=False)}"
        ) from None
    return context


_CONTEXT_ADAPTERS: dict[PossibleError, TypeAdapter[Any]] = {}


def _context_adapter(declared: PossibleError) -> TypeAdapter[Any]:
    adapter = _CONTEXT_ADAPTERS.get(declared)
    if adapter is None:
        context_type = declared.context
        if isinstance(context_type, Mapping):
            fields: dict[str, Any] = {name: (kind, ...) for name, kind in context_type.items()}
            context_type = create_model(f"{declared.symbol}_context", __config__=ConfigDict(extra="forbid"), **fields)
        adapter = _CONTEXT_ADAPTERS[declared] = TypeAdapter(context_type)
    return adapter


# Class preparation


def _prepare_class(cls: type[CommandBase[Any, Any]]) -> None:
    """Resolve what a new command class is (its spec) and what running it takes."""
    cls._own_callbacks = list(cls.__dict__.get("_own_callbacks", []))
    cls._plan = None

    inputs_type, result_type = generic_arguments(cls, CommandBase, ("_inputs_type", "_result_type"))
    cls._inputs_type, cls._result_type = inputs_type, result_type

    if "description" not in cls.__dict__:
        doc = cls.__dict__.get("__doc__")
        cls.description = inspect.cleandoc(doc) if doc else None

    hooks = _hooks_of(cls)
    subcommands, mappers = _dependencies(cls)

    generic = isinstance(inputs_type, TypeVar) or isinstance(result_type, TypeVar)
    inputs_node = result_node = None
    if not generic:  # a generic base for other commands has nothing to run yet
        inputs_node, cls._inputs_caster = _inputs_of(cls, inputs_type)
        result_node, cls._result_validate = _result_of(cls, result_type)
        cls._result_exact = _exact_result_class(result_type)

    depends_on = tuple(sorted(subcommands, key=lambda c: c.full_name()))
    entities = _entities_of(cls, inputs_node, result_node, depends_on)
    own_resources = [*cls.transaction_resources, *((ENTITIES,) if entities else ())]
    resources: dict[int, TransactionResource] = {}  # its own first, then its subcommands', each once
    for resource in [*own_resources, *(r for sub in depends_on for r in sub.spec.transaction_resources)]:
        resources.setdefault(id(resource), resource)
    cls.spec = CommandSpec(
        name=cls.__name__,
        full_name=cls.__name__,
        domain=GLOBAL_DOMAIN,  # until a decorator places it elsewhere
        description=cls.description,
        is_async=cls._is_async,
        is_query=cls.is_query,
        inputs_type=inputs_type if isinstance(inputs_type, type) and issubclass(inputs_type, BaseModel) else None,
        result_type=result_type,
        inputs_node=inputs_node,
        result_node=result_node,
        possible_errors=MappingProxyType(_declared_errors(cls)),
        depends_on=depends_on,
        domain_mappers=tuple(sorted(mappers, key=lambda m: m.full_name())),
        hooks=hooks,
        transaction_resources=tuple(resources.values()),
        entities=entities,
        entity_inputs=inputs_node is not None and bool(entities_in(inputs_node)),
        runtime_name=underscore(cls.__name__),
        is_abstract=generic or bool(cls.__dict__.get("abstract", False)),
    )
    if not generic and "execute" in hooks and not cls.__dict__.get("abstract", False):
        registry.current().add_pending(cls)


def _entities_of(
    cls: type[CommandBase[Any, Any]],
    inputs_node: TypeNode | None,
    result_node: TypeNode | None,
    subcommands: tuple[type[CommandBase[Any, Any]], ...],
) -> tuple[type[Entity], ...]:
    found: dict[type[Entity], None] = {}
    for node in (inputs_node, result_node):
        if node is not None:
            found.update(dict.fromkeys(entities_in(node)))
    for entity in cls.depends_on_entities:
        if not (isinstance(entity, type) and issubclass(entity, Entity)):
            raise TypeError(f"{cls.__name__}.depends_on_entities lists {entity!r}, which is not an Entity class")
        found[entity] = None
    for sub in subcommands:
        found.update(dict.fromkeys(sub.spec.entities))
    return tuple(found)


def _hooks_of(cls: type[CommandBase[Any, Any]]) -> frozenset[str]:
    """The hooks a class defines (or inherits from a command between it and Command or
    AsyncCommand)."""
    base = next((kind for kind in (AsyncCommand, Command) if issubclass(cls, kind)), CommandBase)
    hooks = frozenset(name for name in _HOOKS if getattr(cls, name, None) is not getattr(base, name, None))
    if not cls._is_async:
        for name in hooks:
            if inspect.iscoroutinefunction(getattr(cls, name)):
                raise TypeError(f"{cls.__name__}.{name} is async: subclass AsyncCommand for async hooks")
    return hooks


def _hooks_changed(cls: type[CommandBase[Any, Any]]) -> None:
    cls.spec = replace(cls.spec, hooks=_hooks_of(cls))
    cls._plan = None
    for subclass in cls.__subclasses__():
        _hooks_changed(subclass)


def place_in(cls: type[CommandBase[Any, Any]], domain: Domain) -> None:
    """Move a command class into `domain`: its full name, runtime name and spec follow. Registering
    it under the new name is the caller's part (`domain.place_command` does both)."""
    full_name = domain.command_full_name(cls.__name__)
    cls.spec = replace(cls.spec, domain=domain, full_name=full_name, runtime_name=underscore(full_name))


def _exact_result_class(result_type: Any) -> type | None:
    """The class whose instances are results as they are: validating one again would give it
    back unchanged (pydantic models are validated when made, unless they ask otherwise)."""
    if result_type is None or result_type is type(None):
        return type(None)
    if result_type in (int, str, bool, float):
        return result_type  # type: ignore[no-any-return]
    if (
        isinstance(result_type, type)
        and issubclass(result_type, BaseModel)
        and result_type.model_config.get("revalidate_instances", "never") == "never"
    ):
        return result_type
    return None


def _dependencies(
    cls: type[CommandBase[Any, Any]],
) -> tuple[list[type[CommandBase[Any, Any]]], list[type[DomainMapper[Any, Any]]]]:
    """`depends_on`, split into subcommands and domain mappers."""
    commands: list[type[CommandBase[Any, Any]]] = []
    mappers: list[type[DomainMapper[Any, Any]]] = []
    for item in cls.depends_on or ():
        if isinstance(item, type) and issubclass(item, CommandBase):
            commands.append(item)
        elif isinstance(item, type) and issubclass(item, DomainMapper):
            if isinstance(item.from_type(), TypeVar) or isinstance(item.to_type(), TypeVar):
                raise TypeError(f"{cls.__name__}.depends_on lists {item.__name__}, a generic mapper base")
            mappers.append(item)
        else:
            raise TypeError(
                f"{cls.__name__}.depends_on lists {item!r}, which is neither a command class nor a domain mapper"
            )
    return commands, mappers


def _declared_errors(cls: type[CommandBase[Any, Any]]) -> dict[str, PossibleError]:
    declared: dict[str, PossibleError] = {}
    for klass in reversed(cls.__mro__):
        for item in klass.__dict__.get("possible_errors", ()):
            error = item if isinstance(item, PossibleError) else PossibleError(item)
            try:
                declared[error.key] = error
            except ValueError as exc:
                raise ValueError(f"{cls.__name__}.possible_errors: {exc}") from None
    return declared


def _inputs_of(cls: type[CommandBase[Any, Any]], inputs_type: Any) -> tuple[TypeNode | None, InputsCaster]:
    if inputs_type is None or inputs_type is type(None):
        return None, InputsCaster(None, None)
    if not (isinstance(inputs_type, type) and issubclass(inputs_type, BaseModel)):
        raise TypeError(f"{cls.__name__}: inputs must be a pydantic model (or None), not {inputs_type!r}")
    try:
        node = node_for_model(inputs_type)
    except UnsupportedTypeError as exc:
        raise UnsupportedTypeError(f"{cls.__name__} inputs: {exc}") from None
    return node, InputsCaster(inputs_type, node)


def _result_of(
    cls: type[CommandBase[Any, Any]], result_type: Any
) -> tuple[TypeNode | None, Callable[[Any], Any] | None]:
    if result_type is Any:
        return node_for(Any), None
    try:
        node = node_for(result_type)
    except UnsupportedTypeError as exc:
        raise UnsupportedTypeError(f"{cls.__name__} result: {exc}") from None
    if result_type is None or result_type is type(None):
        return None, TypeAdapter(None).validate_python  # no result: nothing to declare
    return node, TypeAdapter(result_type).validate_python


def _invalidate(cls: type[CommandBase[Any, Any]]) -> None:
    cls._plan = None
    for subclass in cls.__subclasses__():
        _invalidate(subclass)


lifecycle.on_plans_changed(lambda: _invalidate(CommandBase))


# The two kinds of command


class Command(CommandBase[InputsT, ResultT]):
    """A command whose hooks are plain functions.

    `Add.run(a=1, b=2)` returns an `Outcome`: it never raises for bad input or for an exception in
    the command's own code.
    """

    if TYPE_CHECKING:

        @classmethod
        def run(cls, /, **inputs: Any) -> Outcome[ResultT]:
            """Run the command with these inputs; an `Outcome`, never an exception for bad input."""
            ...

    else:
        run = classmethod(lifecycle.run_sync)  # the runner itself: no frame of its own in between

    def run_subcommand(self, command: type[CommandBase[Any, R]], /, **inputs: Any) -> R:
        """Run a command listed in `depends_on`; its result, or halt with its errors."""
        self._check_subcommand(command)
        outcome: Outcome[R] = lifecycle.run_sync(command, **inputs)
        return self._take_subcommand_outcome(command, outcome)

    @overload
    def run_mapped_subcommand(
        self, command: type[CommandBase[Any, R]], value: Any = None, /, *, to: None = None, **inputs: Any
    ) -> R: ...
    @overload
    def run_mapped_subcommand(
        self,
        command: type[CommandBase[Any, Any]],
        value: Any = None,
        /,
        *,
        to: type[CommandBase[MappedInputsT, Any]],
        **inputs: Any,
    ) -> MappedInputsT: ...
    @overload
    def run_mapped_subcommand(
        self, command: type[CommandBase[Any, Any]], value: Any = None, /, *, to: type[T], **inputs: Any
    ) -> T: ...
    def run_mapped_subcommand(
        self, command: type[CommandBase[Any, Any]], value: Any = None, /, *, to: Any = None, **inputs: Any
    ) -> Any:
        """Run `command` with `value` mapped to its inputs (`inputs` on top), and its result mapped
        to `to` if given, with domain mappers listed in `depends_on`."""
        self._check_subcommand(command)
        inputs, map_result = plan_mapped_run(self, command, value, to, inputs)
        return map_result(self.run_subcommand(command, **inputs))

    def before_execute(self) -> None:
        """Runs just before `execute`, after inputs, records and `validate`."""

    def validate(self) -> None:
        """Checks across inputs (and loaded records); add input errors here."""

    def load_records(self) -> None:
        """Load what `execute` needs."""

    def validate_records(self) -> None:
        """Check the records `load_records` loaded."""

    def execute(self) -> ResultT:
        raise NotImplementedError(f"{type(self).__name__} must define execute()")

    def after_execute(self, result: ResultT) -> ResultT:
        """Sees (and may replace) the result before it is checked against the result type."""
        return result


class AsyncCommand(CommandBase[InputsT, ResultT]):
    """A command whose hooks are `async def`. `await FetchUser.run(user_id=1)` gives an `Outcome`.

    Everything a Command has, an AsyncCommand has: subcommands (sync or async, and several at a
    time with `asyncio.gather`), transactions, callbacks.
    """

    _is_async = True

    if TYPE_CHECKING:

        @classmethod
        async def run(cls, /, **inputs: Any) -> Outcome[ResultT]:
            """`await FetchUser.run(user_id=1)`: an `Outcome`, never an exception for bad input."""
            ...

    else:
        run = classmethod(lifecycle.run_async)  # the runner itself: no coroutine of its own around it

    async def run_subcommand(self, command: type[CommandBase[Any, R]], /, **inputs: Any) -> R:
        """Run a command listed in `depends_on` (async or sync); its result, or halt with its
        errors. Several may run at once (`asyncio.gather`): every one's errors are kept."""
        self._check_subcommand(command)
        task = asyncio.current_task()
        if self._subtasks is None:
            self._subtasks = set()
        self._subtasks.add(task)  # type: ignore[arg-type]
        self._inflight += 1
        try:
            outcome: Outcome[R] = (
                await lifecycle.run_async(command, **inputs)
                if command._is_async
                else lifecycle.run_sync(command, **inputs)
            )
            if outcome._errors and getattr(task.get_coro(), "cr_code", None) is _RUN_SUBCOMMAND_CODE:  # type: ignore[union-attr]
                # A task of its own (gathered, or started and left) about to halt: its errors are
                # the caller's already, and the halt is no news for asyncio to log.
                task.add_done_callback(_halt_seen)  # type: ignore[union-attr]
            return self._take_subcommand_outcome(command, outcome)
        finally:
            self._inflight -= 1
            self._subtasks.discard(task)
            if not self._inflight and self._idle is not None:
                self._idle.set()

    @overload
    async def run_mapped_subcommand(
        self, command: type[CommandBase[Any, R]], value: Any = None, /, *, to: None = None, **inputs: Any
    ) -> R: ...
    @overload
    async def run_mapped_subcommand(
        self,
        command: type[CommandBase[Any, Any]],
        value: Any = None,
        /,
        *,
        to: type[CommandBase[MappedInputsT, Any]],
        **inputs: Any,
    ) -> MappedInputsT: ...
    @overload
    async def run_mapped_subcommand(
        self, command: type[CommandBase[Any, Any]], value: Any = None, /, *, to: type[T], **inputs: Any
    ) -> T: ...
    async def run_mapped_subcommand(
        self, command: type[CommandBase[Any, Any]], value: Any = None, /, *, to: Any = None, **inputs: Any
    ) -> Any:
        """Run `command` (async or sync) with `value` mapped to its inputs (`inputs` on top), and its
        result mapped to `to` if given, with domain mappers listed in `depends_on`."""
        self._check_subcommand(command)
        inputs, map_result = plan_mapped_run(self, command, value, to, inputs)
        return map_result(await self.run_subcommand(command, **inputs))

    async def before_execute(self) -> None:
        """Runs just before `execute`, after inputs, records and `validate`."""

    async def validate(self) -> None:
        """Checks across inputs (and loaded records); add input errors here."""

    async def load_records(self) -> None:
        """Load what `execute` needs."""

    async def validate_records(self) -> None:
        """Check the records `load_records` loaded."""

    async def execute(self) -> ResultT:
        raise NotImplementedError(f"{type(self).__name__} must define execute()")

    async def after_execute(self, result: ResultT) -> ResultT:
        """Sees (and may replace) the result before it is checked against the result type."""
        return result


for _base in (CommandBase, Command, AsyncCommand):  # bases to subclass: their specs say abstract
    _prepare_class(_base)


_RUN_SUBCOMMAND_CODE = AsyncCommand.run_subcommand.__code__


def _halt_seen(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: asyncio does not log it as never retrieved
