"""The MCP door through the SDK's own client, over stdio (a subprocess) and streamable HTTP (a real
uvicorn server): tools with their schemas, Ruby's answers for Acme::Math (differences as
docs/differences.md lists them), failures as tool results with Foobara's error hashes."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.shared.tool_name_validation import TOOL_NAME_REGEX
from mcp_types import METHOD_NOT_FOUND, CallToolResult

import foobara_py
from foobara_py import persistence, registry
from foobara_py.connectors import Connector
from foobara_py.connectors.mcp import SERVER_NAME, command_name, mcp_app, tool_name
from foobara_py.persistence.memory import MemoryStore
from foobara_py.schema import inputs_json_schema
from tests import acme
from tests.conftest import load_fixture
from tests.connectors import sample, transformed
from tests.connectors.serving import serve
from tests.persistence import library
from tests.test_ruby_outcomes import EMAIL_REGEXES

RUBY = load_fixture("ruby_acme", "mcp.json")
CASES = {case["case"]: case for case in RUBY["cases"]}
ROOT = Path(__file__).parents[2]
SOURCE = Path(foobara_py.__file__).parents[1]

# The stdio server: the test's connector in a process of its own.
SERVER_SCRIPT = """
from foobara_py.connectors import Connector
from foobara_py.connectors.mcp import serve_stdio
from tests import acme
from tests.connectors import sample

serve_stdio(Connector(acme.math, sample.AsyncThreadName, sample.ThreadName, sample.SignIn, sample.Grüße))
"""
CHILD_ENV = {"PYTHONPATH": os.pathsep.join([str(SOURCE), str(ROOT)])}

TOOLS = [
    "Acme.Math.Add",
    "Acme.Math.Divide",
    "Acme.Math.CreateUser",
    "Acme.Math.RegisterUser",
    "ConnectorTests.Tools.AsyncThreadName",
    "ConnectorTests.Tools.ThreadName",
    "ConnectorTests.Tools.SignIn",
    "ConnectorTests.Tools.Gr-u00FC--u00DF-e",  # ConnectorTests::Tools::Grüße
]


def connector() -> Connector:
    return Connector(acme.math, sample.AsyncThreadName, sample.ThreadName, sample.SignIn, sample.Grüße)


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with serve(mcp_app(connector())) as url:
        yield f"{url}/mcp"


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def session(transport: str, mcp_url: str) -> AsyncIterator[Client]:
    if transport == "stdio":
        server: StdioServerParameters | str = StdioServerParameters(
            command=sys.executable, args=["-c", SERVER_SCRIPT], env=CHILD_ENV, cwd=ROOT
        )
    else:
        server = mcp_url
    async with Client(server) as client:
        yield client


def text_json(result: CallToolResult) -> Any:
    assert len(result.content) == 1 and result.content[0].type == "text"
    return json.loads(result.content[0].text)


def ruby_call(name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A Ruby `tools/call` case: its tool (named our way), arguments and JSON-RPC response."""
    case = CASES[name]
    params = json.loads(case["request"])["params"]
    return tool_name(params["name"]), params.get("arguments", {}), case["responses_parsed"][0]


def test_tool_names_are_valid_and_round_trip() -> None:
    names = [command.full_name() for command in registry.current().commands()]
    assert "Acme::Math::Add" in names and tool_name("Acme::Math::Add") == "Acme.Math.Add"
    assert "ConnectorTests::Tools::Grüße" in names
    for name in [*names, "Ünter::_\U0001d518nicode9", "A::B::Ω_ω", "Odd.name::with-dash:colon"]:
        assert TOOL_NAME_REGEX.fullmatch(tool_name(name)), name
        assert command_name(tool_name(name)) == name
    assert command_name("Acme::Math::Add") == "Acme::Math::Add"  # a name in `::` form stays as it is
    assert command_name("Gr-u00fc--uZZ-e") == "Gr-u00fc--uZZ-e"  # not an escape: no command has it


async def test_a_command_named_outside_ascii_is_a_tool_with_a_valid_name(transport: str, mcp_url: str) -> None:
    async with session(transport, mcp_url) as client:
        [tool] = [tool for tool in (await client.list_tools()).tools if "Gr" in tool.name]
        assert tool.name == "ConnectorTests.Tools.Gr-u00FC--u00DF-e"
        assert TOOL_NAME_REGEX.fullmatch(tool.name)
        result = await client.call_tool(tool.name, {"name": "Ada"})
        assert not result.is_error and text_json(result) == "Grüß Gott, Ada"
        # As Ruby's connector takes a command's own name, a call may name it as it is too.
        assert text_json(await client.call_tool("ConnectorTests::Tools::Grüße", {"name": "Bo"})) == "Grüß Gott, Bo"


