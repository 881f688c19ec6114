"""Two batches writing the same rights in opposite orders at once (two server processes'
writers) cannot deadlock: each right gets exactly one ballot, and the other batch is told it
has already voted."""

from __future__ import annotations

import asyncio
import random
import uuid
from fractions import Fraction

from litestar import Litestar

from assembly.db import WRITE_INTENT
from assembly.voting.writer import BallotOutcome, BallotRow, write_batch
from tests.conftest import ClientFactory, seed_world
from tests.voting.test_races import open_new_vote, stored

NMOS = 150
ROUNDS = 4


def row(vote_id: int, nmo_id: int) -> BallotRow:
    return BallotRow(
        vote_id=vote_id,
        nmo_id=nmo_id,
        client_ballot_id=uuid.uuid4().hex,
        choice='["yes"]',
        weight=Fraction(1),
        cast_by_delegate_id=None,
        secret=False,
    )


async def test_two_batches_writing_the_same_rights_in_opposite_orders_do_not_deadlock(
    app: Litestar, make_client: ClientFactory
) -> None:
    """On PostgreSQL, two open transactions inserting the same keys in opposite orders would
    each wait for the other (without the key order, this deadlocked); write_batch inserts in
    key order, so one simply waits for the other."""
    world = await seed_world(app, nmos=[(f"N{i:03}", "full", 1) for i in range(NMOS)])
    engine = app.state.ctx.engine
    chair = await make_client(staff="chair")
    nmos = sorted(world.nmo.values())
    rng = random.Random(7)
    for _ in range(ROUNDS):
        vote_id = await open_new_vote(chair, world)
        forward = [row(vote_id, n) for n in nmos]
        backward = [row(vote_id, n) for n in reversed(nmos)]

        async def commit(rows: list[BallotRow]) -> list[BallotOutcome]:
            WRITE_INTENT.set(True)  # as the writer's task: BEGIN IMMEDIATE on SQLite
            async with engine.connect() as conn:
                outcomes = await write_batch(conn, rows, rng)
                await conn.commit()
                return outcomes

        first, second = await asyncio.wait_for(
            asyncio.gather(commit(forward), commit(backward)), timeout=30
        )
        by_nmo: dict[int, list[str]] = {n: [] for n in nmos}
        for outcome in (*first, *second):
            by_nmo[outcome.nmo_id].append(outcome.status)
        for statuses in by_nmo.values():
            assert sorted(statuses) == ["recorded", "refused"], by_nmo
        # The outcomes come back in each batch's own order, whatever order it wrote in.
        assert [o.nmo_id for o in first] == nmos
        assert [o.nmo_id for o in second] == list(reversed(nmos))
        held = await stored(app, vote_id)
        assert sorted(b.nmo_id for b in held["ballots"]) == sorted(nmos)
