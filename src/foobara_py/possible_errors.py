"""What a command or type may fail with, and which types that involves, as Ruby Foobara lists them.

Every error a command can report has an error class (Ruby's term; here a plain record): the
builtin ones (`cannot_cast`, `missing_required_attribute`, the email rules...), the ones a command
declares, and those its subcommands may report. `possible_errors_of_command` derives the full
list from a command's inputs type, declarations and subcommands; `types_depended_on` walks types
and error contexts the way Ruby's manifest does, so the two manifests agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from . import registry
from .error_catalogue import CONSTRAINTS, Constraint
from .errors import PathPart, PossibleError, error_key
from .naming import classify
from .persistence.entity import Entity
from .registry import GLOBAL_DOMAIN_NAME, GLOBAL_ORGANIZATION_NAME
from .types import EMAIL_ERROR_SYMBOLS, FieldSpec, TypeNode, node_for, node_for_model

if TYPE_CHECKING:
    from .command import CommandBase

__all__ = [
    "BUILTIN_TYPES",
    "ErrorClass",
    "PossibleErrorEntry",
    "association_paths",
    "possible_errors_of_command",
    "types_depended_on",
]

# Ruby Foobara's builtin types: name -> (base type, the Python classes they hold).
BUILTIN_TYPES: dict[str, tuple[str | None, list[str] | None]] = {
    "duck": (None, ["object"]),
    "atomic_duck": ("duck", ["object"]),
    "symbol": ("atomic_duck", ["str"]),
    "number": ("atomic_duck", ["object"]),
    "integer": ("number", ["int"]),
    "float": ("number", ["float"]),
    "big_decimal": ("number", ["decimal.Decimal"]),
    "string": ("atomic_duck", ["str"]),
    "date": ("atomic_duck", ["datetime.date"]),
    "datetime": ("atomic_duck", ["datetime.datetime"]),
    "boolean": ("atomic_duck", ["bool"]),
    "email": ("string", ["str"]),
    "duckture": ("duck", ["object"]),
    "array": ("duckture", ["list"]),
    "tuple": ("array", ["tuple"]),
    "associative_array": ("duckture", ["dict"]),
    "attributes": ("associative_array", None),
    "model": ("atomic_duck", None),
    "detached_entity": ("model", None),
    "entity": ("detached_entity", None),
}


def attributes_node(elements: Mapping[str, TypeNode | str]) -> TypeNode:
    """An attributes type with no required attributes (the shape of every error context)."""
    fields = {
        name: FieldSpec(name=name, node=TypeNode(type=node) if isinstance(node, str) else node, required=False)
        for name, node in elements.items()
    }
    return TypeNode(type="attributes", fields=fields)


def _array_of(type_name: str) -> TypeNode:
    return TypeNode(type="array", element=TypeNode(type=type_name))


@dataclass(eq=False)
class ErrorClass:
    """An error's manifest entry: what Ruby Foobara calls its error class."""

    reference: str
    symbol: str
    category: str
    context: TypeNode | None
    is_fatal: bool = False
    base_error: str | None = None
    parent: tuple[str, str] = ("domain", GLOBAL_DOMAIN_NAME)
    domain: str = GLOBAL_DOMAIN_NAME
    organization: str = GLOBAL_ORGANIZATION_NAME
    scoped_path: list[str] = field(default_factory=list)
    scoped_prefix: list[str] | None = None
    full_path: list[str] = field(default_factory=list)
    error_class: str = ""
    abstract: bool = False
    message: str | None = None

    def context_declaration(self) -> Any:
        return self.context.declaration() if self.context is not None else None


def _builtin(
    reference: str,
    symbol: str,
    context: TypeNode | None,
    *,
    full_path: list[str],
    scoped_path: list[str] | None = None,
    prefix: list[str] | None = None,
    parent: tuple[str, str] = ("domain", GLOBAL_DOMAIN_NAME),
    error_class: str | None = None,
    is_fatal: bool = False,
    category: str = "data",
    base_error: str | None = "Foobara::Value::DataError",
) -> ErrorClass:
    return ErrorClass(
        reference=reference,
        symbol=symbol,
        category=category,
        context=context,
        is_fatal=is_fatal,
        base_error=base_error,
        parent=parent,
        scoped_path=scoped_path or [full_path[-1]],
        scoped_prefix=prefix,
        full_path=full_path,
        error_class=error_class or reference,
    )