async def test_tools_are_the_connected_commands_with_their_schemas(transport: str, mcp_url: str) -> None:
    async with session(transport, mcp_url) as client:
        assert client.server_info is not None and client.server_info.name == SERVER_NAME
        assert client.server_info.version == foobara_py.__version__
        assert client.instructions == CASES["initialize_2025_03_26"]["responses_parsed"][0]["result"]["instructions"]
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert list(tools) == TOOLS
    ruby_tools = CASES["tools_list"]["responses_parsed"][0]["result"]["tools"]
    for ruby in ruby_tools:
        if ruby["name"] == "Acme::Math::Summarize":  # from Ruby's acme_extra.rb: not in tests/acme.py
            continue
        tool = tools[tool_name(ruby["name"])]
        assert tool.description == ruby["description"]
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["required"] == ruby["inputSchema"]["required"]
        assert list(tool.input_schema["properties"]) == list(ruby["inputSchema"]["properties"])
    assert tools["Acme.Math.Add"].input_schema == inputs_json_schema(acme.Add, remove_sensitive=True)
    # A result that is not an object is wrapped; an object result is the schema itself.
    assert tools["Acme.Math.Add"].output_schema == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }
    assert tools["Acme.Math.CreateUser"].output_schema is not None
    assert tools["Acme.Math.CreateUser"].output_schema["type"] == "object"
    assert set(tools["Acme.Math.CreateUser"].output_schema["properties"]) == {"name", "email", "greeting"}
    # A sensitive input stays, write-only and without a default (an agent must be able to send it);
    # a sensitive result attribute is left out.
    sign_in = tools["ConnectorTests.Tools.SignIn"].input_schema
    assert sign_in["properties"]["password"] == {"type": "string", "writeOnly": True}
    assert "password" in sign_in["required"]
    assert "token" not in (tools["ConnectorTests.Tools.SignIn"].output_schema or {})["properties"]


SUCCESSES = [
    "tools_call_add_ok",
    "tools_call_add_default_b",
    "tools_call_add_string_digits_cast",
    "tools_call_add_short_name",
    "tools_call_divide_ok",
    "tools_call_create_user_nested",
    "tools_call_register_user_model",
]


async def test_successes_match_rubys(transport: str, mcp_url: str) -> None:
    async with session(transport, mcp_url) as client:
        for case in SUCCESSES:
            name, arguments, response = ruby_call(case)
            result = await client.call_tool(name, arguments)
            ruby = json.loads(response["result"]["content"][0]["text"])
            if case == "tools_call_register_user_model":
                ruby["email"] = None  # a model's unset optional attribute is written as null
            assert not result.is_error, case
            assert text_json(result) == ruby, case
            structured = ruby if isinstance(ruby, dict) else {"result": ruby}
            assert result.structured_content == structured, case


FAILURES = [
    "tools_call_add_cannot_cast_data_error",
    "tools_call_add_missing_required",
    "tools_call_add_unexpected_input",
    "tools_call_add_two_errors",
    "tools_call_divide_by_zero_runtime_error",
    "tools_call_create_user_bad_email",
]


async def test_failures_are_tool_results_with_rubys_error_hashes(transport: str, mcp_url: str) -> None:
    async with session(transport, mcp_url) as client:
        for case in FAILURES:
            name, arguments, response = ruby_call(case)
            result = await client.call_tool(name, arguments)
            errors = copy.deepcopy(list(response["error"]["data"].values()))
            if case == "tools_call_create_user_bad_email":
                for error in errors:  # the value, and the regex in Python's syntax (differences.md)
                    error["context"].update(value="nope", regex=EMAIL_REGEXES[error["symbol"]])
            assert result.is_error, case
            assert result.structured_content is None
            assert text_json(result) == errors, case


async def test_no_arguments_is_an_empty_object(transport: str, mcp_url: str) -> None:
    _, _, response = ruby_call("tools_call_add_no_arguments_key")
    async with session(transport, mcp_url) as client:
        result = await client.call_tool("Acme.Math.Add")
    assert result.is_error
    assert text_json(result) == list(response["error"]["data"].values())


async def test_async_commands_run_on_the_loop_and_sync_ones_in_a_thread(transport: str, mcp_url: str) -> None:
    async with session(transport, mcp_url) as client:
        on_loop = await client.call_tool("ConnectorTests.Tools.AsyncThreadName", {"seconds": 0.01})
        in_thread = await client.call_tool("ConnectorTests.Tools.ThreadName", {})
    assert not on_loop.is_error and not in_thread.is_error
    loop_thread, worker_thread = text_json(on_loop), text_json(in_thread)
    assert on_loop.structured_content == {"result": loop_thread}
    assert isinstance(loop_thread, str) and isinstance(worker_thread, str)
    assert loop_thread != worker_thread
    if transport == "stdio":
        assert loop_thread == "MainThread"


