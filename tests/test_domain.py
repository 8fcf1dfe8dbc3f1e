"""Organizations, domains, full names and the registry."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from foobara_py import GLOBAL_DOMAIN, Command, CommandNotFoundError, Domain, Organization, lookup_command


class Empty(BaseModel):
    pass


def test_full_names() -> None:
    org = Organization("Names")
    users = Domain("Users", organization=org)
    solo = Domain("Solo")

    @users.command
    class CreateUser(Command[Empty, None]):
        def execute(self) -> None:
            return None

    @solo.command
    class Ping(Command[None, str]):
        def execute(self) -> str:
            return "pong"

    assert CreateUser.full_name() == "Names::Users::CreateUser"
    assert users.full_name == "Names::Users" and org.full_name == "Names"
    assert Ping.full_name() == "Solo::Ping"
    assert users in org.domains
    assert lookup_command("Names::Users::CreateUser") is CreateUser


def test_commands_without_a_domain_are_global() -> None:
    class Lonely(Command[None, int]):
        def execute(self) -> int:
            return 1

    assert Lonely.full_name() == "Lonely"
    assert Lonely.domain() is GLOBAL_DOMAIN
    assert lookup_command("Lonely") is Lonely


def test_redefining_a_command_replaces_it() -> None:
    class Version(Command[None, int]):
        def execute(self) -> int:
            return 1

    first = lookup_command("Version")

    class Version(Command[None, int]):  # type: ignore[no-redef]  # noqa: F811
        def execute(self) -> int:
            return 2

    assert lookup_command("Version") is Version and first is not Version
    assert lookup_command("Version").run().unwrap() == 2


def test_unknown_names_raise_a_clear_error() -> None:
    with pytest.raises(CommandNotFoundError, match="Nope::Nothing"):
        lookup_command("Nope::Nothing")


def test_domain_rules() -> None:
    a = Domain("RuleA", organization="Rules")
    b = Domain("RuleB", organization="Rules", depends_on=["Rules::RuleA"])
    assert b.can_run_commands_of(a) and not a.can_run_commands_of(b)
    assert a.can_run_commands_of(GLOBAL_DOMAIN) and GLOBAL_DOMAIN.can_run_commands_of(b)
    with pytest.raises(ValueError, match="already depends"):
        b.add_dependency(a)
    with pytest.raises(ValueError, match="not a valid domain name"):
        Domain("has space")


def test_abstract_bases_are_not_registered() -> None:
    class Base(Command[None, int]):
        abstract = True

        def execute(self) -> int:
            return 0

    class Concrete(Base):
        pass

    with pytest.raises(CommandNotFoundError):
        lookup_command("Base")
    assert lookup_command("Concrete") is Concrete