def _type_error(type_name: str, kind: str, processor: str, symbol: str, context: TypeNode, **kwargs: Any) -> ErrorClass:
    """An error of one of a builtin type's processors (`attributes::SupportedValidators::...`)."""
    name = f"{classify(symbol)}Error"
    path = [type_name, kind, processor, name]
    ruby_type = "".join(classify(part) for part in type_name.split("_"))
    return _builtin(
        "::".join(path),
        symbol,
        context,
        full_path=path,
        parent=("type", type_name),
        error_class=f"Foobara::BuiltinTypes::{ruby_type}::{kind}::{processor}::{name}",
        **kwargs,
    )


DATA_ERROR = _builtin(
    "Foobara::Value::DataError",
    "data",
    attributes_node({"attribute_name": "symbol", "value": "duck"}),
    full_path=["Foobara", "Value", "DataError"],
    scoped_path=["Foobara", "Value", "DataError"],
    prefix=["Foobara", "Value"],
    base_error=None,
)
RUNTIME_ERROR = ErrorClass(
    reference="Foobara::RuntimeError",
    symbol="runtime",
    category="runtime",
    context=None,
    is_fatal=True,
    parent=("organization", "Foobara"),
    scoped_path=["RuntimeError"],
    full_path=["Foobara", "RuntimeError"],
    error_class="Foobara::RuntimeError",
    abstract=True,
)
CANNOT_CAST = _builtin(
    "Foobara::Value::Processor::Casting::CannotCastError",
    "cannot_cast",
    attributes_node({"cast_to": "duck", "value": "duck", "attribute_name": "symbol"}),
    full_path=["Foobara", "Value", "Processor", "Casting", "CannotCastError"],
    scoped_path=["Foobara", "Value", "Processor", "Casting", "CannotCastError"],
    prefix=["Foobara", "Value", "Processor", "Casting"],
    is_fatal=True,
)
MISSING_REQUIRED = _type_error(
    "attributes", "SupportedValidators", "Required", "missing_required_attribute",
    attributes_node({"attribute_name": "symbol"}), is_fatal=True,
)  # fmt: skip
UNEXPECTED = _type_error(
    "attributes", "SupportedProcessors", "ElementTypeDeclarations", "unexpected_attributes",
    attributes_node({"unexpected_attributes": _array_of("symbol"), "allowed_attributes": _array_of("symbol")}),
    is_fatal=True,
)  # fmt: skip
EMAIL_ERRORS = {
    symbol: _type_error(
        "email", "Validators", classify(symbol), symbol,
        attributes_node({"value": "duck", "regex": "duck", "negate_regex": "duck"}),
    )
    for symbol in EMAIL_ERROR_SYMBOLS
}  # fmt: skip
VALUE_NOT_VALID = _type_error(
    "duck", "SupportedValidators", "OneOf", "value_not_valid",
    attributes_node({"value": "duck", "valid_values": _array_of("duck")}),
)  # fmt: skip
INCORRECT_TUPLE_SIZE = _type_error(
    "array", "SupportedValidators", "Size", "incorrect_tuple_size",
    attributes_node({"expected_size": "integer", "actual_size": "integer", "value": "array"}),
)  # fmt: skip

# Ruby's base class of a command's not_found errors (one subclass per entity input path).
NOT_FOUND_CONTEXT = attributes_node({"entity_class": "string", "criteria": "duck", "data_path": "string"})
ENTITY_NOT_FOUND = _builtin(
    "Foobara::Entity::NotFoundError",
    "not_found",
    NOT_FOUND_CONTEXT,
    full_path=["Foobara", "Entity", "NotFoundError"],
    scoped_path=["Foobara", "Entity", "NotFoundError"],
    prefix=["Foobara", "Entity"],
)


def _constraint_error(constraint: Constraint) -> ErrorClass:
    context = attributes_node({"value": constraint.value_type, constraint.context_key: constraint.context_type})
    return _type_error(constraint.value_type, "SupportedValidators", constraint.processor, constraint.symbol, context)


# A declaration's constraint -> the error class of the check it adds.
CONSTRAINT_ERRORS = {name: _constraint_error(constraint) for name, constraint in CONSTRAINTS.items()}


