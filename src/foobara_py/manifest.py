"""The manifest: every command, type, error, domain and organization, in Ruby Foobara's layout.

`manifest()` describes the whole registry (Ruby's `Foobara.manifest`). `manifest(Add, math)`
describes only what is given and what it refers to, as a command connector's `/manifest` does:
errors whose command is not there are re-parented to its domain. Either way the result is plain
JSON-ready data, the same for the same program, built once and served from a cache until
something new registers.
"""

from __future__ import annotations

import difflib
import gc
import json
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import registry
from .domain import GLOBAL_DOMAIN, Domain, Organization, find_domain
from .possible_errors import (
    BUILTIN_TYPES,
    DATA_ERROR,
    ENTITY_NOT_FOUND,
    RUNTIME_ERROR,
    ErrorClass,
    PossibleErrorEntry,
    association_paths,
    errors_of_type,
    is_registered,
    possible_errors_of_command,
    types_depended_on,
)
from .registry import GLOBAL_DOMAIN_NAME, GLOBAL_ORGANIZATION_NAME, Snapshot
from .types import RegisteredType, TypeNode

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = ["ManifestEntryNotFoundError", "describe", "manifest", "manifest_json"]

CATEGORIES = ("command", "domain", "error", "organization", "type")


class ManifestEntryNotFoundError(LookupError):
    """Nothing in the manifest has that name."""


# --------------------------------------------------------------------------------------------
# Per-command facts, cached per command until the registry changes.


@dataclass(frozen=True)
class CommandFacts:
    possible_errors: list[PossibleErrorEntry]
    inputs_types: set[str]
    result_types: set[str]
    errors_types: set[str]
    entity_types: set[str]  # `depends_on_entities`' types and theirs, as Ruby adds them

    @property
    def all_types(self) -> set[str]:
        return self.inputs_types | self.result_types | self.errors_types | self.entity_types


# Weak keys: a command class dropped by its program (a test's, say) takes its facts with it.
_facts: weakref.WeakKeyDictionary[type[CommandBase[Any, Any]], tuple[int, CommandFacts]] = weakref.WeakKeyDictionary()


def command_facts(command: type[CommandBase[Any, Any]]) -> CommandFacts:
    version = registry.current().version
    cached = _facts.get(command)
    if cached is not None and cached[0] == version:
        return cached[1]
    possible = possible_errors_of_command(command, lambda sub: command_facts(sub).possible_errors)
    spec = command.spec
    inputs_node = spec.inputs_node
    inputs_types = types_depended_on(inputs_node) if inputs_node is not None else set()
    result_node = spec.result_node
    if result_node is None:
        result_types: set[str] = set()
    elif is_registered(result_node):
        result_types = {result_node.reference or result_node.type}
    else:
        result_types = types_depended_on(result_node, remove_sensitive=True)
    errors_types: set[str] = set()
    for error in {id(entry.error): entry.error for entry in possible}.values():
        errors_types |= types_depended_on(error)
    entity_types: set[str] = set()
    for entity in command.depends_on_entities:
        registered = registry.current().model_type(entity)
        if registered is not None:
            entity_types |= {registered.full_name, *types_depended_on(registered.full_name)}
    facts = CommandFacts(possible, inputs_types, result_types, errors_types, entity_types)
    _facts[command] = (version, facts)
    return facts


# --------------------------------------------------------------------------------------------
# Scoped names


def _scoped(
    category: str,
    reference: str,
    full_path: list[str],
    scoped_path: list[str],
    prefix: list[str] | None,
    domain: str,
    organization: str,
    parent: tuple[str, str] | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "scoped_path": scoped_path,
        "scoped_name": "::".join(scoped_path) or None,
        "scoped_short_name": full_path[-1] if full_path else None,
        "scoped_prefix": prefix,
        "scoped_full_path": full_path,
        "scoped_full_name": "::".join(full_path),
        "scoped_category": category,
        "reference": reference,
        "domain": domain,
        "organization": organization,
    }
    if parent is not None:
        entry["parent"] = list(parent)
    return entry


# --------------------------------------------------------------------------------------------
# The builder


