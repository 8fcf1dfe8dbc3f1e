"""The connector core: what is connected is all that can be found, run and described."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from foobara_py import Command, CommandNotFoundError
from foobara_py.connectors import CommandNotConnectedError, Connector
from foobara_py.connectors.core import SERIALIZERS, AlreadyConnectedError, serialize
from tests import acme
from tests.conftest import load_fixture
from tests.connectors import sample
from tests.test_manifest import compare

ACME_COMMANDS = ["Acme::Math::Add", "Acme::Math::Divide", "Acme::Math::CreateUser", "Acme::Math::RegisterUser"]


def names(connector: Connector) -> list[str]:
    return [connection.full_name for connection in connector.connections]


@pytest.mark.parametrize("target", [acme.acme, "Acme", acme.math, "Acme::Math", "Acme/Math"])
def test_an_organization_or_a_domain_connects_its_commands(target: Any) -> None:
    assert names(Connector(target)) == ACME_COMMANDS


@pytest.mark.parametrize("target", [acme.Add, "Acme::Math::Add", "Acme/Math/Add"])
def test_a_command_connects_alone(target: Any) -> None:
    connector = Connector()
    [connection] = connector.connect(target)
    assert connection.command is acme.Add
    assert names(connector) == ["Acme::Math::Add"]


def test_abstract_commands_are_not_connected() -> None:
    connected = Connector(sample.tools).commands
    assert sample.Concrete in connected and sample.Base not in connected
    with pytest.raises(TypeError, match="abstract"):
        Connector(sample.Base)


def test_connecting_a_command_twice_raises_and_connects_nothing_more() -> None:
    connector = Connector(acme.Add)
    with pytest.raises(AlreadyConnectedError, match=r"Acme::Math::Add is already connected"):
        connector.connect(acme.math)
    assert names(connector) == ["Acme::Math::Add"]
    with pytest.raises(AlreadyConnectedError):
        connector.connect("Acme::Math::Add")


def test_connecting_an_unknown_name_raises() -> None:
    with pytest.raises(CommandNotFoundError, match="Acme::Nope"):
        Connector("Acme::Nope")
    with pytest.raises(TypeError):
        Connector(42)  # type: ignore[arg-type]


def test_find_takes_full_names_paths_and_unambiguous_short_names() -> None:
    connector = Connector(acme.acme, sample.other)
    for name in ["Acme::Math::Divide", "Acme/Math/Divide", "Divide", "Math::Divide", "Math/Divide"]:
        assert connector.lookup(name).command is acme.Divide, name
    assert connector.find("Add") is None  # Acme::Math::Add or ConnectorTests::Other::Add
    assert connector.lookup("Other::Add").command is sample.Add
    for name in ["", "Nope", "../manifest", "Acme::Math::Divide::", "ath::Divide"]:
        assert connector.find(name) is None, name
    with pytest.raises(CommandNotConnectedError, match="Could not find command registered for Acme::Math::Nope"):
        connector.lookup("Acme/Math/Nope")


def test_a_registered_command_that_is_not_connected_cannot_be_found_run_or_described() -> None:
    connector = Connector(acme.Add)
    assert connector.find("Acme::Math::Divide") is None
    outcome = connector.run("Acme::Math::Divide", {"dividend": 1, "divisor": 1})
    assert serialize(outcome) == [
        {
            "key": "runtime.not_found",
            "path": [],
            "runtime_path": [],
            "category": "runtime",
            "symbol": "not_found",
            "message": "Could not find command registered for Acme::Math::Divide",
            "context": {"not_found": "Acme::Math::Divide"},
            "is_fatal": False,
        }
    ]
    assert list(connector.manifest()["command"]) == ["Acme::Math::Add"]


def test_run_gives_the_commands_outcome() -> None:
    connector = Connector(acme.acme)
    assert connector.run("Add", {"a": 1, "b": "2"}).result == 3
    outcome = connector.run("Acme/Math/Divide", {"dividend": 7, "divisor": 0})
    assert outcome.errors == acme.Divide.run(dividend=7, divisor=0).errors
    assert serialize(connector.run("Add", {"a": 1, "c": 3}))[0]["key"] == "data.unexpected_attributes"


def test_an_async_command_runs_from_sync_code() -> None:
    assert Connector(sample.AsyncThreadName).run("AsyncThreadName").result == threading.current_thread().name


async def test_arun_runs_a_sync_command_in_a_worker_thread_and_an_async_one_on_the_loop() -> None:
    connector = Connector(sample.tools)
    here = threading.current_thread().name
    sync_outcome = await connector.arun("ThreadName")
    assert sync_outcome.is_success() and sync_outcome.result != here
    async_outcome = await connector.arun("AsyncThreadName", {"seconds": 0})
    assert async_outcome.result == here
    assert serialize(await connector.arun("Nope"))[0]["key"] == "runtime.not_found"


async def test_an_exception_that_escapes_a_run_is_an_unknown_error_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector = Connector(sample.tools)
    with caplog.at_level(logging.ERROR, logger="foobara_py.connectors"):
        for outcome in (connector.run("BadResult"), await connector.arun("BadResult")):
            [error] = serialize(outcome)
            assert error["key"] == "runtime.unknown_error"
            assert "hunter2" not in str(error)  # what the exception says stays in the log
    said = "Unexpected error running ConnectorTests::Tools::BadResult (foobara_py.errors.CouldNotProcessResultError: "
    assert len(caplog.records) == 2 and all(record.message.startswith(said) for record in caplog.records)
    assert all(record.exc_info for record in caplog.records)
    # An exception in the command's own code is the command's outcome, as its run gives it.
    assert serialize(connector.run("Explode"))[0]["key"] == "runtime.execution_error"


def test_serialize_writes_results_without_their_secrets() -> None:
    outcome = Connector(sample.SignIn).run("SignIn", {"username": "ada", "password": "hunter2"})
    assert outcome.result is not None and outcome.result.token == "token-of-hunter2"
    assert serialize(outcome) == {"username": "ada"}


def test_the_manifest_is_rubys_connector_manifest() -> None:
    ruby = load_fixture("ruby_acme", "manifest.json")
    ours = Connector(acme.acme).manifest()
    assert compare(ours, ruby, connector=True) == []
    for category in ruby:
        assert set(ours[category]) == set(ruby[category]), category
    for name, entry in ruby["command"].items():
        assert ours["command"][name]["serializers"] == entry["serializers"] == list(SERIALIZERS)


def test_the_manifest_leaves_out_sensitive_attributes_and_what_is_not_connected() -> None:
    data = Connector(sample.SignIn).manifest()
    assert list(data["command"]) == ["ConnectorTests::Tools::SignIn"]
    entry = data["command"]["ConnectorTests::Tools::SignIn"]
    assert list(entry["inputs_type"]["element_type_declarations"]) == ["username"]
    assert "password" not in str(data) and "token" not in str(data)
    assert Connector().manifest() == {"command": {}, "domain": {}, "error": {}, "organization": {}, "type": {}}


def test_the_manifest_follows_what_is_connected() -> None:
    connector = Connector(acme.Add)
    assert list(connector.manifest()["command"]) == ["Acme::Math::Add"]
    connector.connect(acme.Divide)
    assert list(connector.manifest()["command"]) == ["Acme::Math::Add", "Acme::Math::Divide"]
    assert connector.manifest() is connector.manifest()  # cached


def test_the_core_needs_no_http_library() -> None:
    script = """
