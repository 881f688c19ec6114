"""The ballot writer: one task takes ballots from a queue and commits them in batches.

Through the async ORM a ballot costs several thread hand-offs (DESIGN.md measured ~380/s on
SQLite); batching many ballots into one transaction (group commit) is what reaches the
target. Each request waits for its own ballot's outcome, which is known only after the
batch's transaction has committed, so a phone is never told "recorded" for a ballot that is
not on disk. The unique constraints decide duplicates: rows come back from
INSERT ... ON CONFLICT DO NOTHING RETURNING, and the ones that did not are looked up to tell
a harmless re-send (same client ballot id: same receipt) from a second, different ballot.

Closing a vote goes through the same queue on this process, and inside the database the
batch reads the vote's state with a share lock (PostgreSQL) while closing takes an update
lock, so "closed while ballots arrive" has exactly one outcome per ballot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from assembly.db import WRITE_INTENT, utcnow
from assembly.voting.models import Ballot, Participation, SecretChoice, Vote

RECEIPT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud safely
MAX_BATCH = 500


def new_receipt() -> str:
    # 32 letters: each random byte picks one without bias (256 = 8 x 32), 50 bits in all.
    raw = "".join(RECEIPT_ALPHABET[b % 32] for b in secrets.token_bytes(10))
    return f"{raw[:5]}-{raw[5:]}"


@dataclass(frozen=True, slots=True)
class BallotRow:
    """One voting right's ballot, already checked against the frozen electorate."""

    vote_id: int
    nmo_id: int
    client_ballot_id: str
    choice: str  # canonical JSON text
    weight: Fraction
    cast_by_delegate_id: int | None
    secret: bool
    tracker: str = ""


@dataclass(frozen=True, slots=True)
class BallotOutcome:
    """What happened to one row: recorded (now or by an earlier identical send) or refused."""

    nmo_id: int
    status: str  # "recorded", "duplicate" (same ballot again), "changed", "refused"
    receipt: str = ""
    reason: str = ""  # "already_voted", "vote_closed"


