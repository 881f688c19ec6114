"""The models and the migrations describe the same schema, on SQLite and on PostgreSQL, and
the migrations go down to an empty database and up again."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from assembly.db import alembic_config, head_revision, metadata
from assembly.models import import_all
from assembly.settings import Settings, normalise_database_url
from tests.conftest import SECRET, TEST_DB_URL

APPEND_ONLY_TRIGGERS = {
    "sqlite": {"credential_event_no_update", "credential_event_no_delete"},
    "postgresql": {"credential_event_no_change"},
}


def schema_differences(conn: Connection) -> list[Any]:
    import_all()
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def triggers(conn: Connection) -> set[str]:
    if conn.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    return set(conn.execute(text(sql)).scalars())


def describe(conn: Connection) -> dict[str, Any]:
    """What the database holds: tables, triggers, the revision and the differences."""
    return {
        "tables": set(inspect(conn).get_table_names()),
        "triggers": triggers(conn),
        "revision": MigrationContext.configure(conn).get_current_revision(),
        "differences": schema_differences(conn),
    }


async def inspect_database(url: str) -> dict[str, Any]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(describe)
    finally:
        await engine.dispose()


def test_the_migrations_have_a_single_head() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///unused.sqlite3", secret_key=SECRET)
    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    assert len(heads) == 1, f"the migrations branch: heads {heads}"


async def test_the_migrated_database_matches_the_models(settings: Settings) -> None:
    """`settings` points at the test database, which `alembic upgrade head` created."""
    state = await inspect_database(settings.database_url)
    import_all()
    assert state["differences"] == []
    assert state["revision"] == head_revision(settings)
    assert state["tables"] == set(metadata.tables) | {"alembic_version"}
    dialect = "sqlite" if settings.is_sqlite else "postgresql"
    assert APPEND_ONLY_TRIGGERS[dialect] <= state["triggers"]


def down_and_up(settings: Settings, dialect: str) -> None:
    """Upgrade a fresh database, downgrade it to nothing, upgrade again; check each state."""
    config = alembic_config(settings)
    import_all()
    every_table = set(metadata.tables) | {"alembic_version"}

    command.upgrade(config, "head")
    state = asyncio.run(inspect_database(settings.database_url))
    assert state["tables"] == every_table
    assert state["differences"] == []

    command.downgrade(config, "base")
    state = asyncio.run(inspect_database(settings.database_url))
    assert state["tables"] == {"alembic_version"}
    assert state["triggers"] == set()
    assert state["revision"] is None

    command.upgrade(config, "head")
    state = asyncio.run(inspect_database(settings.database_url))
    assert state["tables"] == every_table
    assert state["differences"] == []
    assert state["revision"] == head_revision(settings)
    assert APPEND_ONLY_TRIGGERS[dialect] <= state["triggers"]


def test_migrations_go_down_to_base_and_up_again_on_a_fresh_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}", secret_key=SECRET
    )
    down_and_up(settings, "sqlite")


async def _recreate_database(admin_url: str, name: str, *, drop_only: bool = False) -> None:
    engine = create_async_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            if not drop_only:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


@pytest.mark.skipif(
    not TEST_DB_URL, reason="runs in the PostgreSQL pass (set ASSEMBLY_TEST_DATABASE_URL)"
)
def test_migrations_go_down_to_base_and_up_again_on_a_fresh_postgresql_database() -> None:
    admin_url = normalise_database_url(TEST_DB_URL or "")
    parts = urlsplit(admin_url)
    scratch = f"{parts.path.lstrip('/') or 'postgres'}_migrations_{os.getpid()}"
    scratch_url = urlunsplit(parts._replace(path=f"/{scratch}"))
    asyncio.run(_recreate_database(admin_url, scratch))
    try:
        down_and_up(Settings(database_url=scratch_url, secret_key=SECRET), "postgresql")
    finally:
        asyncio.run(_recreate_database(admin_url, scratch, drop_only=True))
