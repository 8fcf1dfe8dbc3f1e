"""Organizations and domains, and finding commands by full name (in the registry, registry.py).

Names follow Ruby Foobara: `Acme::Math::Add` is the command `Add` in the domain `Math` of the
organization `Acme`. Commands without a domain live in the global domain and are named by their
own name alone. Redefining a command under the same full name replaces the earlier one, as
tests and notebooks need.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from . import registry
from .registry import GLOBAL_DOMAIN_NAME, GLOBAL_ORGANIZATION_NAME
from .types import RegisteredType, register_model, register_type

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = [
    "GLOBAL_DOMAIN",
    "GLOBAL_ORGANIZATION",
    "Domain",
    "Organization",
    "all_commands",
    "find_domain",
    "lookup_command",
    "place_command",
]

C = TypeVar("C", bound=type)
M = TypeVar("M", bound=type)


class Organization:
    """A group of domains (`Acme`)."""

    def __init__(self, name: str, *, description: str | None = None) -> None:
        _check_name(name, "organization")
        self.name = name
        self.description = description
        self.is_global = False
        registry.current().add_organization(self)

    @property
    def full_name(self) -> str:
        return self.name

    @property
    def domains(self) -> list[Domain]:
        return [d for d in registry.current().domains() if d.organization_name == self.full_name]

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
            organization = registry.current().organization(organization) or Organization(organization)
        self.organization: Organization = organization or GLOBAL_ORGANIZATION
        self._dependencies: list[str] = []
        for other in depends_on:
            self.add_dependency(other)
        registry.current().add_domain(self)

    @property
    def organization_name(self) -> str:
        return self.organization.full_name

    @property
    def full_name(self) -> str:
        if self.is_global:
            return GLOBAL_DOMAIN_NAME
        if self.organization.is_global:
            return self.name
        return f"{self.organization.full_name}::{self.name}"

    @property
    def dependencies(self) -> list[Domain]:
        found = (registry.current().domain(name) for name in self._dependencies)
        return [domain for domain in found if domain is not None]

    def add_dependency(self, other: Domain | str) -> None:
        """Let this domain's commands run `other`'s commands as subcommands (one way)."""
        name = other if isinstance(other, str) else other.full_name
        if name == self.full_name:
            raise ValueError(f"{self.full_name} cannot depend on itself")
        if name in self._dependencies:
            raise ValueError(f"{self.full_name} already depends on {name}")
        self._dependencies.append(name)
        registry.current().changed()

    def can_run_commands_of(self, other: Domain) -> bool:
        return (
            self.is_global
            or other.is_global
            or other.full_name == self.full_name
            or other.full_name in self._dependencies
        )

    @property
    def commands(self) -> list[type[CommandBase[Any, Any]]]:
        return [c for c in registry.current().commands() if c.domain().full_name == self.full_name]

    def command_full_name(self, name: str) -> str:
        return name if self.is_global else f"{self.full_name}::{name}"

    @property
    def types(self) -> list[RegisteredType]:
        """The types registered in this domain (models and named types)."""
        return [t for t in registry.current().types() if t.domain == self.full_name]

    def model(self, cls: M) -> M:
        """Class decorator: make a pydantic model a Foobara model type of this domain
        (`Acme::Math::User`), declared by that name in manifests."""
        register_model(
            cls,
            full_name=self.command_full_name(cls.__name__),
            domain=self.full_name,
            organization=self.organization_name,
        )
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
        return alias

    @overload
    def command(self, cls: C) -> C: ...
    @overload
    def command(self, cls: None = None) -> Callable[[C], C]: ...
    def command(self, cls: C | None = None) -> C | Callable[[C], C]:
        """Class decorator: put a command in this domain."""

        def place(command_class: C) -> C:
            place_command(command_class, self)
            return command_class

        return place(cls) if cls is not None else place

    def __repr__(self) -> str:
        return f"<Domain {self.full_name}>"


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"{name!r} is not a valid {what} name (letters, digits and _)")


GLOBAL_ORGANIZATION = Organization.__new__(Organization)
GLOBAL_ORGANIZATION.name = GLOBAL_ORGANIZATION_NAME
GLOBAL_ORGANIZATION.description = None
GLOBAL_ORGANIZATION.is_global = True

GLOBAL_DOMAIN = Domain.__new__(Domain)
GLOBAL_DOMAIN.name = "global_domain"
GLOBAL_DOMAIN.description = None
GLOBAL_DOMAIN.is_global = True
GLOBAL_DOMAIN.organization = GLOBAL_ORGANIZATION
GLOBAL_DOMAIN._dependencies = []


def place_command(command: type[CommandBase[Any, Any]], domain: Domain) -> None:
    """Put `command` in `domain` under its full name there (leaving the name it had before)."""
    from .command import place_in  # command imports this module

    place_in(command, domain)
    registry.current().add_command(command)


def find_domain(full_name: str) -> Domain | None:
    """The domain of that full name, the global domain included."""
    return GLOBAL_DOMAIN if full_name == GLOBAL_DOMAIN_NAME else registry.current().domain(full_name)


def lookup_command(name: str) -> type[CommandBase[Any, Any]]:
    """The command registered under a full name (`Acme::Math::Add`)."""
    return registry.current().command(name)


def all_commands() -> list[type[CommandBase[Any, Any]]]:
    return registry.current().commands()


def find_or_create_domain(name: str, organization: Organization | str | None = None) -> Domain:
    org_name = organization.full_name if isinstance(organization, Organization) else organization
    full_name = f"{org_name}::{name}" if org_name else name
    return registry.current().domain(full_name) or Domain(name, organization)
