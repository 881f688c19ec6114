"""Database engine, the base model, exact-number columns and the migration check."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from advanced_alchemy.base import BigIntBase
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import DateTime, String, TypeDecorator, event, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from assembly.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

Base = BigIntBase
metadata = Base.metadata


def utcnow() -> dt.datetime:
    """The server's clock, in UTC: every time the assembly records comes from here."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class FractionType(TypeDecorator[Fraction]):
    """An exact rational number stored as text ("3/2"): weights never become floats."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Fraction | int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Fraction | int):
            raise TypeError(f"exact number expected, got {type(value).__name__}")
        return str(value if isinstance(value, Fraction) else Fraction(value))  # "3/2", "1"

    def process_result_value(self, value: str | None, dialect: Dialect) -> Fraction | None:
        if value is None:
            return None
        # What process_bind_param wrote, read without Fraction's general parser (a regular
        # expression: a tenth of reading 2,000 NMOs). Anything else still goes through it.
        numerator, slash, denominator = value.partition("/")
        if numerator.removeprefix("-").isdigit() and (not slash or denominator.isdigit()):
            return Fraction(int(numerator), int(denominator) if slash else 1)
        return Fraction(value)


# Set for requests that change something (and for the ballot writer). On SQLite their
# transactions start with BEGIN IMMEDIATE: a deferred transaction that reads and then writes
# fails at once ("database is locked") when another writer committed in between, whereas an
# immediate one waits its turn (busy_timeout). Readers stay deferred and never wait.
WRITE_INTENT: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


@contextlib.asynccontextmanager
async def writing(
    session_maker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for work outside a request that writes (a command, a test's setup): on
    SQLite its transaction begins IMMEDIATE, so it waits for a server's writer instead of
    failing with "database is locked"."""
    token = WRITE_INTENT.set(True)
    try:
        async with session_maker() as db:
            yield db
    finally:
        WRITE_INTENT.reset(token)


@contextlib.contextmanager
def only_reading() -> Iterator[None]:
    """Within a request that writes, a part that only reads (who is logged in, checking a
    ballot before the writer stores it): on SQLite its transaction stays deferred, so it
    neither takes nor waits for the one write lock that the ballot writer needs."""
    token = WRITE_INTENT.set(False)
    try:
        yield
    finally:
        WRITE_INTENT.reset(token)


@contextlib.asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for a lone read that needs no transaction of its own (who a session is,
    the login counter): on PostgreSQL in autocommit, which saves the BEGIN and ROLLBACK round
    trips around it; on SQLite in a deferred transaction as usual (see only_reading)."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.is_sqlite:
        path = settings.sqlite_path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    if not settings.database_pool:
        return create_async_engine(settings.database_url, poolclass=NullPool)
    # 20 kept open: a burst of ballots from a 2,000-phone plenary checks out more than 10 at
    # once (new phones' sessions, ballot sheets, the writer), and each connection the pool
    # opened beyond its size was closed again after one use, 10 % of a worker's time.
    engine = create_async_engine(settings.database_url, pool_size=20, max_overflow=10)
    ping_when_idle(engine)
    return engine


# A pooled connection given back less than this long ago is taken as alive (see ping_when_idle).
PING_AFTER_IDLE_S = 2.0


def ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection at checkout only when it has been idle PING_AFTER_IDLE_S or
    more; a dead one (PostgreSQL restarted) empties the pool, and the checkout goes on with a
    new connection, as with SQLAlchemy's pool_pre_ping.

    pool_pre_ping pings at every checkout, and asyncpg's ping is three round trips (BEGIN, a
    query, ROLLBACK): in a ballot burst, where each connection comes back within milliseconds,
    that was a fifth of a worker's time (BENCHMARKS.md). A connection that dies while in use,
    or in the two seconds after, fails that one request as it would have with pool_pre_ping,
    and SQLAlchemy empties the pool when it sees the disconnect."""
    dialect = engine.dialect
    pool = engine.sync_engine.pool

    def given_back(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    def taken(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # just opened, or given back a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                raise exc.InvalidatePoolError() from error
            raise

    event.listen(pool, "checkin", given_back)
    event.listen(pool, "checkout", taken)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


# How often a server's SQLite log (the WAL) is copied into the database file, off the request
# path (see checkpoints_in_background).
CHECKPOINT_EVERY_S = 1.0


def checkpoints_in_background(engine: AsyncEngine) -> None:
    """SQLite copies its write-ahead log into the database file (a checkpoint) every 1,000
    pages by default, in whichever commit crosses the mark: an opening or a close that
    happened to be that commit waited 30-100 ms for it (fsync included) while 2,000 phones
    waited (BENCHMARKS.md). The server's connections turn that off, and the server runs
    checkpoint_wal instead, in the background. (Commands keep SQLite's default.)"""
    event.listen(engine.sync_engine, "connect", _no_autocheckpoint)


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


async def checkpoint_wal(engine: AsyncEngine) -> None:
    """Checkpoint SQLite's write-ahead log every CHECKPOINT_EVERY_S until cancelled. PASSIVE:
    it copies what no reader still needs and waits for no one (aiosqlite runs it in its own
    thread, so requests go on meanwhile). A failure is logged and tried again next time."""
    while True:
        await asyncio.sleep(CHECKPOINT_EVERY_S)
        try:
            async with engine.connect() as conn:
                # On the driver's connection: no transaction is begun (SQLite refuses to
                # checkpoint inside one), and the pooled connection's settings stay as they are.
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None  # a connection checked out of the pool
                cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
                await cursor.close()
        except Exception:
            log.exception("checkpointing the SQLite log failed")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if WRITE_INTENT.get() else "BEGIN")


def alembic_config(settings: Settings) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings
    return cfg


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


class UnmigratedDatabase(RuntimeError):
    """The database schema is not at the code's migration head."""


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def check_migrated(engine: AsyncEngine, settings: Settings) -> None:
    """Refuse to run against a database that `assembly migrate` has not brought up to date."""
    async with engine.connect() as conn:
        current = await conn.run_sync(_current_revision)
    head = head_revision(settings)
    if current != head:
        where = describe_database(settings)
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise UnmigratedDatabase(
            f"The database {where} {state}, but this version of assembly needs revision {head}. "
            "Run `assembly migrate` (or `make demo`, which migrates for you) and start again."
        )


def describe_database(settings: Settings) -> str:
    if settings.is_sqlite:
        path = settings.sqlite_path
        return str(Path(path).resolve()) if path else "in memory"
    # Never print a password.
    url = settings.database_url
    scheme, _, rest = url.partition("://")
    host = rest.rpartition("@")[2]
    return f"{scheme.split('+')[0]}://{host}"


APPEND_ONLY_MESSAGE = "is append-only: rows are never updated or deleted"


def append_only_statements(table: str, dialect: str) -> list[str]:
    """SQL that makes the database itself refuse UPDATE and DELETE on `table`, whatever code
    path tries (migrations run it)."""
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{table} {APPEND_ONLY_MESSAGE}'; END; $$ LANGUAGE plpgsql",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} {APPEND_ONLY_MESSAGE}'); END"
        for action in ("UPDATE", "DELETE")
    ]


def drop_append_only_statements(table: str, dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_append_only()",
        ]
    return [f"DROP TRIGGER IF EXISTS {table}_no_{action}" for action in ("update", "delete")]
