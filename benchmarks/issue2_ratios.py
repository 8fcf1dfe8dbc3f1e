"""The speed ratios issue 2 set as goals, each against the baseline issue 2 defined.

The baseline is bare pydantic: `AddInputs.model_validate(kwargs)` and the addition, nothing else
(no result validation, unlike benchmarks/command_run.py), called with keyword arguments as `run`
is. Command and baseline run in the same process, in rounds that alternate the two sides several
times (run first in one round, baseline first in the next) so drift and noise hit both; time is
this process's CPU time, and the collector is run before every side and left in the same state for
both. Printed: medians per call, the ratio of the medians, the lowest and highest ratio of a single
round (how stable the figure is), and whether issue 2's goal is met. Memory is tracemalloc's
current traced memory with 10,000 runs blocked inside execute, everything they allocate counted
(asyncio's bookkeeping too), each side in a fresh process of its own; it is deterministic, so it
has fewer rounds.

    python benchmarks/issue2_ratios.py            # 13 rounds of about 0.2 s a side
    python benchmarks/issue2_ratios.py --quick    # 7 rounds of about 0.03 s a side
    python benchmarks/issue2_ratios.py --gc-off   # collector disabled while timing (as timeit does)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import BaseModel, ValidationError

from foobara_py import AsyncCommand, Command

TASKS = 10_000


class AddInputs(BaseModel):
    a: int
    b: int


class Add(Command[AddInputs, int]):
    def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class AsyncAdd(AsyncCommand[AddInputs, int]):
    async def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class HookedAdd(Command[AddInputs, int]):
    def before_execute(self) -> None:
        pass

    def validate(self) -> None:
        pass

    def execute(self) -> int:
        return self.inputs.a + self.inputs.b

    def after_execute(self, result: int) -> int:
        return result


class Gate:
    """Where the blocked runs of the memory measure wait, and how many have arrived there."""

    event: asyncio.Event
    arrived = 0


class BlockedAdd(AsyncCommand[AddInputs, int]):
    async def execute(self) -> int:
        Gate.arrived += 1
        await Gate.event.wait()
        return self.inputs.a + self.inputs.b


# The baselines: bare pydantic, called the way `run` is called (keyword arguments).


def bare(**kwargs: Any) -> int:
    m = AddInputs.model_validate(kwargs)
    return m.a + m.b


async def bare_async(**kwargs: Any) -> int:
    m = AddInputs.model_validate(kwargs)
    return m.a + m.b


async def bare_blocked(**kwargs: Any) -> int:
    m = AddInputs.model_validate(kwargs)
    Gate.arrived += 1
    await Gate.event.wait()
    return m.a + m.b


def bare_failing(**kwargs: Any) -> Any:
    try:
        AddInputs.model_validate(kwargs)
    except ValidationError as e:
        return e.errors()
    raise AssertionError("the failing baseline validated")


# Batches: `n` calls each, one loop per side so the loop's own cost is the same on both.


def add_runs(n: int) -> None:
    for _ in range(n):
        Add.run(a=1, b=2)


def add_bare(n: int) -> None:
    for _ in range(n):
        bare(a=1, b=2)


def hooked_runs(n: int) -> None:
    for _ in range(n):
        HookedAdd.run(a=1, b=2)


def failing_runs(n: int) -> None:
    for _ in range(n):
        Add.run(a="x", b=2)


def failing_bare(n: int) -> None:
    for _ in range(n):
        bare_failing(a="x", b=2)


async def async_runs(n: int) -> None:
    for _ in range(n):
        await AsyncAdd.run(a=1, b=2)


async def async_bare(n: int) -> None:
    for _ in range(n):
        await bare_async(a=1, b=2)


async def gather_runs(n: int) -> None:
    for _ in range(n):
        await asyncio.gather(*[AsyncAdd.run(a=1, b=2) for _ in range(TASKS)])


async def gather_bare(n: int) -> None:
    for _ in range(n):
        await asyncio.gather(*[bare_async(a=1, b=2) for _ in range(TASKS)])


SIDES: dict[str, Callable[[], Awaitable[Any]]] = {
    "run": lambda: BlockedAdd.run(a=1, b=2),
    "bare": lambda: bare_blocked(a=1, b=2),
}


async def blocked_bytes(side: str) -> float:
    """Traced memory per task while TASKS tasks of one side are all blocked at the gate, after
    validating: everything they allocate, asyncio's own bookkeeping included (as a real run in
    flight costs it). Measured in a process of its own for each side (see `memory_of`), after
    the same small warm-up: in a shared process, what asyncio's tables had grown to for the
    other side moved the figures by hundreds of bytes."""
    start = SIDES[side]
    tracemalloc.start()
    try:
        per_task = 0.0
        for count in (100, TASKS):  # the first pass only warms up (imports, first-use caches)
            Gate.event, Gate.arrived = asyncio.Event(), 0
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            tasks = [asyncio.ensure_future(start()) for _ in range(count)]
            while Gate.arrived < count:
                await asyncio.sleep(0)
            gc.collect()
            per_task = (tracemalloc.get_traced_memory()[0] - before) / count
            Gate.event.set()
            values = await asyncio.gather(*tasks)
            assert all((v if isinstance(v, int) else v.unwrap()) == 3 for v in values)
            del tasks, values
    finally:
        tracemalloc.stop()
    return per_task


async def memory_of(side: str) -> float:
    """`blocked_bytes(side)`, measured in a fresh process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--memory-side", side, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"measuring the memory of {side} failed")
    return float(out.decode().strip())


# The harness.

Side = Callable[[], Awaitable[float]]
CHUNKS = 6  # a round alternates run and baseline this many times, so a burst of noise is shared


