"""The credentials JSON API with real HTTP clients: logins, setup, the voting right, presence
and quorum, proxies, access between assemblies, token revocation, the append-only record and
the refusal of bad input."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials import service
from assembly.credentials.models import CredentialEvent, Nmo
from assembly.db import writing
from assembly.errors import Conflict, NotAuthenticated
from tests.conftest import PASSWORD, SECRETARIAT, ClientFactory, World, seed_world

Client = AsyncTestClient[Litestar]


async def events(staff: Client, assembly_id: int, kind: str | None = None) -> list[dict[str, Any]]:
    response = await staff.get(f"/api/assemblies/{assembly_id}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return [e for e in rows if kind is None or e["kind"] == kind]


def refused(response: Any, status: int, *phrases: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    for phrase in phrases:
        assert phrase in body["message"], body
    return body


# --- staff login ------------------------------------------------------------------------


async def test_staff_login_with_the_right_password_starts_a_session(
    app: Litestar, make_client: ClientFactory
) -> None:
    await seed_world(app)
    client = await make_client()
    response = await client.post(
        "/api/auth/login", json={"username": "secretariat", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["role"] == "secretariat"
    assert "assembly_session" in response.cookies
    me = (await client.get("/api/auth/me")).json()
    assert me["role"] == "secretariat"
    assert me["name"] == "secretariat"
    assert me["staff_user_id"] is not None
    assert me["delegate_id"] is None


@pytest.mark.parametrize(
    ("username", "password"),
    [("secretariat", "wrong password!"), ("nobody", PASSWORD), ("secretariat", "")],
)
async def test_staff_login_with_a_wrong_password_or_user_is_refused(
    app: Litestar, make_client: ClientFactory, username: str, password: str
) -> None:
    await seed_world(app)
    client = await make_client()
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    refused(response, 401, "Wrong username or password.")
    assert "assembly_session" not in response.cookies
    assert (await client.get("/api/auth/me")).json()["role"] == "public"


async def test_me_tells_a_delegate_who_they_are(world: World, make_client: ClientFactory) -> None:
    client = await make_client(token=world.token["AAA-head"])
    me = (await client.get("/api/auth/me")).json()
    assert me == {
        "role": "delegate",
        "name": "AAA-head",
        "staff_user_id": None,
        "delegate_id": world.delegate["AAA-head"],
        "nmo_id": world.nmo["AAA"],
        "assembly_id": world.assembly_id,
        "is_head": True,
    }


async def test_logout_ends_the_session(world: World, make_client: ClientFactory) -> None:
    client = await make_client(staff="secretariat")
    assert (await client.post("/api/auth/logout")).status_code == 200
    assert (await client.get("/api/auth/me")).json()["role"] == "public"
    refused(await client.get(f"/api/assemblies/{world.assembly_id}/events"), 401, "Log in first")


# --- setting up an assembly -------------------------------------------------------------


async def test_secretariat_creates_an_assembly_an_nmo_and_a_delegate(
    app: Litestar, make_client: ClientFactory
) -> None:
    await seed_world(app, nmos=[])
    staff = await make_client(staff="secretariat")
    created = await staff.post(
        "/api/assemblies",
        json={
            "name": "August Meeting",
            "place": "Oslo",
            "rules": {"quorum_share": "1/3", "quorum_strict": False, "proxies_enabled": True},
        },
    )
    assert created.status_code == 201, created.text
    assembly = created.json()
    assert assembly["name"] == "August Meeting"
    assert assembly["place"] == "Oslo"
    assert assembly["rules"]["quorum_share"] == "1/3"
    assert assembly["rules"]["quorum_strict"] is False
    assert assembly["rules"]["proxies_enabled"] is True
    assert assembly["rules"]["max_proxies"] == 1
    aid = assembly["id"]

    nmo = await staff.post(
        f"/api/assemblies/{aid}/nmos",
        json={"code": "NOR", "name": "Norway", "country": "Norway", "weight": "3/2"},
    )
    assert nmo.status_code == 201, nmo.text
    assert nmo.json()["weight"] == "1.5"
    assert nmo.json()["member_class"] == "full"
    assert nmo.json()["credentialed"] is False
    nmo_id = nmo.json()["id"]

    head = await staff.post(
        f"/api/nmos/{nmo_id}/delegates",
        json={"name": "Kari", "email": "kari@example.org", "role": "head"},
    )
    assert head.status_code == 201, head.text
    assert head.json()["holds_vote"] is True
    assert head.json()["checked_in"] is False

    kinds = [e["kind"] for e in await events(staff, aid)]
    assert kinds == ["assembly_created", "nmo_added", "delegate_added", "right_handover"]
    [handover] = await events(staff, aid, "right_handover")
    assert handover["detail"]["default"] is True
    assert handover["detail"]["to"] == head.json()["id"]


async def test_a_class_or_weight_change_needs_a_reason(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    nmo = f"/api/nmos/{world.nmo['AAA']}"
    for change in ({"weight": "2"}, {"member_class": "suspended"}, {"weight": 3, "reason": "  "}):
        refused(await staff.patch(nmo, json=change), 422, "Say why")
    unchanged = (await staff.get(nmo)).json()
    assert (unchanged["weight"], unchanged["member_class"]) == ("1", "full")
    assert await events(staff, world.assembly_id, "nmo_weight") == []
    assert await events(staff, world.assembly_id, "nmo_class") == []


async def test_a_class_and_weight_change_is_recorded_with_who_when_and_why(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    before = dt.datetime.now(dt.UTC)
    response = await staff.patch(
        f"/api/nmos/{world.nmo['AAA']}",
        json={"weight": "5/2", "member_class": "suspended", "reason": "Dues band 2026"},
    )
    after = dt.datetime.now(dt.UTC)
    assert response.status_code == 200, response.text
    assert response.json()["weight"] == "2.5"
    assert response.json()["member_class"] == "suspended"
    [weight] = await events(staff, world.assembly_id, "nmo_weight")
    [klass] = await events(staff, world.assembly_id, "nmo_class")
    for event in (weight, klass):
        assert event["actor"] == "secretariat:secretariat"
        assert event["reason"] == "Dues band 2026"
        assert event["nmo_id"] == world.nmo["AAA"]
        assert before <= dt.datetime.fromisoformat(event["at"]) <= after
    assert weight["detail"] == {"code": "AAA", "old": "1", "new": "2.5"}
    assert klass["detail"] == {"code": "AAA", "old": "full", "new": "suspended"}


async def test_a_change_to_the_same_class_and_weight_needs_no_reason_and_records_nothing(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    response = await staff.patch(
        f"/api/nmos/{world.nmo['BBB']}", json={"weight": "2.0", "member_class": "full"}
    )
    assert response.status_code == 200, response.text
    assert await events(staff, world.assembly_id, "nmo_weight") == []


async def test_assembly_rule_changes_are_recorded_with_old_and_new_values(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    response = await staff.patch(
        f"/api/assemblies/{world.assembly_id}",
        json={"rules": {"quorum_share": "1/3", "quorum_strict": False}, "reason": "Bylaw 4.2"},
    )
    assert response.status_code == 200, response.text
    [change] = await events(staff, world.assembly_id, "assembly_rules")
    assert change["reason"] == "Bylaw 4.2"
    assert change["detail"] == {
        "quorum_share": {"old": "0.5", "new": "1/3"},
        "quorum_strict": {"old": True, "new": False},
    }
    quorum = (await staff.get(f"/api/assemblies/{world.assembly_id}/quorum")).json()
    assert quorum["rule"] == "at least 1/3 of the Full Members"
    assert quorum["required"] == 1


# --- the voting right -------------------------------------------------------------------


async def test_the_head_holds_the_vote_by_default(world: World, make_client: ClientFactory) -> None:
    staff = await make_client(staff="secretariat")
    delegates = (await staff.get(f"/api/nmos/{world.nmo['AAA']}/delegates")).json()
    holding = {d["name"]: d["holds_vote"] for d in delegates}
    assert holding == {"AAA-head": True, "AAA-del": False}
    nmo = (await staff.get(f"/api/nmos/{world.nmo['AAA']}")).json()
    assert nmo["right_holder_id"] == world.delegate["AAA-head"]


async def test_the_head_hands_the_vote_to_a_delegate_and_the_change_is_recorded(
    world: World, make_client: ClientFactory
) -> None:
    head = await make_client(token=world.token["AAA-head"])
    response = await head.post(
        f"/api/nmos/{world.nmo['AAA']}/voting-right",
        json={"holder_id": world.delegate["AAA-del"]},
    )
    assert response.status_code == 200, response.text
    assert response.json()["right_holder_id"] == world.delegate["AAA-del"]
    # The new holder has not checked in, so AAA is no longer present.
    assert response.json()["present"] is False
    staff = await make_client(staff="secretariat")
    handovers = await events(staff, world.assembly_id, "right_handover")
    last = [e for e in handovers if e["nmo_id"] == world.nmo["AAA"]][-1]
    assert last["actor"] == f"delegate:{world.delegate['AAA-head']}:AAA-head"
    assert last["detail"]["from"] == world.delegate["AAA-head"]
    assert last["detail"]["to"] == world.delegate["AAA-del"]
    holding = {
        d["name"]: d["holds_vote"]
        for d in (await staff.get(f"/api/nmos/{world.nmo['AAA']}/delegates")).json()
    }
    assert holding == {"AAA-head": False, "AAA-del": True}
    quorum = (await staff.get(f"/api/assemblies/{world.assembly_id}/quorum")).json()
    assert quorum["present"] == 2


async def test_an_observer_cannot_hold_the_vote(world: World, make_client: ClientFactory) -> None:
    staff = await make_client(staff="secretariat")
    observer = await staff.post(
        f"/api/nmos/{world.nmo['AAA']}/delegates", json={"name": "Watcher", "role": "observer"}
    )
    assert observer.status_code == 201, observer.text
    head = await make_client(token=world.token["AAA-head"])
    body = refused(
        await head.post(
            f"/api/nmos/{world.nmo['AAA']}/voting-right",
            json={"holder_id": observer.json()["id"]},
        ),
        409,
        "An observer cannot hold the vote of AAA",
    )
    assert body["error"] == "holder_not_observer"
    nmo = (await staff.get(f"/api/nmos/{world.nmo['AAA']}")).json()
    assert nmo["right_holder_id"] == world.delegate["AAA-head"]


async def test_a_delegate_who_is_not_the_head_cannot_hand_over_the_vote(
    world: World, make_client: ClientFactory
) -> None:
    delegate = await make_client(token=world.token["AAA-del"])
    refused(
        await delegate.post(
            f"/api/nmos/{world.nmo['AAA']}/voting-right",
            json={"holder_id": world.delegate["AAA-del"]},
        ),
        403,
        "Only the head of delegation of AAA can hand over its vote.",
    )


async def test_the_head_of_another_nmo_cannot_hand_over_the_vote(
    world: World, make_client: ClientFactory
) -> None:
    other_head = await make_client(token=world.token["BBB-head"])
    refused(
        await other_head.post(
            f"/api/nmos/{world.nmo['AAA']}/voting-right",
            json={"holder_id": world.delegate["AAA-del"]},
        ),
        403,
        "Only the head of delegation of AAA can hand over its vote.",
    )


async def test_the_vote_cannot_go_to_a_delegate_of_another_nmo(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    body = refused(
        await staff.post(
            f"/api/nmos/{world.nmo['AAA']}/voting-right",
            json={"holder_id": world.delegate["BBB-del"]},
        ),
        409,
        "The vote of AAA can only be held by one of its delegates.",
    )
    assert body["error"] == "holder_same_nmo"


async def test_a_delegate_made_head_takes_the_vacant_vote_and_it_is_recorded(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    nmo = await staff.post(
        f"/api/assemblies/{world.assembly_id}/nmos", json={"code": "FFF", "name": "NMO FFF"}
    )
    nmo_id = nmo.json()["id"]
    d = await staff.post(f"/api/nmos/{nmo_id}/delegates", json={"name": "Fay"})
    assert d.json()["holds_vote"] is False
    promoted = await staff.patch(f"/api/delegates/{d.json()['id']}", json={"role": "head"})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["holds_vote"] is True
    [handover] = [
        e for e in await events(staff, world.assembly_id, "right_handover") if e["nmo_id"] == nmo_id
    ]
    assert handover["delegate_id"] == d.json()["id"]
    assert handover["detail"]["to"] == d.json()["id"]


async def test_the_holder_of_the_vote_cannot_be_made_an_observer(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    refused(
        await staff.patch(
            f"/api/delegates/{world.delegate['AAA-head']}", json={"role": "observer"}
        ),
        409,
        "AAA-head holds the vote of AAA",
    )


# --- credentials, presence and quorum ---------------------------------------------------


async def test_credentialing_and_check_in_drive_presence_and_the_live_quorum(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, credential=False, check_in=False)
    desk = await make_client(staff="desk")
    quorum_url = f"/api/assemblies/{world.assembly_id}/quorum"

    async def quorum() -> dict[str, Any]:
        response = await desk.get(quorum_url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    start = await quorum()
    assert (start["full_members"], start["present"], start["required"]) == (3, 0, 2)
    assert start["met"] is False
    assert (start["weight_total"], start["weight_present"]) == ("4.5", "0")
    assert start["rule"] == "more than 1/2 of the Full Members"

    async def credential(code: str, yes: bool = True) -> dict[str, Any]:
        r = await desk.post(f"/api/nmos/{world.nmo[code]}/credential", json={"credentialed": yes})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def check_in(name: str, present: bool = True) -> dict[str, Any]:
        r = await desk.post(
            f"/api/delegates/{world.delegate[name]}/check-in", json={"present": present}
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    ccc = await credential("CCC")
    assert (ccc["credentialed"], ccc["present"]) == (True, False)
    assert (await quorum())["present"] == 0

    assert (await check_in("CCC-head"))["checked_in"] is True
    assert (await desk.get(f"/api/nmos/{world.nmo['CCC']}")).json()["present"] is True
    q = await quorum()
    assert (q["present"], q["met"], q["weight_present"]) == (1, False, "1.5")

    # A checked-in head without credentials does not count.
    await check_in("AAA-head")
    assert (await quorum())["present"] == 1
    await credential("AAA")
    q = await quorum()
    assert (q["present"], q["met"], q["weight_present"]) == (2, True, "2.5")
    assert q["explanation"] == (
        "2 of 3 Full Members present; quorum is more than 1/2 of the Full Members (2): quorum met."
    )

    # Candidates attend but never count.
    await credential("DDD")
    await check_in("DDD-head")
    assert (await quorum())["present"] == 2

    await check_in("AAA-head", present=False)
    q = await quorum()
    assert (q["present"], q["met"]) == (1, False)
    await check_in("AAA-head")
    await credential("CCC", yes=False)
    q = await quorum()
    assert (q["present"], q["met"], q["weight_present"]) == (1, False, "1")

    staff = await make_client(staff="secretariat")
    kinds = [e["kind"] for e in await events(staff, world.assembly_id)]
    assert kinds.count("nmo_credentialed") == 3
    assert kinds.count("nmo_uncredentialed") == 1
    assert kinds.count("checked_in") == 4
    assert kinds.count("checked_out") == 1
    [out] = await events(staff, world.assembly_id, "checked_out")
    assert out["actor"] == "desk:desk"
    assert out["detail"] == {"via": "desk"}


async def test_the_quorum_and_electorate_carry_exact_weights(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(
        app, nmos=[("AAA", "full", "1/3"), ("BBB", "full", "1/3"), ("CCC", "full", "1/3")]
    )
    staff = await make_client(staff="chair")
    quorum = (await staff.get(f"/api/assemblies/{world.assembly_id}/quorum")).json()
    assert quorum["weight_total"] == "1"
    assert quorum["weight_present"] == "1"
    assert quorum["weight_represented"] == "1"
    electorate = (await staff.get(f"/api/assemblies/{world.assembly_id}/electorate")).json()
    assert [e["weight"] for e in electorate] == ["1/3", "1/3", "1/3"]


# --- proxies ----------------------------------------------------------------------------

ON = {"proxies_enabled": True, "max_proxies": 1}


@pytest.mark.parametrize(
    ("rules", "standing", "attempt", "rule", "message"),
    [
        ({}, [], ("AAA", "BBB"), "proxies_off", "Proxies are not allowed at this assembly."),
        (
            {**ON, "proxy_deadline": "2020-01-01T00:00Z"},
            [],
            ("AAA", "BBB"),
            "proxy_deadline",
            "The deadline for proxies passed at 2020-01-01 00:00 UTC.",
        ),
        (ON, [], ("AAA", "AAA"), "proxy_self", "AAA cannot give its vote to itself."),
        (ON, [], ("DDD", "AAA"), "proxy_full_members_only", "DDD is a candidate member"),
        (ON, [], ("AAA", "EEE"), "proxy_full_members_only", "EEE is a suspended member"),
        (
            ON,
            [("AAA", "BBB")],
            ("AAA", "CCC"),
            "proxy_one_per_giver",
            "AAA has already given its vote away",
        ),
        (
            ON,
            [("AAA", "BBB")],
            ("BBB", "CCC"),
            "proxy_no_chains",
            "BBB holds the vote of another NMO",
        ),
        (
            ON,
            [("AAA", "BBB")],
            ("CCC", "AAA"),
            "proxy_no_chains",
            "AAA has given its own vote away",
        ),
        (ON, [("AAA", "CCC")], ("BBB", "CCC"), "proxy_cap", "CCC already carries 1 proxy"),
        (
            {"proxies_enabled": True, "max_proxies": 0},
            [],
            ("AAA", "BBB"),
            "proxy_cap",
            "No NMO may hold proxies at this assembly",
        ),
    ],
)
async def test_every_proxy_rule_is_refused_with_409_naming_the_rule(
    app: Litestar,
    make_client: ClientFactory,
    rules: dict[str, Any],
    standing: list[tuple[str, str]],
    attempt: tuple[str, str],
    rule: str,
    message: str,
) -> None:
    world = await seed_world(app, **rules)
    staff = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}/proxies"
    for giver, holder in standing:
        given = await staff.post(
            url, json={"giver_id": world.nmo[giver], "holder_id": world.nmo[holder]}
        )
        assert given.status_code == 201, given.text
    giver, holder = attempt
    body = refused(
        await staff.post(url, json={"giver_id": world.nmo[giver], "holder_id": world.nmo[holder]}),
        409,
        message,
    )
    assert body["error"] == rule
    assert len((await staff.get(url)).json()) == len(standing)
    assert len(await events(staff, world.assembly_id, "proxy_given")) == len(standing)


@pytest.mark.parametrize(
    ("requests", "rule"),
    [
        ([("N1", "N6"), ("N2", "N6"), ("N3", "N6"), ("N4", "N6"), ("N5", "N6")], "proxy_cap"),
        ([("N1", "N2"), ("N2", "N3"), ("N3", "N4"), ("N4", "N5"), ("N5", "N6")], "proxy_no_chains"),
        ([("N1", "N2"), ("N1", "N3"), ("N1", "N4"), ("N1", "N5"), ("N1", "N6")], "one_per_giver"),
    ],
    ids=["cap", "chain", "one-per-giver"],
)
async def test_proxy_rules_hold_when_requests_arrive_at_the_same_time(
    app: Litestar, make_client: ClientFactory, requests: list[tuple[str, str]], rule: str
) -> None:
    world = await seed_world(app, nmos=[(f"N{i}", "full", 1) for i in range(1, 7)], **ON)
    url = f"/api/assemblies/{world.assembly_id}/proxies"
    clients = [await make_client(staff="secretariat") for _ in requests]

    def post(client: Client, giver: str, holder: str) -> Any:
        # The test transport blocks its caller until the app answers, so each request is
        # sent from its own thread; the app serves them together, as a server process does.
        body = {"giver_id": world.nmo[giver], "holder_id": world.nmo[holder]}
        return asyncio.run(client.post(url, json=body))

    responses = await asyncio.gather(
        *(
            asyncio.to_thread(post, client, giver, holder)
            for client, (giver, holder) in zip(clients, requests, strict=True)
        )
    )
    accepted = [r.json() for r in responses if r.status_code == 201]
    refused_codes = {r.json()["error"] for r in responses if r.status_code == 409}
    assert len(accepted) + sum(r.status_code == 409 for r in responses) == len(requests)
    standing = (await clients[0].get(url)).json()
    assert {p["id"] for p in standing} == {p["id"] for p in accepted}
    givers = [p["giver_code"] for p in standing]
    holders = [p["holder_code"] for p in standing]
    assert len(givers) == len(set(givers))
    assert not set(givers) & set(holders)
    assert len(holders) == len(set(holders))  # max_proxies is 1
    if rule != "proxy_no_chains":
        # Every request competes for the same giver or holder: exactly one wins.
        assert len(accepted) == 1
        assert refused_codes == {"proxy_one_per_giver" if rule == "one_per_giver" else rule}


async def test_the_database_refuses_a_second_standing_proxy_the_checks_did_not_see(
    app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a request racing another one meets: its check read no proxy, the index refuses."""
    world = await seed_world(app, **ON)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await service.get_assembly(db, world.assembly_id)
        aaa, bbb, ccc = [await service.get_nmo(db, world.nmo[c]) for c in ("AAA", "BBB", "CCC")]
        await service.give_proxy(db, SECRETARIAT, assembly, aaa, bbb)
        await db.commit()

        async def none_standing(db: AsyncSession, assembly_id: int) -> list[Any]:
            return []

        monkeypatch.setattr(service, "standing_proxies", none_standing)
        with pytest.raises(Conflict) as caught:
            await service.give_proxy(db, SECRETARIAT, assembly, aaa, ccc)
        assert caught.value.code == "proxy_one_per_giver"
        assert caught.value.message == (
            "AAA has already given its vote away; revoke that proxy first."
        )


