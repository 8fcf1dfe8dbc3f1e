"""The one registry: every organization, domain, command, registered type and domain mapper.

Everything that registers goes through here, and everything that reads what is registered uses
the lookups below (which return copies, so reading while other threads register is safe).
`version` changes whenever anything registers: a cache of something derived from the registry
(the manifest, a command's manifest facts) keys on it, and is stale when it differs.

Tests that define commands, types or mappers they do not want others to see work in an isolated
registry:

    with registry.isolated():
        ...  # registrations land in a fresh registry, dropped when the block ends

`isolated(inherit=True)` starts from a copy of the current registry instead of an empty one. The
global organization and domain are not stored in any registry: they work in every one.

The switch is process-wide (threads started inside the block see the isolated registry too), so
isolated blocks are for tests, not for serving two registries at once.
"""

from __future__ import annotations

import builtins
import itertools
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import CommandNotFoundError

if TYPE_CHECKING:
    from .command import CommandBase
    from .domain import Domain, Organization
    from .domain_mapper import DomainMapper
    from .types import RegisteredType

    Command = type[CommandBase[Any, Any]]
    Mapper = type[DomainMapper[Any, Any]]

__all__ = [
    "GLOBAL_DOMAIN_NAME",
    "GLOBAL_ORGANIZATION_NAME",
    "Registry",
    "Snapshot",
    "current",
    "isolated",
]

GLOBAL_ORGANIZATION_NAME = "global_organization"
GLOBAL_DOMAIN_NAME = f"{GLOBAL_ORGANIZATION_NAME}::global_domain"

# Versions are drawn from one counter for every registry, so a version names one state of one
# registry: a cache made in an isolated registry can never pass for the outer one's.
_versions = itertools.count(1)


@dataclass(frozen=True)
class Snapshot:
    """What was registered at one version, copied at once (the manifest builds from one)."""

    version: int
    organizations: dict[str, Organization]
    domains: dict[str, Domain]
    commands: dict[str, Command]
    types: dict[str, RegisteredType]


