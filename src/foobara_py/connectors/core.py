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
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel

from .. import lifecycle, registry
from ..command import AsyncCommand, CommandBase
from ..command import Command as SyncCommand
from ..domain import Domain, Organization, find_domain
from ..errors import CommandNotFoundError, FoobaraError
from ..jsonable import to_json
from ..manifest import CATEGORIES
from ..manifest import manifest as build_manifest
from ..outcome import Outcome
from ..persistence.entity import Entity
from ..persistence.unit import current_unit, load_keys, references_in, run_async, run_sync
from ..possible_errors import ErrorClass, attributes_node, types_depended_on
from ..schema import inputs_json_schema, result_json_schema
from .threads import run_in_thread

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from .http import Cors

__all__ = [
    "AGGREGATE_SERIALIZERS",
    "SERIALIZERS",
    "AllowRule",
    "AlreadyConnectedError",
    "Authenticator",
    "Call",
    "CommandNotConnectedError",
    "Connection",
    "Connector",
    "ConnectorRequest",
    "ErrorsTransformer",
    "InputsTransformer",
    "NoAuthenticatorGivenError",
    "ResultTransformer",
    "cookie",
    "current_user",
    "header",
    "serialize",
]

logger = logging.getLogger("foobara_py.connectors")

_RUBY_SERIALIZERS = "Foobara::CommandConnectors::Serializers::"
# What Ruby's connectors list in a command's `serializers` by default; Ruby tools (its remote
# commands, TypeScript generators) read these names to know how results are written.
SERIALIZERS = (
    f"{_RUBY_SERIALIZERS}ErrorsSerializer",
    f"{_RUBY_SERIALIZERS}AtomicSerializer",
    f"{_RUBY_SERIALIZERS}JsonSerializer",
)
# What Ruby lists for `aggregate_entities: true`, which loads the records before the commit as
# ours does (its `serializers: [AggregateSerializer]` alone loads them after, and fails).
AGGREGATE_SERIALIZERS = (
    f"{_RUBY_SERIALIZERS}ErrorsSerializer",
    f"{_RUBY_SERIALIZERS}JsonSerializer",
    f"{_RUBY_SERIALIZERS}AggregateSerializer",
)
_LOAD_AGGREGATES = "Foobara::CommandConnectors::Transformers::LoadAggregatesPreCommitTransformer"

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


_user: ContextVar[Any] = ContextVar("foobara_py_current_user", default=None)


def current_user() -> Any:
    """The user the connection's authenticator found for the command running now (None if there
    is none, or outside a connector's run)."""
    return _user.get()


@dataclass(frozen=True, slots=True)
class InputsPlan:
    """A connection's inputs transformers, compiled when connecting."""

    allowed: tuple[str, ...] | None  # what a caller may send (declaration order); None: the command says
    hidden: frozenset[str]  # the attributes a caller may not send, by name and by alias (left out of documents)
    setters: tuple[tuple[str, InputSource], ...]  # keyed as a caller sends them (by alias)
    functions: tuple[InputsTransformer, ...]


@dataclass(frozen=True, slots=True)
class ResultPlan:
    """A connection's result transformers: functions of the result, then the attributes kept."""

    functions: tuple[ResultTransformer, ...]
    only: tuple[str, ...] | None
    reject: frozenset[str]


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
            steps.append((_RULES_STEP, None))
        if self.aggregate:
            steps.append((_AGGREGATE_STEP, "commit_transactions"))
        object.__setattr__(self, "steps", tuple(steps))
        options = (self.authenticators, self.allow_if, self.inputs, self.result, self.errors, self.aggregate)
        object.__setattr__(self, "plain", not any(options) and not self.capture_unknown_error)

    def inputs_json_schema(self, *, remove_sensitive: bool = False) -> dict[str, Any]:
        """The JSON Schema of what a caller sends through this connection: the command's inputs
        less what its inputs transformers take away (for /openapi.json and MCP tools)."""
        schema = inputs_json_schema(self.command, remove_sensitive=remove_sensitive)
        if self.inputs is None or not self.inputs.hidden:
            return schema
        return _without_properties(schema, lambda name: name in self.inputs.hidden)  # type: ignore[union-attr]

    def result_json_schema(self, *, remove_sensitive: bool = True) -> dict[str, Any]:
        """The JSON Schema of what a caller gets back: the command's result as its result
        transformers change it (any JSON value after a function of the result)."""
        schema = result_json_schema(self.command, remove_sensitive=remove_sensitive)
        plan = self.result
        if plan is None:
            return schema
        if plan.functions:
            return {}
        return _result_without(schema, lambda name: not _kept(plan, name))