async def test_the_database_refuses_a_second_head_the_checks_did_not_see(
    app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await seed_world(app)

    async def no_head(db: AsyncSession, nmo_id: int) -> None:
        return None

    monkeypatch.setattr(service, "_head_of", no_head)
    async with writing(app.state.ctx.session_maker) as db:
        nmo = await service.get_nmo(db, world.nmo["AAA"])
        with pytest.raises(Conflict) as caught:
            await service.add_delegate(
                db, app.state.ctx.sealer, nmo, "test", name="Second", role="head"
            )
        assert caught.value.message == "AAA already has a head of delegation."


async def test_the_database_refuses_a_duplicate_nmo_code_the_checks_did_not_see(
    app: Litestar, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await seed_world(app)

    async def never_taken(db: AsyncSession, assembly_id: int, code: str) -> bool:
        return False

    monkeypatch.setattr(service, "nmo_code_taken", never_taken)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await service.get_assembly(db, world.assembly_id)
        with pytest.raises(Conflict) as caught:
            await service.add_nmo(db, assembly, "test", code="AAA", name="Again")
        assert caught.value.message == "There is already an NMO with code AAA in this assembly."


async def test_a_second_proxy_is_accepted_when_max_proxies_is_two(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, proxies_enabled=True, max_proxies=2)
    staff = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}/proxies"
    for giver in ("AAA", "BBB"):
        r = await staff.post(
            url, json={"giver_id": world.nmo[giver], "holder_id": world.nmo["CCC"]}
        )
        assert r.status_code == 201, r.text
    electorate = (await staff.get(f"/api/assemblies/{world.assembly_id}/electorate")).json()
    assert [(e["nmo_code"], e["cast_by_nmo_code"]) for e in electorate] == [
        ("AAA", "CCC"),
        ("BBB", "CCC"),
        ("CCC", "CCC"),
    ]


async def test_the_head_gives_the_vote_and_the_giver_cannot_vote_while_the_proxy_stands(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON)
    head = await make_client(token=world.token["AAA-head"])
    response = await head.post(
        f"/api/assemblies/{world.assembly_id}/proxies",
        json={"giver_id": world.nmo["AAA"], "holder_id": world.nmo["BBB"]},
    )
    assert response.status_code == 201, response.text
    proxy = response.json()
    assert (proxy["giver_code"], proxy["holder_code"]) == ("AAA", "BBB")
    assert proxy["given_by"] == f"delegate:{world.delegate['AAA-head']}:AAA-head"
    assert proxy["revoked_at"] is None

    chair = await make_client(staff="chair")
    electorate = (await chair.get(f"/api/assemblies/{world.assembly_id}/electorate")).json()
    by_nmo = {e["nmo_code"]: e for e in electorate}
    # AAA's head is still checked in, yet AAA's vote is cast by BBB.
    assert by_nmo["AAA"]["cast_by_nmo_code"] == "BBB"
    assert by_nmo["AAA"]["cast_by_delegate_id"] == world.delegate["BBB-head"]
    assert by_nmo["AAA"]["via_proxy"] is True
    assert by_nmo["AAA"]["weight"] == "1"
    assert [e["cast_by_nmo_code"] for e in electorate].count("AAA") == 0
    [given] = await events(chair, world.assembly_id, "proxy_given")
    assert given["detail"]["giver"] == "AAA"
    assert given["detail"]["holder"] == "BBB"


async def test_only_the_givers_head_or_the_secretariat_gives_or_revokes_a_proxy(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON)
    url = f"/api/assemblies/{world.assembly_id}/proxies"
    body = {"giver_id": world.nmo["AAA"], "holder_id": world.nmo["BBB"]}
    delegate = await make_client(token=world.token["AAA-del"])
    refused(await delegate.post(url, json=body), 403, "Only the head of delegation of AAA")
    other_head = await make_client(token=world.token["CCC-head"])
    refused(await other_head.post(url, json=body), 403, "Only the head of delegation of AAA")
    staff = await make_client(staff="secretariat")
    proxy = (await staff.post(url, json=body)).json()
    refused(
        await other_head.delete(f"/api/proxies/{proxy['id']}"),
        403,
        "Only the head of delegation of AAA can revoke its proxy.",
    )
    assert len((await staff.get(url)).json()) == 1


async def test_revoking_a_proxy_gives_the_vote_back_to_the_giver(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON)
    staff = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}/proxies"
    proxy = (
        await staff.post(url, json={"giver_id": world.nmo["AAA"], "holder_id": world.nmo["BBB"]})
    ).json()
    head = await make_client(token=world.token["AAA-head"])
    revoked = await head.delete(f"/api/proxies/{proxy['id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert (await staff.get(url)).json() == []
    history = (await staff.get(url, params={"include_revoked": True})).json()
    assert [p["id"] for p in history] == [proxy["id"]]
    electorate = (await staff.get(f"/api/assemblies/{world.assembly_id}/electorate")).json()
    aaa = next(e for e in electorate if e["nmo_code"] == "AAA")
    assert (aaa["cast_by_nmo_code"], aaa["via_proxy"]) == ("AAA", False)
    refused(await head.delete(f"/api/proxies/{proxy['id']}"), 409, "already revoked")
    [event] = await events(staff, world.assembly_id, "proxy_revoked")
    assert event["actor"] == f"delegate:{world.delegate['AAA-head']}:AAA-head"
    # A revoked proxy frees the giver to give again.
    again = await staff.post(
        url, json={"giver_id": world.nmo["AAA"], "holder_id": world.nmo["CCC"]}
    )
    assert again.status_code == 201, again.text


async def test_a_proxy_is_void_while_its_holder_is_absent_and_the_giver_still_cannot_vote(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON, quorum_counts_proxies=True)
    staff = await make_client(staff="secretariat")
    assert (
        await staff.post(
            f"/api/assemblies/{world.assembly_id}/proxies",
            json={"giver_id": world.nmo["AAA"], "holder_id": world.nmo["BBB"]},
        )
    ).status_code == 201
    desk = await make_client(staff="desk")
    await desk.post(
        f"/api/delegates/{world.delegate['BBB-head']}/check-in", json={"present": False}
    )
    electorate = (await staff.get(f"/api/assemblies/{world.assembly_id}/electorate")).json()
    assert [e["nmo_code"] for e in electorate] == ["CCC"]
    quorum = (await staff.get(f"/api/assemblies/{world.assembly_id}/quorum")).json()
    assert (quorum["present"], quorum["represented_by_proxy"]) == (2, 0)
    assert quorum["weight_represented"] == "1.5"
    # The holder comes back: the proxy counts again.
    await desk.post(f"/api/delegates/{world.delegate['BBB-head']}/check-in", json={"present": True})
    electorate = (await staff.get(f"/api/assemblies/{world.assembly_id}/electorate")).json()
    assert [(e["nmo_code"], e["cast_by_nmo_code"]) for e in electorate] == [
        ("AAA", "BBB"),
        ("BBB", "BBB"),
        ("CCC", "CCC"),
    ]


async def test_a_proxy_between_assemblies_is_refused(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON)
    other = await seed_world(app, staff=False, nmos=[("XXX", "full", 1)], **ON)
    staff = await make_client(staff="secretariat")
    refused(
        await staff.post(
            f"/api/assemblies/{world.assembly_id}/proxies",
            json={"giver_id": world.nmo["AAA"], "holder_id": other.nmo["XXX"]},
        ),
        422,
        "Both NMOs must belong to this assembly.",
    )


async def test_a_delegate_with_the_longest_name_can_act_and_is_named_in_the_record(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON)
    staff = await make_client(staff="secretariat")
    long_name = "N" * 200
    renamed = await staff.patch(
        f"/api/delegates/{world.delegate['AAA-head']}", json={"name": long_name}
    )
    assert renamed.status_code == 200, renamed.text
    head = await make_client(token=world.token["AAA-head"])
    given = await head.post(
        f"/api/assemblies/{world.assembly_id}/proxies",
        json={"giver_id": world.nmo["AAA"], "holder_id": world.nmo["BBB"]},
    )
    assert given.status_code == 201, given.text
    actor = f"delegate:{world.delegate['AAA-head']}:"
    assert given.json()["given_by"].startswith(actor + "NNN")
    assert len(given.json()["given_by"]) == 120
    [event] = await events(staff, world.assembly_id, "proxy_given")
    assert event["actor"] == given.json()["given_by"]
    revoked = await head.delete(f"/api/proxies/{given.json()['id']}")
    assert revoked.status_code == 200, revoked.text


# --- access between assemblies ----------------------------------------------------------


async def test_a_delegate_only_sees_their_own_assembly(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, **ON)
    other = await seed_world(app, staff=False, nmos=[("XXX", "full", 1)], **ON)
    client = await make_client(token=world.token["AAA-head"])
    listed = (await client.get("/api/assemblies")).json()
    assert [a["id"] for a in listed] == [world.assembly_id]
    message = "You can only see the assembly your delegation is registered for."
    for path in (
        f"/api/assemblies/{other.assembly_id}",
        f"/api/assemblies/{other.assembly_id}/nmos",
        f"/api/assemblies/{other.assembly_id}/quorum",
        f"/api/assemblies/{other.assembly_id}/proxies",
        f"/api/nmos/{other.nmo['XXX']}",
        f"/api/nmos/{other.nmo['XXX']}/delegates",
        f"/api/delegates/{other.delegate['XXX-head']}",
    ):
        refused(await client.get(path), 403, message)
    refused(
        await client.post(
            f"/api/assemblies/{other.assembly_id}/proxies",
            json={"giver_id": world.nmo["AAA"], "holder_id": world.nmo["BBB"]},
        ),
        403,
        message,
    )
    for path in (
        f"/api/assemblies/{world.assembly_id}",
        f"/api/assemblies/{world.assembly_id}/nmos",
        f"/api/assemblies/{world.assembly_id}/quorum",
        f"/api/nmos/{world.nmo['BBB']}",
    ):
        assert (await client.get(path)).status_code == 200, path


# --- login tokens -----------------------------------------------------------------------


async def test_reissuing_a_token_ends_the_delegates_sessions_and_the_new_link_works(
    world: World, make_client: ClientFactory
) -> None:
    old_token = world.token["AAA-del"]
    delegate = await make_client(token=old_token)
    nmo_url = f"/api/nmos/{world.nmo['AAA']}"
    assert (await delegate.get(nmo_url)).status_code == 200
    bystander = await make_client(token=world.token["AAA-head"])

    staff = await make_client(staff="secretariat")
    reissued = await staff.post(f"/api/delegates/{world.delegate['AAA-del']}/token")
    assert reissued.status_code == 200, reissued.text
    new_link = reissued.json()["login_url"]
    new_token = new_link.rsplit("/login/", 1)[1]
    assert new_token != old_token

    refused(await delegate.get(nmo_url), 401, "Log in first")
    assert (await delegate.get("/api/auth/me")).json()["role"] == "public"
    # Only that delegate's sessions end.
    assert (await bystander.get(nmo_url)).status_code == 200

    stale = await make_client()
    opened = await stale.get(f"/login/{old_token}", follow_redirects=False)
    assert opened.status_code == 401
    assert "assembly_session" not in opened.cookies
    assert (await stale.get("/api/auth/me")).json()["role"] == "public"

    fresh = await make_client(token=new_token)
    me = (await fresh.get("/api/auth/me")).json()
    assert me["delegate_id"] == world.delegate["AAA-del"]
    link = (await staff.get(f"/api/delegates/{world.delegate['AAA-del']}/login-link")).json()
    assert link["login_url"] == new_link
    [event] = await events(staff, world.assembly_id, "token_reissued")
    assert event["delegate_id"] == world.delegate["AAA-del"]


async def test_an_old_login_token_is_refused_with_a_message_the_delegate_can_act_on(
    world: World, app: Litestar, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    assert (await staff.post(f"/api/delegates/{world.delegate['AAA-del']}/token")).is_success
    async with writing(app.state.ctx.session_maker) as db:
        with pytest.raises(NotAuthenticated) as caught:
            await service.delegate_login(db, world.token["AAA-del"], 60)
    assert caught.value.status == 401
    assert "This login link is not valid" in caught.value.message
    assert "Ask the secretariat for your current link." in caught.value.message


async def test_opening_an_old_login_link_answers_401_with_the_reason(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    assert (await staff.post(f"/api/delegates/{world.delegate['AAA-del']}/token")).is_success
    client = await make_client()
    response = await client.get(f"/login/{world.token['AAA-del']}", follow_redirects=False)
    assert response.status_code == 401
    assert "This login link is not valid" in response.text
    assert "Ask the secretariat for your current link." in response.text
    assert "assembly_session" not in response.cookies


# --- the append-only record -------------------------------------------------------------


async def test_credential_events_cannot_be_changed_or_deleted_in_the_database(
    world: World, db: AsyncSession
) -> None:
    count = select(func.count()).select_from(CredentialEvent)
    before = await db.scalar(count)
    assert before is not None and before > 0
    for sql in (
        "UPDATE credential_event SET reason = 'rewritten'",
        "UPDATE credential_event SET actor = 'someone else' WHERE id = 1",
        "DELETE FROM credential_event",
        "DELETE FROM credential_event WHERE id = 1",
    ):
        with pytest.raises(DBAPIError, match="credential_event is append-only"):
            await db.execute(text(sql))
        await db.rollback()
    assert await db.scalar(count) == before
    rewritten = select(func.count()).where(CredentialEvent.reason == "rewritten")
    assert await db.scalar(rewritten) == 0
    # Appending still works.
    service.record(db, world.assembly_id, "note", "test", reason="appended")
    await db.commit()
    assert await db.scalar(count) == before + 1


# --- bad input --------------------------------------------------------------------------

BAD_INPUT: list[tuple[str, str, Any, int, str]] = [
    # method, path (formatted with the world), body, status, part of the message
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "member_class": "honorary"},
        422,
        "member_class must be one of full, candidate, associate, suspended, not 'honorary'",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "weight": "abc"},
        422,
        "weight: 'abc' is not a number such as 1, 2.5 or 3/2",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "weight": "0"},
        422,
        "weight: a weight must be more than 0",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "weight": -2},
        422,
        "weight: a weight must be more than 0, not -2",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "weight": 1.5},
        400,
        "weight: Expected `int | str`, got `float`",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "weight": True},
        400,
        "weight: Expected `int | str`, got `bool`",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "AAA", "name": "Again"},
        409,
        "There is already an NMO with code AAA in this assembly.",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "A B", "name": "Z"},
        422,
        "must be at most 20 characters without spaces",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "  "},
        422,
        "NMO ZZZ needs a name.",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z" * 201},
        422,
        "name is at most 200 characters",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "country": "C" * 101},
        422,
        "country is at most 100 characters",
    ),
    (
        "POST",
        "/api/assemblies/{a}/nmos",
        {"code": "ZZZ", "name": "Z", "colour": "red"},
        400,
        "unknown field `colour`",
    ),
    ("POST", "/api/assemblies/{a}/nmos", {"code": "ZZZ"}, 400, "missing required field `name`"),
    (
        "POST",
        "/api/assemblies/999999/nmos",
        {"code": "ZZZ", "name": "Z"},
        404,
        "There is no assembly 999999.",
    ),
    (
        "PATCH",
        "/api/nmos/{AAA}",
        {"member_class": "honorary", "reason": "x"},
        422,
        "member_class must be one of",
    ),
    (
        "PATCH",
        "/api/nmos/{AAA}",
        {"weight": "1,5", "reason": "x"},
        422,
        "weight: '1,5' is not a number",
    ),
    ("PATCH", "/api/nmos/{AAA}", {"colour": "red"}, 400, "unknown field `colour`"),
    ("PATCH", "/api/nmos/{AAA}", {"name": " "}, 422, "NMO AAA needs a name."),
    ("PATCH", "/api/nmos/{AAA}", {"country": "C" * 101}, 422, "country is at most 100"),
    (
        "POST",
        "/api/nmos/{AAA}/delegates",
        {"name": "Second", "role": "head"},
        409,
        "AAA already has a head of delegation.",
    ),
    (
        "POST",
        "/api/nmos/{AAA}/delegates",
        {"name": "X", "role": "president"},
        422,
        "role must be one of head, delegate, observer, not 'president'",
    ),
    (
        "POST",
        "/api/nmos/{AAA}/delegates",
        {"name": "X", "email": "not-an-email"},
        422,
        "'not-an-email' is not an email address.",
    ),
    (
        "POST",
        "/api/nmos/{AAA}/delegates",
        {"name": "X", "language": "english-please"},
        422,
        "language is a language tag such as en, fr or pt-BR",
    ),
    (
        "POST",
        "/api/nmos/{AAA}/delegates",
        {"name": "X" * 201},
        422,
        "name is at most 200 characters",
    ),
    ("POST", "/api/nmos/{AAA}/delegates", {"name": " "}, 422, "A delegate needs a name."),
    (
        "POST",
        "/api/nmos/{AAA}/delegates",
        {"name": "X", "token": "mine"},
        400,
        "unknown field `token`",
    ),
    (
        "PATCH",
        "/api/delegates/{AAA-del}",
        {"role": "head"},
        409,
        "AAA already has a head of delegation (AAA-head)",
    ),
    ("PATCH", "/api/delegates/{AAA-del}", {"role": "king"}, 422, "role must be one of"),
    (
        "PATCH",
        "/api/delegates/{AAA-del}",
        {"email": "@example.org"},
        422,
        "is not an email address",
    ),
    ("PATCH", "/api/delegates/{AAA-del}", {"language": "x" * 9}, 422, "language is a language"),
    ("POST", "/api/assemblies", {"name": " "}, 422, "An assembly needs a name."),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"quorum_share": "2"}},
        422,
        "quorum_share is a share of the members, at most 1",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"quorum_share": "1"}},
        422,
        "can never be met",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"max_proxies": -1}},
        422,
        "max_proxies must be a whole number from 0 to 10000.",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"proxies_enabled": "yes"}},
        422,
        "proxies_enabled must be true or false.",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"majority_ordinary": "most"}},
        422,
        "majority_ordinary must be one of simple, absolute",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"proxy_deadline": "2026-08-01T18:00"}},
        422,
        "proxy_deadline needs a time zone",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"proxy_deadline": "soon"}},
        422,
        "proxy_deadline must be a date and time",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"favourite_colour": "red"}},
        422,
        "favourite_colour is not a setting of an assembly.",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"place": "Oslo"}},
        422,
        "place is not a setting of an assembly",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "rules": {"name": "Other"}},
        422,
        "name is not a setting of an assembly",
    ),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "language": "english-please"},
        422,
        "language is a language tag",
    ),
    ("POST", "/api/assemblies", {"name": "G" * 201}, 422, "name is at most 200 characters"),
    (
        "POST",
        "/api/assemblies",
        {"name": "GA", "starts_on": "2026-08-05", "ends_on": "2026-08-01"},
        422,
        "An assembly cannot end before it starts",
    ),
    (
        "PATCH",
        "/api/assemblies/{a}",
        {"rules": {"starts_on": "tomorrow"}},
        422,
        "starts_on is not a setting of an assembly",
    ),
    ("PATCH", "/api/assemblies/{a}", {"rules": {"quorum_share": "1"}}, 422, "can never be met"),
    ("PATCH", "/api/assemblies/{a}", {"place": "P" * 201}, 422, "place is at most 200 characters"),
    ("PATCH", "/api/assemblies/{a}", {"name": ""}, 422, "An assembly needs a name."),
    (
        "POST",
        "/api/assemblies/{a}/proxies",
        {"giver_id": 999999, "holder_id": 1},
        404,
        "There is no NMO 999999.",
    ),
    (
        "POST",
        "/api/nmos/{AAA}/voting-right",
        {"holder_id": 999999},
        404,
        "There is no delegate 999999.",
    ),
    (
        "POST",
        "/api/nmos/{AAA}/credential",
        {"credentialed": "yes"},
        400,
        "Expected `bool`, got `str`",
    ),
    ("GET", "/api/assemblies/{a}/events?limit=0", None, 422, "limit must be from 1 to 1000."),
    (
        "POST",
        "/api/staff",
        {"username": "x", "password": "short", "role": "chair"},
        422,
        "at least 10 characters",
    ),
    (
        "POST",
        "/api/staff",
        {"username": "y", "password": "long enough pass", "role": "boss"},
        422,
        "A staff role is one of secretariat, chair, desk",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), BAD_INPUT)
async def test_bad_input_gets_a_4xx_with_a_message_and_stores_nothing(
    world: World,
    make_client: ClientFactory,
    db: AsyncSession,
    method: str,
    path: str,
    body: Any,
    status: int,
    message: str,
) -> None:
    staff = await make_client(staff="secretariat")
    before_events = await db.scalar(select(func.count()).select_from(CredentialEvent))
    before_nmos = await db.scalar(select(func.count()).select_from(Nmo))
    await db.rollback()
    url = path.format(a=world.assembly_id, **world.nmo, **world.delegate)
    response = await staff.request(method, url, json=body)
    refused(response, status, message)
    assert await db.scalar(select(func.count()).select_from(CredentialEvent)) == before_events
    assert await db.scalar(select(func.count()).select_from(Nmo)) == before_nmos


async def test_a_malformed_json_body_is_refused_with_a_message(
    world: World, make_client: ClientFactory
) -> None:
    staff = await make_client(staff="secretariat")
    response = await staff.post(
        f"/api/assemblies/{world.assembly_id}/nmos",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    refused(response, 400, "JSON is malformed")
