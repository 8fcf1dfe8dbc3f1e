"""The one registry: what registers where, its one version, isolated registries for tests, and
registering from several threads at once."""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from foobara_py import (
    GLOBAL_DOMAIN,
    GLOBAL_ORGANIZATION,
    Command,
    CommandNotFoundError,
    Domain,
    DomainMapper,
    Model,
    Organization,
    all_commands,
    find_mapper,
    lookup_command,
    manifest,
    registry,
)
from foobara_py.domain import find_domain


class Point(BaseModel):
    x: int


class Placed(BaseModel):
    at: int


def define_command(name: str, domain: Domain | None = None) -> type[Command[Any, Any]]:
    def execute(self: Any) -> str:
        return name

    cls: type[Command[Any, Any]] = types.new_class(
        name, (Command[None, str],), exec_body=lambda namespace: namespace.update(execute=execute)
    )
    if domain is not None:
        domain.command(cls)
    return cls


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[registry.Registry]:
    with registry.isolated() as inside:
        yield inside


def test_the_global_names_are_the_global_domains() -> None:
    assert GLOBAL_DOMAIN.full_name == registry.GLOBAL_DOMAIN_NAME == "global_organization::global_domain"
    assert GLOBAL_ORGANIZATION.full_name == registry.GLOBAL_ORGANIZATION_NAME == "global_organization"
    assert find_domain(registry.GLOBAL_DOMAIN_NAME) is GLOBAL_DOMAIN


def test_an_isolated_registry_starts_empty_and_is_dropped_after() -> None:
    outer = define_command("OuterCommand")
    assert lookup_command("OuterCommand") is outer
    with registry.isolated() as inside:
        assert registry.current() is inside
        assert all_commands() == []
        with pytest.raises(CommandNotFoundError):
            lookup_command("OuterCommand")
        # The global domain and organization work inside it.
        lonely = define_command("Lonely")
        assert lonely.domain() is GLOBAL_DOMAIN and lookup_command("Lonely") is lonely
        shop = Domain("Shop", organization="Inside")
        sell = define_command("Sell", shop)
        assert lookup_command("Inside::Shop::Sell") is sell
        assert shop.commands == [sell] and registry.current().organization("Inside") is not None
        assert set(manifest()["command"]) == {"Lonely", "Inside::Shop::Sell"}
    assert registry.current() is not inside
    assert lookup_command("OuterCommand") is outer
    with pytest.raises(CommandNotFoundError):
        lookup_command("Inside::Shop::Sell")
    assert registry.current().domain("Inside::Shop") is None
    assert set(manifest()["command"]) == {"OuterCommand"}


def test_an_inheriting_isolated_registry_starts_from_a_copy() -> None:
    outer = define_command("Kept")
    with registry.isolated(inherit=True):
        assert lookup_command("Kept") is outer
        added = define_command("AddedInside")
        assert lookup_command("AddedInside") is added
    assert lookup_command("Kept") is outer
    with pytest.raises(CommandNotFoundError):
        lookup_command("AddedInside")


def test_types_and_mappers_registered_inside_are_dropped_after() -> None:
    with registry.isolated():

        class Gadget(Model):
            name: str

        class PointToPlaced(DomainMapper[Point, Placed]):
            def map(self) -> Placed:
                return Placed(at=self.from_value.x)

        assert registry.current().type("Gadget") is not None
        assert "Gadget" in manifest()["type"]
        assert find_mapper(from_=Point(x=1), to=Placed) is PointToPlaced
    assert registry.current().type("Gadget") is None
    assert "Gadget" not in manifest()["type"]
    assert registry.current().mappers() == []


def test_every_kind_of_registration_changes_the_one_version() -> None:
    current = registry.current()
    seen = [current.version]

    def changed() -> bool:
        seen.append(current.version)
        return seen[-1] != seen[-2]

    org = Organization("Versioned")
    assert changed()
    domain = Domain("Things", organization=org)
    assert changed()
    define_command("Thing", domain)
    assert changed()

    class Widget(Model):
        size: int

    assert changed()
    domain.register_type("code", str)
    assert changed()

    class PointToPlaced(DomainMapper[Point, Placed]):
        def map(self) -> Placed:
            return Placed(at=self.from_value.x)

    assert changed()
    other = Domain("Other", organization=org)
    assert changed()
    domain.add_dependency(other)
    assert changed()


def test_the_manifest_is_rebuilt_when_a_type_registers() -> None:
    first = manifest()
    assert manifest() is first

    class Registered(Model):
        name: str

    second = manifest()
    assert second is not first and "Registered" in second["type"] and "Registered" not in first["type"]


def test_redefining_replaces_and_moving_leaves_the_old_name() -> None:
    first = define_command("Again")
    second = define_command("Again")
    assert lookup_command("Again") is second and all_commands() == [second]
    assert first is not second
    moved = define_command("Moving")
    assert lookup_command("Moving") is moved
    Domain("Elsewhere").command(moved)
    assert lookup_command("Elsewhere::Moving") is moved
    with pytest.raises(CommandNotFoundError):
        lookup_command("Moving")


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that races show in a short test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("busy_switching")
def test_threads_registering_at_once_lose_nothing() -> None:
    domains = [Domain(f"Area{n}", organization="Threads") for n in range(4)]
    failures: list[BaseException] = []

    def register(n: int) -> None:
        try:
            for i in range(100):
                define_command(f"Command{n}x{i}", domains[n] if i % 2 else None)
                all_commands()
                domains[n].commands  # noqa: B018 - reading while others register
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(all_commands()) == 400
    assert all(len(domain.commands) == 50 for domain in domains)
