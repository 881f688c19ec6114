"""The vote screens: the chair runs votes from the chair page, a right holder votes from the
phone, the projector shows the room the turnout and the result; secret votes stay secret on
every page, and a vote that opens reaches exactly the phones that hold a vote."""

from __future__ import annotations

import contextlib
import queue
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select

from assembly.app import create_app
from assembly.credentials import service as credentials
from assembly.db import writing
from assembly.security import CSRF_COOKIE
from assembly.settings import Settings
from assembly.voting import screens
from assembly.voting import service as voting
from assembly.voting.models import Ballot, Participation, Vote
from tests.conftest import SECRETARIAT, ClientFactory, World, seed_world, with_csrf_token_sync

HX = {"HX-Request": "true"}


# --- helpers ----------------------------------------------------------------------------


async def prepare(chair: Any, world: World, **fields: str) -> int:
    """Prepare a vote with the chair page's form (no JavaScript) and return its id."""
    form = {"question": "Shall the agenda be adopted?", "kind": "motion", "ballot": "named"}
    form.update(fields)
    response = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/votes", data=form, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    async with writing(chair.app.state.ctx.session_maker) as db:
        newest = await db.scalar(
            select(func.max(Vote.id)).where(Vote.assembly_id == world.assembly_id)
        )
    assert newest is not None
    assert response.headers["location"] == f"/chair/votes?assembly={world.assembly_id}"
    return int(newest)


async def open_from_page(chair: Any, vote_id: int, countdown: str = "") -> str:
    response = await chair.post(
        f"/chair/votes/{vote_id}/open", data={"countdown": countdown}, headers=HX
    )
    assert response.status_code == 200, response.text
    return str(response.text)


async def cast(phone: Any, vote_id: int, nmo_id: int, **ballot: Any) -> dict[str, Any]:
    response = await phone.post(
        f"/api/votes/{vote_id}/ballots",
        json={"ballots": [{"nmo_id": nmo_id, "ballot_id": uuid.uuid4().hex, **ballot}]},
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["ballots"][0])


