"""Authentication and `allow_if` rules in the connector core, through `run`/`arun` and over HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from foobara_py import AsyncCommand, Command, Domain, Entity, Organization, persistence, transaction
from foobara_py.connectors import Call, Connector, ConnectorRequest, NoAuthenticatorGivenError, current_user
from foobara_py.connectors.cli import cli_request
from foobara_py.persistence.memory import MemoryStore
from tests.connectors.serving import serve

ROOT = Path(__file__).parents[2]

org = Organization("AuthTests")
private = Domain("Private", organization=org)

TOKENS = {"secret-token-of-ann": "ann", "secret-token-of-bob": "bob"}


class Empty(BaseModel):
    pass


class Note(BaseModel):
    owner: str = ""
    text: str = ""


@private.command
class WhoAmI(Command[Empty, str]):
    """The user the connector found, as a sync command sees it (in a worker thread under arun)."""

    def execute(self) -> str:
        return str(current_user() or "nobody")


@private.command
class AsyncWhoAmI(AsyncCommand[Empty, str]):
    async def execute(self) -> str:
        return str(current_user() or "nobody")


@private.command
class WriteNote(Command[Note, str]):
    def execute(self) -> str:
        return f"{self.inputs.owner}: {self.inputs.text}"


def bearer(request: ConnectorRequest) -> str | None:
    header = request.headers.get("authorization", "")
    return TOKENS.get(header.removeprefix("Bearer "))


async def from_cookie(request: ConnectorRequest) -> str | None:
    await asyncio.sleep(0)
    return TOKENS.get(request.cookies.get("session", ""))


def broken(request: ConnectorRequest) -> str | None:
    raise RuntimeError("database password hunter2 rejected")


def own_notes(call: Call, user: Any) -> tuple[bool, str]:
    return call.inputs.owner == user, "a note is written by its owner"


def is_ann(call: Call, user: Any) -> bool:
    return bool(user == "ann")


def with_token(token: str) -> ConnectorRequest:
    return ConnectorRequest(headers={"authorization": f"Bearer {token}"})


UNAUTHENTICATED = {
    "key": "runtime.unauthenticated",
    "path": [],
    "runtime_path": [],
    "category": "runtime",
    "symbol": "unauthenticated",
    "message": "Unauthenticated",
    "context": {},
    "is_fatal": False,
}


def not_allowed(explanation: str, rule: str) -> dict[str, Any]:
    return {
        **UNAUTHENTICATED,
        "key": "runtime.not_allowed",
        "symbol": "not_allowed",
        "message": f"Not allowed: {explanation}",
        "context": {"rule_symbol": rule, "explanation": explanation},
    }


# --- connecting -------------------------------------------------------------------------------


def test_asking_for_auth_without_an_authenticator_raises_when_connecting() -> None:
    with pytest.raises(NoAuthenticatorGivenError, match="no authenticator"):
        Connector().connect(WhoAmI, requires_auth=True)
    with pytest.raises(NoAuthenticatorGivenError):
        Connector().connect(WhoAmI, authentication_optional=True)


def test_required_and_optional_together_are_refused() -> None:
    with pytest.raises(ValueError, match="cannot both"):
        Connector(authenticator=bearer).connect(WhoAmI, requires_auth=True, authentication_optional=True)


# --- run and arun -----------------------------------------------------------------------------


def test_required_auth_without_a_user_is_unauthenticated_and_never_runs() -> None:
    connector = Connector()
    connector.connect(WhoAmI, authenticator=bearer, requires_auth=True)
    for request in (None, ConnectorRequest(), with_token("wrong")):
        outcome = connector.run("WhoAmI", {}, request)
        assert [e.to_dict() for e in outcome.errors] == [UNAUTHENTICATED]
        assert [e.to_dict() for e in asyncio.run(connector.arun("WhoAmI", {}, request)).errors] == [UNAUTHENTICATED]


@pytest.mark.parametrize("name", ["WhoAmI", "AsyncWhoAmI"])
def test_the_command_sees_the_user_in_run_and_arun(name: str) -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(private, requires_auth=True)
    assert connector.run(name, {}, with_token("secret-token-of-ann")).result == "ann"
    assert asyncio.run(connector.arun(name, {}, with_token("secret-token-of-bob"))).result == "bob"
    assert current_user() is None  # only for the duration of the run


def test_authenticators_are_tried_in_turn_and_may_be_async() -> None:
    connector = Connector()
    connector.connect(WhoAmI, authenticator=[bearer, from_cookie], requires_auth=True)
    by_cookie = ConnectorRequest(cookies={"session": "secret-token-of-bob"})
    assert connector.run("WhoAmI", {}, by_cookie).result == "bob"
    assert asyncio.run(connector.arun("WhoAmI", {}, by_cookie)).result == "bob"
    both = ConnectorRequest(headers={"authorization": "Bearer secret-token-of-ann"}, cookies=by_cookie.cookies)
    assert connector.run("WhoAmI", {}, both).result == "ann"


def test_optional_auth_identifies_the_caller_when_present() -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(WhoAmI, authentication_optional=True)
    assert connector.run("WhoAmI", {}, with_token("secret-token-of-ann")).result == "ann"
    assert connector.run("WhoAmI").result == "nobody"


def test_an_authenticator_that_raises_refuses_the_call_and_hides_why(caplog: pytest.LogCaptureFixture) -> None:
    connector = Connector(authenticator=broken)
    connector.connect(WhoAmI, authentication_optional=True)  # even where auth is optional: no run
    with caplog.at_level(logging.ERROR, logger="foobara_py.connectors"):
        outcomes = [connector.run("WhoAmI"), asyncio.run(connector.arun("WhoAmI"))]
    for outcome in outcomes:
        assert [e.to_dict() for e in outcome.errors] == [UNAUTHENTICATED]
        assert "hunter2" not in str(outcome.to_dict())
    assert "Authenticator raised for AuthTests::Private::WhoAmI" in caplog.text


def echoing(request: ConnectorRequest) -> str | None:
    """An authenticator that fails with the credentials it was reading in its exception."""
    raise RuntimeError(
        f"token {request.headers['authorization'].removeprefix('Bearer ')} of {request.headers['authorization']},"
        f" key {request.headers['x-api-key']}, session {request.cookies['session']}"
    )


def test_an_authenticator_that_raises_with_the_credentials_leaves_them_out_of_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A logging setup of the application's own (uvicorn's, basicConfig) writes the record's
    # traceback, whose last line is the exception's text: the caller's token was in it.
    connector = Connector(authenticator=echoing)
    connector.connect(WhoAmI, requires_auth=True)
    request = ConnectorRequest(
        headers={"authorization": "Bearer tok-7f3a9c", "x-api-key": "key-51d2e8", "accept": "application/json"},
        cookies={"session": "sess-0b44aa"},
    )
    with caplog.at_level(logging.ERROR, logger="foobara_py.connectors"):
        outcomes = [connector.run("WhoAmI", {}, request), asyncio.run(connector.arun("WhoAmI", {}, request))]
    assert [outcome.error_keys for outcome in outcomes] == [["runtime.unauthenticated"]] * 2
    assert "Authenticator raised for AuthTests::Private::WhoAmI (RuntimeError)" in caplog.text
    assert "RuntimeError: token [FILTERED] of [FILTERED], key [FILTERED], session [FILTERED]" in caplog.text
    assert "Traceback" in caplog.text  # still there for whoever debugs it, filtered
    for credential in ("tok-7f3a9c", "key-51d2e8", "sess-0b44aa"):
        assert credential not in caplog.text


def test_allow_if_with_an_explanation() -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(WriteNote, requires_auth=True, allow_if=own_notes)
    ann = with_token("secret-token-of-ann")
    assert connector.run("WriteNote", {"owner": "ann", "text": "hi"}, ann).result == "ann: hi"
    refused = connector.run("WriteNote", {"owner": "bob", "text": "hi"}, ann)
    assert [e.to_dict() for e in refused.errors] == [not_allowed("a note is written by its owner", "own_notes")]
    refused = asyncio.run(connector.arun("WriteNote", {"owner": "bob"}, ann))
    assert refused.errors[0].key == "runtime.not_allowed"


def test_allow_if_rules_are_ored_and_a_bare_false_is_explained_by_the_rule_name() -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(WriteNote, authentication_optional=True, allow_if=[is_ann, own_notes])
    bob = with_token("secret-token-of-bob")
    assert connector.run("WriteNote", {"owner": "bob"}, bob).success
    assert connector.run("WriteNote", {"owner": "bob"}, with_token("secret-token-of-ann")).success
    refused = connector.run("WriteNote", {"owner": "ann"}, bob)
    explanation = "is_ann or a note is written by its owner"
    assert [e.to_dict() for e in refused.errors] == [not_allowed(explanation, "is_ann")]
    refused = connector.run("WriteNote", {"owner": "ann"})  # no user at all: the rules decide
    assert refused.errors[0].key == "runtime.not_allowed"


def test_a_rule_that_raises_refuses_as_an_unknown_error() -> None:
    def crashes(call: Call, user: Any) -> bool:
        raise KeyError("secret")

    connector = Connector()
    connector.connect(WhoAmI, allow_if=crashes)
    outcome = connector.run("WhoAmI")
    assert [e.key for e in outcome.errors] == ["runtime.unknown_error"]
    assert "secret" not in str(outcome.to_dict())


@pytest.mark.parametrize("door", ["run", "arun"])
def test_an_async_rule_decides_for_a_sync_command_too(door: str) -> None:
    """As an async authenticator does: awaited on its own loop in the sync run."""

    async def owner_only(call: Call, user: Any) -> tuple[bool, str]:
        await asyncio.sleep(0)
        return call.inputs.owner == user, "a note is written by its owner"

    connector = Connector(authenticator=bearer)
    connector.connect(WriteNote, allow_if=owner_only)
    ann = with_token("secret-token-of-ann")

    def run(inputs: dict[str, Any]) -> Any:
        if door == "run":
            return connector.run("WriteNote", inputs, ann)
        return asyncio.run(connector.arun("WriteNote", inputs, ann))

    assert run({"owner": "ann", "text": "hi"}).unwrap() == "ann: hi"
    refused = run({"owner": "bob", "text": "hi"})
    assert [e.to_dict() for e in refused.errors] == [not_allowed("a note is written by its owner", "owner_only")]


def test_a_rule_answering_neither_a_bool_nor_a_pair_refuses_as_a_rule_that_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def three(call: Call, user: Any) -> Any:
        return False, "why", "and more"

    connector = Connector()
    connector.connect(WhoAmI, allow_if=three)
    with caplog.at_level(logging.ERROR, logger="foobara_py.connectors"):
        outcome = connector.run("WhoAmI")
    assert [(e.key, e.message) for e in outcome.errors] == [("runtime.unknown_error", "Unexpected error")]
    assert "Unexpected error running AuthTests::Private::WhoAmI" in caplog.text


# --- the manifest -----------------------------------------------------------------------------


def test_the_manifest_lists_the_auth_errors_where_they_can_happen() -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(WhoAmI, requires_auth=True)
    connector.connect(WriteNote, allow_if=own_notes)
    connector.connect(AsyncWhoAmI, authenticator=[])  # no authenticator of its own: the connector's
    commands = connector.manifest()["command"]
    who = commands["AuthTests::Private::WhoAmI"]
    assert who["requires_authentication"] is True
    assert who["possible_errors"]["runtime.unauthenticated"] == {
        "category": "runtime",
        "symbol": "unauthenticated",
        "key": "runtime.unauthenticated",
        "error": "Foobara::CommandConnector::UnauthenticatedError",
    }
    note = commands["AuthTests::Private::WriteNote"]
    assert "requires_authentication" not in note
    assert note["possible_errors"]["runtime.not_allowed"]["error"] == "Foobara::CommandConnector::NotAllowedError"
    assert list(note["possible_errors"]) == sorted(note["possible_errors"])
    assert "runtime.unauthenticated" in commands["AuthTests::Private::AsyncWhoAmI"]["possible_errors"]
    public = Connector(WhoAmI).manifest()["command"]["AuthTests::Private::WhoAmI"]
    assert "requires_authentication" not in public
    assert "runtime.unauthenticated" not in public["possible_errors"]


def test_the_manifests_error_category_holds_the_auth_error_classes_as_ruby_lists_them() -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(WhoAmI, requires_auth=True)
    errors = connector.manifest()["error"]
    assert list(errors) == sorted(errors)
    assert errors["Foobara::CommandConnector::UnauthenticatedError"] == {
        "scoped_path": ["Foobara", "CommandConnector", "UnauthenticatedError"],
        "scoped_name": "Foobara::CommandConnector::UnauthenticatedError",
        "scoped_short_name": "UnauthenticatedError",
        "scoped_prefix": ["Foobara", "CommandConnector"],
        "scoped_full_path": ["Foobara", "CommandConnector", "UnauthenticatedError"],
        "scoped_full_name": "Foobara::CommandConnector::UnauthenticatedError",
        "scoped_category": "error",
        "reference": "Foobara::CommandConnector::UnauthenticatedError",
        "domain": "global_organization::global_domain",
        "organization": "global_organization",
        "parent": ["domain", "global_organization::global_domain"],
        "types_depended_on": ["array", "attributes", "duck", "symbol"],
        "category": "runtime",
        "symbol": "unauthenticated",
        "context_type_declaration": {"type": "attributes", "element_type_declarations": {}},
        "is_fatal": False,
        "error_class": "Foobara::CommandConnector::UnauthenticatedError",
        "base_error": "Foobara::RuntimeError",
    }
    assert "Foobara::CommandConnector::NotAllowedError" not in errors
    connector.connect(WriteNote, allow_if=own_notes)
    not_allowed_class = connector.manifest()["error"]["Foobara::CommandConnector::NotAllowedError"]
    assert not_allowed_class["context_type_declaration"]["element_type_declarations"] == {
        "rule_symbol": "symbol",
        "explanation": "string",
    }
    assert not_allowed_class["types_depended_on"] == ["array", "attributes", "duck", "string", "symbol"]
    assert "Foobara::CommandConnector::UnauthenticatedError" not in Connector(WhoAmI).manifest()["error"]


# --- over HTTP --------------------------------------------------------------------------------


def test_over_http_401_403_and_the_user() -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(WhoAmI, requires_auth=True)
    connector.connect(AsyncWhoAmI, authentication_optional=True)
    connector.connect(WriteNote, requires_auth=True, allow_if=own_notes)
    with serve(connector.asgi(mcp=False)) as url, httpx.Client(base_url=url, timeout=30) as client:
        response = client.post("/run/AuthTests::Private::WhoAmI")
        assert (response.status_code, response.json()) == (401, [UNAUTHENTICATED])
        ann = {"authorization": "Bearer secret-token-of-ann"}
        response = client.post("/run/AuthTests::Private::WhoAmI", headers=ann)
        assert (response.status_code, response.json()) == (200, "ann")
        assert client.get("/run/AuthTests::Private::AsyncWhoAmI").json() == "nobody"
        assert client.get("/run/AuthTests::Private::AsyncWhoAmI", headers=ann).json() == "ann"
        response = client.post("/run/AuthTests::Private::WriteNote", json={"owner": "bob"}, headers=ann)
        assert response.status_code == 403
        assert response.json() == [not_allowed("a note is written by its owner", "own_notes")]


def test_over_http_an_authenticator_that_raises_is_a_401_without_its_text() -> None:
    connector = Connector(authenticator=broken)
    connector.connect(WhoAmI, requires_auth=True)
    with serve(connector.asgi(mcp=False)) as url:
        response = httpx.post(f"{url}/run/AuthTests::Private::WhoAmI", timeout=30)
    assert (response.status_code, response.json()) == (401, [UNAUTHENTICATED])
    assert "hunter2" not in response.text


# --- rules see the loaded records ---------------------------------------------------------------

ledgers = Domain("Ledgers", organization=org)


@ledgers.model
class Account(Entity):
    id: int | None = None
    owner: str
    balance: int = 0


class AccountInputs(BaseModel):
    account: Account


@ledgers.command
class Withdraw(Command[AccountInputs, int]):
    """Changes the account while loading (so a refusal after it has something to roll back)."""

    def load_records(self) -> None:
        if self.inputs.account.is_loaded:  # not when it was not found
            self.inputs.account.balance -= 10

    def execute(self) -> int:
        return self.inputs.account.balance


@ledgers.command
class AsyncBalance(AsyncCommand[AccountInputs, int]):
    async def execute(self) -> int:
        return self.inputs.account.balance


@ledgers.command
class Audit(Command[AccountInputs, int]):
    """Runs Withdraw as a subcommand: the rules of Withdraw's connection are not its own."""

    depends_on = (Withdraw,)

    def execute(self) -> int:
        return self.run_subcommand(Withdraw, account=self.inputs.account)