class _Builder:
    """Builds a manifest from one snapshot of the registry, so other threads may register meanwhile."""

    def __init__(self, snapshot: Snapshot, remove_sensitive: bool, full: bool) -> None:
        self.snapshot = snapshot
        self.remove_sensitive = remove_sensitive
        self.full = full
        self.commands: dict[str, type[CommandBase[Any, Any]]] = {}
        self.types: set[str] = set()
        self.errors: dict[str, ErrorClass] = {}
        self.domains: set[str] = set()
        self.organizations: set[str] = set()
        self._type_errors: dict[str, list[PossibleErrorEntry]] = {}

    # --- what to include ---------------------------------------------------------------

    def add_command(self, command: type[CommandBase[Any, Any]]) -> None:
        spec = command.spec
        if spec.full_name in self.commands:
            return
        self.commands[spec.full_name] = command
        self.add_domain(spec.domain)
        facts = command_facts(command)
        for name in facts.all_types:
            self.add_type(name)
        for entry in facts.possible_errors:
            self.add_error(entry.error)
        for subcommand in spec.depends_on:
            self.add_command(subcommand)

    def add_domain(self, domain: Domain) -> None:
        self.domains.add(domain.full_name)
        self.organizations.add(domain.organization_name)

    def add_type(self, name: str) -> None:
        if name in self.types:
            return
        self.types.add(name)
        registered = self.snapshot.types.get(name)
        self.add_domain(self.domain_of(registered.domain) if registered else GLOBAL_DOMAIN)
        for dependency in types_depended_on(name):  # the base type among them
            self.add_type(dependency)
        for entry in self.type_errors(name):
            self.add_error(entry.error)

    def add_error(self, error: ErrorClass) -> None:
        if error.reference in self.errors:
            return
        self.errors[error.reference] = error
        self.domains.add(error.domain)
        self.organizations.add(error.organization)
        for name in types_depended_on(error):
            self.add_type(name)
        base = _BASE_ERRORS.get(error.base_error or "")
        if base is not None:
            self.add_error(base)

    def type_errors(self, name: str) -> list[PossibleErrorEntry]:
        known = self._type_errors.get(name)
        if known is not None:
            return known
        registered = self.snapshot.types.get(name)
        node = registered.node if registered is not None else TypeNode(type=name)
        entries: dict[str, PossibleErrorEntry] = {}
        for entry in errors_of_type(node):
            entries.setdefault(entry.key, entry)
        result = self._type_errors[name] = [entries[key] for key in sorted(entries)]
        return result

    def entity_facts(self, registered: RegisteredType) -> dict[str, Any]:
        """An entity's associations (attribute path -> entity), and those of the entities they
        lead to (`author.publisher`), with the entities each list depends on; empty ones are left
        out, as Ruby leaves them out."""
        associations = self.associations_of(registered)
        deep: dict[str, str] = {}
        self.add_deep_associations(registered, "", deep, {registered.full_name})
        by_depth = sorted(deep, key=lambda path: (path.count(".") + 1, path))
        facts = {
            "depends_on": list(dict.fromkeys(associations.values())),
            "deep_depends_on": list(dict.fromkeys(deep[path] for path in by_depth)),
            "associations": dict(sorted(associations.items())),
            "deep_associations": dict(sorted(deep.items())),
        }
        return {key: value for key, value in facts.items() if value}

    def associations_of(self, registered: RegisteredType) -> dict[str, str]:
        paths = association_paths(registered.node, remove_sensitive=self.remove_sensitive)
        return {".".join(map(str, path)): entity.entity_name() for path, entity in paths.items()}

    def add_deep_associations(
        self, registered: RegisteredType, prefix: str, deep: dict[str, str], chain: set[str]
    ) -> None:
        for path, name in self.associations_of(registered).items():
            deep[prefix + path] = name
            target = self.snapshot.types.get(name)
            if target is not None and name not in chain:  # an entity that leads back to itself ends there
                self.add_deep_associations(target, f"{prefix}{path}.", deep, chain | {name})

    # --- names ---------------------------------------------------------------------------

    def domain_of(self, full_name: str) -> Domain:
        domain = self.snapshot.domains.get(full_name) or find_domain(full_name)
        if domain is None:
            raise LookupError(f"The domain {full_name} is not registered")
        return domain

    def type_domain(self, name: str) -> str:
        registered = self.snapshot.types.get(name)
        return registered.domain if registered is not None else GLOBAL_DOMAIN_NAME

    def organization_of_domain(self, name: str) -> str:
        if name == "Foobara::Value":
            return "Foobara"
        return self.domain_of(name).organization_name

    # --- entries -------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        return {
            "command": {name: self.command_entry(self.commands[name]) for name in sorted(self.commands)},
            "domain": {name: self.domain_entry(name) for name in sorted(self.domains)},
            "error": {name: self.error_entry(self.errors[name]) for name in sorted(self.errors)},
            "organization": {name: self.organization_entry(name) for name in sorted(self.organizations)},
            "type": {name: self.type_entry(name) for name in sorted(self.types)},
        }

    def command_entry(self, command: type[CommandBase[Any, Any]]) -> dict[str, Any]:
        spec = command.spec
        domain = spec.domain
        full_path = spec.full_name.split("::")
        entry = _scoped(
            "command", spec.full_name, full_path, [full_path[-1]], None,
            domain.full_name, domain.organization_name, ("domain", domain.full_name),
        )  # fmt: skip
        facts = command_facts(command)
        rs = self.remove_sensitive
        inputs = spec.inputs_node
        lists = {
            "types_depended_on": sorted(facts.all_types),
            "inputs_types_depended_on": sorted(facts.inputs_types),
            "result_types_depended_on": sorted(facts.result_types),
            "errors_types_depended_on": sorted(facts.errors_types),
            "possible_errors": {
                e.key: e.manifest() for e in facts.possible_errors if not (rs and _under_hidden(inputs, e))
            },
            "depends_on": sorted(c.spec.full_name for c in spec.depends_on),
        }
        entry.update({key: value for key, value in lists.items() if value})
        entry["inputs_type"] = (
            inputs.declaration(remove_sensitive=rs)
            if inputs is not None
            else {"type": "attributes", "element_type_declarations": {}}
        )
        entry["description"] = spec.description
        result = spec.result_node
        if result is not None:
            entry["result_type"] = result.declaration(remove_sensitive=rs)
        if spec.is_query:
            entry["is_query"] = True
        return entry

    def domain_entry(self, name: str) -> dict[str, Any]:
        if name == "Foobara::Value":
            return _FOOBARA_VALUE_DOMAIN
        domain = self.domain_of(name)
        if domain.is_global:
            entry = _scoped(
                "domain", name, [], [], [], name, GLOBAL_ORGANIZATION_NAME, ("organization", GLOBAL_ORGANIZATION_NAME)
            )
            entry["scoped_name"] = entry["scoped_short_name"] = None
        else:
            full_path = name.split("::")
            entry = _scoped(
                "domain", name, full_path, [domain.name], None, name, domain.organization_name,
                ("organization", domain.organization_name),
            )  # fmt: skip
        entry["commands"] = sorted(c for c, cls in self.commands.items() if cls.spec.domain.full_name == name)
        entry["types"] = sorted(t for t in self.types if self.type_domain(t) == name)
        dependencies = sorted(d.full_name for d in domain.dependencies)
        if dependencies:
            entry["depends_on"] = dependencies
        if domain.description:
            entry["description"] = domain.description
        return entry

    def organization_entry(self, name: str) -> dict[str, Any]:
        if name == "Foobara":
            return _FOOBARA_ORGANIZATION
        if name == GLOBAL_ORGANIZATION_NAME:
            entry = _scoped("organization", name, [], [], [], GLOBAL_DOMAIN_NAME, name, None)
        else:
            entry = _scoped("organization", name, [name], [name], None, GLOBAL_DOMAIN_NAME, name, None)
            organization = self.snapshot.organizations.get(name)
            if organization is not None and organization.description:
                entry["description"] = organization.description
        entry["domains"] = sorted(d for d in self.domains if self.organization_of_domain(d) == name)
        return entry

    def error_entry(self, error: ErrorClass) -> dict[str, Any]:
        scoped_path, prefix, parent = error.scoped_path, error.scoped_prefix, error.parent
        if error is RUNTIME_ERROR and not self.full:
            # Ruby re-scopes its base runtime error when the Foobara organization is not shown.
            scoped_path, prefix, parent = ["Foobara", "RuntimeError"], ["Foobara"], ("domain", GLOBAL_DOMAIN_NAME)
        if parent[0] == "command" and parent[1] not in self.commands:
            parent = ("domain", error.domain)
        entry = _scoped(
            "error", error.reference, error.full_path, scoped_path, prefix, error.domain, error.organization, parent
        )
        if not error.abstract:
            deps = sorted(types_depended_on(error))
            if deps:
                entry["types_depended_on"] = deps
        entry["category"] = error.category
        entry["symbol"] = error.symbol
        if error.context is not None:
            entry["context_type_declaration"] = error.context_declaration()
        entry["is_fatal"] = error.is_fatal
        entry["error_class"] = error.error_class
        if error.base_error:
            entry["base_error"] = error.base_error
        if error.abstract:
            entry["abstract"] = True
        if error.message:
            entry["message"] = error.message
        return entry

    def type_entry(self, name: str) -> dict[str, Any]:
        registered = self.snapshot.types.get(name)
        possible = {e.key: e.manifest() for e in self.type_errors(name)}
        if registered is None:
            base, target_classes = BUILTIN_TYPES[name]
            entry = _scoped("type", name, [name], [name], [], GLOBAL_DOMAIN_NAME, GLOBAL_ORGANIZATION_NAME,
                            ("domain", GLOBAL_DOMAIN_NAME))  # fmt: skip
            entry["declaration_data"] = name
            entry["possible_errors"] = possible
            entry["name"] = name
            if target_classes is not None:
                entry["target_classes"] = target_classes
            entry["types_depended_on"] = sorted(types_depended_on(name))
            entry["builtin"] = True
            entry["description"] = f"Built-in {name} type"
            entry["base_type"] = base
            return entry
        return self.registered_type_entry(registered, possible)

    def registered_type_entry(self, registered: RegisteredType, possible: dict[str, Any]) -> dict[str, Any]:
        full_path = registered.full_name.split("::")
        entry = _scoped(
            "type", registered.full_name, full_path, [registered.name], None,
            registered.domain, registered.organization, ("domain", registered.domain),
        )  # fmt: skip
        attributes = registered.node.inline_declaration(remove_sensitive=self.remove_sensitive)
        if registered.kind in ("model", "entity"):
            kind = registered.kind
            base_class = "Foobara::Entity" if kind == "entity" else "Foobara::Model"
            primary_key = registered.target.__primary_key__ if kind == "entity" else None
            if primary_key is not None:
                attributes = _with_plain_primary_key(attributes, primary_key)
            domain = self.domain_of(registered.domain)
            module = None if domain.is_global else domain.full_name
            entry["declaration_data"] = {
                "type": kind,
                "name": registered.name,
                "model_module": module,
                "model_class": registered.full_name,
                "model_base_class": base_class,
                "attributes_declaration": attributes,
            }
            if primary_key is not None:
                entry["declaration_data"]["primary_key"] = primary_key
            entry["possible_errors"] = possible
            entry["name"] = registered.name
            entry["target_classes"] = [registered.full_name]
            entry["types_depended_on"] = sorted(types_depended_on(registered.full_name))
            entry["description"] = registered.description
            entry["base_type"] = kind
            entry["attributes_type"] = attributes
            entry["organization_name"] = None if domain.organization.is_global else domain.organization_name
            entry["domain_name"] = None if domain.is_global else domain.name
            entry["model_name"] = registered.name
            entry["model_base_class"] = base_class
            entry["model_class"] = registered.full_name
            if primary_key is not None:
                entry.update(self.entity_facts(registered))
                entry["entity_name"] = registered.name
                entry["primary_key_attribute"] = primary_key
                entry["primary_key_type"] = attributes["element_type_declarations"][primary_key]
            return entry
        entry["declaration_data"] = attributes
        entry["possible_errors"] = possible
        entry["name"] = registered.name
        entry["types_depended_on"] = sorted(types_depended_on(registered.full_name))
        entry["description"] = registered.description
        entry["base_type"] = registered.node.type
        return entry


