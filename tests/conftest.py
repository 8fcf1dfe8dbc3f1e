from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text())


@pytest.fixture
def ruby_fixture() -> Any:
    return lambda name: load_fixture("ruby_acme", name)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session (postgresql://postgres@127.0.0.1:PORT/postgres)."""
    server = _started(servers.start_postgres)
    yield server.url
    servers.stop(server)


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the session's cluster for one test, dropped after it."""
    name = f"test_{next(_database_numbers)}"
    url = servers.create_database(postgres_url, name)
    yield url
    servers.drop_database(postgres_url, name)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server for the session (redis://127.0.0.1:PORT)."""
    server = _started(servers.start_redis)
    yield server.url
    servers.stop(server)


@pytest.fixture
def redis_db_url(redis_url: str) -> str:
    """The session redis-server's database 0, flushed for one test (redis://127.0.0.1:PORT/0)."""
    import redis

    url = f"{redis_url}/0"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    return url


_database_numbers = itertools.count(1)


def _started(start: Callable[[], servers.Server]) -> servers.Server:
    """A missing or broken server fails the run with the message that says how to install it (never a skip)."""
    try:
        return start()
    except (servers.ServerMissing, servers.ServerFailed) as error:
        message = str(error)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def local_api_url() -> Any:
    """The examples' small JSON API, served on 127.0.0.1 for the session."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "examples" / "async_commands"))
    from local_api import local_api

    with local_api() as base_url:
        yield base_url
