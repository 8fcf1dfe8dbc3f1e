"""CommandSpec: what a command is, as one public, frozen value.

It is built when a command class is created (and rebuilt when a decorator moves the class into
a domain), so everything that needs to know a command (the manifest, JSON Schema, connectors,
remote commands, job queues) reads `Add.spec` instead of the class's internals, and a run reads
nothing it has to work out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .errors import PossibleError
from .types import TypeNode

if TYPE_CHECKING:
    from .command import CommandBase
    from .domain import Domain
    from .domain_mapper import DomainMapper
    from .transactions import TransactionResource

__all__ = ["CommandSpec"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """The description of a command class: `Add.spec`."""

    name: str
    """The class name, `Add`."""
    full_name: str
    """`Acme::Math::Add`, or the name alone in the global domain."""
    domain: Domain
    description: str | None
    """The class docstring, unless the class sets `description`."""
    is_async: bool
    is_query: bool
    inputs_type: type[BaseModel] | None
    """The inputs model; None for a command without inputs."""
    result_type: Any
    """The result annotation (`int`, a model, `None`...)."""
    inputs_node: TypeNode | None
    """Foobara's view of the inputs type (its declaration, constraints, sensitive attributes)."""
    result_node: TypeNode | None
    """Foobara's view of the result type; None for a command that returns nothing."""
    possible_errors: Mapping[str, PossibleError]
    """The errors the command declares, by key (derived ones: `possible_errors_of_command`)."""
    depends_on: tuple[type[CommandBase[Any, Any]], ...]
    """The subcommands it may run."""
    domain_mappers: tuple[type[DomainMapper[Any, Any]], ...]
    hooks: frozenset[str]
    """The lifecycle hooks the class defines (`validate`, `execute`...)."""
    transaction_resources: tuple[TransactionResource, ...]
    """What a run opens transactions on: its own resources and its subcommands'."""
    entities: tuple[type[Any], ...]
    """The entities its runs use (from its inputs, result, `depends_on_entities` and
    subcommands): a run is a transaction on their stores."""
    entity_inputs: bool
    """Whether its inputs can hold records, loaded before `validate_records`."""
    runtime_name: str
    """The name its errors carry in a caller's runtime path, `acme::math::add`."""
    is_abstract: bool
    """A base for other commands, not one to run: it says `abstract = True`, or leaves its types
    generic (`Command[InputsT, ResultT]`). It is not registered, and loaders pass it by."""
