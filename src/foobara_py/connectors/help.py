"""The HTTP door's `/help`: readable HTML pages of what a connector exposes, as FastAPI's `/docs`.

`/help` lists the connected commands by organization and domain; `/help/<name>` is one command's
page: its description, inputs, result, possible errors, a curl line, and a form that runs it (a
`fetch` POST of a JSON body to `/run/<name>`) and shows the result or the error hashes. Everything
comes from the connector's manifest (descriptions, possible errors and their messages) and from
the OpenAPI document (the inputs' and the result's JSON Schema, a sensitive input `writeOnly`), so
the pages say what `/manifest` and `/openapi.json` say. The CSS and the script are inline (no asset
from elsewhere; the Content-Security-Policy of `HEADERS` allows only them), every text is escaped,
and a sensitive input is a password field whose example is a placeholder, never a value.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import shlex
import weakref
from collections.abc import Iterator
from html import escape
from typing import Any
from urllib.parse import quote

from ..registry import GLOBAL_DOMAIN_NAME, GLOBAL_ORGANIZATION_NAME
from .core import CommandNotConnectedError, Connection, Connector
from .openapi import openapi_document

__all__ = ["HEADERS", "help_page"]

_STYLE = """
:root { color-scheme: light dark; --muted: #667; --line: #ccd; --accent: #2a5db0; --bad: #b3261e; }
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
a { color: var(--accent); } h1 { font-size: 1.6rem; margin-bottom: .25rem; } h2 { margin-top: 2rem; }
code, pre, textarea, input, select { font: 13px/1.4 ui-monospace, monospace; } h1 code { font-size: inherit; }
pre { background: rgba(127,127,127,.12); padding: .75rem; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; width: 100%; } table.commands td:first-child { width: 45%; }
td, th { border-bottom: 1px solid var(--line);
  padding: .3rem .5rem; text-align: left; vertical-align: top; }
.muted, .type { color: var(--muted); } .description { white-space: pre-wrap; }
fieldset { border: 1px solid var(--line); margin: .5rem 0; } legend { font-weight: 600; }
.field { margin: .5rem 0; } .field label { display: block; font-weight: 600; }
.field input, .field select, .field textarea { width: 100%; max-width: 36rem; box-sizing: border-box; padding: .3rem; }
.field .hint { color: var(--muted); font-size: 13px; }
button { font-size: 15px; padding: .4rem 1.2rem; margin-top: .5rem; }
#outcome[data-ok="false"] #status { color: var(--bad); } #errors code { font-weight: 600; }
"""

_SCRIPT = """
"use strict";
const NUMBER = /^\\s*-?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?\\s*$/;

function valueOf(field) {
  const raw = field.value;
  switch (field.dataset.kind) {
    case "integer": case "number": {
      if (!NUMBER.test(raw)) return raw;  // the command says why it is not a number
      const number = Number(raw);
      if (field.dataset.kind === "integer" && !Number.isSafeInteger(number)) return raw.trim();
      // More digits than a double holds (a Decimal): sent as written, which the command casts.
      const digits = raw.trim().replace(/[eE].*$/, "").replace(/[-.]/g, "").replace(/^0+/, "").replace(/0+$/, "");
      return digits.length > 15 ? raw.trim() : number;
    }
    case "boolean": return raw === "true";
    case "enum": return JSON.parse(raw);
    case "json": try { return JSON.parse(raw); } catch (error) { return raw; }
    default: return raw;
  }
}

function pretty(text) {
  // JSON text indented as JSON.stringify(value, null, 2) would, but from the text itself:
  // JSON.parse would round an integer past 2**53 and a long decimal.
  const empty = /\\s*[\\]}]/y;
  let out = "", depth = 0, string = false, escaped = false;
  const newline = () => "\\n" + "  ".repeat(depth);
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (string) {
      out += c;
      if (escaped) escaped = false; else if (c === "\\\\") escaped = true; else if (c === '"') string = false;
    } else if (c === '"') {
      string = true;
      out += c;
    } else if (c === "{" || c === "[") {
      empty.lastIndex = i + 1;
      const close = empty.exec(text);
      if (close) { out += c + close[0].trim(); i = empty.lastIndex - 1; continue; }
      depth++;
      out += c + newline();
    } else if (c === "}" || c === "]") {
      depth--;
      out += newline() + c;
    } else if (c === ",") {
      out += "," + newline();
    } else if (c === ":") {
      out += ": ";
    } else if (!/\\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

function bodyOf(form) {
  let body = {};
  for (const field of form.querySelectorAll("[data-path]")) {
    if (field.value === "") continue;  // left out: the default, or a missing input the command reports
    const path = JSON.parse(field.dataset.path);
    const value = valueOf(field);
    if (path.length === 0) { body = value; continue; }
    let node = body;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
      node = node[key];
    }
    node[path[path.length - 1]] = value;
  }
  return body;
}

