"""The chair's agenda and amendments screens: sessions, items by session with their documents,
reordering recorded before and after the agenda's adoption, and the amendments to the current
item's document run in voting order up to the final vote and the new version in force."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from litestar import Litestar
from sqlalchemy import select

from assembly.agenda import amending, documents
from assembly.agenda.models import Amendment, PlenarySession
from assembly.app import create_app
from assembly.credentials.models import Assembly, Nmo
from assembly.db import writing
from assembly.settings import Settings
from tests.conftest import PASSWORD, SECRETARIAT, ClientFactory, World, with_csrf_token_sync

HX = {"HX-Request": "true"}

POLICY = """# Climate and Health

The federation recognises climate change as a health emergency.

Medical schools should teach planetary health.

NMOs should reduce the carbon footprint of their events.
"""
# p1 heading, p2 recognises, p3 schools, p4 NMOs


def agenda_url(world: World) -> str:
    return f"/chair/assemblies/{world.assembly_id}/agenda"


def panel_url(world: World) -> str:
    return f"/chair/assemblies/{world.assembly_id}/amendments"


async def agenda_titles(client: Any, world: World) -> list[str]:
    items = (await client.get(f"/api/assemblies/{world.assembly_id}/agenda")).json()
    return [i["title"] for i in items]


async def item_id(client: Any, world: World, title: str) -> int:
    items = (await client.get(f"/api/assemblies/{world.assembly_id}/agenda")).json()
    return int(next(i["id"] for i in items if i["title"] == title))


async def new_document(make_client: ClientFactory, world: World, title: str = "Climate") -> int:
    secretariat = await make_client(staff="secretariat")
    response = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": title, "kind": "policy", "text": POLICY},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["document"]["id"])


async def document_on_the_floor(make_client: ClientFactory, world: World) -> tuple[Any, int]:
    """A policy on the agenda as the current item; returns the chair's client and its id."""
    chair = await make_client(staff="chair")
    document_id = await new_document(make_client, world)
    added = await chair.post(
        agenda_url(world),
        data={"title": "Policy: Climate and Health", "kind": "policy", "document_id": document_id},
        headers=HX,
    )
    assert added.status_code == 200, added.text
    item = await item_id(chair, world, "Policy: Climate and Health")
    moved = await chair.post(f"/chair/agenda-items/{item}/current", headers=HX)
    assert moved.status_code == 200, moved.text
    return chair, document_id


def replace(paragraph_id: str, text: str) -> amending.ChangeIn:
    return amending.ChangeIn(op="replace", paragraph_id=paragraph_id, text=text)


async def submit(
    app: Litestar,
    world: World,
    document_id: int,
    code: str,
    *changes: amending.ChangeIn,
    amends: int | None = None,
    cosponsors: tuple[str, ...] = (),
) -> int:
    async with writing(app.state.ctx.session_maker) as db:
        document = await documents.get_document(db, document_id)
        nmo = await db.get(Nmo, world.nmo[code])
        assert nmo is not None
        amendment = await amending.submit(
            db,
            SECRETARIAT,
            document,
            nmo,
            amending.Proposal(
                changes=changes,
                amends_id=amends,
                cosponsor_nmo_ids=[world.nmo[c] for c in cosponsors],
            ),
        )
        await db.commit()
        return amendment.id


async def amendment_state(app: Litestar, amendment_id: int) -> str:
    async with writing(app.state.ctx.session_maker) as db:
        amendment = await db.get(Amendment, amendment_id)
        assert amendment is not None
        return amendment.state


async def newest_vote(client: Any, world: World) -> dict[str, Any]:
    votes = (await client.get(f"/api/assemblies/{world.assembly_id}/votes")).json()
    return dict(votes[0])


async def vote_and_close(
    make_client: ClientFactory, world: World, chair: Any, vote_id: int, choices: dict[str, str]
) -> dict[str, Any]:
    """Ballots from the heads of delegation through the API, then the chair closes the vote."""
    for code, choice in choices.items():
        phone = await make_client(token=world.token[f"{code}-head"])
        ballot = {"nmo_id": world.nmo[code], "ballot_id": uuid.uuid4().hex, "choice": choice}
        cast = await phone.post(f"/api/votes/{vote_id}/ballots", json={"ballots": [ballot]})
        assert cast.status_code == 200, cast.text
    closed = await chair.post(f"/api/votes/{vote_id}/close")
    assert closed.status_code == 200, closed.text
    result: dict[str, Any] = closed.json()["result"]
    return result


