"""The agenda: items in order, the chair moves the plenary on, every screen follows."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import TestClient

from assembly.app import create_app
from assembly.settings import Settings
from tests.conftest import PASSWORD, ClientFactory, World, with_csrf_token_sync

HX = {"HX-Request": "true"}


async def test_the_chair_builds_the_agenda_and_moves_the_plenary_on(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    url = f"/api/assemblies/{world.assembly_id}/agenda"
    first = await chair.post(url, json={"title": "Adoption of the agenda", "kind": "procedural"})
    second = await chair.post(url, json={"title": "Policy: Climate and Health", "kind": "policy"})
    assert first.status_code == second.status_code == 201
    assert [first.json()["position"], second.json()["position"]] == [1, 2]
    bad = await chair.post(url, json={"title": "x", "kind": "party"})
    assert bad.status_code == 422 and "kind must be one of" in bad.json()["message"]
    empty = await chair.post(url, json={"title": "  "})
    assert empty.status_code == 422 and empty.json()["message"] == "An agenda item needs a title."
    moved = await chair.post(f"/api/agenda-items/{first.json()['id']}/current")
    assert moved.status_code == 200 and moved.json()["current"] is True
    moved = await chair.post(f"/api/agenda-items/{second.json()['id']}/current")
    items = (await chair.get(url)).json()
    assert [(i["title"], i["current"]) for i in items] == [
        ("Adoption of the agenda", False),
        ("Policy: Climate and Health", True),
    ]
    phone = await make_client(token=world.token["AAA-head"])
    assert (await phone.get(url)).status_code == 200
    refused = await phone.post(url, json={"title": "Mine"})
    assert refused.status_code == 403
    # Every screen catches up with the same fragment.
    public = await make_client()
    fragment = (await public.get(f"/agenda/{world.assembly_id}/current")).text
    assert 'id="current-item"' in fragment and "Policy: Climate and Health" in fragment
    assert "Agenda item 2" in fragment


async def test_the_chair_screen_adds_an_item_and_makes_it_current(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    page = (await chair.get(f"/chair?assembly={world.assembly_id}")).text
    assert f'hx-get="/chair/assemblies/{world.assembly_id}/agenda"' in page
    assert f'hx-get="/agenda/{world.assembly_id}/current"' in page
    added = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/agenda",
        data={"title": "Roll call", "kind": "procedural"},
        headers=HX,
    )
    assert added.status_code == 200 and "Added: Roll call" in added.text
    item_id = (await chair.get(f"/api/assemblies/{world.assembly_id}/agenda")).json()[0]["id"]
    moved = await chair.post(f"/chair/agenda-items/{item_id}/current", headers=HX)
    assert moved.status_code == 200 and "Now: Roll call" in moved.text
    assert '<span class="badge ok">Current</span>' in moved.text
    phone = await make_client(token=world.token["AAA-head"])
    home = (await phone.get("/delegate")).text
    assert f'hx-get="/agenda/{world.assembly_id}/current"' in home
    projector = (await (await make_client()).get(f"/projector/{world.assembly_id}")).text
    assert f'hx-get="/agenda/{world.assembly_id}/current"' in projector


def test_moving_to_an_item_is_pushed_to_every_screen(settings: Settings, world: World) -> None:
    with TestClient(app=create_app(settings), base_url="http://testserver.local") as client:
        with_csrf_token_sync(client)
        login = client.post("/api/auth/login", json={"username": "chair", "password": PASSWORD})
        assert login.status_code == 200
        item = client.post(
            f"/api/assemblies/{world.assembly_id}/agenda", json={"title": "Elections"}
        ).json()
        with client.websocket_connect(f"/ws/assembly/{world.assembly_id}") as socket:
            assert client.post(f"/api/agenda-items/{item['id']}/current").status_code == 200
            pushed = socket.receive_text(timeout=10)
    assert 'id="current-item"' in pushed and 'hx-swap-oob="true"' in pushed
    assert "Elections" in pushed


async def test_a_delegate_of_another_assembly_cannot_read_its_current_item(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    from tests.conftest import seed_world

    other = await seed_world(app, staff=False, nmos=[("ZZZ", "full", 1)])
    phone = await make_client(token=other.token["ZZZ-head"])
    refused = await phone.get(f"/agenda/{world.assembly_id}/current")
    assert refused.status_code == 403


async def test_plenary_sessions_have_times_and_items_belong_to_one(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    url = f"/api/assemblies/{world.assembly_id}/sessions"
    morning = await chair.post(
        url,
        json={
            "name": "Plenary I",
            "starts_at": "2026-03-01T09:00:00Z",
            "ends_at": "2026-03-01T12:30:00Z",
        },
    )
    assert morning.status_code == 201, morning.text
    backwards = await chair.post(
        url,
        json={
            "name": "Plenary II",
            "starts_at": "2026-03-01T14:00:00Z",
            "ends_at": "2026-03-01T13:00:00Z",
        },
    )
    assert backwards.status_code == 422
    assert backwards.json()["message"] == "A plenary session must end after it starts."
    naive = await chair.post(
        url,
        json={
            "name": "Plenary II",
            "starts_at": "2026-03-01T14:00:00",
            "ends_at": "2026-03-01T15:00:00",
        },
    )
    assert naive.status_code == 422 and "time zone" in naive.json()["message"]
    secretariat = await make_client(staff="secretariat")
    document = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/documents",
        json={"title": "Bylaws", "kind": "bylaws", "text": "Art. 1."},
    )
    assert document.json()["document"]["in_force_version"] == 1  # bylaws are in force
    item = await chair.post(
        f"/api/assemblies/{world.assembly_id}/agenda",
        json={
            "title": "Bylaws changes",
            "kind": "bylaws",
            "session_id": morning.json()["id"],
            "document_id": document.json()["document"]["id"],
        },
    )
    assert item.status_code == 201, item.text
    assert item.json()["session_id"] == morning.json()["id"]
    assert item.json()["document_id"] == document.json()["document"]["id"]
    nowhere = await chair.patch(
        f"/api/agenda-items/{item.json()['id']}", json={"session_id": 999, "document_id": None}
    )
    assert nowhere.status_code == 422 and "no plenary session 999" in nowhere.json()["message"]
    unlinked = await chair.patch(
        f"/api/agenda-items/{item.json()['id']}", json={"session_id": None, "document_id": None}
    )
    assert unlinked.json()["session_id"] is None and unlinked.json()["document_id"] is None
    sessions = (await (await make_client(token=world.token["AAA-head"])).get(url)).json()
    assert [s["name"] for s in sessions] == ["Plenary I"]


async def test_the_agenda_is_adopted_by_a_vote_and_later_moves_are_recorded(
    make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    url = f"/api/assemblies/{world.assembly_id}/agenda"
    empty = await chair.post(f"{url}/adopt")
    assert empty.status_code == 409 and "no items" in empty.json()["message"]
    ids = [
        (await chair.post(url, json={"title": title})).json()["id"]
        for title in ("Opening", "Reports", "Policy", "Closing")
    ]
    moved = await chair.post(f"/api/agenda-items/{ids[2]}/move", json={"position": 1})
    assert [i["title"] for i in moved.json()] == ["Policy", "Opening", "Reports", "Closing"]
    bad = await chair.post(f"/api/agenda-items/{ids[2]}/move", json={"position": 9})
    assert bad.status_code == 422 and "from 1 to 4" in bad.json()["message"]

    vote = (await chair.post(f"{url}/adopt")).json()
    assert vote["kind"] == "procedural" and vote["rule"] == "two_thirds"
    assert vote["description"].startswith("1. Policy\n2. Opening")
    twice = await chair.post(f"{url}/adopt")
    assert twice.status_code == 409 and "already being voted on" in twice.json()["message"]
    for code in ("AAA", "BBB", "CCC"):
        phone = await make_client(token=world.token[f"{code}-head"])
        await phone.post(
            f"/api/votes/{vote['id']}/ballots",
            json={
                "ballots": [{"nmo_id": world.nmo[code], "ballot_id": f"b-{code}", "choice": "yes"}]
            },
        )
    assert (await chair.post(f"/api/votes/{vote['id']}/close")).json()["result"]["adopted"]
    state = (await chair.get(f"{url}/state")).json()
    assert state["adopted_at"] is not None and state["vote_ids"] == [vote["id"]]
    await chair.post(f"/api/agenda-items/{ids[3]}/move", json={"position": 2})
    events = (await chair.get(f"{url}/state")).json()["events"]
    moves = [e for e in events if e["kind"] == "item_moved"]
    assert [(m["detail"]["to_position"], m["detail"]["after_adoption"]) for m in moves] == [
        (1, False),
        (2, True),
    ]
    assert [e["kind"] for e in events].count("adopted") == 1
    again = await chair.post(f"{url}/adopt")
    assert again.status_code == 409 and "already adopted" in again.json()["message"]
