"""Concurrent batch processing (docs/async_commands.md, "Performance Tips" and "Common
Patterns"): one client for many requests, `asyncio.gather`, a semaphore to limit concurrency,
retries with exponential backoff, and timeouts.

The guide calls https://api.example.com; this example starts a small API of its own on
127.0.0.1 (local_api.py) and calls that, so it runs offline.

    python examples/async_commands/batch_processing.py
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from local_api import local_api
from pydantic import BaseModel, Field

from foobara_py import AsyncCommand

API_URL = "http://127.0.0.1"  # replaced by the local API's address in main()


class UserData(BaseModel):
    id: int
    name: str
    email: str


class UserIdsInputs(BaseModel):
    user_ids: list[int]


class FetchMultipleUsersConcurrent(AsyncCommand[UserIdsInputs, list[UserData]]):
    """One client (one connection pool) for all requests, sent concurrently."""

    async def execute(self) -> list[UserData]:
        async with httpx.AsyncClient(base_url=API_URL) as client:

            async def fetch_user(user_id: int) -> UserData:
                response = await client.get(f"/users/{user_id}")
                response.raise_for_status()
                return UserData(**response.json())

            users = await asyncio.gather(*[fetch_user(uid) for uid in self.inputs.user_ids])
            return list(users)


class ProcessBatchInputs(BaseModel):
    item_ids: list[int]
    max_concurrency: int = Field(5, ge=1, description="requests in flight at once")


class ProcessBatch(AsyncCommand[ProcessBatchInputs, list[dict[str, Any]]]):
    """Process every item concurrently, at most `max_concurrency` at a time."""

    async def execute(self) -> list[dict[str, Any]]:
        semaphore = asyncio.Semaphore(self.inputs.max_concurrency)
        async with httpx.AsyncClient(base_url=API_URL) as client:

            async def process_item(item_id: int) -> dict[str, Any]:
                async with semaphore:
                    response = await client.post(f"/process/{item_id}", json={"action": "process"})
                    return response.json()  # type: ignore[no-any-return]

            results = await asyncio.gather(*[process_item(item_id) for item_id in self.inputs.item_ids])
        return list(results)


class FetchWithRetryInputs(BaseModel):
    url: str
    max_retries: int = 3
    base_delay: float = 0.05


class FetchWithRetry(AsyncCommand[FetchWithRetryInputs, dict[str, Any]]):
    """Retry failed requests with exponential backoff; report `fetch_failed` when out of tries."""

    possible_errors = ["fetch_failed"]

    async def execute(self) -> dict[str, Any]:
        for attempt in range(self.inputs.max_retries):
            try:
                async with httpx.AsyncClient() as client:
                    response = await client.get(self.inputs.url)
                    response.raise_for_status()
                    return response.json()  # type: ignore[no-any-return]
            except (httpx.RequestError, httpx.HTTPStatusError) as e:
                if attempt == self.inputs.max_retries - 1:
                    self.add_runtime_error(
                        "fetch_failed", f"Failed after {self.inputs.max_retries} attempts: {e!s}", halt=True
                    )
                await asyncio.sleep(self.inputs.base_delay * (2**attempt))
        raise AssertionError("unreachable")


class FetchWithTimeoutInputs(BaseModel):
    url: str
    timeout: float = 0.2


class FetchWithTimeout(AsyncCommand[FetchWithTimeoutInputs, dict[str, Any]]):
    possible_errors = ["request_timeout"]

    async def execute(self) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.inputs.timeout):
                async with httpx.AsyncClient() as client:
                    response = await client.get(self.inputs.url)
                    return response.json()  # type: ignore[no-any-return]
        except TimeoutError:
            self.add_runtime_error("request_timeout", "Request took too long", halt=True)
            raise  # not reached


async def main() -> None:
    global API_URL
    with local_api() as base_url:
        API_URL = base_url
        print(f"Local API on {base_url}")

        users = (await FetchMultipleUsersConcurrent.run(user_ids=[1, 2, 3])).unwrap()
        print(f"FetchMultipleUsersConcurrent: {[user.name for user in users]}")

        outcome = await FetchMultipleUsersConcurrent.run(user_ids=[1, 404])
        print(f"FetchMultipleUsersConcurrent with an unknown user: {outcome.error_keys}")

        started = time.perf_counter()
        processed = (await ProcessBatch.run(item_ids=list(range(1, 21)), max_concurrency=5)).unwrap()
        elapsed = time.perf_counter() - started
        print(f"ProcessBatch: {len(processed)} items processed in {elapsed:.2f}s, first: {processed[0]}")

        outcome = await ProcessBatch.run(item_ids=[1], max_concurrency=0)
        print(f"ProcessBatch(max_concurrency=0): {outcome.error_keys}")

        flaky = f"{base_url}/flaky?key=batch&failures=2"
        print(f"FetchWithRetry (2 failures, 3 tries): {(await FetchWithRetry.run(url=flaky)).unwrap()}")
        outcome = await FetchWithRetry.run(url=f"{base_url}/flaky?key=never&failures=99")
        print(f"FetchWithRetry (always failing): {outcome.error_keys}")

        outcome = await FetchWithTimeout.run(url=f"{base_url}/slow?seconds=1", timeout=0.2)
        print(f"FetchWithTimeout(0.2s on a 1s endpoint): {outcome.error_keys} - {outcome.errors_sentence}")


if __name__ == "__main__":
    asyncio.run(main())
