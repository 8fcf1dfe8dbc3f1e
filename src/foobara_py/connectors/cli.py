"""The command-line door: `foobara run|list|help MODULE ...` on a Connector, with Ruby's conventions.

    foobara run [-f json|yaml] [--stdin [--input-format json|yaml]] MODULE NAME [--kebab-input VALUE ...]
    foobara list MODULE [--verbose]
    foobara help MODULE [NAME]

Inputs are flags built once per connection from what it lets a caller send (its command's inputs
less what its inputs transformers take away: an input left out by `only`, rejected or set has no
flag): `--kebab-name VALUE` per attribute, nested attributes flattened to their own name (prefixed
with their parents' only where two would clash: `--label-name`), a record (an entity) one flag
taking its primary key, an array taking the values that follow (and more from a repeated flag),
a boolean `--flag` and `--skip-flag` (only `--skip-flag` when it defaults to true, only `--flag`
when it defaults to false), and `-x` for the first letter while it is free. Values are passed as
the strings typed: the command's own validation casts them, so bad input gets Foobara's errors.

The result goes to stdout (a scalar bare, a structure as JSON, or as `-f` says), errors to stderr
(a sentence, or the error hashes with `-f`); the exit code tells what happened (`EXIT_*`). The door
never runs a command but through its Connector, and never prints a traceback. YAML needs pyyaml and
colour needs rich (the `cli` extra); without them the output is plain (JSON is valid YAML).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from pydantic_core import PydanticUndefined

from ..loading import ModuleLoadError, commands_of, load_module
from ..outcome import Outcome
from ..possible_errors import is_entity
from ..types import FieldSpec, TypeNode
from .core import CommandClass, CommandNotConnectedError, Connection, Connector, ConnectorRequest, serialize

__all__ = [
    "EXIT_ERROR",
    "EXIT_NOT_ALLOWED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PARSE_ERROR",
    "EXIT_UNAUTHENTICATED",
    "EXIT_UNKNOWN",
    "CliParseError",
    "Option",
    "cli_request",
    "connector_of",
    "exit_code_of",
    "main",
    "options_of",
    "parse_inputs",
]

EXIT_OK, EXIT_ERROR, EXIT_NOT_FOUND, EXIT_UNAUTHENTICATED, EXIT_NOT_ALLOWED, EXIT_UNKNOWN, EXIT_PARSE_ERROR = range(7)

# The exit code of a failure with a single error, by its symbol (as HTTP picks its status).
_EXIT_OF_SYMBOL = {
    "not_found": EXIT_NOT_FOUND,
    "unauthenticated": EXIT_UNAUTHENTICATED,
    "not_allowed": EXIT_NOT_ALLOWED,
    "unknown_error": EXIT_UNKNOWN,
}

FORMATS = ("json", "yaml")
ACTIONS = {
    "run": "run a command: foobara run MODULE NAME [INPUTS]",
    "list": "list the commands MODULE connects",
    "help": "describe the commands, or one command's inputs and errors",
    "serve": "serve over HTTP (and MCP at /mcp): foobara serve MODULE [--host H] [--port P] [--prefix P] [--cors O]",
    "mcp": "serve the commands as MCP tools on stdio: foobara mcp MODULE",
    "manifest": "print the manifest of the commands MODULE defines, as JSON",
    "describe": "print one manifest entry (a command, type, domain...)",
}


class CliParseError(Exception):
    """Arguments the door cannot read (exit 6)."""


# --- options ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """One input as a flag: where its value goes in the inputs, and how it is given."""

    name: str  # the flag without dashes: "label-name"
    path: tuple[str, ...]  # where the value goes: ("label", "name")
    field: FieldSpec
    kind: Literal["value", "array", "boolean"]
    required: bool  # and so are the attributes it is in
    short: str | None = None  # "-l"

    @property
    def flags(self) -> list[str]:
        """The flags that set it, as help lists them."""
        if self.kind != "boolean":
            return [f"--{self.name}"]
        default = self.field.default
        return [f for f, value in ((f"--{self.name}", True), (f"--skip-{self.name}", False)) if default is not value]


@dataclass(frozen=True, slots=True)
class CommandOptions:
    options: tuple[Option, ...]
    by_flag: Mapping[str, tuple[Option, bool | None]] = field(default_factory=dict)  # boolean: what it sets


_OPTIONS: dict[tuple[CommandClass, frozenset[str]], CommandOptions] = {}


def options_of(target: Connection | CommandClass) -> CommandOptions:
    """The flags of what a connection lets a caller send (a command: all its inputs), built once
    per command and set of inputs left out."""
    if isinstance(target, Connection):
        command, hidden = target.command, target.inputs.hidden if target.inputs is not None else frozenset()
    else:
        command, hidden = target, frozenset()
    found = _OPTIONS.get((command, hidden))
    if found is None:
        found = _OPTIONS[command, hidden] = _build_options(command.spec.inputs_node, hidden)
    return found


def _leaves(
    node: TypeNode | None, path: tuple[str, ...] = (), required: bool = True, hidden: frozenset[str] = frozenset()
) -> Iterator[tuple[tuple[str, ...], FieldSpec, bool]]:
    for name, spec in (node.fields if node is not None and node.fields else {}).items():
        if name in hidden:
            continue
        here = (*path, spec.alias or name)
        child = spec.node
        if child.type == "attributes" and child.fields and not is_entity(child):  # a record is given by its key
            yield from _leaves(child, here, required and spec.required)
        else:
            yield here, spec, required and spec.required


def _build_options(node: TypeNode | None, hidden: frozenset[str]) -> CommandOptions:
    leaves = list(_leaves(node, hidden=hidden))
    lengths = [1] * len(leaves)
    while True:  # a clash is resolved by prefixing the deeper ones with their parents' names
        names = ["-".join(_kebab(p) for p in path[-n:]) for (path, _, _), n in zip(leaves, lengths, strict=True)]
        clashing = {name for name in names if names.count(name) > 1}
        grown = False
        for i, ((path, _, _), name) in enumerate(zip(leaves, names, strict=True)):
            if name in clashing and lengths[i] < len(path):
                lengths[i] += 1
                grown = True
        if not grown:
            break
    options: list[Option] = []
    by_flag: dict[str, tuple[Option, bool | None]] = {}
    used_shorts = {"h"}  # -h is help
    for (path, spec, required), name in zip(leaves, names, strict=True):
        kind: Literal["value", "array", "boolean"] = (
            "boolean" if spec.node.type == "boolean" else "array" if spec.node.type == "array" else "value"
        )
        option = Option(name, path, spec, kind, required)
        flags = option.flags
        letter = name[0]
        if letter.isalpha() and letter not in used_shorts and flags[0] == f"--{name}":
            used_shorts.add(letter)
            option = Option(name, path, spec, kind, required, f"-{letter}")
            by_flag[option.short or ""] = (option, True if kind == "boolean" else None)
        for flag in flags:
            by_flag[flag] = (option, (not flag.startswith("--skip-")) if kind == "boolean" else None)
        options.append(option)
    return CommandOptions(tuple(options), by_flag)


def _kebab(name: str) -> str:
    return name.replace("_", "-")


# --- parsing ---------------------------------------------------------------------------------


def _is_flag(token: str) -> bool:
    """`--name` or `-n`; `-3` and `-` are values."""
    return token.startswith("--") or (len(token) > 1 and token[0] == "-" and token[1].isalpha())


def _split(token: str) -> tuple[str, str | None]:
    if token.startswith("--"):
        flag, equals, value = token.partition("=")
        return flag, value if equals else None
    return token[:2], token[2:] or None


def parse_inputs(options: CommandOptions, args: Sequence[str]) -> dict[str, Any]:
    """The inputs the flags give, nested as the inputs type nests them; CliParseError otherwise."""
    values: dict[tuple[str, ...], Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if not _is_flag(token):
            raise CliParseError(f"Unexpected argument: {token}")
        flag, value = _split(token)
        found = options.by_flag.get(flag)
        if found is None:
            raise CliParseError(f"Unexpected argument: {flag}")
        option, setting = found
        if option.kind == "boolean":
            if value is not None:
                raise CliParseError(f"{flag} takes no value")
            values[option.path] = setting
        elif option.kind == "array":
            items = [] if value is None else [value]
            while i < len(args) and not _is_flag(args[i]):
                items.append(args[i])
                i += 1
            if not items:
                raise CliParseError(f"Missing value for {flag}")
            values.setdefault(option.path, []).extend(items)
        else:
            if value is None:
                if i >= len(args) or _is_flag(args[i]):
                    raise CliParseError(f"Missing value for {flag}")
                value = args[i]
                i += 1
            values[option.path] = value
    inputs: dict[str, Any] = {}
    for path, value in values.items():
        _merge(inputs, _nested(path, value))
    return inputs


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for part in reversed(path):
        value = {part: value}
    return value  # type: ignore[no-any-return]


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` into `base`, nested objects merged (flags over stdin)."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _optional(name: str) -> Any:
    """An optional library (pyyaml, rich), or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _read_stdin(stream: TextIO, input_format: str | None) -> dict[str, Any]:
    text = stream.read()
    if not text.strip():
        return {}
    data: Any
    if input_format == "json" or input_format is None:
        try:
            data = json.loads(text)
        except ValueError as exc:
            if input_format == "json":
                raise CliParseError(f"stdin is not valid JSON: {exc}") from exc
            if _optional("yaml") is None:
                message = (
                    f"stdin is not valid JSON ({exc}), and reading YAML needs pyyaml: pip install 'foobara-py[cli]'"
                )
                raise CliParseError(message) from exc
            data = _load_yaml(text)
    else:
        data = _load_yaml(text)
    if not isinstance(data, dict):
        raise CliParseError("stdin must hold an object of inputs")
    return data


