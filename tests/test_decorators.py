"""@command/@async_command place commands in domains; @simple_command makes commands of functions."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from foobara_py import (
    AsyncCommand,
    Command,
    Domain,
    async_command,
    async_simple_command,
    command,
    lookup_command,
    simple_command,
)


class Pair(BaseModel):
    a: int
    b: int = 0


def test_command_places_a_class_in_a_domain_by_name() -> None:
    @command(domain="Arith", organization="Decorated")
    class Sum(Command[Pair, int]):
        def execute(self) -> int:
            return self.inputs.a + self.inputs.b

    assert Sum.full_name() == "Decorated::Arith::Sum"
    assert lookup_command("Decorated::Arith::Sum") is Sum
    assert Sum.domain().organization.full_name == "Decorated"
    assert Sum in Sum.domain().commands


def test_async_command_places_an_async_class_and_refuses_a_sync_one() -> None:
    @async_command(domain="Users", organization="MyApp")
    class FetchUser(AsyncCommand[Pair, int]):
        async def execute(self) -> int:
            return self.inputs.a

    assert FetchUser.full_name() == "MyApp::Users::FetchUser"
    with pytest.raises(TypeError, match="AsyncCommand"):
        async_command(domain="Users", organization="MyApp")(lookup_command("Decorated::Arith::Sum"))


def test_simple_command_takes_inputs_from_the_signature() -> None:
    @simple_command
    def add(a: int, b: int = 0) -> int:
        """Adds two numbers."""
        return a + b

    assert add.run(a=1).unwrap() == 1
    assert add.run(a="2", b=3).unwrap() == 5
    assert add.run(b=3).error_keys == ["data.a.missing_required_attribute"]
    assert add.run(a=1, c=2).error_keys == ["data.unexpected_attributes"]
    assert add.full_name() == "Add"
    assert add.description == "Adds two numbers."
    assert issubclass(add, Command)


def test_simple_command_checks_its_result() -> None:
    @simple_command(name="Halve", domain=Domain("Simple", organization="Decorated"))
    def halve(n: int) -> int:
        return n / 2  # type: ignore[return-value]

    assert halve.full_name() == "Decorated::Simple::Halve"
    assert halve.run(n=4).unwrap() == 2
    with pytest.raises(Exception, match="does not fit"):
        halve.run(n=3)


def test_simple_command_without_parameters() -> None:
    @simple_command
    def answer() -> int:
        return 42

    assert answer.run().unwrap() == 42
    assert answer.inputs_type() is None


async def test_async_simple_command_is_a_real_async_command() -> None:
    @async_simple_command
    async def fetch_github_user(username: str) -> dict[str, str]:
        """Fetch GitHub user data"""
        return {"login": username}

    assert issubclass(fetch_github_user, AsyncCommand)
    assert fetch_github_user.full_name() == "FetchGithubUser"
    assert (await fetch_github_user.run(username="octocat")).unwrap() == {"login": "octocat"}

    class Wrapper(AsyncCommand[None, dict[str, str]]):
        depends_on = (fetch_github_user,)

        async def execute(self) -> dict[str, str]:
            return await self.run_subcommand(fetch_github_user, username="ada")

    assert (await Wrapper.run()).unwrap() == {"login": "ada"}


def test_simple_commands_can_be_subcommands() -> None:
    @simple_command
    def double(n: int) -> int:
        return n * 2

    class Quadruple(Command[None, int]):
        depends_on = (double,)

        def execute(self) -> int:
            return self.run_subcommand(double, n=self.run_subcommand(double, n=1))

    assert Quadruple.run().unwrap() == 4


def test_the_wrong_kind_of_function_is_refused() -> None:
    with pytest.raises(TypeError, match="async_simple_command"):

        @simple_command
        async def nope() -> None: ...

    with pytest.raises(TypeError, match="not an async def"):

        @async_simple_command
        def nope_either() -> None: ...

    with pytest.raises(TypeError, match="by name"):

        @simple_command
        def splat(*args: int) -> None: ...
