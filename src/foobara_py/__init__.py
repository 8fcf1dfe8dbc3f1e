"""foobara-py: Foobara's command framework for Python.

Domain logic lives in commands (sync or async) with typed inputs, a typed result and declared
errors, grouped in domains and organizations. A run gives an `Outcome` with Ruby Foobara's error
hashes; commands run subcommands, share transactions, and describe themselves in Ruby Foobara's
manifest and in JSON Schema; domain mappers convert between domains. Entities live in stores
(memory, SQLite, PostgreSQL, Redis: `persistence`), and a run is a transaction on them.
`foobara_py.connectors` exposes connected commands through doors (HTTP so far). Importing this
package imports pydantic and nothing else beyond the standard library: stores' and doors' libraries
are optional extras, imported when used.
"""

from . import persistence
from .command import AsyncCommand, Command
from .decorators import async_command, async_simple_command, command, command_from_spec, simple_command
from .domain import GLOBAL_DOMAIN, GLOBAL_ORGANIZATION, Domain, Organization, all_commands, lookup_command
from .domain_mapper import (
    DomainMapper,
    ForgotToDependOnDomainMapperError,
    NoDomainMapperFoundError,
    domain_mapper,
    find_mapper,
    register_mapper,
)
from .errors import (
    CannotAccessDomainError,
    CannotRunAsyncSubcommandError,
    CommandFailedError,
    CommandNotFoundError,
    CouldNotProcessResultError,
    FoobaraError,
    FrameworkUsageError,
    InvalidErrorContextError,
    PossibleError,
    SubcommandNotRegisteredError,
    UnsupportedTypeError,
)
from .lifecycle import State, Transition
from .manifest import ManifestEntryNotFoundError, describe, manifest, manifest_json
from .outcome import Outcome
from .persistence import Entity, NotFoundError, transaction
from .schema import inputs_json_schema, json_schema, result_json_schema
from .spec import CommandSpec
from .transactions import Transaction, TransactionResource
from .types import (
    Array,
    Attributes,
    BigDecimal,
    Boolean,
    Date,
    DateTime,
    Duck,
    Email,
    Float,
    Integer,
    Model,
    Sensitive,
    String,
    Symbol,
    Tuple,
)

__version__ = "0.1.0"

__all__ = [
    "GLOBAL_DOMAIN",
    "GLOBAL_ORGANIZATION",
    "Array",
    "AsyncCommand",
    "Attributes",
    "BigDecimal",
    "Boolean",
    "CannotAccessDomainError",
    "CannotRunAsyncSubcommandError",
    "Command",
    "CommandFailedError",
    "CommandNotFoundError",
    "CommandSpec",
    "CouldNotProcessResultError",
    "Date",
    "DateTime",
    "Domain",
    "DomainMapper",
    "Duck",
    "Email",
    "Entity",
    "Float",
    "FoobaraError",
    "ForgotToDependOnDomainMapperError",
    "FrameworkUsageError",
    "Integer",
    "InvalidErrorContextError",
    "ManifestEntryNotFoundError",
    "Model",
    "NoDomainMapperFoundError",
    "NotFoundError",
    "Organization",
    "Outcome",
    "PossibleError",
    "Sensitive",
    "State",
    "String",
    "SubcommandNotRegisteredError",
    "Symbol",
    "Transaction",
    "TransactionResource",
    "Transition",
    "Tuple",
    "UnsupportedTypeError",
    "all_commands",
    "async_command",
    "async_simple_command",
    "command",
    "command_from_spec",
    "describe",
    "domain_mapper",
    "find_mapper",
    "inputs_json_schema",
    "json_schema",
    "lookup_command",
    "manifest",
    "manifest_json",
    "persistence",
    "register_mapper",
    "result_json_schema",
    "simple_command",
    "transaction",
]