def _load_yaml(text: str) -> Any:
    yaml = _optional("yaml")
    if yaml is None:
        raise CliParseError("Reading YAML needs pyyaml: pip install 'foobara-py[cli]'")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliParseError(f"stdin is not valid YAML: {' '.join(str(exc).split())}") from exc


# --- writing ---------------------------------------------------------------------------------


def _dump(value: Any, output_format: str | None) -> str:
    if output_format == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if output_format == "yaml":
        yaml = _optional("yaml")
        if yaml is not None:
            text = str(yaml.safe_dump(value, sort_keys=False, allow_unicode=True))
            return text.removesuffix("\n...\n").rstrip("\n")  # a scalar's document end marker
        return json.dumps(value, indent=2, ensure_ascii=False)  # JSON is YAML too
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value)


def exit_code_of(outcome: Outcome[Any]) -> int:
    if outcome.is_success():
        return EXIT_OK
    errors = outcome.errors
    return _EXIT_OF_SYMBOL.get(errors[0].symbol, EXIT_ERROR) if len(errors) == 1 else EXIT_ERROR


# --- the program -----------------------------------------------------------------------------


def connector_of(module_name: str) -> Connector:
    """The Connector MODULE holds, or one connecting the commands, domains and organizations it holds."""
    module = load_module(module_name)
    for value in vars(module).values():
        if isinstance(value, Connector):
            return value
    connector = Connector()
    for root in commands_of(module):
        for command in Connector(root).commands:
            if connector.find(command.full_name()) is None:
                connector.connect(command)
    return connector


