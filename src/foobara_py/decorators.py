"""Decorators: place a command class in a domain, or make a command out of a plain function."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar, overload

from pydantic import create_model

from .command import AsyncCommand, Command, CommandBase
from .domain import GLOBAL_DOMAIN, Domain, Organization, find_or_create_domain, place_command
from .naming import classify
from .spec import CommandSpec

__all__ = ["async_command", "async_simple_command", "command", "command_from_spec", "simple_command"]

C = TypeVar("C", bound=type[CommandBase[Any, Any]])


def _domain_for(domain: Domain | str | None, organization: Organization | str | None) -> Domain:
    if isinstance(domain, Domain):
        return domain
    if domain is None:
        if organization is not None:
            raise ValueError("organization= needs domain= too")
        return GLOBAL_DOMAIN
    return find_or_create_domain(domain, organization)


def _placer(
    kind: type[CommandBase[Any, Any]],
    decorator: str,
    domain: Domain | str | None,
    organization: Organization | str | None,
) -> Callable[[C], C]:
    target = _domain_for(domain, organization)

    def place(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, kind)):
            raise TypeError(f"@{decorator} decorates a subclass of {kind.__name__}, not {cls!r}")
        place_command(cls, target)
        return cls

    return place


@overload
def command(cls: C, /) -> C: ...
@overload
def command(
    *, domain: Domain | str | None = None, organization: Organization | str | None = None
) -> Callable[[C], C]: ...
def command(
    cls: C | None = None, /, *, domain: Domain | str | None = None, organization: Organization | str | None = None
) -> C | Callable[[C], C]:
    """`@command(domain="Math", organization="Acme")` puts a Command in a domain."""
    place = _placer(Command, "command", domain, organization)
    return place(cls) if cls is not None else place


@overload
def async_command(cls: C, /) -> C: ...
@overload
def async_command(
    *, domain: Domain | str | None = None, organization: Organization | str | None = None
) -> Callable[[C], C]: ...
def async_command(
    cls: C | None = None, /, *, domain: Domain | str | None = None, organization: Organization | str | None = None
) -> C | Callable[[C], C]:
    """`@async_command(domain="Users", organization="MyApp")` puts an AsyncCommand in a domain."""
    place = _placer(AsyncCommand, "async_command", domain, organization)
    return place(cls) if cls is not None else place


F = TypeVar("F", bound=Callable[..., Any])


def _command_from_function(
    fn: Callable[..., Any],
    kind: type[CommandBase[Any, Any]],
    name: str | None,
    domain: Domain | str | None,
    organization: Organization | str | None,
) -> Any:
    class_name = name or classify(fn.__name__)
    hints = typing.get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for parameter in inspect.signature(fn).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD, parameter.POSITIONAL_ONLY):
            raise TypeError(
                f"{fn.__qualname__}: a simple command's parameters are its inputs, passed by name; "
                f"{parameter} cannot be one"
            )
        annotation = hints.get(parameter.name, Any)
        default = ... if parameter.default is parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    inputs = create_model(f"{class_name}Inputs", __module__=fn.__module__, **fields) if fields else None
    result = hints.get("return", Any)
    names = tuple(fields)

    def execute(self: Any) -> Any:
        return fn(**{n: getattr(self.inputs, n) for n in names})

    async def execute_async(self: Any) -> Any:
        return await fn(**{n: getattr(self.inputs, n) for n in names})

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(
            execute=execute_async if kind is AsyncCommand else execute,
            __doc__=fn.__doc__,
            __module__=fn.__module__,
            __qualname__=class_name,
            __wrapped__=fn,
        )

    cls = types.new_class(class_name, (kind[inputs, result],), exec_body=body)  # type: ignore[index]
    if domain is not None:
        place_command(cls, _domain_for(domain, organization))
    return cls


@overload
def simple_command(fn: F, /) -> Any: ...
@overload
def simple_command(
    *, name: str | None = None, domain: Domain | str | None = None, organization: Organization | str | None = None
) -> Callable[[F], Any]: ...
def simple_command(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    domain: Domain | str | None = None,
    organization: Organization | str | None = None,
) -> Any:
    """Make a Command from a function: inputs from its parameters, result from its return
    annotation, description from its docstring. `add.run(a=1)` runs it."""

    def make(function: F) -> Any:
        if inspect.iscoroutinefunction(function):
            raise TypeError(f"{function.__qualname__} is async: use @async_simple_command")
        return _command_from_function(function, Command, name, domain, organization)

    return make(fn) if fn is not None else make


@overload
def async_simple_command(fn: F, /) -> Any: ...
@overload
def async_simple_command(
    *, name: str | None = None, domain: Domain | str | None = None, organization: Organization | str | None = None
) -> Callable[[F], Any]: ...
def async_simple_command(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    domain: Domain | str | None = None,
    organization: Organization | str | None = None,
) -> Any:
    """Make an AsyncCommand from an `async def` function."""

    def make(function: F) -> Any:
        if not inspect.iscoroutinefunction(function):
            raise TypeError(
                f"{getattr(function, '__qualname__', function)!s} is not an async def function: use @simple_command"
            )
        return _command_from_function(function, AsyncCommand, name, domain, organization)

    return make(fn) if fn is not None else make


def command_from_spec(spec: CommandSpec, execute: Callable[[Any], Any], *, module: str | None = None) -> Any:
    """A command class that is what `spec` describes (its name and domain, inputs and result
    types, declared errors, description, whether it is a query, sync or async) and does what
    `execute(command)` does: how a command known only by its description (another system's,
    say) becomes a local one, validated, run, described and connected like any other. It is
    registered under the spec's full name, replacing a command already there."""
    if spec.is_abstract or (spec.inputs_type is None and spec.inputs_node is not None):
        raise TypeError(f"{spec.full_name}'s spec describes a base, not a command that can run")
    kind = AsyncCommand if spec.is_async else Command
    if spec.is_async != inspect.iscoroutinefunction(execute):
        raise TypeError(
            f"{spec.full_name} is {'an AsyncCommand' if spec.is_async else 'a Command'}: its execute must "
            f"{'be' if spec.is_async else 'not be'} an async def function"
        )

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(
            execute=execute,
            description=spec.description,
            is_query=spec.is_query,
            possible_errors=tuple(spec.possible_errors.values()),
            __module__=module or getattr(execute, "__module__", __name__),
            __qualname__=spec.name,
        )

    cls = types.new_class(spec.name, (kind[spec.inputs_type, spec.result_type],), exec_body=body)
    place_command(cls, spec.domain)
    return cls