def _kept(plan: ResultPlan, name: str) -> bool:
    return (plan.only is None or name in plan.only) and name not in plan.reject


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
                _inputs_plan(command, inputs),
                _result_plan(command, result),
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
        guarded = _guarded(connection, inputs or {}, request or ConnectorRequest(), _settled, _run_sync)
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
        guarded = _guarded(connection, inputs or {}, request or ConnectorRequest(), _as_is, _run_async)
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
        connections = {c.command.full_name(): c for c in self._connections.values()}
        commands = {
            name: _connected_entry(entry, connections[name], base) if name in connections else entry
            for name, entry in base["command"].items()
        }
        ours = {**base, "command": commands}
        added_errors = {}
        if any(c.authenticators for c in self._connections.values()):
            added_errors[_UNAUTHENTICATED.reference] = _error_class_entry(_UNAUTHENTICATED)
        if any(c.allow_if for c in self._connections.values()):
            added_errors[_NOT_ALLOWED.reference] = _error_class_entry(_NOT_ALLOWED)
        if added_errors:
            every = {**base["error"], **added_errors}
            ours["error"] = {name: every[name] for name in sorted(every)}
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
    """What a door sends for an outcome: the result as the connection's serializer wrote it (a
    connection's `run` gives an outcome whose result is already what the caller gets; a plain
    one, the command's result, written as Ruby's atomic serializer writes it: records inside
    models as their keys), or the array of error hashes (Ruby's errors serializer)."""
    data = outcome.to_dict()
    return data["result"] if data["success"] else data["errors"]


# --- running ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Running:
    """What the steps a connection adds to a run read: the call being run."""

    connection: Connection
    inputs: Mapping[str, Any]
    request: ConnectorRequest
    user: Any


_running: ContextVar[_Running | None] = ContextVar("foobara_py_connector_call", default=None)


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
            if _awaitable(user):
                user = yield partial(settle, user)
        except Exception as exc:
            return _authenticator_failed(connection, exc, request)
        if user is not None:
            break
    if user is None and connection.requires_auth:
        return _unauthenticated()
    prepared = yield from _prepared_inputs(connection, inputs, request, settle)
    if isinstance(prepared, Outcome):
        return (yield from _finished(connection, prepared, {}, settle))
    tokens = _enter(connection, prepared, request, user)  # copied into a sync command's worker thread
    try:
        outcome = yield partial(run, connection, prepared)
    finally:
        _leave(tokens)
    return (yield from _finished(connection, outcome, prepared, settle))


def _enter(connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest, user: Any) -> Any:
    running = _running.set(_Running(connection, inputs, request, user)) if connection.steps else None
    return _user.set(user), running


def _leave(tokens: Any) -> None:
    user, running = tokens
    if running is not None:
        _running.reset(running)
    _user.reset(user)


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
        return _unknown(connection, exc, inputs)


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
        return _unknown(connection, exc, inputs)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


# How the generators below have what an async function of the connection returned awaited
# (they yield it only then): `_as_is` under `arun`, whose driver awaits it, `_settled` under
# `run`, which runs it on its own event loop (as an async authenticator's is).
Settle: TypeAlias = Callable[[Any], Any]
_awaitable = inspect.isawaitable


def _as_is(awaitable: Any) -> Any:
    return awaitable


def _settled(awaitable: Any) -> Any:
    return asyncio.run(_awaited(awaitable))


def _decided(rule: Callable[[], Any]) -> Any:
    """A rule's answer in a sync command's run: an async rule's on its own event loop."""
    value = rule()
    return _settled(value) if _awaitable(value) else value


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


# --- inputs transformers ---------------------------------------------------------------------