@dataclass
class _Run:
    """The global options of `run`, read before the module and the command's name."""

    output_format: str | None = None
    input_format: str | None = None
    stdin: bool = False
    positional: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)


def _run_arguments(args: Sequence[str]) -> _Run:
    run = _Run()
    i = 0
    while i < len(args) and len(run.positional) < 2:
        token = args[i]
        i += 1
        if not _is_flag(token):
            run.positional.append(token)
            continue
        flag, value = _split(token)
        if flag == "--stdin" and value is None:
            run.stdin = True
            continue
        if flag not in ("-f", "--format", "--output-format", "--input-format"):
            raise CliParseError(f"Unexpected argument: {flag}")
        if value is None:
            if i >= len(args):
                raise CliParseError(f"Missing value for {flag}")
            value = args[i]
            i += 1
        if value not in FORMATS:
            raise CliParseError(f"Unknown format: {value}")
        if flag == "--input-format":
            run.input_format = value
        else:
            run.output_format = value
            if flag != "--output-format":
                run.input_format = run.input_format or value
    if not run.positional:
        raise CliParseError("Missing module: foobara run MODULE NAME [INPUTS]")
    if len(run.positional) < 2:
        raise CliParseError("Missing command to run: foobara run MODULE NAME [INPUTS]")
    run.inputs = list(args[i:])
    return run


