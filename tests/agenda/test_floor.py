"""The speakers' list through the JSON API and the screens: phones ask for the floor on the
current item, points of order jump the queue, the chair gives, extends and takes the floor,
closes the list, reorders and removes; every refusal says why; the list survives a restart
(it is in the database) and every change reaches the screens."""

from __future__ import annotations

from typing import Any

from assembly.settings import Settings
from tests.conftest import ClientFactory, World
from tests.voting.test_screens import HX, server, session_of


async def current_item(make_client: ClientFactory, world: World, title: str = "Debate") -> int:
    chair = await make_client(staff="chair")
    item = await chair.post(f"/api/assemblies/{world.assembly_id}/agenda", json={"title": title})
    assert item.status_code == 201, item.text
    made = await chair.post(f"/api/agenda-items/{item.json()['id']}/current")
    assert made.status_code == 200, made.text
    item_id: int = item.json()["id"]
    return item_id


async def ask(phone: Any, item_id: int, **body: str) -> Any:
    return await phone.post(f"/api/agenda-items/{item_id}/floor/requests", json=body)


def codes(floor: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["nmo_code"], r["kind"]) for r in floor["waiting"]]


async def test_points_jump_the_queue_and_the_chair_runs_the_list(
    make_client: ClientFactory, world: World
) -> None:
    item_id = await current_item(make_client, world)
    chair = await make_client(staff="chair")
    aaa = await make_client(token=world.token["AAA-head"])
    bbb = await make_client(token=world.token["BBB-head"])
    ccc = await make_client(token=world.token["CCC-head"])
    assert (await ask(aaa, item_id)).status_code == 201
    assert (await ask(bbb, item_id)).status_code == 201
    point = await ask(ccc, item_id, kind="point_of_order")
    assert point.status_code == 201, point.text

    floor = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert codes(floor) == [("CCC", "point_of_order"), ("AAA", "speech"), ("BBB", "speech")]
    assert floor["points_of_order"] == 1 and floor["speaking"] is None

    again = await ask(aaa, item_id)
    assert again.status_code == 409
    assert "already waiting for the floor" in again.json()["message"]
    absent = await ask(await make_client(token=world.token["AAA-del"]), item_id)
    assert absent.status_code == 409 and "Check in" in absent.json()["message"]

    given = await chair.post(f"/api/agenda-items/{item_id}/floor/start", json={})
    assert given.status_code == 200, given.text
    floor = given.json()
    assert floor["speaking"]["nmo_code"] == "CCC" and floor["points_of_order"] == 0
    assert 170 <= floor["remaining_s"] <= 180
    extended = await chair.post(f"/api/agenda-items/{item_id}/floor/extend", json={"seconds": 60})
    assert 230 <= extended.json()["remaining_s"] <= 240

    floor = (await chair.post(f"/api/agenda-items/{item_id}/floor/start", json={})).json()
    assert floor["speaking"]["nmo_code"] == "AAA" and codes(floor) == [("BBB", "speech")]

    closed = await chair.patch(f"/api/agenda-items/{item_id}/floor", json={"closed": True})
    assert closed.status_code == 200 and closed.json()["closed"] is True
    ddd = await make_client(token=world.token["DDD-head"])
    refused = await ask(ddd, item_id)
    assert refused.status_code == 409 and "list is closed" in refused.json()["message"]
    info = await ask(ddd, item_id, kind="point_of_information")
    assert info.status_code == 201, info.text

    bbb_request = next(r for r in floor["waiting"] if r["nmo_code"] == "BBB")
    stolen = await aaa.post(f"/api/floor-requests/{bbb_request['id']}/withdraw")
    assert stolen.status_code == 403 and "your own" in stolen.json()["message"]
    withdrawn = await bbb.post(f"/api/floor-requests/{bbb_request['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"

    stopped = await chair.post(f"/api/agenda-items/{item_id}/floor/stop")
    assert stopped.status_code == 200 and stopped.json()["speaking"] is None
    assert {t["nmo_code"] for t in stopped.json()["speaking_times"]} == {"CCC", "AAA"}
    nobody = await chair.post(f"/api/agenda-items/{item_id}/floor/stop")
    assert nobody.status_code == 409 and "Nobody has the floor" in nobody.json()["message"]

    # The chair's decisions are recorded beside the agenda, not among its changes.
    state = (await chair.get(f"/api/assemblies/{world.assembly_id}/agenda/state")).json()
    assert not [e for e in state["events"] if e["kind"].startswith("floor_")]


async def test_sides_alternate_and_the_chair_reorders_adds_and_removes(
    make_client: ClientFactory, world: World
) -> None:
    item_id = await current_item(make_client, world)
    chair = await make_client(staff="chair")
    assert (await chair.patch(f"/api/agenda-items/{item_id}/floor", json={"sides": True})).json()[
        "sides"
    ]
    for code, side in (("AAA", "for"), ("BBB", "for"), ("CCC", "against")):
        phone = await make_client(token=world.token[f"{code}-head"])
        assert (await ask(phone, item_id, side=side)).status_code == 201
    floor = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert [r["nmo_code"] for r in floor["waiting"]] == ["AAA", "CCC", "BBB"]

    bbb = next(r for r in floor["waiting"] if r["nmo_code"] == "BBB")
    moved = await chair.post(f"/api/floor-requests/{bbb['id']}/move", json={"index": 0})
    assert moved.status_code == 200, moved.text
    assert [r["nmo_code"] for r in moved.json()["waiting"]] == ["BBB", "CCC", "AAA"]

    added = await chair.post(
        f"/api/agenda-items/{item_id}/floor/speakers",
        json={"nmo_id": world.nmo["DDD"], "side": "against"},
    )
    assert added.status_code == 201 and added.json()["side"] == "against"
    removed = await chair.post(f"/api/floor-requests/{added.json()['id']}/remove")
    assert removed.status_code == 200 and removed.json()["state"] == "removed"
    twice = await chair.post(f"/api/floor-requests/{added.json()['id']}/remove")
    assert twice.status_code == 409 and "no longer waiting" in twice.json()["message"]

    too_short = await chair.patch(f"/api/agenda-items/{item_id}/floor", json={"speaking_time_s": 5})
    assert too_short.status_code == 422 and "between 10 and 3600" in too_short.json()["message"]
    events = (await chair.get(f"/api/agenda-items/{item_id}/floor")).json()
    assert events["speaking_time_s"] == 180


async def test_a_phone_asks_only_on_the_current_item_and_observers_and_the_public_cannot(
    make_client: ClientFactory, world: World
) -> None:
    item_id = await current_item(make_client, world)
    chair = await make_client(staff="chair")
    later = await chair.post(f"/api/assemblies/{world.assembly_id}/agenda", json={"title": "Next"})
    phone = await make_client(token=world.token["AAA-head"])
    wrong = await ask(phone, later.json()["id"])
    assert wrong.status_code == 409 and "not on this agenda item" in wrong.json()["message"]
    bad_kind = await ask(phone, item_id, kind="filibuster")
    assert bad_kind.status_code == 400
    public = await make_client()
    assert (await ask(public, item_id)).status_code in (401, 403)
    assert (
        await chair.post(f"/api/agenda-items/{item_id}/floor/requests", json={})
    ).status_code == 403


def test_the_list_is_in_the_database_and_a_restarted_server_shows_it(
    settings: Settings, world: World
) -> None:
    from tests.conftest import PASSWORD

    login = {"username": "chair", "password": PASSWORD}
    with server(settings) as client:
        chair = session_of(client, "/api/auth/login", json=login)
        phone = session_of(client, f"/login/{world.token['AAA-head']}")
        item = client.post(
            f"/api/assemblies/{world.assembly_id}/agenda", json={"title": "Debate"}, headers=chair
        ).json()
        assert client.post(f"/api/agenda-items/{item['id']}/current", headers=chair).is_success
        asked = client.post(
            f"/api/agenda-items/{item['id']}/floor/requests", json={}, headers=phone
        )
        assert asked.status_code == 201, asked.text
        given = client.post(f"/api/agenda-items/{item['id']}/floor/start", json={}, headers=chair)
        assert given.json()["speaking"]["nmo_code"] == "AAA"
    # A new server process on the same database (a restart) shows the same speaker, with the
    # time running since the floor was given, not since the restart.
    with server(settings) as client:
        chair = session_of(client, "/api/auth/login", json=login)
        floor = client.get(f"/api/agenda-items/{item['id']}/floor", headers=chair).json()
        assert floor["speaking"]["nmo_code"] == "AAA"
        assert floor["speaking"]["started_at"] == given.json()["speaking"]["started_at"]
        assert floor["remaining_s"] <= given.json()["remaining_s"]


def test_a_point_of_order_reaches_the_chair_screen_at_once_and_waits_for_an_open_vote(
    settings: Settings, world: World
) -> None:
    from tests.conftest import PASSWORD

    with server(settings) as client:
        chair = session_of(
            client, "/api/auth/login", json={"username": "chair", "password": PASSWORD}
        )
        phone = session_of(client, f"/login/{world.token['BBB-head']}")
        item = client.post(
            f"/api/assemblies/{world.assembly_id}/agenda", json={"title": "Debate"}, headers=chair
        ).json()
        assert client.post(f"/api/agenda-items/{item['id']}/current", headers=chair).is_success
        with client.websocket_connect(f"/ws/assembly/{world.assembly_id}", headers=chair) as ws:
            asked = client.post(
                f"/floor/{item['id']}/ask", data={"kind": "point_of_order"}, headers={**phone, **HX}
            )
            assert asked.status_code == 200, asked.text
            assert "Waiting: point of order, number 1 in the queue" in asked.text
            while True:
                message = ws.receive_text(timeout=10)
                if 'id="floor"' in message:
                    break
            assert "floor-alert" in message and "Point of order</strong> from BBB" in message
            assert "heard after the vote" not in message

        # The chair's screen and the projector fetch the same list on load.
        page = client.get(f"/agenda/{world.assembly_id}/floor", headers=chair)
        assert page.status_code == 200 and "Point of order</strong> from BBB" in page.text
        given = client.post(f"/chair/floor/{item['id']}/start", data={}, headers={**chair, **HX})
        assert given.status_code == 200 and "The floor is given" in given.text
        projector = client.get(f"/agenda/{world.assembly_id}/floor")
        assert projector.status_code == 200 and "floor-clock" in projector.text
        refused = client.post(
            f"/chair/floor/{item['id']}/extend", data={"seconds": "lots"}, headers={**chair, **HX}
        )
        assert refused.status_code == 422 and "the number of seconds" in refused.text

        # While a vote is open, a point of order is queued and shown as heard after the vote.
        vote = client.post(
            f"/api/assemblies/{world.assembly_id}/votes",
            json={"question": "Adopt?"},
            headers=chair,
        ).json()
        assert client.post(f"/api/votes/{vote['id']}/open", headers=chair).is_success
        other = session_of(client, f"/login/{world.token['CCC-head']}")
        raised = client.post(
            f"/api/agenda-items/{item['id']}/floor/requests",
            json={"kind": "point_of_order"},
            headers=other,
        )
        assert raised.status_code == 201, raised.text
        floor = client.get(f"/api/agenda-items/{item['id']}/floor", headers=chair).json()
        assert floor["vote_open"] is True and floor["points_of_order"] == 1
        shown = client.get(f"/agenda/{world.assembly_id}/floor", headers=chair).text
        assert "Point of order</strong> from CCC: heard after the vote" in shown


async def test_a_phone_loads_its_own_floor_buttons_and_a_page_without_javascript(
    make_client: ClientFactory, world: World
) -> None:
    phone = await make_client(token=world.token["AAA-head"])
    none_yet = await phone.get(f"/agenda/{world.assembly_id}/floor/mine")
    assert none_yet.status_code == 200 and "Ask to speak" not in none_yet.text
    item_id = await current_item(make_client, world)
    mine = await phone.get(f"/agenda/{world.assembly_id}/floor/mine")
    assert mine.status_code == 200 and "Ask to speak" in mine.text
    assert f'data-item-id="{item_id}"' in mine.text
    # Without JavaScript: the form posts, the server answers with the page of the floor.
    asked = await phone.post(
        f"/floor/{item_id}/ask", data={"kind": "speech"}, follow_redirects=False
    )
    assert asked.status_code == 303 and asked.headers["location"] == "/delegate/floor"
    page = await phone.get("/delegate/floor")
    assert page.status_code == 200
    assert "Waiting: speech, number 1 in the queue" in page.text
    again = await phone.post(
        f"/floor/{item_id}/ask", data={"kind": "speech"}, follow_redirects=False
    )
    assert again.status_code == 303 and "error=" in again.headers["location"]
    shown = await phone.get(again.headers["location"])
    assert "already waiting for the floor" in shown.text