@pytest.fixture
def accounts() -> Iterator[dict[str, int]]:
    store = persistence.configure(MemoryStore("memory://"), entities=[Account])
    with transaction():
        ids = {name: Account.create(owner=name, balance=100).id for name in ("ann", "bob")}
    yield ids
    persistence.reset()
    store.close()


def owns_the_account(call: Call, user: Any) -> tuple[bool, str]:
    return call.inputs.account.owner == user, "only the owner may touch an account"


def balance(account_id: int) -> int:
    with transaction():
        return Account.load(account_id).balance


def test_a_rule_sees_the_loaded_records_and_the_raw_inputs(accounts: dict[str, int]) -> None:
    seen: list[Any] = []

    def remember(call: Call, user: Any) -> bool:
        seen.append((call.command, call.inputs.account.owner, dict(call.raw_inputs), call.request.door, user))
        return True

    connector = Connector(authenticator=bearer)
    connector.connect(Withdraw, requires_auth=True, allow_if=remember)
    ann = with_token("secret-token-of-ann")
    assert connector.run("Withdraw", {"account": accounts["bob"]}, ann).result == 90
    assert seen == [(Withdraw, "bob", {"account": accounts["bob"]}, "python", "ann")]


def test_a_refusal_after_the_load_rolls_back_and_commits_nothing(accounts: dict[str, int]) -> None:
    connector = Connector(authenticator=bearer)
    connector.connect(Withdraw, requires_auth=True, allow_if=owns_the_account)
    connector.connect(AsyncBalance, requires_auth=True, allow_if=owns_the_account)
    ann, bob = accounts["ann"], accounts["bob"]
    token = with_token("secret-token-of-ann")
    refused = connector.run("Withdraw", {"account": bob}, token)
    assert [e.to_dict() for e in refused.errors] == [
        not_allowed("only the owner may touch an account", "owns_the_account")
    ]
    refused = asyncio.run(connector.arun("Withdraw", {"account": bob}, token))
    assert refused.error_keys == ["runtime.not_allowed"]
    assert balance(bob) == 100  # the change made while loading was rolled back
    assert connector.run("Withdraw", {"account": ann}, token).result == 90
    assert balance(ann) == 90
    assert asyncio.run(connector.arun("AsyncBalance", {"account": ann}, token)).result == 90
    assert connector.run("AsyncBalance", {"account": bob}, token).error_keys == ["runtime.not_allowed"]