def _run(args: Sequence[str], out: TextIO, err: TextIO, stdin: TextIO) -> int:
    run = _run_arguments(args)
    module, name = run.positional
    connector = connector_of(module)
    connection = connector.find(name)
    if connection is None:
        print(CommandNotConnectedError(name), file=err)
        return EXIT_NOT_FOUND
    options = options_of(connection)
    if run.inputs and run.inputs[0] in ("-h", "--help") and run.inputs[0] not in options.by_flag:
        _print_doc(_command_help(connector, connection, module), out)
        return EXIT_OK
    inputs = parse_inputs(options, run.inputs)
    if run.stdin:
        inputs = _merge(_read_stdin(stdin, run.input_format), inputs)
    outcome = connector.run(connection.full_name, inputs, cli_request())
    if outcome.is_success():
        print(_dump(serialize(outcome), run.output_format), file=out)
    elif run.output_format is None:
        print(outcome.errors_sentence, file=err)
    else:
        print(_dump(serialize(outcome), run.output_format), file=err)
    return exit_code_of(outcome)


HEADER_PREFIX = "FOOBARA_HEADER_"
COOKIE_PREFIX = "FOOBARA_COOKIE_"


def cli_request(environ: Mapping[str, str] | None = None) -> ConnectorRequest:
    """What the command line tells a connection's authenticators, rules and inputs transformers:
    the environment's `FOOBARA_HEADER_<NAME>` variables as headers (lower case, `_` as `-`:
    `FOOBARA_HEADER_AUTHORIZATION` is `authorization`, `FOOBARA_HEADER_X_API_KEY` is
    `x-api-key`), its `FOOBARA_COOKIE_<NAME>` variables as cookies (lower case), and the whole
    environment as `raw`. So an authenticator written for HTTP works from a shell, and a
    credential never has to appear among the arguments (which other users can see)."""
    environ = os.environ if environ is None else environ
    headers = {
        name[len(HEADER_PREFIX) :].lower().replace("_", "-"): value
        for name, value in environ.items()
        if name.startswith(HEADER_PREFIX) and len(name) > len(HEADER_PREFIX)
    }
    cookies = {
        name[len(COOKIE_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.startswith(COOKIE_PREFIX) and len(name) > len(COOKIE_PREFIX)
    }
    return ConnectorRequest("cli", headers, cookies, dict(environ))


def _list(args: Sequence[str], out: TextIO) -> int:
    verbose = "--verbose" in args
    rest = [a for a in args if a != "--verbose"]
    if len(rest) != 1:
        raise CliParseError("Usage: foobara list MODULE [--verbose]")
    connector = connector_of(rest[0])
    names = [c.full_name for c in connector.connections]
    width = max(map(len, names), default=0)
    for connection in connector.connections:
        summary = _summary(connection) if verbose else ""
        print(f"{connection.full_name:<{width}}  {summary}" if summary else connection.full_name, file=out)
    return EXIT_OK


def _help(args: Sequence[str], out: TextIO, err: TextIO) -> int:
    if not args or len(args) > 2 or any(_is_flag(a) for a in args):
        raise CliParseError("Usage: foobara help MODULE [NAME]")
    connector = connector_of(args[0])
    if len(args) == 1:
        _print_doc(_module_help(connector, args[0]), out)
        return EXIT_OK
    connection = connector.find(args[1])
    if connection is None:
        print(CommandNotConnectedError(args[1]), file=err)
        return EXIT_NOT_FOUND
    _print_doc(_command_help(connector, connection, args[0]), out)
    return EXIT_OK


# --- help --------------------------------------------------------------------------------------

# A help page: ("heading", text), ("text", text) or ("row", flags, details) lines.
Doc = list[tuple[str, ...]]


def usage() -> str:
    lines = ["Usage: foobara ACTION MODULE [NAME] [INPUTS]", "", "Actions:"]
    lines += [f"  {action:<10} {text}" for action, text in ACTIONS.items()]
    lines += ["", "MODULE is a dotted module (app.commands) or a .py file.", "Run: foobara help MODULE [NAME]"]
    return "\n".join(lines)


def _module_help(connector: Connector, module: str) -> Doc:
    doc: Doc = [
        ("heading", f"Usage: foobara run [-f json|yaml] [--stdin] {module} NAME [INPUTS]"),
        ("text", ""),
        ("heading", "Commands:"),
    ]
    for connection in connector.connections:
        doc.append(("row", connection.full_name, _summary(connection)))
    doc += [("text", ""), ("text", f"Run `foobara help {module} NAME` for a command's inputs.")]
    return doc


def _summary(connection: Connection) -> str:
    """The first line of the command's description: a list's one line per command."""
    lines = (connection.command.spec.description or "").strip().splitlines()
    return lines[0] if lines else ""


def _command_help(connector: Connector, connection: Connection, module: str) -> Doc:
    full_name, command = connection.full_name, connection.command
    doc: Doc = [("heading", f"Usage: foobara run [-f json|yaml] [--stdin] {module} {full_name} [INPUTS]"), ("text", "")]
    if command.spec.description:
        doc += [("text", command.spec.description.strip()), ("text", "")]
    options = options_of(connection).options
    doc.append(("heading", "Inputs:" if options else "Inputs: none"))
    for option in options:
        names = option.flags
        if option.kind != "boolean":
            names = [f"{names[0]} {option.name.upper().replace('-', '_')}"]
        flags = f"{option.short}, " if option.short else "    "
        doc.append(("row", flags + ", ".join(names), _input_details(option)))
    result = _result_label(connection)
    if result is not None:
        doc += [("text", ""), ("heading", f"Result: {result}")]
    errors = list(connector.manifest()["command"].get(full_name, {}).get("possible_errors", {}))
    if errors:
        doc += [("text", ""), ("heading", "Possible errors:")]
        doc += [("text", f"  {key}") for key in errors]
    return doc


def _input_details(option: Option) -> str:
    spec = option.field
    node = spec.node
    parts = [_type_label(node, keys=True) + (", the values that follow" if option.kind == "array" else "")]
    if option.required:
        parts.append("required")
    elif node.sensitive:
        pass  # a secret's default is never shown
    elif spec.default is not PydanticUndefined:
        parts.append(f"default {json.dumps(spec.default, default=str)}")
    elif spec.default_factory is not None:
        parts.append("default computed")
    if node.sensitive:
        parts.append("sensitive")
    details = ", ".join(parts)
    return f"{details}. {node.description}" if node.description else details


def _result_label(connection: Connection) -> str | None:
    """What the caller gets, as the connection's result transformers leave it."""
    node, plan = connection.command.spec.result_node, connection.result
    if plan is not None and plan.functions:
        return "any JSON value (the connection transforms the result)"
    if node is None:
        return None
    label = _type_label(node)
    if plan is not None and node.fields is not None:
        kept = [
            spec.alias or name
            for name, spec in node.visible_fields(remove_sensitive=True).items()
            if (plan.only is None or name in plan.only) and name not in plan.reject
        ]
        label += f" ({', '.join(kept)})"
    return label


def _type_label(node: TypeNode, *, keys: bool = False) -> str:
    """The type's name; with `keys`, a record is named with its key, as an input takes it."""
    if node.members:
        label = " or ".join(_type_label(member, keys=keys) for member in node.members)
    elif node.type == "array" and node.element is not None:
        label = f"array of {_type_label(node.element, keys=keys)}"
    else:
        label = node.reference or (node.model.__name__ if node.model is not None else node.type)
        if keys and is_entity(node) and node.fields is not None:
            key = node.model.__primary_key__  # type: ignore[union-attr]
            label += f" ({key}: {_type_label(node.fields[key].node)})"
    if node.one_of:
        label += f" (one of {', '.join(map(str, node.one_of))})"
    return label


def _print_doc(doc: Doc, out: TextIO) -> None:
    """Plain text, or coloured by rich when it is installed and `out` is a terminal."""
    rich_console = _optional("rich.console") if out.isatty() else None
    width = max((len(line[1]) for line in doc if line[0] == "row"), default=0)
    if rich_console is None:
        for line in doc:
            print(f"  {line[1]:<{width}}  {line[2]}".rstrip() if line[0] == "row" else line[1], file=out)
        return
    from rich.text import Text

    console = rich_console.Console(file=out, highlight=False)
    for line in doc:
        if line[0] == "heading":
            console.print(Text(line[1], style="bold"))
        elif line[0] == "row":
            console.print(Text.assemble("  ", (f"{line[1]:<{width}}", "cyan"), "  ", line[2]))
        else:
            console.print(Text(line[1]))


# --- entry -------------------------------------------------------------------------------------


def _quiet_logging() -> None:
    """The core logs an unexpected error with its traceback; on a terminal that is one line."""
    if logging.getLogger().handlers:
        return  # the module set logging up: its choice
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine())
    logger = logging.getLogger("foobara_py")
    logger.addHandler(handler)
    logger.propagate = False


class _OneLine(logging.Formatter):
    """A record as one line. An exception's text is never written (a sensitive input may be in
    it): what logs one says what it may show in its message, secrets filtered; the line adds
    only the exception's class, when the message does not name it."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"foobara: {record.getMessage()}"
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ not in line:
            line += f" ({type(exc).__name__})"
        return line


def _mcp(args: Sequence[str]) -> int:
    if len(args) != 1:
        raise CliParseError("Usage: foobara mcp MODULE")
    from .mcp import serve_stdio

    serve_stdio(connector_of(args[0]))  # until stdin closes; stdout carries the protocol
    return EXIT_OK


def _serve(args: Sequence[str], err: TextIO) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="foobara serve", add_help=False)
    parser.add_argument("module")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--cors", action="append", metavar="ORIGIN")  # repeated; `*` for any origin
    known, extra = parser.parse_known_args(args)
    if extra:
        raise CliParseError(f"Unexpected argument: {extra[0]}")
    import uvicorn

    from .http import http_app

    connector = connector_of(known.module)
    app = http_app(connector, prefix=known.prefix, host=known.host, cors=known.cors)
    paths = {getattr(route, "path", "") for route in app.routes}  # where the app serves what
    prefix = next(path for path in paths if path.endswith("/openapi.json")).removesuffix("/openapi.json")
    config = uvicorn.Config(app, host=known.host, port=known.port, log_level="warning", ws="none")

    def started(port: int) -> None:
        base = f"http://{_url_host(known.host)}:{port}{prefix}"
        print(serve_banner(connector, base, mcp=f"{prefix}/mcp" in paths), file=err, flush=True)

    server = _uvicorn_server(config, started)
    try:
        server.run()
    except KeyboardInterrupt:  # the Ctrl+C uvicorn handled, raised again once it has shut down
        pass
    except SystemExit:  # uvicorn could not start (it logged why: the port is taken...)
        pass
    return EXIT_OK if server.started else EXIT_ERROR


def _uvicorn_server(config: Any, on_started: Callable[[int], None]) -> Any:
    """uvicorn's server, calling back with the port once it listens (so that what `serve` prints
    is true when it is printed, and right for `--port 0`)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                on_started(self.servers[0].sockets[0].getsockname()[1])

    return Server(config)


