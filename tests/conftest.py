"""Test fixtures: an app per test on its own database (SQLite by default, PostgreSQL when
ASSEMBLY_TEST_DATABASE_URL is set), plus helpers to seed an assembly and log in as any role.

Outside CI a test that needs a missing service or browser skips and says why; with CI=true
it fails instead, so CI can never pass without running them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.app import create_app
from assembly.credentials import service
from assembly.credentials.auth import Principal, Role, TokenSealer
from assembly.db import writing
from assembly.security import CSRF_COOKIE, CSRF_HEADER
from assembly.settings import Settings, normalise_database_url

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
TEST_DB_URL = os.environ.get("ASSEMBLY_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("ASSEMBLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
PASSWORD = "correct horse battery"


# Hypothesis checks properties, not speed: its per-example deadline (200 ms) fails tests at
# random when two test runs and a browser share the machine's two cores.
hypothesis_settings.register_profile("assembly", deadline=None)
hypothesis_settings.load_profile("assembly")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id at its production cost makes every seeded staff account take ~0.1 s; the
    tests check that hashing and verifying work, not its cost."""
    from argon2 import PasswordHasher

    from assembly.credentials import auth

    production = auth._hasher
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth._hasher = production


def need_service(what: str, why: str) -> None:
    """Skip outside CI; fail in CI, where every service must be there."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI must run this test)")
    pytest.skip(message)


def reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=1):
            return True
    except OSError:
        return False


def migrate(settings: Settings) -> None:
    from assembly.cli import migrate_database

    migrate_database(settings)


@pytest.fixture(scope="session")
def backend() -> str:
    return "postgresql" if TEST_DB_URL else "sqlite"


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL schema."""
    if TEST_DB_URL:
        url = normalise_database_url(TEST_DB_URL)
        if not reachable(url.replace("postgresql+asyncpg", "postgresql")):
            pytest.fail(f"ASSEMBLY_TEST_DATABASE_URL is set but {url} does not answer")
        asyncio.run(_reset_postgres(url))
        migrate(Settings(database_url=url, secret_key=SECRET))
        yield url
        return
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate(Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key=SECRET))
    yield str(path)


async def _reset_postgres(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def _truncate_postgres(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        # kept as the migrations left them: the schema's revision, and the
                        # one row of the counter that principals are remembered by
                        "AND tablename NOT IN ('alembic_version', 'auth_generation')"
                    )
                )
            )
            .scalars()
            .all()
        )
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
async def settings(_template_db: str, tmp_path: Path) -> Settings:
    if TEST_DB_URL:
        await _truncate_postgres(_template_db)
        url = _template_db
    else:
        path = tmp_path / "assembly.sqlite3"
        shutil.copy(_template_db, path)
        url = f"sqlite+aiosqlite:///{path}"
    return Settings(
        database_url=url,
        secret_key=SECRET,
        public_url="http://testserver.local",
        database_pool=not TEST_DB_URL,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Litestar]:
    application = create_app(settings)
    yield application
    await application.state.ctx.engine.dispose()


@pytest.fixture
async def db(app: Litestar) -> AsyncIterator[AsyncSession]:
    async with app.state.ctx.session_maker() as session:
        yield session


ClientFactory = Callable[..., Awaitable[AsyncTestClient[Litestar]]]


async def with_csrf_token(client: AsyncTestClient[Litestar]) -> None:
    """Send the CSRF token on every request, as the pages do: any GET sets the cookie."""
    await client.get("/health")
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]


def with_csrf_token_sync(client: httpx.Client) -> httpx.Client:
    """with_csrf_token for a blocking client (a TestClient, or httpx against a real server)."""
    client.get("/health")
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
    return client


@pytest.fixture
async def make_client(app: Litestar) -> AsyncIterator[ClientFactory]:
    """make_client() → anonymous; make_client(staff="secretariat") or make_client(token=...)."""
    opened: list[AsyncTestClient[Litestar]] = []

    async def factory(
        *, staff: str | None = None, token: str | None = None
    ) -> AsyncTestClient[Litestar]:
        client = AsyncTestClient(app=app, base_url="http://testserver.local")
        if opened:
            # One app, one event loop (as in a server process): later clients reuse the
            # first client's portal instead of starting the app again in a loop of their own.
            client.blocking_portal = opened[0].blocking_portal
        else:
            await client.__aenter__()
        opened.append(client)
        await with_csrf_token(client)
        if staff is not None:
            response = await client.post(
                "/api/auth/login", json={"username": staff, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
        if token is not None:
            response = await client.get(f"/login/{token}", follow_redirects=False)
            assert response.status_code == 303, response.text
        return client

    yield factory
    if opened:
        await opened[0].__aexit__(None, None, None)


@dataclass
class World:
    """A seeded assembly: ids by NMO code, delegates and their tokens by name."""

    assembly_id: int
    nmo: dict[str, int] = field(default_factory=dict)
    delegate: dict[str, int] = field(default_factory=dict)
    token: dict[str, str] = field(default_factory=dict)


SECRETARIAT = Principal(Role.secretariat, name="secretariat", staff_user_id=1)


async def seed_world(
    app: Litestar,
    *,
    nmos: list[tuple[str, str, Any]] | None = None,
    credential: bool = True,
    check_in: bool = True,
    staff: bool = True,
    **rules: Any,
) -> World:
    """Seed an assembly. nmos: (code, member_class, weight); each gets a head 'CODE-head' and
    a delegate 'CODE-del'. By default every delegation is credentialed and its head present."""
    ctx = app.state.ctx
    nmos = (
        nmos
        if nmos is not None
        else [
            ("AAA", "full", 1),
            ("BBB", "full", 2),
            ("CCC", "full", Fraction(3, 2)),
            ("DDD", "candidate", 1),
            ("EEE", "suspended", 1),
        ]
    )
    async with writing(ctx.session_maker) as db:
        if staff:
            for role in ("secretariat", "chair", "desk"):
                await service.add_staff(db, role, PASSWORD, role)
        assembly = await service.create_assembly(db, "test", "Test GA", **rules)
        world = World(assembly_id=assembly.id)
        sealer: TokenSealer = ctx.sealer
        for code, member_class, weight in nmos:
            nmo = await service.add_nmo(
                db,
                assembly,
                "test",
                code=code,
                name=f"NMO {code}",
                member_class=member_class,
                weight=weight,
            )
            world.nmo[code] = nmo.id
            for suffix, role in (("head", "head"), ("del", "delegate")):
                d, tok = await service.add_delegate(
                    db, sealer, nmo, "test", name=f"{code}-{suffix}", role=role
                )
                world.delegate[d.name] = d.id
                world.token[d.name] = tok
                if check_in and role == "head":
                    await service.set_checked_in(db, d, "test", True, via="desk")
            if credential:
                await service.set_credentialed(db, nmo, "test", True)
        await db.commit()
    return world


@pytest.fixture
async def world(app: Litestar) -> World:
    return await seed_world(app)


@pytest.fixture
def redis_url() -> str:
    if not reachable(TEST_REDIS_URL):
        need_service("Redis", f"nothing answers at {TEST_REDIS_URL}")
    return TEST_REDIS_URL
