"""One connection through every door (HTTP /run, the command line, MCP over streamable HTTP and on
stdio as `foobara mcp` serves it): the inputs it sets, from a header or by a function of the
request, reach the command, and the caller cannot send them, whichever door they come by."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

import foobara_py
from tests.connectors import transformed
from tests.connectors.serving import serve

ROOT = Path(__file__).parents[2]
CHILD_ENV = {"PYTHONPATH": os.pathsep.join([str(Path(foobara_py.__file__).parents[1]), str(ROOT)])}
MODULE = "tests.connectors.transformed"
PUBLISH = "DoorTests::Desk::Publish"
DOORS = {"http": "http", "cli": "cli", "mcp-http": "mcp", "mcp-stdio": "mcp"}  # the door the connector is told


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(transformed.connector.asgi()) as url:  # /run and /mcp in one app
        yield url


def publish(door: str, base_url: str, inputs: dict[str, Any], author: str | None) -> tuple[bool, Any]:
    """Publish through `door`, the `X-Author` header (or its environment variable) set to
    `author`: whether it succeeded, and the result or the error hashes."""
    headers = {} if author is None else {"X-Author": author}
    if door == "http":
        response = httpx.post(f"{base_url}/run/{PUBLISH}", json=inputs, headers=headers, timeout=30)
        return response.status_code == 200, response.json()
    if door == "cli":
        env = {**os.environ, **({} if author is None else {"FOOBARA_HEADER_X_AUTHOR": author})}
        completed = subprocess.run(
            [sys.executable, "-m", "foobara_py", "run", "-f", "json", "--stdin", MODULE, "Publish"],
            input=json.dumps(inputs), capture_output=True, text=True, cwd=ROOT, timeout=60, check=False, env=env,
        )  # fmt: skip
        return completed.returncode == 0, json.loads(completed.stdout or completed.stderr)
    return asyncio.run(_call_tool(door, base_url, inputs, headers))


async def _call_tool(door: str, base_url: str, inputs: dict[str, Any], headers: dict[str, str]) -> tuple[bool, Any]:
    async with httpx2.AsyncClient(headers=headers) as http:
        if door == "mcp-stdio":
            assert not headers, "stdio carries no headers"
            args = ["-m", "foobara_py", "mcp", MODULE]  # as an agent starts it
            server: Any = StdioServerParameters(command=sys.executable, args=args, env=CHILD_ENV, cwd=ROOT)
        else:
            server = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(server) as client:
            result = await client.call_tool(PUBLISH.replace("::", "."), inputs)
    assert result.content[0].type == "text"
    return not result.is_error, json.loads(result.content[0].text)


@pytest.mark.parametrize("door", list(DOORS))
def test_a_set_input_comes_from_the_request_and_the_caller_cannot_send_it(door: str, base_url: str) -> None:
    author = None if door == "mcp-stdio" else "ann"
    ok, result = publish(door, base_url, {"text": "hi"}, author)
    assert ok, result
    assert result == {"text": "hi", "author": author or "anonymous", "door": DOORS[door], "tags": []}
    if author is not None:  # no header: the input is left unset, and the command's default holds
        assert publish(door, base_url, {"text": "hi"}, None)[1]["author"] == "anonymous"
    for name in ["author", "door", "draft"]:  # set from a header; set by a function; rejected
        ok, errors = publish(door, base_url, {"text": "hi", name: "eve"}, author)
        assert not ok
        assert [(e["key"], e["context"]["unexpected_attributes"]) for e in errors] == [
            ("data.unexpected_attributes", [name])
        ]
