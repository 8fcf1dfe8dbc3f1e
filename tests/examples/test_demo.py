"""The demo (examples/demo/app.py) as a user meets it: `foobara serve` in a real process, reached at
the URLs it prints and with the curl line it prints; and its commands run in-process."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from mcp import Client

import foobara_py
from foobara_py import persistence, registry
from foobara_py.connectors import Connector, ConnectorRequest
from foobara_py.connectors.cli import example_call, serve_banner
from foobara_py.connectors.core import serialize
from foobara_py.loading import load_module
from tests.servers import free_port

ROOT = Path(__file__).parents[2]
APP = "examples/demo/app.py"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(foobara_py.__file__).parents[1]), str(ROOT)])}
ANN = {"Authorization": "Bearer demo-token"}  # an editor
BOB = {"Authorization": "Bearer reader-token"}  # not an editor
START_TIMEOUT = 30.0


# --- in-process -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The demo module on a fresh SQLite file, its commands in a registry of their own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo')}/notes.db"
    with pytest.MonkeyPatch.context() as patch, registry.isolated():
        patch.setenv("FOOBARA_DATABASE_URL", url)
        module = load_module(str(ROOT / APP))
        yield module
        persistence.store_for(module.Note).close()
        sys.modules.pop("app", None)


def run(demo: ModuleType, name: str, inputs: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    request = ConnectorRequest(headers={k.lower(): v for k, v in (headers or {}).items()})
    return serialize(demo.connector.run(name, inputs, request))


def keys(errors: Any) -> list[str]:
    return [error["key"] for error in errors]


def test_notes_are_written_found_listed_and_deleted(demo: ModuleType) -> None:
    created = run(demo, "CreateNote", {"title": " groceries ", "body": "eggs"}, ANN)
    assert created == {"id": created["id"], "title": "groceries", "body": "eggs", "author": "ann"}
    assert run(demo, "FindNote", {"note": created["id"]}) == created
    listed = run(demo, "Demo::Notes::ListNotes", {"search": "GROC"})
    assert listed == [{"id": created["id"], "title": "groceries", "author": "ann", "locked": False}]
    assert keys(run(demo, "DeleteNote", {"note": created["id"]})) == ["runtime.unauthenticated"]
    refused = run(demo, "DeleteNote", {"note": created["id"]}, BOB)
    assert refused[0]["message"] == "Not allowed: only editors may delete notes"
    assert run(demo, "DeleteNote", {"note": created["id"]}, ANN) == created["id"]
    assert keys(run(demo, "FindNote", {"note": created["id"]})) == ["data.note.not_found"]


def test_bad_input_gets_foobara_errors(demo: ModuleType) -> None:
    assert keys(run(demo, "CreateNote", {"title": "   "})) == ["data.title.blank"]
    assert keys(run(demo, "CreateNote", {"title": "x" * 101})) == ["data.title.max_length_exceeded"]
    assert keys(run(demo, "CreateNote", {})) == ["data.title.missing_required_attribute"]
    assert keys(run(demo, "FindNote", {"note": "one"})) == ["data.note.cannot_cast"]


def test_find_and_delete_take_a_stored_note_not_the_attributes_of_a_new_one(demo: ModuleType) -> None:
    """An entity input takes attributes too (a new record): FindNote would echo them, skipping the
    lock or failing on a lock of the caller's, and DeleteNote would be an unexpected error (500)."""
    locked = run(demo, "CreateNote", {"title": "diary", "body": "dear diary", "password": "sesame-456"})
    for inputs in ({"note": {"id": locked["id"], "title": "diary"}}, {"note": {"title": "x", "lock": "zz"}}):
        found = demo.connector.run("FindNote", {**inputs, "password": "sesame-456"})
        assert found.error_keys == ["data.note.not_found"]
        deleted = demo.connector.run(
            "DeleteNote", inputs, ConnectorRequest(headers={"authorization": ANN["Authorization"]})
        )
        assert deleted.error_keys == ["data.note.not_found"]
    assert run(demo, "FindNote", {"note": locked["id"], "password": "sesame-456"}) == locked


def test_a_locked_note_needs_its_password_which_is_never_shown(demo: ModuleType) -> None:
    created = run(demo, "CreateNote", {"title": "diary", "password": "sesame-123"})
    assert created == {"id": created["id"], "title": "diary", "body": ""}  # no password, no lock
    wrong = run(demo, "FindNote", {"note": created["id"], "password": "guess"})
    assert keys(wrong) == ["runtime.wrong_password"]
    assert run(demo, "FindNote", {"note": created["id"], "password": "sesame-123"}) == created
    summary = next(note for note in run(demo, "ListNotes", {}) if note["id"] == created["id"])
    assert summary["locked"] is True
    everything = json.dumps([created, wrong, run(demo, "ListNotes", {}), demo.connector.manifest()])
    assert "sesame-123" not in everything
    assert "guess" not in everything
    assert '"lock"' not in everything  # the hash is a sensitive attribute: left out everywhere