def serve_banner(connector: Connector, base: str, *, mcp: bool = True) -> str:
    """What `foobara serve` prints once it listens at `base`: where to look, and a call to try."""
    count = len(connector.connections)
    lines = [
        f"Serving {count} command{'' if count == 1 else 's'} at {base} (Ctrl+C to stop)",
        f"  help       {base}/help",
        f"  OpenAPI    {base}/openapi.json",
        f"  manifest   {base}/manifest",
    ]
    if mcp:
        lines.append(f"  MCP        {base}/mcp (streamable HTTP)")
    example = example_call(connector)
    if example is not None:
        name, inputs = example
        body = shlex.quote(json.dumps(inputs))
        lines += ["Try:", f"  curl -X POST {base}/run/{name} -H 'Content-Type: application/json' -d {body}"]
    return "\n".join(lines)


# A value of each scalar type, for an input whose field gives no `examples`.
_PLACEHOLDERS: dict[str, Any] = {"string": "hello", "integer": 1, "float": 1.5, "boolean": True, "array": []}


def example_call(connector: Connector) -> tuple[str, dict[str, Any]] | None:
    """A connected command anyone can call, and inputs for it: the first that needs no user and no
    secret, its required inputs (those its connection lets a caller send) set to their field's
    first example or a value of their type."""
    for connection in connector.connections:
        inputs = None if connection.requires_auth else _example_inputs(connection)
        if inputs is not None:
            return connection.full_name, inputs
    return None