ALL_YES = {"AAA": "yes", "BBB": "yes", "CCC": "yes"}


def section(html: str, element_id: str) -> str:
    """The HTML of one amendment's list item (up to the next one)."""
    start = html.index(f'id="{element_id}"')
    end = html.find('<li class="ca-item ', start + 1)
    return html[start : end if end != -1 else len(html)]


# --- the agenda -----------------------------------------------------------------------------


async def test_the_chair_adds_plenary_sessions_and_one_cannot_end_before_it_starts(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    page = (await chair.get(agenda_url(world), headers=HX)).text
    assert '<label for="session-starts">Starts (UTC)</label>' in page
    assert 'id="session-starts" name="starts_at" type="datetime-local"' in page
    added = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/sessions",
        data={"name": "Plenary I", "starts_at": "2030-05-01T09:00", "ends_at": "2030-05-01T12:30"},
        headers=HX,
    )
    assert added.status_code == 200, added.text
    assert "Added the plenary session “Plenary I”." in added.text
    assert "2030-05-01 09:00 UTC</time> to" in added.text and "12:30 UTC</time>" in added.text

    backwards = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/sessions",
        data={"name": "Plenary II", "starts_at": "2030-05-02T12:00", "ends_at": "2030-05-02T09:00"},
        headers=HX,
    )
    assert backwards.status_code == 422
    assert "A plenary session must end after it starts." in backwards.text
    # What was typed stays in the form, which is open by its message.
    assert 'value="Plenary II"' in backwards.text and 'value="2030-05-02T09:00"' in backwards.text
    no_time = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/sessions",
        data={"name": "Plenary II", "starts_at": "", "ends_at": "2030-05-02T09:00"},
        headers=HX,
    )
    assert no_time.status_code == 422
    assert "Give the start as a date and time (UTC)." in no_time.text

    # Without JavaScript: 303 back to the agenda's own page, which shows the session.
    plain = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/sessions",
        data={"name": "Plenary II", "starts_at": "2030-05-02T09:00", "ends_at": "2030-05-02T12:00"},
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == agenda_url(world)
    full = (await chair.get(agenda_url(world))).text
    assert "<h1>Chair" in full and "Plenary II" in full
    async with writing(app.state.ctx.session_maker) as db:
        stored = (await db.execute(select(PlenarySession.name))).scalars().all()
    assert sorted(stored) == ["Plenary I", "Plenary II"]