def test_who_am_i_needs_a_known_token(demo: ModuleType) -> None:
    assert run(demo, "WhoAmI", {}, BOB) == {"name": "bob", "editor": False}
    assert keys(run(demo, "WhoAmI", {}, {"Authorization": "Bearer nope"})) == ["runtime.unauthenticated"]
    assert keys(run(demo, "WhoAmI", {}, {"Authorization": "demo-token"})) == ["runtime.unauthenticated"]


def test_the_banner_suggests_a_command_anyone_may_call(demo: ModuleType) -> None:
    # CreateNote: the first connected, no user required; only its title is required (and has an example).
    assert example_call(demo.connector) == ("Demo::Notes::CreateNote", {"title": "hello"})
    # Passed by: those needing a user (DeleteNote, WhoAmI), an input with no example (FindNote's note).
    others = Connector()
    others.connect(demo.DeleteNote, authenticator=demo.bearer_token, requires_auth=True)
    others.connect(demo.WhoAmI, authenticator=demo.bearer_token, requires_auth=True)
    others.connect(demo.FindNote)
    others.connect(demo.ListNotes)
    assert example_call(others) == ("Demo::Notes::ListNotes", {})
    assert example_call(Connector(demo.FindNote)) is None
    banner = serve_banner(demo.connector, "http://127.0.0.1:9/api", mcp=False)
    assert "/mcp" not in banner
    assert banner.splitlines()[-1] == (
        "  curl -X POST http://127.0.0.1:9/api/run/Demo::Notes::CreateNote"
        """ -H 'Content-Type: application/json' -d '{"title": "hello"}'"""
    )


def test_the_examples_extra_installs_what_the_demo_needs() -> None:
    """The README installs `.[examples]` and serves the demo: HTTP (uvicorn, Starlette), MCP, SQLite."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(
        spec.startswith("foobara-py[") and {"sql", "http", "mcp"} <= _extras_of(spec) for spec in extras["examples"]
    )


def _extras_of(spec: str) -> set[str]:
    return set(spec.partition("[")[2].rstrip("]").split(","))


# --- `foobara serve` ----------------------------------------------------------------------------------


class Served:
    """`foobara serve` in its own process, its stderr read line by line as it comes."""

    def __init__(self, args: list[str], database: Path) -> None:
        env = {**ENV, "FOOBARA_DATABASE_URL": f"sqlite:///{database}"}
        command = [sys.executable, "-m", "foobara_py", "serve", APP, *args]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr:
            for line in self.process.stderr:
                self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def banner(self) -> list[str]:
        """The lines printed up to the curl line (printed once the server listens)."""
        deadline = time.monotonic() + START_TIMEOUT
        while not (self.seen and self.seen[-1].lstrip().startswith("curl ")):
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.process.kill()
                pytest.fail("foobara serve printed no curl line:\n" + "\n".join(self.seen))
            self.seen.append(line)
        return self.seen

    def stop(self) -> tuple[int, str]:
        """Ctrl+C, as a user stops it: its exit code and everything it wrote on stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=15)
        rest = []
        while (line := self.lines.get(timeout=5)) is not None:
            rest.append(line)
        return code, "\n".join([*self.seen, *rest])


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "notes.db"


