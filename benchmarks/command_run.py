"""How much a command run costs on top of the pydantic validation inside it.

Prints, for each case, the median time per call of the command run and of a baseline doing
only the pydantic work the run must do (validating the inputs, and the result), measured in the
same process, and their ratio. Ratios hold on noisy machines; absolute times drift.

    python benchmarks/command_run.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import timeit
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from foobara_py import AsyncCommand, Command


class AddInputs(BaseModel):
    a: int = Field(description="first operand")
    b: int = Field(0, description="second operand")


class Add(Command[AddInputs, int]):
    def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class AsyncAdd(AsyncCommand[AddInputs, int]):
    async def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class Item(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class OrderInputs(BaseModel):
    customer: str
    items: list[Item]
    note: str | None = None


class Total(BaseModel):
    customer: str
    quantity: int


class PlaceOrder(Command[OrderInputs, Total]):
    def execute(self) -> Total:
        return Total(customer=self.inputs.customer, quantity=sum(i.quantity for i in self.inputs.items))


ORDER = {"customer": "ada", "items": [{"sku": f"s{i}", "quantity": i + 1} for i in range(10)]}
int_adapter = TypeAdapter(int)
total_adapter = TypeAdapter(Total)


def add_baseline() -> Any:
    inputs = AddInputs.model_validate({"a": 1, "b": 2}, extra="forbid")
    return int_adapter.validate_python(inputs.a + inputs.b)


def order_baseline() -> Any:
    inputs = OrderInputs.model_validate(ORDER, extra="forbid")
    total = Total(customer=inputs.customer, quantity=sum(i.quantity for i in inputs.items))
    return total_adapter.validate_python(total)


async def _async_batch(n: int) -> None:
    for _ in range(n):
        await AsyncAdd.run(a=1, b=2)


async def _async_baseline_batch(n: int) -> None:
    async def call() -> Any:
        return add_baseline()

    for _ in range(n):
        await call()


def median_seconds(fn: Callable[[], Any], number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number


def main() -> None:
    number, repeat = (2000, 5) if "--quick" in sys.argv else (20000, 7)
    loop = asyncio.new_event_loop()
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], int]] = [
        ("Add.run(a=1, b=2)", lambda: Add.run(a=1, b=2), add_baseline, number),
        ("PlaceOrder.run(10 items)", lambda: PlaceOrder.run(**ORDER), order_baseline, number // 4),
        (
            "await AsyncAdd.run(a=1, b=2)",
            lambda: loop.run_until_complete(_async_batch(100)),
            lambda: loop.run_until_complete(_async_baseline_batch(100)),
            max(1, number // 100),
        ),
        ("Add.run failing (a='x')", lambda: Add.run(a="x"), lambda: Add.run(a="x"), number // 4),
    ]
    assert Add.run(a=1, b=2).unwrap() == 3 and PlaceOrder.run(**ORDER).unwrap().quantity == 55
    print(f"{'case':32} {'run':>10} {'baseline':>10} {'ratio':>7}")
    for name, run, baseline, n in cases[:3]:
        run_time = median_seconds(run, n, repeat)
        base_time = median_seconds(baseline, n, repeat)
        scale = 100 if name.startswith("await") else 1
        run_us, base_us = run_time / scale * 1e6, base_time / scale * 1e6
        print(f"{name:32} {run_us:8.2f}us {base_us:8.2f}us {run_time / base_time:6.2f}x")
    name, run, _, n = cases[3]
    fail_time = median_seconds(run, n, repeat)
    ok_time = median_seconds(cases[0][1], number, repeat)
    print(f"{name:32} {fail_time * 1e6:8.2f}us {'(vs success)':>10} {fail_time / ok_time:6.2f}x")
    loop.close()


if __name__ == "__main__":
    main()
