"""A standby server's API: every request goes to the lease holder, answered as it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from conveyor.api.ha import FORWARDED_BY, Forwarder, Leadership
from conveyor.settings import Settings
from conveyor.store import Database, open_database
from conveyor.store.leadership import LeaseKeeper
from conveyor.store.leases import LOCAL_SHARD, LeaseStore
from support.clock import ManualClock

HOLDER_URL = "http://holder.invalid:8600"


def holder_app() -> FastAPI:
    """What the lease holder answers: the request as it arrived."""
    app = FastAPI()

    @app.api_route("/api/v1/{rest:path}", methods=["GET", "POST", "DELETE"])
    async def echo(request: Request, rest: str) -> Any:
        return {
            "method": request.method,
            "path": rest,
            "query": request.url.query,
            "auth": request.headers.get("authorization"),
            "body": (await request.body()).decode(),
        }

    @app.get("/api/v1-stream")
    async def stream() -> StreamingResponse:
        async def lines() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"data: {n}\n\n".encode()

        return StreamingResponse(lines(), media_type="text/event-stream")

    return app


def standby_app(leadership: Leadership) -> FastAPI:
    app = FastAPI()
    app.add_middleware(Forwarder)
    app.state.leadership = leadership

    @app.get("/healthz")
    async def healthz() -> str:
        return "ok"

    @app.get("/api/v1/applications")
    async def mine() -> str:
        return "answered by the standby itself"

    return app


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await open_database(Settings.from_env(home=tmp_path))
    yield db
    await db.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 5, tzinfo=UTC))


async def standby(
    database: Database, clock: ManualClock, transport: httpx.AsyncBaseTransport
) -> tuple[Leadership, httpx.AsyncClient]:
    leases = LeaseStore(database, clock=clock)
    assert await leases.acquire(LOCAL_SHARD, "holder", HOLDER_URL, 10.0) is not None
    keeper = LeaseKeeper(leases, "standby", "http://standby", on_lost=lambda *_: None, clock=clock)
    assert await keeper.try_acquire(LOCAL_SHARD) is None  # a standby: it learns the holder
    leadership = Leadership(keeper, client=httpx.AsyncClient(transport=transport))
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=standby_app(leadership)), base_url="http://standby"
    )
    return leadership, client


async def test_a_standby_forwards_method_path_query_token_and_body(
    database: Database, clock: ManualClock
) -> None:
    _, client = await standby(database, clock, httpx.ASGITransport(app=holder_app()))
    async with client:
        answer = await client.post(
            "/api/v1/applications/web/sync?prune=true",
            json={"revision": "main"},
            headers={"Authorization": "Bearer secret-token"},
        )
        listed = await client.get("/api/v1/applications")
        health = await client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {
        "method": "POST",
        "path": "applications/web/sync",
        "query": "prune=true",
        "auth": "Bearer secret-token",
        "body": '{"revision":"main"}',
    }
    assert answer.headers[FORWARDED_BY] == "standby"
    assert listed.json()["path"] == "applications"  # not the standby's own route
    assert health.text == '"ok"' and FORWARDED_BY not in health.headers


async def test_a_stream_is_forwarded_as_it_comes(database: Database, clock: ManualClock) -> None:
    _, client = await standby(database, clock, httpx.ASGITransport(app=holder_app()))
    async with client, client.stream("GET", "/api/v1-stream") as response:
        body = b"".join([chunk async for chunk in response.aiter_bytes()])
    assert response.headers["content-type"].startswith("text/event-stream")
    assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"


async def test_without_a_live_holder_a_standby_answers_503_retry_after(
    database: Database, clock: ManualClock
) -> None:
    _, client = await standby(database, clock, httpx.ASGITransport(app=holder_app()))
    clock.advance(11)  # the holder stopped renewing: its lease ran out
    async with client:
        answer = await client.get("/api/v1/applications")
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert "no server holds the lease" in answer.json()["message"]


async def test_an_unreachable_holder_is_a_503_not_a_crash(
    database: Database, clock: ManualClock
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    _, client = await standby(database, clock, httpx.MockTransport(refuse))
    async with client:
        answer = await client.get("/api/v1/applications")
    assert answer.status_code == 503
    assert f"the lease holder at {HOLDER_URL} is unreachable" in answer.json()["message"]


async def test_the_holder_answers_its_own_requests(database: Database, clock: ManualClock) -> None:
    leadership, client = await standby(database, clock, httpx.ASGITransport(app=holder_app()))
    leadership.leading = True
    async with client:
        answer = await client.get("/api/v1/applications")
    assert answer.json() == "answered by the standby itself"
    assert FORWARDED_BY not in answer.headers