import sys
sys.modules["starlette"] = None  # as if it were not installed
sys.modules["uvicorn"] = None
from foobara_py.connectors import Connector
import tests.acme
connector = Connector(tests.acme.acme)
assert connector.run("Add", {"a": 1}).result == 1
try:
    connector.asgi()
except ImportError as exc:
    print(exc)
"""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=Path(__file__).parents[2], check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "The HTTP connector needs Starlette: pip install 'foobara-py[http]'"


class _Leaky(Command[sample.Login, int]):
    """Returns its inputs, a secret among them, as a result that does not fit: an exception
    that escapes the run, whose message quotes the secret."""

    def execute(self) -> int:
        result: Any = f"{self.inputs.username}:{self.inputs.password}"
        return result  # type: ignore[no-any-return]


async def test_capture_unknown_error_tells_the_exception_without_the_inputs_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    connector = Connector()
    connector.connect(_Leaky, capture_unknown_error=True)
    connector.connect(sample.BadResult)  # not captured: as before
    inputs = {"username": "ada", "password": "hunter2"}
    with caplog.at_level(logging.ERROR, logger="foobara_py.connectors"):
        for outcome in (connector.run("_Leaky", inputs), await connector.arun("_Leaky", inputs)):
            [error] = serialize(outcome)
            assert error["key"] == "runtime.unknown_error"
            assert error["message"] == (
                "_Leaky returned a result that does not fit its result type: Cannot cast "
                '"ada:[FILTERED]" to an integer. Expected it to be a Integer, or be a string of digits '
                "optionally with a minus sign in front"
            )
            assert error["context"] == {"exception_class": "foobara_py.errors.CouldNotProcessResultError"}
        assert serialize(connector.run("BadResult"))[0]["message"] == "Unexpected error"
    assert len(caplog.records) == 3  # always logged
    entry = connector.manifest()["command"][_Leaky.full_name()]
    assert entry["capture_unknown_error"] is True
    assert "capture_unknown_error" not in connector.manifest()["command"]["ConnectorTests::Tools::BadResult"]


@pytest.mark.parametrize("capture", [False, True])
async def test_an_unexpected_errors_log_line_holds_no_secret_of_the_inputs(
    capture: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged with its traceback for the operator, the inputs' secrets filtered there too."""
    connector = Connector()
    connector.connect(_Leaky, capture_unknown_error=capture)
    inputs = {"username": "ada", "password": "hunter2"}
    with caplog.at_level(logging.ERROR, logger="foobara_py.connectors"):
        connector.run("_Leaky", inputs)
        await connector.arun("_Leaky", inputs)
    assert [record.levelno for record in caplog.records] == [logging.ERROR, logging.ERROR]
    assert "Unexpected error running _Leaky" in caplog.text
    assert 'Cannot cast "ada:[FILTERED]" to an integer' in caplog.text
    assert "CouldNotProcessResultError" in caplog.text and "Traceback" in caplog.text
    assert "hunter2" not in caplog.text
