"""An OpenAPI 3.1 document of what a connector exposes, for the HTTP door's `/openapi.json`.

It is built from the same declarations as the connector's manifest (the same commands, the same
possible errors, sensitive inputs left out), so a client generator, a fuzzer or an API console sees
exactly what the door serves. Each connected command is `POST /run/{Full::Name}` with its inputs as
the JSON body; its answers are the result (200), the array of error hashes (422, with the keys of
its possible errors), a lone `not_found` (404) when it loads records, and the door's own 400, 413,
415 and 500. Recursive models, written under `$defs` by `foobara_py.schema`, move to
`components/schemas` so that every `$ref` resolves from the document's root.
"""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from .core import Connection, Connector

__all__ = ["openapi_document"]

OPENAPI_VERSION = "3.1.0"

_ERRORS = {"type": "array", "items": {"$ref": "#/components/schemas/FoobaraError"}}
_ERRORS_CONTENT = {"application/json": {"schema": _ERRORS}}

# Ruby Foobara's error hash, as every failing answer of the HTTP door carries them.
_FOOBARA_ERROR: dict[str, Any] = {
    "type": "object",
    "description": "A Foobara error hash.",
    "properties": {
        "key": {"type": "string", "description": "category, path and symbol: `data.user.email.cannot_cast`"},
        "path": {"type": "array", "items": {"type": ["string", "integer"]}},
        "runtime_path": {"type": "array", "items": {"type": "string"}},
        "category": {"type": "string"},
        "symbol": {"type": "string"},
        "message": {"type": "string"},
        "context": {"type": "object"},
        "is_fatal": {"type": "boolean"},
    },
    "required": ["key", "path", "runtime_path", "category", "symbol", "message", "context", "is_fatal"],
}

# The door's answers that do not depend on the command.
_SHARED_RESPONSES: dict[str, Any] = {
    "BadRequest": {
        "description": "The body is not JSON, or not a JSON object (`data.invalid_json`, `data.body_not_an_object`).",
        "content": _ERRORS_CONTENT,
    },
    "UnsupportedMediaType": {
        "description": "The body's Content-Type cannot hold JSON (`data.unsupported_media_type`).",
        "content": _ERRORS_CONTENT,
    },
    "TooLarge": {
        "description": "The body is larger than the server's limit (`data.body_too_large`).",
        "content": _ERRORS_CONTENT,
    },
    "UnexpectedError": {
        "description": "An unexpected error (`runtime.unknown_error`); nothing of it is told.",
        "content": _ERRORS_CONTENT,
    },
}

_DEFS_REF = "#/$defs/"
_COMPONENTS_REF = "#/components/schemas/"


def openapi_document(connector: Connector, *, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `connector`'s commands; `server_url` is where the door is
    served (the app's prefix, `/api`, or a full URL), the root when not given."""
    manifest = connector.manifest()["command"]
    schemas: dict[str, Any] = {"FoobaraError": _FOOBARA_ERROR}
    paths: dict[str, Any] = {}
    operation_ids: set[str] = set()
    for connection in connector.connections:
        entry = manifest[connection.full_name]
        operation = _operation(connection, entry, schemas, _operation_id(connection.full_name, operation_ids))
        paths[f"/run/{connection.full_name}"] = {"post": operation}
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Foobara commands", "version": __version__},
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    document["paths"] = paths
    document["components"] = {"schemas": schemas, "responses": _SHARED_RESPONSES}
    return document


def _operation(
    connection: Connection, entry: dict[str, Any], schemas: dict[str, Any], operation_id: str
) -> dict[str, Any]:
    # A sensitive input stays in the request (a client must be able to send it), `writeOnly` and
    # without a default; sensitive result attributes are left out, as every door leaves them out.
    # Both as the connection's transformers change them, as its manifest entry shows them.
    inputs = _hoisted(connection.inputs_json_schema(remove_sensitive=False), schemas)
    result = _hoisted(connection.result_json_schema(remove_sensitive=True), schemas)
    keys = sorted(entry.get("possible_errors", {}))
    responses: dict[str, Any] = {
        "200": {"description": "The result.", "content": {"application/json": {"schema": result}}},
        "400": {"$ref": "#/components/responses/BadRequest"},
        "413": {"$ref": "#/components/responses/TooLarge"},
        "415": {"$ref": "#/components/responses/UnsupportedMediaType"},
        "422": {
            "description": "The errors: " + (", ".join(f"`{key}`" for key in keys) if keys else "none declared") + ".",
            "content": _ERRORS_CONTENT,
            "x-foobara-possible-errors": keys,
        },
        "500": {"$ref": "#/components/responses/UnexpectedError"},
    }
    not_found = [key for key in keys if key.rsplit(".", 1)[-1] == "not_found"]
    if not_found:
        responses["404"] = {
            "description": "A record was not found: " + ", ".join(f"`{key}`" for key in not_found) + ".",
            "content": _ERRORS_CONTENT,
        }
    operation: dict[str, Any] = {"operationId": operation_id}
    description = entry.get("description")
    if description:
        operation["summary"] = description.strip().splitlines()[0]
        operation["description"] = description
    domain = connection.full_name.rpartition("::")[0]
    if domain:
        operation["tags"] = [domain]
    operation["requestBody"] = {
        "required": bool(inputs.get("required")),
        "content": {"application/json": {"schema": inputs}},
    }
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _operation_id(full_name: str, taken: set[str]) -> str:
    """`Acme::Math::Add` -> `Acme__Math__Add`: an identifier in every language a generator writes."""
    base = re.sub(r"\W", "_", full_name.replace("::", "__"), flags=re.ASCII)
    if not base or base[0].isdigit():
        base = f"_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _hoisted(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$defs` moved into `schemas` (one name is one registered type, the same
    in every command) and its references rewritten to point there."""
    defs = schema.pop("$defs", None)
    if not defs:
        return schema
    for name, definition in defs.items():
        schemas.setdefault(name, _rewritten(definition))
    rewritten: dict[str, Any] = _rewritten(schema)
    return rewritten


def _rewritten(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                _COMPONENTS_REF + item.removeprefix(_DEFS_REF)
                if key == "$ref" and isinstance(item, str) and item.startswith(_DEFS_REF)
                else _rewritten(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewritten(item) for item in value]
    return value
