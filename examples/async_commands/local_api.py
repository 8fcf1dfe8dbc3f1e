"""A small JSON API on 127.0.0.1 for the async examples, so they run offline.

The guide's examples call `https://api.example.com`; these examples start this server instead
(in a background thread, on a free port) and call it. It is the Python standard library's
`http.server`, nothing more.

    with local_api() as base_url:
        ...  # e.g. httpx.get(f"{base_url}/users/1")
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

USERS = {
    1: {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com"},
    2: {"id": 2, "name": "Alan Turing", "email": "alan@example.com"},
    3: {"id": 3, "name": "Grace Hopper", "email": "grace@example.com"},
    123: {"id": 123, "name": "Test User", "email": "test@example.com"},
}
POSTS = {1: [{"id": 10, "title": "Notes on the Analytical Engine"}], 2: [], 3: [{"id": 30, "title": "COBOL"}]}
FRIENDS = {1: [2, 3], 2: [1], 3: [1]}
API_TOKEN = "let-me-in"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep example output clean
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        self.server.hits.append(url.path)

        if parts[:1] == ["users"] and len(parts) >= 2 and parts[1].isdigit():
            user_id = int(parts[1])
            if user_id not in USERS:
                return self._send(404, {"error": f"user {user_id} not found"})
            if len(parts) == 2:
                return self._send(200, USERS[user_id])
            if parts[2] == "profile":
                return self._send(200, {"user_id": user_id, "bio": f"{USERS[user_id]['name']}'s profile"})
            if parts[2] == "posts":
                return self._send(200, POSTS.get(user_id, []))
            if parts[2] == "friends":
                return self._send(200, FRIENDS.get(user_id, []))
        if parts[:1] == ["users"] and len(parts) == 2:  # GitHub-style: /users/<login>
            return self._send(200, {"login": parts[1], "id": 583231, "type": "User"})
        if parts == ["slow"]:
            time.sleep(float(query.get("seconds", "1")))
            return self._send(200, {"slow": True})
        if parts == ["flaky"]:
            # Fails the first `failures` calls for a key, then succeeds.
            key = query.get("key", "default")
            count = self.server.flaky_calls.get(key, 0) + 1
            self.server.flaky_calls[key] = count
            if count <= int(query.get("failures", "2")):
                if query.get("mode") == "drop":  # hang up without answering: a network error
                    self.close_connection = True
                    return None
                return self._send(503, {"error": "try again"})
            return self._send(200, {"key": key, "attempts": count})
        if parts == ["private"]:
            if self.headers.get("authorization") != f"Bearer {API_TOKEN}":
                return self._send(401, {"error": "unauthorized"})
            return self._send(200, {"secret": "42"})
        if parts == ["data"]:
            return self._send(200, {"ok": True, **query})
        if parts == ["stream"]:
            data = b"x" * int(query.get("size", "20000"))
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return self._send(404, {"error": f"no route for {url.path}"})

    def do_POST(self) -> None:
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.hits.append(url.path)
        if parts[:1] == ["process"] and len(parts) == 2 and parts[1].isdigit():
            return self._send(200, {"item_id": int(parts[1]), "status": "processed", **body})
        return self._send(404, {"error": f"no route for {url.path}"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # concurrent examples open many connections at once

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[str] = []
        self.flaky_calls: dict[str, int] = {}

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer (a timeout the example chose) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def local_api() -> Iterator[str]:
    """Serve the API on 127.0.0.1 (a free port) while the block runs; yields its base URL."""
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, name="local-api", daemon=True)
    thread.start()
    try:
        yield server.base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