def section(html: str, element_id: str) -> str:
    """The element with this id, up to its closing tag (the fragments do not nest their kind)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"', html)
    assert match, f"no #{element_id} in the page"
    tag = match.group(1)
    start = match.start()
    depth, pos = 0, start
    pattern = re.compile(rf"<(/?){tag}\b[^>]*>")
    for m in pattern.finditer(html, start):
        depth += -1 if m.group(1) else 1
        pos = m.end()
        if depth == 0:
            break
    return html[start:pos]


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def give_proxy(app: Litestar, world: World, giver: str, holder: str) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        await credentials.give_proxy(
            db,
            SECRETARIAT,
            await credentials.get_assembly(db, world.assembly_id),
            await credentials.get_nmo(db, world.nmo[giver]),
            await credentials.get_nmo(db, world.nmo[holder]),
        )
        await db.commit()


async def add_observer(app: Litestar, world: World, code: str) -> str:
    async with writing(app.state.ctx.session_maker) as db:
        nmo = await credentials.get_nmo(db, world.nmo[code])
        _, token = await credentials.add_delegate(
            db, app.state.ctx.sealer, nmo, "test", name=f"{code}-obs", role="observer"
        )
        await db.commit()
    return token


async def ballots_stored(app: Litestar, vote_id: int) -> int:
    async with writing(app.state.ctx.session_maker) as db:
        named = await db.scalar(
            select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote_id)
        )
        secret = await db.scalar(
            select(func.count()).select_from(Participation).where(Participation.vote_id == vote_id)
        )
    return int(named or 0) + int(secret or 0)


# --- who may open what ------------------------------------------------------------------


def test_every_vote_screen_declares_its_roles() -> None:
    for handler in screens.handlers():
        assert handler.opt.get("roles"), f"{handler} declares no roles"


# --- chair ------------------------------------------------------------------------------


async def test_the_chair_prepares_and_opens_a_vote_from_the_chair_page(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    home = (await chair.get("/chair")).text
    # The chair page loads its votes section; without JavaScript it links to it.
    assert f'hx-get="/chair/votes?assembly={world.assembly_id}" hx-trigger="load"' in home
    assert f'href="/chair/votes?assembly={world.assembly_id}"' in home

    page = (await chair.get(f"/chair/votes?assembly={world.assembly_id}")).text
    assert "Quorum met" in page and '<h2 id="votes-title">Votes</h2>' in page
    form = section(page, "vote-form")
    assert f'action="/chair/assemblies/{world.assembly_id}/votes"' in form
    # The assembly's defaults are preselected: simple for motions, two thirds for procedural.
    default = '<option value="" selected>Default: Simple (yes &gt; no); procedural: Two thirds'
    assert default in form, form
    for kind in ("motion", "procedural", "election"):
        assert f'name="kind" value="{kind}"' in form
    assert 'name="candidates"' in form and 'name="seats"' in form and 'name="method"' in form
    assert "No votes yet." in page

    vote_id = await prepare(chair, world, question="Shall the minutes be approved?")
    listed = section(
        (await chair.get(f"/chair/votes?assembly={world.assembly_id}")).text, "vote-list"
    )
    item = section(listed, f"vote-item-{vote_id}")
    assert "Shall the minutes be approved?" in item and "Prepared" in item
    assert "Motion · Simple majority of the votes cast · named vote" in text_of(item)
    assert f'action="/chair/votes/{vote_id}/open"' in item and 'name="countdown"' in item
    assert f'action="/chair/votes/{vote_id}/cancel"' in item

    answer = await open_from_page(chair, vote_id, countdown="90")
    panel = section(answer, "vote-panel")
    assert 'hx-swap-oob="true"' in panel and f'data-vote-id="{vote_id}"' in panel
    assert "Voting open" in panel and "Shall the minutes be approved?" in panel
    assert "0 of 3 votes cast" in text_of(panel)
    assert 'class="countdown" data-ends="' in panel
    # A named vote: the chair sees who has not voted yet.
    assert "Not voted yet (3)" in panel and "AAA, BBB, CCC" in panel
    item = section(answer, f"vote-item-{vote_id}")
    assert f'action="/chair/votes/{vote_id}/close"' in item
    assert 'hx-confirm="Close the vote' in item and 'hx-vals=\'{"confirmed": "1"}\'' in item
    vote = (await chair.get(f"/api/votes/{vote_id}")).json()
    assert vote["state"] == "open" and vote["countdown_ends_at"] is not None


async def test_preparing_a_vote_with_htmx_answers_a_fresh_form_and_the_new_list(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    response = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/votes",
        data={
            "question": "Election of the Treasurer",
            "kind": "election",
            "candidates": "Amira Haddad\nLucas Ferreira\n\n",
            "seats": "1",
            "method": "instant_runoff",
        },
        headers=HX,
    )
    assert response.status_code == 200, response.text
    form = section(response.text, "vote-form")
    assert "The vote is prepared" in form and "Election of the Treasurer" not in form
    listed = section(response.text, "vote-list")
    assert 'hx-swap-oob="innerHTML"' in listed
    assert "Election of the Treasurer" in listed
    assert "Election · instant run-off · secret ballot" in text_of(listed)

    refused = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/votes",
        data={"question": "  ", "description": "typed text", "kind": "procedural"},
        headers=HX,
    )
    assert refused.status_code == 422
    assert "A vote needs a question" in refused.text
    # What was typed stays, so only the wrong field needs fixing.
    assert "typed text" in refused.text
    assert 'name="kind" value="procedural" checked' in refused.text


async def test_closing_and_cancelling_ask_first_without_javascript(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    await open_from_page(chair, vote_id)
    asked = await chair.post(f"/chair/votes/{vote_id}/close", data={})
    assert asked.status_code == 200
    assert "Close this vote?" in asked.text and 'name="confirmed" value="1"' in asked.text
    assert (await chair.get(f"/api/votes/{vote_id}")).json()["state"] == "open"
    closed = await chair.post(
        f"/chair/votes/{vote_id}/close", data={"confirmed": "1"}, follow_redirects=False
    )
    assert closed.status_code == 303
    assert closed.headers["location"] == f"/chair/votes?assembly={world.assembly_id}&vote={vote_id}"
    assert (await chair.get(f"/api/votes/{vote_id}")).json()["state"] == "closed"

    draft = await prepare(chair, world, question="Postpone the item?", kind="procedural")
    assert "Cancel this vote?" in (await chair.post(f"/chair/votes/{draft}/cancel", data={})).text
    cancelled = await chair.post(
        f"/chair/votes/{draft}/cancel", data={"confirmed": "1"}, headers=HX
    )
    assert cancelled.status_code == 200 and "The vote is cancelled." in cancelled.text
    assert "This vote was cancelled" in section(cancelled.text, "vote-panel")


async def test_opening_without_quorum_is_refused_next_to_the_list(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, check_in=False)
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    refused = await chair.post(f"/chair/votes/{vote_id}/open", data={}, headers=HX)
    assert refused.status_code == 409
    assert 'class="notice error" role="alert">There is no quorum' in refused.text
    assert "Open the vote" in refused.text  # still a draft, still openable


async def test_the_chair_panel_lists_the_nmos_that_have_not_voted_in_a_named_vote(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    await open_from_page(chair, vote_id)
    phone = await make_client(token=world.token["AAA-head"])
    await cast(phone, vote_id, world.nmo["AAA"], choice="yes")
    panel = section(
        (await chair.get(f"/chair/votes?assembly={world.assembly_id}")).text, "vote-panel"
    )
    assert "1 of 3 votes cast" in text_of(panel)
    missing = section(panel, "turnout-" + str(vote_id))
    assert "Not voted yet (2)" in missing and "BBB, CCC" in missing and "AAA" not in missing
    fragment = await chair.get(f"/chair/votes/{vote_id}/panel", headers=HX)
    assert "Not voted yet (2)" in fragment.text and 'hx-swap-oob="true"' in fragment.text

    secret = await prepare(chair, world, question="Thank the organizers?", ballot="secret")
    await open_from_page(chair, secret)
    panel = section((await chair.get(f"/chair/votes/{secret}/panel")).text, "vote-panel")
    assert "secret ballot" in panel and "Not voted yet" not in panel


async def test_countdown_and_projector_actions_from_the_chair_page(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    first = await prepare(chair, world)
    second = await prepare(chair, world, question="Second question?")
    refused = await chair.post(
        f"/chair/votes/{first}/countdown", data={"seconds": "30"}, headers=HX
    )
    assert refused.status_code == 409 and "only while the vote is open" in refused.text
    await open_from_page(chair, first)
    counted = await chair.post(
        f"/chair/votes/{first}/countdown", data={"seconds": "30"}, headers=HX
    )
    assert counted.status_code == 200 and "Countdown: 30 seconds." in counted.text
    assert 'class="countdown" data-ends=' in section(counted.text, "vote-panel")
    shown = await chair.post(f"/chair/votes/{second}/projector", data={"show": "1"}, headers=HX)
    assert "On the projector" in section(shown.text, f"vote-item-{second}")
    assert "Take off the projector" in section(shown.text, f"vote-item-{second}")
    await chair.post(f"/chair/votes/{first}/projector", data={"show": "1"}, headers=HX)
    votes = {
        v["id"]: v for v in (await chair.get(f"/api/assemblies/{world.assembly_id}/votes")).json()
    }
    assert votes[first]["on_projector"] is True and votes[second]["on_projector"] is False


async def test_an_election_round_without_a_majority_leads_to_the_next_round(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(
        chair,
        world,
        question="Election of the President",
        kind="election",
        candidates="Amira\nLucas\nMei",
        method="rounds",
    )
    await open_from_page(chair, vote_id)
    for code, mark in (("AAA", "c1"), ("BBB", "c2"), ("CCC", "c3")):
        phone = await make_client(token=world.token[f"{code}-head"])
        await cast(phone, vote_id, world.nmo[code], marks=[mark])
    closed = await chair.post(f"/chair/votes/{vote_id}/close", data={"confirmed": "1"}, headers=HX)
    panel = section(closed.text, "vote-panel")
    assert "No majority yet: another round" in panel
    # The explanation names the candidates, not their keys.
    explanation = text_of(section(panel, "vote-panel"))
    # (as whole words: the checkpoint's short root on the panel is hex and may hold "c2")
    assert "Lucas" in explanation and not re.search(r"\bc[123]\b", explanation)
    assert "<svg" in panel
    item = section(closed.text, f"vote-item-{vote_id}")
    assert "Prepare round 2" in item
    nxt = await chair.post(f"/chair/votes/{vote_id}/next-round", headers=HX)
    assert nxt.status_code == 200 and "Round 2 is prepared" in nxt.text
    assert "Prepare round 2" not in section(nxt.text, f"vote-item-{vote_id}")
    round2 = section(nxt.text, "vote-panel")
    assert "round 2" in round2 and "Lucas" in round2 and "Amira" not in round2


@pytest.mark.parametrize(
    ("method", "seats", "ballots"),
    [
        ("rounds", "1", [["c2"], ["c2"], ["c1"]]),
        ("instant_runoff", "1", [["c1", "c2"], ["c2"], ["c3", "c1"]]),
        ("stv", "2", [["c1", "c2"], ["c2", "c3"], ["c3", "c1"]]),
        ("block", "2", [["c1", "c2"], ["c2"], ["c2", "c3"]]),
    ],
)
async def test_every_election_method_shows_its_result_by_candidate_name(
    make_client: ClientFactory, world: World, method: str, seats: str, ballots: list[list[str]]
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(
        chair,
        world,
        question="Election of the Board",
        kind="election",
        candidates="Amira Haddad\nLucas Ferreira\nMei Lin",
        method=method,
        seats=seats,
    )
    await open_from_page(chair, vote_id)
    for code, marks in zip(("AAA", "BBB", "CCC"), ballots, strict=True):
        phone = await make_client(token=world.token[f"{code}-head"])
        await cast(phone, vote_id, world.nmo[code], marks=marks)
    closed = await chair.post(f"/chair/votes/{vote_id}/close", data={"confirmed": "1"}, headers=HX)
    assert closed.status_code == 200, closed.text
    await chair.post(f"/chair/votes/{vote_id}/projector", data={"show": "1"}, headers=HX)
    public = await make_client()
    shown = (await public.get(f"/projector/{world.assembly_id}/vote")).text
    result = (await chair.get(f"/api/votes/{vote_id}")).json()["result"]
    assert '<svg class="chart"' in shown and "Lucas Ferreira" in shown
    assert not re.search(r"\b[cC][123]\b", text_of(shown)), text_of(shown)
    names = {"c1": "Amira Haddad", "c2": "Lucas Ferreira", "c3": "Mei Lin"}
    if result["elected"]:
        elected = ", ".join(names[key] for key in result["elected"])
        assert f"Elected: {elected}" in text_of(shown)


# --- the delegate's phone -----------------------------------------------------------------


async def test_the_delegate_page_holds_the_socket_and_loads_the_current_vote(
    make_client: ClientFactory, world: World
) -> None:
    phone = await make_client(token=world.token["AAA-head"])
    html = (await phone.get("/delegate")).text
    assert f'hx-ext="ws" ws-connect="/ws/assembly/{world.assembly_id}"' in html
    assert 'hx-get="/delegate/vote" hx-trigger="load, assembly:resync from:body' in html
    assert '<script src="/static/ballot.js" defer></script>' in html
    assert 'id="vote-banner"' in html and 'id="my-ballot"' in html
    nothing = await phone.get("/delegate/vote", headers=HX)
    assert nothing.status_code == 200
    assert "<form" not in nothing.text and "Voting is open" not in nothing.text


async def test_a_proxy_holder_gets_one_ballot_per_nmo_and_can_cast_all_the_same(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, proxies_enabled=True)
    await give_proxy(app, world, "BBB", "CCC")
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    await open_from_page(chair, vote_id)
    holder = await make_client(token=world.token["CCC-head"])
    html = (await holder.get("/delegate/vote", headers=HX)).text
    banner, ballot = section(html, "vote-banner"), section(html, "my-ballot")
    assert 'hx-swap-oob="true"' in banner and "Voting is open" in banner
    assert "Shall the agenda be adopted?" in banner
    bbb, ccc = world.nmo["BBB"], world.nmo["CCC"]
    forms = re.findall(r'<form class="ballot-form[^"]*"[^>]*data-nmo="([\d,]+)"', ballot)
    # Their own NMO first, then the vote they carry; then one form for both.
    assert forms == [str(ccc), str(bbb), f"{ccc},{bbb}"]
    assert "Vote of BBB" in ballot and "by proxy" in ballot and "Vote of CCC" in ballot
    assert "Or cast all the same: CCC, BBB" in ballot
    assert ballot.count('name="choice" value="yes"') == 3
    # The same forms post to the page when the phone runs no JavaScript.
    assert ballot.count(f'action="/delegate/vote/{vote_id}/ballots"') == 3

    await cast(holder, vote_id, bbb, choice="no")
    after = section((await holder.get("/delegate/vote", headers=HX)).text, "my-ballot")
    assert re.findall(r'<form class="ballot-form[^"]*"[^>]*data-nmo="([\d,]+)"', after) == [
        str(ccc)
    ]
    assert "Your vote for BBB is recorded" in after and "all the same" not in after


async def test_an_observer_and_a_delegate_without_the_vote_see_no_ballot(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    token = await add_observer(app, world, "AAA")
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    await open_from_page(chair, vote_id)
    for person in (await make_client(token=token), await make_client(token=world.token["AAA-del"])):
        html = (await person.get("/delegate/vote", headers=HX)).text
        assert "Voting is open" in section(html, "vote-banner")
        ballot = section(html, "my-ballot")
        assert "<form" not in ballot and "You do not cast a vote in this one." in ballot
    observer = await make_client(token=token)
    refused = await observer.post(
        f"/delegate/vote/{vote_id}/ballots", data={"nmo": str(world.nmo["AAA"]), "choice": "yes"}
    )
    assert refused.status_code == 403


async def test_after_a_ballot_the_phone_shows_the_receipt(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    await open_from_page(chair, vote_id)
    phone = await make_client(token=world.token["AAA-head"])
    row = await cast(phone, vote_id, world.nmo["AAA"], choice="yes")
    ballot = section((await phone.get("/delegate/vote", headers=HX)).text, "my-ballot")
    assert f'Receipt <strong class="receipt">{row["receipt"]}</strong>' in ballot
    assert "Your vote for AAA is recorded" in ballot and "<form" not in ballot
    await chair.post(f"/chair/votes/{vote_id}/close", data={"confirmed": "1"}, headers=HX)
    html = (await phone.get("/delegate/vote", headers=HX)).text
    assert "Vote closed" in section(html, "vote-banner") and "Adopted" in html
    assert row["receipt"] in section(html, "my-ballot")


async def test_a_phone_without_javascript_reviews_then_casts_once(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    await open_from_page(chair, vote_id)
    phone = await make_client(token=world.token["AAA-head"])
    page = await phone.get("/delegate/vote")
    assert page.status_code == 200 and "Your ballot" in page.text
    nmo = str(world.nmo["AAA"])
    review = await phone.post(f"/delegate/vote/{vote_id}/ballots", data={"nmo": nmo})
    assert review.status_code == 422 and "Choose one option" in review.text
    review = await phone.post(
        f"/delegate/vote/{vote_id}/ballots", data={"nmo": nmo, "choice": "abstain"}
    )
    assert review.status_code == 200
    assert "Check your vote You are voting Abstain for AAA." in text_of(review.text)
    assert await ballots_stored(app, vote_id) == 0  # nothing is cast before the confirmation
    found = re.search(r'name="ballot_id" value="([0-9a-f]{32})"', review.text)
    assert found
    confirm = {"confirmed": "1", "nmo": nmo, "ballot_id": found[1], "mark": "abstain"}
    cast_page = await phone.post(f"/delegate/vote/{vote_id}/ballots", data=confirm)
    assert cast_page.status_code == 200
    receipt = re.search(
        r"The ballot of AAA is recorded \(receipt ([A-Z0-9-]{11})\)", cast_page.text
    )
    assert receipt, cast_page.text
    again = await phone.post(f"/delegate/vote/{vote_id}/ballots", data=confirm)
    assert f"The ballot of AAA was already recorded (receipt {receipt[1]})" in again.text
    assert await ballots_stored(app, vote_id) == 1


async def test_ranked_and_block_elections_get_the_right_inputs_and_refuse_bad_marks(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    ranked = await prepare(
        chair,
        world,
        question="Election of the Secretary",
        kind="election",
        candidates="Amira\nLucas\nMei",
        method="instant_runoff",
    )
    await open_from_page(chair, ranked)
    phone = await make_client(token=world.token["AAA-head"])
    ballot = section((await phone.get("/delegate/vote", headers=HX)).text, "my-ballot")
    assert 'data-ranked="true"' in ballot and 'data-max="4"' in ballot
    for key in ("c1", "c2", "c3", "RON"):
        assert f'<select name="rank-{key}" data-key="{key}"' in ballot
    assert '<option value="4">4</option>' in ballot and "Rank the candidates" in ballot
    nmo = str(world.nmo["AAA"])
    review = await phone.post(
        f"/delegate/vote/{ranked}/ballots", data={"nmo": nmo, "rank-c3": "1", "rank-c1": "2"}
    )
    assert "<strong>1. Mei</strong>, <strong>2. Amira</strong>" in review.text
    assert re.findall(r'name="mark" value="(\w+)"', review.text) == ["c3", "c1"]
    twice = await phone.post(
        f"/delegate/vote/{ranked}/ballots", data={"nmo": nmo, "rank-c3": "1", "rank-c1": "1"}
    )
    assert twice.status_code == 422 and "You gave rank 1 to two candidates" in twice.text
    await chair.post(f"/chair/votes/{ranked}/cancel", data={"confirmed": "1"}, headers=HX)

    block = await prepare(
        chair,
        world,
        question="Election of the Board",
        kind="election",
        candidates="Amira\nLucas\nMei",
        method="block",
        seats="2",
    )
    await open_from_page(chair, block)
    ballot = section((await phone.get("/delegate/vote", headers=HX)).text, "my-ballot")
    assert ballot.count('type="checkbox" name="choice"') == 4 and 'data-max="2"' in ballot
    assert "Mark up to 2 candidates" in ballot
    too_many = await phone.post(
        f"/delegate/vote/{block}/ballots",
        data={"nmo": nmo, "choice": ["c1", "c2", "c3"]},
    )
    assert too_many.status_code == 422
    assert "You marked 3 candidates but this election allows at most 2." in too_many.text


# --- projector ----------------------------------------------------------------------------


async def test_the_projector_shows_the_open_vote_then_the_result_with_a_chart(
    make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    page = (await public.get(f"/projector/{world.assembly_id}")).text
    poller = section(page, "main").split(f'hx-get="/projector/{world.assembly_id}/vote"', 1)[1]
    trigger = re.search(r'hx-trigger="([^"]*)"', poller)
    assert trigger
    if "ws-connect" in page:  # a live screen fetches the vote after each vote message
        assert trigger[1] == "load, assembly:resync from:body, assembly:vote from:body delay:100ms"
    else:  # without the socket, it polls
        assert trigger[1] == "load, every 2s"
    empty = await public.get(f"/projector/{world.assembly_id}/vote")
    assert empty.status_code == 200 and 'data-vote-id=""' in empty.text

    chair = await make_client(staff="chair")
    live_page = (await chair.get(f"/projector/{world.assembly_id}")).text
    assert f'ws-connect="/ws/assembly/{world.assembly_id}?lang=en"' in live_page
    assert "assembly:vote from:body" in live_page
    vote_id = await prepare(chair, world, rule="two_thirds")
    draft = (await public.get(f"/projector/{world.assembly_id}/vote")).text
    assert "Shall the agenda" not in draft  # a draft is not shown unless the chair puts it up
    await open_from_page(chair, vote_id)
    live = (await public.get(f"/projector/{world.assembly_id}/vote")).text
    assert "Shall the agenda be adopted?" in live and "0 of 3 votes cast" in text_of(live)
    assert "Yes" in live and "Abstain" in live  # the options
    for code, choice in (("AAA", "yes"), ("BBB", "yes"), ("CCC", "no")):
        phone = await make_client(token=world.token[f"{code}-head"])
        await cast(phone, vote_id, world.nmo[code], choice=choice)
    closed = await chair.post(f"/chair/votes/{vote_id}/close", data={"confirmed": "1"}, headers=HX)
    assert closed.status_code == 200
    result = (await chair.get(f"/api/votes/{vote_id}")).json()["result"]
    shown = (await public.get(f"/projector/{world.assembly_id}/vote")).text
    assert "Shall the agenda" not in shown  # closed and not on the projector: the room moves on
    await chair.post(f"/chair/votes/{vote_id}/projector", data={"show": "1"}, headers=HX)
    shown = (await public.get(f"/projector/{world.assembly_id}/vote")).text
    assert 'hx-swap-oob="true"' in shown and "Adopted" in shown
    assert result["explanation"] in shown
    assert '<svg class="chart"' in shown and 'aria-label="Yes 3, No 1.5, Abstain 0"' in shown
    assert "Not voted yet" not in shown


# --- secrecy ------------------------------------------------------------------------------

CHOICE = re.compile(r"\b(yes|no|abstain|abstained)\b", re.IGNORECASE)


def assert_secret(html: str, codes: list[str], where: str) -> None:
    """Outside a phone's own ballot no NMO is named at all; inside it, its receipts are shown
    but never a choice."""
    ballot = section(html, "my-ballot") if 'id="my-ballot"' in html else ""
    rest = text_of(html.replace(ballot, "")) if ballot else text_of(html)
    named = [code for code in codes if re.search(rf"\b{code}\b", rest)]
    assert named == [], f"{where} names {named}: {rest}"
    mine = text_of(ballot).replace("ballots are no longer accepted", "")
    assert not CHOICE.search(mine), f"{where}: a choice on the ballot: {mine}"


async def test_a_secret_vote_never_shows_which_nmo_chose_what(
    make_client: ClientFactory, world: World
) -> None:
    codes = ["AAA", "BBB", "CCC"]
    chair = await make_client(staff="chair")
    public = await make_client()
    vote_id = await prepare(chair, world, ballot="secret")
    await open_from_page(chair, vote_id)
    phones = {code: await make_client(token=world.token[f"{code}-head"]) for code in codes}
    for code, choice in zip(codes, ("yes", "no", "abstain"), strict=True):
        await cast(phones[code], vote_id, world.nmo[code], choice=choice)

    async def pages() -> dict[str, str]:
        chair_page = (
            await chair.get(f"/chair/votes?assembly={world.assembly_id}&vote={vote_id}")
        ).text
        seen = {
            "chair panel": section(chair_page, "vote-panel"),
            "chair list": section(chair_page, "vote-list"),
            "projector": (await public.get(f"/projector/{world.assembly_id}/vote")).text,
        }
        for code, phone in phones.items():
            seen[f"{code} phone"] = (await phone.get("/delegate/vote", headers=HX)).text
            seen[f"{code} page"] = section((await phone.get("/delegate/vote")).text, "main")
        return seen

    await chair.post(f"/chair/votes/{vote_id}/projector", data={"show": "1"}, headers=HX)
    while_open = await pages()
    for code in codes:
        assert f"Your vote for {code} is recorded" in while_open[f"{code} phone"]
    await chair.post(f"/chair/votes/{vote_id}/close", data={"confirmed": "1"}, headers=HX)
    after = await pages()
    assert "Yes 1, No 2, Abstain 1.5" in after["projector"]  # totals are published
    for code in codes:
        assert "recorded, receipt" in after[f"{code} phone"]
    for when, seen in (("open", while_open), ("closed", after)):
        for where, html in seen.items():
            assert_secret(html, codes, f"{where} ({when})")


# --- live: a vote that opens reaches the phones that hold a vote ---------------------------


@contextmanager
def server(settings: Settings) -> Iterator[TestClient[Litestar]]:
    with TestClient(app=create_app(settings), base_url="http://testserver.local", timeout=10) as c:
        yield with_csrf_token_sync(c)


def session_of(client: TestClient[Litestar], path: str, **kwargs: Any) -> dict[str, str]:
    from assembly.credentials.auth import SESSION_COOKIE

    response = (
        client.post(path, **kwargs)
        if "json" in kwargs
        else client.get(path, follow_redirects=False)
    )
    assert response.status_code in (200, 303), response.text
    secret = client.cookies.get(SESSION_COOKIE)
    assert secret
    client.cookies.delete(SESSION_COOKIE)
    # The client's CSRF token stays in its jar; an explicit Cookie header replaces the jar's.
    return {"cookie": f"{SESSION_COOKIE}={secret}; {CSRF_COOKIE}={client.cookies[CSRF_COOKIE]}"}


@pytest.fixture
async def draft_world(app: Litestar) -> tuple[World, int]:
    world = await seed_world(app)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        vote = await voting.create_vote(
            db, assembly, "test", voting.VoteSpec(question="Shall we break for lunch?")
        )
        await db.commit()
        return world, vote.id


def test_opening_a_vote_pushes_the_ballot_to_the_holder_and_not_to_others(
    settings: Settings, draft_world: tuple[World, int]
) -> None:
    world, vote_id = draft_world
    with server(settings) as client:
        from tests.conftest import PASSWORD

        chair = session_of(
            client, "/api/auth/login", json={"username": "chair", "password": PASSWORD}
        )
        holder = session_of(client, f"/login/{world.token['AAA-head']}")
        other = session_of(client, f"/login/{world.token['AAA-del']}")
        url = f"/ws/assembly/{world.assembly_id}"
        with (
            client.websocket_connect(url, headers=holder) as holder_socket,
            client.websocket_connect(url, headers=other) as other_socket,
        ):
            opened = client.post(f"/chair/votes/{vote_id}/open", data={}, headers={**chair, **HX})
            assert opened.status_code == 200, opened.text

            def collect(socket: Any, until: set[str]) -> dict[str, str]:
                seen: dict[str, str] = {}
                while not until <= set(seen):
                    message = socket.receive_text(timeout=10)
                    for name in ("vote-panel", "vote-banner", "my-ballot"):
                        if f'id="{name}"' in message:
                            seen[name] = message
                return seen

            mine = collect(holder_socket, {"vote-banner", "my-ballot"})
            ballot = mine["my-ballot"]
            assert 'hx-swap-oob="true"' in ballot and f'data-vote-id="{vote_id}"' in ballot
            assert f'data-nmo="{world.nmo["AAA"]}"' in ballot and 'class="ballot-form"' in ballot
            assert "Voting is open" in mine["vote-banner"]

            theirs = collect(other_socket, {"vote-banner"})
            assert "my-ballot" not in theirs
            # Whatever else reaches the other phone in the next second, it is not a ballot,
            # nor the room's vote panel (phones have none: its list of the NMOs yet to vote
            # would be sent to every phone and thrown away).
            later = []
            with contextlib.suppress(queue.Empty):
                while True:
                    later.append(other_socket.receive_text(timeout=1))
            assert "vote-panel" not in theirs and "vote-panel" not in mine
            assert not any('id="my-ballot"' in m or 'id="vote-panel"' in m for m in later)


async def test_a_draft_cancelled_before_it_opened_never_reaches_the_phones(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    closed_id = await prepare(chair, world, question="Shall the minutes be approved?")
    await open_from_page(chair, closed_id)
    await chair.post(f"/chair/votes/{closed_id}/close", data={"confirmed": "1"}, headers=HX)
    secret_draft = await prepare(chair, world, question="A motion the chair withdrew")
    cancelled = await chair.post(
        f"/chair/votes/{secret_draft}/cancel", data={"confirmed": "1"}, headers=HX
    )
    assert cancelled.status_code == 200
    phone = await make_client(token=world.token["AAA-head"])
    shown = (await phone.get("/delegate/vote")).text
    assert "Shall the minutes be approved?" in shown  # the last vote that was put
    assert "A motion the chair withdrew" not in shown


async def test_the_chairs_feedback_stays_outside_the_list_that_refreshes_on_every_push(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    vote_id = await prepare(chair, world)
    opened = await open_from_page(chair, vote_id)
    feedback = section(opened, "vote-feedback")
    assert 'hx-swap-oob="true"' in feedback and "open" in text_of(feedback).lower()
    # The list the push makes the page re-fetch carries no feedback to wipe the message.
    listed = (await chair.get(f"/chair/votes/list?assembly={world.assembly_id}")).text
    assert "vote-feedback" not in listed and 'role="status"' not in listed
