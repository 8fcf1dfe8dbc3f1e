"""Requests per second through the HTTP connector, against bare Starlette on the same server.

One uvicorn worker (a subprocess on 127.0.0.1, see servers.py) serves both sides:
`POST /run/Add` (a Command, run in a worker thread) and `POST /run/AsyncAdd` (an AsyncCommand),
and the bare Starlette endpoints `POST /bare/add` and `POST /bare/async_add` doing the same
pydantic validation and the same work and returning the same JSON (both on the loop: the
connector's sync side pays for its thread hand-off). wrk (keep-alive, 32
connections, one thread, so that the server has the other core) posts `{"a":1,"b":2}`; the sides take
turns over several rounds, in an order that alternates, and each figure is the median over the
rounds (the ratio is the median of each round's ratio). The server's CPU time per request is
printed too: other processes on a busy machine disturb it less than req/s (though it does not see
time lost waiting, for a worker thread say). It prints, never asserts.

    python benchmarks/http_requests.py [--rounds 8] [--duration 4] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from servers import cpu_seconds, uvicorn_options, uvicorn_server

BODY = '{"a":1,"b":2}'
SIDES = {  # side: path
    "sync connector": "/run/Add",
    "sync bare": "/bare/add",
    "async connector": "/run/AsyncAdd",
    "async bare": "/bare/async_add",
}
PAIRS = [("sync", "sync connector", "sync bare"), ("async", "async connector", "async bare")]
LUA = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, script: Path, pid: int, *, duration: int, connections: int) -> dict[str, float]:
    """One wrk run: req/s, p50 and p99 in ms, the server's CPU time per request in us (a figure
    that other processes on the machine disturb less), and the count of failed requests."""
    cpu_before = cpu_seconds(pid)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    cpu_after = cpu_seconds(pid)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    latency = {p: float(v) * UNITS[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    failed = sum(int(n) for n in re.findall(r"(?:Non-2xx or 3xx responses|Socket errors:.*?timeout):?\s+(\d+)", out))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": latency["50"],
        "p99": latency["99"],
        "cpu": (cpu_after - cpu_before) / requests * 1e6 if cpu_before and cpu_after else math.nan,
        "failed": failed,
    }


def check(base: str) -> None:
    """Every side answers 200 with the same JSON before it is measured."""
    for side, path in SIDES.items():
        request = urllib.request.Request(base + path, BODY.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            status, body = response.status, json.loads(response.read())
        if (status, body) != (200, 3):
            sys.exit(f"{side} answered {status} {body!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    print(f"uvicorn {' '.join(uvicorn_options())}; wrk -t1 -c{args.connections} -d{args.duration}s, keep-alive")
    results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory() as tmp, uvicorn_server("http_app") as (base, pid):
        script = Path(tmp, "post.lua")
        script.write_text(LUA)
        check(base)
        for path in SIDES.values():  # warm up
            wrk(base + path, script, pid, duration=1, connections=args.connections)
        for round_number in range(args.rounds):
            order = list(SIDES) if round_number % 2 == 0 else list(reversed(SIDES))
            for side in order:
                run = wrk(base + SIDES[side], script, pid, duration=args.duration, connections=args.connections)
                results[side].append(run)
            print(f"round {round_number + 1}: " + ", ".join(f"{s} {results[s][-1]['rps']:.0f}" for s in SIDES))
    print(f"\n{'side':16} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11} {'failed':>7}")
    for side, runs in results.items():
        med = {key: statistics.median(run[key] for run in runs) for key in ("rps", "p50", "p99", "cpu")}
        failed = sum(run["failed"] for run in runs)
        print(f"{side:16} {med['rps']:8.0f} {med['p50']:8.2f} {med['p99']:8.2f} {med['cpu']:11.0f} {failed:7.0f}")
    print()
    for kind, ours, bare in PAIRS:
        ratios = [o["rps"] / b["rps"] for o, b in zip(results[ours], results[bare], strict=True)]
        spread = f"rounds {min(ratios):.2f}..{max(ratios):.2f}"
        cpu = statistics.median(b["cpu"] / o["cpu"] for o, b in zip(results[ours], results[bare], strict=True))
        print(
            f"{kind:5} connector/bare req/s: {statistics.median(ratios):.2f}x ({spread}; goal >= 0.80x);"
            f" bare/connector server CPU per request: {cpu:.2f}x"
        )


if __name__ == "__main__":
    main()
