"""PostgreSQL's connection pool pings a connection only when it has been idle a while, and
replaces connections that died meanwhile (a restarted PostgreSQL) without failing the request
that takes one."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from assembly import db
from assembly.settings import Settings, normalise_database_url
from tests.conftest import TEST_DB_URL, need_service, reachable

pytestmark = pytest.mark.postgres

PG_URL = os.environ.get("ASSEMBLY_TEST_SCALEOUT_DATABASE_URL") or TEST_DB_URL or ""


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    """A pooled engine as `assembly serve` makes one (tests otherwise run without a pool).
    It only reads and ends its own connections, so it may share the tests' database."""
    if not PG_URL:
        need_service("PostgreSQL", "set ASSEMBLY_TEST_DATABASE_URL (make test sets it)")
    if not reachable(PG_URL):
        need_service("PostgreSQL", f"nothing answers at {PG_URL}")
    made = db.create_engine(Settings(database_url=normalise_database_url(PG_URL)))
    yield made
    await made.dispose()


def count_pings(engine: AsyncEngine) -> list[object]:
    """Every ping the dialect sends, in order."""
    pings: list[object] = []
    original = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return original(dbapi_connection)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return pings


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        pid: int = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return pid


async def test_a_connection_given_back_a_moment_ago_is_not_pinged(engine: AsyncEngine) -> None:
    pings = count_pings(engine)
    first = await backend_pid(engine)  # a new connection: no ping either
    for _ in range(20):
        assert await backend_pid(engine) == first  # the same pooled connection each time
    assert pings == []


async def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = count_pings(engine)
    invalidated: list[object] = []
    event.listen(engine.sync_engine.pool, "invalidate", lambda *args: invalidated.append(args))
    first = await backend_pid(engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.05)
    await asyncio.sleep(0.1)
    assert await backend_pid(engine) == first  # idle: pinged, alive, kept
    assert len(pings) == 1 and invalidated == []

    # PostgreSQL ends the connection while it is idle in the pool (as a restart would).
    killer = db.create_engine(
        Settings(database_url=normalise_database_url(PG_URL), database_pool=False)
    )
    try:
        async with killer.connect() as conn:
            ended = await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            assert ended.scalar_one() is True
    finally:
        await killer.dispose()
    await asyncio.sleep(0.1)
    replaced = await backend_pid(engine)  # no error: the ping found it dead
    assert replaced != first
    assert len(pings) == 2 and len(invalidated) == 1
