"""Bad input and security, through every door with real parts: uvicorn on 127.0.0.1 driven by httpx
(and by raw sockets where httpx would tidy the path), the `foobara` CLI as a subprocess, and MCP
through the SDK's client over stdio (`foobara mcp`) and streamable HTTP.

Each bad request gets a clean 4xx with a JSON error body and the server keeps serving; no traceback
reaches a client; what is not connected cannot be reached; secrets never leave (responses,
manifests, /openapi.json, MCP schemas and results, log lines)."""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from mcp import Client, MCPError, StdioServerParameters

import foobara_py
from foobara_py.connectors import Connector
from foobara_py.connectors.mcp import tool_name
from tests import acme
from tests.connectors import hostile
from tests.connectors.serving import serve
from tests.servers import free_port

JSON = "application/json"
ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(foobara_py.__file__).parents[1]), str(ROOT)])}
MODULE = "tests/connectors/hostile.py"
# The server's loggers (the test's own MCP client logs what it sends: not the server's business).
LOGGERS = ("foobara_py", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "mcp.server", "starlette")


def connector() -> Connector:
    """Acme::Math::Add and the hostile commands; Acme::Math::Divide and Hidden are registered,
    never connected."""
    found = hostile.connector()
    found.connect(acme.Add)
    return found


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(connector().asgi()) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def raw(url: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    """A request whose path is sent exactly as written (httpx would resolve `..` and `//`)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("content-type"), response.read()
    finally:
        connection.close()


def still_serving(client: httpx.Client) -> None:
    response = client.post("/run/Acme::Math::Add", json={"a": 1, "b": 2})
    assert (response.status_code, response.json()) == (200, 3), "the server stopped serving"


def clean_error(status: int, content_type: str | None, body: bytes, expected_status: int, key: str) -> None:
    assert status == expected_status, body[:300]
    assert content_type == JSON
    errors = json.loads(body)
    assert isinstance(errors, list) and errors, errors
    assert errors[0]["key"] == key, errors
    assert b"Traceback" not in body


# --- 1. bad requests over HTTP ------------------------------------------------------------------

BAD_BODIES = [
    (b'{"a": 1', JSON, 400, "data.invalid_json"),
    (b"{'a': 1}", JSON, 400, "data.invalid_json"),
    (b"[1, 2]", JSON, 400, "data.body_not_an_object"),
    (b"42", JSON, 400, "data.body_not_an_object"),
    (b"[" * 200_000, JSON, 400, "data.invalid_json"),
    (b'{"a":' * 200_000, JSON, 400, "data.invalid_json"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, JSON, 400, "data.invalid_json"),
    (b'{"a": 1}', "multipart/form-data; boundary=xyz", 415, "data.unsupported_media_type"),
    (b'{"a": 1}', "application/xml", 415, "data.unsupported_media_type"),
    (b'{"a": 1}', "text/xml; charset=utf-8", 415, "data.unsupported_media_type"),
    (b'{"a": 1}', "text/html", 415, "data.unsupported_media_type"),
    (b'{"a": 1}', "application/octet-stream", 415, "data.unsupported_media_type"),
    (b'{"a": 1}', "image/png", 415, "data.unsupported_media_type"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "key"), BAD_BODIES)
def test_a_bad_body_is_a_clean_4xx(client: httpx.Client, body: bytes, content_type: str, status: int, key: str) -> None:
    response = client.post("/run/Acme::Math::Add", content=body, headers={"content-type": content_type})
    clean_error(response.status_code, response.headers.get("content-type"), response.content, status, key)
    still_serving(client)


def test_an_unsupported_media_type_says_which() -> None:
    with serve(connector().asgi(mcp=False)) as base:
        response = httpx.post(f"{base}/run/Add", content=b"<a>1</a>", headers={"content-type": "Application/XML"})
    assert response.status_code == 415
    assert response.json() == [
        {
            "key": "data.unsupported_media_type",
            "path": [],
            "runtime_path": [],
            "category": "data",
            "symbol": "unsupported_media_type",
            "message": "The request body must be a JSON object (application/json), not application/xml",
            "context": {"content_type": "application/xml"},
            "is_fatal": False,
        }
    ]


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.api+json",
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",  # what `curl -d '{"a":1}'` sends
    ],
)
def test_a_json_body_is_read_whatever_type_may_hold_it(client: httpx.Client, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = client.post("/run/Acme::Math::Add", content=b'{"a": 1, "b": 2}', headers=headers)
    assert (response.status_code, response.json()) == (200, 3)


def test_curl_d_works() -> None:
    with serve(connector().asgi(mcp=False)) as base:
        completed = subprocess.run(
            ["curl", "-s", "-w", "\\n%{http_code}", "-d", '{"a": 1, "b": 2}', f"{base}/run/Acme::Math::Add"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
    assert completed.stdout.splitlines() == ["3", "200"]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_64_mib_body_is_a_413(client: httpx.Client, chunked: bool) -> None:
    body = b'{"a": 1}'.ljust(64 * 1024 * 1024)
    mib = 1024 * 1024
    content: Any = (body[i : i + mib] for i in range(0, len(body), mib)) if chunked else body
    response = client.post("/run/Acme::Math::Add", content=content, headers={"content-type": JSON})
    clean_error(
        response.status_code, response.headers.get("content-type"), response.content, 413, "data.body_too_large"
    )
    still_serving(client)


PATHS = [
    ("POST", "/run/Acme::Math::Nope", 404),
    ("GET", "/run/Nope", 404),
    ("POST", "/run/../manifest", 404),
    ("GET", "/run/../manifest", 404),
    ("GET", "/run/%2e%2e/manifest", 404),
    ("GET", "/run/..%2fmanifest", 404),
    ("POST", "//run//Add", 404),
    ("POST", "/run//Add", 404),
    ("POST", "/run/Acme//Math/Add", 404),
    ("POST", "/run/Add%00", 404),
    ("POST", "/run/%ff", 404),
    ("GET", "/nope", 404),
    ("PUT", "/run/Add", 405),
    ("DELETE", "/manifest", 405),
]


@pytest.mark.parametrize(("method", "path", "status"), PATHS)
def test_unknown_commands_and_path_tricks_are_clean_4xx(
    client: httpx.Client, url: str, method: str, path: str, status: int
) -> None:
    answer = raw(url, method, path, b'{"a": 1}' if method == "POST" else b"", {"content-type": JSON})
    key = "runtime.not_found" if status == 404 else "runtime.method_not_allowed"
    clean_error(*answer, status, key)
    still_serving(client)


def test_an_encoded_name_is_the_name(url: str) -> None:
    status, _, body = raw(url, "POST", "/run/Acme%3A%3AMath%3A%3AAdd", b'{"a": 4}', {"content-type": JSON})
    assert (status, json.loads(body)) == (200, 4)


# --- 3. what is not connected cannot be reached ----------------------------------------------

# Registered, never connected, by every name a connected command could be called by.
UNCONNECTED = [
    "Acme::Math::Divide",
    "Acme/Math/Divide",
    "Math::Divide",
    "Divide",
    "Acme%3A%3AMath%3A%3ADivide",
    "SecurityTests::Vault::Hidden",
    "SecurityTests/Vault/Hidden",
    "Vault::Hidden",
    "Hidden",
]


@pytest.mark.parametrize("name", UNCONNECTED)
def test_an_unconnected_command_is_not_found_over_http(client: httpx.Client, url: str, name: str) -> None:
    body = b'{"dividend": 4, "divisor": 2, "username": "u", "password": "p"}'
    for method, path in [
        ("POST", f"/run/{name}"),
        ("GET", f"/run/{name}?dividend=4&divisor=2"),
        ("OPTIONS", f"/run/{name}"),
        ("GET", f"/describe/{name}"),
        ("GET", f"/describe_command/{name}"),
    ]:
        answer = raw(url, method, path, body if method == "POST" else b"", {"content-type": JSON})
        if method == "OPTIONS":  # Ruby's preflight: 200 without a body, and nothing runs
            assert answer[0] == 200 and answer[2] == b"", path
            continue
        clean_error(*answer, 404, "runtime.not_found")
    for path in ["/manifest", "/openapi.json", "/list"]:
        text = client.get(path).text
        assert "Divide" not in text and "Hidden" not in text, path
    still_serving(client)


def foobara(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "foobara_py", *args],
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("name", [n for n in UNCONNECTED if "%" not in n])
def test_an_unconnected_command_is_not_found_on_the_command_line(name: str) -> None:
    for action in ["run", "help"]:
        completed = foobara(action, MODULE, name)
        assert completed.returncode == 2, completed
        assert completed.stdout == ""
        assert completed.stderr.strip() == f"Could not find command registered for {name.replace('/', '::')}"
    listed = foobara("list", MODULE).stdout
    assert "Hidden" not in listed and "Divide" not in listed


@asynccontextmanager
async def mcp_client(transport: str, base: str) -> AsyncIterator[Client]:
    server: StdioServerParameters | str
    if transport == "stdio":
        server = StdioServerParameters(
            command=sys.executable, args=["-m", "foobara_py", "mcp", MODULE], cwd=ROOT, env=ENV
        )
    else:
        server = f"{base}/mcp"
    async with Client(server) as client:
        yield client


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_an_unconnected_command_is_no_mcp_tool(transport: str, url: str) -> None:
    # Over stdio the module's own connector is served: Acme::Math::Add is not in it.
    async with mcp_client(transport, url) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names and not [n for n in names if "Hidden" in n or "Divide" in n]
        for name in [tool_name(n) for n in UNCONNECTED if "%" not in n] + [n for n in UNCONNECTED if "%" not in n]:
            with pytest.raises(MCPError) as raised:
                await client.call_tool(name, {"dividend": 4, "divisor": 2, "username": "u", "password": "p"})
            assert raised.value.error.message.startswith("Could not find command registered for"), name
        signed_in = await client.call_tool(
            tool_name("SecurityTests::Vault::SignIn"), {"username": "a", "password": "b"}
        )
        assert not signed_in.is_error


# --- 2. no traceback reaches a client --------------------------------------------------------

SIGN_IN = {"username": "ann", "password": "hunter2-password"}

# (command, inputs, HTTP status, error key, exit code)
FAILURES = [
    ("LeakySession", SIGN_IN, 500, "runtime.unknown_error", 5),  # a result that does not fit its type
    ("Crash", SIGN_IN, 500, "runtime.execution_error", 1),  # execute raises
    ("WhoAmI", {}, 401, "runtime.unauthenticated", 3),  # the authenticator raises; auth required
    ("MaybeWhoAmI", {}, 401, "runtime.unauthenticated", 3),  # the authenticator raises; auth optional
    ("Ruled", {}, 500, "runtime.unknown_error", 5),  # the allow_if rule raises
]


@pytest.mark.parametrize(("name", "inputs", "status", "key", "code"), FAILURES)
def test_no_traceback_over_http(
    client: httpx.Client, name: str, inputs: dict[str, Any], status: int, key: str, code: int
) -> None:
    hostile.RUNS.clear()
    response = client.post(
        f"/run/SecurityTests::Vault::{name}", json=inputs, headers={"authorization": hostile.CREDENTIAL}
    )
    clean_error(response.status_code, response.headers.get("content-type"), response.content, status, key)
    assert "crashed" not in response.text and hostile.CREDENTIAL not in response.text
    if name in ("WhoAmI", "MaybeWhoAmI", "Ruled"):
        assert hostile.RUNS == [], "a refused call ran"
    still_serving(client)


@pytest.mark.parametrize(("name", "inputs", "status", "key", "code"), FAILURES)
def test_no_traceback_on_the_command_line(name: str, inputs: dict[str, Any], status: int, key: str, code: int) -> None:
    flags = [f"--{k}={v}" for k, v in inputs.items()]
    completed = foobara("run", MODULE, name, *flags)
    assert completed.returncode == code, completed
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.stdout == ""
    json_errors = foobara("run", "-f", "json", MODULE, name, *flags)
    assert [error["key"] for error in json.loads(json_errors.stderr.splitlines()[-1])] == [key]


async def test_no_traceback_over_mcp(transport: str, url: str) -> None:
    async with mcp_client(transport, url) as client:
        for name, inputs, _, key, _ in FAILURES:
            result = await client.call_tool(tool_name(f"SecurityTests::Vault::{name}"), inputs)
            assert result.is_error, name
            text = result.content[0].text  # type: ignore[union-attr]
            assert [error["key"] for error in json.loads(text)] == [key], name
            assert "Traceback" not in text and "crashed" not in text


def mcp_over_stdio(calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[dict[str, Any]], str]:
    """`foobara mcp` as an agent host runs it: each call's JSON-RPC answer, and all of stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "foobara_py", "mcp", MODULE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None

    def send(message: dict[str, Any]) -> None:
        assert process.stdin is not None
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})  # fmt: skip
    assert "result" in json.loads(process.stdout.readline())
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    answers = []
    for i, (name, inputs) in enumerate(calls, start=1):
        params = {"name": tool_name(f"SecurityTests::Vault::{name}"), "arguments": inputs}
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params})
        answers.append(json.loads(process.stdout.readline()))
    process.stdin.close()
    stderr = process.stderr.read()
    assert process.wait(30) == 0, stderr
    process.stdout.close()
    process.stderr.close()
    return answers, stderr


