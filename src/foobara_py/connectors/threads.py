"""The worker threads that run sync commands for the async doors, so that a Command never blocks
the event loop.

Why not `asyncio.to_thread`: its executor goes through `concurrent.futures` (a future with a
condition and a work item, then a second future chained to the loop's): the hand-off of a trivial
command to a thread and back cost about 40 us of server CPU per HTTP request, more than the HTTP
door and the command together; here it costs about 15 us (benchmarks/http_requests.py). A call
is one queue put, one hand-off to a waiting thread and, back, at most one `call_soon_threadsafe`
(calls that finish while their loop has not yet woken up share its wake-up: under load, a tenth
less server CPU per request). It runs in a copy of the caller's context (`current_user()` is
seen in the thread, as with `to_thread`).

The pool starts a thread when a call finds none waiting, up to `MAX_THREADS` (40, the limit
Starlette's thread pool has through anyio), so that commands that block (on a database, a file)
still run side by side; past it, calls wait their turn. Threads wait for work until the process
ends (daemons: a command still running then is not waited for, as uvicorn has already waited for
the requests in flight). A forked child starts with no thread and its own count.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import os
import threading
import weakref
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

__all__ = ["MAX_THREADS", "run_in_thread"]

T = TypeVar("T")

MAX_THREADS = 40

_Job = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[Any]",
    contextvars.Context,
    Callable[..., Any],
    tuple[Any, ...],
    dict[str, Any],
]

_jobs: SimpleQueue[_Job] = SimpleQueue()
_lock = threading.Lock()
_threads = 0
_idle = 0  # threads done with a job and not yet given another one


def run_in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """`fn(*args, **kwargs)` in a worker thread; await the future for its result (or its exception)."""
    global _threads, _idle
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    _jobs.put((loop, future, contextvars.copy_context(), fn, args, kwargs))
    with _lock:
        if _idle:
            _idle -= 1  # a waiting thread takes it
            return future
        if _threads >= MAX_THREADS:
            return future  # every thread is busy: it waits for the first one free
        _threads += 1
        name = f"foobara-py-{_threads}"
    threading.Thread(target=_work, name=name, daemon=True).start()
    return future


def _work() -> None:
    global _idle
    while True:
        loop, future, context, fn, args, kwargs = _jobs.get()
        try:
            result, error = context.run(fn, *args, **kwargs), None
        except BaseException as exc:  # handed to the caller, as to_thread does
            result, error = None, exc
        _hand_back(loop, future, result, error)
        del future, result, error, fn, args, kwargs, context, loop  # hold nothing while waiting
        with _lock:
            _idle += 1


class _Mailbox:
    """A loop's finished calls. The first one put in wakes the loop (a write to its self-pipe, and
    a context switch); those finished before the loop has emptied the box ride on that wake-up."""

    __slots__ = ("finished", "waking")

    def __init__(self) -> None:
        self.finished: collections.deque[tuple[asyncio.Future[Any], Any, BaseException | None]] = collections.deque()
        self.waking = False

    def empty(self) -> None:
        self.waking = False  # before taking: a call put in from now on wakes the loop again
        finished = self.finished
        while finished:
            _settle(*finished.popleft())


_mailboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox] = weakref.WeakKeyDictionary()


def _hand_back(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    mailbox = _mailboxes.get(loop)
    if mailbox is None:
        mailbox = _mailboxes.setdefault(loop, _Mailbox())
    mailbox.finished.append((future, result, error))
    if not mailbox.waking:
        mailbox.waking = True
        with contextlib.suppress(RuntimeError):  # the loop has closed: no one is waiting
            loop.call_soon_threadsafe(mailbox.empty)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller went away (a client that disconnected)
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _forked() -> None:
    global _jobs, _lock, _threads, _idle
    _jobs, _lock, _threads, _idle = SimpleQueue(), threading.Lock(), 0, 0


os.register_at_fork(after_in_child=_forked)