def _inputs_plan(command: CommandClass, option: Any) -> InputsPlan | None:
    """`inputs=` compiled: the mappings' `only`, `reject` and `set` combined, the functions kept
    in order. Names that are not attributes of the command's inputs are refused now."""
    if option is None:
        return None
    node = command.spec.inputs_node
    names = _attribute_names(node)
    # What a caller sends for each attribute: its alias where it has one (the command takes no other).
    sent = {spec.name: spec.alias or spec.name for spec in node.fields.values()} if node and node.fields else {}
    only: list[str] | None = None
    reject: set[str] = set()
    setters: dict[str, InputSource] = {}
    functions: list[InputsTransformer] = []
    for item in _items(option):
        if callable(item):
            functions.append(item)
            continue
        _check_keys(item, {"only", "reject", "set"}, "inputs")
        if "only" in item:
            only = [n for n in _names(item["only"], names, command, "inputs", sent) if only is None or n in only]
        reject.update(_names(item.get("reject", ()), names, command, "inputs", sent))
        for name, source in dict(item.get("set", {})).items():
            (name,) = _names([name], names, command, "inputs", sent)
            if not callable(source):
                raise TypeError(f"inputs set {name!r}: give header(...), cookie(...) or a function of the request")
            setters[name] = source
    has_rules = only is not None or reject or setters
    allowed = None
    hidden: frozenset[str] = frozenset()
    if has_rules:
        kept = [n for n in names if (only is None or n in only) and n not in reject and n not in setters]
        allowed = tuple(sent[n] for n in kept)
        hidden = frozenset(n for name in names if name not in kept for n in (name, sent[name]))
    return InputsPlan(allowed, hidden, tuple((sent[n], source) for n, source in setters.items()), tuple(functions))


def _prepared_inputs(
    connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest, settle: Settle
) -> Generator[Any, Any, dict[str, Any] | Outcome[Any]]:
    """The inputs the command gets: what the caller sent, checked against what the connection
    lets them send (`data.unexpected_attributes`, never a silent drop), then completed. Its
    sources and functions may be async: a lifecycle driver makes the calls it yields."""
    plan = connection.inputs
    if plan is None:
        return dict(inputs)
    if plan.allowed is not None:
        unexpected = [name for name in inputs if name not in plan.allowed]
        if unexpected:
            return Outcome.failure([_unexpected_attributes(unexpected, list(plan.allowed))])
    prepared = dict(inputs)
    try:
        for name, source in plan.setters:
            value = source(request)
            if _awaitable(value):
                value = yield partial(settle, value)
            if value is not None:
                prepared[name] = value
        for function in plan.functions:
            value = function(prepared, request)
            prepared = dict((yield partial(settle, value)) if _awaitable(value) else value)
    except Exception as exc:
        return _unknown(connection, exc, prepared)
    return prepared


def _unexpected_attributes(names: list[str], allowed: list[str]) -> FoobaraError:
    """The error the command's own inputs give for attributes it does not take."""
    listed = ", ".join(f":{name}" for name in names)
    expected = ", ".join(f":{name}" for name in allowed)
    return FoobaraError(
        "unexpected_attributes",
        f"Unexpected attributes [{listed}]. Expected only [{expected}]",
        "data",
        context={"unexpected_attributes": names, "allowed_attributes": allowed},
        is_fatal=True,
    )


# --- rules and loading, inside the run -------------------------------------------------------


def _check_rules(command: Any) -> Generator[Any, Any, None]:
    """The step checking a connection's `allow_if` rules, at the end of load_records: the records
    are loaded, and a refusal halts the run, so its transaction is rolled back."""
    running = _running.get()
    if running is None or command.errors:
        return
    connection = running.connection
    call = Call(type(command), getattr(command, "inputs", None), running.request, running.inputs)
    is_async = type(command).spec.is_async
    explanations = []
    for rule in connection.allow_if:
        try:
            decide = partial(rule, call, running.user)
            answer = yield decide if is_async else partial(_decided, decide)  # async rules for sync commands too
            allowed, explanation = answer if isinstance(answer, tuple) else (answer, None)
        except Exception as exc:  # a rule that cannot decide refuses (and says why only in the log)
            command.add_error(_unknown(connection, exc, running.inputs, call.inputs).errors[0])
            return
        if allowed:
            return
        explanations.append(explanation or _rule_name(rule))
    explanation = " or ".join(explanations)
    context = {"rule_symbol": _rule_name(connection.allow_if[0]), "explanation": explanation}
    command.add_error(FoobaraError("not_allowed", f"Not allowed: {explanation}", context=context))


