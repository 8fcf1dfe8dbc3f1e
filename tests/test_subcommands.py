"""Commands that run other commands: results, error prefixes, declarations and domain rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel, Field

from foobara_py import (
    AsyncCommand,
    CannotAccessDomainError,
    CannotRunAsyncSubcommandError,
    Command,
    Domain,
    Organization,
    SubcommandNotRegisteredError,
)

shop = Organization("Shop")
inventory = Domain("Inventory", organization=shop)
billing = Domain("Billing", organization=shop, depends_on=[inventory])
shipping = Domain("Shipping", organization="Shop")


class StockRequest(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


@inventory.command
class ReserveStock(Command[StockRequest, int]):
    def execute(self) -> int:
        if self.inputs.sku == "gone":
            self.add_runtime_error("out_of_stock", f"No {self.inputs.sku} left", context={"sku": self.inputs.sku})
        return self.inputs.quantity


class Card(BaseModel):
    card: str


class ChargeCard(Command[Card, str]):
    def execute(self) -> str:
        if self.inputs.card == "stolen":
            self.add_runtime_error("declined", "Card declined")
        return "charged"


class Order(BaseModel):
    sku: str
    quantity: int
    card: str = "ok"


@billing.command
class Checkout(Command[Order, dict[str, Any]]):
    depends_on = (ReserveStock, ChargeCard)

    def execute(self) -> dict[str, Any]:
        reserved = self.run_subcommand(ReserveStock, sku=self.inputs.sku, quantity=self.inputs.quantity)
        charge = self.run_subcommand(ChargeCard, card=self.inputs.card)
        return {"reserved": reserved, "charge": charge}


def test_a_subcommand_gives_its_result() -> None:
    assert Checkout.run(sku="apple", quantity=2).unwrap() == {"reserved": 2, "charge": "charged"}


def test_a_failed_subcommand_halts_with_its_errors_prefixed() -> None:
    outcome = Checkout.run(sku="gone", quantity=1)
    assert outcome.error_keys == ["shop::inventory::reserve_stock>runtime.out_of_stock"]
    error = outcome.errors[0]
    assert error.runtime_path == ("shop::inventory::reserve_stock",)
    assert error.to_dict()["runtime_path"] == ["shop::inventory::reserve_stock"]
    assert error.context == {"sku": "gone"}


def test_a_subcommands_input_errors_keep_their_category_and_path() -> None:
    outcome = Checkout.run(sku="apple", quantity=0)
    assert outcome.error_keys == ["shop::inventory::reserve_stock>data.quantity.below_minimum"]
    assert outcome.errors[0].path == ("quantity",)


def test_a_global_subcommand_is_prefixed_with_its_own_name() -> None:
    assert Checkout.run(sku="apple", quantity=1, card="stolen").error_keys == ["charge_card>runtime.declined"]


def test_runtime_paths_nest_outermost_first() -> None:
    class PlaceOrder(Command[Order, dict[str, Any]]):
        depends_on = (Checkout,)

        def execute(self) -> dict[str, Any]:
            return self.run_subcommand(Checkout, **self.inputs.model_dump())

    outcome = PlaceOrder.run(sku="gone", quantity=1)
    assert outcome.error_keys == ["shop::billing::checkout>shop::inventory::reserve_stock>runtime.out_of_stock"]
    assert outcome.errors[0].runtime_path == ("shop::billing::checkout", "shop::inventory::reserve_stock")


def test_an_exception_in_a_subcommand_is_its_execution_error() -> None:
    class Explode(Command[None, None]):
        def execute(self) -> None:
            raise KeyError("fuse")

    class Caller(Command[None, None]):
        depends_on = (Explode,)

        def execute(self) -> None:
            self.run_subcommand(Explode)

    assert Caller.run().error_keys == ["explode>runtime.execution_error"]


def test_an_undeclared_subcommand_raises() -> None:
    class Sneaky(Command[None, None]):
        def execute(self) -> None:
            self.run_subcommand(ChargeCard, card="x")

    with pytest.raises(SubcommandNotRegisteredError, match="depends_on"):
        Sneaky.run()


def test_a_domain_may_only_use_domains_it_depends_on() -> None:
    @shipping.command
    class Ship(Command[StockRequest, int]):
        depends_on = (ReserveStock,)

        def execute(self) -> int:
            return self.run_subcommand(ReserveStock, **self.inputs.model_dump())

    with pytest.raises(CannotAccessDomainError, match="Shop::Shipping"):
        Ship.run(sku="a", quantity=1)

    @inventory.command
    class Restock(Command[Order, dict[str, Any]]):
        depends_on = (Checkout,)

        def execute(self) -> dict[str, Any]:
            return self.run_subcommand(Checkout, **self.inputs.model_dump())

    # The dependency is one way: billing may use inventory, not the reverse.
    with pytest.raises(CannotAccessDomainError):
        Restock.run(sku="a", quantity=1)

    shipping.add_dependency(inventory)
    assert Ship.run(sku="a", quantity=1).unwrap() == 1


def test_global_commands_may_run_any_command_and_be_run_by_any() -> None:
    class Anywhere(Command[StockRequest, int]):
        depends_on = (ReserveStock,)

        def execute(self) -> int:
            return self.run_subcommand(ReserveStock, **self.inputs.model_dump())

    assert Anywhere.run(sku="a", quantity=3).unwrap() == 3
    # Checkout (Shop::Billing) runs the global ChargeCard in test_a_subcommand_gives_its_result.


class Delay(BaseModel):
    seconds: float
    fail_with: str | None = None


class Sleep(AsyncCommand[Delay, float]):
    async def execute(self) -> float:
        await asyncio.sleep(self.inputs.seconds)
        if self.inputs.fail_with:
            self.add_runtime_error(self.inputs.fail_with)
        return self.inputs.seconds


def test_a_sync_command_cannot_run_an_async_one() -> None:
    class SyncCaller(Command[None, float]):
        depends_on = (Sleep,)

        def execute(self) -> float:
            return self.run_subcommand(Sleep, seconds=0)  # type: ignore[return-value]

    with pytest.raises(CannotRunAsyncSubcommandError, match="AsyncCommand"):
        SyncCaller.run()


async def test_an_async_command_runs_sync_and_async_subcommands() -> None:
    class Mixed(AsyncCommand[None, list[Any]]):
        depends_on = (Sleep, ReserveStock)

        async def execute(self) -> list[Any]:
            slept = await self.run_subcommand(Sleep, seconds=0)
            reserved = await self.run_subcommand(ReserveStock, sku="a", quantity=2)
            return [slept, reserved]

    assert (await Mixed.run()).unwrap() == [0.0, 2]


async def test_concurrent_subcommands_keep_every_error() -> None:
    class Both(AsyncCommand[None, list[float]]):
        depends_on = (Sleep,)

        async def execute(self) -> list[float]:
            return list(
                await asyncio.gather(
                    self.run_subcommand(Sleep, seconds=0, fail_with="fast_failure"),
                    self.run_subcommand(Sleep, seconds=0.05, fail_with="slow_failure"),
                    self.run_subcommand(Sleep, seconds=0.01),
                )
            )

    outcome = await Both.run()
    assert sorted(outcome.error_keys) == ["sleep>runtime.fast_failure", "sleep>runtime.slow_failure"]


async def test_concurrent_subcommands_run_at_the_same_time() -> None:
    started: list[int] = []
    everyone_started = asyncio.Event()

    class Meet(AsyncCommand[None, int]):
        async def execute(self) -> int:
            started.append(1)
            if len(started) == 3:
                everyone_started.set()
            await everyone_started.wait()  # run one after another, this would never return
            return len(started)

    class Gathering(AsyncCommand[None, list[int]]):
        depends_on = (Meet,)

        async def execute(self) -> list[int]:
            return list(await asyncio.gather(*(self.run_subcommand(Meet) for _ in range(3))))

    outcome = await asyncio.wait_for(Gathering.run(), timeout=10)
    assert outcome.unwrap() == [3, 3, 3]
