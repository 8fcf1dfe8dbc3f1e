"""The HTTP door's `/help` pages on a real uvicorn server: read with httpx, and used in a real browser
(Debian's Chromium driven by Playwright) whose forms run the commands and show what they answer."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import uuid
from collections.abc import Iterator
from decimal import Decimal
from html import unescape
from pathlib import Path
from typing import Annotated, Literal

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import AnyUrl, BaseModel, Field
from starlette.applications import Starlette
from starlette.routing import Mount

from foobara_py import AsyncCommand, Command, Domain, Model, Organization, Sensitive
from foobara_py.connectors import Connector, ConnectorRequest
from foobara_py.connectors.help import help_page
from foobara_py.connectors.openapi import openapi_document
from tests import acme
from tests.connectors import sample
from tests.connectors.serving import serve
from tests.persistence import library

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SECRET_DEFAULT = "default-secret-never-shown-5f3a"
SCRIPT = "<script>window.pwned = 1</script>"

org = Organization("HelpTests")
shop = Domain("Shop", organization=org)
tricky = Domain("Tricky", organization=org)


class Address(BaseModel):
    street: str
    city: str = "Paris"


class Order(BaseModel):
    customer: Address
    items: list[int] = Field(description="the quantities")
    size: Literal["S", "M", "L"] = "M"
    express: bool = False
    note: str | None = None
    api_key: Annotated[str, Sensitive] = SECRET_DEFAULT


@shop.command
class PlaceOrder(Command[Order, str]):
    """Takes a nested model, an array, a choice, a flag and a secret."""

    def execute(self) -> str:
        order = self.inputs
        secret = "default key" if order.api_key == SECRET_DEFAULT else "given key"
        return (
            f"{order.customer.street}, {order.customer.city}: {sum(order.items)} {order.size} {order.express} {secret}"
        )


class Number(BaseModel):
    n: int


@shop.command
class Twice(AsyncCommand[Number, int]):
    """Doubles on the event loop."""

    async def execute(self) -> int:
        await asyncio.sleep(0)
        return 2 * self.inputs.n


class Amounts(BaseModel):
    amount: Decimal
    count: int = 0
    ratio: float = 0.5


@shop.command
class Exact(Command[Amounts, Amounts]):
    """Gives back what it got, to the last digit."""

    def execute(self) -> Amounts:
        return self.inputs


@shop.command
class WhoCalls(Command[None, str]):
    """Behind a bearer token."""

    def execute(self) -> str:
        return "a trusted caller"


class Leaf(Model):
    label: str
    children: list[Leaf] = []


class Planting(BaseModel):
    root: Leaf


@tricky.command
class CountLeaves(Command[Planting, int]):
    """A recursive model: one JSON field."""

    def execute(self) -> int:
        def count(leaf: Leaf) -> int:
            return 1 + sum(count(child) for child in leaf.children)

        return count(self.inputs.root)


class Shout(BaseModel):
    text: str = Field(description="<img src=x onerror=alert(1)> & more")


@tricky.command
class Escaped(Command[Shout, str]):
    __doc__ = f"Says {SCRIPT} out loud"

    def execute(self) -> str:
        return self.inputs.text


class Greeting(BaseModel):
    salutation: str = Field("Grüß dich", description="Wie man grüßt")
    drink: Literal["café", "thé"] = "thé"


@tricky.command
class Gruessen(Command[Greeting, str]):
    """Grüßt auf Deutsch."""

    def execute(self) -> str:
        return f"{self.inputs.salutation}, {self.inputs.drink}"


class Lookup(BaseModel):
    ident: uuid.UUID
    home: AnyUrl


@tricky.command
class Identify(Command[Lookup, str]):
    def execute(self) -> str:
        return f"{self.inputs.ident} at {self.inputs.home}"


@tricky.command
class NotConnected(Command[None, int]):
    def execute(self) -> int:
        return 1


def bearer(request: ConnectorRequest) -> str | None:
    return "caller" if request.headers.get("authorization") == "Bearer let-me-in" else None


def make_connector() -> Connector:
    connected = Connector(acme.acme, PlaceOrder, Twice, Exact, CountLeaves, Escaped, Gruessen, Identify, sample.SignIn)
    connected.connect(WhoCalls, authenticator=bearer, requires_auth=True)
    return connected


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve(make_connector().asgi(mcp=False)) as url:
        yield url


@pytest.fixture(scope="module")
def mounted_url() -> Iterator[str]:
    """The door under a prefix, mounted in another app (so with a root path too)."""
    app = Starlette(routes=[Mount("/outer", app=make_connector().asgi(prefix="/api", mcp=False))])
    with serve(app) as url:
        yield f"{url}/outer/api"


@pytest.fixture(scope="module")
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        yield client


def get_page(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


# --- the HTML ------------------------------------------------------------------------------------


def test_the_list_groups_the_connected_commands_by_organization_and_domain(client: httpx.Client) -> None:
    page = get_page(client, "/help")
    headings = re.findall(r"<h([23])>([^<]*)</h\1>", page)
    assert headings == [
        ("2", "Acme"),
        ("3", "Acme::Math"),
        ("2", "HelpTests"),
        ("3", "HelpTests::Shop"),
        ("3", "HelpTests::Tricky"),
        ("2", "ConnectorTests"),
        ("3", "ConnectorTests::Tools"),
    ]
    assert '<a href="/help/Acme::Math::Add"><code>Acme::Math::Add</code></a></td><td>Adds two integers</td>' in page
    assert "/help/HelpTests::Shop::Twice" in page
    assert "NotConnected" not in page
    assert "Divide" in page
    assert "HelpTests::Tricky::NotConnected" not in get_page(client, "/help/")


@pytest.mark.parametrize("name", ["Acme::Math::Add", "Acme/Math/Add", "Math::Add", "Add"])
def test_a_command_page_is_found_by_any_name_find_takes(client: httpx.Client, name: str) -> None:
    page = get_page(client, f"/help/{name}")
    assert "<h1><code>Acme::Math::Add</code></h1>" in page
    assert '<p class="description">Adds two integers</p>' in page


def test_a_command_page_lists_inputs_result_and_possible_errors(client: httpx.Client) -> None:
    page = get_page(client, "/help/Acme::Math::Add")
    row = ('<tr><td><code>b</code></td><td class="type">integer</td><td>default <code>0</code></td>'
           '<td class="description">second operand</td><td></td></tr>')  # fmt: skip
    assert row in page
    assert '<td><code>a</code></td><td class="type">integer</td><td>required</td>' in page
    assert "<h2>Result</h2>\n<p><code>integer</code></p>" in page
    assert "<td><code>data.a.cannot_cast</code></td>" in page
    divide = get_page(client, "/help/Divide")
    assert "<tr><td><code>runtime.division_by_zero</code></td><td>Cannot divide by zero</td></tr>" in divide

    order = get_page(client, "/help/PlaceOrder")
    assert '<td><code>customer.street</code></td><td class="type">string</td><td>required</td>' in order
    assert '<td><code>items</code></td><td class="type">array of integer</td>' in order
    assert '<td class="description">the quantities</td>' in order
    assert '<td><code>size</code></td><td class="type">string</td><td>default <code>&quot;M&quot;</code></td>' in order
    assert "<td>&quot;S&quot;, &quot;M&quot;, &quot;L&quot;</td>" in order  # one of
    assert '<td><code>api_key</code></td><td class="type">string, sensitive</td><td>optional</td>' in order

    user = get_page(client, "/help/RegisterUser")
    assert "<h2>Result</h2>\n<p><code>User</code></p>" in user
    leaves = get_page(client, "/help/CountLeaves")
    assert '<td><code>root</code></td><td class="type">Leaf</td><td>required</td>' in leaves


def curl_words(page: str) -> list[str]:
    """The words of the page's curl line, as a shell reads them."""
    curl = re.search(r"<pre><code>(curl .*?)</code></pre>", page, re.DOTALL)
    assert curl is not None
    return shlex.split(unescape(curl.group(1)).replace("\\\n", " "))


