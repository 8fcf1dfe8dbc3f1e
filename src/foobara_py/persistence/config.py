"""Which store keeps which entity: `configure(url)`, chosen by the URL's scheme.

Drivers are optional extras, imported only when a URL asks for them.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .store import Store, redact_url

if TYPE_CHECKING:
    from .entity import Entity

__all__ = ["SCHEMES", "configure", "reset", "store_for"]

ENVIRONMENT_VARIABLE = "FOOBARA_DATABASE_URL"

# scheme -> (module, class): a store class takes the URL.
SCHEMES: dict[str, tuple[str, str]] = {
    "memory": ("foobara_py.persistence.memory", "MemoryStore"),
    "sqlite": ("foobara_py.persistence.sql", "SqlStore"),
    "postgresql": ("foobara_py.persistence.sql", "SqlStore"),
    "postgres": ("foobara_py.persistence.sql", "SqlStore"),
    "redis": ("foobara_py.persistence.redis", "RedisStore"),
    "rediss": ("foobara_py.persistence.redis", "RedisStore"),
}

_lock = threading.Lock()
_default: Store | None = None
_by_entity: dict[type[Any], Store] = {}


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    if not sep:
        scheme, sep, _ = url.partition(":")
    return scheme.split("+", 1)[0].lower() if sep else ""


def open_store(url: str) -> Store:
    """A store for the URL. An unknown scheme raises `ValueError` listing the known ones."""
    scheme = _scheme(url)
    if scheme not in SCHEMES:
        known = ", ".join(f"{name}://" for name in SCHEMES)
        raise ValueError(f"Unknown store URL scheme in {redact_url(url)!r}: known schemes are {known}")
    module_name, class_name = SCHEMES[scheme]
    factory: Callable[[str], Store] = getattr(importlib.import_module(module_name), class_name)
    return factory(url)


def configure(url: str | Store, entities: Iterable[type[Entity]] | None = None) -> Store:
    """Keep records in the store at `url` (`sqlite:///library.db`, `postgresql://…`,
    `redis://…`, `memory://`): every entity's, or only those of `entities`. Returns the store.
    Configure before the first transaction that uses the entities."""
    global _default
    store = open_store(url) if isinstance(url, str) else url
    with _lock:
        if entities is None:
            _default = store
        else:
            for entity in entities:
                _by_entity[entity] = store
    return store


def reset() -> None:
    """Forget the configuration: the next use reads FOOBARA_DATABASE_URL again, or keeps
    records in memory."""
    global _default
    with _lock:
        _default = None
        _by_entity.clear()


def store_for(entity: type[Entity]) -> Store:
    """The store that keeps the entity's records."""
    store = _by_entity.get(entity)
    if store is not None:
        return store
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = open_store(os.environ.get(ENVIRONMENT_VARIABLE) or "memory://")
    return _default
