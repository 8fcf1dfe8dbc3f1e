"""The transaction protocol a command run opens, commits and rolls back.

Anything a command writes to (an entity store, a database session) plugs in as a
`TransactionResource`. A command opens a transaction on each resource it uses, commits them when
it succeeds and rolls them back when it fails or raises. A subcommand joins the transaction its
caller already has open on the same resource, so the outermost command decides.

Methods may be plain or `async def`; AsyncCommand awaits them, Command requires plain ones. The
core never imports a driver: drivers implement this protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

__all__ = ["Transaction", "TransactionResource", "open_transactions"]


@runtime_checkable
class Transaction(Protocol):
    def commit(self) -> Awaitable[None] | None: ...
    def rollback(self) -> Awaitable[None] | None: ...


@runtime_checkable
class TransactionResource(Protocol):
    def begin(self) -> Transaction | Awaitable[Transaction]: ...


_open: ContextVar[Mapping[Any, Transaction]] = ContextVar("foobara_open_transactions")
_NONE_OPEN: Mapping[Any, Transaction] = MappingProxyType({})


def open_transactions() -> Mapping[Any, Transaction]:
    """The transactions open in the current command run, by resource."""
    return _open.get(_NONE_OPEN)
