"""A fresh database for one bench run, filled through the project's own service functions:
a chair, N NMOs with one head of delegation each, 5 % of the votes given by proxy."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import async_sessionmaker

from assembly.bench import BenchSetupError
from assembly.credentials import service
from assembly.credentials.auth import Principal, Role, TokenSealer
from assembly.credentials.models import Nmo
from assembly.db import create_engine
from assembly.settings import Settings

CHAIR_USERNAME = "bench-chair"
PROXY_SHARE = Fraction(5, 100)


@dataclass
class Phone:
    """One delegate: their login token, their NMO and the NMOs whose votes they cast."""

    delegate_id: int
    token: str
    nmo_id: int
    nmo_code: str
    casts_for: list[int] = field(default_factory=list)


@dataclass
class Seeded:
    assembly_id: int
    chair_password: str
    phones: list[Phone]
    codes: dict[int, str]  # nmo_id -> code

    @property
    def rights(self) -> int:
        return sum(len(p.casts_for) for p in self.phones)


def proxy_count(delegates: int) -> int:
    """How many NMOs give their vote by proxy: 5 %, at least one once there are 20."""
    return int(delegates * PROXY_SHARE)


async def _seed(settings: Settings, delegates: int) -> Seeded:
    engine = create_engine(settings)
    sealer = TokenSealer(settings.secret_key)
    password = secrets.token_urlsafe(18)
    givers = proxy_count(delegates)
    try:
        # No server runs on this database yet: a plain session does.
        async with async_sessionmaker(engine, expire_on_commit=False)() as db:
            await service.add_staff(db, CHAIR_USERNAME, password, "chair", "Bench chair")
            assembly = await service.create_assembly(
                db, "bench", "Bench General Assembly", proxies_enabled=True, max_proxies=1
            )
            nmos: list[Nmo] = []
            phones: list[Phone] = []
            for number in range(delegates):
                code = f"B{number:05d}"
                nmo = await service.add_nmo(
                    db, assembly, "bench", code=code, name=f"Bench NMO {number}"
                )
                delegate, token = await service.add_delegate(
                    db, sealer, nmo, "bench", name=f"Delegate {number}", role="head"
                )
                await service.set_credentialed(db, nmo, "bench", True)
                # The first NMOs give their vote away: their heads stay away from the room.
                if number >= givers:
                    await service.set_checked_in(db, delegate, "bench", True, via="desk")
                nmos.append(nmo)
                phones.append(Phone(delegate.id, token, nmo.id, code))
            await db.flush()
            secretariat = Principal(Role.secretariat, name="bench", staff_user_id=0)
            # Giver i hands its vote to the present NMO givers + i (max_proxies is 1).
            for i in range(givers):
                await service.give_proxy(db, secretariat, assembly, nmos[i], nmos[givers + i])
                phones[givers + i].casts_for.append(nmos[i].id)
            for phone in phones[givers:]:
                phone.casts_for.insert(0, phone.nmo_id)
            await db.commit()
            return Seeded(
                assembly_id=assembly.id,
                chair_password=password,
                phones=phones,
                codes={n.id: n.code for n in nmos},
            )
    finally:
        await engine.dispose()


def seed(settings: Settings, delegates: int) -> Seeded:
    from assembly.cli import migrate_database

    migrate_database(settings)
    return asyncio.run(_seed(settings, delegates))


def sqlite_url(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    dsn = _with_database(url.replace("postgresql+asyncpg://", "postgresql://"), "postgres")
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchSetupError(f"PostgreSQL at {dsn} does not answer: {exc}") from None
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_postgres_database(server_url: str) -> str:
    """CREATE a database of its own (assembly_bench_<random>); return its asyncpg URL."""
    from assembly.settings import normalise_database_url

    name = f"assembly_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return _with_database(normalise_database_url(server_url), name)


def drop_postgres_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("assembly_bench_"):
        raise BenchSetupError(f"refusing to drop {name!r}: not a bench database")
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
