"""The apps the HTTP and MCP benchmarks serve, and a uvicorn subprocess to serve them.

`http_app`: the HTTP connector (`Connector.asgi()`) for `Add` (a Command), `AsyncAdd` (an
AsyncCommand) and `Nap` (an AsyncCommand that awaits 100 ms), and in the same server process a bare
Starlette app (each side the first route of its own app; the path picks the app): `/bare/add` and
`/bare/async_add` do the same pydantic validation (the inputs, extra keys refused,
and the result) and the same work, and return the same JSON.
`mcp_sdk_app`: the `mcp` SDK's own high-level `MCPServer` with an `add` tool doing the same work,
served over streamable HTTP at `/mcp` as the connector's app serves its tools.

The benchmark scripts start `uvicorn --app-dir benchmarks servers:<app>` with `uvicorn_server`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from foobara_py import AsyncCommand, Command
from foobara_py.connectors import Connector

ROOT = Path(__file__).resolve().parent.parent


class AddInputs(BaseModel):
    a: int = Field(description="first operand")
    b: int = Field(0, description="second operand")


class Add(Command[AddInputs, int]):
    """Adds two integers."""

    def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class AsyncAdd(AsyncCommand[AddInputs, int]):
    """Adds two integers."""

    async def execute(self) -> int:
        return self.inputs.a + self.inputs.b


class Nap(AsyncCommand[AddInputs, int]):
    """Adds two integers after 100 ms of waiting (on I/O, say)."""

    async def execute(self) -> int:
        await asyncio.sleep(0.1)
        return self.inputs.a + self.inputs.b


# --- the bare Starlette side ---------------------------------------------------------------------


class BareInputs(BaseModel):
    """AddInputs as a Starlette user writes it to refuse extra keys, as the command does."""

    model_config = ConfigDict(extra="forbid")
    a: int = Field(description="first operand")
    b: int = Field(0, description="second operand")


_int = TypeAdapter(int)


def add(inputs: BareInputs) -> int:
    return inputs.a + inputs.b


async def async_add(inputs: BareInputs) -> int:
    return inputs.a + inputs.b


async def bare_add(request: Request) -> JSONResponse:
    inputs = BareInputs.model_validate(await request.json())
    return JSONResponse(_int.validate_python(add(inputs)))


async def bare_async_add(request: Request) -> JSONResponse:
    inputs = BareInputs.model_validate(await request.json())
    return JSONResponse(_int.validate_python(await async_add(inputs)))


def _http_app() -> Any:
    """The two sides in one app, each the first route of its own Starlette app (as in real use)."""
    connector_app = Connector(Add, AsyncAdd, Nap).asgi()
    bare_app = Starlette(
        routes=[
            Route("/bare/add", bare_add, methods=["POST"]),
            Route("/bare/async_add", bare_async_add, methods=["POST"]),
        ]
    )

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/bare/"):
            await bare_app(scope, receive, send)
        else:
            await connector_app(scope, receive, send)

    return app


def _mcp_sdk_app() -> Any:
    from mcp.server import MCPServer

    server = MCPServer("bench", log_level="WARNING")  # uvicorn logs warnings only, on both sides

    @server.tool()
    def add(a: int, b: int = 0) -> int:
        """Adds two integers."""
        return a + b

    return server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")


if os.environ.get("BENCH_APP") == "http_app":
    http_app = _http_app()
elif os.environ.get("BENCH_APP") == "mcp_sdk_app":
    mcp_sdk_app = _mcp_sdk_app()


# --- serving -------------------------------------------------------------------------------------


def uvicorn_options(backlog: int | None = None) -> list[str]:
    """The same options for every side: one worker, no access log, uvloop and httptools where
    they are installed (else asyncio and h11)."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    options = ["--workers", "1", "--no-access-log", "--log-level", "warning", "--loop", loop, "--http", http]
    options += ["--ws", "none", "--lifespan", "on"]
    if backlog is not None:
        options += ["--backlog", str(backlog)]
    return options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system, all threads) process `pid` has used (None off Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def uvicorn_server(app: str, *, backlog: int | None = None, ready_path: str = "/ping") -> Iterator[tuple[str, int]]:
    """`servers:<app>` served by uvicorn in a subprocess on 127.0.0.1; yields its base URL and pid."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "benchmarks"), f"servers:{app}"]
    command += ["--host", "127.0.0.1", "--port", str(port), *uvicorn_options(backlog)]
    env = {**os.environ, "BENCH_APP": app, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + ready_path, timeout=1).close()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"uvicorn did not start: {' '.join(command)}") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
