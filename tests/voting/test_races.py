"""Races at the ballot box, through the HTTP API with real concurrency (asyncio.gather over
separate clients), repeated: one right from two phones, a proxy holder against its principal,
the chair closing while ballots arrive. Each ends with exactly one outcome per ballot, every
loser told why, and nothing half-stored; the suite runs them on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections import Counter
from collections.abc import Awaitable
from typing import Any

import pytest
from litestar import Litestar
from sqlalchemy import func, select

from assembly.credentials import service as credentials
from assembly.voting.models import Ballot, Participation, SecretChoice
from tests.conftest import SECRETARIAT, ClientFactory, World, seed_world

REPEATS = 4
ALREADY_VOTED = "has already voted in this vote"
CLOSED = "This vote is closed: ballots are no longer accepted."


def bid() -> str:
    return uuid.uuid4().hex


async def open_new_vote(chair: Any, world: World, *, secret: bool = False) -> int:
    response = await chair.post(
        f"/api/assemblies/{world.assembly_id}/votes",
        json={"question": "Shall the report be approved?", "secret": secret},
    )
    assert response.status_code == 201, response.text
    vote_id = int(response.json()["id"])
    opened = await chair.post(f"/api/votes/{vote_id}/open", json={})
    assert opened.status_code == 200, opened.text
    return vote_id


async def cast(
    client: Any, vote_id: int, nmo_id: int, choice: str, ballot_id: str | None = None
) -> Any:
    return await client.post(
        f"/api/votes/{vote_id}/ballots",
        json={"ballots": [{"nmo_id": nmo_id, "ballot_id": ballot_id or bid(), "choice": choice}]},
    )


async def stored(app: Litestar, vote_id: int) -> dict[str, Any]:
    """What the database holds for the vote, read in a fresh session (no stale snapshot)."""
    async with app.state.ctx.session_maker() as s:
        ballots = (await s.execute(select(Ballot).where(Ballot.vote_id == vote_id))).scalars()
        participations = (
            await s.execute(select(Participation).where(Participation.vote_id == vote_id))
        ).scalars()
        choices = (
            await s.execute(select(SecretChoice.choice).where(SecretChoice.vote_id == vote_id))
        ).scalars()
        return {
            "ballots": list(ballots),
            "participations": list(participations),
            "choices": [json.loads(c)[0] for c in choices],
        }


async def log_entries(client: Any, world: World, vote_id: int, kind: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/assemblies/{world.assembly_id}/log/entries")
    assert response.status_code == 200, response.text
    return [
        data
        for data in (json.loads(e["data"]) for e in response.json() if e["kind"] == kind)
        if data["vote"] == vote_id
    ]


async def later(delay: float, request: Awaitable[Any]) -> Any:
    await asyncio.sleep(delay)
    return await request


def only_ballot(response: Any) -> dict[str, Any]:
    ballots = response.json()["ballots"]
    assert len(ballots) == 1, response.text
    return dict(ballots[0])


# --- one right, two phones -------------------------------------------------------------


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_two_phones_sending_different_ballots_for_one_right_store_exactly_one(
    app: Litestar, make_client: ClientFactory, world: World, secret: bool
) -> None:
    chair = await make_client(staff="chair")
    # The head on two phones holds BBB's vote; BBB's other delegate does not, and is told so.
    phone_a = await make_client(token=world.token["BBB-head"])
    phone_b = await make_client(token=world.token["BBB-head"])
    colleague = await make_client(token=world.token["BBB-del"])
    for _ in range(REPEATS):
        vote_id = await open_new_vote(chair, world, secret=secret)
        a, b, c = await asyncio.gather(
            cast(phone_a, vote_id, world.nmo["BBB"], "yes"),
            cast(phone_b, vote_id, world.nmo["BBB"], "no"),
            cast(colleague, vote_id, world.nmo["BBB"], "abstain"),
        )
        assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
        winner, loser = (a, b) if a.status_code == 200 else (b, a)
        won = only_ballot(winner)
        assert won["status"] == "recorded" and won["receipt"]
        lost = only_ballot(loser)
        assert lost["status"] == "refused" and not lost["receipt"]
        assert loser.json()["message"].startswith(f"BBB {ALREADY_VOTED}")
        assert (c.status_code, c.json()["message"]) == (
            403,
            "The vote of BBB in this vote is cast by BBB-head, not by you.",
        )
        winning_choice = "yes" if winner is a else "no"

        held = await stored(app, vote_id)
        if secret:
            assert held["ballots"] == []
            assert [(p.nmo_id, p.receipt) for p in held["participations"]] == [
                (world.nmo["BBB"], won["receipt"])
            ]
            assert held["choices"] == [winning_choice]
        else:
            assert held["participations"] == [] and held["choices"] == []
            assert [(b.nmo_id, b.receipt, b.choice) for b in held["ballots"]] == [
                (world.nmo["BBB"], won["receipt"], json.dumps([winning_choice]))
            ]

        closed = await chair.post(f"/api/votes/{vote_id}/close")
        assert closed.status_code == 200, closed.text
        result = closed.json()["result"]
        assert result["ballots"] == 1
        assert result["counts"][winning_choice] == 1 and sum(result["counts"].values()) == 1
        if secret:
            (voted,) = await log_entries(chair, world, vote_id, "secret_participation")
            assert voted["voted"] == ["BBB"]
            (logged,) = await log_entries(chair, world, vote_id, "secret_choices")
            assert [c["choice"] for c in logged["choices"]] == [[winning_choice]]
        else:
            logged_ballots = await log_entries(chair, world, vote_id, "ballot")
            assert [(e["nmo"], e["receipt"]) for e in logged_ballots] == [("BBB", won["receipt"])]


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_the_same_ballot_sent_at_once_from_two_phones_gets_one_receipt_and_one_row(
    app: Litestar, make_client: ClientFactory, world: World, secret: bool
) -> None:
    chair = await make_client(staff="chair")
    phones = [await make_client(token=world.token["AAA-head"]) for _ in range(3)]
    for _ in range(REPEATS):
        vote_id = await open_new_vote(chair, world, secret=secret)
        ballot_id = bid()
        responses = await asyncio.gather(
            *(cast(p, vote_id, world.nmo["AAA"], "no", ballot_id) for p in phones)
        )
        assert [r.status_code for r in responses] == [200] * len(phones), [
            r.text for r in responses
        ]
        outcomes = [only_ballot(r) for r in responses]
        assert sorted(o["status"] for o in outcomes) == ["duplicate"] * (len(phones) - 1) + [
            "recorded"
        ]
        receipts = {o["receipt"] for o in outcomes}
        assert len(receipts) == 1 and "" not in receipts
        held = await stored(app, vote_id)
        rows = held["participations"] if secret else held["ballots"]
        assert [(r.nmo_id, r.client_ballot_id, r.receipt) for r in rows] == [
            (world.nmo["AAA"], ballot_id, receipts.pop())
        ]
        if secret:
            assert held["choices"] == ["no"]


# --- a proxy holder and its principal -------------------------------------------------


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_a_proxy_holder_racing_its_principal_stores_one_ballot_and_tells_the_principal_why(
    app: Litestar, make_client: ClientFactory, secret: bool
) -> None:
    world = await seed_world(app, proxies_enabled=True)
    async with app.state.ctx.session_maker() as s:
        assembly = await credentials.get_assembly(s, world.assembly_id)
        await credentials.give_proxy(
            s,
            SECRETARIAT,
            assembly,
            await credentials.get_nmo(s, world.nmo["BBB"]),
            await credentials.get_nmo(s, world.nmo["AAA"]),
        )
        await s.commit()
    chair = await make_client(staff="chair")
    # The holder also uses two phones: its own two sends for BBB race each other as well.
    holder_a = await make_client(token=world.token["AAA-head"])
    holder_b = await make_client(token=world.token["AAA-head"])
    principal = await make_client(token=world.token["BBB-head"])
    for _ in range(REPEATS):
        vote_id = await open_new_vote(chair, world, secret=secret)
        by_holder_a, by_holder_b, by_principal, own = await asyncio.gather(
            cast(holder_a, vote_id, world.nmo["BBB"], "yes"),
            cast(holder_b, vote_id, world.nmo["BBB"], "abstain"),
            cast(principal, vote_id, world.nmo["BBB"], "no"),
            cast(principal, vote_id, world.nmo["AAA"], "no"),
        )
        assert (by_principal.status_code, by_principal.json()["message"]) == (
            403,
            "The vote of BBB in this vote is cast by AAA-head through its proxy, not by you.",
        )
        assert own.status_code == 403
        assert (
            own.json()["message"] == "The vote of AAA in this vote is cast by AAA-head, not by you."
        )
        holder = [by_holder_a, by_holder_b]
        assert sorted(r.status_code for r in holder) == [200, 409]
        winner = next(r for r in holder if r.status_code == 200)
        loser = next(r for r in holder if r.status_code == 409)
        assert loser.json()["message"].startswith(f"BBB {ALREADY_VOTED}")
        winning_choice = "yes" if winner is by_holder_a else "abstain"
        receipt = only_ballot(winner)["receipt"]

        held = await stored(app, vote_id)
        if secret:
            assert [(p.nmo_id, p.receipt) for p in held["participations"]] == [
                (world.nmo["BBB"], receipt)
            ]
            assert held["choices"] == [winning_choice] and held["ballots"] == []
        else:
            assert [(b.nmo_id, b.cast_by_delegate_id, b.choice) for b in held["ballots"]] == [
                (world.nmo["BBB"], world.delegate["AAA-head"], json.dumps([winning_choice]))
            ]
            assert held["participations"] == [] and held["choices"] == []


# --- the chair closing while ballots arrive -------------------------------------------


@pytest.mark.parametrize("secret", [False, True], ids=["named", "secret"])
async def test_closing_during_a_burst_keeps_every_acknowledged_ballot_and_stores_no_refused_one(
    app: Litestar, make_client: ClientFactory, secret: bool
) -> None:
    codes = [f"N{i:02d}" for i in range(8)]
    world = await seed_world(app, nmos=[(code, "full", i + 1) for i, code in enumerate(codes)])
    chair = await make_client(staff="chair")
    phones = {code: await make_client(token=world.token[f"{code}-head"]) for code in codes}
    choices = ["yes", "no", "abstain"]
    rng = random.Random(7)
    for repeat in range(REPEATS):
        vote_id = await open_new_vote(chair, world, secret=secret)
        # Each phone sends its ballot and, as a phone with a bad connection does, sends it
        # again (same ballot id) a little later; the chair closes somewhere in the burst.
        sends: list[tuple[str, str, str, float]] = []
        for i, code in enumerate(codes):
            ballot_id = bid()
            choice = choices[(i + repeat) % 3]
            sends.append((code, ballot_id, choice, rng.uniform(0, 0.03)))
            sends.append((code, ballot_id, choice, rng.uniform(0, 0.06)))

        closed, *responses = await asyncio.gather(
            later(0.01 * repeat, chair.post(f"/api/votes/{vote_id}/close")),
            *(
                later(delay, cast(phones[code], vote_id, world.nmo[code], choice, ballot_id))
                for code, ballot_id, choice, delay in sends
            ),
        )
        assert closed.status_code == 200, closed.text
        result = closed.json()["result"]

        acknowledged: dict[str, tuple[str, str]] = {}  # code -> (receipt, choice)
        refused: set[str] = set()
        for (code, _, choice, _), response in zip(sends, responses, strict=True):
            if response.status_code == 200:
                outcome = only_ballot(response)
                assert outcome["status"] in ("recorded", "duplicate"), response.text
                # A re-send answers with the receipt the first send got.
                assert acknowledged.setdefault(code, (outcome["receipt"], choice)) == (
                    outcome["receipt"],
                    choice,
                )
            else:
                assert (response.status_code, response.json()["message"]) == (409, CLOSED)
                refused.add(code)

        held = await stored(app, vote_id)
        rows = held["participations"] if secret else held["ballots"]
        # Every acknowledged ballot is stored with its receipt; no refused-only one is.
        assert {world.nmo[c]: r for c, (r, _) in acknowledged.items()} == {
            row.nmo_id: row.receipt for row in rows
        }
        assert len(rows) == len(acknowledged)
        assert refused | set(acknowledged) <= set(codes)
        # The result counts exactly those ballots and equals a recount of what is stored.
        if secret:
            recount = Counter(held["choices"])
            assert len(held["choices"]) == len(rows) and held["ballots"] == []
        else:
            recount = Counter(json.loads(b.choice)[0] for b in held["ballots"])
            assert held["participations"] == [] and held["choices"] == []
        assert recount == Counter(choice for _, choice in acknowledged.values())
        assert result["ballots"] == len(acknowledged)
        assert result["counts"] == {k: recount.get(k, 0) for k in choices}
        weight = sum(codes.index(c) + 1 for c in acknowledged)
        assert result["weight_cast"] == str(weight)
        # The audit log holds exactly the acknowledged ballots.
        if secret:
            (voted,) = await log_entries(chair, world, vote_id, "secret_participation")
            assert voted["voted"] == sorted(acknowledged)
            (logged_choices,) = await log_entries(chair, world, vote_id, "secret_choices")
            assert Counter(c["choice"][0] for c in logged_choices["choices"]) == recount
        else:
            logged = await log_entries(chair, world, vote_id, "ballot")
            assert sorted((e["nmo"], e["receipt"], e["choice"][0]) for e in logged) == sorted(
                (c, r, ch) for c, (r, ch) in acknowledged.items()
            )
        # After the close nothing more gets in.
        late = await cast(phones[codes[0]], vote_id, world.nmo[codes[0]], "yes")
        assert (late.status_code, late.json()["message"]) == (409, CLOSED)
        async with app.state.ctx.session_maker() as s:
            table = Participation if secret else Ballot
            count = await s.scalar(
                select(func.count()).select_from(table).where(table.vote_id == vote_id)
            )
        assert count == len(acknowledged)
