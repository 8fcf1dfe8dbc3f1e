"""Basic API fetching with error handling (docs/async_commands.md, "Basic Usage" and
"Error Handling").

The guide calls https://api.example.com; this example starts a small API of its own on
127.0.0.1 (local_api.py) and calls that, so it runs offline.

    python examples/async_commands/fetch_api_data.py
"""

from __future__ import annotations

import asyncio

import httpx
from local_api import local_api
from pydantic import BaseModel

from foobara_py import AsyncCommand, PossibleError, async_command, async_simple_command

API_URL = "http://127.0.0.1"  # replaced by the local API's address in main()


class FetchUserInputs(BaseModel):
    user_id: int


class UserData(BaseModel):
    id: int
    name: str
    email: str


@async_command(domain="Users", organization="Examples")
class FetchUserData(AsyncCommand[FetchUserInputs, UserData]):
    """Fetch user data from an external API"""

    possible_errors = [
        PossibleError("user_not_found", context={"user_id": int}),
        "network_error",
    ]

    async def execute(self) -> UserData:
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(f"{API_URL}/users/{self.inputs.user_id}")

                if response.status_code == 404:
                    self.add_runtime_error(
                        "user_not_found",
                        f"User {self.inputs.user_id} not found",
                        halt=True,
                        context={"user_id": self.inputs.user_id},
                    )

                response.raise_for_status()
                data = response.json()
                return UserData(**data)

        except httpx.RequestError as e:
            self.add_runtime_error("network_error", f"Failed to fetch user: {e!s}", halt=True)
            raise  # not reached: add_runtime_error halts


class FetchInputs(BaseModel):
    url: str


class FetchData(AsyncCommand[FetchInputs, dict]):  # type: ignore[type-arg]
    """Any exception becomes an `execution_error` in the outcome, never a traceback."""

    async def execute(self) -> dict:  # type: ignore[type-arg]
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(self.inputs.url)
            return response.json()  # type: ignore[no-any-return]


@async_simple_command
async def fetch_user_name(user_id: int) -> str:
    """A function made into a command: inputs from its parameters, result from its annotation."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{API_URL}/users/{user_id}")
        response.raise_for_status()
        return response.json()["name"]  # type: ignore[no-any-return]


async def main() -> None:
    global API_URL
    with local_api() as base_url:
        API_URL = base_url
        print(f"Local API on {base_url}")

        outcome = await FetchUserData.run(user_id=1)
        user = outcome.unwrap()
        print(f"FetchUserData(user_id=1): {user.name} <{user.email}>")

        outcome = await FetchUserData.run(user_id=999)
        print(f"FetchUserData(user_id=999): {outcome.error_keys} - {outcome.errors_sentence}")

        outcome = await FetchUserData.run(user_id="not a number")
        print(f"FetchUserData(user_id='not a number'): {outcome.error_keys}")

        outcome = await FetchData.run(url=f"{base_url}/data?source=local")
        print(f"FetchData(/data): {outcome.unwrap()}")

        # Nothing listens on port 9 (discard): the connection error becomes an execution_error.
        outcome = await FetchData.run(url="http://127.0.0.1:9/nothing")
        error = outcome.errors[0]
        print(f"FetchData(closed port): {error.key} ({error.context['exception_class']})")

        print(f"fetch_user_name(user_id=2): {(await fetch_user_name.run(user_id=2)).unwrap()}")

    # With the API stopped, the same command reports a network error instead.
    outcome = await FetchUserData.run(user_id=1)
    print(f"FetchUserData after the API stopped: {outcome.error_keys}")


if __name__ == "__main__":
    asyncio.run(main())