class PossibleErrorEntry:
    """One key a command (or type) may report, and the error class behind it."""

    __slots__ = ("category", "error", "key", "manually_added", "path", "runtime_path", "symbol")

    def __init__(
        self,
        category: str,
        symbol: str,
        path: tuple[PathPart, ...],
        error: ErrorClass,
        runtime_path: tuple[str, ...] = (),
        key: str | None = None,
        manually_added: bool = False,
    ) -> None:
        self.category = category
        self.symbol = symbol
        self.path = path
        self.error = error
        self.runtime_path = runtime_path
        self.key = key or error_key(category, symbol, path, runtime_path)
        # Ruby marks the errors a command adds itself (not_found, from loading records) this way.
        self.manually_added = manually_added

    def prefixed(self, runtime_name: str) -> PossibleErrorEntry:
        """The entry as the command running this one as a subcommand sees it."""
        return PossibleErrorEntry(
            self.category, self.symbol, self.path, self.error, (runtime_name, *self.runtime_path),
            f"{runtime_name}>{self.key}", self.manually_added,
        )  # fmt: skip

    def manifest(self) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if self.path:
            entry["path"] = list(self.path)
        if self.runtime_path:
            entry["runtime_path"] = list(self.runtime_path)
        entry["category"] = self.category
        entry["symbol"] = self.symbol
        entry["key"] = self.key
        entry["error"] = self.error.reference
        if self.manually_added:
            entry["manually_added"] = True
        return entry


def _entry(error: ErrorClass, path: tuple[PathPart, ...]) -> PossibleErrorEntry:
    return PossibleErrorEntry(error.category, error.symbol, path, error)


def own_errors(node: TypeNode, *, remove_sensitive: bool = True) -> list[ErrorClass]:
    """The error classes of a type's own checks (not those of its attributes or elements)."""
    errors = [CANNOT_CAST]
    if node.fields is not None:
        errors.append(UNEXPECTED)
        if any(spec.required for spec in node.visible_fields(remove_sensitive).values()):
            errors.append(MISSING_REQUIRED)
    if node.elements is not None:
        errors.append(INCORRECT_TUPLE_SIZE)
    if node.one_of is not None:
        errors.append(VALUE_NOT_VALID)
    errors.extend(CONSTRAINT_ERRORS[name] for name in node.constraints if name in CONSTRAINT_ERRORS)
    if node.type == "email":
        errors.extend(EMAIL_ERRORS.values())
    return errors


def errors_of_type(node: TypeNode, path: tuple[PathPart, ...] = ()) -> list[PossibleErrorEntry]:
    """Every error a value of this type may get, at every path inside it (`#` for any index).

    An entity gets `cannot_cast` only, as in Ruby: a value for it is a primary key (a missing
    record is the command's `not_found`), not attributes checked one by one. A model inside
    itself (`children: list["Node"]`) lists its own errors where it recurs, not again those of
    its attributes: they are the outer occurrence's, and the paths would never end.
    """
    entries: list[PossibleErrorEntry] = []
    _collect_errors(node, path, set(), entries)
    return entries


def _collect_errors(
    node: TypeNode, path: tuple[PathPart, ...], walking: set[int], entries: list[PossibleErrorEntry]
) -> None:
    if is_entity(node):
        entries.append(_entry(CANNOT_CAST, path))
        return
    entries.extend(_entry(error, path) for error in own_errors(node))
    if node.fields is not None:
        fields = id(node.fields)  # a registered model's occurrences share its fields
        if fields in walking:
            return
        walking.add(fields)
        for name, spec in node.visible_fields(True).items():
            if spec.required:
                entries.append(_entry(MISSING_REQUIRED, (*path, name)))
            _collect_errors(spec.node, (*path, name), walking, entries)
        walking.discard(fields)
    elif node.elements is not None:
        for index, element in enumerate(node.elements):
            _collect_errors(element, (*path, index), walking, entries)
    elif node.element is not None and node.type in ("array", "associative_array"):
        _collect_errors(node.element, (*path, "#"), walking, entries)


def is_entity(node: TypeNode) -> bool:
    """Whether the type holds records of an entity (the entity's own type, or a use of it)."""
    return isinstance(node.model, type) and issubclass(node.model, Entity)