def _load_aggregates(command: Any) -> Generator[Any, Any, None]:
    """The step loading, before the commit, every record the result reaches (records, then the
    records those refer to, one query per entity and depth), so that the aggregate serializer
    can write them all once the transaction is over."""
    unit = current_unit()
    if unit is None or command.errors:
        return
    driver = run_async if type(command).spec.is_async else run_sync
    seen: set[int] = set()
    frontier: list[Any] = [command.result]
    while frontier:
        reached: list[Entity] = []
        missing: dict[type[Entity], list[Any]] = {}
        for value in frontier:
            for _, record in references_in(value):
                if id(record) not in seen:
                    seen.add(id(record))
                    reached.append(record)
                    if not record.is_loaded:
                        missing.setdefault(type(record), []).append(record.primary_key)
        for entity, keys in missing.items():
            yield partial(driver, unit, load_keys(unit, entity, keys, missing_ok=True))
        frontier = [record.__dict__ for record in reached if record.is_loaded]


def _always(command_class: Any) -> bool:
    return True


_RULES_STEP = lifecycle.Step(lifecycle.Transition.LOAD_RECORDS, "connector_allow_if", _check_rules, _always)
_AGGREGATE_STEP = lifecycle.Step(lifecycle.Transition.COMMIT_TRANSACTION, "load_aggregates", _load_aggregates, _always)


def _rule_name(rule: AllowRule) -> str:
    return getattr(rule, "__name__", None) or type(rule).__name__


# --- after the run: result and errors transformers, serializers ------------------------------


def _finished(
    connection: Connection, outcome: Outcome[Any], inputs: Mapping[str, Any], settle: Settle
) -> Generator[Any, Any, Outcome[Any]]:
    """The outcome the caller gets: a success as the connection serializes it (its result what
    the door sends), a failure with its errors transformed. Its functions may be async, as in
    `_prepared_inputs`."""
    try:
        if outcome.is_failure():
            if not connection.errors:
                return outcome
            errors = outcome.errors
            for transform in connection.errors:
                value = transform(errors)
                errors = list((yield partial(settle, value)) if _awaitable(value) else value)
            if not errors or not all(isinstance(error, FoobaraError) for error in errors):
                raise TypeError("an errors transformer must return at least one FoobaraError")
            return Outcome.failure(errors)
        if connection.result is None and not connection.aggregate:
            return outcome
        plan = connection.result
        if plan is not None and plan.functions:
            result = outcome.result
            for function in plan.functions:
                result = function(result)
                if _awaitable(result):
                    result = yield partial(settle, result)
            outcome = Outcome(result)
        return Outcome(_body(connection, outcome))
    except Exception as exc:
        return _unknown(connection, exc, inputs)


def _body(connection: Connection, outcome: Outcome[Any]) -> Any:
    plan = connection.result
    body = serialize(outcome)
    if connection.aggregate:
        body = _inlined(outcome.result, body, ())
    if plan is not None and isinstance(body, dict) and (plan.only is not None or plan.reject):
        body = {name: value for name, value in body.items() if _kept(plan, name)}
    return body


def _inlined(value: Any, body: Any, within: tuple[int, ...]) -> Any:
    """The aggregate serializer: the atomic `body` of `value` with every loaded record written
    whole (its attributes, less the sensitive ones) where the atomic one writes its key. A record
    met again inside itself stays a key."""
    if isinstance(value, Entity):
        if not value.is_loaded or id(value) in within:
            return body
        attributes = body if isinstance(body, dict) else to_json(value)
        fields = value.__dict__
        inner = (*within, id(value))
        return {name: _inlined(fields.get(name), item, inner) for name, item in attributes.items()}
    if isinstance(value, BaseModel) and isinstance(body, dict):
        return {name: _inlined(value.__dict__.get(name), item, within) for name, item in body.items()}
    if isinstance(value, (list, tuple)) and isinstance(body, list) and len(value) == len(body):
        return [_inlined(v, b, within) for v, b in zip(value, body, strict=True)]
    if isinstance(value, dict) and isinstance(body, dict) and len(value) == len(body):
        return {k: _inlined(v, body[k], within) for (k, v) in zip(body, value.values(), strict=True)}
    return body


