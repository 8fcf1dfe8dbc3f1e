"""`foobara serve MODULE` and `foobara mcp MODULE`, as a user runs them: the HTTP door and MCP on
one server, and MCP on stdio, each reached by a real client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

import foobara_py
from foobara_py.connectors import Connector, header
from foobara_py.connectors.cli import example_call, serve_banner
from tests import acme
from tests.servers import free_port

ROOT = Path(__file__).parents[2]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(foobara_py.__file__).parents[1]), str(ROOT)])}


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    port = free_port()
    options = getattr(request, "param", [])
    process = subprocess.Popen(
        [sys.executable, "-m", "foobara_py", "serve", "tests/acme.py", "--port", str(port), *options],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/ping", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, err = process.communicate()
                pytest.fail(f"foobara serve did not start: {err.decode()}")
            time.sleep(0.1)
    yield base
    process.terminate()
    _, err = process.communicate(timeout=10)
    assert b"Traceback" not in err
    assert f"curl -X POST {base}/run/".encode() in err  # it said where to start


async def test_serve_answers_http_and_mcp_on_one_server(served: str) -> None:
    response = httpx.post(f"{served}/run/Acme::Math::Add", json={"a": 1, "b": 2})
    assert (response.status_code, response.json()) == (200, 3)
    assert httpx.post(f"{served}/run/Acme::Math::Add", json={"a": "x"}).status_code == 422
    async with Client(f"{served}/mcp") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert "Acme.Math.Add" in names
        result = await client.call_tool("Acme.Math.Add", {"a": 2, "b": 3})
        assert not result.is_error
        assert json.loads(result.content[0].text) == 5  # type: ignore[union-attr]


async def test_foobara_mcp_serves_tools_on_stdio() -> None:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "foobara_py", "mcp", "tests/acme.py"], cwd=str(ROOT), env=ENV
    )
    async with Client(server) as client:
        result = await client.call_tool("Acme.Math.Add", {"a": 40, "b": 2})
        assert json.loads(result.content[0].text) == 42  # type: ignore[union-attr]
        failed = await client.call_tool("Acme.Math.Add", {"a": "x"})
        assert failed.is_error
        assert [e["key"] for e in json.loads(failed.content[0].text)] == ["data.a.cannot_cast"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "served", [["--cors", "https://app.example", "--cors", "https://other.example"]], indirect=True
)
def test_serve_cors_lets_the_given_origins_in(served: str) -> None:
    for origin in ["https://app.example", "https://other.example"]:
        response = httpx.post(f"{served}/run/Acme::Math::Add", json={"a": 1}, headers={"origin": origin})
        assert response.json() == 1 and response.headers["access-control-allow-origin"] == origin
    response = httpx.post(f"{served}/run/Acme::Math::Add", json={"a": 1}, headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_serve_has_no_cors_unless_asked(served: str) -> None:
    response = httpx.post(f"{served}/run/Acme::Math::Add", json={"a": 1}, headers={"origin": "https://app.example"})
    assert response.json() == 1 and "access-control-allow-origin" not in response.headers


def test_the_banner_suggests_a_call_the_connection_takes() -> None:
    """Its curl line sends only what the connection lets a caller send, and it works."""
    hidden = Connector()
    hidden.connect(acme.Add, inputs={"set": {"a": header("X-A")}})  # a call needs the header
    hidden.connect(acme.Divide, inputs={"reject": ["dividend"]})  # no call can give it
    assert example_call(hidden) is None
    partial = Connector()
    partial.connect(acme.Add, inputs={"set": {"b": lambda request: 2}})
    name, inputs = example_call(partial) or ("", {})
    assert partial.run(name, inputs).unwrap() == 3


def test_the_banner_counts_its_commands_in_english() -> None:
    assert serve_banner(Connector(acme.Add), "http://127.0.0.1:9").splitlines()[0] == (
        "Serving 1 command at http://127.0.0.1:9 (Ctrl+C to stop)"
    )