def association_paths(node: TypeNode, *, remove_sensitive: bool = False) -> dict[tuple[PathPart, ...], type[Entity]]:
    """Where a type holds records of an entity, as Ruby's `construct_associations` finds them:
    every attribute, element (`#` for any index of a list) and tuple index down to the first
    entity on each path. An entity's own type starts from its attributes; another entity inside
    is a path, not walked into. Sensitive attributes are left out with `remove_sensitive`."""
    found: dict[tuple[PathPart, ...], type[Entity]] = {}
    walking: set[int] = set()

    def visit(item: TypeNode, path: tuple[PathPart, ...], initial: bool) -> None:
        if remove_sensitive and item.hidden:
            return
        if is_entity(item) and not initial:
            assert item.model is not None
            found.setdefault(path, item.model)  # type: ignore[arg-type]
            return
        if item.fields is not None:
            if id(item.fields) in walking:  # a model inside itself
                return
            walking.add(id(item.fields))
            for name, spec in item.visible_fields(remove_sensitive).items():
                visit(spec.node, (*path, name), False)
            walking.discard(id(item.fields))
        elif item.elements is not None:
            for index, element in enumerate(item.elements):
                visit(element, (*path, index), False)
        elif item.type == "array" and item.element is not None:
            visit(item.element, (*path, "#"), False)
        elif item.members is not None:
            for member in item.members:
                visit(member, path, False)

    visit(node, (), True)
    return found


def _not_found_error_class(command: type[CommandBase[Any, Any]], path: tuple[PathPart, ...]) -> ErrorClass:
    """The not_found error of one entity input, named by its path as Ruby names it
    (`book` -> `FindBook::BookNotFoundError`, `books.#` -> `BooksCollectionNotFoundError`)."""
    name = "".join("Collection" if part == "#" else classify(str(part)) for part in path) + "NotFoundError"
    spec = command.spec
    domain = spec.domain
    return ErrorClass(
        reference=f"{spec.full_name}::{name}",
        symbol="not_found",
        category="data",
        context=NOT_FOUND_CONTEXT,
        base_error=ENTITY_NOT_FOUND.reference,
        parent=("command", spec.full_name),
        domain=domain.full_name,
        organization=domain.organization_name,
        scoped_path=[name],
        full_path=[*spec.full_name.split("::"), name],
        error_class=f"{spec.full_name}::{name}",
    )


def _declared_error_class(command: type[CommandBase[Any, Any]], declared: PossibleError) -> ErrorClass:
    name = f"{classify(declared.symbol)}Error"
    spec = command.spec
    domain = spec.domain
    full_name = spec.full_name
    command_path = full_name.split("::")
    context = declared.context
    if context is None:
        context_node = attributes_node({})
    elif isinstance(context, type) and issubclass(context, BaseModel):
        context_node = node_for_model(context)
    else:
        context_node = attributes_node({key: node_for(kind) for key, kind in dict(context).items()})
    data = declared.category == "data"
    return ErrorClass(
        reference=f"{full_name}::{name}",
        symbol=declared.symbol,
        category=declared.category,
        context=context_node,
        base_error="Foobara::Value::DataError" if data else "Foobara::RuntimeError",
        parent=("command", full_name),
        domain=domain.full_name,
        organization=domain.organization_name,
        scoped_path=[name],
        full_path=[*command_path, name],
        error_class=f"{full_name}::{name}",
        message=declared.message,
    )


