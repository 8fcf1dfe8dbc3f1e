"""Organizations, domains, and the registry that finds commands by full name.

Names follow Ruby Foobara: `Acme::Math::Add` is the command `Add` in the domain `Math` of the
organization `Acme`. Commands without a domain live in the global domain and are named by their
own name alone. Redefining a command under the same full name replaces the earlier one, as
tests and notebooks need.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .errors import CommandNotFoundError
from .types import RegisteredType, register_model, register_type, type_registry

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = [
    "GLOBAL_DOMAIN",
    "GLOBAL_ORGANIZATION",
    "Domain",
    "Organization",
    "all_commands",
    "lookup_command",
    "underscore",
]

C = TypeVar("C", bound=type)
M = TypeVar("M", bound=type)


def underscore(name: str) -> str:
    """`Shop::Inventory::ReserveStock` -> `shop::inventory::reserve_stock`."""
    parts = []
    for part in name.split("::"):
        part = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", part)
        part = re.sub(r"([a-z\d])([A-Z])", r"\1_\2", part)
        parts.append(part.replace("-", "_").lower())
    return "::".join(parts)


class Organization:
    """A group of domains (`Acme`)."""

    def __init__(self, name: str, *, description: str | None = None) -> None:
        _check_name(name, "organization")
        self.name = name
        self.description = description
        self.is_global = False
        _registry.organizations[self.full_name] = self
        _registry.changed()

    @property
    def full_name(self) -> str:
        return self.name

    @property
    def domains(self) -> list[Domain]:
        return [d for d in _registry.domains.values() if d.organization_name == self.full_name]

    def __repr__(self) -> str:
        return f"<Organization {self.full_name}>"


class Domain:
    """A group of commands about one concept (`Acme::Users`), with the domains it may use."""

    def __init__(
        self,
        name: str,
        organization: Organization | str | None = None,
        *,
        depends_on: Iterable[Domain | str] = (),
        description: str | None = None,
    ) -> None:
        _check_name(name, "domain")
        self.name = name
        self.description = description
        self.is_global = False
        if isinstance(organization, str):
            organization = _registry.organizations.get(organization) or Organization(organization)
        self.organization: Organization = organization or GLOBAL_ORGANIZATION
        self._dependencies: list[str] = []
        for other in depends_on:
            self.add_dependency(other)
        _registry.domains[self.full_name] = self
        _registry.changed()

    @property
    def organization_name(self) -> str:
        return self.organization.full_name

    @property
    def full_name(self) -> str:
        if self.is_global:
            return "global_organization::global_domain"
        if self.organization.is_global:
            return self.name
        return f"{self.organization.full_name}::{self.name}"

    @property
    def dependencies(self) -> list[Domain]:
        return [_registry.domains[name] for name in self._dependencies if name in _registry.domains]

    def add_dependency(self, other: Domain | str) -> None:
        """Let this domain's commands run `other`'s commands as subcommands (one way)."""
        name = other if isinstance(other, str) else other.full_name
        if name == self.full_name:
            raise ValueError(f"{self.full_name} cannot depend on itself")
        if name in self._dependencies:
            raise ValueError(f"{self.full_name} already depends on {name}")
        self._dependencies.append(name)
        _registry.changed()

    def can_run_commands_of(self, other: Domain) -> bool:
        return (
            self.is_global
            or other.is_global
            or other.full_name == self.full_name
            or other.full_name in self._dependencies
        )

    @property
    def commands(self) -> list[type[CommandBase[Any, Any]]]:
        _registry.place_pending()
        return [c for c in _registry.commands.values() if c.domain().full_name == self.full_name]

    def command_full_name(self, name: str) -> str:
        return name if self.is_global else f"{self.full_name}::{name}"

    @property
    def types(self) -> list[RegisteredType]:
        """The types registered in this domain (models and named types)."""
        return [t for t in type_registry.by_name.values() if t.domain == self.full_name]

    def model(self, cls: M) -> M:
        """Class decorator: make a pydantic model a Foobara model type of this domain
        (`Acme::Math::User`), declared by that name in manifests."""
        register_model(
            cls,
            full_name=self.command_full_name(cls.__name__),
            domain=self.full_name,
            organization=self.organization_name,
        )
        _registry.changed()
        return cls

    def mapper(self, cls: M) -> M:
        """Class decorator: put a domain mapper in this domain."""
        from .domain_mapper import register_mapper

        return register_mapper(cls, self)

    def register_type(self, name: str, annotation: Any, *, description: str | None = None) -> Any:
        """Name a type in this domain (`phone = domain.register_type("phone", Annotated[str, ...])`).
        Use the returned annotation in models; manifests declare it by its full name."""
        _check_name(name, "type")
        alias = register_type(
            annotation,
            name=name,
            full_name=self.command_full_name(name),
            domain=self.full_name,
            organization=self.organization_name,
            description=description,
        )
        _registry.changed()
        return alias

    @overload
    def command(self, cls: C) -> C: ...
    @overload
    def command(self, cls: None = None) -> Callable[[C], C]: ...
    def command(self, cls: C | None = None) -> C | Callable[[C], C]:
        """Class decorator: put a command in this domain."""

        def place(command_class: C) -> C:
            _registry.place(command_class, self)
            return command_class

        return place(cls) if cls is not None else place

    def __repr__(self) -> str:
        return f"<Domain {self.full_name}>"


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"{name!r} is not a valid {what} name (letters, digits and _)")


class _Registry:
    """Every organization, domain and command, by full name."""

    def __init__(self) -> None:
        self.organizations: dict[str, Organization] = {}
        self.domains: dict[str, Domain] = {}
        self.commands: dict[str, type[CommandBase[Any, Any]]] = {}
        self.pending: list[type[CommandBase[Any, Any]]] = []
        self.version = 0

    def changed(self) -> None:
        self.version += 1

    def place(self, command: type[CommandBase[Any, Any]] | Any, domain: Domain) -> None:
        """Register `command` under its full name in `domain` (moving it if it was elsewhere)."""
        old_name = command.__dict__.get("_full_name")
        if old_name is not None and self.commands.get(old_name) is command:
            del self.commands[old_name]
        if command in self.pending:
            self.pending.remove(command)
        command._place_in(domain)
        self.commands[command.full_name()] = command
        self.changed()

    def add_pending(self, command: type[CommandBase[Any, Any]]) -> None:
        """A new command class: placed in the global domain unless a decorator places it first."""
        self.pending.append(command)
        self.changed()

    def place_pending(self) -> None:
        while self.pending:
            command = self.pending[0]
            self.place(command, command.domain())

    def lookup(self, name: str) -> type[CommandBase[Any, Any]]:
        self.place_pending()
        command = self.commands.get(name)
        if command is None:
            raise CommandNotFoundError(f"No command is registered as {name!r}")
        return command


_registry = _Registry()

GLOBAL_ORGANIZATION = Organization.__new__(Organization)
GLOBAL_ORGANIZATION.name = "global_organization"
GLOBAL_ORGANIZATION.description = None
GLOBAL_ORGANIZATION.is_global = True

GLOBAL_DOMAIN = Domain.__new__(Domain)
GLOBAL_DOMAIN.name = "global_domain"
GLOBAL_DOMAIN.description = None
GLOBAL_DOMAIN.is_global = True
GLOBAL_DOMAIN.organization = GLOBAL_ORGANIZATION
GLOBAL_DOMAIN._dependencies = []


def lookup_command(name: str) -> type[CommandBase[Any, Any]]:
    """The command registered under a full name (`Acme::Math::Add`)."""
    return _registry.lookup(name)


def all_commands() -> list[type[CommandBase[Any, Any]]]:
    _registry.place_pending()
    return list(_registry.commands.values())


def find_or_create_domain(name: str, organization: Organization | str | None = None) -> Domain:
    org_name = organization.full_name if isinstance(organization, Organization) else organization
    full_name = f"{org_name}::{name}" if org_name else name
    return _registry.domains.get(full_name) or Domain(name, organization)