def _result_plan(command: CommandClass, option: Any) -> ResultPlan | None:
    if option is None:
        return None
    node = command.spec.result_node
    functions: list[ResultTransformer] = []
    only: tuple[str, ...] | None = None
    reject: set[str] = set()
    for item in _items(option):
        if callable(item):
            functions.append(item)
            continue
        _check_keys(item, {"only", "reject"}, "result")
        if node is None or node.fields is None:
            raise TypeError(f"{command.full_name()}: result only/reject need a model or attributes result")
        names = _attribute_names(node)
        if "only" in item:
            only = tuple(_names(item["only"], names, command, "result"))
        reject.update(_names(item.get("reject", ()), names, command, "result"))
    return ResultPlan(tuple(functions), only, frozenset(reject))


# --- unknown errors --------------------------------------------------------------------------


def _unknown(connection: Connection, exc: Exception, inputs: Mapping[str, Any], cast: Any = None) -> Outcome[Any]:
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


# --- the manifest ----------------------------------------------------------------------------


def _runtime_error_class(name: str, symbol: str, context: dict[str, str]) -> ErrorClass:
    """One of Ruby's `Foobara::CommandConnector` errors, as its manifest's error category holds it."""
    path = ["Foobara", "CommandConnector", name]
    return ErrorClass(
        reference="::".join(path),
        symbol=symbol,
        category="runtime",
        context=attributes_node(context),
        base_error="Foobara::RuntimeError",
        scoped_path=path,
        scoped_prefix=path[:-1],
        full_path=path,
        error_class="::".join(path),
    )


_UNAUTHENTICATED = _runtime_error_class("UnauthenticatedError", "unauthenticated", {})
_NOT_ALLOWED = _runtime_error_class(
    "NotAllowedError", "not_allowed", {"rule_symbol": "symbol", "explanation": "string"}
)


def _possible(error: ErrorClass) -> dict[str, Any]:
    return {"category": "runtime", "symbol": error.symbol, "key": f"runtime.{error.symbol}", "error": error.reference}


def _error_class_entry(error: ErrorClass) -> dict[str, Any]:
    """The error category's entry of a connector error (laid out as Ruby's entries are)."""
    return {
        "scoped_path": error.scoped_path,
        "scoped_name": error.reference,
        "scoped_short_name": error.full_path[-1],
        "scoped_prefix": error.scoped_prefix,
        "scoped_full_path": error.full_path,
        "scoped_full_name": error.reference,
        "scoped_category": "error",
        "reference": error.reference,
        "domain": error.domain,
        "organization": error.organization,
        "parent": list(error.parent),
        "types_depended_on": sorted(types_depended_on(error)),
        "category": error.category,
        "symbol": error.symbol,
        "context_type_declaration": error.context_declaration(),
        "is_fatal": error.is_fatal,
        "error_class": error.error_class,
        "base_error": error.base_error,
    }


def _connected_entry(entry: dict[str, Any], connection: Connection, base: dict[str, Any]) -> dict[str, Any]:
    """A command's manifest entry as this connection serves it: its inputs and result types as
    its transformers change them, its serializers, and the errors its authentication and rules
    add (`runtime.unauthenticated` also where an authenticator may raise, since that refuses)."""
    ours = {**entry, "serializers": list(connection.serializers)}
    possible = dict(entry.get("possible_errors", {}))
    if connection.inputs is not None and connection.inputs.hidden:
        hidden = connection.inputs.hidden
        ours["inputs_type"] = _without_attributes(entry["inputs_type"], lambda name: name in hidden)
        possible = {key: e for key, e in possible.items() if not e.get("path") or e["path"][0] not in hidden}
    plan = connection.result
    if plan is not None and not plan.functions and (plan.only is not None or plan.reject):
        declaration = entry.get("result_type")
        if isinstance(declaration, str) and declaration in base["type"]:
            declaration = base["type"][declaration].get("attributes_type", declaration)
        if isinstance(declaration, dict) and declaration.get("type") == "attributes":
            ours["result_type"] = _without_attributes(declaration, lambda name: not _kept(plan, name))
    if connection.authenticators:
        possible[_possible(_UNAUTHENTICATED)["key"]] = _possible(_UNAUTHENTICATED)
    if connection.allow_if:
        possible[_possible(_NOT_ALLOWED)["key"]] = _possible(_NOT_ALLOWED)
    if "possible_errors" in entry:
        ours["possible_errors"] = {key: possible[key] for key in sorted(possible)}
    if connection.aggregate:
        ours["pre_commit_transformers"] = [_LOAD_AGGREGATES]
    if connection.capture_unknown_error:
        ours["capture_unknown_error"] = True
    if connection.requires_auth:
        ours["requires_authentication"] = True
    return ours


