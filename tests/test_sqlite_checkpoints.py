"""The server's SQLite connections never checkpoint the write-ahead log in a commit (a vote's
opening or close waited for that); a background task checkpoints it instead."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import event, text

from assembly import db
from assembly.app import create_app
from assembly.settings import Settings
from tests.conftest import SECRET

ROWS = 6_000  # 6 MB of rows: beyond SQLite's own checkpoint mark (1,000 pages of 4 kB)


def size(path: Path) -> int:
    return path.stat().st_size


async def test_the_log_is_checkpointed_in_the_background_not_in_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints.sqlite3"
    engine = db.create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    db.checkpoints_in_background(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        for _ in range(ROWS // 500):  # in many commits, as a server makes them
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO t VALUES (:x)"), [{"x": os.urandom(512).hex()}] * 500
                )
        assert size(Path(f"{path}-wal")) > 5_000_000  # everything is still in the log...
        assert size(path) < 100_000  # ...and not in the database file

        monkeypatch.setattr(db, "CHECKPOINT_EVERY_S", 0.01)
        checkpointer = asyncio.create_task(db.checkpoint_wal(engine))
        try:
            for _ in range(500):
                if size(path) > 5_000_000:
                    break
                await asyncio.sleep(0.01)
        finally:
            checkpointer.cancel()
        assert size(path) > 5_000_000  # copied into the database file
        async with engine.connect() as conn:  # the connections' settings are as they were
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == ROWS
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None and driver.isolation_level is None
    finally:
        await engine.dispose()


def test_the_app_turns_sqlites_own_checkpoints_off_only_on_sqlite(tmp_path: Path) -> None:
    sqlite = create_app(
        Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.sqlite3'}", secret_key=SECRET),
        check_schema=False,
    )
    engine = sqlite.state.ctx.engine.sync_engine
    assert event.contains(engine, "connect", db._no_autocheckpoint)
    postgres = create_app(
        Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", secret_key=SECRET),
        check_schema=False,
    )
    engine = postgres.state.ctx.engine.sync_engine
    assert not event.contains(engine, "connect", db._no_autocheckpoint)
