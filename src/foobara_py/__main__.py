"""The `foobara` command line.

    foobara run [-f json|yaml] [--stdin] MODULE NAME [INPUTS]  run a command (see connectors.cli)
    foobara list MODULE [--verbose]                    the commands MODULE connects
    foobara help MODULE [NAME]                         their help, or one command's
    foobara serve MODULE [--host H] [--port P]         serve them over HTTP (and MCP at /mcp)
    foobara mcp MODULE                                 serve them as MCP tools on stdio
    foobara manifest MODULE [--remove-sensitive]       the manifest of the commands MODULE holds
    foobara describe MODULE NAME [--remove-sensitive]  one entry of it (a command, type, domain...)

Exit codes: 0 ok, 1 error, 2 not found, 3 unauthenticated, 4 not allowed, 5 unexpected, 6 bad
arguments. Whatever happens, a line on stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import NoReturn

from .connectors import cli
from .loading import ModuleLoadError, commands_of, load_module
from .manifest import ManifestEntryNotFoundError, describe, manifest


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Bad arguments are a parse error (6), as for `run`."""
        self.print_usage(sys.stderr)
        self.exit(cli.EXIT_PARSE_ERROR, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="foobara", description="Describe and run Foobara commands.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=_Parser)

    show = actions.add_parser("manifest", help=cli.ACTIONS["manifest"])
    show.add_argument("module", help="a dotted module (app.commands) or a .py file")
    show.add_argument("--remove-sensitive", action="store_true", help="leave out sensitive attributes")

    one = actions.add_parser("describe", help=cli.ACTIONS["describe"])
    one.add_argument("module", help="a dotted module (app.commands) or a .py file")
    one.add_argument("name", help="a full name, e.g. Acme::Math::Add")
    one.add_argument("--remove-sensitive", action="store_true", help="leave out sensitive attributes")
    return parser


def _describe(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        module = load_module(args.module)
    except ModuleLoadError as exc:
        print(f"foobara: {exc}", file=sys.stderr)
        return cli.EXIT_ERROR
    roots = commands_of(module)
    if not roots:
        print(f"foobara: {args.module} defines no commands", file=sys.stderr)
        return cli.EXIT_NOT_FOUND
    if args.action == "manifest":
        data = manifest(*roots, remove_sensitive=args.remove_sensitive)
    else:
        try:
            data = describe(args.name, *roots, remove_sensitive=args.remove_sensitive)
        except ManifestEntryNotFoundError as exc:
            print(f"foobara: {exc}", file=sys.stderr)
            return cli.EXIT_NOT_FOUND
    print(json.dumps(data, sort_keys=True, indent=2))
    return cli.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help"):
            print(cli.usage())
            return cli.EXIT_OK
        if argv[0] in ("run", "list", "help", "mcp", "serve"):
            return cli.main(argv[0], argv[1:])
        if argv[0] in ("manifest", "describe"):
            return _describe(argv)
        print(f"Unknown action: {argv[0]}\n\n{cli.usage()}", file=sys.stderr)
        return cli.EXIT_PARSE_ERROR
    except Exception as exc:  # the last guard: one line, never a traceback
        print(f"foobara: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return cli.EXIT_UNKNOWN


if __name__ == "__main__":
    sys.exit(main())
