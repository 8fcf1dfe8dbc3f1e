"""What a connection's own functions are given, and what a call that goes wrong gets.

The vocabulary of `connect()`'s options: the request a door describes (`ConnectorRequest`), the
call an `allow_if` rule is asked about (`Call`), the user (`current_user()`), and the types of
the functions a connection takes (authenticators, rules, transformers, `header`/`cookie` input
sources). With them, the two things every part of a guarded run shares: how what an async
function returned is awaited (`Settle`), and the outcome of an exception that escaped
(`unknown_error_outcome`). The core, the transformers and the steps all import these, so they sit
here, below all three, and the core can import those modules without a cycle.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from .. import lifecycle
from ..command import CommandBase
from ..errors import FoobaraError
from ..outcome import Outcome

if TYPE_CHECKING:
    from .core import Connection

__all__ = [
    "AllowRule",
    "Authenticator",
    "Call",
    "CommandClass",
    "ConnectorRequest",
    "ErrorsTransformer",
    "InputSource",
    "InputsTransformer",
    "ResultTransformer",
    "cookie",
    "current_user",
    "header",
]

logger = logging.getLogger("foobara_py.connectors")

CommandClass = type[CommandBase[Any, Any]]


@dataclass(frozen=True, slots=True)
class ConnectorRequest:
    """What a door knows of one call, for authenticators, `allow_if` rules and inputs
    transformers: HTTP gives its headers and cookies, MCP the headers of its HTTP transport, the
    command line the environment's `FOOBARA_HEADER_*` variables as headers."""

    door: str = "python"
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    raw: Any = None
    """The door's own request object (a Starlette `Request`; the environment for the command
    line), for what the fields above lack."""


Authenticator: TypeAlias = Callable[[ConnectorRequest], Any]
"""A function of the request returning the user, or None for no user; it may be async."""


@dataclass(frozen=True, slots=True)
class Call:
    """What an `allow_if` rule is asked about. Rules are checked once the command has loaded its
    records (Ruby's order), so `inputs` is the command's validated inputs, records loaded
    (`call.inputs.book.author`), or None for a command without inputs; `raw_inputs` is what the
    caller sent (after the connection's inputs transformers)."""

    command: CommandClass
    inputs: Any
    request: ConnectorRequest
    raw_inputs: Mapping[str, Any] = field(default_factory=dict)


AllowRule: TypeAlias = Callable[[Call, Any], "bool | tuple[bool, str]"]
"""A function of the call and the user (None if there is none): allowed or not, optionally with
an explanation, as `(False, "only admins")`. It may be async for an AsyncCommand."""

InputsTransformer: TypeAlias = Callable[[dict[str, Any], ConnectorRequest], Mapping[str, Any]]
"""A function of the inputs (a copy) and the request, returning the inputs the command gets."""

ResultTransformer: TypeAlias = Callable[[Any], Any]
"""A function of the command's result, returning what the caller gets (then serialized)."""

ErrorsTransformer: TypeAlias = Callable[[list[FoobaraError]], Sequence[FoobaraError]]
"""A function of a failed run's errors, returning the errors the caller gets (at least one)."""

InputSource: TypeAlias = Callable[[ConnectorRequest], Any]
"""Where a `set` input comes from: `header(...)`, `cookie(...)` or a function of the request."""


def header(name: str) -> InputSource:
    """An input set from the request's header `name` (case does not matter), as `inputs={"set":
    {"token": header("X-Token")}}`; a missing header leaves the input unset."""

    def from_header(request: ConnectorRequest) -> Any:
        return _case_insensitive(request.headers, name)

    from_header.__qualname__ = f"header({name!r})"
    return from_header


def cookie(name: str) -> InputSource:
    """An input set from the request's cookie `name`; a missing cookie leaves the input unset."""

    def from_cookie(request: ConnectorRequest) -> Any:
        return request.cookies.get(name)

    from_cookie.__qualname__ = f"cookie({name!r})"
    return from_cookie


current_user_var: ContextVar[Any] = ContextVar("foobara_py_current_user", default=None)


def current_user() -> Any:
    """The user the connection's authenticator found for the command running now (None if there
    is none, or outside a connector's run)."""
    return current_user_var.get()


def _case_insensitive(headers: Mapping[str, str], name: str) -> Any:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


# --- awaiting --------------------------------------------------------------------------------


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


# How the generators of a guarded run (`core._guarded`, `transformers.prepared_inputs` and
# `finished_outcome`) have what an async function of the connection returned awaited (they yield it
# only then): `left_to_await` under `arun`, whose driver awaits it, `settle_on_own_loop` under
# `run`, which runs it on its own event loop (as an async authenticator's is).
Settle: TypeAlias = Callable[[Any], Any]
is_awaitable = inspect.isawaitable


def left_to_await(awaitable: Any) -> Any:
    return awaitable


def settle_on_own_loop(awaitable: Any) -> Any:
    return asyncio.run(_awaited(awaitable))


# --- unknown errors --------------------------------------------------------------------------


def unknown_error_outcome(
    connection: Connection, exc: Exception, inputs: Mapping[str, Any], cast: Any = None
) -> Outcome[Any]:
    """An exception that escaped a run (a mistake in the use of the framework, such as an invalid
    result): logged here, and a failed outcome that says nothing of it to the caller, unless
    the connection captures unknown errors: then its message (the inputs' secrets filtered) and
    its class. The log has the traceback, with the inputs' secrets filtered there too. `cast`:
    the inputs as the command cast them, when it did."""
    secrets = lifecycle.input_secrets(connection.command, inputs, cast)
    lifecycle.log_exception(logger, exc, secrets, "Unexpected error running %s", connection.full_name)
    if not connection.capture_unknown_error:
        return Outcome.failure([FoobaraError("unknown_error", "Unexpected error", context={})])
    name, message = lifecycle.exception_text(exc, secrets)
    return Outcome.failure([FoobaraError("unknown_error", message, context={"exception_class": name})])
