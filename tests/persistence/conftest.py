"""The stores under test. Each is made by a factory taking the test's request, so adding a store
to every test of the store contract is one line here."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from foobara_py.persistence.memory import MemoryStore
from foobara_py.persistence.redis import RedisStore
from foobara_py.persistence.sql import SqlStore
from foobara_py.persistence.store import Store

STORES: dict[str, Callable[[pytest.FixtureRequest], Store]] = {
    "memory": lambda request: MemoryStore(),
    "sqlite": lambda request: SqlStore(f"sqlite:///{request.getfixturevalue('tmp_path')}/store.db"),
    "sqlite-memory": lambda request: SqlStore("sqlite://"),
    "postgresql": lambda request: SqlStore(request.getfixturevalue("postgres_database")),
    "redis": lambda request: RedisStore(request.getfixturevalue("redis_db_url")),
}


@pytest.fixture(params=list(STORES))
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Each store in turn, empty."""
    made = STORES[request.param](request)
    yield made
    made.close()


class Awaited:
    """A session whose methods are all awaited, whether it is a sync session or an async one, so
    that one test body checks both."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.session, name)

        async def call(*args: Any) -> Any:
            result = method(*args)
            return await result if inspect.isawaitable(result) else result

        return call


@pytest.fixture(params=["sync", "async"])
def open_session(request: pytest.FixtureRequest, store: Store) -> Callable[[], Awaited]:
    """Opens a session of the store: `session()` or `asession()`."""
    if request.param == "sync":
        return lambda: Awaited(store.session())
    return lambda: Awaited(store.asession())