async def test_a_sensitive_result_attribute_is_left_out(transport: str, mcp_url: str) -> None:
    async with session(transport, mcp_url) as client:
        result = await client.call_tool("ConnectorTests.Tools.SignIn", {"username": "ada", "password": "hunter2"})
    assert not result.is_error
    assert text_json(result) == {"username": "ada"} == result.structured_content
    assert "hunter2" not in result.model_dump_json()


async def test_an_unknown_tool_is_rubys_method_not_found_and_the_server_keeps_serving(
    transport: str, mcp_url: str
) -> None:
    _, _, response = ruby_call("tools_call_unknown_tool")
    async with session(transport, mcp_url) as client:
        for name in ["Acme.Math.Nope", "ConnectorTests.Tools.BadResult"]:  # unknown; registered, not connected
            with pytest.raises(MCPError) as raised:
                await client.call_tool(name, {"a": 1})
            assert raised.value.error.code == METHOD_NOT_FOUND == response["error"]["code"]
            assert raised.value.error.message == f"Could not find command registered for {command_name(name)}"
        assert text_json(await client.call_tool("Acme.Math.Add", {"a": 1, "b": 2})) == 3


# --- Ruby's own JSON-RPC lines, written to the stdio server as they are -------------------------


@pytest.fixture
def stdio_process() -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **CHILD_ENV},
    )
    yield process
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    process.stdin.close()  # the server ends when its input does
    stderr = process.stderr.read()
    assert process.wait(10) == 0
    process.stdout.close()
    process.stderr.close()
    assert "Traceback" not in stderr, stderr


def exchange(process: subprocess.Popen[str], line: str) -> dict[str, Any]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()
    answer: dict[str, Any] = json.loads(process.stdout.readline())
    return answer


def test_rubys_session_over_stdio(stdio_process: subprocess.Popen[str]) -> None:
    lines = RUBY["session"]["stdin_lines"]
    ruby = [json.loads(line) for line in RUBY["session"]["stdout_lines"]]
    initialized = exchange(stdio_process, lines[0])["result"]
    assert initialized["protocolVersion"] == ruby[0]["result"]["protocolVersion"] == "2025-03-26"
    assert initialized["serverInfo"]["name"] == ruby[0]["result"]["serverInfo"]["name"]
    assert initialized["instructions"] == ruby[0]["result"]["instructions"]
    assert initialized["capabilities"]["tools"] == {"listChanged": False}
    assert stdio_process.stdin is not None
    stdio_process.stdin.write(lines[1] + "\n")  # notifications/initialized: no answer
    listed = exchange(stdio_process, lines[2])["result"]["tools"]
    assert [tool["name"] for tool in listed] == TOOLS
    added = exchange(stdio_process, lines[3])
    assert added["id"] == 2 and added["result"]["content"] == ruby[2]["result"]["content"]
    failed = exchange(stdio_process, lines[4])["result"]
    assert failed["isError"] is True
    assert json.loads(failed["content"][0]["text"]) == list(ruby[3]["error"]["data"].values())
    unknown = exchange(stdio_process, lines[5])
    assert unknown["error"]["code"] == ruby[4]["error"]["code"]
    assert unknown["error"]["message"] == ruby[4]["error"]["message"]
    assert exchange(stdio_process, lines[6]) == {"jsonrpc": "2.0", "id": 5, "result": {}}  # ping


# Ruby's requests its connector answers badly (a crash without a reply, -32600 for a request that is
# well-formed): each gets the SDK's proper JSON-RPC error, and the server keeps serving.
BAD_REQUESTS = {
    "tools_call_arguments_array": -32602,
    "tools_call_arguments_number": -32602,
    "tools_call_missing_name": -32602,
    "unsupported_method_resources_list": METHOD_NOT_FOUND,
    "unsupported_method_prompts_list": METHOD_NOT_FOUND,
    "unknown_method": METHOD_NOT_FOUND,
}


def test_bad_requests_get_json_rpc_errors(stdio_process: subprocess.Popen[str]) -> None:
    lines = RUBY["session"]["stdin_lines"]
    exchange(stdio_process, lines[0])
    assert stdio_process.stdin is not None
    stdio_process.stdin.write(lines[1] + "\n")
    for case, code in BAD_REQUESTS.items():
        request = json.loads(CASES[case]["request"])
        answer = exchange(stdio_process, CASES[case]["request"])
        assert answer["id"] == request["id"], case
        assert answer["error"]["code"] == code, case
    # Lines that are not one JSON-RPC message, and notifications, are dropped without an answer:
    # the next line written is the answer to the next request.
    for case in [
        "invalid_json",
        "request_is_a_number",
        "batch_mixed",
        "batch_empty",
        "bad_jsonrpc_version",
        "tools_call_as_notification",
        "tools_call_notification_with_error",
    ]:
        stdio_process.stdin.write(CASES[case]["request"] + "\n")
    answer = exchange(stdio_process, lines[3])
    assert answer["id"] == 2 and answer["result"]["content"] == [{"type": "text", "text": "3"}]