def _with_plain_primary_key(attributes: dict[str, Any], primary_key: str) -> dict[str, Any]:
    """The attributes declaration with the primary key declared as Ruby declares it: `id: int |
    None = None` is `integer` (not allow_nil), since None only means "let the store generate it"."""
    declarations = attributes["element_type_declarations"]
    declaration = declarations.get(primary_key)
    if not (isinstance(declaration, dict) and declaration.get("allow_nil")):
        return attributes
    plain = {key: value for key, value in declaration.items() if key != "allow_nil"}
    return {
        **attributes,
        "element_type_declarations": {
            **declarations,
            primary_key: plain["type"] if len(plain) == 1 else plain,
        },
    }


def _under_hidden(inputs: TypeNode | None, entry: PossibleErrorEntry) -> bool:
    """Whether an error sits at (or inside) an input a connector's manifest leaves out."""
    node = inputs
    for part in entry.path:
        if node is None or entry.runtime_path:
            return False
        if node.fields is not None:
            spec = node.fields.get(str(part))
            node = spec.node if spec else None
        elif node.elements is not None and isinstance(part, int) and part < len(node.elements):
            node = node.elements[part]
        else:
            node = node.element
        if node is not None and node.hidden:
            return True
    return False


_BASE_ERRORS = {error.reference: error for error in (DATA_ERROR, RUNTIME_ERROR, ENTITY_NOT_FOUND)}