def run_curl_line(line: str) -> httpx.Response:
    """The printed curl line, as a shell splits it; sent by curl where it is installed, else by httpx."""
    words = shlex.split(line)
    assert words[:3] == ["curl", "-X", "POST"]
    url, options = words[3], dict(zip(words[4::2], words[5::2], strict=True))
    assert options["-H"] == "Content-Type: application/json"
    curl = shutil.which("curl")
    if curl is None:
        return httpx.post(url, content=options["-d"], headers={"Content-Type": "application/json"})
    done = subprocess.run(
        [curl, *words[1:], "--silent", "--show-error", "--write-out", "\n%{http_code}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, _, status = done.stdout.rpartition("\n")
    return httpx.Response(int(status), content=body.encode())


async def test_foobara_serve_says_where_everything_is_and_serves_it(database: Path) -> None:
    port = free_port()
    served = Served(["--port", str(port)], database)
    try:
        banner = served.banner()
        base = f"http://127.0.0.1:{port}"
        assert banner[0] == f"Serving 5 commands at {base} (Ctrl+C to stop)"
        urls = {line.split()[1] for line in banner[1:5]}  # "  help       http://..."
        assert urls == {f"{base}/help", f"{base}/openapi.json", f"{base}/manifest", f"{base}/mcp"}

        tried = run_curl_line(banner[-1])
        assert tried.status_code == 200, tried.text
        note = tried.json()
        assert note == {"id": note["id"], "title": "hello", "body": ""}

        found = httpx.post(f"{base}/run/Demo::Notes::FindNote", json={"note": note["id"]})
        assert (found.status_code, found.json()) == (200, note)
        missing = httpx.post(f"{base}/run/Demo::Notes::FindNote", json={"note": 999})
        assert (missing.status_code, keys(missing.json())) == (404, ["data.note.not_found"])
        blank = httpx.post(f"{base}/run/Demo::Notes::CreateNote", json={"title": " "})
        assert (blank.status_code, keys(blank.json())) == (422, ["data.title.blank"])
        listed = httpx.get(f"{base}/run/Demo/Notes/ListNotes", params={"search": "hel"})
        assert (listed.status_code, [n["id"] for n in listed.json()]) == (200, [note["id"]])

        delete = f"{base}/run/Demo::Notes::DeleteNote"
        assert httpx.post(delete, json={"note": note["id"]}).status_code == 401
        refused = httpx.post(delete, json={"note": note["id"]}, headers=BOB)
        assert (refused.status_code, refused.json()[0]["message"]) == (
            403,
            "Not allowed: only editors may delete notes",
        )
        deleted = httpx.post(delete, json={"note": note["id"]}, headers=ANN)
        assert (deleted.status_code, deleted.json()) == (200, note["id"])

        locked = httpx.post(f"{base}/run/Demo::Notes::CreateNote", json={"title": "diary", "password": "sesame-123"})
        assert locked.status_code == 200
        openapi = httpx.get(f"{base}/openapi.json")
        assert openapi.status_code == 200
        assert openapi.json()["openapi"].startswith("3.1")
        assert len(openapi.json()["paths"]) == 5
        manifest = httpx.get(f"{base}/manifest")
        assert manifest.status_code == 200
        assert set(manifest.json()["command"]) == {
            "Demo::Notes::CreateNote",
            "Demo::Notes::ListNotes",
            "Demo::Notes::FindNote",
            "Demo::Notes::DeleteNote",
            "Demo::Accounts::WhoAmI",
        }
        assert "sesame-123" not in locked.text + openapi.text + manifest.text

        async with Client(f"{base}/mcp") as client:
            result = await client.call_tool("Demo.Notes.FindNote", {"note": locked.json()["id"]})
            assert result.is_error
            assert "runtime.wrong_password" in result.content[0].text  # type: ignore[union-attr]
    finally:
        code, stderr = served.stop()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "sesame-123" not in stderr


def readme_calls(port: int) -> list[tuple[str, int]]:
    """The README's "Calls to try" (a shell script, its lines joined), each curl line with the
    status its comment says, for a server on `port`."""
    readme = (ROOT / "examples/demo/README.md").read_text()
    block = next(block for block in readme.split("```sh\n")[1:] if "\nURL=" in f"\n{block}").split("```", 1)[0]
    lines = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("\\\n", " ").splitlines()
    setup = "\n".join(line for line in lines if re.match(r"^[A-Z]+=", line))
    calls = []
    for line in lines:
        call = re.match(r"^(curl .*?)\s+#\s*(\d{3})\b", line)
        if call:
            calls.append((f"{setup}\n{call[1]}", int(call[2])))
    return calls


def test_the_readme_calls_answer_as_their_comments_say(database: Path) -> None:
    """Run in order on a new database, as the README says to serve them, each call gets its status."""
    port = free_port()
    served = Served(["--port", str(port)], database)
    try:
        served.banner()
        calls = readme_calls(port)
        assert len(calls) == 12
        for script, status in calls:
            done = subprocess.run(
                ["bash", "-c", f"{script} --silent --output /dev/null --write-out '%{{http_code}}'"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            assert done.stdout == str(status), script
    finally:
        code, stderr = served.stop()
    assert code == 0, stderr


def test_foobara_serve_prints_the_port_it_got_and_its_prefix(database: Path) -> None:
    served = Served(["--port", "0", "--prefix", "/api/"], database)
    try:
        banner = served.banner()
        base = banner[0].split()[4]
        assert base.startswith("http://127.0.0.1:")
        assert base.endswith("/api")
        assert not base.endswith(":0/api")
        assert f"{base}/openapi.json" in banner[2]
        assert f"curl -X POST {base}/run/Demo::Notes::CreateNote " in banner[-1]
        assert httpx.get(f"{base}/openapi.json").status_code == 200
        assert httpx.post(f"{base}/run/Demo::Accounts::WhoAmI", headers=ANN).json() == {"name": "ann", "editor": True}
    finally:
        code, stderr = served.stop()
    assert (code, "Traceback" in stderr) == (0, False), stderr


def test_foobara_serve_on_a_taken_port_says_so_and_fails(database: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "foobara_py", "serve", APP, "--port", str(port)],
            cwd=ROOT,
            env={**ENV, "FOOBARA_DATABASE_URL": f"sqlite:///{database}"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "address already in use" in done.stderr
    assert "Serving" not in done.stderr
    assert "Traceback" not in done.stderr
