"""The connector core every door shares: what is connected, finding it by name, running it, and
what a door sends back (the serialized result or the error hashes, and the manifest).

A door (HTTP, command line, MCP) turns its request into a name, inputs and a `ConnectorRequest`,
calls `run` or `arun`, and turns the `Outcome` into its own reply; it never looks a command up
in the registry or serializes a result itself, so only what is connected can be reached and every
door says the same thing. `run` never raises: an unconnected name and an exception that escapes a
command are failed outcomes too (`runtime.not_found`, `runtime.unknown_error`).

Authentication and rules are checked here too, before the command runs: a connection's
authenticators find the user (`current_user()` while the command runs), a missing user where one
is required is `runtime.unauthenticated`, and a failed `allow_if` rule is `runtime.not_allowed`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from .. import registry
from ..command import AsyncCommand, CommandBase
from ..command import Command as SyncCommand
from ..domain import Domain, Organization, find_domain
from ..errors import CommandNotFoundError, FoobaraError
from ..manifest import CATEGORIES
from ..manifest import manifest as build_manifest
from ..outcome import Outcome

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .http import Cors

__all__ = [
    "SERIALIZERS",
    "AllowRule",
    "AlreadyConnectedError",
    "Authenticator",
    "Call",
    "CommandNotConnectedError",
    "Connection",
    "Connector",
    "ConnectorRequest",
    "NoAuthenticatorGivenError",
    "current_user",
    "serialize",
]

logger = logging.getLogger("foobara_py.connectors")

# What Ruby's connectors list in a command's `serializers` by default; Ruby tools (its remote
# commands, TypeScript generators) read these names to know how results are written.
SERIALIZERS = (
    "Foobara::CommandConnectors::Serializers::ErrorsSerializer",
    "Foobara::CommandConnectors::Serializers::AtomicSerializer",
    "Foobara::CommandConnectors::Serializers::JsonSerializer",
)

CommandClass = type[CommandBase[Any, Any]]


class CommandNotConnectedError(CommandNotFoundError):
    """No connected command has that name (it may exist and not be connected: it stays hidden)."""

    def __init__(self, name: str) -> None:
        self.name = name.replace("/", "::")  # the path form, named as Ruby names it
        super().__init__(f"Could not find command registered for {self.name}")

    def to_foobara_error(self) -> FoobaraError:
        return FoobaraError("not_found", str(self), context={"not_found": self.name})


class AlreadyConnectedError(ValueError):
    """A command was connected twice to one connector (as Ruby's connectors refuse it)."""


class NoAuthenticatorGivenError(ValueError):
    """Authentication asked for with no authenticator to do it: refused when connecting, so that a
    command meant to be private is never served without a user (Ruby's rule)."""


@dataclass(frozen=True, slots=True)
class ConnectorRequest:
    """What a door knows of one call, passed through `run` untouched for now: authenticators,
    `allow_if` rules and inputs transformers will read it (a header, a cookie, the user)."""

    door: str = "python"
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    raw: Any = None
    """The door's own request object (a Starlette `Request`), for what the fields above lack."""


Authenticator: TypeAlias = Callable[[ConnectorRequest], Any]
"""A function of the request returning the user, or None for no user; it may be async."""


@dataclass(frozen=True, slots=True)
class Call:
    """What an `allow_if` rule is asked about: the command, its inputs as the caller sent them
    (rules run before the command, so before its records load) and the door's request."""

    command: CommandClass
    inputs: Mapping[str, Any]
    request: ConnectorRequest


AllowRule: TypeAlias = Callable[[Call, Any], "bool | tuple[bool, str]"]
"""A function of the call and the user (None if there is none): allowed or not, optionally with
an explanation, as `(False, "only admins")`."""

_user: ContextVar[Any] = ContextVar("foobara_py_current_user", default=None)


def current_user() -> Any:
    """The user the connection's authenticator found for the command running now (None if there
    is none, or outside a connector's run)."""
    return _user.get()


@dataclass(frozen=True, slots=True)
class Connection:
    """One connected command and how it is connected (where auth, rules and transformers go)."""

    command: CommandClass
    full_name: str
    serializers: tuple[str, ...] = SERIALIZERS
    authenticators: tuple[Authenticator, ...] = ()
    requires_auth: bool = False
    allow_if: tuple[AllowRule, ...] = ()

    @property
    def guarded(self) -> bool:
        """Whether a run has anything to check first (read once per run: the fast path's test)."""
        return bool(self.authenticators or self.allow_if)


class Connector:
    """The commands one program exposes, and the one way every door reaches them.

    `Connector(acme)` or `connector.connect(Add)`: a command, a domain or an organization (its
    non-abstract commands), or the full name of one of those.
    """

    def __init__(
        self,
        *targets: CommandClass | Domain | Organization | str,
        authenticator: Authenticator | Sequence[Authenticator] | None = None,
    ) -> None:
        """`authenticator`: the default of every connection that names none."""
        self._connections: dict[str, Connection] = {}
        self._manifest: tuple[dict[str, Any], dict[str, Any]] | None = None  # (manifest(), ours)
        self._authenticators = _tuple_of(authenticator)
        for target in targets:
            self.connect(target)

    # --- connecting --------------------------------------------------------------------------

    def connect(
        self,
        target: CommandClass | Domain | Organization | str,
        *,
        authenticator: Authenticator | Sequence[Authenticator] | None = None,
        requires_auth: bool = False,
        authentication_optional: bool = False,
        allow_if: AllowRule | Sequence[AllowRule] | None = None,
    ) -> list[Connection]:
        """Expose `target`'s commands; AlreadyConnectedError if one of them already is.

        `authenticator` (or the connector's) finds the user of each call, a list is tried in turn;
        `requires_auth`: no user is `runtime.unauthenticated`; `authentication_optional`: the
        caller is identified when they can be, and runs without a user otherwise (either asks for
        an authenticator: NoAuthenticatorGivenError without one). `allow_if`: rules, OR-ed."""
        if requires_auth and authentication_optional:
            raise ValueError("requires_auth and authentication_optional cannot both be set")
        authenticators = _tuple_of(authenticator) or self._authenticators
        if (requires_auth or authentication_optional) and not authenticators:
            raise NoAuthenticatorGivenError(
                f"{target!r} asks for authentication but no authenticator is given"
                " (pass authenticator= to connect() or to the Connector)"
            )
        rules = _tuple_of(allow_if)
        commands = _commands_of(target)
        names = [command.full_name() for command in commands]
        for name in names:
            if name in self._connections:
                raise AlreadyConnectedError(f"{name} is already connected")
        added = [
            Connection(command, name, SERIALIZERS, authenticators, requires_auth, rules)
            for command, name in zip(commands, names, strict=True)
        ]
        for connection in added:
            self._connections[connection.full_name] = connection
        self._manifest = None
        return added

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections.values())

    @property
    def commands(self) -> list[CommandClass]:
        return [connection.command for connection in self._connections.values()]

    def find(self, name: str) -> Connection | None:
        """The connected command called `name`: its full name (`Acme::Math::Add`), the path form
        (`Acme/Math/Add`), or an unambiguous end of it (`Add`, `Math::Add`), as Ruby's CLI allows."""
        connection = self._connections.get(name)
        if connection is not None:
            return connection
        name = name.replace("/", "::")
        connection = self._connections.get(name)
        if connection is not None or not name:
            return connection
        ending = f"::{name}"
        found = [c for full_name, c in self._connections.items() if full_name.endswith(ending)]
        return found[0] if len(found) == 1 else None

    def lookup(self, name: str) -> Connection:
        """`find`, or CommandNotConnectedError."""
        connection = self.find(name)
        if connection is None:
            raise CommandNotConnectedError(name)
        return connection

    # --- running -----------------------------------------------------------------------------

    def run(
        self, name: str, inputs: Mapping[str, Any] | None = None, request: ConnectorRequest | None = None
    ) -> Outcome[Any]:
        """Run a connected command from sync code (an AsyncCommand gets its own event loop)."""
        connection = self.find(name)
        if connection is None:
            return Outcome.failure([CommandNotConnectedError(name).to_foobara_error()])
        if connection.guarded:
            return self._run_guarded(connection, inputs or {}, request or ConnectorRequest())
        return _run_sync(connection, inputs or {})

    async def arun(
        self, name: str, inputs: Mapping[str, Any] | None = None, request: ConnectorRequest | None = None
    ) -> Outcome[Any]:
        """Run a connected command from async code: an AsyncCommand on this loop, a Command in a
        worker thread (so that it never blocks the loop)."""
        connection = self.find(name)
        if connection is None:
            return Outcome.failure([CommandNotConnectedError(name).to_foobara_error()])
        if connection.guarded:
            return await self._arun_guarded(connection, inputs or {}, request or ConnectorRequest())
        return await _run_async(connection, inputs or {})

    def _run_guarded(
        self, connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest
    ) -> Outcome[Any]:
        user = None
        for authenticator in connection.authenticators:
            try:
                user = authenticator(request)
                if inspect.isawaitable(user):
                    user = asyncio.run(_awaited(user))
            except Exception as exc:
                return _authenticator_failed(connection, exc)
            if user is not None:
                break
        refused = _refusal(connection, inputs, request, user)
        if refused is not None:
            return refused
        token = _user.set(user)
        try:
            return _run_sync(connection, inputs)
        finally:
            _user.reset(token)

    async def _arun_guarded(
        self, connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest
    ) -> Outcome[Any]:
        user = None
        for authenticator in connection.authenticators:
            try:
                user = authenticator(request)
                if inspect.isawaitable(user):
                    user = await user
            except Exception as exc:
                return _authenticator_failed(connection, exc)
            if user is not None:
                break
        refused = _refusal(connection, inputs, request, user)
        if refused is not None:
            return refused
        token = _user.set(user)  # copied into the worker thread of a sync command by to_thread
        try:
            return await _run_async(connection, inputs)
        finally:
            _user.reset(token)

    # --- describing --------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Ruby's connector manifest: `manifest()` of what is connected, sensitive attributes
        removed, with each command's `serializers`. Read-only (it is cached)."""
        if not self._connections:  # manifest() of nothing would be the whole registry
            return {category: {} for category in CATEGORIES}
        base = build_manifest(*self.commands, remove_sensitive=True)
        if self._manifest is not None and self._manifest[0] is base:
            return self._manifest[1]
        connections = {c.command.full_name(): c for c in self._connections.values()}
        commands = {
            name: _connected_entry(entry, connections[name]) if name in connections else entry
            for name, entry in base["command"].items()
        }
        ours = {**base, "command": commands}
        self._manifest = (base, ours)
        return ours

    def asgi(
        self,
        *,
        prefix: str = "",
        max_body_size: int | None = None,
        mcp: bool = True,
        host: str = "127.0.0.1",
        mcp_stateless: bool = False,
        cors: Cors = None,
    ) -> Starlette:
        """The HTTP door: a Starlette app (needs the `http` extra; see `connectors.http.http_app`).
        `mcp=False` leaves out `/mcp`, whose session manager runs in the app's lifespan: an app
        mounted in another does not get its lifespan run. `cors`: off unless given (`True` for any
        origin, an origin or a list of them, or CORSMiddleware's options)."""
        from .http import DEFAULT_MAX_BODY_SIZE, http_app

        return http_app(
            self,
            prefix=prefix,
            max_body_size=max_body_size or DEFAULT_MAX_BODY_SIZE,
            mcp=mcp,
            host=host,
            mcp_stateless=mcp_stateless,
            cors=cors,
        )

    def __repr__(self) -> str:
        return f"<Connector {', '.join(self._connections) or 'nothing connected'}>"