# --- connections with transformers and the aggregate serializer ---------------------------------

TRANSFORMED_SCRIPT = """
from foobara_py import persistence
from foobara_py.connectors.mcp import serve_stdio
from tests.connectors import transformed
from tests.persistence import library

persistence.configure("memory://", entities=[library.Author, library.Book])
serve_stdio(transformed.connector)
"""


@pytest.fixture(scope="module")
def transformed_url() -> Iterator[str]:
    store = persistence.configure(MemoryStore("memory://"), entities=[library.Author, library.Book])
    try:
        with serve(mcp_app(transformed.connector)) as url:
            yield f"{url}/mcp"
    finally:
        persistence.reset()
        store.close()


@asynccontextmanager
async def transformed_session(transport: str, url: str) -> AsyncIterator[Client]:
    server = StdioServerParameters(command=sys.executable, args=["-c", TRANSFORMED_SCRIPT], env=CHILD_ENV, cwd=ROOT)
    async with Client(server if transport == "stdio" else url) as client:
        yield client


async def test_a_tool_takes_and_describes_what_its_connection_does(transport: str, transformed_url: str) -> None:
    async with transformed_session(transport, transformed_url) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    connection = transformed.connector.lookup("Publish")
    publish = tools["DoorTests.Desk.Publish"]
    # Rejected and set inputs are not there; nor are a rejected or sensitive result attribute.
    assert publish.input_schema == connection.inputs_json_schema(remove_sensitive=False)
    assert list(publish.input_schema["properties"]) == ["text", "tags"]
    assert publish.input_schema["additionalProperties"] is False
    assert publish.output_schema == connection.result_json_schema()
    assert list((publish.output_schema or {})["properties"]) == ["text", "author", "door", "tags"]
    preview = tools["DoorTests.Desk.Preview"]
    assert list(preview.input_schema["properties"]) == ["text", "tags"]
    assert list((preview.output_schema or {})["properties"]) == ["text", "tags"]
    # A function of the result makes it any JSON value: wrapped, as a result that is not an object.
    assert tools["DoorTests.Desk.Measure"].output_schema == {
        "type": "object",
        "properties": {"result": {}},
        "required": ["result"],
    }


async def test_a_call_answers_what_its_connection_serializes(transport: str, transformed_url: str) -> None:
    # The SDK's client checks each structured result against the tool's output schema.
    async with transformed_session(transport, transformed_url) as client:
        published = await client.call_tool("DoorTests.Desk.Publish", {"text": "hi", "tags": ["a"]})
        expected = {"text": "hi", "author": "anonymous", "door": "mcp", "tags": ["a"]}
        assert text_json(published) == expected == published.structured_content
        previewed = await client.call_tool("DoorTests.Desk.Preview", {"text": "hi"})
        assert text_json(previewed) == {"text": "hi", "tags": []} == previewed.structured_content
        measured = await client.call_tool("DoorTests.Desk.Measure", {"text": "hello", "draft": True})
        assert text_json(measured) == 5 and measured.structured_content == {"result": 5}
        # The aggregate serializer writes the records the result reaches whole.
        author = text_json(await client.call_tool("Test.Shelf.CreateAuthor", {"name": "Le Guin"}))
        book = text_json(await client.call_tool("Test.Shelf.CreateBook", {"title": "Tehanu", "author": author["id"]}))
        assert book["author"] == author["id"]
        found = await client.call_tool("Test.Shelf.FindBook", {"book": book["id"]})
        assert not found.is_error
        assert text_json(found) == {**book, "author": author}
        assert found.structured_content == {"result": text_json(found)}
        counted = await client.call_tool("Test.Shelf.CountCopies", {"books": [book["id"], book["id"]]})
        assert text_json(counted) == 0


async def test_an_input_the_connection_takes_away_is_refused(transport: str, transformed_url: str) -> None:
    async with transformed_session(transport, transformed_url) as client:
        for tool, name, value in [
            ("DoorTests.Desk.Publish", "author", "eve"),  # set from a header
            ("DoorTests.Desk.Publish", "door", "http"),  # set by a function
            ("DoorTests.Desk.Publish", "draft", True),  # rejected
            ("DoorTests.Desk.Preview", "author", "eve"),  # not in `only`
        ]:
            result = await client.call_tool(tool, {"text": "hi", name: value})
            assert result.is_error and result.structured_content is None
            [error] = text_json(result)
            assert error["key"] == "data.unexpected_attributes"
            assert error["context"] == {"unexpected_attributes": [name], "allowed_attributes": ["text", "tags"]}
