"""`Add.spec`: the one public, frozen description of a command that the manifest, JSON Schema,
loaders and connectors read."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from foobara_py import (
    GLOBAL_DOMAIN,
    AsyncCommand,
    Command,
    Domain,
    DomainMapper,
    Organization,
    PossibleError,
    command,
    inputs_json_schema,
    json_schema,
    manifest,
    registry,
    result_json_schema,
)
from foobara_py.command import CommandBase
from foobara_py.loading import commands_of
from foobara_py.spec import CommandSpec


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[registry.Registry]:
    with registry.isolated() as inside:
        yield inside


class AddInputs(BaseModel):
    a: int
    b: int = 0


class Ledger:
    """A transaction resource that counts its commits."""

    def __init__(self) -> None:
        self.commits = 0

    def begin(self) -> Ledger:
        return self

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        pass


# --------------------------------------------------------------------------------------------
# What a spec says


def test_a_sync_commands_spec() -> None:
    class Add(Command[AddInputs, int]):
        """Adds two numbers."""

        def execute(self) -> int:
            return self.inputs.a + self.inputs.b

    spec = Add.spec
    assert isinstance(spec, CommandSpec)
    assert (spec.name, spec.full_name, spec.runtime_name) == ("Add", "Add", "add")
    assert spec.domain is GLOBAL_DOMAIN
    assert spec.description == "Adds two numbers."
    assert (spec.is_async, spec.is_query, spec.is_abstract) == (False, False, False)
    assert spec.inputs_type is AddInputs
    assert spec.result_type is int
    assert spec.inputs_node is not None and list(spec.inputs_node.fields or {}) == ["a", "b"]
    assert spec.result_node is not None and spec.result_node.type == "integer"
    assert dict(spec.possible_errors) == {}
    assert (spec.depends_on, spec.domain_mappers, spec.transaction_resources) == ((), (), ())
    assert spec.hooks == frozenset({"execute"})


def test_an_async_commands_spec() -> None:
    class Fetch(AsyncCommand[AddInputs, str]):
        description = "Fetches a thing."
        is_query = True

        async def validate(self) -> None:
            pass

        async def execute(self) -> str:
            return "thing"

    spec = Fetch.spec
    assert (spec.is_async, spec.is_query) == (True, True)
    assert spec.description == "Fetches a thing."
    assert spec.hooks == frozenset({"validate", "execute"})
    assert spec.result_type is str


def test_a_command_without_inputs_or_result() -> None:
    class Ping(Command[None, None]):
        def execute(self) -> None:
            return None

    spec = Ping.spec
    assert spec.inputs_type is None and spec.inputs_node is None
    assert spec.result_node is None
    assert spec.description is None
    assert not spec.is_abstract  # no inputs is not the same as no types


def test_placing_a_command_in_a_domain_gives_it_a_new_spec() -> None:
    class Add(Command[AddInputs, int]):
        def execute(self) -> int:
            return self.inputs.a + self.inputs.b

    before = Add.spec
    command(domain="Math", organization="Acme")(Add)

    after = Add.spec
    assert after is not before
    assert (after.full_name, after.runtime_name) == ("Acme::Math::Add", "acme::math::add")
    assert after.domain.full_name == "Acme::Math" and after.domain is Add.domain()
    assert (before.full_name, before.runtime_name, before.domain) == ("Add", "add", GLOBAL_DOMAIN)
    assert after.full_name == Add.full_name()


def test_a_domains_command_decorator_places_the_spec_too() -> None:
    shop = Domain("Shop", organization=Organization("Acme"))

    @shop.command
    class Checkout(Command[None, str]):
        def execute(self) -> str:
            return "done"

    assert Checkout.spec.domain is shop
    assert Checkout.spec.full_name == "Acme::Shop::Checkout"


def test_subcommands_are_in_depends_on_and_their_resources_are_the_parents() -> None:
    own, books, stock = Ledger(), Ledger(), Ledger()

    class Reserve(Command[None, int]):
        transaction_resources = (stock,)

        def execute(self) -> int:
            return 1

    class Bill(Command[None, int]):
        transaction_resources = (books, stock)

        def execute(self) -> int:
            return 2

    class ToCents(DomainMapper[int, str]):
        def map(self) -> str:
            return f"{self.from_value}00"

    class Order(Command[None, int]):
        depends_on = (Reserve, Bill, ToCents)
        transaction_resources = (own,)

        def execute(self) -> int:
            return self.run_subcommand(Reserve) + self.run_subcommand(Bill)

    spec = Order.spec
    assert spec.depends_on == (Bill, Reserve)  # sorted by full name
    assert spec.domain_mappers == (ToCents,)
    # its own resources first, then its subcommands', each once
    assert spec.transaction_resources == (own, books, stock)
    assert Order.run().result == 3
    assert (own.commits, books.commits, stock.commits) == (1, 1, 1)  # one transaction each, the parent's


def test_declared_possible_errors_by_key() -> None:
    class Divide(Command[AddInputs, float]):
        possible_errors = (
            "division_by_zero",
            PossibleError("data.b.is_zero", message="b is zero"),
        )

        def execute(self) -> float:
            return self.inputs.a / self.inputs.b

    errors = Divide.spec.possible_errors
    assert sorted(errors) == ["data.b.is_zero", "runtime.division_by_zero"]
    assert errors["data.b.is_zero"].message == "b is zero"
    assert errors["runtime.division_by_zero"].symbol == "division_by_zero"
    with pytest.raises(TypeError):
        errors["runtime.other"] = PossibleError("other")  # type: ignore[index]


def test_the_spec_is_frozen() -> None:
    class Add(Command[AddInputs, int]):
        def execute(self) -> int:
            return 0

    with pytest.raises(dataclasses.FrozenInstanceError):
        Add.spec.full_name = "Other"  # type: ignore[misc]
    assert Add.spec.full_name == "Add"


# --------------------------------------------------------------------------------------------
# Bases to subclass


T = TypeVar("T")


class GenericBase(Command[T, int]):
    def execute(self) -> int:
        return 0


class AbstractBase(Command[AddInputs, int]):
    abstract = True

    def execute(self) -> int:
        return 0


class Concrete(GenericBase[AddInputs]):
    pass


def test_bases_to_subclass_are_abstract() -> None:
    assert GenericBase.spec.is_abstract
    assert AbstractBase.spec.is_abstract
    assert not Concrete.spec.is_abstract
    for base in (CommandBase, Command, AsyncCommand):
        assert base.spec.is_abstract, base


def test_loading_a_module_finds_its_commands_but_not_their_bases() -> None:
    module = types.ModuleType("app")
    module.__dict__.update(
        Command=Command,
        AsyncCommand=AsyncCommand,
        GenericBase=GenericBase,
        AbstractBase=AbstractBase,
        Concrete=Concrete,
    )
    assert commands_of(module) == [Concrete]


# --------------------------------------------------------------------------------------------
# What reads the spec agrees with it


def test_the_manifest_and_json_schema_say_what_the_spec_says() -> None:
    class Sub(Command[None, int]):
        possible_errors = ("out_of_stock",)

        def execute(self) -> int:
            return 1

    @command(domain="Math", organization="Acme")
    class Add(Command[AddInputs, int]):
        """Adds."""

        depends_on = (Sub,)
        possible_errors = ("overflow",)

        def execute(self) -> int:
            return self.inputs.a + self.inputs.b

    spec = Add.spec
    assert spec.inputs_node is not None and spec.result_node is not None
    assert inputs_json_schema(Add) == json_schema(spec.inputs_node)
    assert result_json_schema(Add) == json_schema(spec.result_node)
    assert sorted(inputs_json_schema(Add)["properties"]) == sorted(AddInputs.model_fields)

    entry = manifest(Add)["command"][spec.full_name]
    assert entry["inputs_type"] == spec.inputs_node.declaration()
    assert entry["result_type"] == spec.result_node.declaration()
    assert entry["description"] == spec.description == "Adds."
    assert entry["domain"] == spec.domain.full_name
    assert entry["depends_on"] == [c.spec.full_name for c in spec.depends_on] == ["Sub"]
    assert set(spec.possible_errors) <= set(entry["possible_errors"])
    assert f"{Sub.spec.runtime_name}>runtime.out_of_stock" in entry["possible_errors"]


# --------------------------------------------------------------------------------------------
# A command made from a spec (as remote commands will be)


def test_a_command_made_from_a_spec_is_what_the_spec_describes() -> None:
    from foobara_py import Domain, PossibleError, command_from_spec, manifest
    from foobara_py.registry import isolated

    class Numbers(BaseModel):
        a: int
        b: int = 0

    with isolated():
        shop = Domain("Shop", organization="Far")

        @shop.command
        class Sum(Command[Numbers, int]):
            """Adds two integers, somewhere else."""

            possible_errors = ("too_big", PossibleError("data.a.negative", message="A is negative"))
            is_query = True

            def execute(self) -> int:
                return self.inputs.a + self.inputs.b

        original = Sum.spec
        described = manifest(Sum)["command"]["Far::Shop::Sum"]

        def remote_execute(command: Any) -> int:
            if command.inputs.a > 100:
                command.add_runtime_error("too_big")
            return command.inputs.a * 1000 + command.inputs.b

        Remote = command_from_spec(original, remote_execute)

        spec = Remote.spec
        assert (spec.name, spec.full_name, spec.domain, spec.runtime_name) == (
            "Sum",
            "Far::Shop::Sum",
            shop,
            "far::shop::sum",
        )
        assert (spec.inputs_type, spec.result_type, spec.description, spec.is_query, spec.is_async) == (
            Numbers,
            int,
            "Adds two integers, somewhere else.",
            True,
            False,
        )
        assert dict(spec.possible_errors) == dict(original.possible_errors)
        assert manifest(Remote)["command"]["Far::Shop::Sum"] == described  # the same description
        assert Remote.run(a=1, b="2").unwrap() == 1002  # validated like any command, then its execute
        assert Remote.run(a="x").error_keys == ["data.a.cannot_cast"]
        assert Remote.run(a=101).error_keys == ["runtime.too_big"]


async def test_an_async_command_made_from_a_spec() -> None:
    from foobara_py import command_from_spec
    from foobara_py.registry import isolated

    class Named(BaseModel):
        name: str

    with isolated():

        class Greet(AsyncCommand[Named, str]):
            async def execute(self) -> str:
                return f"hi {self.inputs.name}"

        async def remote(command: Any) -> str:
            return f"hello {command.inputs.name}"

        Remote = command_from_spec(Greet.spec, remote)
        assert Remote.spec.is_async
        assert (await Remote.run(name="ada")).unwrap() == "hello ada"
        with pytest.raises(TypeError, match="must be an async def"):
            command_from_spec(Greet.spec, lambda command: "sync")
        with pytest.raises(TypeError, match="describes a base"):
            command_from_spec(AsyncCommand.spec, remote)
