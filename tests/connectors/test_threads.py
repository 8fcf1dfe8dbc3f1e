"""The worker threads that run sync commands for the async doors (`Connector.arun`)."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel

from foobara_py import Command, Domain, Organization
from foobara_py.connectors import Connector
from foobara_py.connectors.threads import MAX_THREADS, run_in_thread

threads = Domain("Threads", organization=Organization("ThreadTests"))

barrier = threading.Barrier(MAX_THREADS, timeout=10)
gate = threading.Event()


class Empty(BaseModel):
    pass


class Pause(BaseModel):
    seconds: float = 0.0


@threads.command
class MeetAll(Command[Empty, bool]):
    """Blocks until MAX_THREADS calls of it are running at once."""

    def execute(self) -> bool:
        barrier.wait()
        return True


@threads.command
class Sleep(Command[Pause, float]):
    def execute(self) -> float:
        time.sleep(self.inputs.seconds)
        return self.inputs.seconds


@threads.command
class WaitForGate(Command[Empty, bool]):
    def execute(self) -> bool:
        return gate.wait(10)


connector = Connector(threads)


async def test_blocking_sync_commands_run_side_by_side_up_to_the_pool_size() -> None:
    barrier.reset()
    outcomes = await asyncio.gather(*(connector.arun("MeetAll") for _ in range(MAX_THREADS)))
    assert [outcome.result for outcome in outcomes] == [True] * MAX_THREADS


async def test_calls_beyond_the_pool_size_wait_their_turn_and_the_loop_stays_free() -> None:
    count = MAX_THREADS + 10
    calls = asyncio.gather(*(connector.arun("Sleep", {"seconds": 0.2}) for _ in range(count)))
    started = time.monotonic()
    await asyncio.sleep(0.05)  # the loop runs while the commands block their threads
    assert time.monotonic() - started < 0.15
    outcomes = await calls
    assert [outcome.result for outcome in outcomes] == [0.2] * count
    assert time.monotonic() - started >= 0.4  # the last ten waited for a thread


async def test_a_cancelled_call_leaves_the_pool_serving() -> None:
    gate.clear()
    call = asyncio.ensure_future(connector.arun("WaitForGate"))
    await asyncio.sleep(0.05)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    gate.set()  # the thread finishes a call no one awaits any more
    assert (await connector.arun("Sleep", {"seconds": 0})).result == 0


async def test_a_call_returns_or_raises_what_the_function_does_in_another_thread() -> None:
    def fail() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        await run_in_thread(fail)
    assert await run_in_thread(threading.current_thread) is not threading.current_thread()
    assert await run_in_thread(divmod, 7, 2) == (3, 1)


def _child_runs_a_sync_command(results: multiprocessing.Queue[object]) -> None:
    async def run() -> object:
        outcome = await asyncio.wait_for(connector.arun("Sleep", {"seconds": 0}), 5)
        return outcome.result

    try:
        results.put(asyncio.run(run()))
    except TimeoutError:
        results.put("timed out")


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
async def test_a_forked_child_runs_sync_commands_with_threads_of_its_own() -> None:
    """A worker forked from a process that already ran commands (gunicorn's preload, say)."""
    assert (await connector.arun("Sleep", {"seconds": 0})).result == 0
    await asyncio.sleep(0.05)  # the thread is waiting for work again
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[object] = context.Queue()
    child = context.Process(target=_child_runs_a_sync_command, args=(results,))
    child.start()
    child.join(10)
    assert results.get(timeout=1) == 0


def test_calls_finishing_together_on_several_loops_each_get_their_own_result() -> None:
    """Finished calls share one wake-up of their loop: none may be lost or reach another loop."""

    def on_a_loop(offset: int) -> list[int]:
        async def calls() -> list[int]:
            return list(await asyncio.gather(*(run_in_thread(lambda n=n: n + offset) for n in range(300))))

        return asyncio.run(calls())

    with ThreadPoolExecutor(4) as loops:
        results = list(loops.map(on_a_loop, [0, 1000, 2000, 3000]))
    assert results == [[n + offset for n in range(300)] for offset in (0, 1000, 2000, 3000)]
