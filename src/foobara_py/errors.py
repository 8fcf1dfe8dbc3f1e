"""Foobara errors: the error value commands report, and the exceptions the framework raises.

A `FoobaraError` is data, not an exception: commands collect them in their outcome. Its `key`
and `to_dict()` follow Ruby Foobara exactly so that Foobara tools can read them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from .jsonable import to_json
from .naming import humanize

if TYPE_CHECKING:
    from .outcome import Outcome

Category = Literal["data", "runtime"]
PathPart = str | int

__all__ = [
    "CannotAccessDomainError",
    "CannotRunAsyncSubcommandError",
    "CommandFailedError",
    "CommandNotFoundError",
    "CouldNotProcessResultError",
    "FoobaraError",
    "FrameworkUsageError",
    "InvalidErrorContextError",
    "PossibleError",
    "SubcommandNotRegisteredError",
    "UnsupportedTypeError",
    "error_key",
    "to_sentence",
]


def error_key(
    category: str,
    symbol: str,
    path: Iterable[PathPart] = (),
    runtime_path: Iterable[str] = (),
) -> str:
    """Ruby's key grammar: `[a>b>]category[.path parts].symbol`."""
    key = f"{category}.{'.'.join(map(str, path))}.{symbol}" if path else f"{category}.{symbol}"
    return f"{'>'.join(runtime_path)}>{key}" if runtime_path else key


def to_sentence(items: Iterable[str]) -> str:
    """`["a", "b", "c"]` -> `"a, b, and c"`, exactly as Ruby Foobara's `to_sentence` (which
    also writes `"a, and b"` for two)."""
    words = list(items)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])}, and {words[-1]}"