def serialize(outcome: Outcome[Any]) -> Any:
    """What a door sends for an outcome: the result as Ruby's atomic serializer writes it (records
    inside models as their keys), or the array of error hashes (Ruby's errors serializer)."""
    data = outcome.to_dict()
    return data["result"] if data["success"] else data["errors"]


def _run_sync(connection: Connection, inputs: Mapping[str, Any]) -> Outcome[Any]:
    command = connection.command
    try:
        if issubclass(command, AsyncCommand):
            return asyncio.run(command.run(**inputs))
        assert issubclass(command, SyncCommand)
        return command.run(**inputs)
    except Exception as exc:
        return _unknown(connection, exc)


async def _run_async(connection: Connection, inputs: Mapping[str, Any]) -> Outcome[Any]:
    command = connection.command
    try:
        if issubclass(command, AsyncCommand):
            return await command.run(**inputs)
        assert issubclass(command, SyncCommand)
        return await asyncio.to_thread(command.run, **inputs)
    except Exception as exc:
        return _unknown(connection, exc)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _unauthenticated() -> Outcome[Any]:
    return Outcome.failure([FoobaraError("unauthenticated", "Unauthenticated", context={})])


def _authenticator_failed(connection: Connection, exc: Exception) -> Outcome[Any]:
    """An authenticator that raises: no user can be trusted, so the call is refused whether or not
    auth is required, and the caller learns nothing of the exception (it may hold a credential)."""
    logger.error("Authenticator raised for %s", connection.full_name, exc_info=exc)
    return _unauthenticated()


