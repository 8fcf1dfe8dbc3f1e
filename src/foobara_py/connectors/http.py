"""The HTTP door: a Starlette app serving a Connector with Ruby Foobara's URL scheme and statuses.

    POST|GET {prefix}/run/Acme::Math::Add   (or /run/Acme/Math/Add): JSON body merged with the query
    GET {prefix}/manifest, /openapi.json, /describe[_command|_type]/<name>, /list, /ping
    GET {prefix}/help, /help/<name>: readable HTML pages, with a form that runs the command

200 with the bare JSON result; 422 with the array of error hashes; 404 for an unknown command or a
lone `not_found` error; 400 for a body that is not a JSON object; 413 for a body over the limit;
415 for a content type that cannot hold JSON (see `takes_json`); 500 for an unexpected error.
Every answer but a success is a JSON array of error hashes, so that a client (Ruby's remote
commands among them) reads them all the same way. Needs the `http` extra:
`pip install 'foobara-py[http]'`; serve it with uvicorn, or mount it in FastAPI or Starlette.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

try:
    from starlette.applications import Starlette
    from starlette.datastructures import Headers
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("The HTTP connector needs Starlette: pip install 'foobara-py[http]'") from exc

from .. import __version__
from ..errors import FoobaraError
from ..outcome import Outcome
from .core import CommandNotConnectedError, Connector, ConnectorRequest, serialize
from .help import HEADERS as HELP_HEADERS
from .help import help_page
from .openapi import openapi_document

__all__ = ["DEFAULT_MAX_BODY_SIZE", "Cors", "http_app", "status_of", "takes_json"]

DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024

# The status of a failure with a single error, by its symbol (Ruby's rule); any other failure is 422.
_STATUS_OF_SYMBOL = {
    "not_found": 404,
    "unauthenticated": 401,
    "not_allowed": 403,
    "unknown_error": 500,
    "execution_error": 500,
}


Cors: TypeAlias = "bool | str | Sequence[str] | Mapping[str, Any] | None"
"""`True`: any origin; an origin or a list of them; or CORSMiddleware's own options."""

# What a browser needs to call the commands: GET and POST, with any header (Authorization...).
_CORS_DEFAULTS: dict[str, Any] = {"allow_methods": ["GET", "POST"], "allow_headers": ["*"]}

# Media types a JSON object may come as: JSON's own, text, and the form type `curl -d` sends by
# default (Ruby parses the body as JSON whatever its type, and that call must keep working).
_JSON_BODY_TYPES = frozenset({"", "application/json", "text/json", "text/plain", "application/x-www-form-urlencoded"})


def takes_json(content_type: str) -> bool:
    """Whether a body of this Content-Type is read as JSON: `application/json`, `text/json`,
    `application/*+json`, `text/plain` and `application/x-www-form-urlencoded` (with any
    parameters). Any other type (`multipart/form-data`, `application/xml`...) is refused with 415."""
    media = _media_type(content_type)
    return media in _JSON_BODY_TYPES or (media.startswith("application/") and media.endswith("+json"))


def status_of(outcome: Outcome[Any]) -> int:
    if outcome.is_success():
        return 200
    errors = outcome.errors
    return _STATUS_OF_SYMBOL.get(errors[0].symbol, 422) if len(errors) == 1 else 422


