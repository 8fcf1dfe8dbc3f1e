"""The `foobara` command line. It describes commands; it does not run them (that is the job of a
command-line connector, which is not there yet).

    foobara manifest MODULE [--remove-sensitive]       the manifest of the commands MODULE holds
    foobara describe MODULE NAME [--remove-sensitive]  one entry of it (a command, type, domain...)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .loading import ModuleLoadError, commands_of, load_module
from .manifest import ManifestEntryNotFoundError, describe, manifest

EXIT_OK, EXIT_ERROR, EXIT_NOT_FOUND = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foobara", description="Describe and run Foobara commands.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    show = actions.add_parser("manifest", help="print the manifest of the commands a module defines, as JSON")
    show.add_argument("module", help="a dotted module (app.commands) or a .py file")
    show.add_argument("--remove-sensitive", action="store_true", help="leave out sensitive attributes")

    one = actions.add_parser("describe", help="print one manifest entry (a command, type, domain...)")
    one.add_argument("module", help="a dotted module (app.commands) or a .py file")
    one.add_argument("name", help="a full name, e.g. Acme::Math::Add")
    one.add_argument("--remove-sensitive", action="store_true", help="leave out sensitive attributes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        module = load_module(args.module)
    except ModuleLoadError as exc:
        print(f"foobara: {exc}", file=sys.stderr)
        return EXIT_ERROR
    roots = commands_of(module)
    if not roots:
        print(f"foobara: {args.module} defines no commands", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.action == "manifest":
        data = manifest(*roots, remove_sensitive=args.remove_sensitive)
    else:
        try:
            data = describe(args.name, *roots, remove_sensitive=args.remove_sensitive)
        except ManifestEntryNotFoundError as exc:
            print(f"foobara: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
    print(json.dumps(data, sort_keys=True, indent=2))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
