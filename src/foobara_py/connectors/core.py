"""The connector core every door shares: what is connected, finding it by name, running it, and
what a door sends back (the serialized result or the error hashes, and the manifest).

A door (HTTP, command line, MCP) turns its request into a name, inputs and a `ConnectorRequest`,
calls `run` or `arun`, and turns the `Outcome` into its own reply with `serialize`; it never looks
a command up in the registry or serializes a result itself, so only what is connected can be
reached and every door says the same thing. `run` never raises: an unconnected name and an
exception that escapes a command are failed outcomes too (`runtime.not_found`,
`runtime.unknown_error`).

A connection may say more than which command it exposes, in Ruby's order: its authenticators find
the user (`current_user()` while the command runs; no user where one is required is
`runtime.unauthenticated`); its inputs transformers check and complete what the caller sent; the
command runs, its `allow_if` rules checked once its records are loaded (`runtime.not_allowed`,
rolled back) and, for the aggregate serializer, every record the result reaches loaded before the
commit; then its result or errors transformers, and the serializer. A connection with none of
these runs the command directly: a plain connection costs nothing more than the command's run.

This module holds the connector itself: connecting, finding, running, authentication. The rest of
the pipeline is beside it, each part in its own module: `calls` (what a connection's functions are
given: the request, the call, the user), `transformers` (the inputs, result and errors
transformers, and the serializers), `steps` (the rules and the loading inside the command's run),
`described` (the manifest as the connections serve it). The package (`foobara_py.connectors`)
exports the public names from where they are defined; the doors import from here what they need
of the core, the request and `serialize` among it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .. import lifecycle, registry
from ..command import AsyncCommand, CommandBase
from ..command import Command as SyncCommand
from ..domain import Domain, Organization, find_domain
from ..errors import CommandNotFoundError, FoobaraError
from ..manifest import CATEGORIES
from ..manifest import manifest as build_manifest
from ..outcome import Outcome
from ..schema import inputs_json_schema, result_json_schema
from .calls import (
    AllowRule,
    Authenticator,
    CommandClass,
    ConnectorRequest,
    ErrorsTransformer,
    InputsTransformer,
    ResultTransformer,
    Settle,
    current_user_var,
    is_awaitable,
    left_to_await,
    logger,
    settle_on_own_loop,
    unknown_error_outcome,
)
from .described import connected_manifest
from .steps import AGGREGATE_STEP, RULES_STEP, RunningConnection, running_connection
from .threads import run_in_thread
from .transformers import (
    AGGREGATE_SERIALIZERS,
    SERIALIZERS,
    InputsPlan,
    ResultPlan,
    finished_outcome,
    inputs_plan,
    kept_by,
    prepared_inputs,
    result_plan,
    result_schema_without,
    schema_without_properties,
    serialize,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .http import Cors

# The core's own names, and what the doors take from here with them (the request, `serialize`).
__all__ = [
    "AlreadyConnectedError",
    "CommandClass",
    "CommandNotConnectedError",
    "Connection",
    "Connector",
    "ConnectorRequest",
    "NoAuthenticatorGivenError",
    "serialize",
]


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
class Connection:
    """One connected command and how it is connected."""

    command: CommandClass
    full_name: str
    serializers: tuple[str, ...] = SERIALIZERS
    authenticators: tuple[Authenticator, ...] = ()
    requires_auth: bool = False
    allow_if: tuple[AllowRule, ...] = ()
    inputs: InputsPlan | None = None
    result: ResultPlan | None = None
    errors: tuple[ErrorsTransformer, ...] = ()
    aggregate: bool = False
    capture_unknown_error: bool = False
    plain: bool = field(init=False)
    """Nothing to do but run the command (read once per run: the fast path's test)."""
    steps: tuple[tuple[lifecycle.Step, str | None], ...] = field(init=False)
    """The steps this connection adds to the command's outermost run (rules, loading)."""

    def __post_init__(self) -> None:
        steps: list[tuple[lifecycle.Step, str | None]] = []
        if self.allow_if:
            steps.append((RULES_STEP, None))
        if self.aggregate:
            steps.append((AGGREGATE_STEP, "commit_transactions"))
        object.__setattr__(self, "steps", tuple(steps))
        options = (self.authenticators, self.allow_if, self.inputs, self.result, self.errors, self.aggregate)
        object.__setattr__(self, "plain", not any(options) and not self.capture_unknown_error)

    def inputs_json_schema(self, *, remove_sensitive: bool = False) -> dict[str, Any]:
        """The JSON Schema of what a caller sends through this connection: the command's inputs
        less what its inputs transformers take away (for /openapi.json and MCP tools)."""
        schema = inputs_json_schema(self.command, remove_sensitive=remove_sensitive)
        if self.inputs is None or not self.inputs.hidden:
            return schema
        return schema_without_properties(schema, lambda name: name in self.inputs.hidden)  # type: ignore[union-attr]

    def result_json_schema(self, *, remove_sensitive: bool = True) -> dict[str, Any]:
        """The JSON Schema of what a caller gets back: the command's result as its result
        transformers change it (any JSON value after a function of the result)."""
        schema = result_json_schema(self.command, remove_sensitive=remove_sensitive)
        plan = self.result
        if plan is None:
            return schema
        if plan.functions:
            return {}
        return result_schema_without(schema, lambda name: not kept_by(plan, name))


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
        inputs: Mapping[str, Any] | InputsTransformer | Sequence[Any] | None = None,
        result: Mapping[str, Any] | ResultTransformer | Sequence[Any] | None = None,
        errors: ErrorsTransformer | Sequence[ErrorsTransformer] | None = None,
        serializer: str = "atomic",
        aggregate_entities: bool = False,
        capture_unknown_error: bool = False,
    ) -> list[Connection]:
        """Expose `target`'s commands; AlreadyConnectedError if one of them already is.

        `authenticator` (or the connector's) finds the user of each call, a list is tried in turn;
        `requires_auth`: no user is `runtime.unauthenticated`; `authentication_optional`: the
        caller is identified when they can be, and runs without a user otherwise (either asks for
        an authenticator: NoAuthenticatorGivenError without one). `allow_if`: rules, OR-ed,
        checked once the records are loaded. `inputs`: `{"only": [...]}`, `{"reject": [...]}`,
        `{"set": {name: header(...) | cookie(...) | function of the request}}` (combined in one
        mapping), a function of (inputs, request), or a list of those. `result`: `{"only": [...]}`,
        `{"reject": [...]}`, a function of the result, or a list. `errors`: a function of the
        list of errors. `serializer="aggregate"` (or `aggregate_entities=True`): records and the
        records they refer to written whole, loaded before the commit. `capture_unknown_error`:
        an unexpected exception's message and class reach the caller (secrets filtered)."""
        if requires_auth and authentication_optional:
            raise ValueError("requires_auth and authentication_optional cannot both be set")
        if serializer not in ("atomic", "aggregate"):
            raise ValueError(f"serializer must be 'atomic' or 'aggregate', not {serializer!r}")
        authenticators = _tuple_of(authenticator) or self._authenticators
        if (requires_auth or authentication_optional) and not authenticators:
            raise NoAuthenticatorGivenError(
                f"{target!r} asks for authentication but no authenticator is given"
                " (pass authenticator= to connect() or to the Connector)"
            )
        rules = _tuple_of(allow_if)
        errors_transformers = _tuple_of(errors)
        aggregate = aggregate_entities or serializer == "aggregate"
        commands = _commands_of(target)
        names = [command.full_name() for command in commands]
        for name in names:
            if name in self._connections:
                raise AlreadyConnectedError(f"{name} is already connected")
        added = [
            Connection(
                command,
                name,
                AGGREGATE_SERIALIZERS if aggregate else SERIALIZERS,
                authenticators,
                requires_auth,
                rules,
                inputs_plan(command, inputs),
                result_plan(command, result),
                errors_transformers,
                aggregate,
                capture_unknown_error,
            )
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
        if connection.plain:
            return _run_sync(connection, inputs or {})
        guarded = _guarded(connection, inputs or {}, request or ConnectorRequest(), settle_on_own_loop, _run_sync)
        return lifecycle.drive_sync(guarded)

    async def arun(
        self, name: str, inputs: Mapping[str, Any] | None = None, request: ConnectorRequest | None = None
    ) -> Outcome[Any]:
        """Run a connected command from async code: an AsyncCommand on this loop, a Command in a
        worker thread (so that it never blocks the loop)."""
        connection = self.find(name)
        if connection is None:
            return Outcome.failure([CommandNotConnectedError(name).to_foobara_error()])
        if connection.plain:
            return await _run_async(connection, inputs or {})
        guarded = _guarded(connection, inputs or {}, request or ConnectorRequest(), left_to_await, _run_async)
        return await lifecycle.drive_async(guarded)

    # --- describing --------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Ruby's connector manifest: `manifest()` of what is connected, sensitive attributes
        removed, each command as its connection serves it (inputs and result types as the
        transformers change them, `serializers`, the errors auth adds). Read-only (cached)."""
        if not self._connections:  # manifest() of nothing would be the whole registry
            return {category: {} for category in CATEGORIES}
        base = build_manifest(*self.commands, remove_sensitive=True)
        if self._manifest is not None and self._manifest[0] is base:
            return self._manifest[1]
        ours = connected_manifest(list(self._connections.values()), base)
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


# --- running ---------------------------------------------------------------------------------


def _guarded(
    connection: Connection,
    inputs: Mapping[str, Any],
    request: ConnectorRequest,
    settle: Settle,
    run: Callable[[Connection, Mapping[str, Any]], Any],
) -> Generator[Any, Any, Outcome[Any]]:
    """A run through a connection that has something to do around the command: find the user,
    prepare the inputs, run it (`run`: `_run_sync` or `_run_async`) with the user and the rules
    in its context, and finish the outcome. One body for `run` and `arun`: a lifecycle driver
    makes the calls it yields (and awaits them, for `arun`)."""
    user = None
    for authenticator in connection.authenticators:
        try:
            user = authenticator(request)
            if is_awaitable(user):
                user = yield partial(settle, user)
        except Exception as exc:
            return _authenticator_failed(connection, exc, request)
        if user is not None:
            break
    if user is None and connection.requires_auth:
        return _unauthenticated()
    prepared = yield from prepared_inputs(connection, inputs, request, settle)
    if isinstance(prepared, Outcome):
        return (yield from finished_outcome(connection, prepared, {}, settle))
    tokens = _enter(connection, prepared, request, user)  # copied into a sync command's worker thread
    try:
        outcome = yield partial(run, connection, prepared)
    finally:
        _leave(tokens)
    return (yield from finished_outcome(connection, outcome, prepared, settle))


def _enter(connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest, user: Any) -> Any:
    running = running_connection.set(RunningConnection(connection, inputs, request, user)) if connection.steps else None
    return current_user_var.set(user), running


def _leave(tokens: Any) -> None:
    user, running = tokens
    if running is not None:
        running_connection.reset(running)
    current_user_var.reset(user)


def _run_sync(connection: Connection, inputs: Mapping[str, Any]) -> Outcome[Any]:
    command = connection.command
    try:
        if connection.steps:
            plan = lifecycle.extended_plan(command, connection.steps)
            if issubclass(command, AsyncCommand):
                return asyncio.run(lifecycle.run_planned_async(command, plan, dict(inputs)))
            return lifecycle.run_planned_sync(command, plan, dict(inputs))
        if issubclass(command, AsyncCommand):
            return asyncio.run(command.run(**inputs))
        assert issubclass(command, SyncCommand)
        return command.run(**inputs)
    except Exception as exc:
        return unknown_error_outcome(connection, exc, inputs)


async def _run_async(connection: Connection, inputs: Mapping[str, Any]) -> Outcome[Any]:
    command = connection.command
    try:
        if connection.steps:
            plan = lifecycle.extended_plan(command, connection.steps)
            if issubclass(command, AsyncCommand):
                return await lifecycle.run_planned_async(command, plan, dict(inputs))
            return await run_in_thread(lifecycle.run_planned_sync, command, plan, dict(inputs))
        if issubclass(command, AsyncCommand):
            return await command.run(**inputs)
        assert issubclass(command, SyncCommand)
        return await run_in_thread(command.run, **inputs)
    except Exception as exc:
        return unknown_error_outcome(connection, exc, inputs)


# --- authentication --------------------------------------------------------------------------


def _unauthenticated() -> Outcome[Any]:
    return Outcome.failure([FoobaraError("unauthenticated", "Unauthenticated", context={})])


def _authenticator_failed(connection: Connection, exc: Exception, request: ConnectorRequest) -> Outcome[Any]:
    """An authenticator that raises: no user can be trusted, so the call is refused whether or not
    auth is required, and the caller learns nothing of the exception (it may hold a credential).
    The log line and its traceback have the request's credentials filtered: an application's own
    logging setup writes the exception's text."""
    what = "Authenticator raised for %s"
    lifecycle.log_exception(logger, exc, _credentials(request), what, connection.full_name, message=False)
    return _unauthenticated()


_CREDENTIAL_HEADERS = ("auth", "token", "key", "secret", "session", "password", "credential", "cookie")


def _credentials(request: ConnectorRequest) -> list[str]:
    """What an authenticator reads that is a credential: the values of headers named like one
    (`Authorization` whole and without its scheme, `X-Api-Key`, `Cookie`...) and of the cookies;
    longest first, so that a token inside a header's value is filtered with it."""
    found: set[str] = set(request.cookies.values())
    for name, value in request.headers.items():
        if any(part in name.lower() for part in _CREDENTIAL_HEADERS):
            found.update((value, value.partition(" ")[2].strip()))
    return sorted((secret for secret in found if secret.strip()), key=len, reverse=True)


# --- small helpers ---------------------------------------------------------------------------


def _tuple_of(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


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
