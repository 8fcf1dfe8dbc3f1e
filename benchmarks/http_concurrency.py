"""1,000 concurrent requests to an AsyncCommand that awaits 100 ms, on one uvicorn worker.

The server (a subprocess on 127.0.0.1, see servers.py) serves `POST /run/Nap` through the HTTP
connector, with uvicorn's `--backlog 2048` (its default, written out) so that 1,000 connections
opened at once queue rather than get refused. The client opens 1,000 asyncio connections at
once, each sending one request; the wall time runs from before the first connection to the last
response. It prints, never asserts (the goal: all 200, under 2 s).

    python benchmarks/http_concurrency.py [--requests 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from urllib.parse import urlsplit

from servers import uvicorn_options, uvicorn_server

BODY = b'{"a":1,"b":2}'
BACKLOG = 2048


async def one_request(host: str, port: int) -> int:
    """The status of one POST on its own connection (0 if it failed)."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
        request = (
            f"POST /run/Nap HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n"
        ).encode() + BODY
        writer.write(request)
        await writer.drain()
        response = await reader.read()
        writer.close()
        return int(response.split(b" ", 2)[1])
    except (OSError, ValueError, IndexError):
        return 0


async def burst(host: str, port: int, count: int) -> tuple[float, list[int]]:
    started = time.perf_counter()
    statuses = await asyncio.gather(*(one_request(host, port) for _ in range(count)))
    return time.perf_counter() - started, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.requests + 100
    if soft < wanted:  # the client holds one descriptor per connection
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    print(f"uvicorn {' '.join(uvicorn_options(BACKLOG))}")
    with uvicorn_server("http_app", backlog=BACKLOG) as (base, _):
        url = urlsplit(base)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        asyncio.run(burst(host, port, 10))  # warm up
        for round_number in range(args.rounds):
            wall, statuses = asyncio.run(burst(host, port, args.requests))
            ok = statuses.count(200)
            print(
                f"round {round_number + 1}: {args.requests} concurrent requests to an AsyncCommand awaiting 100 ms:"
                f" {wall:.2f} s wall time, {ok} answered 200 (goal: all, < 2 s)"
            )


if __name__ == "__main__":
    main()
