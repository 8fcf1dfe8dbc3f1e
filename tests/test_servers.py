"""The throwaway servers the suite runs against: real, reachable, isolated per test, never root."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import redis

from tests import servers


def test_the_postgres_url_accepts_a_connection_and_a_query(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT 1 + 1").fetchone() == (2,)
        assert connection.execute("SHOW max_connections").fetchone() == ("200",)


def test_each_test_gets_its_own_empty_database(postgres_url: str) -> None:
    first = servers.create_database(postgres_url, "isolation_first")
    second = servers.create_database(postgres_url, "isolation_second")
    try:
        with psycopg.connect(first, autocommit=True) as connection:
            connection.execute("CREATE TABLE counters (id int PRIMARY KEY, value int)")
            connection.execute("INSERT INTO counters VALUES (1, 41)")
        with psycopg.connect(second) as connection:
            tables = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert tables == []
    finally:
        servers.drop_database(postgres_url, "isolation_first")
        servers.drop_database(postgres_url, "isolation_second")


def test_the_postgres_database_fixture_is_empty_and_dropped_after_the_test(
    postgres_url: str, postgres_database: str
) -> None:
    name = postgres_database.rsplit("/", 1)[1]
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        assert connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        connection.execute("CREATE TABLE left_behind (id int)")
    # A connection still open (as a store's pool keeps them) does not stop the drop.
    lingering = psycopg.connect(postgres_database)
    try:
        servers.drop_database(postgres_url, name)
    finally:
        lingering.close()
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_the_postgres_cluster_never_runs_as_root(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT current_setting('data_directory'), pg_backend_pid()").fetchone()
        assert row is not None
        data_directory, backend_pid = row
        # Read while the connection is open: its backend process ends when it closes.
        assert Path(f"/proc/{backend_pid}").stat().st_uid != 0
    assert Path(data_directory).stat().st_uid != 0
    if os.geteuid() != 0:
        assert Path(data_directory).stat().st_uid == os.geteuid()


def test_the_redis_url_answers_ping(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping() is True


def test_the_redis_db_url_starts_empty(redis_url: str, request: pytest.FixtureRequest) -> None:
    with redis.Redis.from_url(f"{redis_url}/0") as client:
        client.set("left-over", "1")
    # The fixture is asked for after the write, so it is seen flushing what an earlier test left.
    url = request.getfixturevalue("redis_db_url")
    with redis.Redis.from_url(url) as client:
        assert client.dbsize() == 0


def test_postgres_is_found_in_debians_directories_newest_version_first(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16"):
        bin_dir = tmp_path / version / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "initdb").touch()
        (bin_dir / "postgres").touch()
    (tmp_path / "17" / "bin").mkdir(parents=True)  # client only: no server binaries
    assert servers.postgres_bin_dir(path="", debian_root=tmp_path) == tmp_path / "16" / "bin"


def test_a_missing_postgres_server_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(servers.ServerMissing, match=r"not installed: apt-get install postgresql"):
        servers.postgres_bin_dir(path="", debian_root=tmp_path)