def _refusal(
    connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest, user: Any
) -> Outcome[Any] | None:
    """The failed outcome that stops this call before it runs, or None to run it."""
    if user is None and connection.requires_auth:
        return _unauthenticated()
    if not connection.allow_if:
        return None
    call = Call(connection.command, inputs, request)
    explanations = []
    for rule in connection.allow_if:
        try:
            answer = rule(call, user)
        except Exception as exc:  # a rule that cannot decide refuses (and says why only in the log)
            return _unknown(connection, exc)
        allowed, explanation = answer if isinstance(answer, tuple) else (answer, None)
        if allowed:
            return None
        explanations.append(explanation or _rule_name(rule))
    explanation = " or ".join(explanations)
    context = {"rule_symbol": _rule_name(connection.allow_if[0]), "explanation": explanation}
    return Outcome.failure([FoobaraError("not_allowed", f"Not allowed: {explanation}", context=context)])


def _rule_name(rule: AllowRule) -> str:
    return getattr(rule, "__name__", None) or type(rule).__name__


_UNAUTHENTICATED_ENTRY = {
    "category": "runtime",
    "symbol": "unauthenticated",
    "key": "runtime.unauthenticated",
    "error": "Foobara::CommandConnector::UnauthenticatedError",
}
_NOT_ALLOWED_ENTRY = {
    "category": "runtime",
    "symbol": "not_allowed",
    "key": "runtime.not_allowed",
    "error": "Foobara::CommandConnector::NotAllowedError",
}