@dataclass(frozen=True)
class Measure:
    name: str
    goal: float
    unit: str  # "us" (per call) or "B" (per in-flight task)
    run: Side
    baseline: Side
    chunks: int = 1


@dataclass(frozen=True)
class Result:
    measure: Measure
    run: float
    baseline: float
    ratios: list[float]

    @property
    def ratio(self) -> float:
        return self.run / self.baseline


class Clock:
    """Times batches in this process's CPU time (other processes on a shared machine do not count),
    with the collector in the same state for every side."""

    def __init__(self, gc_on: bool, target: float) -> None:
        self.gc_on, self.target = gc_on, target

    async def seconds(self, batch: Callable[[int], Any], n: int) -> float:
        gc.collect()
        if not self.gc_on:
            gc.disable()
        try:
            start = time.process_time()
            done = batch(n)
            if asyncio.iscoroutine(done):
                await done
            return time.process_time() - start
        finally:
            gc.enable()

    async def measure(
        self, name: str, goal: float, run: Callable[[int], Any], base: Callable[[int], Any], per_batch: int = 1
    ) -> Measure:
        """Time `n` iterations of each batch per chunk, giving seconds per call; a round of
        chunks takes about `target` seconds a side (calibrated on the run side)."""
        pilot = 1
        while (elapsed := await self.seconds(run, pilot)) < self.target / 20:
            pilot *= 4
        iterations = max(1, round(self.target * pilot / elapsed))
        chunks = min(CHUNKS, iterations)
        n = max(1, round(iterations / chunks))

        async def run_side() -> float:
            return await self.seconds(run, n) / (n * per_batch)

        async def base_side() -> float:
            return await self.seconds(base, n) / (n * per_batch)

        return Measure(name, goal, "us", run_side, base_side, chunks)


async def interleaved(measure: Measure, rounds: int, warmups: int) -> Result:
    """Medians over rounds; each round alternates the sides `chunks` times, starting with the
    run in one round and the baseline in the next."""
    for _ in range(warmups):
        await measure.run()
        await measure.baseline()
    runs: list[float] = []
    bases: list[float] = []
    for i in range(rounds):
        run = base = 0.0
        for j in range(measure.chunks):
            if (i + j) % 2 == 0:
                run += await measure.run()
                base += await measure.baseline()
            else:
                base += await measure.baseline()
                run += await measure.run()
        runs.append(run / measure.chunks)
        bases.append(base / measure.chunks)
    ratios = [r / b for r, b in zip(runs, bases, strict=True)]
    return Result(measure, statistics.median(runs), statistics.median(bases), ratios)


def check_cases() -> None:
    """Each side does the work it claims to (so a broken case cannot time as fast)."""
    assert Add.run(a=1, b=2).unwrap() == 3
    assert HookedAdd.run(a=1, b=2).unwrap() == 3
    assert asyncio.run(AsyncAdd.run(a=1, b=2)).unwrap() == 3
    assert Add.run(a="x", b=2).error_keys == ["data.a.cannot_cast"]
    assert [e["type"] for e in bare_failing(a="x", b=2)] == ["int_parsing"]
    assert bare(a=1, b=2) == 3


async def measure_all(clock: Clock, rounds: int, memory_rounds: int, warmups: int) -> list[Result]:
    measures = [
        await clock.measure("Command.run(a=1, b=2)", 1.5, add_runs, add_bare),
        await clock.measure("await AsyncCommand.run(a=1, b=2)", 1.6, async_runs, async_bare),
        await clock.measure(f"gather of {TASKS:,} (per task)", 1.2, gather_runs, gather_bare, per_batch=TASKS),
        await clock.measure("3 trivial hooks, run(a=1, b=2)", 1.8, hooked_runs, add_bare),
        await clock.measure('failing run(a="x", b=2)', 3.0, failing_runs, failing_bare),
    ]
    results = [await interleaved(m, rounds, warmups) for m in measures]

    memory = Measure(
        f"memory per in-flight ({TASKS:,} blocked)",
        1.2,
        "B",
        lambda: memory_of("run"),
        lambda: memory_of("bare"),
    )
    results.append(await interleaved(memory, memory_rounds, 0))
    return results


def show(value: float, unit: str) -> str:
    return f"{value:,.0f} B" if unit == "B" else f"{value * 1e6:.2f} us"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--gc-off", action="store_true", help="disable the collector while timing")
    parser.add_argument("--memory-side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_side:  # a child process measuring one side's memory (see memory_of)
        print(asyncio.run(blocked_bytes(args.memory_side)))
        return
    rounds, memory_rounds, target = (7, 1, 0.03) if args.quick else (13, 3, 0.2)
    check_cases()
    clock = Clock(gc_on=not args.gc_off, target=target)
    results = asyncio.run(measure_all(clock, rounds, memory_rounds, warmups=2))

    print(
        f"Python {platform.python_version()}, pydantic {pydantic.VERSION}, "
        f"gc {'off' if args.gc_off else 'on'} while timing, median of {rounds} rounds "
        f"({memory_rounds} for memory); spread = lowest-highest ratio of a round"
    )
    header = f"{'measure':40} {'run':>11} {'baseline':>11} {'ratio':>7} {'goal':>7} {'met':>4}  spread"
    print(header)
    print("-" * len(header))
    for r in results:
        m = r.measure
        met = "yes" if round(r.ratio, 2) <= m.goal else "no"  # judged on the figure printed
        spread = f"{min(r.ratios):.2f}-{max(r.ratios):.2f}"
        print(
            f"{m.name:40} {show(r.run, m.unit):>11} {show(r.baseline, m.unit):>11} "
            f"{r.ratio:6.2f}x {'<=' + str(m.goal):>7} {met:>4}  {spread}"
        )


if __name__ == "__main__":
    main()
