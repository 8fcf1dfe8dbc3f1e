"""The HTTP door on a real uvicorn server, driven by httpx: Ruby's responses for Acme::Math, and
clean JSON errors for bad requests (the server keeps serving after each)."""

from __future__ import annotations

import copy
import http.client
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from foobara_py import __version__
from foobara_py.connectors import Connector
from foobara_py.connectors.http import DEFAULT_MAX_BODY_SIZE, http_app
from tests import acme
from tests.conftest import load_fixture
from tests.connectors import sample
from tests.connectors.serving import serve
from tests.test_manifest import compare
from tests.test_manifest import expected_from_ruby as manifest_expected_from_ruby
from tests.test_ruby_outcomes import EMAIL_REGEXES

RUBY_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"
JSON = "application/json"

CASES = {case["case"]: case for case in load_fixture("ruby_acme", "http_responses.json")}


@pytest.fixture(scope="module")
def acme_url() -> Iterator[str]:
    with serve(Connector(acme.acme).asgi()) as url:
        yield url


@pytest.fixture(scope="module")
def client(acme_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=acme_url, timeout=30) as client:
        yield client


def send(client: httpx.Client, request: dict[str, Any]) -> httpx.Response:
    return client.request(request["method"], request["path"], content=request["body"])


def error(key: str, message: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    category, symbol = key.split(".")
    return {
        "key": key,
        "path": [],
        "runtime_path": [],
        "category": category,
        "symbol": symbol,
        "message": message,
        "context": context or {},
        "is_fatal": False,
    }


def expected_from_ruby(case: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """Ruby's status, headers and body, with the differences docs/differences.md lists applied."""
    body = copy.deepcopy(case.get("body_json"))
    status = case.get("status")
    headers = case.get("headers", {})
    name = case["case"]
    if name == "post_create_user_bad_email":
        # Email errors carry the value, and the regex in Python's syntax (Casting and validation, 2).
        for entry in body:
            entry["context"].update(value="nope", regex=EMAIL_REGEXES[entry["symbol"]])
    elif name == "post_unknown_command":
        # Connectors: a 404 has a JSON body of error hashes, like every failure (Ruby's is plain text).
        body, headers = [error("runtime.not_found", body, {"not_found": "Acme::Math::Nope"})], {"content-type": JSON}
    elif name == "get_unknown_action":
        body, headers = [error("runtime.not_found", body, {"not_found": "bogus"})], {"content-type": JSON}
    elif name == "post_add_invalid_json":
        # Connectors: invalid JSON is a 400 with an error body (Ruby's exception escapes: a 500).
        reason = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
        message = f"The request body is not valid JSON: {reason}"
        status, headers, body = 400, {"content-type": JSON}, [error("data.invalid_json", message)]
    return status, headers, body


def check_metadata(metadata: dict[str, Any], url: str) -> None:
    assert re.fullmatch(RUBY_TIME, metadata.pop("when"))
    assert metadata == {"foobara_version": __version__, "url": url}


SIMPLE_CASES = [
    name for name in CASES if name not in ("get_manifest", "get_describe_add", "get_describe_type_user", "get_ping")
]


@pytest.mark.parametrize("name", SIMPLE_CASES)
def test_responses_match_rubys(client: httpx.Client, name: str) -> None:
    case = CASES[name]
    response = send(client, case["request"])
    status, headers, body = expected_from_ruby(case)
    assert response.status_code == status, response.text
    for header, value in headers.items():
        assert response.headers[header] == value
    assert (response.json() if response.content else "") == body


def test_the_manifest_matches_rubys(client: httpx.Client, acme_url: str) -> None:
    response = client.get("/manifest")
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    data = response.json()
    check_metadata(data.pop("metadata"), f"{acme_url}/manifest")
    ruby = load_fixture("ruby_acme", "manifest.json")
    assert compare(data, ruby, connector=True) == []
    for category in ruby:
        assert set(data[category]) == set(ruby[category]), category
    for name, entry in ruby["command"].items():
        assert data["command"][name]["serializers"] == entry["serializers"]


@pytest.mark.parametrize("path", ["/describe/Acme/Math/Add", "/describe/Acme::Math::Add", "/describe_command/Add"])
def test_describe_matches_rubys(client: httpx.Client, acme_url: str, path: str) -> None:
    assert CASES["get_describe_add"]["request"]["path"] == "/describe/Acme/Math/Add"
    ruby = load_fixture("ruby_acme", "http_describe_add_body.json")
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    data = response.json()
    check_metadata(data.pop("metadata"), f"{acme_url}{path}")
    del ruby["metadata"]
    expected = manifest_expected_from_ruby("command", "Acme::Math::Add", ruby, connector=True)
    assert data == {**expected, "serializers": ruby["serializers"]}


def test_describe_type_gives_the_manifests_entry(client: httpx.Client, acme_url: str) -> None:
    response = client.get(CASES["get_describe_type_user"]["request"]["path"])
    assert response.status_code == 200
    data = response.json()
    check_metadata(data.pop("metadata"), f"{acme_url}/describe_type/Acme/Math/User")
    ruby = load_fixture("ruby_acme", "manifest.json")["type"]["Acme::Math::User"]
    assert data == manifest_expected_from_ruby("type", "Acme::Math::User", ruby, connector=True)
    # Ruby's body is cut in the fixture: what is there is the start of the same entry.
    assert CASES["get_describe_type_user"]["body_raw"].startswith('{"scoped_path":["User"],"scoped_name":"User"')


def test_ping_gives_the_time(client: httpx.Client) -> None:
    response = client.get("/ping")
    assert response.status_code == 200 and response.headers["content-type"] == JSON
    assert re.fullmatch(RUBY_TIME, response.json())
    assert re.fullmatch(RUBY_TIME, CASES["get_ping"]["body_json"])


def test_the_query_string_wins_over_the_body(client: httpx.Client) -> None:
    response = client.post("/run/Acme/Math/Add?a=5", json={"a": 1, "b": 2})
    assert (response.status_code, response.json()) == (200, 7)
    response = client.get("/run/Add", params={"a": "x"})
    assert response.status_code == 422 and response.json()[0]["key"] == "data.a.cannot_cast"


def ping(client: httpx.Client) -> None:
    response = client.get("/ping")
    assert response.status_code == 200, "the server stopped serving"


@pytest.mark.parametrize(
    ("body", "status", "key", "message"),
    [
        (b"{not json", 400, "data.invalid_json", "The request body is not valid JSON: Expecting property name"),
        (b"\xff\xfe{", 400, "data.invalid_json", "The request body is not valid JSON"),
        (b"[" * 200_000, 400, "data.invalid_json", "The request body is not valid JSON: nested too deeply"),
        (b"1" * 5000, 400, "data.invalid_json", "The request body is not valid JSON: Exceeds the limit"),
        (b"[1, 2]", 400, "data.body_not_an_object", "The request body must be a JSON object, not an array"),
        (b'"a"', 400, "data.body_not_an_object", "The request body must be a JSON object, not a string"),
        (b"null", 400, "data.body_not_an_object", "The request body must be a JSON object, not null"),
        (b"{}", 422, "data.a.missing_required_attribute", "Missing required attribute a"),
        (b"  ", 422, "data.a.missing_required_attribute", "Missing required attribute a"),
    ],
)
def test_a_bad_body_gets_a_clean_error(client: httpx.Client, body: bytes, status: int, key: str, message: str) -> None:
    response = client.post("/run/Acme/Math/Add", content=body, headers={"content-type": "text/plain"})
    assert response.status_code == status and response.headers["content-type"] == JSON
    [error] = response.json()
    assert error["key"] == key and error["message"].startswith(message)
    ping(client)


def test_a_body_over_the_limit_is_refused() -> None:
    with serve(http_app(Connector(acme.acme), max_body_size=1000)) as url, httpx.Client(base_url=url) as client:
        small = b'{"a": 1, "b": 2}'.ljust(1000)
        assert client.post("/run/Add", content=small).json() == 3
        for content in (small + b" ", iter([small, b" "])):  # declared, and sent in chunks (no length)
            response = client.post("/run/Add", content=content)
            assert response.status_code == 413
            assert response.json() == [
                {
                    **error("data.body_too_large", "The request body is larger than 1000 bytes"),
                    "context": {"max_body_size": 1000},
                }
            ]
            ping(client)


def test_the_default_limit_is_16_mib(client: httpx.Client) -> None:
    assert DEFAULT_MAX_BODY_SIZE == 16 * 1024 * 1024
    body = b'{"a": 1}'.ljust(DEFAULT_MAX_BODY_SIZE)
    assert client.post("/run/Add", content=body).json() == 1
    response = client.post("/run/Add", content=body + b" ")
    assert response.status_code == 413 and response.json()[0]["key"] == "data.body_too_large"
    ping(client)


def test_unknown_commands_and_paths_are_404s(client: httpx.Client, acme_url: str) -> None:
    for path in ["/run/Acme::Math::Nope", "/run/", "/run/Acme/Math/Add/", "/run/Acme/Math"]:
        response = client.post(path, json={"a": 1})
        assert response.status_code == 404 and response.json()[0]["key"] == "runtime.not_found", path
    response = client.get("/describe/Nope")
    assert response.status_code == 404 and response.json()[0]["message"] == "Could not find Nope"
    assert client.get("/").status_code == 404
    response = client.put("/run/Add", json={"a": 1})
    assert response.status_code == 405 and response.json()[0]["key"] == "runtime.method_not_allowed"
    # A path trick is not resolved by the server: `/run/../manifest` asks for a command named `../manifest`.
    host = urlsplit(acme_url)
    connection = http.client.HTTPConnection(host.hostname or "", host.port)
    connection.request("GET", "/run/../manifest")
    raw = connection.getresponse()
    assert raw.status == 404 and raw.getheader("content-type") == JSON
    assert json.loads(raw.read())[0]["key"] == "runtime.not_found"
    connection.close()
    ping(client)


def test_a_command_registered_but_not_connected_cannot_be_reached() -> None:
    with serve(Connector(acme.Add).asgi()) as url, httpx.Client(base_url=url) as client:
        assert client.post("/run/Acme/Math/Add", json={"a": 1}).json() == 1
        for method, path in [
            ("POST", "/run/Acme/Math/Divide"),
            ("GET", "/run/Divide?dividend=1&divisor=1"),
            ("GET", "/describe/Acme::Math::Divide"),
            ("GET", "/describe_command/Acme::Math::Divide"),
        ]:
            response = client.request(method, path, json={"dividend": 1, "divisor": 1} if method == "POST" else None)
            assert response.status_code == 404 and response.json()[0]["key"] == "runtime.not_found", path
        assert "Divide" not in client.get("/manifest").text
        assert client.get("/list").json() == [["Acme::Math::Add", None]]


def test_unexpected_errors_are_500s_with_an_error_body() -> None:
    with serve(Connector(sample.tools).asgi()) as url, httpx.Client(base_url=url) as client:
        response = client.post("/run/BadResult")
        assert response.status_code == 500 and response.headers["content-type"] == JSON
        assert response.json() == [error("runtime.unknown_error", "Unexpected error")]
        assert "Traceback" not in response.text and "hunter2" not in response.text
        response = client.post("/run/Explode")
        assert response.status_code == 500
        assert response.json() == [error("runtime.execution_error", "it blew up", {"exception_class": "ValueError"})]
        ping(client)


def test_sync_commands_run_in_worker_threads_and_async_ones_on_the_loop() -> None:
    with serve(Connector(sample.tools).asgi()) as url, httpx.Client(base_url=url) as client:
        loop_thread = client.post("/run/AsyncThreadName").json()
        worker_thread = client.post("/run/ThreadName").json()
        assert loop_thread != worker_thread
        assert client.get("/run/AsyncThreadName?seconds=0.01").json() == loop_thread


def test_sensitive_values_never_reach_the_client() -> None:
    with serve(Connector(sample.SignIn).asgi()) as url, httpx.Client(base_url=url) as client:
        response = client.post("/run/SignIn", json={"username": "ada", "password": "hunter2"})
        assert response.json() == {"username": "ada"}
        response = client.post("/run/SignIn", json={"password": "hunter2"})
        assert response.status_code == 422 and "hunter2" not in response.text
        assert "password" not in client.get("/manifest").text


def test_a_prefix_puts_every_route_under_it() -> None:
    with serve(http_app(Connector(acme.acme), prefix="/api/")) as url, httpx.Client(base_url=url) as client:
        assert client.post("/api/run/Acme::Math::Add", json={"a": 1, "b": 2}).json() == 3
        assert client.post("/run/Acme::Math::Add", json={"a": 1}).status_code == 404
        response = client.get("/api/bogus")
        assert response.json()[0]["message"] == "Not sure what to do with bogus"
        check_metadata(client.get("/api/manifest").json()["metadata"], f"{url}/api/manifest")


def test_it_mounts_in_a_starlette_app() -> None:
    outer = Starlette(routes=[Mount("/foobara", app=Connector(acme.acme).asgi())])
    with serve(outer) as url, httpx.Client(base_url=url) as client:
        assert client.get("/foobara/run/Acme/Math/Add", params={"a": 2}).json() == 2
        assert client.get("/foobara/list").status_code == 200
        check_metadata(client.get("/foobara/manifest").json()["metadata"], f"{url}/foobara/manifest")
        response = client.get("/foobara/bogus/thing")
        assert response.status_code == 404 and response.json()[0]["message"] == "Not sure what to do with bogus"


# --- CORS ------------------------------------------------------------------------------------

ORIGIN = "https://app.example"
PREFLIGHT = {
    "origin": ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type",
}


def test_cors_is_off_by_default() -> None:
    with serve(Connector(acme.acme).asgi(mcp=False)) as url, httpx.Client(base_url=url) as client:
        response = client.post("/run/Add", json={"a": 1}, headers={"origin": ORIGIN})
        assert response.json() == 1 and "access-control-allow-origin" not in response.headers
        preflight = client.options("/run/Add", headers=PREFLIGHT)
        assert preflight.status_code == 200 and "access-control-allow-origin" not in preflight.headers  # Ruby's 200


@pytest.mark.parametrize(
    ("cors", "allowed"),
    [(True, "*"), (ORIGIN, ORIGIN), ([ORIGIN, "https://other.example"], ORIGIN), ({"allow_origins": [ORIGIN]}, ORIGIN)],
)
def test_cors_lets_the_given_origins_call_the_commands(cors: Any, allowed: str) -> None:
    with serve(Connector(acme.acme).asgi(cors=cors)) as url, httpx.Client(base_url=url) as client:
        preflight = client.options(
            "/run/Acme::Math::Add",
            headers={**PREFLIGHT, "access-control-request-headers": "content-type, authorization"},
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == allowed
        assert set(preflight.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST"}
        assert preflight.headers["access-control-allow-headers"] == "content-type, authorization"
        response = client.post("/run/Acme::Math::Add", json={"a": 1, "b": 2}, headers={"origin": ORIGIN})
        assert response.json() == 3 and response.headers["access-control-allow-origin"] == allowed
        failed = client.post("/run/Acme::Math::Add", json={"a": "x"}, headers={"origin": ORIGIN})
        assert failed.status_code == 422 and failed.headers["access-control-allow-origin"] == allowed
        assert client.get("/manifest", headers={"origin": ORIGIN}).headers["access-control-allow-origin"] == allowed


def test_a_refused_preflight_is_an_error_body() -> None:
    with serve(http_app(Connector(acme.acme), cors=[ORIGIN], mcp=False)) as url, httpx.Client(base_url=url) as client:
        response = client.options("/run/Add", headers={**PREFLIGHT, "origin": "https://evil.example"})
        assert response.status_code == 400 and response.headers["content-type"] == JSON
        assert "access-control-allow-origin" not in response.headers
        assert response.json() == [error("runtime.cors_not_allowed", "CORS preflight refused: origin not allowed")]
        response = client.post("/run/Add", json={"a": 1}, headers={"origin": "https://evil.example"})
        assert response.json() == 1 and "access-control-allow-origin" not in response.headers  # the browser refuses it
        response = client.options("/run/Add", headers={**PREFLIGHT, "access-control-request-method": "DELETE"})
        assert response.status_code == 400
        assert response.json()[0]["message"] == "CORS preflight refused: method not allowed"
