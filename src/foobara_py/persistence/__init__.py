"""Entities, the stores that keep them, and the transactions around command runs.

`persistence.configure(url)` chooses the store; `transaction()` opens a transaction outside a
command run. The store drivers (SQL, Redis) are optional extras, imported when a URL asks for one.
"""

from __future__ import annotations

from collections.abc import Generator
from types import TracebackType
from typing import Any

from .. import transactions
from .config import SCHEMES, configure, reset, store_for
from .entity import Entity, InvalidRecordError, NotFoundError, NoTransactionOpenError
from .store import StoreError, StoreUnavailableError, TransactionConflict, UniqueViolationError
from .unit import ENTITIES, UnitOfWork, current_unit

__all__ = [
    "SCHEMES",
    "Entity",
    "InvalidRecordError",
    "NoTransactionOpenError",
    "NotFoundError",
    "StoreError",
    "StoreUnavailableError",
    "TransactionConflict",
    "UniqueViolationError",
    "configure",
    "reset",
    "store_for",
    "transaction",
]


class transaction:
    """A transaction outside command runs: `with transaction():` or `async with transaction():`.
    Committed when the block ends, rolled back if it raises. Inside a command run or another
    block, it joins the transaction already open."""

    __slots__ = ("token", "unit")

    def __init__(self) -> None:
        self.unit: UnitOfWork | None = None
        self.token: Any = None

    def _open(self, is_async: bool) -> UnitOfWork:
        unit = current_unit()
        if unit is not None:
            return unit
        self.unit = ENTITIES.abegin() if is_async else ENTITIES.begin()
        scope = dict(transactions.open_transactions())
        scope[ENTITIES] = self.unit
        self.token = transactions._scope.set(scope)
        return self.unit

    def _release(self) -> None:
        transactions._scope.reset(self.token)

    def __enter__(self) -> UnitOfWork:
        return self._open(is_async=False)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.unit is not None:
            from ..lifecycle import drive_sync

            drive_sync(self._close(error))

    async def __aenter__(self) -> UnitOfWork:
        return self._open(is_async=True)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.unit is not None:
            from ..lifecycle import drive_async

            await drive_async(self._close(error))

    def _close(self, error: BaseException | None) -> Generator[Any, Any, None]:
        """Commit, or roll back (to its end, even if the task is cancelled meanwhile), as the
        lifecycle's drivers make the calls: the same ending for both forms of the block."""
        unit = self.unit
        assert unit is not None
        try:
            if error is None:
                try:
                    yield unit.commit
                except BaseException:
                    yield transactions.Shielded(unit.rollback)
                    raise
            else:
                yield transactions.Shielded(unit.rollback)
        finally:
            self._release()