async function run(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const outcome = document.getElementById("outcome");
  const status = document.getElementById("status");
  const errors = document.getElementById("errors");
  const result = document.getElementById("result");
  errors.replaceChildren();
  result.textContent = "";
  status.textContent = "Running\\u2026";
  delete outcome.dataset.ok;
  delete outcome.dataset.status;
  outcome.hidden = false;
  const headers = {"Content-Type": "application/json", "Accept": "application/json"};
  const authorization = document.getElementById("authorization");
  if (authorization && authorization.value) headers["Authorization"] = authorization.value;
  let response;
  try {
    response = await fetch(form.dataset.run, {method: "POST", headers, body: JSON.stringify(bodyOf(form))});
  } catch (error) {
    status.textContent = "The request failed: " + error;
    outcome.dataset.ok = "false";
    return;
  }
  let text = await response.text();
  let data = null;
  try {
    data = JSON.parse(text);
    text = pretty(text);
  } catch (error) { /* not JSON: shown as it came */ }
  status.textContent = (response.status + " " + response.statusText).trim();
  outcome.dataset.status = String(response.status);
  outcome.dataset.ok = String(response.ok);
  if (!response.ok && Array.isArray(data)) {
    for (const error of data) {
      const item = document.createElement("li");
      const key = document.createElement("code");
      key.textContent = String(error && error.key);
      item.append(key, ": " + String(error && error.message));
      errors.append(item);
    }
  }
  result.textContent = text;
}

const form = document.getElementById("run-form");
if (form) form.addEventListener("submit", run);
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


