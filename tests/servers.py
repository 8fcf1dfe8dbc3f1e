"""Throwaway PostgreSQL and redis servers for the test session, on free ports of 127.0.0.1.

The tests run against real servers, never mocks; a missing server binary raises ServerMissing with
the command that installs it, and the conftest turns that into a failed run (never a skip).
PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster runs as the
`postgres` system user that Debian's package creates (or `nobody` where there is none).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 30.0
POSTGRES_SUPERUSER = "postgres"
POSTGRES_INSTALL = "apt-get install postgresql (Debian/Ubuntu; the README's test command and .ci/run do it)"
REDIS_INSTALL = "apt-get install redis-server (Debian/Ubuntu; the README's test command and .ci/run do it)"


class ServerMissing(RuntimeError):
    """A server binary is not installed; the message says how to install it."""


class ServerFailed(RuntimeError):
    """A server was found but did not start; the message carries its log."""


@dataclass
class Server:
    """A running throwaway server: its URL, its process and the directory to remove at the end."""

    url: str
    process: subprocess.Popen[bytes]
    directory: Path
    log: Path
    stop_signal: signal.Signals


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(server: Server) -> None:
    """Stops the server at once and removes its directory: nothing in it is kept."""
    if server.process.poll() is None:
        server.process.send_signal(server.stop_signal)
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
    shutil.rmtree(server.directory, ignore_errors=True)


# PostgreSQL


def postgres_bin_dir(path: str | None = None, debian_root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The directory holding initdb and postgres: PATH first, then Debian's <debian_root>/<version>/bin
    (not on PATH), newest version first."""
    initdb, postgres = shutil.which("initdb", path=path), shutil.which("postgres", path=path)
    if initdb is not None and postgres is not None:
        return Path(initdb).resolve().parent
    for directory in sorted(debian_root.glob("*/bin"), key=_version_key, reverse=True):
        if (directory / "initdb").is_file() and (directory / "postgres").is_file():
            return directory
    raise ServerMissing(f"the PostgreSQL server (initdb, postgres) is not installed: {POSTGRES_INSTALL}")


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in bin_dir.parent.name.split("."))


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user the cluster runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServerFailed("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def start_postgres() -> Server:
    """initdb into a temporary directory and start postgres on a free port; returns its URL
    (postgresql://postgres@127.0.0.1:PORT/postgres, trust authentication)."""
    bin_dir = postgres_bin_dir()
    user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="foobara-postgres-"))
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)
    as_user = _as_user(user)
    env = {**os.environ, "LC_ALL": "C"}
    data, log = directory / "data", directory / "postgres.log"
    try:
        command = [str(bin_dir / "initdb"), "-D", str(data), "-U", POSTGRES_SUPERUSER, "-A", "trust", "-E", "UTF8"]
        command += ["--locale=C", "--no-sync", "--no-instructions"]
        initdb = subprocess.run(
            command,
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            **as_user,
        )
        if initdb.returncode != 0:
            raise ServerFailed(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": str(directory),
            "max_connections": "200",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        command = [str(bin_dir / "postgres"), "-D", str(data)]
        for name, value in settings.items():
            command += ["-c", f"{name}={value}"]
        with log.open("wb") as log_file:
            process = subprocess.Popen(command, cwd=directory, env=env, stdout=log_file, stderr=log_file, **as_user)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    # SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint for a cluster about to be removed.
    url = f"postgresql://{POSTGRES_SUPERUSER}@127.0.0.1:{port}/postgres"
    server = Server(url, process, directory, log, signal.SIGQUIT)
    try:
        _wait_for_postgres(server)
    except BaseException:
        stop(server)
        raise
    return server


def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
    """subprocess arguments that run a child as the given user (none when we are not root)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _wait_for_postgres(server: Server) -> None:
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            with psycopg.connect(server.url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                raise ServerFailed(f"postgres did not start:\n{_read(server.log)}") from None
            time.sleep(0.05)


def create_database(server_url: str, name: str) -> str:
    """Creates an empty database on the cluster and returns its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, name: str) -> None:
    """Drops a database even while connections (a store's pool, say) are still open on it."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Redis


def start_redis() -> Server:
    """redis-server on a free port, nothing saved to disk; returns its URL (redis://127.0.0.1:PORT)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerMissing(f"redis-server is not installed: {REDIS_INSTALL}")
    directory = Path(tempfile.mkdtemp(prefix="foobara-redis-"))
    port, log = free_port(), directory / "redis.log"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(directory)]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    server = Server(f"redis://127.0.0.1:{port}", process, directory, log, signal.SIGTERM)
    try:
        _wait_for_redis(server)
    except BaseException:
        stop(server)
        raise
    return server


def _wait_for_redis(server: Server) -> None:
    import redis

    client = redis.Redis.from_url(server.url)
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise ServerFailed(f"redis-server did not start:\n{_read(server.log)}") from None
                time.sleep(0.05)
    finally:
        client.close()


def _read(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except OSError as error:
        return f"(no log: {error})"
