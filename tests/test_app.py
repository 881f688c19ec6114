"""The foundation: health, the OpenAPI schema, and refusing an unmigrated database."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from assembly.app import create_app
from assembly.db import UnmigratedDatabase
from assembly.settings import Settings, SettingsError
from tests.conftest import SECRET, ClientFactory


async def test_health_reports_database_and_channels(
    make_client: ClientFactory, backend: str
) -> None:
    client = await make_client()
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "kind": backend}
    assert body["channels"] == {"status": "ok", "kind": "memory"}


async def test_openapi_documents_the_api_and_leaves_pages_out(make_client: ClientFactory) -> None:
    client = await make_client()
    schema = (await client.get("/schema/openapi.json")).json()
    paths = set(schema["paths"])
    assert "/api/assemblies/{assembly_id}/quorum" in paths
    assert "/api/nmos/{nmo_id}/voting-right" in paths
    assert all(p.startswith(("/api/", "/health")) for p in paths), sorted(paths)


async def test_server_refuses_an_unmigrated_database_and_says_what_to_run(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}", secret_key=SECRET
    )
    app = create_app(settings)
    caught: list[BaseException] = []
    try:
        async with AsyncTestClient(app=app):
            pass
    except* UnmigratedDatabase as group:
        caught.extend(group.exceptions)
    assert len(caught) == 1
    assert "has no schema yet" in str(caught[0])
    assert "Run `assembly migrate`" in str(caught[0])


def test_settings_read_the_environment_and_refuse_bad_values() -> None:
    s = Settings.from_env(
        {
            "ASSEMBLY_DATABASE_URL": "postgresql://u@db:5432/ga",
            "ASSEMBLY_REDIS_URL": "redis://r:6379/0",
            "ASSEMBLY_SECRET_KEY": "k" * 40,
        }
    )
    assert s.database_url == "postgresql+asyncpg://u@db:5432/ga"
    assert s.redis_url == "redis://r:6379/0"
    assert not s.ephemeral_secret
    default = Settings.from_env({})
    assert default.database_url.startswith("sqlite+aiosqlite:///var/")
    assert default.redis_url is None and default.ephemeral_secret
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env({"ASSEMBLY_SECRET_KEY": "short"})
    with pytest.raises(SettingsError, match="postgresql:// or sqlite:///"):
        Settings.from_env({"ASSEMBLY_DATABASE_URL": "mysql://x"})


def test_the_channel_prefix_is_the_postgresql_database_name_unless_set() -> None:
    pg = {"ASSEMBLY_DATABASE_URL": "postgresql://u@db:5432/ga2026"}
    assert Settings.from_env(pg).channel_prefix == "ga2026"
    assert Settings.from_env({**pg, "ASSEMBLY_CHANNEL_PREFIX": "spring"}).channel_prefix == "spring"
    assert Settings.from_env({**pg, "ASSEMBLY_CHANNEL_PREFIX": ""}).channel_prefix == ""
    assert Settings.from_env({}).channel_prefix == ""  # SQLite: one process


def test_a_server_process_tunes_its_garbage_collector_once_started() -> None:
    """`assembly serve` builds its app with create_server_app, which freezes what start-up
    made and collects the youngest generation less often (in a child process: the test
    process's own collector stays as it is)."""
    import subprocess
    import sys

    from assembly.app import GC_GEN0_THRESHOLD, create_server_app, tune_gc

    program = (
        "import gc; from assembly.app import tune_gc; "
        "before = gc.get_freeze_count(); tune_gc(); "
        "print(before, gc.get_freeze_count(), gc.get_threshold()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    before, frozen, threshold = (int(x) for x in done.stdout.split())
    assert before == 0 and frozen > 10_000, done.stdout  # start-up's objects, frozen
    assert threshold == GC_GEN0_THRESHOLD
    assert tune_gc in create_server_app().on_startup


def test_a_server_process_compiles_every_template_before_its_first_request() -> None:
    """The first vote opened must not wait for its templates to compile: create_server_app
    compiles them all at start-up (before the collector freezes what start-up made)."""
    from assembly.app import compile_templates, create_server_app, tune_gc

    app = create_server_app()
    hooks = list(app.on_startup)
    assert hooks.index(compile_templates) < hooks.index(tune_gc)
    jinja = app.state.ctx.jinja
    loaded: list[str] = []
    original = jinja.loader.get_source
    jinja.cache.clear()

    def counting(env, name):  # type: ignore[no-untyped-def]
        loaded.append(name)
        return original(env, name)

    jinja.loader.get_source = counting  # type: ignore[method-assign]
    compile_templates(app)
    assert sorted(loaded) == sorted(jinja.list_templates())
    assert len(loaded) >= 50  # the project's templates, not an empty folder
    loaded.clear()
    jinja.get_template("base.html")
    assert loaded == []  # already compiled and cached: no second load


def test_redis_replies_are_parsed_by_hiredis() -> None:
    """With Redis, each server process reads every message for its phones from Redis: parsed
    in Python, 2,000 ballots of 10 kB each cost a fifth of a second at an opening. redis-py
    parses with hiredis (C) when it is installed, which pyproject.toml asks for."""
    from redis.asyncio.connection import DefaultParser
    from redis.utils import HIREDIS_AVAILABLE

    assert HIREDIS_AVAILABLE
    assert DefaultParser.__name__ == "_AsyncHiredisParser"