async def test_items_are_linked_to_a_session_and_a_document_and_listed_by_session(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    document_id = await new_document(make_client, world, title="Climate and Health")
    await chair.post(
        f"/chair/assemblies/{world.assembly_id}/sessions",
        data={"name": "Plenary I", "starts_at": "2030-05-01T09:00", "ends_at": "2030-05-01T12:00"},
        headers=HX,
    )
    page = (await chair.get(agenda_url(world), headers=HX)).text
    found = re.search(r'<option value="(\d+)">Plenary I</option>', page)
    assert found is not None
    session_id = int(found[1])
    added = await chair.post(
        agenda_url(world),
        data={"title": "Roll call", "kind": "procedural", "session_id": str(session_id)},
        headers=HX,
    )
    assert added.status_code == 200 and "Added: Roll call" in added.text
    await chair.post(
        agenda_url(world), data={"title": "Climate policy", "kind": "policy"}, headers=HX
    )
    climate = await item_id(chair, world, "Climate policy")

    page = (await chair.get(agenda_url(world), headers=HX)).text
    unscheduled = '<h4 class="agenda-group">Not scheduled</h4>'
    assert page.index("Plenary I") < page.index("Roll call") < page.index(unscheduled)
    assert page.index(unscheduled) < page.index('<span class="agenda-title">Climate policy')

    linked = await chair.post(
        f"/chair/agenda-items/{climate}/link",
        data={"session_id": str(session_id), "document_id": str(document_id)},
        headers=HX,
    )
    assert linked.status_code == 200, linked.text
    assert "Saved the session and document of “Climate policy”." in linked.text
    assert f'<a class="agenda-doc" href="/documents/{document_id}">Climate and Health</a>' in (
        linked.text
    )
    assert unscheduled not in linked.text  # every item is in Plenary I now
    assert f'<option value="{document_id}" selected>Climate and Health</option>' in linked.text
    assert "Put “Climate policy” in “Plenary I”, with the document “Climate and Health”" in (
        linked.text
    )

    unknown = await chair.post(
        f"/chair/agenda-items/{climate}/link", data={"session_id": "9999"}, headers=HX
    )
    assert unknown.status_code == 422
    assert "There is no plenary session 9999 in this assembly." in unknown.text
    # Nothing changed: the item keeps its session and document.
    again = (await chair.get(agenda_url(world), headers=HX)).text
    assert f'href="/documents/{document_id}"' in again and unscheduled not in again

    # Up and down move an item within its session; another session is chosen in the form.
    await chair.post(agenda_url(world), data={"title": "Elections"}, headers=HX)
    elections = await item_id(chair, world, "Elections")
    page = (await chair.get(agenda_url(world), headers=HX)).text
    assert f'id="up-{climate}"' in page and f'id="down-{climate}"' not in page
    assert f'id="up-{elections}"' not in page and f'id="down-{elections}"' not in page


async def test_moving_items_reorders_them_and_each_change_is_recorded_in_words(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    for title in ("Opening", "Reports", "Elections"):
        await chair.post(agenda_url(world), data={"title": title}, headers=HX)
    elections = await item_id(chair, world, "Elections")
    page = (await chair.get(agenda_url(world), headers=HX)).text
    assert "Not adopted yet" in page and "Put the agenda to the vote" in page

    up = await chair.post(
        f"/chair/agenda-items/{elections}/move", data={"position": "2"}, headers=HX
    )
    assert up.status_code == 200, up.text
    assert await agenda_titles(chair, world) == ["Opening", "Elections", "Reports"]
    assert "Moved “Elections” from 3 to 2" in up.text
    assert "after the agenda was adopted" not in up.text
    opening = await item_id(chair, world, "Opening")
    down = await chair.post(
        f"/chair/agenda-items/{opening}/move", data={"position": "2"}, headers=HX
    )
    assert await agenda_titles(chair, world) == ["Elections", "Opening", "Reports"]
    # The newest change first.
    assert down.text.index("Moved “Opening” from 1 to 2") < down.text.index(
        "Moved “Elections” from 3 to 2"
    )
    too_far = await chair.post(
        f"/chair/agenda-items/{opening}/move", data={"position": "7"}, headers=HX
    )
    assert too_far.status_code == 422 and "The position must be from 1 to 3." in too_far.text

    # The plenary adopts the agenda.
    adopt = await chair.post(f"/chair/assemblies/{world.assembly_id}/agenda/adopt", headers=HX)
    assert adopt.status_code == 200, adopt.text
    assert "The vote on the agenda is open" in adopt.text and "Being voted on" in adopt.text
    vote = await newest_vote(chair, world)
    assert vote["question"] == "Adopt the agenda?" and vote["state"] == "open"
    again = await chair.post(f"/chair/assemblies/{world.assembly_id}/agenda/adopt", headers=HX)
    assert again.status_code == 409 and "The agenda is already being voted on." in again.text
    result = await vote_and_close(make_client, world, chair, vote["id"], ALL_YES)
    assert result["adopted"] is True
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None and assembly.agenda_adopted_at is not None
    page = (await chair.get(agenda_url(world), headers=HX)).text
    assert "Adopted at <time" in page and "Put the agenda to the vote" not in page
    assert "The plenary adopted the agenda" in page

    moved = await chair.post(
        f"/chair/agenda-items/{elections}/move", data={"position": "3"}, headers=HX
    )
    assert moved.status_code == 200
    assert "The change to the adopted agenda is recorded." in moved.text
    assert "Moved “Elections” from 1 to 3 (after the agenda was adopted)" in moved.text
    assert await agenda_titles(chair, world) == ["Opening", "Reports", "Elections"]

    # Without JavaScript: a 303 back to the agenda page.
    plain = await chair.post(
        f"/chair/agenda-items/{elections}/move", data={"position": "1"}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == agenda_url(world)


# --- the amendments panel -----------------------------------------------------------------


async def test_the_panel_says_when_there_is_no_document_to_amend(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    home = (await chair.get(f"/chair?assembly={world.assembly_id}")).text
    assert f'id="chair-amendments" class="chair-amendments-slot" hx-get="{panel_url(world)}"' in (
        home
    )
    assert "htmx:wsAfterMessage from:body delay:500ms" in home
    empty = await chair.get(panel_url(world), headers=HX)
    assert empty.status_code == 200 and "No agenda item is current" in empty.text
    await chair.post(agenda_url(world), data={"title": "Roll call"}, headers=HX)
    await chair.post(
        f"/chair/agenda-items/{await item_id(chair, world, 'Roll call')}/current", headers=HX
    )
    none = (await chair.get(panel_url(world), headers=HX)).text
    assert "The current item, “Roll call”, has no document" in none
    phone = await make_client(token=world.token["AAA-head"])
    assert (await phone.get(panel_url(world), headers=HX)).status_code == 403


async def test_the_panel_lists_the_amendments_in_voting_order_with_their_changes(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair, document_id = await document_on_the_floor(make_client, world)
    a1 = await submit(
        app, world, document_id, "AAA", replace("p4", "NMOs must reduce the carbon footprint.")
    )
    a2 = await submit(
        app,
        world,
        document_id,
        "BBB",
        replace("p2", "The federation recognises climate change as a global health emergency."),
        cosponsors=("CCC",),
    )
    a3 = await submit(
        app,
        world,
        document_id,
        "CCC",
        replace("p4", "NMOs must halve the carbon footprint."),
        amends=a1,
    )
    panel = await chair.get(panel_url(world), headers=HX)
    assert panel.status_code == 200
    html = panel.text
    assert '<a href="/documents/' in html and "Climate</a></h3>" in html
    assert "Proposed, not in force yet" in html and "No deadline: open until the final vote" in html
    # Paragraph order: A2 (paragraph 2), then A3 just before A1 (paragraph 4), which it amends.
    positions = [html.index(f'id="amendment-{a}"') for a in (a2, a3, a1)]
    assert positions == sorted(positions)
    second = section(html, f"amendment-{a2}")
    assert "by BBB" in second and "Co-sponsors: CCC" in second
    assert "Paragraph 2: replace" in second and "<ins>global </ins>" in second
    assert "Submitted" in second
    third = section(html, f"amendment-{a3}")
    assert "ca-item degree-2" in html and "amends A1" in third
    assert "Rewords A1&#39;s text for paragraph 4" in third
    assert "<del>reduce </del><ins>halve </ins>" in third
    first = section(html, f"amendment-{a1}")
    assert "<del>should </del><ins>must </ins>" in first and "Paragraph 4: replace" in first
    # Not admitted yet: no vote, the final vote waits.
    assert f'id="vote-{a1}"' not in html and f'id="admit-{a1}"' in html
    assert "Decide every amendment first: A2, A3, A1 still wait" in html
    assert "Needs a two-thirds majority (the assembly's rule for policies" in html
    # Without JavaScript the panel is a page of its own.
    full = (await chair.get(panel_url(world))).text
    assert "<h1>Chair" in full and 'id="chair-amendments"' in full


async def test_the_chair_admits_rules_out_and_merges_amendments(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair, document_id = await document_on_the_floor(make_client, world)
    a1 = await submit(app, world, document_id, "AAA", replace("p3", "Schools must teach it."))
    a2 = await submit(app, world, document_id, "BBB", replace("p4", "NMOs should act."))
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None
        assembly.policy_amendment_deadline = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        await db.commit()
    late = await submit(app, world, document_id, "CCC", replace("p2", "Climate change matters."))

    admitted = await chair.post(f"/chair/amendments/{a1}/admit", headers=HX)
    assert admitted.status_code == 200 and "A1 is admitted for debate." in admitted.text
    assert "Admitted for debate" in section(admitted.text, f"amendment-{a1}")
    assert await amendment_state(app, a1) == "admitted"

    panel = (await chair.get(panel_url(world), headers=HX)).text
    mine = section(panel, f"amendment-{late}")
    assert '<span class="badge ca-late">Late</span>' in mine
    assert "Submitted late: waiting for the chair&#39;s ruling" in mine
    assert f'<textarea id="ruling-{late}" name="ruling" required' in mine
    assert "(passed)" in panel
    no_ruling = await chair.post(f"/chair/amendments/{late}/admit", data={}, headers=HX)
    assert no_ruling.status_code == 422
    assert "A3 came after the deadline: admitting it is a ruling of the chair" in no_ruling.text
    assert await amendment_state(app, late) == "submitted"
    ruled = await chair.post(
        f"/chair/amendments/{late}/admit",
        data={"ruling": "The proposer's flight was delayed."},
        headers=HX,
    )
    assert ruled.status_code == 200
    assert "The chair&#39;s ruling: The proposer&#39;s flight was delayed." in ruled.text
    assert await amendment_state(app, late) == "admitted"

    no_reason = await chair.post(f"/chair/amendments/{a2}/refuse", data={"reason": " "}, headers=HX)
    assert no_reason.status_code == 422
    assert "Ruling an amendment out of order needs a reason." in no_reason.text
    refused = await chair.post(
        f"/chair/amendments/{a2}/refuse", data={"reason": "Out of scope."}, headers=HX
    )
    assert refused.status_code == 200 and "A2 is ruled out of order." in refused.text
    assert "Ruled out of order: Out of scope." in section(refused.text, f"amendment-{a2}")
    assert await amendment_state(app, a2) == "rejected"

    unconfirmed = await chair.post(f"/chair/amendments/{a1}/merge", data={}, headers=HX)
    assert unconfirmed.status_code == 422
    assert "the proposer of the text accepted it and that no delegation objects" in (
        unconfirmed.text
    )
    assert await amendment_state(app, a1) == "admitted"
    merged = await chair.post(f"/chair/amendments/{a1}/merge", data={"confirmed": "1"}, headers=HX)
    assert merged.status_code == 200 and "A1 is merged into the text as friendly." in merged.text
    assert "Merged as friendly" in section(merged.text, f"amendment-{a1}")
    assert await amendment_state(app, a1) == "merged"
    twice = await chair.post(f"/chair/amendments/{a1}/merge", data={"confirmed": "1"}, headers=HX)
    assert twice.status_code == 409 and "A1 is merged; only an admitted amendment" in twice.text

    # Without JavaScript: a 303 back to the panel's page; a refusal shows that page.
    plain = await chair.post(f"/chair/amendments/{late}/vote", follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == panel_url(world)
    refused_page = await chair.post(f"/chair/amendments/{a2}/admit", follow_redirects=False)
    assert refused_page.status_code == 409 and "<h1>Chair" in refused_page.text
    assert "A2 is rejected; only a submitted one is admitted." in refused_page.text


async def test_vote_now_opens_the_vote_after_the_amendments_to_the_amendment(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair, document_id = await document_on_the_floor(make_client, world)
    a1 = await submit(app, world, document_id, "AAA", replace("p4", "NMOs must act."))
    a2 = await submit(
        app, world, document_id, "BBB", replace("p4", "NMOs must act now."), amends=a1
    )
    for a in (a1, a2):
        assert (await chair.post(f"/chair/amendments/{a}/admit", headers=HX)).status_code == 200
    panel = (await chair.get(panel_url(world), headers=HX)).text
    # A1's button waits for A2: amendments to an amendment are voted first.
    assert f'id="vote-{a1}"' not in panel and f'id="vote-{a2}"' in panel
    assert "The amendments to it are voted first: A2." in section(panel, f"amendment-{a1}")

    too_soon = await chair.post(f"/chair/amendments/{a1}/vote", headers=HX)
    assert too_soon.status_code == 409
    assert "First decide the amendments to A1 (A2)" in too_soon.text
    votes = (await chair.get(f"/api/assemblies/{world.assembly_id}/votes")).json()
    assert votes == []  # nothing was stored

    opened = await chair.post(f"/chair/amendments/{a2}/vote", headers=HX)
    assert opened.status_code == 200, opened.text
    assert "The vote on A2 is open: ballots are on the phones." in opened.text
    vote = await newest_vote(chair, world)
    shown = (await chair.get(f"/api/votes/{vote['id']}")).json()
    assert shown["state"] == "open" and "amendment A2 (BBB) to amendment A1" in shown["question"]
    assert shown["rule"] == "simple"
    row = section(opened.text, f"amendment-{a2}")
    assert "Being voted on" in row and f'id="vote-{a2}"' not in row
    assert f'id="amendment-{a2}-refuse"' not in row  # not while it is voted on
    again = await chair.post(f"/chair/amendments/{a2}/vote", headers=HX)
    assert again.status_code == 409 and "A2 is already being voted on." in again.text

    # A2 adopted: A1 is shown, and then voted on, as A2 reworded it.
    await vote_and_close(make_client, world, chair, vote["id"], ALL_YES)
    panel = (await chair.get(panel_url(world), headers=HX)).text
    first = section(panel, f"amendment-{a1}")
    assert "Shown as reworded by A2." in first and "<ins>must act now.</ins>" in first
    assert "The amendments to it are voted first" not in first
    assert (await chair.post(f"/chair/amendments/{a1}/vote", headers=HX)).status_code == 200


async def test_an_adopted_amendment_leaves_a_conflicting_one_no_longer_applying(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair, document_id = await document_on_the_floor(make_client, world)
    a1 = await submit(app, world, document_id, "AAA", replace("p3", "Schools must teach it."))
    a2 = await submit(app, world, document_id, "BBB", replace("p3", "Schools may teach it."))
    for a in (a1, a2):
        await chair.post(f"/chair/amendments/{a}/admit", headers=HX)
    await chair.post(f"/chair/amendments/{a1}/vote", headers=HX)
    vote = await newest_vote(chair, world)
    result = await vote_and_close(
        make_client, world, chair, vote["id"], {"AAA": "yes", "BBB": "yes", "CCC": "no"}
    )
    assert result["adopted"] is True

    panel = (await chair.get(panel_url(world), headers=HX)).text
    first = section(panel, f"amendment-{a1}")
    assert "Adopted by the plenary" in first and f'id="vote-{a1}"' not in first
    second = section(panel, f"amendment-{a2}")
    assert "No longer applies" in second and "The proposer revises it from their phone" in second
    assert f'id="vote-{a2}"' not in second
    refused = await chair.post(f"/chair/amendments/{a2}/vote", headers=HX)
    assert refused.status_code == 409 and "A2 no longer applies to the text as amended" in (
        refused.text
    )


async def test_the_final_vote_waits_for_every_amendment_and_then_makes_version_two(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair, document_id = await document_on_the_floor(make_client, world)
    a1 = await submit(app, world, document_id, "AAA", replace("p3", "Schools must teach it."))
    final_url = f"/chair/documents/{document_id}/final-vote"
    early = await chair.post(final_url, headers=HX)
    assert early.status_code == 409
    assert "Decide every amendment before the final vote: A1 still waiting" in early.text
    assert (await chair.get(f"/api/assemblies/{world.assembly_id}/votes")).json() == []

    await chair.post(f"/chair/amendments/{a1}/admit", headers=HX)
    await chair.post(f"/chair/amendments/{a1}/vote", headers=HX)
    amendment_vote = await newest_vote(chair, world)
    await vote_and_close(make_client, world, chair, amendment_vote["id"], ALL_YES)
    panel = (await chair.get(panel_url(world), headers=HX)).text
    assert f'id="final-vote-{document_id}"' in panel

    opened = await chair.post(final_url, headers=HX)
    assert opened.status_code == 200, opened.text
    assert "The final vote on “Climate” is open" in opened.text
    final = await newest_vote(chair, world)
    shown = (await chair.get(f"/api/votes/{final['id']}")).json()
    assert shown["state"] == "open" and shown["rule"] == "two_thirds"
    assert shown["question"] == "Adopt “Climate” as amended by A1?"
    result = await vote_and_close(make_client, world, chair, final["id"], ALL_YES)
    assert result["adopted"] is True

    text = (await chair.get(f"/api/documents/{document_id}")).json()
    assert text["document"]["current_version"] == 2
    assert text["paragraphs"][2]["text"] == "Schools must teach it."
    panel = (await chair.get(panel_url(world), headers=HX)).text
    assert "Version 2 in force" in panel and f'id="final-vote-{document_id}"' not in panel
    assert '<span class="badge ok">Adopted</span>' in panel


def test_vote_now_is_pushed_to_every_screen(settings: Settings, world: World) -> None:
    from litestar.testing import TestClient

    with TestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        with_csrf_token_sync(client)
        assert (
            client.post(
                "/api/auth/login", json={"username": "secretariat", "password": PASSWORD}
            ).status_code
            == 200
        )
        document = client.post(
            f"/api/assemblies/{world.assembly_id}/documents",
            json={"title": "Climate", "kind": "policy", "text": POLICY},
        ).json()["document"]
        proposed = client.post(
            f"/api/documents/{document['id']}/amendments",
            json={
                "nmo_id": world.nmo["AAA"],
                "changes": [{"op": "replace", "paragraph_id": "p3", "text": "Schools must."}],
            },
        )
        assert proposed.status_code == 201, proposed.text
        amendment_id = proposed.json()["id"]
        assert client.post(f"/chair/amendments/{amendment_id}/admit", headers=HX).status_code == (
            200
        )
        with client.websocket_connect(f"/ws/assembly/{world.assembly_id}") as socket:
            opened = client.post(f"/chair/amendments/{amendment_id}/vote", headers=HX)
            assert opened.status_code == 200, opened.text
            pushed = socket.receive_text(timeout=10)
    assert 'id="vote-panel"' in pushed and "Adopt amendment A1 (AAA)" in pushed
