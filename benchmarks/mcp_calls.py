"""MCP `tools/call` over streamable HTTP: the connector's `/mcp` against the SDK's own `MCPServer`.

Two uvicorn servers (subprocesses on 127.0.0.1 with the same options, see servers.py): the HTTP
connector's app (`Connector.asgi()`, its `/mcp`) with the tool `Add` (a Command), and the `mcp`
SDK's high-level `MCPServer` with a tool `add` doing the same work. The same client code (the
SDK's `Client`, one session per side and round, reused for every call) makes N sequential calls,
then the same N as `--concurrency` tasks sharing the session. The sides take turns over several
rounds; figures are medians over the rounds, the ratio is ours/SDK in time per call (the goal:
<= 1.5), and in the server's CPU time per sequential call (which a busy machine disturbs less). It
prints, never asserts.

    python benchmarks/mcp_calls.py [--calls 300] [--rounds 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from contextlib import ExitStack

import anyio
from mcp import Client
from mcp_types import CallToolResult

from servers import cpu_seconds, uvicorn_options, uvicorn_server

SIDES = {"connector": ("http_app", "Add"), "SDK MCPServer": ("mcp_sdk_app", "add")}
ARGUMENTS = {"a": 1, "b": 2}


def check(result: CallToolResult) -> None:
    if result.is_error or result.structured_content != {"result": 3}:
        sys.exit(f"unexpected result: {result!r}")


async def timed_calls(url: str, pid: int, tool: str, calls: int, concurrency: int) -> tuple[float, float, float]:
    """Seconds per call: sequential, then `concurrency` tasks at a time, on one session; and the
    server's CPU seconds per sequential call (a figure a busy machine disturbs less)."""
    async with Client(url) as client:
        for _ in range(20):  # warm up
            check(await client.call_tool(tool, ARGUMENTS))
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        for _ in range(calls):
            check(await client.call_tool(tool, ARGUMENTS))
        sequential = (time.perf_counter() - started) / calls
        cpu_after = cpu_seconds(pid)
        cpu = (cpu_after - cpu_before) / calls if cpu_before is not None and cpu_after is not None else math.nan

        async def worker(count: int) -> None:
            for _ in range(count):
                check(await client.call_tool(tool, ARGUMENTS))

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for _ in range(concurrency):
                group.start_soon(worker, calls // concurrency)
        concurrent = (time.perf_counter() - started) / (calls // concurrency * concurrency)
    return sequential, concurrent, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(f"uvicorn {' '.join(uvicorn_options())}; {args.calls} calls per side and round")
    results: dict[str, list[tuple[float, float, float]]] = {side: [] for side in SIDES}
    with ExitStack() as stack:
        servers = {
            side: stack.enter_context(uvicorn_server(app, ready_path="/mcp")) for side, (app, _) in SIDES.items()
        }
        for round_number in range(args.rounds):
            order = list(SIDES) if round_number % 2 == 0 else list(reversed(SIDES))
            for side in order:
                tool = SIDES[side][1]
                url, pid = servers[side]
                results[side].append(anyio.run(timed_calls, url + "/mcp", pid, tool, args.calls, args.concurrency))
            print(f"round {round_number + 1}: " + ", ".join(f"{s} {1 / results[s][-1][0]:.0f} calls/s" for s in SIDES))
    print(f"\n{'side':14} {'sequential':>16} {f'{args.concurrency} concurrent':>16} {'server CPU':>16}")
    for side, runs in results.items():
        sequential, concurrent, cpu = (statistics.median(run[index] for run in runs) for index in range(3))
        print(f"{side:14} {1 / sequential:10.0f} call/s {1 / concurrent:10.0f} call/s {cpu * 1e6:10.0f} us/call")
    print()
    ours, sdk = results["connector"], results["SDK MCPServer"]
    kinds = ["wall time, sequential", f"wall time, {args.concurrency} concurrent", "server CPU, sequential"]
    for index, kind in enumerate(kinds):
        ratios = [o[index] / s[index] for o, s in zip(ours, sdk, strict=True)]
        spread = f"rounds {min(ratios):.2f}..{max(ratios):.2f}"
        print(f"connector/SDK per call, {kind:23} {statistics.median(ratios):.2f}x ({spread}; goal <= 1.5x)")


if __name__ == "__main__":
    main()
