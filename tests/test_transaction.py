"""Every run is a transaction on the resources it uses: committed on success, rolled back otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from foobara_py import AsyncCommand, Command, CouldNotProcessResultError, FrameworkUsageError


class Ledger:
    """A tiny transactional store: writes are staged and applied on commit."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.events: list[str] = []

    def begin(self) -> Ledger.Tx:
        self.events.append("begin")
        return Ledger.Tx(self)

    class Tx:
        def __init__(self, ledger: Ledger) -> None:
            self.ledger = ledger
            self.staged: list[str] = []

        def commit(self) -> None:
            self.ledger.rows.extend(self.staged)
            self.ledger.events.append("commit")

        def rollback(self) -> None:
            self.ledger.events.append("rollback")


class AsyncLedger(Ledger):
    async def begin(self) -> Ledger.Tx:  # type: ignore[override]
        return Ledger.begin(self)


class Entry(BaseModel):
    text: str


def staged(resource: Ledger) -> list[str]:
    from foobara_py.transactions import open_transactions

    return open_transactions()[resource].staged  # type: ignore[no-any-return, attr-defined]


def writer(ledger: Ledger) -> type[Command[Entry, str]]:
    class Write(Command[Entry, str]):
        transaction_resources = (ledger,)

        def validate(self) -> None:
            staged(ledger).append(f"validated {self.inputs.text}")
            if self.inputs.text == "invalid":
                self.add_input_error("text", "invalid")

        def execute(self) -> str:
            staged(ledger).append(self.inputs.text)
            if self.inputs.text == "boom":
                raise RuntimeError("boom")
            if self.inputs.text == "refuse":
                self.add_runtime_error("refused")
            if self.inputs.text == "bad result":
                return 42  # type: ignore[return-value]
            return self.inputs.text

    return Write


def test_success_commits() -> None:
    ledger = Ledger()
    assert writer(ledger).run(text="hello").unwrap() == "hello"
    assert ledger.events == ["begin", "commit"]
    assert ledger.rows == ["validated hello", "hello"]


@pytest.mark.parametrize("text", ["invalid", "refuse", "boom"])
def test_failure_or_exception_rolls_back(text: str) -> None:
    ledger = Ledger()
    assert writer(ledger).run(text=text).is_failure()
    assert ledger.events == ["begin", "rollback"]
    assert ledger.rows == []


def test_a_failure_in_validate_never_commits() -> None:
    ledger = Ledger()
    outcome = writer(ledger).run(text="invalid")
    assert outcome.error_keys == ["data.text.invalid"]
    assert "commit" not in ledger.events


def test_an_invalid_result_rolls_back_before_raising() -> None:
    ledger = Ledger()
    with pytest.raises(CouldNotProcessResultError):
        writer(ledger).run(text="bad result")
    assert ledger.events == ["begin", "rollback"]


def test_bad_inputs_roll_back() -> None:
    ledger = Ledger()
    assert writer(ledger).run(text=None).is_failure()
    assert ledger.events == ["begin", "rollback"]


def test_subcommands_join_the_callers_transaction() -> None:
    ledger = Ledger()
    Write = writer(ledger)

    class WriteTwo(Command[None, list[str]]):
        transaction_resources = (ledger,)
        depends_on = (Write,)

        def execute(self) -> list[str]:
            return [self.run_subcommand(Write, text="one"), self.run_subcommand(Write, text="two")]

    assert WriteTwo.run().unwrap() == ["one", "two"]
    assert ledger.events == ["begin", "commit"]
    assert ledger.rows == ["validated one", "one", "validated two", "two"]

    class WriteThenFail(WriteTwo):
        def execute(self) -> list[str]:
            super().execute()
            self.run_subcommand(Write, text="refuse")
            return []

    ledger.events.clear()
    outcome = WriteThenFail.run()
    assert outcome.error_keys == ["write>runtime.refused"]
    assert ledger.events == ["begin", "rollback"]
    assert ledger.rows == ["validated one", "one", "validated two", "two"]


async def test_async_commands_await_async_resources() -> None:
    ledger = AsyncLedger()

    class AsyncWrite(AsyncCommand[Entry, str]):
        transaction_resources = (ledger,)

        async def execute(self) -> Any:
            staged(ledger).append(self.inputs.text)
            if self.inputs.text == "refuse":
                self.add_runtime_error("refused")
            return self.inputs.text

    assert (await AsyncWrite.run(text="a")).unwrap() == "a"
    assert (await AsyncWrite.run(text="refuse")).is_failure()
    assert ledger.events == ["begin", "commit", "begin", "rollback"]
    assert ledger.rows == ["a"]


def test_a_sync_command_refuses_an_async_resource() -> None:
    ledger = AsyncLedger()

    class SyncWrite(Command[Entry, str]):
        transaction_resources = (ledger,)

        def execute(self) -> str:
            return self.inputs.text

    with pytest.raises(FrameworkUsageError, match=r"AsyncLedger\.begin is async"):
        SyncWrite.run(text="a")
