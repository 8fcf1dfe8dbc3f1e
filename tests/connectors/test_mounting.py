"""The HTTP door mounted in a FastAPI app, served by uvicorn: the host's own routes and ours side by
side, under a prefix, with MCP's session manager run by the host's lifespan."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from mcp.client import Client

from foobara_py.connectors import Connector

from .. import acme
from .serving import serve


def fastapi_app() -> FastAPI:
    foobara = Connector(acme.math).asgi()
    app = FastAPI(lifespan=foobara.router.lifespan_context)  # runs /mcp's session manager

    @app.get("/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    app.mount("/foobara", foobara)
    return app


async def test_it_mounts_in_fastapi_with_mcp() -> None:
    with serve(fastapi_app()) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/hello")).json() == {"hello": "world"}
            assert (await client.post("/foobara/run/Acme::Math::Add", json={"a": 1, "b": 2})).json() == 3
            failed = await client.post("/foobara/run/Acme/Math/Add", json={"a": "x"})
            assert failed.status_code == 422 and failed.json()[0]["key"] == "data.a.cannot_cast"
            manifest = (await client.get("/foobara/manifest")).json()
            assert manifest["metadata"]["url"] == f"{url}/foobara/manifest"
            openapi = (await client.get("/foobara/openapi.json")).json()
            assert openapi["servers"] == [{"url": "/foobara"}]
            assert "/run/Acme::Math::Add" in openapi["paths"]
            # FastAPI's own document knows nothing of the mounted app, and keeps working.
            assert (await client.get("/openapi.json")).json()["paths"].keys() == {"/hello"}
        async with Client(f"{url}/foobara/mcp") as mcp:
            result = await mcp.call_tool("Acme.Math.Add", {"a": 2, "b": 3})
            assert not result.is_error and result.structured_content == {"result": 5}


async def test_stateless_mcp_answers_a_call_without_a_session() -> None:
    """What several workers behind a proxy need: any request stands alone."""
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "Acme.Math.Add", "arguments": {"a": 2}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    for stateless in (True, False):
        with serve(Connector(acme.math).asgi(mcp_stateless=stateless)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                response = await client.post("/mcp", json=call, headers=headers)
        if stateless:
            assert response.status_code == 200 and '"structuredContent":{"result":2}' in response.text
        else:  # a stateful server wants the session that `initialize` opens
            assert response.status_code == 400
