"""A connection's transformers and serializers: what it does to the inputs before the command
runs, and to the outcome after (the result's functions and attributes, the errors' functions, the
atomic or aggregate serializer), and the documents that say so (the JSON Schemas of what a caller
sends and gets).

`connect()` compiles its `inputs=` and `result=` options into plans here, refusing names the
command does not have; the core's guarded run calls `prepared_inputs` and `finished_outcome`. Kept
apart from the core because none of it is about finding or running a command: it only reads a
connection's plans, and the core imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..errors import FoobaraError
from ..jsonable import to_json
from ..outcome import Outcome
from ..persistence.entity import Entity
from .calls import is_awaitable, unknown_error_outcome

if TYPE_CHECKING:
    from .calls import CommandClass, ConnectorRequest, InputSource, InputsTransformer, ResultTransformer, Settle
    from .core import Connection

__all__ = ["AGGREGATE_SERIALIZERS", "SERIALIZERS", "InputsPlan", "ResultPlan", "serialize"]


_RUBY_SERIALIZERS = "Foobara::CommandConnectors::Serializers::"
# What Ruby's connectors list in a command's `serializers` by default; Ruby tools (its remote
# commands, TypeScript generators) read these names to know how results are written.
SERIALIZERS = (
    f"{_RUBY_SERIALIZERS}ErrorsSerializer",
    f"{_RUBY_SERIALIZERS}AtomicSerializer",
    f"{_RUBY_SERIALIZERS}JsonSerializer",
)
# What Ruby lists for `aggregate_entities: true`, which loads the records before the commit as
# ours does (its `serializers: [AggregateSerializer]` alone loads them after, and fails).
AGGREGATE_SERIALIZERS = (
    f"{_RUBY_SERIALIZERS}ErrorsSerializer",
    f"{_RUBY_SERIALIZERS}JsonSerializer",
    f"{_RUBY_SERIALIZERS}AggregateSerializer",
)


def serialize(outcome: Outcome[Any]) -> Any:
    """What a door sends for an outcome: the result as the connection's serializer wrote it (a
    connection's `run` gives an outcome whose result is already what the caller gets; a plain
    one, the command's result, written as Ruby's atomic serializer writes it: records inside
    models as their keys), or the array of error hashes (Ruby's errors serializer)."""
    data = outcome.to_dict()
    return data["result"] if data["success"] else data["errors"]


@dataclass(frozen=True, slots=True)
class InputsPlan:
    """A connection's inputs transformers, compiled when connecting."""

    allowed: tuple[str, ...] | None  # what a caller may send (declaration order); None: the command says
    hidden: frozenset[str]  # the attributes a caller may not send, by name and by alias (left out of documents)
    setters: tuple[tuple[str, InputSource], ...]  # keyed as a caller sends them (by alias)
    functions: tuple[InputsTransformer, ...]


@dataclass(frozen=True, slots=True)
class ResultPlan:
    """A connection's result transformers: functions of the result, then the attributes kept."""

    functions: tuple[ResultTransformer, ...]
    only: tuple[str, ...] | None
    reject: frozenset[str]


def kept_by(plan: ResultPlan, name: str) -> bool:
    return (plan.only is None or name in plan.only) and name not in plan.reject


# --- inputs transformers ---------------------------------------------------------------------


def inputs_plan(command: CommandClass, option: Any) -> InputsPlan | None:
    """`inputs=` compiled: the mappings' `only`, `reject` and `set` combined, the functions kept
    in order. Names that are not attributes of the command's inputs are refused now."""
    if option is None:
        return None
    node = command.spec.inputs_node
    names = _attribute_names(node)
    # What a caller sends for each attribute: its alias where it has one (the command takes no other).
    sent = {spec.name: spec.alias or spec.name for spec in node.fields.values()} if node and node.fields else {}
    only: list[str] | None = None
    reject: set[str] = set()
    setters: dict[str, InputSource] = {}
    functions: list[InputsTransformer] = []
    for item in _items(option):
        if callable(item):
            functions.append(item)
            continue
        _check_keys(item, {"only", "reject", "set"}, "inputs")
        if "only" in item:
            only = [n for n in _names(item["only"], names, command, "inputs", sent) if only is None or n in only]
        reject.update(_names(item.get("reject", ()), names, command, "inputs", sent))
        for name, source in dict(item.get("set", {})).items():
            (name,) = _names([name], names, command, "inputs", sent)
            if not callable(source):
                raise TypeError(f"inputs set {name!r}: give header(...), cookie(...) or a function of the request")
            setters[name] = source
    has_rules = only is not None or reject or setters
    allowed = None
    hidden: frozenset[str] = frozenset()
    if has_rules:
        kept = [n for n in names if (only is None or n in only) and n not in reject and n not in setters]
        allowed = tuple(sent[n] for n in kept)
        hidden = frozenset(n for name in names if name not in kept for n in (name, sent[name]))
    return InputsPlan(allowed, hidden, tuple((sent[n], source) for n, source in setters.items()), tuple(functions))


def prepared_inputs(
    connection: Connection, inputs: Mapping[str, Any], request: ConnectorRequest, settle: Settle
) -> Generator[Any, Any, dict[str, Any] | Outcome[Any]]:
    """The inputs the command gets: what the caller sent, checked against what the connection
    lets them send (`data.unexpected_attributes`, never a silent drop), then completed. Its
    sources and functions may be async: a lifecycle driver makes the calls it yields."""
    plan = connection.inputs
    if plan is None:
        return dict(inputs)
    if plan.allowed is not None:
        unexpected = [name for name in inputs if name not in plan.allowed]
        if unexpected:
            return Outcome.failure([_unexpected_attributes(unexpected, list(plan.allowed))])
    prepared = dict(inputs)
    try:
        for name, source in plan.setters:
            value = source(request)
            if is_awaitable(value):
                value = yield partial(settle, value)
            if value is not None:
                prepared[name] = value
        for function in plan.functions:
            value = function(prepared, request)
            prepared = dict((yield partial(settle, value)) if is_awaitable(value) else value)
    except Exception as exc:
        return unknown_error_outcome(connection, exc, prepared)
    return prepared


def _unexpected_attributes(names: list[str], allowed: list[str]) -> FoobaraError:
    """The error the command's own inputs give for attributes it does not take."""
    listed = ", ".join(f":{name}" for name in names)
    expected = ", ".join(f":{name}" for name in allowed)
    return FoobaraError(
        "unexpected_attributes",
        f"Unexpected attributes [{listed}]. Expected only [{expected}]",
        "data",
        context={"unexpected_attributes": names, "allowed_attributes": allowed},
        is_fatal=True,
    )


# --- after the run: result and errors transformers, serializers ------------------------------


def finished_outcome(
    connection: Connection, outcome: Outcome[Any], inputs: Mapping[str, Any], settle: Settle
) -> Generator[Any, Any, Outcome[Any]]:
    """The outcome the caller gets: a success as the connection serializes it (its result what
    the door sends), a failure with its errors transformed. Its functions may be async, as in
    `prepared_inputs`."""
    try:
        if outcome.is_failure():
            if not connection.errors:
                return outcome
            errors = outcome.errors
            for transform in connection.errors:
                value = transform(errors)
                errors = list((yield partial(settle, value)) if is_awaitable(value) else value)
            if not errors or not all(isinstance(error, FoobaraError) for error in errors):
                raise TypeError("an errors transformer must return at least one FoobaraError")
            return Outcome.failure(errors)
        if connection.result is None and not connection.aggregate:
            return outcome
        plan = connection.result
        if plan is not None and plan.functions:
            result = outcome.result
            for function in plan.functions:
                result = function(result)
                if is_awaitable(result):
                    result = yield partial(settle, result)
            outcome = Outcome(result)
        return Outcome(_body(connection, outcome))
    except Exception as exc:
        return unknown_error_outcome(connection, exc, inputs)


def _body(connection: Connection, outcome: Outcome[Any]) -> Any:
    plan = connection.result
    body = serialize(outcome)
    if connection.aggregate:
        body = _inlined(outcome.result, body, ())
    if plan is not None and isinstance(body, dict) and (plan.only is not None or plan.reject):
        body = {name: value for name, value in body.items() if kept_by(plan, name)}
    return body


def _inlined(value: Any, body: Any, within: tuple[int, ...]) -> Any:
    """The aggregate serializer: the atomic `body` of `value` with every loaded record written
    whole (its attributes, less the sensitive ones) where the atomic one writes its key. A record
    met again inside itself stays a key."""
    if isinstance(value, Entity):
        if not value.is_loaded or id(value) in within:
            return body
        attributes = body if isinstance(body, dict) else to_json(value)
        fields = value.__dict__
        inner = (*within, id(value))
        return {name: _inlined(fields.get(name), item, inner) for name, item in attributes.items()}
    if isinstance(value, BaseModel) and isinstance(body, dict):
        return {name: _inlined(value.__dict__.get(name), item, within) for name, item in body.items()}
    if isinstance(value, (list, tuple)) and isinstance(body, list) and len(value) == len(body):
        return [_inlined(v, b, within) for v, b in zip(value, body, strict=True)]
    if isinstance(value, dict) and isinstance(body, dict) and len(value) == len(body):
        return {k: _inlined(v, body[k], within) for (k, v) in zip(body, value.values(), strict=True)}
    return body


def result_plan(command: CommandClass, option: Any) -> ResultPlan | None:
    if option is None:
        return None
    node = command.spec.result_node
    functions: list[ResultTransformer] = []
    only: tuple[str, ...] | None = None
    reject: set[str] = set()
    for item in _items(option):
        if callable(item):
            functions.append(item)
            continue
        _check_keys(item, {"only", "reject"}, "result")
        if node is None or node.fields is None:
            raise TypeError(f"{command.full_name()}: result only/reject need a model or attributes result")
        names = _attribute_names(node)
        if "only" in item:
            only = tuple(_names(item["only"], names, command, "result"))
        reject.update(_names(item.get("reject", ()), names, command, "result"))
    return ResultPlan(tuple(functions), only, frozenset(reject))


# --- documents -------------------------------------------------------------------------------


def schema_without_properties(schema: dict[str, Any], drop: Callable[[str], bool]) -> dict[str, Any]:
    ours = dict(schema)
    ours["properties"] = {name: s for name, s in schema.get("properties", {}).items() if not drop(name)}
    if "required" in schema:
        ours["required"] = [name for name in schema["required"] if not drop(name)]
    return ours


def result_schema_without(schema: dict[str, Any], drop: Callable[[str], bool]) -> dict[str, Any]:
    """A result schema less some attributes: those of its object (which may be null), or of a
    record's attributes (its schema is its key or its attributes; a result is written as its
    attributes). A root that refers to a type (a record's, referring to itself) is that type,
    which stays whole in `$defs` for the references to it."""
    defs = schema.get("$defs")
    ref = schema.get("$ref")
    target = schema
    if isinstance(ref, str) and defs is not None and ref.removeprefix("#/$defs/") in defs:
        target = defs[ref.removeprefix("#/$defs/")]
    found = next((m for m in target.get("anyOf", ()) if _is_object(m)), None) if not _is_object(target) else target
    if found is None:
        return schema
    return schema_without_properties({**found, **({"$defs": defs} if defs is not None else {})}, drop)


def _is_object(schema: Any) -> bool:
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


# --- reading the options ---------------------------------------------------------------------


def _items(option: Any) -> list[Any]:
    """An option given as one mapping or function, or a list of them."""
    if callable(option) or isinstance(option, Mapping):
        return [option]
    return list(option)


def _check_keys(item: Any, known: set[str], option: str) -> None:
    if not isinstance(item, Mapping):
        raise TypeError(f"{option}= takes mappings and functions, not {item!r}")
    unknown = set(item) - known
    if unknown:
        raise ValueError(f"{option}= knows {', '.join(sorted(known))}, not {', '.join(sorted(unknown))}")


def _attribute_names(node: Any) -> list[str]:
    return list(node.fields) if node is not None and node.fields is not None else []


def _names(
    given: Any, names: list[str], command: CommandClass, option: str, sent: Mapping[str, str] | None = None
) -> list[str]:
    """The attributes named, by their names; `sent` (name to alias) lets an alias name one too."""
    listed: list[str] = [given] if isinstance(given, str) else [str(name) for name in given]
    if sent:
        by_alias = {alias: name for name, alias in sent.items()}
        listed = [name if name in names else by_alias.get(name, name) for name in listed]
    unknown = [name for name in listed if name not in names]
    if unknown:
        raise ValueError(
            f"{command.full_name()} has no {option} attribute {', '.join(map(repr, unknown))}"
            f" (it has {', '.join(names) or 'none'})"
        )
    return listed
