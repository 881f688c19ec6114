"""The roll call through the JSON API and the screens: the chair starts it for a plenary
session, right holders confirm from the phone, the desk marks the others, the quorum follows
the answers live, the chair closes (and may reopen) it; every refusal says why, every change
reaches the screens, and the published record takes the session's attendance from it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Litestar
from sqlalchemy import select

from assembly.agenda.models import AgendaEvent, PlenarySession
from assembly.credentials.models import Delegate
from assembly.db import utcnow, writing
from assembly.publishing.record import build_record
from assembly.settings import Settings
from tests.conftest import ClientFactory, World
from tests.voting.test_screens import HX, server, session_of


async def add_session(
    app: Litestar, world: World, name: str = "Plenary I", *, published: bool = False
) -> int:
    now = utcnow()
    async with writing(app.state.ctx.session_maker) as db:
        session = PlenarySession(
            assembly_id=world.assembly_id,
            name=name,
            starts_at=now - dt.timedelta(minutes=5),
            ends_at=now + dt.timedelta(hours=1),
            published_at=now - dt.timedelta(minutes=5) if published else None,
        )
        db.add(session)
        await db.commit()
        return session.id


def roll_url(session_id: int, rest: str = "") -> str:
    return f"/api/plenary-sessions/{session_id}/roll-call{rest}"


def answers(state: dict[str, Any]) -> dict[str, tuple[bool, str] | None]:
    return {
        n["nmo_code"]: (n["answer"]["present"], n["answer"]["via"]) if n["answer"] else None
        for n in state["nmos"]
    }


async def test_the_chair_opens_phones_confirm_the_desk_marks_and_the_quorum_follows(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    session_id = await add_session(app, world)
    chair = await make_client(staff="chair")
    desk = await make_client(staff="desk")
    started = await chair.post(roll_url(session_id))
    assert started.status_code == 201, started.text
    state = started.json()
    assert state["open"] is True and state["session_name"] == "Plenary I"
    assert (state["expected"], state["present"], state["waiting"]) == (5, 0, 5)
    # AAA, BBB and CCC are the Full Members: more than half is 2. Check-ins do not count.
    assert state["quorum"] | {"explanation": ""} == {
        "full_members": 3,
        "present": 0,
        "represented_by_proxy": 0,
        "required": 2,
        "met": False,
        "weight_present": "0",
        "explanation": "",
    }
    again = await chair.post(roll_url(session_id))
    assert again.status_code == 409 and again.json()["error"] == "roll_call_exists"

    aaa = await make_client(token=world.token["AAA-head"])
    confirmed = await aaa.post(roll_url(session_id, "/confirm"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json() | {"answered_at": None} == {
        "nmo_id": world.nmo["AAA"],
        "nmo_code": "AAA",
        "present": True,
        "via": "phone",
        "delegate_id": world.delegate["AAA-head"],
        "answered_by": confirmed.json()["answered_by"],
        "answered_at": None,
    }
    twice = await aaa.post(roll_url(session_id, "/confirm"))
    assert (
        twice.status_code == 200 and twice.json()["answered_at"] == confirmed.json()["answered_at"]
    )
    not_holder = await (await make_client(token=world.token["AAA-del"])).post(
        roll_url(session_id, "/confirm")
    )
    assert not_holder.status_code == 409
    assert not_holder.json()["error"] == "roll_call_right_holder"
    assert "holding the vote of AAA" in not_holder.json()["message"]

    marked = await desk.put(
        roll_url(session_id, f"/nmos/{world.nmo['BBB']}"), json={"present": True}
    )
    assert marked.status_code == 200 and marked.json()["via"] == "desk"
    absent = await desk.put(
        roll_url(session_id, f"/nmos/{world.nmo['CCC']}"), json={"present": False}
    )
    assert absent.status_code == 200 and absent.json()["present"] is False
    # BBB's head confirming after the desk marked it present changes nothing.
    bbb = await (await make_client(token=world.token["BBB-head"])).post(
        roll_url(session_id, "/confirm")
    )
    assert bbb.status_code == 200 and bbb.json()["via"] == "desk"

    state = (await desk.get(roll_url(session_id))).json()
    assert answers(state) == {
        "AAA": (True, "phone"),
        "BBB": (True, "desk"),
        "CCC": (False, "desk"),
        "DDD": None,
        "EEE": None,
    }
    assert (state["present"], state["absent"], state["waiting"]) == (2, 1, 2)
    assert (state["by_phone"], state["by_desk"]) == (1, 1)
    assert state["quorum"]["present"] == 2 and state["quorum"]["met"] is True
    assert state["quorum"]["weight_present"] == "3"
    current = (await chair.get(f"/api/assemblies/{world.assembly_id}/roll-call")).json()
    assert current["id"] == state["id"]

    # CCC came in late, but its head is not checked in: the phone says so.
    async with writing(app.state.ctx.session_maker) as db:
        head = await db.get(Delegate, world.delegate["CCC-head"])
        assert head is not None
        head.checked_in = False
        await db.commit()
    ccc = await make_client(token=world.token["CCC-head"])
    late = await ccc.post(roll_url(session_id, "/confirm"))
    assert late.status_code == 409 and "Check in at the credentials desk" in late.json()["message"]

    closed = await chair.post(roll_url(session_id, "/close"))
    assert closed.status_code == 200 and closed.json()["open"] is False
    assert closed.json()["closed_by"]
    after = await (await make_client(token=world.token["DDD-head"])).post(
        roll_url(session_id, "/confirm")
    )
    assert after.status_code == 409 and after.json()["error"] == "roll_call_closed"
    refused = await desk.put(
        roll_url(session_id, f"/nmos/{world.nmo['DDD']}"), json={"present": True}
    )
    assert refused.status_code == 409 and "reopens it" in refused.json()["message"]
    assert (await chair.post(roll_url(session_id, "/close"))).status_code == 409

    reopened = await chair.post(roll_url(session_id, "/reopen"))
    assert reopened.status_code == 200 and reopened.json()["open"] is True
    assert reopened.json()["present"] == 2  # the answers stay
    second = await add_session(app, world, "Plenary II")
    blocked = await chair.post(roll_url(second))
    assert blocked.status_code == 409 and "Plenary I" in blocked.json()["message"]
    assert blocked.json()["error"] == "roll_call_open"

    # The chair's and the desk's actions are recorded beside the agenda, not among its changes.
    async with writing(app.state.ctx.session_maker) as db:
        kinds = list(
            (
                await db.execute(
                    select(AgendaEvent.kind)
                    .where(AgendaEvent.assembly_id == world.assembly_id)
                    .order_by(AgendaEvent.id)
                )
            ).scalars()
        )
    assert kinds == [
        "floor_roll_call_opened",
        "floor_roll_call_marked",
        "floor_roll_call_marked",
        "floor_roll_call_closed",
        "floor_roll_call_reopened",
    ]
    agenda = (await chair.get(f"/api/assemblies/{world.assembly_id}/agenda/state")).json()
    assert not [e for e in agenda["events"] if "roll_call" in e["kind"]]


async def test_who_may_read_and_change_a_roll_call(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    session_id = await add_session(app, world)
    phone = await make_client(token=world.token["AAA-head"])
    none_yet = await (await make_client(staff="desk")).get(roll_url(session_id))
    assert none_yet.status_code == 404 and "chair starts it" in none_yet.json()["message"]
    assert (await phone.post(roll_url(session_id))).status_code == 403
    assert (await (await make_client(staff="desk")).post(roll_url(session_id))).status_code == 403
    assert (await (await make_client(staff="chair")).post(roll_url(session_id))).status_code == 201
    assert (await phone.get(roll_url(session_id))).status_code == 403
    assert (await (await make_client()).get(roll_url(session_id))).status_code == 401
    chair = await make_client(staff="chair")
    wrong = await chair.put(roll_url(session_id, "/nmos/999999"), json={"present": True})
    assert wrong.status_code == 404
    bad = await chair.put(
        roll_url(session_id, f"/nmos/{world.nmo['AAA']}"), json={"present": "yes"}
    )
    assert bad.status_code == 400
    assert (await chair.post(roll_url(999999))).status_code == 404


async def test_the_screens_show_the_roll_call_and_run_it_with_and_without_javascript(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    session_id = await add_session(app, world)
    chair = await make_client(staff="chair")
    page = await chair.get(f"/chair?assembly={world.assembly_id}")
    assert page.status_code == 200 and "roll-call-slot for-chair" in page.text
    fragment = await chair.get(f"/agenda/{world.assembly_id}/roll-call")
    assert fragment.status_code == 200
    assert "No roll call yet." in fragment.text and "Start the roll call" in fragment.text
    assert f'<option value="{session_id}" selected>Plenary I</option>' in fragment.text

    started = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/roll-call/start",
        data={"session_id": str(session_id)},
        headers=HX,
    )
    assert started.status_code == 200, started.text
    assert "The roll call of “Plenary I” is open." in started.text
    assert "0 of 5 NMOs present" in started.text and "Close the roll call" in started.text
    unknown = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/roll-call/restart",
        data={"session_id": str(session_id)},
        headers=HX,
    )
    assert unknown.status_code == 422 and "start, close or reopen" in unknown.text

    # The phone of the right holder asks to confirm; another delegate of the NMO is told who.
    phone = await make_client(token=world.token["AAA-head"])
    home = await phone.get("/delegate")
    assert home.status_code == 200 and "roll-call-slot for-phone" in home.text
    mine = await phone.get(f"/agenda/{world.assembly_id}/roll-call/mine")
    assert "Confirm I am present (AAA)" in mine.text
    other = await make_client(token=world.token["AAA-del"])
    theirs = await other.get(f"/agenda/{world.assembly_id}/roll-call/mine")
    assert "The delegate holding the vote of AAA confirms its presence." in theirs.text
    assert "Confirm I am present" not in theirs.text
    confirmed = await phone.post(f"/roll-call/{session_id}/confirm", headers=HX)
    assert confirmed.status_code == 200
    assert "AAA is present: confirmed by phone." in confirmed.text
    refused = await other.post(f"/roll-call/{session_id}/confirm", headers=HX)
    assert refused.status_code == 409 and "holding the vote of AAA" in refused.text

    # Without JavaScript: the form posts, the server answers with the roll call page.
    bbb = await make_client(token=world.token["BBB-head"])
    posted = await bbb.post(f"/roll-call/{session_id}/confirm", follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/delegate/roll-call"
    shown = await bbb.get("/delegate/roll-call")
    assert shown.status_code == 200 and "BBB is present: confirmed by phone." in shown.text

    # The desk marks from its list; the answer comes back with what happened.
    desk = await make_client(staff="desk")
    desk_page = await desk.get(f"/desk?assembly={world.assembly_id}")
    assert desk_page.status_code == 200 and "roll-call-slot for-desk" in desk_page.text
    listed = await desk.get(f"/agenda/{world.assembly_id}/roll-call")
    assert "Mark CCC present" in listed.text and "present, by phone" in listed.text
    marked = await desk.post(
        f"/desk/roll-call/{session_id}/nmos/{world.nmo['CCC']}", data={"present": "yes"}, headers=HX
    )
    assert marked.status_code == 200 and "CCC is marked present." in marked.text
    assert "3 of 5 NMOs present" in marked.text and "Quorum met" in marked.text
    nonsense = await desk.post(
        f"/desk/roll-call/{session_id}/nmos/{world.nmo['CCC']}",
        data={"present": "maybe"},
        headers=HX,
    )
    assert nonsense.status_code == 422 and "Choose present or absent." in nonsense.text
    plain = await desk.post(
        f"/desk/roll-call/{session_id}/nmos/{world.nmo['DDD']}",
        data={"present": "no"},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/desk?assembly={world.assembly_id}"

    # The public projector gets the progress and the quorum, never the list of NMOs.
    public = await make_client()
    projector = await public.get(f"/agenda/{world.assembly_id}/roll-call")
    assert projector.status_code == 200 and "3 of 5 NMOs present" in projector.text
    assert "Mark CCC present" not in projector.text and "roll-call-nmos" not in projector.text

    closed = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/roll-call/close",
        data={"session_id": str(session_id)},
        headers=HX,
    )
    assert closed.status_code == 200 and "is closed" in closed.text
    assert "Reopen the roll call of Plenary I" in closed.text


def test_every_change_reaches_the_screens_at_once(settings: Settings, world: World) -> None:
    from tests.conftest import PASSWORD

    with server(settings) as client:
        chair = session_of(
            client, "/api/auth/login", json={"username": "chair", "password": PASSWORD}
        )
        desk = session_of(
            client, "/api/auth/login", json={"username": "desk", "password": PASSWORD}
        )
        phone = session_of(client, f"/login/{world.token['AAA-head']}")
        session = client.post(
            f"/api/assemblies/{world.assembly_id}/sessions",
            json={
                "name": "Plenary I",
                "starts_at": utcnow().isoformat(),
                "ends_at": (utcnow() + dt.timedelta(hours=2)).isoformat(),
            },
            headers=chair,
        )
        assert session.status_code == 201, session.text
        session_id = session.json()["id"]

        def until(ws: Any, marker: str) -> str:
            while True:
                message: str = ws.receive_text(timeout=10)
                if marker in message:
                    return message

        with (
            client.websocket_connect(f"/ws/assembly/{world.assembly_id}", headers=chair) as screen,
            client.websocket_connect(f"/ws/assembly/{world.assembly_id}", headers=phone) as mobile,
        ):
            started = client.post(roll_url(session_id), headers=chair)
            assert started.status_code == 201, started.text
            pushed = until(screen, 'id="roll-call-status"')
            assert "0 of 5 NMOs present" in pushed and 'hx-swap-oob="innerHTML"' in pushed
            # The controls come in the same message (the chair screen shows them).
            assert 'id="roll-call-controls"' in pushed and "Close the roll call" in pushed
            assert "Mark AAA present" in until(screen, 'id="roll-call-nmos"')
            prompt = until(mobile, 'id="my-roll-call"')
            assert "Confirm I am present (AAA)" in prompt

            assert client.post(roll_url(session_id, "/confirm"), headers=phone).is_success
            assert "1 of 5 NMOs present" in until(screen, 'id="roll-call-status"')
            row = until(screen, f'id="roll-call-answer-{world.nmo["AAA"]}"')
            assert "present, by phone" in row and 'id="roll-call-nmos"' not in row
            assert "AAA is present: confirmed by phone." in until(mobile, 'id="my-roll-call"')

            marked = client.put(
                roll_url(session_id, f"/nmos/{world.nmo['BBB']}"),
                json={"present": True},
                headers=desk,
            )
            assert marked.status_code == 200, marked.text
            status = until(screen, 'id="roll-call-status"')
            assert "2 of 5 NMOs present" in status and "Quorum met" in status


async def test_the_published_attendance_of_a_session_comes_from_its_roll_call(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    with_roll_call = await add_session(app, world, "Plenary I", published=True)
    await add_session(app, world, "Plenary II", published=True)
    chair = await make_client(staff="chair")
    assert (await chair.post(roll_url(with_roll_call))).status_code == 201
    phone = await make_client(token=world.token["AAA-head"])
    assert (await phone.post(roll_url(with_roll_call, "/confirm"))).status_code == 200
    for code, present in (("BBB", True), ("CCC", False)):
        response = await chair.put(
            roll_url(with_roll_call, f"/nmos/{world.nmo[code]}"), json={"present": present}
        )
        assert response.status_code == 200
    assert (await chair.post(roll_url(with_roll_call, "/close"))).status_code == 200

    async with writing(app.state.ctx.session_maker) as db:
        record = await build_record(db, world.assembly_id, now=utcnow() + dt.timedelta(hours=2))
    called, checked = record.sessions
    assert called.roll_call is True and checked.roll_call is False
    assert {r.nmo: (r.present, r.marked) for r in called.attendance} == {
        "AAA": (True, "phone"),
        "BBB": (True, "desk"),
        "CCC": (False, "desk"),
        "DDD": (False, ""),  # checked in, but never answered the roll call
        "EEE": (False, ""),
    }
    assert called.present == 2
    # A session with no roll call keeps the check-ins: every head was checked in.
    assert {r.nmo: (r.present, r.marked) for r in checked.attendance} == {
        code: (True, "") for code in ("AAA", "BBB", "CCC", "DDD", "EEE")
    }

    public = await make_client()
    shown = await public.get(f"/record/{world.assembly_id}/sessions/{with_roll_call}")
    assert shown.status_code == 200
    assert "present at the roll call of the session" in shown.text
    assert "present (confirmed by phone)" in shown.text
    assert "present (marked at the desk)" in shown.text
    assert "absent (marked at the desk)" in shown.text
    exported = await public.get(f"/record/{world.assembly_id}/export/record.json")
    assert exported.status_code == 200
    sittings = {s["name"]: s for s in exported.json()["sessions"]}
    assert sittings["Plenary I"]["roll_call"] is True
    assert {a["nmo"]: a["marked"] for a in sittings["Plenary I"]["attendance"]}["AAA"] == "phone"
    assert {a["nmo"]: a["marked"] for a in sittings["Plenary II"]["attendance"]}["AAA"] is None


async def test_the_roll_call_speaks_the_readers_language(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    session_id = await add_session(app, world)
    async with writing(app.state.ctx.session_maker) as db:
        for name, lang in (("AAA-head", "fr"), ("AAA-del", "fr"), ("BBB-head", "es")):
            delegate = await db.get(Delegate, world.delegate[name])
            assert delegate is not None
            delegate.language = lang
        await db.commit()
    assert (await (await make_client(staff="chair")).post(roll_url(session_id))).status_code == 201
    french = await make_client(token=world.token["AAA-head"])
    mine = await french.get(f"/agenda/{world.assembly_id}/roll-call/mine")
    assert "Confirmer que je suis présent (AAA)" in mine.text
    spanish = await make_client(token=world.token["BBB-head"])
    shown = await spanish.get(f"/agenda/{world.assembly_id}/roll-call")
    assert "0 de 5 NMO presentes" in shown.text and "Pase de lista: Plenary I" in shown.text
    other = await make_client(token=world.token["AAA-del"])
    wrong = await other.post(roll_url(session_id, "/confirm"))
    assert wrong.status_code == 409
    assert "Le délégué qui détient le vote de AAA" in wrong.json()["message"]
