"""The transaction protocol a command run opens, commits and rolls back, and the lifecycle steps
that do it.

Anything a command writes to (an entity store, a database session) plugs in as a
`TransactionResource`. A run opens a transaction on each resource it uses (its own
`transaction_resources` and its subcommands', found when its class is created), commits them when
it succeeds and rolls them back when it fails, raises or is cancelled. A subcommand joins the
transactions its caller has open, so the outermost run decides.

The rule this module keeps: every transaction begun ends in exactly one commit or one rollback,
whatever happens (a commit or a begin that raises, a cancellation in the middle of a commit, a
rollback that raises). Methods may be plain or `async def`; AsyncCommand awaits them, Command
requires plain ones. The core never imports a driver: drivers implement this protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = ["Transaction", "TransactionConflict", "TransactionResource", "open_transactions"]


class TransactionConflict(Exception):
    """Another transaction changed what this one read and wrote: committing would lose its
    update. The run that opened the transaction is retried from the start; a run inside a
    transaction it did not open lets it go on up to whoever opened it."""


@runtime_checkable
class Transaction(Protocol):
    def commit(self) -> Awaitable[None] | None: ...
    def rollback(self) -> Awaitable[None] | None: ...


@runtime_checkable
class TransactionResource(Protocol):
    """Something runs open transactions on. An AsyncCommand calls `abegin` where the
    resource has one (its transaction may then commit and roll back asynchronously), `begin`
    otherwise."""

    def begin(self) -> Transaction | Awaitable[Transaction]: ...


# The transactions open around the code running now, by resource. The value is a dict that the
# run owning it fills as it begins transactions: it is set before any step runs, so code that
# runs a step in another task (an around callback using `asyncio.wait_for`) shares it.
_scope: ContextVar[dict[Any, Transaction]] = ContextVar("foobara_open_transactions")
_NONE_OPEN: Mapping[Any, Transaction] = MappingProxyType({})


def open_transactions() -> Mapping[Any, Transaction]:
    """The transactions open in the current command run, by resource."""
    return _scope.get(_NONE_OPEN)


class RunTransactions:
    """The transactions one run owns (those its caller had not opened already)."""

    __slots__ = ("pending", "scope", "token")

    def __init__(self) -> None:
        outer = _scope.get(None)
        self.scope: dict[Any, Transaction] = {} if outer is None else dict(outer)
        self.token: Token[dict[Any, Transaction]] | None = _scope.set(self.scope)
        self.pending: list[Transaction] = []  # begun, not yet committed or rolled back

    def close(self) -> None:
        """Forget the scope; the caller's transactions are visible again."""
        token, self.token = self.token, None
        if token is not None:
            with contextlib.suppress(ValueError):  # reset from another context: nothing to undo here
                _scope.reset(token)


def begin(command: CommandBase[Any, Any]) -> Generator[Any, Any, None]:
    """The open_transaction step: begin a transaction on each resource the caller has not."""
    run = command._transactions
    assert run is not None
    is_async = type(command).spec.is_async
    for resource in type(command).spec.transaction_resources:
        if resource not in run.scope:
            transaction = yield (is_async and getattr(resource, "abegin", None)) or resource.begin
            run.pending.append(transaction)
            run.scope[resource] = transaction


def commit(command: CommandBase[Any, Any]) -> Generator[Any, Any, None]:
    """The commit_transaction step. A transaction leaves `pending` only once its commit has
    returned: if a commit raises or is cancelled, it and the rest are rolled back."""
    run = command._transactions
    assert run is not None
    while run.pending:
        yield run.pending[0].commit
        run.pending.pop(0)


class Shielded:
    """A call the lifecycle's driver lets finish even if the run is cancelled meanwhile; the
    cancellation is raised once it has."""

    __slots__ = ("call",)

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call

    def __call__(self) -> Any:
        return self.call()


def rollback(command: CommandBase[Any, Any]) -> Generator[Any, Any, list[BaseException]]:
    """Roll back every transaction still pending, whatever each rollback does (a cancellation
    does not interrupt one); returns what the rollbacks raised (a cancellation among them is the
    caller's to re-raise)."""
    run = command._transactions
    problems: list[BaseException] = []
    if run is None:
        return problems
    while run.pending:
        transaction = run.pending.pop()
        try:
            yield Shielded(transaction.rollback)
        except BaseException as exc:  # the other rollbacks must still happen
            problems.append(exc)
    return problems