@dataclass(frozen=True, eq=False, init=False)
class FoobaraError:
    """One problem a command reports: what went wrong (`symbol`), where (`path`), and in which
    subcommand (`runtime_path`). Immutable."""

    symbol: str
    message: str
    category: Category = "runtime"
    path: tuple[PathPart, ...] = ()
    runtime_path: tuple[str, ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    is_fatal: bool = False
    # The exception behind an `execution_error`; kept for debugging, never serialized.
    cause: BaseException | None = field(default=None, repr=False, compare=False)
    # Ruby's key, `[runtime path>]category[.path].symbol`: how errors are told apart.
    key: str = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        symbol: str,
        message: str,
        category: Category = "runtime",
        path: tuple[PathPart, ...] = (),
        runtime_path: tuple[str, ...] = (),
        context: Mapping[str, Any] | None = None,
        is_fatal: bool = False,
        cause: BaseException | None = None,
    ) -> None:
        # Written straight into the instance dict, as a frozen dataclass cannot assign: failing
        # runs make these on their path.
        fields = self.__dict__
        fields["symbol"] = symbol
        fields["message"] = message
        fields["category"] = category
        fields["path"] = path
        fields["runtime_path"] = runtime_path
        fields["context"] = {} if context is None else context
        fields["is_fatal"] = is_fatal
        fields["cause"] = cause
        fields["key"] = error_key(category, symbol, path, runtime_path)

    def __copy__(self) -> FoobaraError:
        return self  # immutable: a copy would be the same

    def __deepcopy__(self, memo: dict[int, Any]) -> FoobaraError:
        """A copy with its own context, and the same `cause` (pickling leaves that out)."""
        context = copy.deepcopy(self.context, memo)
        return FoobaraError(
            self.symbol, self.message, self.category, self.path, self.runtime_path, context, self.is_fatal, self.cause
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its `cause` (which may not pickle: it is kept for debugging only)."""
        return {**self.__dict__, "cause": None}

    def to_dict(self) -> dict[str, Any]:
        """Ruby Foobara's error hash."""
        return {
            "key": self.key,
            "path": list(self.path),
            "runtime_path": list(self.runtime_path),
            "category": self.category,
            "symbol": self.symbol,
            "message": self.message,
            "context": to_json(self.context),
            "is_fatal": self.is_fatal,
        }

    def with_runtime_prefix(self, name: str) -> FoobaraError:
        """The same error seen from the command that ran the subcommand `name`."""
        return replace(self, runtime_path=(name, *self.runtime_path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FoobaraError):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self.key)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FoobaraError:
        """Rebuild an error from its hash (as another system sent it)."""
        return cls(
            symbol=data["symbol"],
            message=data.get("message") or humanize(data["symbol"]),
            category=data.get("category", "runtime"),
            path=tuple(data.get("path") or ()),
            runtime_path=tuple(data.get("runtime_path") or ()),
            context=dict(data.get("context") or {}),
            is_fatal=bool(data.get("is_fatal", False)),
        )


_KEY_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^\d+$|^#$")


@dataclass(frozen=True, eq=False)
class PossibleError:
    """An error a command declares it may report.

    `key_or_symbol` is a bare symbol (a runtime error, `"division_by_zero"`) or a key
    (`"data.customer.blocked_customer"`, `"runtime.out_of_stock"`). `context` declares the
    context's type: a pydantic model or a mapping of names to types.
    """

    key_or_symbol: str
    message: str | None = None
    context: Any = None

    @property
    def category(self) -> Category:
        return self._parsed[0]

    @property
    def path(self) -> tuple[PathPart, ...]:
        return self._parsed[1]

    @property
    def symbol(self) -> str:
        return self._parsed[2]

    @property
    def key(self) -> str:
        category, path, symbol = self._parsed
        return error_key(category, symbol, path)

    @property
    def default_message(self) -> str:
        return self.message or humanize(self.symbol)

    @cached_property
    def _parsed(self) -> tuple[Category, tuple[PathPart, ...], str]:
        return parse_key(self.key_or_symbol)


def parse_key(text: str) -> tuple[Category, tuple[PathPart, ...], str]:
    """`"data.items.#.sku.missing"` -> `("data", ("items", "#", "sku"), "missing")`."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"An error is declared by a symbol or a key, not {text!r}")
    parts = text.split(".")
    for part in parts:
        if not _KEY_PART.match(part):
            raise ValueError(f"{text!r} is not an error symbol or key")
    if len(parts) == 1:
        return "runtime", (), parts[0]
    category = parts[0]
    if category not in ("data", "runtime"):
        raise ValueError(f"{text!r}: an error key starts with 'data.' or 'runtime.'")
    if category == "runtime" and len(parts) > 2:
        raise ValueError(f"{text!r}: a runtime error has no path")
    path = tuple(int(p) if p.isdigit() else p for p in parts[1:-1])
    return category, path, parts[-1]  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Exceptions. `FrameworkUsageError`s are programmer errors in the use of the framework: they
# escape `run()` instead of becoming a failed outcome.


class FrameworkUsageError(Exception):
    """The framework was used in a way that cannot work; fix the code, not the input."""


class CommandFailedError(Exception):
    """Raised by `Outcome.unwrap()` when the command failed; carries its errors."""

    def __init__(self, outcome: Outcome[Any]) -> None:
        self.outcome = outcome
        self.errors: list[FoobaraError] = list(outcome.errors)
        super().__init__(outcome.errors_sentence)


class CouldNotProcessResultError(FrameworkUsageError):
    """A command returned a result that does not fit its declared result type."""


class SubcommandNotRegisteredError(FrameworkUsageError):
    """A command ran a subcommand it did not list in `depends_on`."""


class CannotAccessDomainError(FrameworkUsageError):
    """A command ran a subcommand from a domain its own domain does not depend on."""


class CannotRunAsyncSubcommandError(FrameworkUsageError, TypeError):
    """A sync Command tried to run an AsyncCommand as a subcommand."""


class InvalidErrorContextError(FrameworkUsageError):
    """An error was added with a context that does not fit its declared context type."""


class UnsupportedTypeError(FrameworkUsageError, TypeError):
    """A type annotation Foobara cannot describe or validate."""


class CommandNotFoundError(LookupError):
    """No command is registered under that name."""