_FOOBARA_VALUE_DOMAIN = {
    **_scoped(
        "domain",
        "Foobara::Value",
        ["Foobara", "Value"],
        ["Value"],
        None,
        "Foobara::Value",
        "Foobara",
        ("organization", "Foobara"),
    ),
    "types": [],
    "commands": [],
}
_FOOBARA_ORGANIZATION = {
    **_scoped("organization", "Foobara", ["Foobara"], ["Foobara"], None, GLOBAL_DOMAIN_NAME, "Foobara", None),
    "domains": ["Foobara::Value"],
}


# --------------------------------------------------------------------------------------------
# Public functions

_cache: dict[Any, dict[str, Any]] = {}


def _commands_in(root: Any, snapshot: Snapshot) -> list[type[CommandBase[Any, Any]]]:
    from .command import CommandBase

    if isinstance(root, type) and issubclass(root, CommandBase):
        return [root]
    if isinstance(root, Domain):
        return [c for c in snapshot.commands.values() if c.spec.domain.full_name == root.full_name]
    if isinstance(root, Organization):
        return [c for c in snapshot.commands.values() if c.spec.domain.organization_name == root.full_name]
    if isinstance(root, str):
        return [registry.current().command(root)]
    raise TypeError(f"manifest() takes commands, domains and organizations, not {root!r}")