def test_inputs_are_checked_before_the_rules_as_in_ruby(accounts: dict[str, int]) -> None:
    def never(call: Call, user: Any) -> bool:
        raise AssertionError("not asked")

    connector = Connector()
    connector.connect(Withdraw, allow_if=never)
    assert connector.run("Withdraw", {"account": "x"}).error_keys == ["data.account.cannot_cast"]
    assert connector.run("Withdraw", {"account": 999}).error_keys == ["data.account.not_found"]


def test_rules_apply_to_the_connected_run_only_not_to_subcommands(accounts: dict[str, int]) -> None:
    def nobody(call: Call, user: Any) -> tuple[bool, str]:
        return False, "nobody"

    connector = Connector()
    connector.connect(Withdraw, allow_if=nobody)
    connector.connect(Audit)
    assert connector.run("Withdraw", {"account": accounts["ann"]}).error_keys == ["runtime.not_allowed"]
    assert connector.run("Audit", {"account": accounts["ann"]}).result == 90
    assert Withdraw.run(account=accounts["ann"]).result == 80  # the command's own runs: no rule


# --- from the command line ----------------------------------------------------------------------

GUARDED_MODULE = """
from pydantic import BaseModel

from foobara_py import Command, Domain
from foobara_py.connectors import Call, Connector, ConnectorRequest, cookie, current_user

desk = Domain("Desk")


class Note(BaseModel):
    owner: str
    text: str = ""


@desk.command
class Sign(Command[Note, str]):
    def execute(self) -> str:
        return f"{self.inputs.text} -- {self.inputs.owner}, as {current_user()}"


def bearer(request: ConnectorRequest) -> str | None:
    return {"Bearer token-of-ann": "ann"}.get(request.headers.get("authorization", ""))


def own(call: Call, user: str | None) -> tuple[bool, str]:
    return call.inputs.owner == user, "sign your own notes"


connector = Connector(authenticator=bearer)
connector.connect(Sign, requires_auth=True, allow_if=own, inputs={"set": {"text": cookie("text")}})
"""