def run_curl(words: list[str]) -> httpx.Response:
    """What the curl line of a page does (`curl -X POST URL -H HEADER... -d BODY`)."""
    headers = dict(word.split(": ", 1) for word in words[5:-2:2])
    return httpx.post(words[3], content=words[-1].encode(), headers=headers)


def test_the_curl_line_runs_the_command(client: httpx.Client, url: str) -> None:
    page = get_page(client, "/help/Acme::Math::Add")
    words = curl_words(page)
    assert words[:4] == ["curl", "-X", "POST", f"{url}/run/Acme::Math::Add"]
    assert words[4:] == ["-H", "Content-Type: application/json", "-d", '{"a": 0, "b": 0}']
    response = httpx.post(words[3], content=words[7], headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()) == (200, 0)

    order = unescape(get_page(client, "/help/PlaceOrder"))
    body = '{"customer": {"street": "string", "city": "Paris"}, "items": [0], "size": "M", "express": false, '
    assert f'-d \'{body}"note": "string"}}\'' in order


def test_the_curl_line_gives_uuids_and_urls_that_cast(client: httpx.Client) -> None:
    response = run_curl(curl_words(get_page(client, "/help/Identify")))
    assert response.status_code == 200, response.text


def test_the_curl_line_leaves_optional_secrets_out(client: httpx.Client) -> None:
    """Run as printed, it must not set a secret to its placeholder (a note locked with "<password>")."""
    response = run_curl(curl_words(get_page(client, "/help/PlaceOrder")))
    assert (response.status_code, response.json()) == (200, "string, Paris: 0 M False default key")
    # A required one keeps its placeholder, for the reader to replace.
    assert '"password": "<password>"' in curl_words(get_page(client, "/help/SignIn"))[-1]