def manifest(*roots: Any, remove_sensitive: bool = False) -> dict[str, Any]:
    """Ruby Foobara's manifest.

    With no arguments: everything registered. With commands, domains or organizations (or
    command names): those commands and everything they refer to, as a connector exposes them.
    `remove_sensitive=True` leaves out sensitive attributes not declared exposed. The result is
    cached until something registers; treat it as read-only.
    """
    current = registry.current()
    current.place_pending()
    cached = _cache.get((roots, remove_sensitive, current.version))
    if cached is not None:
        return cached
    snapshot = current.snapshot()
    collecting = gc.isenabled()
    gc.disable()  # a build makes many small dicts that can hold no cycles: skip the collector's passes
    try:
        result = _build(snapshot, roots, remove_sensitive)
    finally:
        if collecting:
            gc.enable()
    if len(_cache) > 64:
        _cache.clear()
    _cache[(roots, remove_sensitive, snapshot.version)] = result
    return result


def _build(snapshot: Snapshot, roots: tuple[Any, ...], remove_sensitive: bool) -> dict[str, Any]:
    builder = _Builder(snapshot, remove_sensitive, full=not roots)
    if roots:
        for root in roots:
            for command in _commands_in(root, snapshot):
                builder.add_command(command)
        builder.add_domain(GLOBAL_DOMAIN)
    else:
        for command in snapshot.commands.values():
            builder.add_command(command)
        for domain in [GLOBAL_DOMAIN, *snapshot.domains.values()]:
            builder.add_domain(domain)
        builder.organizations.update(snapshot.organizations)
        for name in [*BUILTIN_TYPES, *snapshot.types]:
            builder.add_type(name)
        builder.add_error(RUNTIME_ERROR)
        builder.add_error(DATA_ERROR)
        builder.domains.add("Foobara::Value")
        builder.organizations.add("Foobara")
    return builder.build()


def manifest_json(*roots: Any, remove_sensitive: bool = False, indent: int | None = 2) -> str:
    """The manifest as JSON with sorted keys: the same program gives the same bytes."""
    return json.dumps(manifest(*roots, remove_sensitive=remove_sensitive), sort_keys=True, indent=indent)


def describe(name: str, *roots: Any, category: str | None = None, remove_sensitive: bool = False) -> dict[str, Any]:
    """One manifest entry by full name (`Acme::Math::Add`, `integer`, `Acme::Math`...)."""
    data = manifest(*roots, remove_sensitive=remove_sensitive)
    categories = [category] if category else list(CATEGORIES)
    for kind in categories:
        if kind not in data:
            raise ValueError(f"Unknown manifest category {kind!r}; expected one of {', '.join(CATEGORIES)}")
        if name in data[kind]:
            return data[kind][name]  # type: ignore[no-any-return]
    known = [entry for kind in categories for entry in data[kind]]
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ManifestEntryNotFoundError(f"Nothing in the manifest is named {name!r}{hint}")
