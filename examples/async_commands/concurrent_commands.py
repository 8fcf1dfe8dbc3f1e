"""Running several commands in parallel (docs/async_commands.md, "Parallel Command Execution").

`AggregateUserData` runs three commands at once as subcommands: their results come back
together, and when some fail, every failure is reported with the subcommand's name in its key.
`AggregateUserDataLenient` runs the same commands as independent runs and keeps what it can.

The guide calls https://api.example.com; this example starts a small API of its own on
127.0.0.1 (local_api.py) and calls that, so it runs offline.

    python examples/async_commands/concurrent_commands.py
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from local_api import local_api
from pydantic import BaseModel

from foobara_py import AsyncCommand, Domain, Organization

API_URL = "http://127.0.0.1"  # replaced by the local API's address in main()

examples = Organization("Examples")
social = Domain("Social", organization=examples)


class UserInputs(BaseModel):
    user_id: int


async def get_json(path: str) -> Any:
    async with httpx.AsyncClient(base_url=API_URL) as client:
        response = await client.get(path)
        response.raise_for_status()
        return response.json()


class UserCommand(AsyncCommand[UserInputs, Any]):
    abstract = True
    possible_errors = ["user_not_found"]

    async def load(self, what: str) -> Any:
        try:
            return await get_json(f"/users/{self.inputs.user_id}/{what}")
        except httpx.HTTPStatusError as e:
            if e.response.status_code == 404:
                self.add_runtime_error("user_not_found", f"User {self.inputs.user_id} not found")
            raise


@social.command
class FetchUserProfile(UserCommand):
    async def execute(self) -> Any:
        return await self.load("profile")


@social.command
class FetchUserPosts(UserCommand):
    async def execute(self) -> Any:
        return await self.load("posts")


@social.command
class FetchUserFriends(UserCommand):
    async def execute(self) -> Any:
        return await self.load("friends")


@social.command
class AggregateUserData(AsyncCommand[UserInputs, dict[str, Any]]):
    """Profile, posts and friends, fetched at the same time."""

    depends_on = (FetchUserProfile, FetchUserPosts, FetchUserFriends)

    async def execute(self) -> dict[str, Any]:
        user_id = self.inputs.user_id
        profile, posts, friends = await asyncio.gather(
            self.run_subcommand(FetchUserProfile, user_id=user_id),
            self.run_subcommand(FetchUserPosts, user_id=user_id),
            self.run_subcommand(FetchUserFriends, user_id=user_id),
        )
        return {"profile": profile, "posts": posts, "friends": friends}


@social.command
class AggregateUserDataLenient(AsyncCommand[UserInputs, dict[str, Any]]):
    """The guide's version: independent runs; the profile is required, the rest optional."""

    async def execute(self) -> dict[str, Any]:
        profile_outcome, posts_outcome, friends_outcome = await asyncio.gather(
            FetchUserProfile.run(user_id=self.inputs.user_id),
            FetchUserPosts.run(user_id=self.inputs.user_id),
            FetchUserFriends.run(user_id=self.inputs.user_id),
        )
        if profile_outcome.is_failure():
            self.add_error(profile_outcome.errors[0])
            return {}
        return {
            "profile": profile_outcome.unwrap(),
            "posts": posts_outcome.unwrap() if posts_outcome.is_success() else [],
            "friends": friends_outcome.unwrap() if friends_outcome.is_success() else [],
        }


async def main() -> None:
    global API_URL
    with local_api() as base_url:
        API_URL = base_url
        print(f"Local API on {base_url}")

        print(f"AggregateUserData(user_id=1): {(await AggregateUserData.run(user_id=1)).unwrap()}")

        outcome = await AggregateUserData.run(user_id=999)
        print("AggregateUserData(user_id=999) failed with every subcommand's error:")
        for key in sorted(outcome.error_keys):
            print(f"  {key}")

        print(f"AggregateUserDataLenient(user_id=3): {(await AggregateUserDataLenient.run(user_id=3)).unwrap()}")
        outcome = await AggregateUserDataLenient.run(user_id=999)
        print(f"AggregateUserDataLenient(user_id=999): {outcome.error_keys}")

        many = await asyncio.gather(*(AggregateUserData.run(user_id=uid) for uid in (1, 2, 3)))
        print(f"Three aggregations at once: {[len(o.unwrap()['friends']) for o in many]} friends")


if __name__ == "__main__":
    asyncio.run(main())
