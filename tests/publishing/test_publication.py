"""The secretariat decides what the public record shows and when: the policy for results, and
for each closed vote, session and text, publish now, publish from a moment, or hold; over the
JSON API and on its screen (plain forms and htmx)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Litestar

from assembly.agenda import documents
from assembly.agenda import service as agenda
from assembly.credentials import service as credentials
from assembly.db import utcnow, writing
from tests.audit.test_log import run_vote
from tests.conftest import ClientFactory, World, seed_world
from tests.publishing.test_pages import set_policy


def api(world: World) -> str:
    return f"/api/assemblies/{world.assembly_id}/publishing"


def screen(world: World) -> str:
    return f"/secretariat/assemblies/{world.assembly_id}/publishing"


def state(states: dict[str, Any], kind: str, item_id: int) -> dict[str, Any]:
    item: dict[str, Any] = next(i for i in states[kind] if i["id"] == item_id)
    return item


async def add_session(app: Litestar, world: World, starts: dt.datetime, ends: dt.datetime) -> int:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        sitting = await agenda.add_session(db, assembly, "test", "Plenary I", starts, ends)
        await db.commit()
        return sitting.id


async def test_the_api_lists_each_item_with_its_state_for_the_secretariat_and_the_chair(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_policy(app, world, "manual")
    now = utcnow()
    session_id = await add_session(
        app, world, now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    )
    vote = await run_vote(make_client, world, {"AAA": "yes"})
    for role in ("secretariat", "chair"):
        client = await make_client(staff=role)
        response = await client.get(api(world))
        assert response.status_code == 200, response.text
        states = response.json()
        assert states["policy"] == "manual"
        assert state(states, "votes", vote["id"]) | {"title": ""} == {
            "subject": "vote",
            "id": vote["id"],
            "title": "",
            "published_at": None,
            "state": "held",
            "session_id": session_id,
        }
        assert state(states, "sessions", session_id)["state"] == "held"

    office = await make_client(staff="secretariat")
    later = (utcnow() + dt.timedelta(days=1)).isoformat()
    scheduled = await office.post(
        api(world), json={"subject": "vote", "id": vote["id"], "publish": True, "at": later}
    )
    assert scheduled.status_code == 200, scheduled.text
    assert state(scheduled.json(), "votes", vote["id"])["state"] == "scheduled"
    public = await make_client()
    assert (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).status_code == 404

    released = await office.post(
        api(world),
        json={"subject": "session", "id": session_id, "publish": True, "with_results": True},
    )
    states = released.json()
    assert state(states, "sessions", session_id)["state"] == "published"
    assert state(states, "votes", vote["id"])["state"] == "published"
    assert (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).status_code == 200

    held = await office.post(
        api(world), json={"subject": "vote", "id": vote["id"], "publish": False}
    )
    assert state(held.json(), "votes", vote["id"])["state"] == "held"
    assert (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).status_code == 404


async def test_the_api_refuses_what_cannot_be_published_and_says_why(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    office = await make_client(staff="secretariat")
    unknown = await office.post(api(world), json={"subject": "amendment", "id": 1, "publish": True})
    assert unknown.status_code == 422
    assert "'amendment' is not something the record publishes" in unknown.json()["message"]

    chair = await make_client(staff="chair")
    draft = (
        await chair.post(f"/api/assemblies/{world.assembly_id}/votes", json={"question": "Open?"})
    ).json()
    assert (await chair.post(f"/api/votes/{draft['id']}/open")).status_code == 200
    still_open = await office.post(
        api(world), json={"subject": "vote", "id": draft["id"], "publish": True}
    )
    assert still_open.status_code == 409
    assert "only a closed vote's result is public" in still_open.json()["message"]

    naive = await office.post(
        api(world),
        json={"subject": "vote", "id": draft["id"], "publish": True, "at": "2030-01-01T10:00:00"},
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["message"]

    other = await seed_world(app, staff=False)
    elsewhere = await office.post(
        f"/api/assemblies/{other.assembly_id}/publishing",
        json={"subject": "vote", "id": draft["id"], "publish": True},
    )
    assert elsewhere.status_code == 404
    assert elsewhere.json()["message"] == f"There is no vote {draft['id']} in this assembly."
    missing = await office.post(
        "/api/assemblies/999/publishing", json={"subject": "vote", "id": 1, "publish": True}
    )
    assert missing.status_code == 404

    delegate = await make_client(token=world.token["AAA-head"])
    refused = await delegate.post(
        api(world), json={"subject": "vote", "id": draft["id"], "publish": True}
    )
    assert refused.status_code == 403
    assert (await delegate.get(api(world))).status_code == 403
    assert (
        await chair.post(api(world), json={"subject": "vote", "id": 1, "publish": True})
    ).status_code == 403


async def test_the_screen_publishes_and_holds_with_plain_forms_and_with_htmx(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await set_policy(app, world, "manual")
    vote = await run_vote(make_client, world, {"AAA": "yes"})
    office = await make_client(staff="secretariat")
    page = await office.get(screen(world))
    assert page.status_code == 200
    assert vote["question"] in page.text and "held" in page.text
    assert 'action="/secretariat/assemblies/' in page.text and "hx-post=" in page.text

    plain = await office.post(
        screen(world),
        data={"subject": "vote", "id": str(vote["id"]), "action": "publish"},
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == screen(world)
    public = await make_client()
    assert (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).status_code == 200

    fragment = await office.post(
        screen(world),
        data={"subject": "vote", "id": str(vote["id"]), "action": "hold"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200
    assert 'id="publishing"' in fragment.text
    assert "<html" not in fragment.text and f"Held vote {vote['id']}" in fragment.text
    assert (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).status_code == 404

    scheduled = await office.post(
        screen(world),
        data={
            "subject": "vote",
            "id": str(vote["id"]),
            "action": "schedule",
            "at": (utcnow() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        },
        headers={"HX-Request": "true"},
    )
    assert "scheduled" in scheduled.text and "public from" in scheduled.text

    wrong = await office.post(
        screen(world),
        data={"subject": "vote", "id": str(vote["id"]), "action": "schedule", "at": "soon"},
    )
    assert wrong.status_code == 422 and "is not a date and time" in wrong.text
    assert "<html" in wrong.text  # without htmx the screen comes back with the message


async def test_the_screen_sets_the_policy_and_releases_a_session_with_its_held_results(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    office = await make_client(staff="secretariat")
    saved = await office.post(
        f"{screen(world)}/policy",
        data={"publish_results": "manual", "reason": "results after the count"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "Policy saved" in saved.text
    bad = await office.post(f"{screen(world)}/policy", data={"publish_results": "never"})
    assert bad.status_code == 422 and "publish_results must be one of" in bad.text

    now = utcnow()
    session_id = await add_session(
        app, world, now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)
    )
    vote = await run_vote(make_client, world, {"AAA": "yes"})
    public = await make_client()
    assert (
        await public.get(f"/record/{world.assembly_id}/sessions/{session_id}")
    ).status_code == 404
    released = await office.post(
        screen(world),
        data={"subject": "session", "id": str(session_id), "action": "publish_session"},
        follow_redirects=False,
    )
    assert released.status_code == 303
    attendance = await public.get(f"/record/{world.assembly_id}/sessions/{session_id}")
    assert attendance.status_code == 200 and "NMO AAA" in attendance.text
    assert (await public.get(f"/record/{world.assembly_id}/votes/{vote['id']}")).status_code == 200


async def test_a_text_in_force_is_published_and_held_like_a_result(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        bylaws, _ = await documents.create_document(
            db, assembly, "test", "Bylaws", "bylaws", "Members pay dues."
        )
        draft, _ = await documents.create_document(
            db, assembly, "test", "Climate policy", "policy", "We act."
        )
        await db.commit()
        bylaws_id, draft_id = bylaws.id, draft.id
    public = await make_client()
    url = f"/record/{world.assembly_id}/documents/{bylaws_id}"
    assert (await public.get(url)).status_code == 200
    office = await make_client(staff="secretariat")
    held = await office.post(
        screen(world), data={"subject": "document", "id": str(bylaws_id), "action": "hold"}
    )
    assert held.status_code == 200  # followed the 303 back to the screen
    response = await public.get(url)
    assert response.status_code == 404
    assert f"There is no published document {bylaws_id} in this assembly." in response.text
    assert "Bylaws" not in (await public.get(f"/record/{world.assembly_id}")).text
    not_in_force = await office.post(
        api(world), json={"subject": "document", "id": draft_id, "publish": True}
    )
    assert not_in_force.status_code == 409 and "not in force" in not_in_force.json()["message"]