def test_sensitive_inputs_are_password_fields_and_never_shown(client: httpx.Client) -> None:
    pages = [get_page(client, path) for path in ("/help", "/help/PlaceOrder", "/help/SignIn")]
    pages.append(client.get("/openapi.json").text)
    for page in pages:
        assert SECRET_DEFAULT not in page
    sign_in = pages[2]
    assert re.search(r'<input [^>]*name="password"[^>]*type="password"', sign_in)
    assert re.search(r'<input [^>]*name="api_key"[^>]*type="password"', pages[1])
    assert """-d '{"username": "string", "password": "<password>"}'""" in unescape(sign_in)


def test_everything_is_escaped(client: httpx.Client) -> None:
    page = get_page(client, "/help/Escaped")
    assert "Says &lt;script&gt;window.pwned = 1&lt;/script&gt; out loud" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; more" in page
    assert SCRIPT not in page and "<img" not in page
    assert "Says &lt;script&gt;" in get_page(client, "/help")
    # A name from the URL is escaped in the 404 page too.
    response = client.get("/help/<b>bold")
    assert "<b>" not in response.text
    assert "&lt;b&gt;bold" in response.text


def test_non_ascii_text_is_shown_as_it_is_written(client: httpx.Client) -> None:
    page = get_page(client, "/help/Gruessen")
    assert "<h1><code>HelpTests::Tricky::Gruessen</code></h1>" in page
    assert "<td>default <code>&quot;Grüß dich&quot;</code></td>" in page
    assert "<td>&quot;café&quot;, &quot;thé&quot;</td>" in page  # one of
    assert "\\u00" not in page
    words = curl_words(page)
    assert words[-1] == '{"salutation": "Grüß dich", "drink": "thé"}'
    assert run_curl(words).json() == "Grüß dich, thé"


def test_the_pages_load_nothing_from_elsewhere(client: httpx.Client) -> None:
    response = client.get("/help/PlaceOrder")
    policy = response.headers["content-security-policy"]
    assert policy.startswith("default-src 'none';") and "connect-src 'self'" in policy
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)
    assert "<link" not in response.text