def _connected_entry(entry: dict[str, Any], connection: Connection) -> dict[str, Any]:
    """A command's manifest entry as this connection serves it: its serializers, and the errors
    its authentication and rules add (`runtime.unauthenticated` also where an authenticator may
    raise, since that refuses the call)."""
    ours = {**entry, "serializers": list(connection.serializers)}
    added = {}
    if connection.authenticators:
        added["runtime.unauthenticated"] = dict(_UNAUTHENTICATED_ENTRY)
    if connection.allow_if:
        added["runtime.not_allowed"] = dict(_NOT_ALLOWED_ENTRY)
    if added:
        possible = {**entry.get("possible_errors", {}), **added}
        ours["possible_errors"] = {key: possible[key] for key in sorted(possible)}
    if connection.requires_auth:
        ours["requires_authentication"] = True
    return ours


def _tuple_of(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


def _unknown(connection: Connection, exc: Exception) -> Outcome[Any]:
    """An exception that escaped a run (a mistake in the use of the framework, such as an invalid
    result): logged here, and a failed outcome that says nothing of it to the caller."""
    logger.error("Unexpected error running %s", connection.full_name, exc_info=exc)
    return Outcome.failure([FoobaraError("unknown_error", "Unexpected error", context={})])


def _commands_of(target: CommandClass | Domain | Organization | str) -> list[CommandClass]:
    if isinstance(target, str):
        target = _named(target)
    if isinstance(target, type) and issubclass(target, CommandBase):
        if target.spec.is_abstract:
            raise TypeError(f"{target.__name__} is abstract: connect the commands made from it")
        return [target]
    if isinstance(target, Domain):
        return [c for c in target.commands if not c.spec.is_abstract]
    if isinstance(target, Organization):
        found = registry.current().commands()
        return [c for c in found if c.domain().organization_name == target.full_name and not c.spec.is_abstract]
    raise TypeError(f"connect() takes a command, a domain, an organization or a name, not {target!r}")


def _named(name: str) -> CommandClass | Domain | Organization:
    full_name = name.replace("/", "::")
    try:
        return registry.current().command(full_name)
    except CommandNotFoundError:
        pass
    found = find_domain(full_name) or registry.current().organization(full_name)
    if found is None:
        raise CommandNotFoundError(f"No command, domain or organization is registered as {name!r}")
    return found
