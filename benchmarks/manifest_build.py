"""The manifest of 1,000 registered commands: built once, then served from the cache.

Prints the first build's time (the target is under 1 s), the cached call's time and their ratio,
and looking commands up by full name against a plain dict lookup (the ratio shows it is O(1)).

    python benchmarks/manifest_build.py
"""

from __future__ import annotations

import statistics
import time
import timeit
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

import foobara_py
from foobara_py import Command, Domain, Email, Organization, PossibleError, lookup_command

COMMANDS = 1000
DOMAINS = 10


class Address(BaseModel):
    street: str
    city: str
    zip: str = Field(max_length=10)


def define_commands() -> list[str]:
    org = Organization("Bench")
    names = []
    for d in range(DOMAINS):
        domain = Domain(f"Area{d}", organization=org)
        first: type[Command[Any, Any]] | None = None
        for c in range(COMMANDS // DOMAINS):
            inputs = create_model(
                f"Inputs{d}_{c}",
                name=(str, Field(description="who")),
                email=(Email | None, None),
                age=(int, Field(0, ge=0, le=150)),
                kind=(Literal["a", "b", "c"], "a"),
                address=(Address, ...),
                tags=(list[str], Field(default_factory=list)),
            )
            result = create_model(f"Result{d}_{c}", id=(int, ...), name=(str, ...))

            def execute(self: Any) -> Any:
                return {"id": 1, "name": self.inputs.name}

            namespace: dict[str, Any] = {
                "execute": execute,
                "__doc__": f"Command {c} of area {d}",
                "possible_errors": [PossibleError("not_allowed", message="Not allowed", context={"reason": str})],
            }
            if first is not None:
                namespace["depends_on"] = (first,)  # every command runs its domain's first one
            import types

            cls = types.new_class(
                f"Command{c}", (Command[inputs, result],), exec_body=lambda ns, n=namespace: ns.update(n)
            )
            domain.command(cls)
            names.append(cls.full_name())
            first = first or cls
    return names


def main() -> None:
    started = time.perf_counter()
    names = define_commands()
    defined = time.perf_counter() - started

    started = time.perf_counter()
    data = foobara_py.manifest()
    first = time.perf_counter() - started
    assert len([n for n in data["command"] if n.startswith("Bench::")]) == COMMANDS

    cached = statistics.median(timeit.repeat(foobara_py.manifest, number=1000, repeat=5)) / 1000

    registry = {name: name for name in names}
    lookups = statistics.median(timeit.repeat(lambda: [lookup_command(n) for n in names], number=20, repeat=5)) / 20
    dict_lookups = statistics.median(timeit.repeat(lambda: [registry[n] for n in names], number=20, repeat=5)) / 20

    print(f"defining {COMMANDS} commands: {defined:.2f}s")
    print(f"manifest() first build:   {first * 1000:8.1f} ms  (target: under 1000 ms)")
    print(f"manifest() from cache:    {cached * 1e6:8.2f} us  ({first / cached:,.0f}x faster)")
    print(
        f"lookup_command x{COMMANDS}:     {lookups * 1e6:8.1f} us  ({lookups / dict_lookups:.1f}x a plain dict lookup)"
    )


if __name__ == "__main__":
    main()