@dataclass
class _Job:
    rows: Sequence[BallotRow]
    done: asyncio.Future[list[BallotOutcome]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class BallotWriter:
    """Group commit of ballots: one running task per process, batches of up to MAX_BATCH."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # One queue and task per event loop. A server process has one loop; test clients
        # may each run the app in a loop of their own.
        self._workers: dict[
            asyncio.AbstractEventLoop, tuple[asyncio.Queue[_Job], asyncio.Task[None]]
        ] = {}
        self._rng = random.SystemRandom()
        self.batches = 0
        self.rows_written = 0

    def _worker(self) -> asyncio.Queue[_Job]:
        loop = asyncio.get_running_loop()
        worker = self._workers.get(loop)
        if worker is None or worker[1].done():
            queue: asyncio.Queue[_Job] = asyncio.Queue()
            task = loop.create_task(self._run(queue), name="ballot-writer")
            worker = self._workers[loop] = (queue, task)
        return worker[0]

    async def start(self) -> None:
        self._worker()

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        worker = self._workers.pop(loop, None)
        if worker is not None:
            worker[1].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker[1]

    async def submit(self, rows: Sequence[BallotRow]) -> list[BallotOutcome]:
        """Queue the rows and wait until their batch has committed (or failed)."""
        job = _Job(rows)
        await self._worker().put(job)
        return await job.done

    async def _run(self, queue: asyncio.Queue[_Job]) -> None:
        WRITE_INTENT.set(True)  # this task's transactions write: BEGIN IMMEDIATE on SQLite
        while True:
            jobs = [await queue.get()]
            count = len(jobs[0].rows)
            while count < MAX_BATCH and not queue.empty():
                job = queue.get_nowait()
                jobs.append(job)
                count += len(job.rows)
            try:
                outcomes = await self._write([row for job in jobs for row in job.rows])
            except Exception as exc:  # the whole batch rolled back: every waiter hears it
                for job in jobs:
                    if not job.done.done():
                        job.done.set_exception(exc)
                continue
            self.batches += 1
            index = 0
            for job in jobs:
                part = outcomes[index : index + len(job.rows)]
                index += len(job.rows)
                if not job.done.done():
                    job.done.set_result(part)

    async def _write(self, rows: list[BallotRow]) -> list[BallotOutcome]:
        async with self._engine.connect() as conn:
            outcomes = await write_batch(conn, rows, self._rng)
            await conn.commit()
        self.rows_written += sum(1 for o in outcomes if o.status == "recorded")
        return outcomes


def _insert(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def write_batch(
    conn: AsyncConnection, rows: list[BallotRow], rng: random.Random
) -> list[BallotOutcome]:
    """Write one batch in the caller's transaction; return one outcome per row, in order."""
    if not rows:
        return []
    vote_ids = sorted({r.vote_id for r in rows})
    state_query = select(Vote.id, Vote.state, Vote.vote_change_allowed).where(Vote.id.in_(vote_ids))
    if conn.dialect.name == "postgresql":
        state_query = state_query.with_for_update(read=True)
    states = {vid: (state, change) for vid, state, change in (await conn.execute(state_query))}
    now = utcnow()
    outcomes: dict[int, BallotOutcome] = {}
    open_rows: list[tuple[int, BallotRow]] = []
    for i, row in enumerate(rows):
        if states.get(row.vote_id, ("missing", False))[0] != "open":
            outcomes[i] = BallotOutcome(row.nmo_id, "refused", reason="vote_closed")
        else:
            open_rows.append((i, row))
    # Within one batch, the first ballot for a right wins; later ones are judged against it.
    first: dict[tuple[int, int], int] = {}
    batch_rows: list[tuple[int, BallotRow, str]] = []
    later: list[tuple[int, BallotRow]] = []
    for i, row in open_rows:
        key = (row.vote_id, row.nmo_id)
        if key in first:
            later.append((i, row))
            continue
        first[key] = i
        batch_rows.append((i, row, new_receipt()))
    # In key order: with several server processes, their writers commit batches at once, and
    # two may hold ballots for the same rights (a phone's retry or a proxy holder reaching the
    # other process). An INSERT that meets a row another open transaction inserted waits for
    # it; two batches taking their keys in the same order can wait for each other only one
    # way round, never in a cycle (PostgreSQL detected such deadlocks in a test without it).
    batch_rows.sort(key=lambda item: (item[1].vote_id, item[1].nmo_id))
    named = [(i, r, rc) for i, r, rc in batch_rows if not r.secret]
    secret = [(i, r, rc) for i, r, rc in batch_rows if r.secret]
    inserted: set[tuple[int, int]] = set()
    # Each INSERT is one statement run with a list of parameters (SQLAlchemy sends it as
    # multi-row INSERTs): compiled once per process, where a VALUES list built per batch was
    # compiled afresh for every batch.
    if named:
        stmt = (
            _insert(conn, Ballot)
            .on_conflict_do_nothing(index_elements=["vote_id", "nmo_id"])
            .returning(Ballot.vote_id, Ballot.nmo_id)
        )
        params = [
            {
                "vote_id": r.vote_id,
                "nmo_id": r.nmo_id,
                "client_ballot_id": r.client_ballot_id,
                "choice": r.choice,
                "weight": r.weight,
                "cast_by_delegate_id": r.cast_by_delegate_id,
                "receipt": rc,
                "cast_at": now,
            }
            for _, r, rc in named
        ]
        inserted |= {(v, n) for v, n in await conn.execute(stmt, params)}
    if secret:
        stmt = (
            _insert(conn, Participation)
            .on_conflict_do_nothing(index_elements=["vote_id", "nmo_id"])
            .returning(Participation.vote_id, Participation.nmo_id)
        )
        params = [
            {
                "vote_id": r.vote_id,
                "nmo_id": r.nmo_id,
                "client_ballot_id": r.client_ballot_id,
                "cast_by_delegate_id": r.cast_by_delegate_id,
                "receipt": rc,
                "cast_at": now,
            }
            for _, r, rc in secret
        ]
        new_secret = {(v, n) for v, n in await conn.execute(stmt, params)}
        inserted |= new_secret
        choices = [
            {
                "id": rng.getrandbits(63),
                "vote_id": r.vote_id,
                "choice": r.choice,
                "weight": r.weight,
                "tracker": r.tracker,
            }
            for _, r, _ in secret
            if (r.vote_id, r.nmo_id) in new_secret
        ]
        rng.shuffle(choices)  # insertion order must not follow participation order
        if choices:
            await conn.execute(_insert(conn, SecretChoice), choices)
    for i, row, receipt in batch_rows:
        if (row.vote_id, row.nmo_id) in inserted:
            outcomes[i] = BallotOutcome(row.nmo_id, "recorded", receipt=receipt)
    # Rows that met an existing ballot: the same client ballot id is a harmless re-send.
    pending = [(i, r) for i, r, _ in batch_rows if i not in outcomes] + later
    # Changes update rows in key order too (a stable sort: a right's later ballots in this
    # batch stay after its first).
    pending.sort(key=lambda item: (item[1].vote_id, item[1].nmo_id))
    if pending:
        existing = await _existing(conn, [r for _, r in pending])
        for i, row in pending:
            found = existing.get((row.vote_id, row.nmo_id))
            if i in outcomes:
                continue
            if found is None:
                # Only possible for a later row whose first row in this batch was refused.
                outcomes[i] = BallotOutcome(row.nmo_id, "refused", reason="already_voted")
            elif found[0] == row.client_ballot_id:
                outcomes[i] = BallotOutcome(row.nmo_id, "duplicate", receipt=found[1])
            elif states[row.vote_id][1] and not row.secret:
                # The assembly lets a named ballot be changed before close: the new one
                # replaces it, with a new receipt (a secret choice cannot be found to change).
                receipt = new_receipt()
                await conn.execute(
                    update(Ballot)
                    .where(Ballot.vote_id == row.vote_id, Ballot.nmo_id == row.nmo_id)
                    .values(
                        client_ballot_id=row.client_ballot_id,
                        choice=row.choice,
                        receipt=receipt,
                        cast_at=now,
                    )
                )
                existing[(row.vote_id, row.nmo_id)] = (row.client_ballot_id, receipt)
                outcomes[i] = BallotOutcome(row.nmo_id, "changed", receipt=receipt)
            else:
                outcomes[i] = BallotOutcome(row.nmo_id, "refused", reason="already_voted")
    return [outcomes[i] for i in range(len(rows))]


async def _existing(
    conn: AsyncConnection, rows: list[BallotRow]
) -> dict[tuple[int, int], tuple[str, str]]:
    keys = sorted({(r.vote_id, r.nmo_id) for r in rows})
    found: dict[tuple[int, int], tuple[str, str]] = {}
    for table in (Ballot, Participation):
        query = select(table.vote_id, table.nmo_id, table.client_ballot_id, table.receipt).where(
            tuple_(table.vote_id, table.nmo_id).in_(keys)
        )
        for vote_id, nmo_id, client_id, receipt in await conn.execute(query):
            found[(vote_id, nmo_id)] = (client_id, receipt)
    return found


__all__ = ["BallotOutcome", "BallotRow", "BallotWriter", "dt"]
