"""Who each session cookie belongs to, remembered instead of read on every request.

Every request with a session cookie needs its Principal (who is asking). Reading it took two
queries per request, about half of a ballot request's work on the server. A process now
keeps what it read, and forgets all of it when anything it was read from may have changed:
- A login session changed or deleted, or a delegate, a staff user or an NMO changed in a
  column a principal holds, moves a counter in the database (`auth_generation`, kept by
  triggers, so whichever process or `assembly` command makes the change). Each process reads
  the counter at most every GENERATION_CHECK_S, with the requests it serves, and forgets
  everything when it has moved.
- A transaction of its own that changed or deleted such rows (logout, a reissued card, a
  new role, a deactivated account, a chosen language) makes the process forget at once when
  it commits: SQLAlchemy session events notice the change whichever code path made it.
New rows (a login, a new delegate) make nothing stale: a new session has a secret of its own.
So a change made by another process is seen within GENERATION_CHECK_S (plus one query), and
one made by the same process at once. Entries also lapse after PRINCIPAL_CACHE_S, and never
outlive their session.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import ORMExecuteState, Session

from assembly.db import reading, utcnow

if TYPE_CHECKING:
    from assembly.credentials.auth import Principal

PRINCIPAL_CACHE_S = 600.0
GENERATION_CHECK_S = 0.5
MAX_ENTRIES = 100_000  # about 30 MB at most; emptied whole when full
_CHANGED = "assembly.auth_changed"  # Session.info flag: this transaction changed who is who

# What a principal is read from: a change to these columns (None: to any column), or a
# deletion, can change who a session is. Migration 0013's triggers watch the same.
WATCHED_COLUMNS: dict[str, Sequence[str] | None] = {
    "login_session": None,
    "delegate": ("nmo_id", "name", "role", "language", "token_hash"),
    "staff_user": ("username", "role", "active"),
    "nmo": ("assembly_id",),
}


def generation_trigger_statements(dialect: str) -> list[str]:
    """SQL making every change in WATCHED_COLUMNS (and every deletion) move auth_generation.
    PostgreSQL moves it when the transaction commits (a deferred constraint trigger), so that
    the counter's row lock is always taken last and cannot deadlock two transactions."""
    bump = "UPDATE auth_generation SET n = n + 1 WHERE id = 1"
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION auth_generation_bump() RETURNS trigger AS $$ "
            f"BEGIN {bump}; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
    for table, columns in WATCHED_COLUMNS.items():
        of = f" OF {', '.join(columns)}" if columns else ""
        if dialect == "postgresql":
            statements.append(
                f"CREATE CONSTRAINT TRIGGER {table}_auth_change AFTER UPDATE{of} OR DELETE "
                f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION auth_generation_bump()"
            )
        else:
            statements += [
                f"CREATE TRIGGER {table}_auth_update AFTER UPDATE{of} ON {table} BEGIN {bump}; END",
                f"CREATE TRIGGER {table}_auth_delete AFTER DELETE ON {table} BEGIN {bump}; END",
            ]
    return statements


def drop_generation_trigger_statements(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            *(f"DROP TRIGGER IF EXISTS {t}_auth_change ON {t}" for t in WATCHED_COLUMNS),
            "DROP FUNCTION IF EXISTS auth_generation_bump()",
        ]
    return [
        f"DROP TRIGGER IF EXISTS {t}_auth_{what}"
        for t in WATCHED_COLUMNS
        for what in ("update", "delete")
    ]


class Principals:
    """One process's memory of session secrets (hashed) to principals."""

    def __init__(self, ttl_s: float = PRINCIPAL_CACHE_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[str, tuple[float, Principal]] = {}
        # Bumped by every forget_all: a lookup that began before a change must not store
        # what it read (it may be the state from before the change).
        self.generation = 0
        self._check_after = 0.0  # monotonic time of the next look at auth_generation
        self._seen: int | None = None  # auth_generation's value at the last look

    async def up_to_date(self, engine: AsyncEngine) -> None:
        """Forget everything if auth_generation has moved since the last look; looks at most
        every GENERATION_CHECK_S (the requests in between use what is remembered)."""
        from assembly.credentials.models import AuthGeneration

        now = time.monotonic()
        if now < self._check_after:
            return
        self._check_after = now + GENERATION_CHECK_S
        try:
            async with reading(engine) as conn:
                seen = await conn.scalar(select(AuthGeneration.n).where(AuthGeneration.id == 1))
        except BaseException:
            self._check_after = 0.0  # look again with the next request
            raise
        if seen is None:  # no counter (a schema made without migrations): remember nothing
            self.forget_all()
            self._check_after = 0.0
        elif seen != self._seen:
            self.forget_all()
        self._seen = seen

    def get(self, key: str) -> Principal | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if time.monotonic() >= entry[0]:
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(
        self, key: str, principal: Principal, generation: int, expires_at: dt.datetime | None
    ) -> None:
        if generation != self.generation or self.ttl_s <= 0:
            return
        now = time.monotonic()
        until = now + self.ttl_s
        if expires_at is not None:  # a session that expires sooner is not kept past its end
            until = min(until, now + (expires_at - utcnow()).total_seconds())
        if until <= now:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (until, principal)

    def forget_all(self) -> None:
        self._entries.clear()
        self.generation += 1

    def changed_here(self) -> None:
        """A transaction of this process changed who is who: forget now, and look at the
        counter with the next request (it has moved, so what is read next is kept)."""
        self.forget_all()
        self._check_after = 0.0

    def __len__(self) -> int:
        return len(self._entries)


# The caches of the running apps, by their database engine (tests run several apps at once).
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, Principals] = weakref.WeakKeyDictionary()


def watch(engine: Engine, principals: Principals) -> None:
    """Make `principals` forget as soon as a transaction on `engine` that changed or deleted
    what principals are read from commits."""
    _BY_ENGINE[engine] = principals


def _changes_a_principal(obj: Any, deleted: bool) -> bool:
    table = getattr(obj, "__tablename__", None)
    if table not in WATCHED_COLUMNS:
        return False
    columns = WATCHED_COLUMNS[table]
    if deleted or columns is None:
        return True
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in columns)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _flush_context: Any, _instances: Any) -> None:
    if any(_changes_a_principal(obj, True) for obj in session.deleted) or any(
        _changes_a_principal(obj, False) for obj in session.dirty
    ):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    mapper = state.bind_mapper
    if mapper is not None and getattr(mapper.class_, "__tablename__", None) in WATCHED_COLUMNS:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if not session.info.pop(_CHANGED, False):
        return
    try:
        bind = session.get_bind()
    except Exception:  # no engine bound: nothing is remembered for it
        return
    engine = bind if isinstance(bind, Engine) else bind.engine
    principals = _BY_ENGINE.get(engine)
    if principals is not None:
        principals.changed_here()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_CHANGED, None)