def test_foobara_mcp_logs_one_line_per_failure_on_stderr() -> None:
    """`foobara mcp`'s stderr is the agent host's log: a line per failure, no traceback."""
    answers, stderr = mcp_over_stdio([(name, inputs) for name, inputs, *_ in FAILURES])
    assert [answer["result"]["isError"] for answer in answers] == [True] * len(FAILURES)
    assert "Traceback" not in stderr
    assert "Unexpected error running SecurityTests::Vault::LeakySession" in stderr
    assert_no_secret(json.dumps(answers) + stderr, "foobara mcp's output")


# --- 4. secrets never leave ------------------------------------------------------------------

SECRET_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("SignIn", {"username": "ann", "password": "hunter2-password", "api_key": "key-0123456789abcdef", "pin": 7}),
    ("SignIn", {"username": "ann", "password": "hunter2-password", "pin": "s3cret-pin-9876"}),  # cannot_cast
    ("SignIn", {"username": "ann", "password": "hunter2-password" * 5}),  # too long
    ("SignIn", {"username": "ann", "password": "hunter2-password", "api_key": "key-0123456789abcdef" * 2}),
    ("SignIn", {"username": "ann", "password": ["hunter2-password"]}),  # cannot_cast, a structure
    ("SignIn", {"username": "ann", "password": "hunter2-password", "nope": 1}),  # unexpected attributes
    ("LeakySession", {"username": "ann", "password": "hunter2-password"}),  # its result holds the secret
    ("Crash", {"username": "ann", "password": "hunter2-password", "pin": "s3cret-pin-9876"}),
    ("Ruled", {"password": "hunter2-password"}),
]


