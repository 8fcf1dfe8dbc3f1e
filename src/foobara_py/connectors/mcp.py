"""The MCP door: each connected command is an MCP tool, served by the official `mcp` SDK (version 2)
over stdio (`serve_stdio`) or streamable HTTP (`mcp_app`, an ASGI app to mount at `/mcp`).

Tool names. MCP tool names may hold only `A-Z a-z 0-9 _ - .` (1 to 128 characters: SEP-986, which
the SDK checks), so `::` cannot pass. A tool is named by the command's full name with each `::`
written as `.`: `Acme::Math::Add` is the tool `Acme.Math.Add` (the spelling `foobara_py.schema`
gives registered types under `$defs`). A command's class name may hold letters outside ASCII (a
Python identifier: `Grüße`): each character other than `A-Z a-z 0-9 _` is written `-uXXXX-`, its
code point in (at least four) upper-case hex digits: `Grüße` is `Gr-u00FC--u00DF-e`. The mapping is
reversible because a Foobara name never holds a `-` or a `.`; `tool_name` and `command_name` are
the two directions. A call may also name a command as Ruby's MCP connector does
(`Acme::Math::Add`, or an unambiguous end of it such as `Add`): the connector's `find` resolves
those.

A tool is its connection: its input schema what the connection lets a caller send (an input its
transformers leave out, reject or set is not there, and is refused if sent), its output schema what
the connection sends back (its result transformers and serializer applied). A call runs through
the connector's `arun`, like every door: the SDK does not validate the arguments against the input
schema, so bad input gets Foobara's errors. A success is one text item holding the JSON value the
connection serializes (as Ruby's connector answers) and the same value as `structuredContent`; as
MCP output schemas are objects, a result whose schema is not an object is wrapped as
`{"result": value}` in both the output schema and `structuredContent`. A failed command is a tool
result with `isError` whose text item holds the JSON array of Foobara's error hashes. A tool that
is not connected is the JSON-RPC error -32601 with Ruby's message ("Could not find command
registered for Acme::Math::Nope").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from .. import __version__
from .core import CommandNotConnectedError, Connection, Connector, ConnectorRequest, serialize

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from starlette.applications import Starlette

__all__ = ["SERVER_NAME", "command_name", "mcp_app", "mcp_server", "serve_stdio", "tool_name"]

SERVER_NAME = "Foobara MCP Command connector"
INSTRUCTIONS = (
    "This is a Foobara MCP command connector which exposes Foobara commands to you as tools that you can invoke."
)


_PLAIN = re.compile(r"[A-Za-z0-9_]+")
_ESCAPED = re.compile(r"-u([0-9A-F]{4,6})-")


def tool_name(full_name: str) -> str:
    """`Acme::Math::Add` -> `Acme.Math.Add`, `Grüße` -> `Gr-u00FC--u00DF-e`: a name MCP allows."""
    return ".".join(part if _PLAIN.fullmatch(part) else _escaped(part) for part in full_name.split("::"))


def _escaped(part: str) -> str:
    return "".join(c if _PLAIN.fullmatch(c) else f"-u{ord(c):04X}-" for c in part)


def command_name(name: str) -> str:
    """`Acme.Math.Add` -> `Acme::Math::Add`, `Gr-u00FC--u00DF-e` -> `Grüße` (a name already in
    `::` form is left as it is)."""
    if "-" not in name:
        return name.replace(".", "::")
    return "::".join(_ESCAPED.sub(_unescaped, part) for part in name.split("."))


def _unescaped(match: re.Match[str]) -> str:
    code = int(match[1], 16)
    return chr(code) if code <= 0x10FFFF else match[0]


def mcp_server(connector: Connector) -> Server[Any]:
    """The SDK's low-level `Server` answering `tools/list` and `tools/call` for `connector`'s
    commands (those connected when a request comes: connecting later is seen)."""
    tools: dict[str, tuple[types.Tool, bool]] = {}  # a connection's tool (and if wrapped), made once

    def tool(connection: Connection) -> tuple[types.Tool, bool]:
        found = tools.get(connection.full_name)  # a command is connected once: its name is its connection
        if found is None:
            output_schema, wrapped = _output_schema(connection)
            made = types.Tool(
                name=tool_name(connection.full_name),
                description=connection.command.spec.description or None,
                # What the caller may send through this connection. A sensitive input stays
                # (`writeOnly`, no default): an agent must be able to send it.
                input_schema=connection.inputs_json_schema(remove_sensitive=False),
                output_schema=output_schema,
            )
            found = tools[connection.full_name] = (made, wrapped)
        return found

    def input_schema(name: str) -> Mapping[str, Any] | None:
        connection = connector.find(command_name(name))
        return None if connection is None else tool(connection)[0].input_schema

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool(connection)[0] for connection in connector.connections])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        name = command_name(params.name)
        connection = connector.find(name)
        if connection is None:
            raise MCPError(code=types.METHOD_NOT_FOUND, message=str(CommandNotConnectedError(name)))
        outcome = await connector.arun(connection.full_name, params.arguments or {}, _request(ctx))
        value = serialize(outcome)  # as the connection serializes it: its transformers, aggregate or atomic
        text = types.TextContent(type="text", text=json.dumps(value, separators=(",", ":"), ensure_ascii=False))
        if not outcome.is_success():
            return types.CallToolResult(content=[text], is_error=True)
        wrapped = tool(connection)[1]
        return types.CallToolResult(content=[text], structured_content={"result": value} if wrapped else value)

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=INSTRUCTIONS,
        get_tool_input_schema=input_schema,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def serve_stdio(connector: Connector) -> None:
    """Serve `connector`'s commands over stdio (one JSON-RPC message a line) until stdin closes:
    what `foobara mcp MODULE` runs."""

    async def serve() -> None:
        server = mcp_server(connector)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve)


def mcp_app(connector: Connector, *, path: str = "/mcp", host: str = "127.0.0.1", stateless: bool = False) -> Starlette:
    """Streamable HTTP for `connector`'s commands: a Starlette app answering at `path`, whose
    lifespan runs the SDK's session manager (so it must run: serve the app, or add its lifespan to
    the app that includes its routes). `host` is where it is served: on a loopback host the SDK
    turns on its DNS-rebinding protection (only loopback Host and Origin headers pass). `stateless`
    keeps no session between requests (for several workers behind a proxy)."""
    return mcp_server(connector).streamable_http_app(streamable_http_path=path, host=host, stateless_http=stateless)


def _output_schema(connection: Connection) -> tuple[dict[str, Any], bool]:
    """The tool's output schema (what the connection sends back), and whether the result is
    wrapped as `{"result": value}` in it."""
    schema = connection.result_json_schema(remove_sensitive=True)
    if schema.get("type") == "object":
        return schema, False
    defs = schema.pop("$defs", None)  # a `$ref` points at the document's root: keep them there
    wrapper: dict[str, Any] = {"type": "object", "properties": {"result": schema}, "required": ["result"]}
    if defs is not None:
        wrapper["$defs"] = defs
    return wrapper, True


def _request(ctx: ServerRequestContext[Any]) -> ConnectorRequest:
    """What the connector knows of the call: the HTTP request's headers and cookies over
    streamable HTTP, nothing over stdio."""
    http = ctx.request
    headers = getattr(http, "headers", None)
    cookies = getattr(http, "cookies", None)
    return ConnectorRequest(
        door="mcp",
        headers=dict(headers) if isinstance(headers, Mapping) else {},
        cookies=dict(cookies) if isinstance(cookies, Mapping) else {},
        raw=ctx,
    )
