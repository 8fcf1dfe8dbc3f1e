"""docs/async_commands.md does what it says: test_code_blocks.py runs its blocks, in order, and these
tests check what the guide claims of the commands they define. Its https://api.example.com (and
api.github.com) calls go to a local API on 127.0.0.1, redis://localhost to a test redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis

from tests.docs.blocks import RanDocument


@pytest.fixture(scope="module")
def guide(ran_document: Callable[[str], RanDocument], local_api_url: str, redis_url: str) -> dict[str, Any]:
    ran = ran_document("docs/async_commands.md")
    return {**ran.namespace, "printed": ran.printed, "API": local_api_url, "REDIS": redis_url}


def run(awaitable: Any) -> Any:
    return asyncio.run(awaitable)


def test_the_basic_usage_block_prints_the_user(guide: dict[str, Any]) -> None:
    assert "User: Test User" in guide["printed"]  # the Basic Usage block's main()


def test_fetch_user_data(guide: dict[str, Any]) -> None:
    FetchUserData = guide["FetchUserData"]
    assert run(FetchUserData.run(user_id=123)).unwrap().name == "Test User"
    assert run(FetchUserData.run(user_id=999)).error_keys == ["runtime.user_not_found"]
    assert run(FetchUserData.run(user_id="abc")).error_keys == ["data.user_id.cannot_cast"]
    assert run(FetchUserData.run(user_id=1, extra=True)).error_keys == ["data.unexpected_attributes"]


def test_decorated_and_simple_commands(guide: dict[str, Any]) -> None:
    assert guide["FetchUser"].__name__ == "FetchUser"
    assert guide["user_data"]["login"] == "octocat"
    assert guide["fetch_github_user"].full_name() == "FetchGithubUser"
    from foobara_py import lookup_command

    assert lookup_command("MyApp::Users::FetchUser") is not None


def test_exception_handling(guide: dict[str, Any]) -> None:
    error = guide["outcome"].errors[0]
    assert error.symbol == "execution_error"
    assert error.context == {"exception_class": "httpx.ConnectError"}


def test_before_execute(guide: dict[str, Any]) -> None:
    AuthenticatedFetch = guide["AuthenticatedFetch"]
    api = guide["API"]
    assert run(AuthenticatedFetch.run(url=f"{api}/private")).error_keys == ["runtime.missing_auth"]
    assert run(AuthenticatedFetch.run(url=f"{api}/private", api_key="let-me-in")).unwrap() == {"secret": "42"}


def test_after_execute_caches_in_redis(guide: dict[str, Any]) -> None:
    url = f"{guide['API']}/data?cached=yes"
    command = guide["FetchAndCache"]
    outcome = run(command.run(url=url))
    assert outcome.unwrap() == {"ok": True, "cached": "yes"}
    client = redis.Redis.from_url(guide["REDIS"])
    assert client.get(f"fetch:{url}") == b"{'ok': True, 'cached': 'yes'}"
    assert 0 < client.ttl(f"fetch:{url}") <= 3600
    client.close()


def test_around_callback(guide: dict[str, Any]) -> None:
    instances: list[Any] = []
    command = guide["FetchAndCache"]

    @command.after("execute")
    def keep(cmd: Any, transition: str) -> None:
        instances.append(cmd)

    run(command.run(url=f"{guide['API']}/data"))
    assert instances[0].elapsed >= 0


def test_subcommands_gathered(guide: dict[str, Any]) -> None:
    FetchTwoUsers = guide["FetchTwoUsers"]
    users = run(FetchTwoUsers.run(user_ids=[1, 2])).unwrap()
    assert [u.name for u in users] == ["Ada Lovelace", "Alan Turing"]
    outcome = run(FetchTwoUsers.run(user_ids=[998, 999]))
    assert outcome.error_keys == ["fetch_user_data>runtime.user_not_found"]


@pytest.mark.parametrize(
    "name",
    [
        "test_add_success",
        "test_add_validation_error",
        "test_fetch_user_with_mock",
        "test_fetch_user_not_found",
        "test_concurrent_execution",
    ],
)
def test_the_guides_own_tests_pass(guide: dict[str, Any], name: str) -> None:
    run(guide[name]())


def test_performance_tips(guide: dict[str, Any]) -> None:
    api = guide["API"]
    names = ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert [u.name for u in run(guide["FetchMultipleUsers"].run(user_ids=[1, 2, 3])).unwrap()] == names
    assert [u.name for u in run(guide["FetchMultipleUsersConcurrent"].run(user_ids=[1, 2, 3])).unwrap()] == names
    assert run(guide["FetchWithTimeout"].run(url=f"{api}/data")).unwrap() == {"ok": True}
    urls = [f"{api}/data?n={n}" for n in range(12)]
    assert run(guide["RateLimitedFetch"].run(urls=urls)).unwrap() == [{"ok": True, "n": str(n)} for n in range(12)]
    assert run(guide["GoodBlockingCommand"].run()).unwrap() == "done"


def test_common_patterns(guide: dict[str, Any]) -> None:
    api = guide["API"]
    processed = run(guide["ProcessBatch"].run(item_ids=[1, 2])).unwrap()
    assert processed == [
        {"item_id": 1, "status": "processed", "action": "process"},
        {"item_id": 2, "status": "processed", "action": "process"},
    ]
    chunks = run(guide["StreamLargeDataset"].run(url=f"{api}/stream?size=20000")).unwrap()
    assert sum(chunk["size"] for chunk in chunks) == 20000

    aggregate = guide["AggregateUserData"]
    assert run(aggregate.run(user_id=1)).unwrap()["friends"] == [2, 3]
    assert run(aggregate.run(user_id=999)).error_keys == ["runtime.execution_error"]

    assert run(guide["FetchUser"].run(user_id=2)).unwrap().name == "Alan Turing"  # the migrated command


def test_retry_with_backoff(guide: dict[str, Any]) -> None:
    api = guide["API"]
    FetchWithRetry = guide["FetchWithRetry"]
    # The first call hangs up without answering (a network error); the second succeeds.
    assert run(FetchWithRetry.run(url=f"{api}/flaky?key=guide&failures=1&mode=drop")).unwrap() == {
        "key": "guide",
        "attempts": 2,
    }
    outcome = run(FetchWithRetry.run(url="http://127.0.0.1:9/closed"))
    assert outcome.error_keys == ["runtime.fetch_failed"]
    assert outcome.errors[0].message.startswith("Failed after 3 attempts")


def test_timeout_with_cancellation(guide: dict[str, Any]) -> None:
    outcome = run(guide["FetchWithCancellation"].run(url=f"{guide['API']}/slow?seconds=6"))
    assert outcome.error_keys == ["runtime.timeout"]


async def test_websocket(guide: dict[str, Any]) -> None:
    import websockets

    async def echo(connection: Any) -> None:
        async for message in connection:
            await connection.send(f"echo: {message}")

    async with websockets.serve(echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        outcome = await guide["SendWebSocketMessage"].run(ws_url=f"ws://127.0.0.1:{port}", message="hello")
    assert outcome.unwrap() == {"response": "echo: hello"}
    outcome = await guide["SendWebSocketMessage"].run(ws_url=f"ws://127.0.0.1:{port}", message="hello")
    assert outcome.error_keys == ["runtime.websocket_error"]