@pytest.mark.parametrize("name", ["Nope", "NotConnected", "HelpTests::Tricky::NotConnected", "Add/extra"])
def test_an_unknown_or_unconnected_name_is_a_404_page(client: httpx.Client, name: str) -> None:
    response = client.get(f"/help/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f"Could not find command registered for {name.replace('/', '::')}" in response.text
    assert '<a href="/help">All commands</a>' in response.text


def test_links_and_the_form_follow_the_prefix_and_the_mount(mounted_url: str) -> None:
    page = httpx.get(f"{mounted_url}/help").text
    assert '<a href="/outer/api/help/Acme::Math::Add">' in page
    assert '<a href="/outer/api/openapi.json">' in page
    add = httpx.get(f"{mounted_url}/help/Add").text
    assert 'data-run="/outer/api/run/Acme::Math::Add"' in add
    assert f"curl -X POST {mounted_url}/run/Acme::Math::Add" in add
    assert httpx.get(f"{mounted_url}/help/Nope").status_code == 404


def test_a_command_connected_after_a_page_was_served_has_its_page() -> None:
    connector = Connector(acme.Add)
    assert help_page(connector, "Add", base="", origin="http://127.0.0.1")[0] == 200
    connector.connect(acme.Divide)
    status, page = help_page(connector, "Divide", base="", origin="http://127.0.0.1")
    assert status == 200
    assert "<code>Acme::Math::Divide</code>" in page and 'data-path="[&quot;dividend&quot;]"' in page


def test_every_input_of_every_command_has_a_field() -> None:
    """The form of every command takes all of its inputs, entities and recursive models too."""
    connectors = [make_connector(), Connector(library.shelf), Connector(sample.tools)]
    for connected in connectors:
        document = openapi_document(connected)
        with serve(connected.asgi(mcp=False)) as url:
            for connection in connected.connections:
                page = httpx.get(f"{url}/help/{connection.full_name}").text
                schema = document["paths"][f"/run/{connection.full_name}"]["post"]["requestBody"]
                inputs = schema["content"]["application/json"]["schema"]
                for name in inputs.get("properties", {}):
                    assert re.search(rf'data-path="\[&quot;{name}&quot;', page), (connection.full_name, name)


# --- in a browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the /help tests need a browser (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def origins() -> set[str]:
    """Where the page sent requests (scheme, host and port)."""
    return set()


@pytest.fixture
def page(browser: Browser, origins: set[str]) -> Iterator[Page]:
    """A page that records its script errors, console errors (a refused asset or script says so
    there), dialogs and the origins it talks to; the test fails on any error."""
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    page.on("request", lambda request: origins.add(re.sub(r"^(\w+://[^/]+).*", r"\1", request.url)))
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert [p for p in problems if "the server responded with a status of" not in p] == []


def run_form(page: Page, values: dict[str, str]) -> tuple[str, str, list[str]]:
    """Fill the form (a field by its input name), run it, and read the response: status, the
    result shown and the error keys listed."""
    for name, value in values.items():
        field = page.locator(f'[name="{name}"]')
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    page.click("button[type=submit]")
    page.wait_for_selector("#outcome[data-status]")
    status = page.get_attribute("#outcome", "data-status") or ""
    keys = page.locator("#errors li code").all_text_contents()
    return status, page.text_content("#result") or "", keys


def test_the_form_runs_a_command_and_shows_its_result_or_its_errors(page: Page, url: str, origins: set[str]) -> None:
    page.goto(f"{url}/help")
    page.click("text=Acme::Math::Add")
    assert page.url == f"{url}/help/Acme::Math::Add"
    assert run_form(page, {"a": "1", "b": "2"}) == ("200", "3", [])
    assert page.text_content("#status") == "200 OK"
    status, result, keys = run_form(page, {"a": "x", "b": ""})
    assert (status, keys) == ("422", ["data.a.cannot_cast"])
    assert '"key": "data.a.cannot_cast"' in result
    assert "data.a.cannot_cast: " in (page.text_content("#errors") or "")
    assert run_form(page, {"a": "", "b": "5"})[2] == ["data.a.missing_required_attribute"]
    assert origins == {url}


def test_the_form_runs_an_async_command(page: Page, url: str) -> None:
    page.goto(f"{url}/help/Twice")
    assert run_form(page, {"n": "21"}) == ("200", "42", [])


def test_the_form_takes_nested_models_arrays_choices_and_secrets(page: Page, url: str) -> None:
    page.goto(f"{url}/help/CreateUser")
    status, result, _ = run_form(page, {"user.name": "Ann", "user.email": "ann@example.com"})
    assert status == "200"
    assert '"greeting": "Hello, Ann"' in result
    assert run_form(page, {"user.name": ""})[2] == ["data.user.name.missing_required_attribute"]
    status, _, keys = run_form(page, {"user.name": "Ann", "user.email": "ann.example.com"})
    assert status == "422"
    assert "data.user.email.must_have_an_at_sign" in keys

    page.goto(f"{url}/help/PlaceOrder")
    assert page.get_attribute('[name="api_key"]', "type") == "password"
    values = {"customer.street": "1 Main St", "items": "[2, 3]", "size": '"L"', "express": "true"}
    assert run_form(page, values) == ("200", '"1 Main St, Paris: 5 L True default key"', [])
    values = {"customer.city": "Oslo", "items": "[1]", "size": "", "express": "false", "api_key": "hunter2"}
    assert run_form(page, values) == ("200", '"1 Main St, Oslo: 1 M False given key"', [])
    assert "hunter2" not in page.content().replace('value="hunter2"', "")

    page.goto(f"{url}/help/CountLeaves")
    tree = '{"label": "a", "children": [{"label": "b"}, {"label": "c", "children": [{"label": "d"}]}]}'
    assert run_form(page, {"root": tree}) == ("200", "4", [])
    assert run_form(page, {"root": "[1, 2"})[2] == ["data.root.cannot_cast"]


def test_the_form_keeps_every_digit_of_a_number(page: Page, url: str) -> None:
    """A decimal or an integer past 2**53 is not rounded on its way in, nor in the result shown."""
    page.goto(f"{url}/help/Exact")
    values = {"amount": "12345678901234567890.123456789", "count": "12345678901234567890", "ratio": "0.1"}
    status, result, _ = run_form(page, values)
    assert status == "200"
    assert json.loads(result) == {
        "amount": "12345678901234567890.123456789",
        "count": 12345678901234567890,
        "ratio": 0.1,
    }
    assert '"count": 12345678901234567890' in result
    assert run_form(page, {"amount": "1.5", "count": "2", "ratio": "1e3"}) == (
        "200",
        '{\n  "amount": "1.5",\n  "count": 2,\n  "ratio": 1000.0\n}',
        [],
    )
    assert run_form(page, {"amount": "x"})[2] == ["data.amount.cannot_cast"]


def test_the_form_sends_a_secret_and_shows_no_sensitive_result(page: Page, url: str) -> None:
    page.goto(f"{url}/help/SignIn")
    status, result, _ = run_form(page, {"username": "ann", "password": "pw-of-ann"})
    assert (status, result) == ("200", '{\n  "username": "ann"\n}')
    assert "token" not in (page.text_content("#outcome") or "")


def test_the_form_sends_an_authorization_header(page: Page, url: str) -> None:
    page.goto(f"{url}/help/WhoCalls")
    assert run_form(page, {}) == ("401", page.text_content("#result") or "", ["runtime.unauthenticated"])
    page.fill("#authorization", "Bearer let-me-in")
    assert run_form(page, {})[:2] == ("200", '"a trusted caller"')


def test_the_form_works_under_a_prefix_in_a_mounted_app(page: Page, mounted_url: str, origins: set[str]) -> None:
    page.goto(f"{mounted_url}/help")
    page.click("text=Acme::Math::Add")
    assert page.url == f"{mounted_url}/help/Acme::Math::Add"
    assert run_form(page, {"a": "40", "b": "2"}) == ("200", "42", [])
    assert origins == {mounted_url.removesuffix("/outer/api")}


def test_a_description_holding_a_script_is_shown_as_text(page: Page, url: str) -> None:
    page.goto(f"{url}/help/Escaped")
    assert SCRIPT in (page.text_content("p.description") or "")
    assert page.evaluate("window.pwned") is None
    assert run_form(page, {"text": SCRIPT}) == ("200", f'"{SCRIPT}"', [])
    assert page.evaluate("window.pwned") is None
