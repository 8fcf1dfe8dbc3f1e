"""Outcome: what running a command gives back, a result or the errors that prevented one."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import CommandFailedError, FoobaraError, to_sentence
from .jsonable import holds_secret, redact, to_json

if TYPE_CHECKING:
    from .types import TypeNode

T = TypeVar("T")

__all__ = ["Outcome"]


class Outcome(Generic[T]):
    """`result_type` is the type node of the result: its secrets stay out of `to_dict()` and the
    repr (the result itself is the caller's, secrets included)."""

    __slots__ = ("_errors", "_result_type", "result")

    def __init__(
        self, result: T | None = None, errors: Iterable[FoobaraError] = (), result_type: TypeNode | None = None
    ) -> None:
        self.result = result
        self._errors: tuple[FoobaraError, ...] = tuple(errors)
        self._result_type = result_type

    @classmethod
    def success(cls, result: T) -> Outcome[T]:
        return cls(result)

    @classmethod
    def failure(cls, errors: Iterable[FoobaraError]) -> Outcome[T]:
        errors = tuple(errors)
        if not errors:
            raise ValueError("A failed outcome needs at least one error")
        return cls(None, errors)

    @property
    def errors(self) -> list[FoobaraError]:
        return list(self._errors)

    def is_success(self) -> bool:
        return not self._errors

    def is_failure(self) -> bool:
        return bool(self._errors)

    def unwrap(self) -> T:
        """The result, or `CommandFailedError` carrying the errors."""
        if self._errors:
            causes = [error.cause for error in self._errors if error.cause is not None]
            raise CommandFailedError(self) from (causes[0] if len(causes) == 1 else None)
        return self.result  # type: ignore[return-value]

    @property
    def errors_hash(self) -> dict[str, dict[str, Any]]:
        return {error.key: error.to_dict() for error in self._errors}

    @property
    def error_keys(self) -> list[str]:
        return [error.key for error in self._errors]

    @property
    def errors_sentence(self) -> str:
        return to_sentence(error.message for error in self._errors)

    def to_dict(self) -> dict[str, Any]:
        """Ruby Foobara's outcome hash, as strict JSON (see the jsonable module)."""
        if self._errors:
            return {"success": False, "errors": [error.to_dict() for error in self._errors]}
        return {"success": True, "result": to_json(self.result, self._result_type)}

    def __repr__(self) -> str:
        if self._errors:
            return f"<Outcome failure {self.error_keys}>"
        node = self._result_type
        shown = redact(node, self.result) if node is not None and holds_secret(node) else self.result
        try:
            text = repr(shown)
        except ValueError:  # an integer too long to write, say
            text = f"<{type(shown).__name__}>"
        return f"<Outcome success {text}>"