def _example_inputs(connection: Connection) -> dict[str, Any] | None:
    """None when a required input is a secret, has no example to give, or is one a caller cannot
    send (the connection leaves it out, or sets it from the request, which a curl line lacks)."""
    plan = connection.inputs
    taken = plan.hidden | {name for name, _ in plan.setters} if plan is not None else frozenset()
    spec = connection.command.spec
    fields = spec.inputs_node.fields if spec.inputs_node is not None and spec.inputs_node.fields else {}
    model_fields = spec.inputs_type.model_fields if spec.inputs_type is not None else {}
    inputs: dict[str, Any] = {}
    for name, field_spec in fields.items():
        if not field_spec.required:
            continue
        node = field_spec.node
        if node.sensitive or name in taken:
            return None
        examples = getattr(model_fields.get(name), "examples", None)
        if examples:
            value = examples[0]
        elif node.one_of:
            value = node.one_of[0]
        elif node.reference is None and node.type in _PLACEHOLDERS:
            value = _PLACEHOLDERS[node.type]
        else:
            return None
        inputs[field_spec.alias or name] = value
    return inputs


def _url_host(host: str) -> str:
    """The host as a URL names it: a wildcard address is reached on the loopback one."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def main(
    action: str, args: Sequence[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr, stdin: TextIO = sys.stdin
) -> int:
    """Run `foobara ACTION ARGS` for run, list, help, mcp and serve; the exit code."""
    _quiet_logging()
    handlers: dict[str, Callable[[], int]] = {
        "run": lambda: _run(args, out, err, stdin),
        "list": lambda: _list(args, out),
        "help": lambda: _help(args, out, err),
        "mcp": lambda: _mcp(args),
        "serve": lambda: _serve(args, err),
    }
    try:
        return handlers[action]()
    except CliParseError as exc:
        print(exc, file=err)
        return EXIT_PARSE_ERROR
    except ModuleLoadError as exc:
        print(f"foobara: {exc}", file=err)
        return EXIT_ERROR
