"""Votes through the JSON API: lifecycle, the frozen electorate, casting and every refusal,
double submissions and races, results and the secrecy of secret ballots."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from litestar import Litestar
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials import service as credentials
from assembly.voting import service
from assembly.voting.models import Ballot, ElectorateEntry, Participation, SecretChoice
from tests.conftest import SECRETARIAT, ClientFactory, World, seed_world


def bid() -> str:
    return uuid.uuid4().hex


async def make_vote(chair: Any, world: World, **spec: Any) -> dict[str, Any]:
    body = {"question": "Shall the agenda be adopted?", **spec}
    response = await chair.post(f"/api/assemblies/{world.assembly_id}/votes", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def open_vote(chair: Any, vote_id: int) -> dict[str, Any]:
    response = await chair.post(f"/api/votes/{vote_id}/open", json={})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def cast(
    client: Any, vote_id: int, nmo_id: int, choice: str, ballot_id: str | None = None
) -> Any:
    return await client.post(
        f"/api/votes/{vote_id}/ballots",
        json={"ballots": [{"nmo_id": nmo_id, "ballot_id": ballot_id or bid(), "choice": choice}]},
    )


async def test_two_thirds_vote_from_open_to_result(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world, rule="two_thirds")
    assert vote["state"] == "draft" and vote["base"] == "cast"
    opened = await open_vote(chair, vote["id"])
    assert opened["state"] == "open"
    phones = {
        code: await make_client(token=world.token[f"{code}-head"]) for code in ("AAA", "BBB", "CCC")
    }
    for code, choice in (("AAA", "yes"), ("BBB", "yes"), ("CCC", "no")):
        response = await cast(phones[code], vote["id"], world.nmo[code], choice)
        assert response.status_code == 200, response.text
        row = response.json()["ballots"][0]
        assert row["status"] == "recorded" and len(row["receipt"]) == 11
    turnout = (await chair.get(f"/api/votes/{vote['id']}/turnout")).json()
    assert turnout["ballots"] == 3 and turnout["weight_cast"] == "4.5"
    assert turnout["not_voted"] == []
    closed = (await chair.post(f"/api/votes/{vote['id']}/close")).json()
    result = closed["result"]
    # yes 1 + 2 = 3, no 3/2: 3 of 9/2 is 66.7 %, at least two thirds.
    assert result["adopted"] is True
    assert result["totals"] == {"yes": "3", "no": "1.5", "abstain": "0"}
    assert result["counts"] == {"yes": 2, "no": 1, "abstain": 0}
    assert "66.7 %" in result["explanation"] and "two thirds" in result["explanation"]
    assert result["ballots"] == 3


async def test_opening_freezes_the_electorate_and_later_changes_do_not_count(
    app: Litestar, make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    entries = (
        (await db.execute(select(ElectorateEntry).where(ElectorateEntry.vote_id == vote["id"])))
        .scalars()
        .all()
    )
    assert sorted(e.nmo_code for e in entries) == ["AAA", "BBB", "CCC"]
    # The head of AAA hands the vote over after the opening: the frozen holder still casts.
    head = await make_client(token=world.token["AAA-head"])
    response = await head.post(
        f"/api/nmos/{world.nmo['AAA']}/voting-right", json={"holder_id": world.delegate["AAA-del"]}
    )
    assert response.status_code == 200
    other = await make_client(token=world.token["AAA-del"])
    refused = await cast(other, vote["id"], world.nmo["AAA"], "yes")
    assert refused.status_code == 403
    assert "is cast by AAA-head" in refused.json()["message"]
    assert (await cast(head, vote["id"], world.nmo["AAA"], "yes")).status_code == 200


async def test_opening_without_quorum_is_refused(app: Litestar, make_client: ClientFactory) -> None:
    world = await seed_world(app, check_in=False)
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    response = await chair.post(f"/api/votes/{vote['id']}/open", json={})
    assert response.status_code == 409
    assert response.json()["message"].startswith("There is no quorum: 0 of 3 Full Members present")


async def test_resending_the_same_ballot_returns_the_same_receipt_and_stores_one(
    app: Litestar, make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    phone = await make_client(token=world.token["AAA-head"])
    ballot_id = bid()
    first = (await cast(phone, vote["id"], world.nmo["AAA"], "yes", ballot_id)).json()["ballots"][0]
    again = await cast(phone, vote["id"], world.nmo["AAA"], "yes", ballot_id)
    assert again.status_code == 200
    repeat = again.json()["ballots"][0]
    assert repeat["status"] == "duplicate"
    assert repeat["receipt"] == first["receipt"]
    different = await cast(phone, vote["id"], world.nmo["AAA"], "no")
    assert different.status_code == 409
    assert "AAA has already voted in this vote" in different.json()["message"]
    count = await db.scalar(
        select(text("count(*)")).select_from(Ballot).where(Ballot.vote_id == vote["id"])
    )
    assert count == 1
    stored = (
        await db.execute(select(Ballot.choice).where(Ballot.vote_id == vote["id"]))
    ).scalar_one()
    assert stored == '["yes"]'


async def test_concurrent_submissions_for_the_same_right_store_exactly_one(
    app: Litestar, make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    phones = [await make_client(token=world.token["BBB-head"]) for _ in range(6)]
    responses = await asyncio.gather(
        *(
            cast(p, vote["id"], world.nmo["BBB"], choice)
            for p, choice in zip(phones, ["yes", "no"] * 3, strict=True)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409, 409]
    winner = next(r for r in responses if r.status_code == 200).json()["ballots"][0]
    rows = (await db.execute(select(Ballot).where(Ballot.vote_id == vote["id"]))).scalars().all()
    assert len(rows) == 1 and rows[0].receipt == winner["receipt"]
    for loser in (r for r in responses if r.status_code == 409):
        assert "already voted" in loser.json()["message"]


async def test_proxy_holder_casts_for_each_represented_nmo_and_the_giver_cannot(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, proxies_enabled=True)
    async with app.state.ctx.session_maker() as s:
        assembly = await credentials.get_assembly(s, world.assembly_id)
        await credentials.give_proxy(
            s,
            SECRETARIAT,
            assembly,
            await credentials.get_nmo(s, world.nmo["CCC"]),
            await credentials.get_nmo(s, world.nmo["AAA"]),
        )
        await s.commit()
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    holder = await make_client(token=world.token["AAA-head"])
    mine = (await holder.get(f"/api/votes/{vote['id']}/mine")).json()
    assert [(r["nmo_code"], r["via_proxy"]) for r in mine["rights"]] == [
        ("AAA", False),
        ("CCC", True),
    ]
    giver = await make_client(token=world.token["CCC-head"])
    refused = await cast(giver, vote["id"], world.nmo["CCC"], "no")
    assert refused.status_code == 403
    assert "through its proxy" in refused.json()["message"]
    both = await holder.post(
        f"/api/votes/{vote['id']}/ballots",
        json={
            "ballots": [
                {"nmo_id": world.nmo["AAA"], "ballot_id": bid(), "choice": "yes"},
                {"nmo_id": world.nmo["CCC"], "ballot_id": bid(), "choice": "no"},
            ]
        },
    )
    assert both.status_code == 200, both.text
    assert [b["status"] for b in both.json()["ballots"]] == ["recorded", "recorded"]
    mine = (await holder.get(f"/api/votes/{vote['id']}/mine")).json()
    assert all(r["voted"] and r["receipt"] for r in mine["rights"])


async def test_every_refusal_has_its_own_message_and_stores_nothing(
    app: Litestar, make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    phone = await make_client(token=world.token["AAA-head"])
    draft = await cast(phone, vote["id"], world.nmo["AAA"], "yes")
    assert (draft.status_code, draft.json()["message"]) == (
        403,
        "This vote is still a draft of the chair.",
    )
    await open_vote(chair, vote["id"])
    cases = [
        (
            world.nmo["AAA"],
            "maybe",
            422,
            "'maybe' is not an option of this vote; choose one of yes, no, abstain.",
        ),
        (
            world.nmo["BBB"],
            "yes",
            403,
            "The vote of BBB in this vote is cast by BBB-head, not by you.",
        ),
    ]
    for nmo_id, choice, status, message in cases:
        response = await cast(phone, vote["id"], nmo_id, choice)
        assert (response.status_code, response.json()["message"]) == (status, message)
    suspended = await make_client(token=world.token["EEE-head"])
    response = await cast(suspended, vote["id"], world.nmo["EEE"], "yes")
    assert (response.status_code, response.json()["message"]) == (
        403,
        "EEE is suspended: suspended members have no vote.",
    )
    candidate = await make_client(token=world.token["DDD-head"])
    response = await cast(candidate, vote["id"], world.nmo["DDD"], "yes")
    assert response.json()["message"] == "DDD is a candidate member: only Full Members vote."
    bad_id = await phone.post(
        f"/api/votes/{vote['id']}/ballots",
        json={"ballots": [{"nmo_id": world.nmo["AAA"], "ballot_id": "", "choice": "yes"}]},
    )
    assert bad_id.status_code == 422 and "ballot_id must be" in bad_id.json()["message"]
    # A revoked token ends the session: the phone is logged out, not told "not entitled".
    secretariat = await make_client(staff="secretariat")
    assert (
        await secretariat.post(f"/api/delegates/{world.delegate['AAA-head']}/token")
    ).status_code == 200
    revoked = await cast(phone, vote["id"], world.nmo["AAA"], "yes")
    assert revoked.status_code == 401
    closed_phone = await make_client(token=world.token["BBB-head"])
    await chair.post(f"/api/votes/{vote['id']}/close")
    late = await cast(closed_phone, vote["id"], world.nmo["BBB"], "yes")
    assert (late.status_code, late.json()["message"]) == (
        409,
        "This vote is closed: ballots are no longer accepted.",
    )
    assert await db.scalar(select(text("count(*)")).select_from(Ballot)) == 0


async def test_closing_while_ballots_arrive_gives_each_ballot_one_outcome(
    app: Litestar, make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    phones = {c: await make_client(token=world.token[f"{c}-head"]) for c in ("AAA", "BBB", "CCC")}
    results = await asyncio.gather(
        chair.post(f"/api/votes/{vote['id']}/close"),
        *(cast(p, vote["id"], world.nmo[c], "yes") for c, p in phones.items()),
    )
    closed = results[0].json()
    accepted = [r for r in results[1:] if r.status_code == 200]
    refused = [r for r in results[1:] if r.status_code == 409]
    assert len(accepted) + len(refused) == 3
    assert all("closed" in r.json()["message"] for r in refused)
    stored = await db.scalar(
        select(text("count(*)")).select_from(Ballot).where(Ballot.vote_id == vote["id"])
    )
    assert stored == len(accepted) == closed["result"]["ballots"]


async def test_secret_vote_keeps_who_voted_and_what_was_chosen_apart(
    app: Litestar, make_client: ClientFactory, world: World, db: AsyncSession
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world, secret=True)
    await open_vote(chair, vote["id"])
    for code, choice in (("AAA", "yes"), ("BBB", "no"), ("CCC", "yes")):
        phone = await make_client(token=world.token[f"{code}-head"])
        tracker = uuid.uuid4().hex
        response = await phone.post(
            f"/api/votes/{vote['id']}/ballots",
            json={
                "ballots": [
                    {
                        "nmo_id": world.nmo[code],
                        "ballot_id": bid(),
                        "choice": choice,
                        "tracker": tracker,
                    }
                ]
            },
        )
        assert response.status_code == 200, response.text
    assert await db.scalar(select(text("count(*)")).select_from(Ballot)) == 0
    participation = (await db.execute(select(Participation))).scalars().all()
    assert sorted(p.nmo_id for p in participation) == sorted(
        world.nmo[c] for c in ("AAA", "BBB", "CCC")
    )
    choices = (await db.execute(select(SecretChoice))).scalars().all()
    assert sorted(c.choice for c in choices) == ['["no"]', '["yes"]', '["yes"]']

    # The choice table has no column in common with participation but the vote itself,
    # no time, and random keys: nothing to join on.
    def columns(conn: Any, table: str) -> set[str]:
        return {c["name"] for c in inspect(conn).get_columns(table)}

    conn = await db.connection()
    choice_cols = await conn.run_sync(columns, "secret_choice")
    part_cols = await conn.run_sync(columns, "participation")
    assert choice_cols == {"id", "vote_id", "choice", "weight", "tracker"}
    assert choice_cols & part_cols == {"id", "vote_id"}
    assert {c.id for c in choices}.isdisjoint({p.id for p in participation})
    assert all(c.id > 10_000 for c in choices)  # random 63-bit keys, not a sequence
    closed = (await chair.post(f"/api/votes/{vote['id']}/close")).json()
    assert closed["result"]["totals"]["yes"] == "2.5" and closed["result"]["totals"]["no"] == "2"


async def test_election_rounds_drop_the_last_candidate_until_one_has_a_majority(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(
        app,
        nmos=[
            ("AAA", "full", 1),
            ("BBB", "full", 1),
            ("CCC", "full", 1),
            ("FFF", "full", 1),
            ("GGG", "full", 1),
        ],
    )
    chair = await make_client(staff="chair")
    vote = await make_vote(
        chair, world, kind="election", question="President", candidates=["Ada", "Bea", "Cyd"]
    )
    assert vote["secret"] is True
    assert [o["key"] for o in vote["options"]] == ["c1", "c2", "c3", "RON"]
    await open_vote(chair, vote["id"])
    phones = {c: await make_client(token=world.token[f"{c}-head"]) for c in world.nmo}
    too_many = await phones["AAA"].post(
        f"/api/votes/{vote['id']}/ballots",
        json={"ballots": [{"nmo_id": world.nmo["AAA"], "ballot_id": bid(), "marks": ["c1", "c2"]}]},
    )
    assert too_many.status_code == 422
    assert "at most 1" in too_many.json()["message"]
    round_one = {"AAA": "c1", "BBB": "c1", "CCC": "c2", "FFF": "c2", "GGG": "c3"}
    for code, mark in round_one.items():
        response = await phones[code].post(
            f"/api/votes/{vote['id']}/ballots",
            json={"ballots": [{"nmo_id": world.nmo[code], "ballot_id": bid(), "marks": [mark]}]},
        )
        assert response.status_code == 200, response.text
    result = (await chair.post(f"/api/votes/{vote['id']}/close")).json()["result"]
    assert result["elected"] == [] and result["rounds"][-1]["outcome"] == "next_round"
    assert result["rounds"][-1]["dropped"] == ["c3"]
    second = await chair.post(f"/api/votes/{vote['id']}/next-round")
    assert second.status_code == 201, second.text
    nxt = second.json()
    assert nxt["round_no"] == 2 and [o["key"] for o in nxt["options"]] == ["c1", "c2", "RON"]
    assert [o["label"] for o in nxt["options"]] == ["Ada", "Bea", "Re-open nominations"]
    again = await chair.post(f"/api/votes/{vote['id']}/next-round")
    assert again.status_code == 409
    await open_vote(chair, nxt["id"])
    for code, mark in {"AAA": "c1", "BBB": "c1", "CCC": "c2", "FFF": "c2", "GGG": "c1"}.items():
        response = await phones[code].post(
            f"/api/votes/{nxt['id']}/ballots",
            json={"ballots": [{"nmo_id": world.nmo[code], "ballot_id": bid(), "marks": [mark]}]},
        )
        assert response.status_code == 200, response.text
    final = (await chair.post(f"/api/votes/{nxt['id']}/close")).json()["result"]
    assert final["elected"] == ["c1"]
    assert final["rounds"][-1]["totals"]["c1"] == "3"


async def test_re_open_nominations_winning_leaves_the_post_open(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world, kind="election", question="Treasurer", candidates=["Ada"])
    await open_vote(chair, vote["id"])
    for code, mark in (("AAA", "RON"), ("BBB", "RON"), ("CCC", "c1")):
        phone = await make_client(token=world.token[f"{code}-head"])
        response = await phone.post(
            f"/api/votes/{vote['id']}/ballots",
            json={"ballots": [{"nmo_id": world.nmo[code], "ballot_id": bid(), "marks": [mark]}]},
        )
        assert response.status_code == 200
    result = (await chair.post(f"/api/votes/{vote['id']}/close")).json()["result"]
    assert result["post_open"] is True and result["elected"] == []
    assert "open" in result["explanation"].lower()


async def test_a_named_ballot_can_be_changed_before_close_when_the_assembly_allows_it(
    app: Litestar, make_client: ClientFactory, db: AsyncSession
) -> None:
    world = await seed_world(app, vote_change_allowed=True)
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    phone = await make_client(token=world.token["AAA-head"])
    first = (await cast(phone, vote["id"], world.nmo["AAA"], "no")).json()["ballots"][0]
    changed = await cast(phone, vote["id"], world.nmo["AAA"], "yes")
    assert changed.status_code == 200
    row = changed.json()["ballots"][0]
    assert row["status"] == "changed" and row["receipt"] != first["receipt"]
    stored = (await db.execute(select(Ballot.choice).where(Ballot.vote_id == vote["id"]))).scalars()
    assert list(stored) == ['["yes"]']
    result = (await chair.post(f"/api/votes/{vote['id']}/close")).json()["result"]
    assert result["counts"] == {"yes": 1, "no": 0, "abstain": 0}


async def test_a_proxy_holder_and_its_principal_racing_store_exactly_one_ballot(
    app: Litestar, make_client: ClientFactory, db: AsyncSession
) -> None:
    world = await seed_world(app, proxies_enabled=True)
    async with app.state.ctx.session_maker() as s:
        assembly = await credentials.get_assembly(s, world.assembly_id)
        giver = await credentials.get_nmo(s, world.nmo["BBB"])
        await credentials.give_proxy(
            s, SECRETARIAT, assembly, giver, await credentials.get_nmo(s, world.nmo["AAA"])
        )
        await s.commit()
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    holder = await make_client(token=world.token["AAA-head"])
    principal = await make_client(token=world.token["BBB-head"])
    results = await asyncio.gather(
        cast(holder, vote["id"], world.nmo["BBB"], "yes"),
        cast(principal, vote["id"], world.nmo["BBB"], "no"),
    )
    assert [r.status_code for r in results] == [200, 403]
    assert "through its proxy" in results[1].json()["message"]
    stored = (
        await db.execute(select(Ballot.choice).where(Ballot.nmo_id == world.nmo["BBB"]))
    ).scalars()
    assert list(stored) == ['["yes"]']


async def test_a_process_reads_an_open_votes_ballot_sheet_once_and_it_matches_the_electorate(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    """Ballot checks use the options and the frozen electorate read once per vote and process;
    what they allow is exactly what the stored electorate says, for every caster."""
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    head = await make_client(token=world.token["AAA-head"])
    assert (await cast(head, vote["id"], world.nmo["AAA"], "yes")).status_code == 200
    sheets = app.state.ctx.ballot_sheets
    sheet = sheets.cached(vote["id"])
    async with app.state.ctx.session_maker() as db:
        assert await service.read_ballot_sheet(db, await service.get_vote(db, vote["id"])) == sheet
        entries = (
            (await db.execute(select(ElectorateEntry).where(ElectorateEntry.vote_id == vote["id"])))
            .scalars()
            .all()
        )
    assert sheet.option_keys == ("yes", "no", "abstain")
    assert {
        (delegate, nmo, c.nmo_code, c.weight)
        for delegate, rights in sheet.casters.items()
        for nmo, c in rights.items()
    } == {(e.cast_by_delegate_id, e.nmo_id, e.nmo_code, e.weight) for e in entries}
    # A second ballot request reuses the sheet rather than reading it again.
    bbb = await make_client(token=world.token["BBB-head"])
    assert (await cast(bbb, vote["id"], world.nmo["BBB"], "no")).status_code == 200
    assert sheets.cached(vote["id"]) is sheet
    # And a right the sheet does not give is refused with the reason, as before.
    refused = await cast(bbb, vote["id"], world.nmo["CCC"], "yes")
    assert refused.status_code == 403 and refused.json()["error"] == "not_entitled"
    # What the phones are shown (rights and receipts) is the same read from the sheet.
    async with app.state.ctx.session_maker() as db:
        row = await service.get_vote(db, vote["id"])
        from_sheet = await service.rights_by_delegate(db, row, sheets=sheets)
        assert from_sheet == await service.rights_by_delegate(db, row)
        head = world.delegate["BBB-head"]
        assert await service.rights_by_delegate(db, row, head, sheets) == {head: from_sheet[head]}
    assert [r["voted"] for r in from_sheet[world.delegate["AAA-head"]]] == [True]


async def test_a_vote_closed_by_another_process_refuses_ballots_checked_against_its_sheet(
    app: Litestar, settings: Any, make_client: ClientFactory, world: World
) -> None:
    """Ballot checks answer from the open vote's sheet without reading the vote. When another
    server process closes the vote, this one's writer still refuses every ballot (it reads the
    vote's state where it stores), says why, stores nothing, and drops the sheet; and a vote
    closed here drops its sheet at once."""
    from assembly.db import create_engine

    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    aaa = await make_client(token=world.token["AAA-head"])
    assert (await cast(aaa, vote["id"], world.nmo["AAA"], "yes")).status_code == 200
    sheets = app.state.ctx.ballot_sheets
    assert sheets.cached(vote["id"]) is not None
    other = create_engine(settings)  # another process closing the vote
    try:
        async with other.begin() as conn:
            await conn.execute(
                text("UPDATE vote SET state = 'closed' WHERE id = :id"), {"id": vote["id"]}
            )
    finally:
        await other.dispose()
    bbb = await make_client(token=world.token["BBB-head"])
    late = await cast(bbb, vote["id"], world.nmo["BBB"], "no")
    assert late.status_code == 409, late.text
    assert late.json()["ballots"][0]["status"] == "refused"
    assert "closed" in late.json()["message"]
    assert sheets.cached(vote["id"]) is None
    again = await cast(bbb, vote["id"], world.nmo["BBB"], "no")
    assert again.status_code == 409 and again.json()["error"] == "vote_closed", again.text
    async with app.state.ctx.session_maker() as db:
        stored = (
            await db.execute(select(Ballot.nmo_id).where(Ballot.vote_id == vote["id"]))
        ).scalars()
        assert list(stored) == [world.nmo["AAA"]]
    # Closed by this process: the sheet goes with the close, before any ballot comes.
    second = await make_vote(chair, world)
    await open_vote(chair, second["id"])
    assert (await cast(aaa, second["id"], world.nmo["AAA"], "yes")).status_code == 200
    assert sheets.cached(second["id"]) is not None
    response = await chair.post(f"/api/votes/{second['id']}/close")
    assert response.status_code == 200, response.text
    assert sheets.cached(second["id"]) is None