def possible_errors_of_command(
    command: type[CommandBase[Any, Any]],
    errors_of_subcommand: Any = None,
) -> list[PossibleErrorEntry]:
    """What the command may report: its inputs' errors, its declared errors, and its subcommands'
    (prefixed with their names), sorted by key. `errors_of_subcommand` gives a subcommand's
    list (a cache, for the manifest); by default it is computed."""
    errors_of_subcommand = errors_of_subcommand or possible_errors_of_command
    entries: dict[str, PossibleErrorEntry] = {}
    spec = command.spec
    node = spec.inputs_node
    inputs = errors_of_type(node) if node is not None else [_entry(CANNOT_CAST, ()), _entry(UNEXPECTED, ())]
    for entry in inputs:
        entries.setdefault(entry.key, entry)
    if node is not None:
        # Entity inputs are loaded before validate_records (persistence.unit.load_entity_inputs).
        for path in association_paths(node):
            error = _not_found_error_class(command, path)
            entry = PossibleErrorEntry("data", "not_found", path, error, manually_added=True)
            entries.setdefault(entry.key, entry)
    for declared in spec.possible_errors.values():
        error = _declared_error_class(command, declared)
        entry = PossibleErrorEntry(declared.category, declared.symbol, declared.path, error)
        entries.setdefault(entry.key, entry)
    for subcommand in sorted(spec.depends_on, key=lambda c: c.spec.full_name):
        for entry in errors_of_subcommand(subcommand):
            prefixed = entry.prefixed(subcommand.spec.runtime_name)
            entries.setdefault(prefixed.key, prefixed)
    return [entries[key] for key in sorted(entries)]


# --------------------------------------------------------------------------------------------
# Which registered types a type (or error) depends on, walked as Ruby Foobara walks them: down
# through anonymous types and error contexts, stopping at each registered type.


def _is_builtin_leaf(node: TypeNode) -> bool:
    """A node that is exactly a builtin type, with nothing of its own."""
    return node.reference is None and node.declaration() == node.type and node.type in BUILTIN_TYPES


def _registered_name(item: TypeNode | str) -> str | None:
    if isinstance(item, str):
        return item
    if item.reference is not None:
        return item.reference
    return item.type if _is_builtin_leaf(item) else None


def _registered_parts(name: str, remove_sensitive: bool) -> list[Any]:
    """What a registered type is made of: its base type, its own errors, its structure."""
    if name in BUILTIN_TYPES:
        base, _ = BUILTIN_TYPES[name]
        errors: list[ErrorClass] = [CANNOT_CAST]
        if name == "email":
            errors.extend(EMAIL_ERRORS.values())
        return [*([base] if base else []), *errors]
    registered = registry.current().type(name)
    if registered is None:
        return []
    if registered.kind in ("model", "entity"):
        return [registered.kind, CANNOT_CAST, registered.node]
    node = registered.node
    return [node.type, *own_errors(node, remove_sensitive=remove_sensitive), *_children(node, remove_sensitive)]


def _children(node: TypeNode, remove_sensitive: bool) -> list[TypeNode]:
    children: list[TypeNode] = []
    if node.fields is not None:
        children.extend(spec.node for spec in node.visible_fields(remove_sensitive).values())
    for child in (node.element, node.key):
        if child is not None and not (remove_sensitive and child.hidden):
            children.append(child)
    for group in (node.elements, node.members):
        if group is not None:
            children.extend(c for c in group if not (remove_sensitive and c.hidden))
    return children


def types_depended_on(start: TypeNode | str | ErrorClass, *, remove_sensitive: bool = False) -> set[str]:
    """The registered types (builtin names or full names) a type or error class depends on."""
    if isinstance(start, ErrorClass) and "_dependencies" in start.__dict__:
        return set(start.__dict__["_dependencies"])
    seen: set[int | str] = set()
    found: set[str] = set()

    def visit(item: TypeNode | str | ErrorClass, is_start: bool) -> None:
        if isinstance(item, ErrorClass):
            if id(item) in seen:
                return
            seen.add(id(item))
            known = item.__dict__.get("_dependencies")
            if known is not None and not is_start:  # an error's dependencies never change
                found.update(known)
            elif item.context is not None:
                visit(item.context, False)
            return
        name = _registered_name(item)
        marker: int | str = name if name is not None else id(item)
        if marker in seen:
            return
        seen.add(marker)
        if name is not None:
            found.add(name)
            if not is_start:
                return
            parts: Iterable[Any] = _registered_parts(name, remove_sensitive)
        else:
            assert isinstance(item, TypeNode)
            parts = [
                item.type,
                *own_errors(item, remove_sensitive=remove_sensitive),
                *_children(item, remove_sensitive),
            ]
        for part in parts:
            visit(part, False)

    visit(start, True)
    if isinstance(start, ErrorClass):
        start.__dict__["_dependencies"] = set(found)
    else:
        found.discard(_registered_name(start) or "")
    return found


def is_registered(node: TypeNode) -> bool:
    return _registered_name(node) is not None
