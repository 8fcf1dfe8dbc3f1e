"""Finding the commands a Python module or file defines, for the `foobara` command line."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["ModuleLoadError", "commands_of", "load_module"]


class ModuleLoadError(Exception):
    """The module could not be found or raised while being imported."""


def load_module(target: str) -> ModuleType:
    """Import a dotted module (`app.commands`) or a file (`app/commands.py`)."""
    path = Path(target)
    if target.endswith(".py") or path.is_file():
        if not path.is_file():
            raise ModuleLoadError(f"No such file: {target}")
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ModuleLoadError(f"Cannot import {target}")
        sys.path.insert(0, str(path.resolve().parent))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ModuleLoadError(f"Importing {target} failed: {type(exc).__name__}: {exc}") from exc
        return module
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and target.startswith(exc.name):
            raise ModuleLoadError(f"No module named {target!r} (give a dotted module or a .py file)") from exc
        raise ModuleLoadError(f"Importing {target} failed: {exc}") from exc
    except Exception as exc:
        raise ModuleLoadError(f"Importing {target} failed: {type(exc).__name__}: {exc}") from exc


def commands_of(module: ModuleType) -> list[Any]:
    """The commands, domains and organizations a module holds (defined there or imported)."""
    from .command import CommandBase
    from .domain import Domain, Organization

    found: list[Any] = []
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, CommandBase):
            if value.spec.is_abstract:
                continue
        elif not isinstance(value, (Domain, Organization)):
            continue
        if value not in found:
            found.append(value)
    return found
