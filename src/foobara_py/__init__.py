"""foobara-py: Foobara's command framework for Python.

Domain logic lives in commands with typed inputs, a typed result and declared errors; every
command describes itself, and the same command can be run from Python, HTTP, a shell, MCP or a
job queue. Importing this package imports pydantic and nothing else beyond the standard library.
"""

from .command import AsyncCommand, Command
from .decorators import async_command, async_simple_command, command, simple_command
from .domain import GLOBAL_DOMAIN, GLOBAL_ORGANIZATION, Domain, Organization, all_commands, lookup_command
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
from .outcome import Outcome
from .transaction import Transaction, TransactionResource
from .types import Email, Sensitive

__version__ = "0.1.0"

__all__ = [
    "GLOBAL_DOMAIN",
    "GLOBAL_ORGANIZATION",
    "AsyncCommand",
    "CannotAccessDomainError",
    "CannotRunAsyncSubcommandError",
    "Command",
    "CommandFailedError",
    "CommandNotFoundError",
    "CouldNotProcessResultError",
    "Domain",
    "Email",
    "FoobaraError",
    "FrameworkUsageError",
    "InvalidErrorContextError",
    "Organization",
    "Outcome",
    "PossibleError",
    "Sensitive",
    "SubcommandNotRegisteredError",
    "Transaction",
    "TransactionResource",
    "UnsupportedTypeError",
    "all_commands",
    "async_command",
    "async_simple_command",
    "command",
    "lookup_command",
    "simple_command",
]