class Registry:
    """Organizations, domains, commands, types and mappers by full name. Registering under a name
    already taken replaces what was there, as tests and notebooks need."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._organizations: dict[str, Organization] = {}
        self._domains: dict[str, Domain] = {}
        self._commands: dict[str, Command] = {}
        self._command_names: dict[Command, str] = {}  # where each command is registered
        self._pending: list[Command] = []
        self._types: dict[str, RegisteredType] = {}
        self._model_types: dict[builtins.type, RegisteredType] = {}
        self._mappers: dict[str, dict[str, Mapper]] = {}  # domain full name -> qualified name -> mapper
        self._mapper_places: dict[Mapper, tuple[str, str]] = {}
        self.version = next(_versions)

    def changed(self) -> None:
        """Something registered (or a registered domain changed): caches keyed on `version` are stale."""
        self.version = next(_versions)

    def copy(self) -> Registry:
        """A registry holding what this one holds; registering in either leaves the other alone."""
        other = Registry()
        with self._lock:
            other._organizations = dict(self._organizations)
            other._domains = dict(self._domains)
            other._commands = dict(self._commands)
            other._command_names = dict(self._command_names)
            other._pending = list(self._pending)
            other._types = dict(self._types)
            other._model_types = dict(self._model_types)
            other._mappers = {name: dict(placed) for name, placed in self._mappers.items()}
            other._mapper_places = dict(self._mapper_places)
        return other

    # --- organizations and domains ---------------------------------------------------------

    def add_organization(self, organization: Organization) -> None:
        with self._lock:
            self._organizations[organization.full_name] = organization
            self.changed()

    def add_domain(self, domain: Domain) -> None:
        with self._lock:
            self._domains[domain.full_name] = domain
            self.changed()

    def organization(self, full_name: str) -> Organization | None:
        return self._organizations.get(full_name)

    def domain(self, full_name: str) -> Domain | None:
        """A registered domain (the global domain is in none: see `domain.find_domain`)."""
        return self._domains.get(full_name)

    def organizations(self) -> list[Organization]:
        with self._lock:
            return list(self._organizations.values())

    def domains(self) -> list[Domain]:
        with self._lock:
            return list(self._domains.values())

    # --- commands ------------------------------------------------------------------------------

    def add_pending(self, command: Command) -> None:
        """A new command class, already placed in the global domain: registered under its full name
        when someone next looks, unless a decorator places it elsewhere first."""
        with self._lock:
            self._pending.append(command)
            self.changed()

    def add_command(self, command: Command) -> None:
        """Register `command` under its (new) full name, leaving the name it had before."""
        with self._lock:
            self._add_command(command)
            self.changed()

    def _add_command(self, command: Command) -> None:
        if command in self._pending:
            self._pending.remove(command)
        old_name = self._command_names.pop(command, None)
        if old_name is not None and self._commands.get(old_name) is command:
            del self._commands[old_name]
        name = command.full_name()
        replaced = self._commands.get(name)
        if replaced is not None and replaced is not command:
            self._command_names.pop(replaced, None)
        self._commands[name] = command
        self._command_names[command] = name

    def place_pending(self) -> None:
        if not self._pending:  # the common case, without taking the lock
            return
        with self._lock:
            while self._pending:
                self._add_command(self._pending[0])
            self.changed()

    def command(self, full_name: str) -> Command:
        """The command registered under `full_name`; CommandNotFoundError if there is none."""
        if self._pending:
            self.place_pending()
        command = self._commands.get(full_name)
        if command is None:
            raise CommandNotFoundError(f"No command is registered as {full_name!r}")
        return command

    def commands(self) -> list[Command]:
        with self._lock:
            self.place_pending()
            return list(self._commands.values())

    # --- types -----------------------------------------------------------------------------------

    def add_type(self, registered: RegisteredType) -> None:
        """Register a model or named type; a model registered again (in another domain) moves."""
        is_model = registered.kind in ("model", "entity")
        with self._lock:
            old = self._model_types.get(registered.target) if is_model else None
            if old is not None and self._types.get(old.full_name) is old:
                del self._types[old.full_name]
            replaced = self._types.get(registered.full_name)
            if replaced is not None and replaced.kind in ("model", "entity"):
                self._model_types.pop(replaced.target, None)
            self._types[registered.full_name] = registered
            if is_model:
                self._model_types[registered.target] = registered
            self.changed()

    def type(self, full_name: str) -> RegisteredType | None:
        return self._types.get(full_name)

    def model_type(self, model: builtins.type) -> RegisteredType | None:
        """The registered type of a model class, if it is one."""
        return self._model_types.get(model)

    def types(self) -> list[RegisteredType]:
        with self._lock:
            return list(self._types.values())

    # --- domain mappers ------------------------------------------------------------------------

    def add_mapper(self, mapper: Mapper, domain_name: str) -> None:
        """Register a mapper in a domain (by its full name), leaving the one it was in. A mapper
        of the same qualified name already there is replaced."""
        key = mapper.__qualname__
        with self._lock:
            old = self._mapper_places.pop(mapper, None)
            if old is not None:
                placed = self._mappers.get(old[0], {})
                if placed.get(old[1]) is mapper:
                    del placed[old[1]]
            placed = self._mappers.setdefault(domain_name, {})
            replaced = placed.get(key)
            if replaced is not None and replaced is not mapper:
                self._mapper_places.pop(replaced, None)
            placed[key] = mapper
            self._mapper_places[mapper] = (domain_name, key)
            self.changed()

    def mappers(self, domain_names: Iterable[str] | None = None) -> list[Mapper]:
        """The mappers of the named domains (in that order), or of every domain."""
        with self._lock:
            if domain_names is None:
                return [mapper for placed in self._mappers.values() for mapper in placed.values()]
            return [mapper for name in domain_names for mapper in self._mappers.get(name, {}).values()]

    # --- everything at once ----------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        with self._lock:
            self.place_pending()
            return Snapshot(
                version=self.version,
                organizations=dict(self._organizations),
                domains=dict(self._domains),
                commands=dict(self._commands),
                types=dict(self._types),
            )


_current = Registry()
_switch = threading.Lock()


def current() -> Registry:
    """The registry in use (the process's own, or the one an `isolated()` block put in place)."""
    return _current


@contextmanager
def isolated(*, inherit: bool = False) -> Iterator[Registry]:
    """Register into a fresh registry (or, with `inherit`, a copy of the current one) until the
    block ends, then put the previous registry back as it was."""
    global _current
    with _switch:
        previous = _current
        _current = previous.copy() if inherit else Registry()
        inside = _current
    try:
        yield inside
    finally:
        with _switch:
            _current = previous
            # A domain of the previous registry may have changed inside the block (a dependency
            # added): what was cached for the previous registry may be stale.
            previous.changed()