def http_app(
    connector: Connector,
    *,
    prefix: str = "",
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    mcp: bool = True,
    host: str = "127.0.0.1",
    mcp_stateless: bool = False,
    cors: Cors = None,
) -> Starlette:
    """An ASGI app serving `connector`'s commands under `prefix` (`/api`: `/api/run/...`).

    `max_body_size`: a larger request body gets 413, whether its Content-Length says so or it is
    sent in chunks (counted while it is read). `mcp`: also MCP's streamable HTTP at `/mcp`, where
    the `mcp` extra is installed; `host` is where the app is served and `mcp_stateless` keeps no MCP
    session between requests, for several workers (see `connectors.mcp.mcp_app`).
    `cors`: off by default; `True` lets any origin call the commands, an origin or a list of them
    only those, and a dict is Starlette's CORSMiddleware options (over GET and POST with any
    header, which it may change)."""
    prefix = f"/{prefix.strip('/')}" if prefix.strip("/") else ""
    door = _HttpDoor(connector, max_body_size, prefix)
    routes: list[Any] = [
        Route(f"{prefix}/run/{{name:path}}", door.run, methods=["GET", "POST", "OPTIONS"]),
        Route(f"{prefix}/manifest", door.manifest, methods=["GET"]),
        Route(f"{prefix}/openapi.json", door.openapi, methods=["GET"]),
        Route(f"{prefix}/describe/{{name:path}}", door.describe, methods=["GET"]),
        Route(f"{prefix}/describe_command/{{name:path}}", door.describe_command, methods=["GET"]),
        Route(f"{prefix}/describe_type/{{name:path}}", door.describe_type, methods=["GET"]),
        Route(f"{prefix}/list", door.list, methods=["GET"]),
        Route(f"{prefix}/ping", door.ping, methods=["GET"]),
        Route(f"{prefix}/help", door.help, methods=["GET"]),
        Route(f"{prefix}/help/{{name:path}}", door.help, methods=["GET"]),
    ]
    lifespan = None
    if mcp:
        try:
            from .mcp import mcp_app
        except ImportError:  # the mcp extra is not installed: no /mcp
            pass
        else:
            mcp_door = mcp_app(connector, path=f"{prefix}/mcp", host=host, stateless=mcp_stateless)
            routes += mcp_door.routes
            lifespan = mcp_door.router.lifespan_context  # runs the SDK's session manager
    cors_options = _cors_options(cors)
    return Starlette(
        routes=routes,
        middleware=[Middleware(_Cors, **cors_options)] if cors_options is not None else None,
        exception_handlers={HTTPException: door.http_error, Exception: _unexpected},
        lifespan=lifespan,
    )


def _cors_options(cors: Cors) -> dict[str, Any] | None:
    if cors is None or cors is False:
        return None
    if cors is True:
        return {**_CORS_DEFAULTS, "allow_origins": ["*"]}
    if isinstance(cors, str):
        return {**_CORS_DEFAULTS, "allow_origins": [cors]}
    if isinstance(cors, Mapping):
        return {**_CORS_DEFAULTS, **cors}
    return {**_CORS_DEFAULTS, "allow_origins": list(cors)}


class _Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as every failure is: error hashes."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        error = FoobaraError("cors_not_allowed", f"CORS preflight refused: {refused} not allowed", category="runtime")
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith(("access-control-", "vary"))}
        return _errors(response.status_code, error, headers=headers)


