"""The record every public page and export is made from: only what is published, roll calls of
named votes NMO by NMO, secret votes as totals and trackers, attendance per plenary session,
and the secretariat's policy for when results become public."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from litestar import Litestar

from assembly.agenda.models import PlenarySession
from assembly.credentials import service as credentials
from assembly.db import utcnow, writing
from assembly.publishing import service as publishing
from assembly.publishing.record import build_record
from tests.audit.test_log import run_vote
from tests.conftest import ClientFactory, World


async def record_of(app: Litestar, world: World, **kwargs: object):  # type: ignore[no-untyped-def]
    async with writing(app.state.ctx.session_maker) as db:
        return await build_record(db, world.assembly_id, **kwargs)  # type: ignore[arg-type]


async def test_a_named_vote_has_a_roll_call_and_a_secret_vote_only_totals_and_trackers(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    named = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no"})
    secret = await run_vote(make_client, world, {"AAA": "yes", "CCC": "no"}, secret=True)
    record = await record_of(app, world)
    assert [v.id for v in record.votes] == [named["id"], secret["id"]]
    roll = {row.nmo: row for row in record.vote(named["id"]).roll_call}
    assert roll["AAA"].choice == ("yes",) and roll["BBB"].choice == ("no",)
    assert roll["CCC"].choice is None and roll["CCC"].weight == Fraction(3, 2)
    assert roll["BBB"].cast_by == "BBB" and not roll["BBB"].via_proxy
    hidden = record.vote(secret["id"])
    assert hidden.roll_call == []
    assert sorted(t.choice for t in hidden.trackers) == [("no",), ("yes",)]
    assert [t.tracker for t in hidden.trackers] == sorted(t.tracker for t in hidden.trackers)
    assert record.vote(named["id"]).outcome == "rejected"  # 1 yes against 2 no
    assert record.vote(named["id"]).log_index is not None
    assert record.checkpoint is not None and len(record.checkpoint.short_root) == 8


async def test_held_results_are_out_of_the_record_until_published(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await credentials.update_assembly(db, assembly, "test", {"publish_results": "manual"})
        await db.commit()
    vote = await run_vote(make_client, world, {"AAA": "yes"})
    assert (await record_of(app, world)).votes == []
    staff = await record_of(app, world, staff_view=True)
    assert [v.id for v in staff.votes] == [vote["id"]] and not staff.votes[0].published
    async with writing(app.state.ctx.session_maker) as db:
        await publishing.set_published(db, world.assembly_id, "vote", vote["id"], "test", utcnow())
        await db.commit()
    assert [v.id for v in (await record_of(app, world)).votes] == [vote["id"]]


async def test_session_end_policy_publishes_when_the_session_ends(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    now = utcnow()
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await credentials.update_assembly(db, assembly, "test", {"publish_results": "session_end"})
        db.add(
            PlenarySession(
                assembly_id=world.assembly_id,
                name="Plenary 1",
                starts_at=now - dt.timedelta(hours=1),
                ends_at=now + dt.timedelta(hours=1),
            )
        )
        await db.commit()
    vote = await run_vote(make_client, world, {"AAA": "yes"})
    assert (await record_of(app, world)).votes == []
    later = await record_of(app, world, now=now + dt.timedelta(hours=2))
    assert [v.id for v in later.votes] == [vote["id"]]


async def test_attendance_counts_delegates_checked_in_during_the_session(
    app: Litestar, world: World
) -> None:
    now = utcnow()
    async with writing(app.state.ctx.session_maker) as db:
        db.add(
            PlenarySession(
                assembly_id=world.assembly_id,
                name="Plenary 1",
                starts_at=now - dt.timedelta(minutes=5),
                ends_at=now + dt.timedelta(hours=1),
                published_at=now - dt.timedelta(minutes=5),
            )
        )
        await db.commit()
    record = await record_of(app, world, now=now + dt.timedelta(hours=2))
    present = {row.nmo: row.present for row in record.sessions[0].attendance}
    # The world checks every head of delegation in before the session starts.
    assert present == {"AAA": True, "BBB": True, "CCC": True, "DDD": True, "EEE": True}