def _without_attributes(declaration: dict[str, Any], drop: Callable[[str], bool]) -> dict[str, Any]:
    """An attributes declaration without some attributes (and their required and default entries)."""
    ours = dict(declaration)
    ours["element_type_declarations"] = {
        name: d for name, d in declaration.get("element_type_declarations", {}).items() if not drop(name)
    }
    if "required" in declaration:
        required = [name for name in declaration["required"] if not drop(name)]
        if required:
            ours["required"] = required
        else:
            del ours["required"]
    if "defaults" in declaration:
        defaults = {name: value for name, value in declaration["defaults"].items() if not drop(name)}
        if defaults:
            ours["defaults"] = defaults
        else:
            del ours["defaults"]
    return ours


def _without_properties(schema: dict[str, Any], drop: Callable[[str], bool]) -> dict[str, Any]:
    ours = dict(schema)
    ours["properties"] = {name: s for name, s in schema.get("properties", {}).items() if not drop(name)}
    if "required" in schema:
        ours["required"] = [name for name in schema["required"] if not drop(name)]
    return ours


def _result_without(schema: dict[str, Any], drop: Callable[[str], bool]) -> dict[str, Any]:
    """A result schema less some attributes: those of its object (which may be null), or of a
    record's attributes (its schema is its key or its attributes; a result is written as its
    attributes). A root that refers to a type (a record's, referring to itself) is that type,
    which stays whole in `$defs` for the references to it."""
    defs = schema.get("$defs")
    ref = schema.get("$ref")
    target = schema
    if isinstance(ref, str) and defs is not None and ref.removeprefix("#/$defs/") in defs:
        target = defs[ref.removeprefix("#/$defs/")]
    found = next((m for m in target.get("anyOf", ()) if _is_object(m)), None) if not _is_object(target) else target
    if found is None:
        return schema
    return _without_properties({**found, **({"$defs": defs} if defs is not None else {})}, drop)


def _is_object(schema: Any) -> bool:
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


# --- small helpers ---------------------------------------------------------------------------


def _tuple_of(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if callable(value):
        return (value,)
    return tuple(value)


def _items(option: Any) -> list[Any]:
    """An option given as one mapping or function, or a list of them."""
    if callable(option) or isinstance(option, Mapping):
        return [option]
    return list(option)


def _check_keys(item: Any, known: set[str], option: str) -> None:
    if not isinstance(item, Mapping):
        raise TypeError(f"{option}= takes mappings and functions, not {item!r}")
    unknown = set(item) - known
    if unknown:
        raise ValueError(f"{option}= knows {', '.join(sorted(known))}, not {', '.join(sorted(unknown))}")


def _attribute_names(node: Any) -> list[str]:
    return list(node.fields) if node is not None and node.fields is not None else []


def _names(
    given: Any, names: list[str], command: CommandClass, option: str, sent: Mapping[str, str] | None = None
) -> list[str]:
    """The attributes named, by their names; `sent` (name to alias) lets an alias name one too."""
    listed: list[str] = [given] if isinstance(given, str) else [str(name) for name in given]
    if sent:
        by_alias = {alias: name for name, alias in sent.items()}
        listed = [name if name in names else by_alias.get(name, name) for name in listed]
    unknown = [name for name in listed if name not in names]
    if unknown:
        raise ValueError(
            f"{command.full_name()} has no {option} attribute {', '.join(map(repr, unknown))}"
            f" (it has {', '.join(names) or 'none'})"
        )
    return listed


def _case_insensitive(headers: Mapping[str, str], name: str) -> Any:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


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