class _HttpDoor:
    """The endpoints, sharing the connector and the settings."""

    def __init__(self, connector: Connector, max_body_size: int, prefix: str) -> None:
        self.connector = connector
        self.max_body_size = max_body_size
        self.prefix = prefix

    async def run(self, request: Request) -> Response:
        if request.method == "OPTIONS":  # a preflight: Ruby answers 200 with no body
            return Response(status_code=200)
        name = request.path_params["name"]
        connection = self.connector.find(name)
        if connection is None:
            return _errors(404, CommandNotConnectedError(name).to_foobara_error())
        inputs = await self._inputs(request)
        if isinstance(inputs, Response):
            return inputs
        # A plain connection reads nothing of the request (parsing its cookies costs a microsecond).
        context = None if connection.plain else ConnectorRequest("http", request.headers, request.cookies, request)
        outcome = await self.connector.arun(connection.full_name, inputs, context)
        return JSONResponse(serialize(outcome), status_code=status_of(outcome))

    async def _inputs(self, request: Request) -> dict[str, Any] | Response:
        """The JSON body (none is `{}`) merged with the query string, which wins (as in Ruby)."""
        content_type = request.headers.get("content-type")
        if content_type is not None and not takes_json(content_type):
            return _unsupported_media_type(content_type)
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        data: Any = {}
        if body.strip():
            try:
                data = json.loads(body)
            except RecursionError:
                return _errors(400, _bad_body("invalid_json", "The request body is not valid JSON: nested too deeply"))
            except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer too long
                return _errors(400, _bad_body("invalid_json", f"The request body is not valid JSON: {exc}"))
        if not isinstance(data, dict):
            message = f"The request body must be a JSON object, not {_json_kind(data)}"
            return _errors(400, _bad_body("body_not_an_object", message))
        if request.scope.get("query_string"):  # (building QueryParams for none costs 2-4 us a request)
            data.update(request.query_params)
        return data

    async def _body(self, request: Request) -> bytes | Response:
        limit = self.max_body_size
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _too_large(limit)
        # ASGI's messages read directly: Request.stream()'s generator costs a microsecond a request.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await request.receive()
            if message["type"] != "http.request":  # the client hung up
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return _too_large(limit)
            if not message.get("more_body", False):
                return b"".join((*chunks, chunk)) if chunks else chunk
            chunks.append(chunk)

    async def manifest(self, request: Request) -> Response:
        return JSONResponse({**self.connector.manifest(), "metadata": _metadata(request)})

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document, its server the app's own path (relative: right behind a proxy too)."""
        server_url = f"{request.scope.get('root_path', '')}{self.prefix}" or None
        return JSONResponse(openapi_document(self.connector, server_url=server_url))

    async def describe(self, request: Request) -> Response:
        return self._describe(request, None)

    async def describe_command(self, request: Request) -> Response:
        return self._describe(request, "command")

    async def describe_type(self, request: Request) -> Response:
        return self._describe(request, "type")

    def _describe(self, request: Request, category: str | None) -> Response:
        """One entry of the connector's manifest (a command first, by any name `find` takes)."""
        name = request.path_params["name"]
        manifest = self.connector.manifest()
        entry = None
        if category in (None, "command"):
            connection = self.connector.find(name)
            if connection is not None:
                entry = manifest["command"].get(connection.command.full_name())
        if entry is None and category != "command":
            full_name = name.replace("/", "::")
            categories = [category] if category else list(manifest)
            entry = next((manifest[c][full_name] for c in categories if full_name in manifest[c]), None)
        if entry is None:
            return _errors(404, _not_found(f"Could not find {name}", name))
        return JSONResponse({**entry, "metadata": _metadata(request)})

    async def list(self, request: Request) -> Response:
        """Ruby's list: `[full name, null]` per connected command."""
        return JSONResponse([[connection.full_name, None] for connection in self.connector.connections])

    async def ping(self, request: Request) -> Response:
        return JSONResponse(_now())

    async def help(self, request: Request) -> Response:
        """The readable pages (connectors/help.py); an unknown name is a 404 page, not JSON."""
        base = f"{request.scope.get('root_path', '')}{self.prefix}"
        origin = f"{request.url.scheme}://{request.url.netloc}"
        status, page = help_page(self.connector, request.path_params.get("name"), base=base, origin=origin)
        return HTMLResponse(page, status_code=status, headers=HELP_HEADERS)

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Starlette's own answers (no route, a method not allowed) as error hashes."""
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            path = request.url.path.removeprefix(request.scope.get("root_path", "")).removeprefix(self.prefix)
            action = path.strip("/").split("/", 1)[0]
            error = _not_found(f"Not sure what to do with {action}", action)
        else:
            error = FoobaraError(exc.detail.lower().replace(" ", "_"), exc.detail)
        return _errors(exc.status_code, error, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A mistake in the door itself: an error body, never a traceback (Starlette logs it)."""
    return _errors(500, FoobaraError("unknown_error", "Unexpected error"))


def _errors(status: int, *errors: FoobaraError, headers: Mapping[str, str] | None = None) -> Response:
    return JSONResponse([error.to_dict() for error in errors], status_code=status, headers=headers)


def _not_found(message: str, name: str) -> FoobaraError:
    return FoobaraError("not_found", message, context={"not_found": name})


def _bad_body(symbol: str, message: str) -> FoobaraError:
    return FoobaraError(symbol, message, category="data")


def _too_large(limit: int) -> Response:
    message = f"The request body is larger than {limit} bytes"
    return _errors(413, FoobaraError("body_too_large", message, category="data", context={"max_body_size": limit}))


def _media_type(content_type: str) -> str:
    """`Application/JSON; charset=utf-8` -> `application/json`."""
    return content_type.partition(";")[0].strip().lower()


def _unsupported_media_type(content_type: str) -> Response:
    media = _media_type(content_type)
    message = f"The request body must be a JSON object (application/json), not {media}"
    return _errors(
        415, FoobaraError("unsupported_media_type", message, category="data", context={"content_type": media})
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _metadata(request: Request) -> dict[str, Any]:
    """Ruby's `metadata`: `url` is absolute, with the port always written (Ruby's clients post to it)."""
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    return {"when": _now(), "foobara_version": __version__, "url": f"{url.scheme}://{url.hostname}:{port}{url.path}"}


def _now() -> str:
    """The time as Ruby's `Time#to_s` writes it (`2026-11-26 02:31:05 +0000`)."""
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
