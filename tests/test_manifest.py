"""The manifest is Ruby Foobara's manifest: Acme::Math built in Python gives Ruby's entries.

Where a value must differ, `expected_from_ruby` applies the difference to Ruby's value, in one
place, with the reason; docs/differences.md lists the same differences.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from foobara_py import ManifestEntryNotFoundError, describe, manifest, manifest_json
from foobara_py.possible_errors import BUILTIN_TYPES
from tests import acme
from tests.conftest import load_fixture

CONNECTOR_ONLY_KEYS = {"serializers"}  # added by the HTTP connector (the connectors issue)


def expected_from_ruby(category: str, name: str, entry: dict[str, Any], *, connector: bool) -> dict[str, Any]:
    expected = copy.deepcopy(entry)
    if category == "type" and "target_classes" in expected and name in BUILTIN_TYPES:
        # Difference: target classes name Python classes, not Ruby's (`int` for `Integer`).
        expected["target_classes"] = BUILTIN_TYPES[name][1]
    optional_email = {"type": "email", "allow_nil": True}
    if name == "Acme::Math::User":
        # Difference: an optional attribute is `X | None = None` in Python, so it allows nil.
        for key in ("attributes_type",):
            expected[key]["element_type_declarations"]["email"] = optional_email
        expected["declaration_data"]["attributes_declaration"]["element_type_declarations"]["email"] = optional_email
    if name == "Acme::Math::CreateUser":
        expected["inputs_type"]["element_type_declarations"]["user"]["element_type_declarations"]["email"] = (
            optional_email
        )
        expected["result_type"]["element_type_declarations"]["email"] = optional_email
        expected["result_type"]["element_type_declarations"]["greeting"] = {"type": "string", "allow_nil": True}
    if connector and category == "command":
        for key in CONNECTOR_ONLY_KEYS:
            expected.pop(key, None)
        # Ruby's connector lists a registered result type's dependencies instead of the type itself
        # (a quirk of its transformed commands); the manifest of a command lists the type, as Ruby's
        # own Command.manifest does (foobara_manifest_full.json).
        full = load_fixture("ruby_acme", "foobara_manifest_full.json")["command"][name]
        expected["result_types_depended_on"] = full["result_types_depended_on"]
        expected["types_depended_on"] = full["types_depended_on"]
    return expected


def compare(ours: dict[str, Any], ruby: dict[str, Any], *, connector: bool) -> list[str]:
    problems = []
    for category, entries in ruby.items():
        for name, entry in entries.items():
            if name not in ours.get(category, {}):
                problems.append(f"{category} {name}: missing")
                continue
            expected = expected_from_ruby(category, name, entry, connector=connector)
            mine = ours[category][name]
            for key, value in expected.items():
                if key not in mine:
                    problems.append(f"{category} {name}: no {key}")
                elif mine[key] != value:
                    problems.append(f"{category} {name} {key}: {mine[key]!r} != {value!r}")
    return problems


def manifest_of_a_fresh_program(script: str) -> Any:
    """The manifest a program gets when nothing but its own code has registered anything."""
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    return completed.stdout


def test_the_whole_manifest_matches_rubys() -> None:
    ruby = load_fixture("ruby_acme", "foobara_manifest_full.json")
    ours = json.loads(manifest_of_a_fresh_program("import tests.acme, foobara_py; print(foobara_py.manifest_json())"))
    assert compare(ours, ruby, connector=False) == []
    for category in ruby:
        assert set(ours[category]) == set(ruby[category]), category


def test_the_manifest_of_the_acme_organization_matches_rubys_connector_manifest() -> None:
    ruby = load_fixture("ruby_acme", "manifest.json")
    ours = manifest(acme.acme)
    assert compare(ours, ruby, connector=True) == []
    # Only what the organization's commands refer to: no unused builtin type, no other command.
    for category in ruby:
        assert set(ours[category]) == set(ruby[category]), category


def test_single_entries_match_rubys() -> None:
    assert describe("Acme::Math::Add") == load_fixture("ruby_acme", "add_command_manifest.json")
    assert describe("Acme::Math") == load_fixture("ruby_acme", "domain_math_manifest.json")
    assert acme.Add.spec.inputs_node.declaration() == load_fixture("ruby_acme", "add_inputs_type_declaration.json")  # type: ignore[union-attr]


def test_possible_error_keys_match_rubys() -> None:
    for name, keys in load_fixture("ruby_acme", "possible_errors.json").items():
        assert sorted(describe(name, category="command")["possible_errors"]) == keys, name


def test_the_manifest_is_json_and_deterministic() -> None:
    text = manifest_json()
    assert json.loads(text) == manifest()
    assert manifest_json() == text
    script = "import tests.acme, foobara_py; print(foobara_py.manifest_json(tests.acme.acme))"
    runs = {manifest_of_a_fresh_program(script) for _ in range(2)}
    assert len(runs) == 1 and json.loads(runs.pop()) == manifest(acme.acme)


def test_the_manifest_is_cached_and_rebuilt_when_something_registers() -> None:
    from foobara_py import Command, Domain, registry

    outside = manifest()
    with registry.isolated(inherit=True):
        first = manifest()
        assert manifest() is first and first == outside
        late = Domain("Late", organization="Cached")

        @late.command
        class Arrive(Command[None, int]):
            def execute(self) -> int:
                return 1

        second = manifest()
        assert second is not first
        assert "Cached::Late::Arrive" in second["command"]
        assert "Cached::Late::Arrive" not in first["command"]
    # Back in the registry outside, the manifest is the one made for it.
    assert manifest() == outside and "Cached::Late::Arrive" not in manifest()["command"]


def test_unknown_names_get_a_clear_error() -> None:
    with pytest.raises(ManifestEntryNotFoundError, match=r"Acme::Math::Ad\b.*did you mean Acme::Math::Add"):
        describe("Acme::Math::Ad")
    with pytest.raises(ValueError, match="Unknown manifest category"):
        describe("Acme::Math::Add", category="commands")


def test_the_manifest_is_built_while_other_threads_register() -> None:
    """Regression: manifest() failed with "dictionary changed size during iteration"."""
    import sys
    import threading
    import types

    from foobara_py import Command, Domain, Model, registry

    failures: list[BaseException] = []

    def register(n: int) -> None:
        try:
            domain = Domain(f"Busy{n}", organization="Threads")
            for i in range(150):
                model = types.new_class(
                    f"Thing{n}x{i}", (Model,), exec_body=lambda ns: ns.update(__annotations__={"size": int})
                )
                command = types.new_class(
                    f"Make{n}x{i}", (Command[None, model],), exec_body=lambda ns: ns.update(execute=lambda self: None)
                )
                domain.command(command)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows at once
    try:
        with registry.isolated():
            threads = [threading.Thread(target=register, args=(n,)) for n in range(3)]
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                manifest()
                manifest(remove_sensitive=True)
            for thread in threads:
                thread.join()
            assert failures == []
            final = manifest()
            assert sum(name.startswith("Threads::Busy") for name in final["command"]) == 450
            assert sum(name.startswith("Thing") for name in final["type"]) == 450
    finally:
        sys.setswitchinterval(interval)


def test_a_model_that_refers_to_itself_is_declared_by_name_with_its_own_entry() -> None:
    from foobara_py import Command, Domain, Model, registry

    with registry.isolated():
        trees = Domain("Trees", organization="Forest")

        @trees.model
        class Node(Model):
            label: str
            children: list[Node] = []

        class GrowInputs(Model):
            root: Node

        @trees.command
        class Grow(Command[GrowInputs, Node]):
            def execute(self) -> Node:
                return self.inputs.root

        entry = describe("Forest::Trees::Node", category="type")
        declared = entry["declaration_data"]["attributes_declaration"]
        assert declared["element_type_declarations"]["children"] == {
            "type": "array",
            "element_type_declaration": "Forest::Trees::Node",
        }
        assert entry["attributes_type"] == declared
        assert "Forest::Trees::Node" not in entry["types_depended_on"]
        command = describe("Forest::Trees::Grow", category="command")
        assert command["inputs_type"]["element_type_declarations"] == {"root": "Forest::Trees::Node"}
        assert command["result_type"] == "Forest::Trees::Node"
        assert "Forest::Trees::Node" in command["types_depended_on"]
        # The possible errors stop where the model recurs: its own errors there, not its attributes' again.
        errors = set(command["possible_errors"])
        assert {"data.root.label.cannot_cast", "data.root.children.#.cannot_cast"} <= errors
        assert not any(key.startswith("data.root.children.#.label") for key in errors)
        assert describe("Forest::Trees", category="domain")["types"] == ["Forest::Trees::Node"]
        assert json.loads(manifest_json()) == manifest()