def test_from_the_command_line_the_environment_carries_headers_and_cookies(tmp_path: Path) -> None:
    module = tmp_path / "guarded.py"
    module.write_text(GUARDED_MODULE)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FOOBARA_HEADER_", "FOOBARA_COOKIE_"))}
    ann = {**base, "FOOBARA_HEADER_AUTHORIZATION": "Bearer token-of-ann", "FOOBARA_COOKIE_TEXT": "hello"}

    def foobara(*args: str, env: dict[str, str]) -> tuple[str, str, int]:
        done = subprocess.run(
            [sys.executable, "-m", "foobara_py", "run", str(module), "Sign", *args],
            capture_output=True, text=True, cwd=ROOT, timeout=60, check=False, env=env,
        )  # fmt: skip
        return done.stdout, done.stderr, done.returncode

    assert foobara("--owner", "ann", env=ann) == ("hello -- ann, as ann\n", "", 0)
    assert foobara("--owner", "ann", env=base) == ("", "Unauthenticated\n", 3)
    assert foobara("--owner", "bob", env=ann) == ("", "Not allowed: sign your own notes\n", 4)


def test_cli_request_reads_the_foobara_variables_only() -> None:
    request = cli_request({"FOOBARA_HEADER_X_API_KEY": "k", "FOOBARA_COOKIE_SESSION": "s", "HOME": "/root"})
    assert (request.door, dict(request.headers), dict(request.cookies)) == ("cli", {"x-api-key": "k"}, {"session": "s"})
    assert request.raw["HOME"] == "/root"
