"""The connector core every door shares: what is connected, finding it by name, running it, and
what a door sends back (the serialized result or the error hashes, and the manifest).

A door (HTTP, command line, MCP) turns its request into a name, inputs and a `ConnectorRequest`,
calls `run` or `arun`, and turns the `Outcome` into its own reply; it never looks a command up
in the registry or serializes a result itself, so only what is connected can be reached and every
door says the same thing. `run` never raises: an unconnected name and an exception that escapes a
command are failed outcomes too (`runtime.not_found`, `runtime.unknown_error`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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

__all__ = [
    "SERIALIZERS",
    "AlreadyConnectedError",
    "CommandNotConnectedError",
    "Connection",
    "Connector",
    "ConnectorRequest",
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


@dataclass(frozen=True, slots=True)
class ConnectorRequest:
    """What a door knows of one call, passed through `run` untouched for now: authenticators,
    `allow_if` rules and inputs transformers will read it (a header, a cookie, the user)."""

    door: str = "python"
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    raw: Any = None
    """The door's own request object (a Starlette `Request`), for what the fields above lack."""


@dataclass(frozen=True, slots=True)
class Connection:
    """One connected command and how it is connected (where auth, rules and transformers go)."""

    command: CommandClass
    full_name: str
    serializers: tuple[str, ...] = SERIALIZERS


class Connector:
    """The commands one program exposes, and the one way every door reaches them.

    `Connector(acme)` or `connector.connect(Add)`: a command, a domain or an organization (its
    non-abstract commands), or the full name of one of those.
    """

    def __init__(self, *targets: CommandClass | Domain | Organization | str) -> None:
        self._connections: dict[str, Connection] = {}
        self._manifest: tuple[dict[str, Any], dict[str, Any]] | None = None  # (manifest(), ours)
        for target in targets:
            self.connect(target)

    # --- connecting --------------------------------------------------------------------------

    def connect(self, target: CommandClass | Domain | Organization | str) -> list[Connection]:
        """Expose `target`'s commands; AlreadyConnectedError if one of them already is."""
        commands = _commands_of(target)
        names = [command.full_name() for command in commands]
        for name in names:
            if name in self._connections:
                raise AlreadyConnectedError(f"{name} is already connected")
        added = [Connection(command, name) for command, name in zip(commands, names, strict=True)]
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
        command = connection.command
        try:
            if issubclass(command, AsyncCommand):
                return asyncio.run(command.run(**(inputs or {})))
            assert issubclass(command, SyncCommand)
            return command.run(**(inputs or {}))
        except Exception as exc:
            return _unknown(connection, exc)

    async def arun(
        self, name: str, inputs: Mapping[str, Any] | None = None, request: ConnectorRequest | None = None
    ) -> Outcome[Any]:
        """Run a connected command from async code: an AsyncCommand on this loop, a Command in a
        worker thread (so that it never blocks the loop)."""
        connection = self.find(name)
        if connection is None:
            return Outcome.failure([CommandNotConnectedError(name).to_foobara_error()])
        command = connection.command
        try:
            if issubclass(command, AsyncCommand):
                return await command.run(**(inputs or {}))
            assert issubclass(command, SyncCommand)
            return await asyncio.to_thread(command.run, **(inputs or {}))
        except Exception as exc:
            return _unknown(connection, exc)

    # --- describing --------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Ruby's connector manifest: `manifest()` of what is connected, sensitive attributes
        removed, with each command's `serializers`. Read-only (it is cached)."""
        if not self._connections:  # manifest() of nothing would be the whole registry
            return {category: {} for category in CATEGORIES}
        base = build_manifest(*self.commands, remove_sensitive=True)
        if self._manifest is not None and self._manifest[0] is base:
            return self._manifest[1]
        serializers = {c.command.full_name(): list(c.serializers) for c in self._connections.values()}
        commands = {
            name: {**entry, "serializers": serializers[name]} if name in serializers else entry
            for name, entry in base["command"].items()
        }
        ours = {**base, "command": commands}
        self._manifest = (base, ours)
        return ours

    def asgi(
        self, *, prefix: str = "", max_body_size: int | None = None, mcp: bool = True, host: str = "127.0.0.1"
    ) -> Starlette:
        """The HTTP door: a Starlette app (needs the `http` extra; see `connectors.http.http_app`).
        `mcp=False` leaves out `/mcp`, whose session manager runs in the app's lifespan: an app
        mounted in another does not get its lifespan run."""
        from .http import DEFAULT_MAX_BODY_SIZE, http_app

        return http_app(self, prefix=prefix, max_body_size=max_body_size or DEFAULT_MAX_BODY_SIZE, mcp=mcp, host=host)

    def __repr__(self) -> str:
        return f"<Connector {', '.join(self._connections) or 'nothing connected'}>"


def serialize(outcome: Outcome[Any]) -> Any:
    """What a door sends for an outcome: the result as Ruby's atomic serializer writes it (records
    inside models as their keys), or the array of error hashes (Ruby's errors serializer)."""
    data = outcome.to_dict()
    return data["result"] if data["success"] else data["errors"]


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