def assert_no_secret(text: str, where: str) -> None:
    for secret in hostile.SECRETS:
        assert secret not in text, f"{secret} in {where}"


def test_secrets_never_reach_a_response_a_document_or_a_log_line_over_http(caplog: pytest.LogCaptureFixture) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    # uvicorn's own logging setup is left out, so its records (the access log too) reach caplog.
    with (
        serve(connector().asgi(), log_level="debug", access_log=True, log_config=None) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        answers = []
        for name, inputs in SECRET_CALLS:
            response = client.post(f"/run/SecurityTests::Vault::{name}", json=inputs)
            answers.append((response.status_code, response.text))
        assert answers[0] == (200, '{"username":"ann"}')
        assert [status for status, _ in answers[1:]] == [422, 422, 422, 422, 422, 500, 422, 500]
        documents = {path: client.get(path).text for path in ["/manifest", "/openapi.json", "/list"]}
        documents["describe"] = client.get("/describe/SecurityTests::Vault::SignIn").text
    assert_no_secret(json.dumps(answers), "a response")
    for path, text in documents.items():
        assert_no_secret(text, path)
    openapi = json.loads(documents["/openapi.json"])
    request = openapi["paths"]["/run/SecurityTests::Vault::SignIn"]["post"]["requestBody"]
    properties = request["content"][JSON]["schema"]["properties"]
    assert properties["api_key"] == {"type": "string", "maxLength": 20, "writeOnly": True}  # no default
    assert caplog.records, "nothing was logged: the capture is not working"
    assert any(record.name == "uvicorn.access" for record in caplog.records)
    assert_no_secret(caplog.text, "a log line")
    assert "Unexpected error running SecurityTests::Vault::LeakySession" in caplog.text


async def test_secrets_never_reach_mcp_schemas_or_results(
    transport: str, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    async with mcp_client(transport, url) as client:
        tools = (await client.list_tools()).tools
        results = [
            await client.call_tool(tool_name(f"SecurityTests::Vault::{name}"), inputs) for name, inputs in SECRET_CALLS
        ]
    assert_no_secret(json.dumps([tool.model_dump(mode="json") for tool in tools]), "a tool")
    assert_no_secret(json.dumps([result.model_dump(mode="json") for result in results]), "a tool result")
    assert not results[0].is_error and results[0].structured_content == {"username": "ann"}
    assert all(result.is_error for result in results[1:])
    assert_no_secret(caplog.text, "a log line")


def test_secrets_never_reach_the_command_lines_output() -> None:
    for name, inputs in SECRET_CALLS:
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in inputs.items() if not isinstance(v, list)]
        for fmt in ([], ["-f", "json"]):
            completed = foobara("run", *fmt, MODULE, name, *flags)
            assert_no_secret(completed.stdout + completed.stderr, f"foobara run {name}")
            assert "Traceback" not in completed.stderr
    for args in [
        ("help", MODULE, "SignIn"),
        ("manifest", MODULE),
        ("describe", MODULE, "SecurityTests::Vault::SignIn"),
    ]:
        completed = foobara(*args)
        assert completed.returncode == 0, completed
        assert_no_secret(completed.stdout + completed.stderr, " ".join(args))


# Code that raises with the secrets it was given in its message, and what stderr says of each.
CREDENTIALS = {"username": "ann", "password": "hunter2-password", "pin": hostile.PIN}
RAISING: list[tuple[str, dict[str, Any], str]] = [
    ("Jammed", CREDENTIALS, "the vault rejected [FILTERED] with pin [FILTERED]"),  # execute raises
    ("LeakySession", CREDENTIALS, "Unexpected error running SecurityTests::Vault::LeakySession"),  # result does not fit
    ("Ruled", {"password": "hunter2-password", "pin": hostile.PIN}, "(RuntimeError: rule crashed reading [FILTERED]"),
    ("Receipt", CREDENTIALS, "a callback of its succeed transition raised RuntimeError"),  # logged after the run
]


@pytest.mark.parametrize(("name", "inputs", "said"), RAISING, ids=[name for name, *_ in RAISING])
def test_a_secret_in_an_exceptions_text_never_reaches_the_command_lines_stderr(
    name: str, inputs: dict[str, Any], said: str
) -> None:
    # As flags the pin is text, and not the text its message quotes: `055119731` is 55119731.
    flags = [f"--{key}={value if key != 'pin' else f'0{value}'}" for key, value in inputs.items()]
    for fmt in ([], ["-f", "json"]):
        completed = foobara("run", *fmt, MODULE, name, *flags)
        assert said in completed.stderr, completed.stderr
        assert "Traceback" not in completed.stderr
        assert_no_secret(completed.stdout + completed.stderr, f"foobara run {name}")


def test_a_secret_in_an_exceptions_text_never_reaches_foobara_mcps_stderr() -> None:
    answers, stderr = mcp_over_stdio([(name, inputs) for name, inputs, _ in RAISING])
    assert [answer["result"]["isError"] for answer in answers] == [True, True, True, False]
    assert "[FILTERED]" in json.dumps(answers[0])  # execute's message, as the agent gets it
    for _, _, said in RAISING:
        assert said in stderr or said in json.dumps(answers), said
    assert "Traceback" not in stderr
    assert_no_secret(json.dumps(answers) + stderr, "foobara mcp's output")


def test_a_secret_in_an_exceptions_text_never_reaches_foobara_serves_stderr() -> None:
    """The server's log on a terminal: one line per failure, the credential an authenticator
    was reading and the secrets quoted by what raised left out."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "foobara_py", "serve", MODULE, "--port", str(port)],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/list", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "foobara serve did not start"
                time.sleep(0.1)
        headers = {"authorization": hostile.CREDENTIAL}
        statuses = [
            httpx.post(f"{base}/run/SecurityTests::Vault::{name}", json=inputs, headers=headers).status_code
            for name, inputs in [*[(name, inputs) for name, inputs, _ in RAISING], ("WhoAmI", {})]
        ]
        assert statuses == [500, 500, 500, 200, 401]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "foobara: Authenticator raised for SecurityTests::Vault::WhoAmI (RuntimeError)" in stderr
    assert "(RuntimeError: rule crashed reading [FILTERED] and [FILTERED])" in stderr
    assert "Traceback" not in stderr
    assert hostile.CREDENTIAL not in stderr
    assert_no_secret(stderr, "foobara serve's stderr")