HEADERS = {
    # Only the page's own style and script run, whatever a description holds; fetch goes home only.
    "Content-Security-Policy": (
        f"default-src 'none'; style-src {_sha256(_STYLE)}; script-src {_sha256(_SCRIPT)}; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_SKIP = object()  # an example not written: a recursive model met again


def help_page(connector: Connector, name: str | None, *, base: str, origin: str) -> tuple[int, str]:
    """The HTTP status and HTML of `/help` (no `name`) or `/help/<name>` (any name `find` takes).

    `base` is the door's path (root path and prefix: `/api`), `origin` its scheme and host
    (`http://127.0.0.1:8000`) for the curl line. An unknown or unconnected name is a 404 page."""
    if not name:
        return 200, _index(connector, base)
    connection = connector.find(name)
    if connection is None:
        message = str(CommandNotConnectedError(name))
        body = f'<p>{escape(message)}.</p><p><a href="{_attr(base)}/help">All commands</a></p>'
        return 404, _page("Not found", body)
    return 200, _command_page(connector, connection, base, origin)


# --- the list ------------------------------------------------------------------------------------


def _index(connector: Connector, base: str) -> str:
    manifest = connector.manifest()
    groups: dict[str, dict[str, list[Connection]]] = {}
    for connection in connector.connections:
        entry = manifest["command"][connection.full_name]
        domains = groups.setdefault(entry.get("organization") or GLOBAL_ORGANIZATION_NAME, {})
        domains.setdefault(entry.get("domain") or GLOBAL_DOMAIN_NAME, []).append(connection)
    parts = [
        "<h1>Commands</h1>",
        f'<p class="muted">Also: <a href="{_attr(base)}/openapi.json">OpenAPI</a>, '
        f'<a href="{_attr(base)}/manifest">manifest</a>.</p>',
    ]
    if not groups:
        parts.append("<p>No command is connected.</p>")
    for organization, domains in groups.items():
        label = "No organization" if organization == GLOBAL_ORGANIZATION_NAME else organization
        parts.append(f"<h2>{escape(label)}</h2>")
        for domain, connections in domains.items():
            domain_label = "No domain" if domain == GLOBAL_DOMAIN_NAME else domain
            parts.append(f"<h3>{escape(domain_label)}</h3>")
            domain_description = manifest["domain"].get(domain, {}).get("description")
            if domain_description:
                parts.append(f'<p class="description">{escape(domain_description)}</p>')
            rows = []
            for connection in connections:
                description = manifest["command"][connection.full_name].get("description") or ""
                first_line = description.strip().splitlines()[0] if description.strip() else ""
                href = f"{base}/help/{quote(connection.full_name, safe=':')}"
                rows.append(
                    f'<tr><td><a href="{_attr(href)}"><code>{escape(connection.full_name)}</code></a></td>'
                    f"<td>{escape(first_line)}</td></tr>"
                )
            parts.append(f'<table class="commands">{"".join(rows)}</table>')
    return _page("Commands", "\n".join(parts))


# --- one command ---------------------------------------------------------------------------------


def _command_page(connector: Connector, connection: Connection, base: str, origin: str) -> str:
    full_name = connection.full_name
    manifest = connector.manifest()
    entry = manifest["command"][full_name]
    errors_manifest = manifest["error"]
    document = _document(connector, manifest)
    operation = document["paths"][f"/run/{full_name}"]["post"]
    schemas: dict[str, Any] = document["components"]["schemas"]
    inputs = operation["requestBody"]["content"]["application/json"]["schema"]
    result = operation["responses"]["200"]["content"]["application/json"]["schema"]
    run_path = f"{base}/run/{quote(full_name, safe=':')}"

    parts = [f'<p><a href="{_attr(base)}/help">All commands</a></p>', f"<h1><code>{escape(full_name)}</code></h1>"]
    description = entry.get("description")
    if description:
        parts.append(f'<p class="description">{escape(description.strip())}</p>')
    if entry.get("requires_authentication"):
        parts.append('<p class="muted">Requires authentication.</p>')

    parts.append("<h2>Inputs</h2>")
    rows = list(_input_rows(inputs, schemas, (), set(inputs.get("required", ()))))
    if rows:
        head = "<tr><th>Name</th><th>Type</th><th>Required / default</th><th>Description</th><th>One of</th></tr>"
        parts.append(f"<table>{head}{''.join(rows)}</table>")
    else:
        parts.append("<p>None.</p>")
    parts.append(_details("JSON Schema of the inputs", inputs))

    parts.append("<h2>Result</h2>")
    parts.append(f"<p><code>{escape(_type_label(result, schemas))}</code></p>")
    parts.append(_details("JSON Schema of the result", result))

    parts.append("<h2>Possible errors</h2>")
    possible = entry.get("possible_errors", {})
    if possible:
        error_rows = []
        for key, error in possible.items():
            message = errors_manifest.get(error.get("error", ""), {}).get("message")
            shown = escape(message) if message else '<span class="muted">\u2014</span>'
            error_rows.append(f"<tr><td><code>{escape(key)}</code></td><td>{shown}</td></tr>")
        parts.append(f"<table><tr><th>Key</th><th>Message</th></tr>{''.join(error_rows)}</table>")
    else:
        parts.append("<p>None declared.</p>")
    parts.append(
        '<p class="muted">A failure answers with the JSON array of error hashes: 422, or 404, 401, 403 or 500 '
        "for a lone not found, unauthenticated, not allowed or unexpected error.</p>"
    )

    example = _example(inputs, schemas, "", ())
    body = {} if example is _SKIP or example is None else example
    curl = " \\\n  ".join(
        [
            f"curl -X POST {shlex.quote(origin + run_path)}",
            "-H 'Content-Type: application/json'",
            f"-d {shlex.quote(_json(body))}",
        ]
    )
    parts.append(f"<h2>Run it</h2><p>With curl:</p><pre><code>{escape(curl)}</code></pre><p>Or here:</p>")

    counter = itertools.count(1)
    fields = _fields(inputs, schemas, (), counter, set(inputs.get("required", ())), top=True)
    if "runtime.unauthenticated" in possible:
        fields += (
            '<div class="field"><label for="authorization">Authorization header</label>'
            '<input id="authorization" type="password" autocomplete="off" placeholder="Bearer &#8230;">'
            '<div class="hint">Sent as the request&#8217;s Authorization header, if given.</div></div>'
        )
    parts.append(
        f'<form id="run-form" data-run="{_attr(run_path)}" novalidate autocomplete="off">{fields}'
        '<button type="submit">Run</button></form>'
        '<section id="outcome" hidden><h3>Response</h3><p id="status"></p><ul id="errors"></ul>'
        '<pre id="result"></pre></section>'
    )
    return _page(full_name, "\n".join(parts))


# The OpenAPI document each connector's pages read, with the manifest it was built beside.
_DOCUMENTS: weakref.WeakKeyDictionary[Connector, tuple[dict[str, Any], dict[str, Any]]] = weakref.WeakKeyDictionary()


def _document(connector: Connector, manifest: dict[str, Any]) -> dict[str, Any]:
    """The connector's OpenAPI document, built again only when its manifest is (a command connected,
    a type registered): a page shows one command, the document holds them all."""
    cached = _DOCUMENTS.get(connector)
    if cached is None or cached[0] is not manifest:
        cached = _DOCUMENTS[connector] = (manifest, openapi_document(connector))
    return cached[1]


def _input_rows(
    schema: dict[str, Any], schemas: dict[str, Any], path: tuple[str, ...], required: set[str]
) -> Iterator[str]:
    """A row per input, nested attributes after their parent as `user.name`."""
    for name, prop in schema.get("properties", {}).items():
        here = (*path, name)
        if name in required:
            need = "required"
        elif "default" in prop:
            need = f"default <code>{escape(_json(prop['default']))}</code>"
        else:
            need = "optional"
        inner, _ = _unwrap_null(prop)
        one_of = ", ".join(_json(v) for v in prop.get("enum", ()) if v is not None)
        kind = _type_label(prop, schemas) + (", sensitive" if prop.get("writeOnly") else "")
        yield (
            f'<tr><td><code>{escape(".".join(here))}</code></td><td class="type">{escape(kind)}</td>'
            f'<td>{need}</td><td class="description">{escape(prop.get("description", ""))}</td>'
            f"<td>{escape(one_of)}</td></tr>"
        )
        if _is_form_object(inner):
            yield from _input_rows(inner, schemas, here, set(inner.get("required", ())))


def _details(summary: str, schema: dict[str, Any]) -> str:
    return f"<details><summary>{escape(summary)}</summary><pre>{escape(_json(schema, indent=2))}</pre></details>"


# --- the form ------------------------------------------------------------------------------------


def _fields(
    schema: dict[str, Any],
    schemas: dict[str, Any],
    path: tuple[str, ...],
    counter: Iterator[int],
    required: set[str],
    *,
    top: bool = False,
) -> str:
    """The form's fields of an object schema; an object the form cannot lay out (no properties:
    a map, or anything) is one JSON field for the whole of it."""
    if (
        top
        and schema.get("type") == "object"
        and not schema.get("properties")
        and not schema.get("additionalProperties")
    ):
        return ""  # no inputs
    if not _is_form_object(schema):
        return _field("" if top else path[-1], schema, schemas, path, counter, required=top)
    return "".join(
        _field(name, prop, schemas, (*path, name), counter, required=name in required)
        for name, prop in schema.get("properties", {}).items()
    )


def _field(
    name: str,
    schema: dict[str, Any],
    schemas: dict[str, Any],
    path: tuple[str, ...],
    counter: Iterator[int],
    *,
    required: bool,
) -> str:
    inner, _ = _unwrap_null(schema)
    label = _type_label(schema, schemas)
    need = "required" if required else "optional"
    if inner.get("writeOnly"):
        need += ", sensitive"
    hint = escape(schema.get("description", ""))
    if _is_form_object(inner):
        children = _fields(inner, schemas, path, counter, set(inner.get("required", ())))
        description = f'<div class="hint">{hint}</div>' if hint else ""
        return (
            f'<fieldset><legend>{escape(name)} <span class="type">{escape(label)}, {need}</span></legend>'
            f"{description}{children}</fieldset>"
        )
    field_id = f"field-{next(counter)}"
    data = f'id="{field_id}" name="{_attr(".".join(path))}" data-path="{_attr(_json(list(path)))}"'
    default = schema.get("default")
    placeholder = "" if default is None else default if isinstance(default, str) else _json(default)
    kind = _kind(inner)
    empty = f'<option value="">{escape("(not given)" if default is None else f"(default {placeholder})")}</option>'
    if kind == "enum":
        options = [empty] + [
            f'<option value="{_attr(_json(value))}">{escape(str(value))}</option>'
            for value in inner["enum"]
            if value is not None
        ]
        control = f'<select {data} data-kind="enum">{"".join(options)}</select>'
    elif kind == "boolean":
        options = [empty, '<option value="true">true</option>']
        options.append('<option value="false">false</option>')
        control = f'<select {data} data-kind="boolean">{"".join(options)}</select>'
    elif kind == "json":
        example = _example(schema, schemas, name, ())
        placeholder = "" if example is _SKIP else _json(example)
        control = f'<textarea {data} data-kind="json" rows="3" placeholder="{_attr(placeholder)}"></textarea>'
        need += ", as JSON"
    else:
        kind_attr = f'data-kind="{kind}"'
        if inner.get("writeOnly"):
            kind_attr += ' type="password" autocomplete="new-password"'
            placeholder = ""
        else:
            kind_attr += ' type="text"'
            if kind in ("integer", "number"):
                kind_attr += f' inputmode="{"numeric" if kind == "integer" else "decimal"}"'
            elif not placeholder and inner.get("format"):
                placeholder = _STRING_EXAMPLES.get(inner["format"], inner["format"])
        control = f'<input {data} {kind_attr} placeholder="{_attr(placeholder)}">'
    hint_html = f'<div class="hint">{hint}</div>' if hint else ""
    title = escape(name) if name else "Inputs"
    return (
        f'<div class="field"><label for="{field_id}">{title} <span class="type">{escape(label)}, {need}</span>'
        f"</label>{control}{hint_html}</div>"
    )


def _kind(schema: dict[str, Any]) -> str:
    """How the form takes a value: a text field of a scalar type, a choice, or JSON."""
    if "enum" in schema:
        return "enum"
    kind = schema.get("type")
    if kind in ("string", "integer", "number", "boolean"):
        return str(kind)
    return "json"


def _is_form_object(schema: dict[str, Any]) -> bool:
    """An object the form lays out as fields: one with named properties and no other shape."""
    return schema.get("type") == "object" and bool(schema.get("properties")) and "$ref" not in schema


def _unwrap_null(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema without its `null` alternative, and whether it had one."""
    kind = schema.get("type")
    if isinstance(kind, list) and "null" in kind:
        rest = [k for k in kind if k != "null"]
        if len(rest) == 1:
            return {**schema, "type": rest[0]}, True
    members = schema.get("anyOf")
    if isinstance(members, list):
        rest = [m for m in members if m.get("type") != "null"]
        if len(rest) == 1 and len(members) == 2:
            return {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}, True
    return schema, False


# --- reading a schema --------------------------------------------------------------------------


def _type_label(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    """A short name of a JSON Schema: `integer`, `string (email)`, `array of User`, `User or null`."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        return str(schemas.get(name, {}).get("title", name))
    inner, nullable = _unwrap_null(schema)
    if nullable:
        return f"{_type_label(inner, schemas)} or null"
    title = schema.get("title")
    members = schema.get("anyOf")
    if isinstance(members, list):
        label = " or ".join(_type_label(m, schemas) for m in members)
        return f"{title} ({label})" if title else label
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(_type_label({**schema, "type": k, "title": None}, schemas) for k in kind)
    if title:
        return str(title)
    if kind == "array":
        if "prefixItems" in schema:
            return "tuple of " + ", ".join(_type_label(s, schemas) for s in schema["prefixItems"])
        items = schema.get("items")
        return f"array of {_type_label(items, schemas)}" if isinstance(items, dict) else "array"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type_label(schema['additionalProperties'], schemas)}"
    if kind is None:
        return "any"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt else str(kind)


_STRING_EXAMPLES = {
    "email": "user@example.com",
    "date": "2024-01-31",
    "date-time": "2024-01-31T12:00:00Z",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "uri": "https://example.com/",
}


def _example(schema: dict[str, Any], schemas: dict[str, Any], name: str, refs: tuple[str, ...]) -> Any:
    """An example value of a schema, as FastAPI writes one; a sensitive one is a placeholder, and
    left out when it is optional."""
    if schema.get("writeOnly"):
        return f"<{name or 'secret'}>"
    if schema.get("default") is not None:
        return schema["default"]
    enum = [value for value in schema.get("enum", ()) if value is not None]
    if enum:
        return enum[0]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = ref.rsplit("/", 1)[-1]
        if target in refs or target not in schemas:
            return _SKIP
        return _example(schemas[target], schemas, name, (*refs, target))
    members = [m for m in schema.get("anyOf", ()) if m.get("type") != "null"]
    if members:
        return _example(members[0], schemas, name, refs)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        # An optional secret is left out: a placeholder sent as it is would set it ("<password>").
        required = set(schema.get("required", ()))
        properties = schema.get("properties", {}).items()
        values = {
            key: _example(prop, schemas, key, refs)
            for key, prop in properties
            if key in required or not _unwrap_null(prop)[0].get("writeOnly")
        }
        return {key: value for key, value in values.items() if value is not _SKIP}
    if kind == "array":
        if "prefixItems" in schema:
            return [_example(s, schemas, name, refs) for s in schema["prefixItems"]]
        item = _example(schema.get("items", {}), schemas, name, refs)
        return [] if item is _SKIP else [item]
    if kind == "string":
        return _STRING_EXAMPLES.get(schema.get("format", ""), "string")
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        return low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if kind == "boolean":
        return True
    return None


# --- the page ------------------------------------------------------------------------------------


def _json(value: Any, indent: int | None = None) -> str:
    """JSON as a reader reads it: `"crème"`, not `"cr\\u00e8me"` (the page is UTF-8)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _attr(text: str) -> str:
    return escape(text, quote=True)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} \u2014 Foobara</title><style>{_STYLE}</style></head>"
        f"<body>\n{body}\n<script>{_SCRIPT}</script></body></html>\n"
    )
