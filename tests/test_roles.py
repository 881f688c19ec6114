"""The whole matrix of roles x routes: every route declares who may use it, the table below
pins that policy, and a real request as each role gets through the guard exactly when the
table says so."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute, WebSocketRoute

from assembly.agenda import amending, documents
from assembly.agenda import service as agenda
from assembly.credentials import service
from assembly.credentials.auth import Role
from assembly.db import writing
from assembly.voting import service as voting
from tests.conftest import ClientFactory, World, seed_world

S, C, D, DEL, OBS, PUB = (
    Role.secretariat,
    Role.chair,
    Role.desk,
    Role.delegate,
    Role.observer,
    Role.public,
)
ALL = {S, C, D, DEL, OBS, PUB}
LOGGED_IN = ALL - {PUB}
STAFF = {S, C, D}

# method path -> roles allowed through the guard. A route missing here fails the test.
EXPECTED: dict[str, set[Role]] = {
    "GET /health": ALL,
    "POST /api/auth/login": ALL,
    "POST /api/auth/logout": ALL,
    "GET /api/auth/me": ALL,
    "GET /api/staff": {S},
    "POST /api/staff": {S},
    "GET /api/assemblies": LOGGED_IN,
    "POST /api/assemblies": {S},
    "GET /api/assemblies/{assembly_id}": LOGGED_IN,
    "PATCH /api/assemblies/{assembly_id}": {S},
    "GET /api/assemblies/{assembly_id}/nmos": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/nmos": {S},
    "GET /api/assemblies/{assembly_id}/quorum": LOGGED_IN,
    "GET /api/assemblies/{assembly_id}/electorate": STAFF,
    "GET /api/assemblies/{assembly_id}/proxies": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/proxies": {S, DEL},
    "GET /api/assemblies/{assembly_id}/events": STAFF,
    "POST /api/assemblies/{assembly_id}/import/nmos": {S},
    "POST /api/assemblies/{assembly_id}/import/delegates": {S},
    "POST /api/assemblies/{assembly_id}/scan": {S, D},
    "GET /api/nmos/{nmo_id}": LOGGED_IN,
    "PATCH /api/nmos/{nmo_id}": {S},
    "POST /api/nmos/{nmo_id}/credential": {S, D},
    "GET /api/nmos/{nmo_id}/delegates": LOGGED_IN,
    "POST /api/nmos/{nmo_id}/delegates": {S},
    "POST /api/nmos/{nmo_id}/voting-right": {S, D, DEL},
    "GET /api/delegates/{delegate_id}": LOGGED_IN,
    "PATCH /api/delegates/{delegate_id}": {S},
    "POST /api/delegates/{delegate_id}/check-in": {S, D},
    "POST /api/delegates/{delegate_id}/token": {S},
    "GET /api/delegates/{delegate_id}/login-link": {S},
    "POST /api/me/check-in": {DEL, OBS},
    "DELETE /api/proxies/{proxy_id}": {S, DEL},
    "WS /ws/assembly/{assembly_id}": ALL,
    "GET /api/assemblies/{assembly_id}/votes": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/votes": {S, C},
    "GET /api/votes/{vote_id}": LOGGED_IN,
    "POST /api/votes/{vote_id}/open": {S, C},
    "POST /api/votes/{vote_id}/close": {S, C},
    "POST /api/votes/{vote_id}/cancel": {S, C},
    "POST /api/votes/{vote_id}/countdown": {S, C},
    "POST /api/votes/{vote_id}/projector": {S, C},
    "POST /api/votes/{vote_id}/next-round": {S, C},
    "GET /api/votes/{vote_id}/turnout": STAFF,
    "GET /api/votes/{vote_id}/mine": {DEL, OBS},
    "POST /api/votes/{vote_id}/ballots": {DEL},
    # pages
    "GET /": ALL,
    "GET /login": ALL,
    "POST /login": ALL,
    "GET /login/{token}": ALL,
    "POST /logout": ALL,
    "POST /language": ALL,
    "GET /secretariat": {S},
    "POST /secretariat/assemblies": {S},
    "POST /secretariat/assemblies/{assembly_id}/rules": {S},
    "POST /secretariat/assemblies/{assembly_id}/nmos": {S},
    "GET /secretariat/nmos/{nmo_id}": {S},
    "POST /secretariat/nmos/{nmo_id}": {S},
    "POST /secretariat/nmos/{nmo_id}/delegates": {S},
    "POST /secretariat/delegates/{delegate_id}/token": {S},
    "GET /secretariat/assemblies/{assembly_id}/import": {S},
    "POST /secretariat/assemblies/{assembly_id}/import/nmos": {S},
    "POST /secretariat/assemblies/{assembly_id}/import/delegates": {S},
    "GET /secretariat/assemblies/{assembly_id}/events": {S},
    "GET /secretariat/assemblies/{assembly_id}/cards": {S},
    "GET /desk": {S, D},
    "GET /desk/search": {S, D},
    "POST /desk/nmos/{nmo_id}/credential": {S, D},
    "POST /desk/delegates/{delegate_id}/check-in": {S, D},
    "POST /desk/scan": {S, D},
    "GET /delegate": {DEL, OBS},
    "POST /delegate/check-in": {DEL, OBS},
    "POST /delegate/voting-right": {DEL},
    "POST /delegate/proxy": {DEL},
    "POST /delegate/proxies/{proxy_id}/revoke": {DEL},
    "GET /chair": {S, C},
    "GET /chair/nmos": {S, C},
    "GET /api/assemblies/{assembly_id}/agenda": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/agenda": {S, C},
    "POST /api/agenda-items/{item_id}/current": {S, C},
    "GET /chair/assemblies/{assembly_id}/agenda": {S, C},
    "POST /chair/assemblies/{assembly_id}/agenda": {S, C},
    "POST /chair/agenda-items/{item_id}/current": {S, C},
    "GET /agenda/{assembly_id}/current": ALL,
    # Speakers' lists: phones ask, the chair runs the list, every screen reads it.
    "GET /api/agenda-items/{item_id}/floor": LOGGED_IN,
    "PATCH /api/agenda-items/{item_id}/floor": {S, C},
    "POST /api/agenda-items/{item_id}/floor/requests": {DEL},
    "POST /api/agenda-items/{item_id}/floor/speakers": {S, C},
    "POST /api/agenda-items/{item_id}/floor/start": {S, C},
    "POST /api/agenda-items/{item_id}/floor/stop": {S, C},
    "POST /api/agenda-items/{item_id}/floor/extend": {S, C},
    "POST /api/floor-requests/{request_id}/withdraw": {DEL},
    "POST /api/floor-requests/{request_id}/remove": {S, C},
    "POST /api/floor-requests/{request_id}/move": {S, C},
    "GET /agenda/{assembly_id}/floor": ALL,
    "GET /agenda/{assembly_id}/floor/mine": {DEL},
    "GET /delegate/floor": {DEL},
    "POST /floor/{item_id}/ask": {DEL},
    "POST /floor/requests/{request_id}/withdraw": {DEL},
    "POST /chair/floor/{item_id}/{action}": {S, C},
    "POST /chair/floor/requests/{request_id}/{action}": {S, C},
    "GET /api/assemblies/{assembly_id}/motions": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/motions": {DEL},
    "POST /api/motions/{motion_id}/vote": {S, C},
    "POST /api/motions/{motion_id}/dismiss": {S, C},
    "POST /api/motions/{motion_id}/withdraw": {DEL},
    "POST /motions/raise": {DEL},
    "POST /motions/{motion_id}/withdraw": {DEL},
    "POST /chair/motions/{motion_id}/{action}": {S, C},
    "POST /api/assemblies/{assembly_id}/motions/objection": {DEL},
    "POST /api/motions/{motion_id}/nemo-contra": {S, C},
    "POST /motions/object": {DEL},
    "GET /api/plenary-sessions/{session_id}/roll-call": STAFF,
    "POST /api/plenary-sessions/{session_id}/roll-call": {S, C},
    "POST /api/plenary-sessions/{session_id}/roll-call/close": {S, C},
    "POST /api/plenary-sessions/{session_id}/roll-call/reopen": {S, C},
    "POST /api/plenary-sessions/{session_id}/roll-call/confirm": {DEL},
    "PUT /api/plenary-sessions/{session_id}/roll-call/nmos/{nmo_id}": STAFF,
    "GET /api/assemblies/{assembly_id}/roll-call": STAFF,
    "GET /agenda/{assembly_id}/roll-call": ALL,
    "GET /agenda/{assembly_id}/roll-call/mine": {DEL},
    "GET /delegate/roll-call": {DEL},
    "POST /roll-call/{session_id}/confirm": {DEL},
    "POST /chair/assemblies/{assembly_id}/roll-call/{action}": {S, C},
    "POST /desk/roll-call/{session_id}/nmos/{nmo_id}": STAFF,
    "POST /chair/assemblies/{assembly_id}/self-check-in": {S, C},
    "POST /api/assemblies/{assembly_id}/self-check-in": {S, C},
    "GET /projector/{assembly_id}": ALL,
    "GET /projector/{assembly_id}/quorum": ALL,
    "GET /chair/votes": {S, C},
    "GET /chair/votes/list": {S, C},
    "GET /chair/votes/{vote_id}/panel": {S, C},
    "POST /chair/assemblies/{assembly_id}/votes": {S, C},
    "POST /chair/votes/{vote_id}/open": {S, C},
    "POST /chair/votes/{vote_id}/close": {S, C},
    "POST /chair/votes/{vote_id}/cancel": {S, C},
    "POST /chair/votes/{vote_id}/countdown": {S, C},
    "POST /chair/votes/{vote_id}/projector": {S, C},
    "POST /chair/votes/{vote_id}/next-round": {S, C},
    "GET /delegate/vote": {DEL, OBS},
    "POST /delegate/vote/{vote_id}/ballots": {DEL},
    "GET /projector/{assembly_id}/vote": ALL,
    "GET /api/assemblies/{assembly_id}/documents": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/documents": {S},
    "GET /api/documents/{document_id}": LOGGED_IN,
    "GET /api/documents/{document_id}/versions/{number}": LOGGED_IN,
    "POST /api/documents/{document_id}/versions": {S},
    "GET /api/documents/{document_id}/diff": LOGGED_IN,
    "GET /api/assemblies/{assembly_id}/agenda/state": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/agenda/adopt": {S, C},
    "GET /api/assemblies/{assembly_id}/sessions": LOGGED_IN,
    "POST /api/assemblies/{assembly_id}/sessions": {S, C},
    "POST /api/agenda-items/{item_id}/move": {S, C},
    "PATCH /api/agenda-items/{item_id}": {S, C},
    "GET /api/documents/{document_id}/amendments": LOGGED_IN,
    "POST /api/documents/{document_id}/amendments": {S, DEL},
    "POST /api/documents/{document_id}/final-vote": {S, C},
    "GET /api/amendments/{amendment_id}": LOGGED_IN,
    "POST /api/amendments/{amendment_id}/revise": {S, DEL},
    "POST /api/amendments/{amendment_id}/withdraw": {S, DEL},
    "POST /api/amendments/{amendment_id}/admit": {S, C},
    "POST /api/amendments/{amendment_id}/refuse": {S, C},
    "POST /api/amendments/{amendment_id}/merge": {S, C},
    "POST /api/amendments/{amendment_id}/vote": {S, C},
    "GET /documents/{document_id}": LOGGED_IN,
    "GET /documents/{document_id}/diff": LOGGED_IN,
    "GET /secretariat/assemblies/{assembly_id}/documents": {S},
    "POST /secretariat/assemblies/{assembly_id}/documents": {S},
    "POST /secretariat/documents/{document_id}/editorial": {S},
    "GET /documents/{document_id}/amendments": LOGGED_IN,
    "GET /documents/{document_id}/amendments/new": {S, DEL},
    "POST /documents/{document_id}/amendments": {S, DEL},
    "GET /amendments/{amendment_id}/revise": {S, DEL},
    "POST /amendments/{amendment_id}/revise": {S, DEL},
    "POST /amendments/{amendment_id}/withdraw": {S, DEL},
    "POST /chair/assemblies/{assembly_id}/sessions": {S, C},
    "POST /chair/agenda-items/{item_id}/move": {S, C},
    "POST /chair/agenda-items/{item_id}/link": {S, C},
    "POST /chair/assemblies/{assembly_id}/agenda/adopt": {S, C},
    "GET /chair/assemblies/{assembly_id}/amendments": {S, C},
    "POST /chair/amendments/{amendment_id}/admit": {S, C},
    "POST /chair/amendments/{amendment_id}/refuse": {S, C},
    "POST /chair/amendments/{amendment_id}/merge": {S, C},
    "POST /chair/amendments/{amendment_id}/vote": {S, C},
    "POST /chair/documents/{document_id}/final-vote": {S, C},
    "GET /api/assemblies/{assembly_id}/log/checkpoint": ALL,
    "GET /assemblies/{assembly_id}/log": ALL,
    "GET /assemblies/{assembly_id}/log/checkpoint.txt": ALL,
    "GET /api/assemblies/{assembly_id}/log/entries": LOGGED_IN,
    "GET /api/assemblies/{assembly_id}/log/proof/inclusion": LOGGED_IN,
    "GET /api/assemblies/{assembly_id}/log/proof/consistency": ALL,
    "GET /api/assemblies/{assembly_id}/log/witnesses": ALL,
    "POST /api/assemblies/{assembly_id}/log/witnesses": {S},
    "POST /api/assemblies/{assembly_id}/log/cosignatures": ALL,
    "GET /api/assemblies/{assembly_id}/log/receipt": LOGGED_IN,
    # the public record, and what the secretariat publishes in it
    "GET /record/{assembly_id}": ALL,
    "GET /record/{assembly_id}/results": ALL,
    "GET /record/{assembly_id}/votes/{vote_id}": ALL,
    "GET /record/{assembly_id}/votes/{vote_id}/proof.tlog-proof": ALL,
    "GET /record/{assembly_id}/sessions/{session_id}": ALL,
    "GET /record/{assembly_id}/documents/{document_id}": ALL,
    "GET /record/{assembly_id}/documents/{document_id}/diff": ALL,
    "GET /api/assemblies/{assembly_id}/publishing": {S, C},
    "POST /api/assemblies/{assembly_id}/publishing": {S},
    "GET /secretariat/assemblies/{assembly_id}/publishing": {S},
    "POST /secretariat/assemblies/{assembly_id}/publishing": {S},
    "POST /secretariat/assemblies/{assembly_id}/publishing/policy": {S},
    "GET /record/{assembly_id}/export/votes.csv": ALL,
    "GET /record/{assembly_id}/export/roll-calls.csv": ALL,
    "GET /record/{assembly_id}/export/trackers.csv": ALL,
    "GET /record/{assembly_id}/export/attendance.csv": ALL,
    "GET /record/{assembly_id}/export/record.json": ALL,
    "GET /record/{assembly_id}/export/documents/{filename}": ALL,
    "GET /record/{assembly_id}/bundle.zip": ALL,
    "GET /record/{assembly_id}/minutes.pdf": ALL,
    "POST /api/assemblies/{assembly_id}/record/bundle": {S},
}

UNGUARDED_PREFIXES = ("/static", "/schema")
SESSION_ENDING = {"POST /api/auth/logout", "POST /logout", "GET /login/{token}"}


def route_table(app: Litestar) -> dict[str, frozenset[Role] | None]:
    """Every (method, path) the app serves, with the roles its handler declares."""
    table: dict[str, frozenset[Role] | None] = {}
    for route in app.routes:
        if route.path.startswith(UNGUARDED_PREFIXES):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        if isinstance(route, WebSocketRoute):
            table[f"WS {path}"] = route.route_handler.opt.get("roles")
        elif isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if method in {"HEAD", "OPTIONS"}:
                    continue
                table[f"{method} {path}"] = handler.opt.get("roles")
    return table


def test_every_route_declares_its_roles_and_matches_the_policy(app: Litestar) -> None:
    table = route_table(app)
    undeclared = sorted(k for k, v in table.items() if v is None)
    assert undeclared == [], f"routes without roles: {undeclared}"
    unlisted = sorted(set(table) - set(EXPECTED))
    assert unlisted == [], f"routes missing from the policy table: {unlisted}"
    gone = sorted(set(EXPECTED) - set(table))
    assert gone == [], f"policy lists routes the app no longer has: {gone}"
    wrong = {
        k: (sorted(table[k] or ()), sorted(EXPECTED[k])) for k in table if table[k] != EXPECTED[k]
    }
    assert wrong == {}


def guard_refused(response: Any) -> bool:
    """True when the role guard (not the handler) turned the request away."""
    if response.status_code in (301, 302, 303, 307) and response.headers.get(
        "location", ""
    ).startswith("/login?next="):
        return True
    if response.status_code == 401:
        return "Log in first" in response.text
    if response.status_code == 403:
        return "may not do this" in response.text
    return False


async def _world_for_matrix(app: Litestar) -> tuple[World, dict[str, str]]:
    world = await seed_world(app, proxies_enabled=True)
    ctx = app.state.ctx
    async with writing(ctx.session_maker) as db:
        aaa = await service.get_nmo(db, world.nmo["AAA"])
        observer, obs_token = await service.add_delegate(
            db, ctx.sealer, aaa, "test", name="AAA-obs", role="observer"
        )
        proxy = await service.give_proxy(
            db,
            __import__("tests.conftest", fromlist=["SECRETARIAT"]).SECRETARIAT,
            await service.get_assembly(db, world.assembly_id),
            await service.get_nmo(db, world.nmo["BBB"]),
            await service.get_nmo(db, world.nmo["CCC"]),
        )
        vote = await voting.create_vote(
            db,
            await service.get_assembly(db, world.assembly_id),
            "test",
            voting.VoteSpec(question="Matrix?"),
        )
        item = await agenda.add_item(
            db, await service.get_assembly(db, world.assembly_id), "test", "Opening"
        )
        document, _ = await documents.create_document(
            db, await service.get_assembly(db, world.assembly_id), "test", "Doc", "policy", "A."
        )
        amendment = await amending.submit(
            db,
            __import__("tests.conftest", fromlist=["SECRETARIAT"]).SECRETARIAT,
            document,
            await service.get_nmo(db, world.nmo["AAA"]),
            amending.Proposal(changes=[amending.ChangeIn("replace", "p1", text="B.")]),
        )
        await db.commit()
    params = {
        "amendment_id": str(amendment.id),
        "item_id": str(item.id),
        "document_id": str(document.id),
        "filename": f"{document.id}.md",
        "number": "1",
        "session_id": "1",
        "request_id": "1",
        "motion_id": "1",
        "action": "stop",
        "vote_id": str(vote.id),
        "assembly_id": str(world.assembly_id),
        "nmo_id": str(world.nmo["AAA"]),
        "delegate_id": str(world.delegate["AAA-del"]),
        "proxy_id": str(proxy.id),
        "token": world.token["BBB-del"],
    }
    world.token["AAA-obs"] = obs_token
    world.delegate["AAA-obs"] = observer.id
    return world, params


async def test_each_role_gets_through_the_guard_exactly_where_the_policy_allows(
    app: Litestar, make_client: ClientFactory
) -> None:
    world, params = await _world_for_matrix(app)

    async def client_for(role: Role) -> Any:
        if role in STAFF:
            return await make_client(staff=role.value)
        if role is DEL:
            return await make_client(token=world.token["AAA-head"])
        if role is OBS:
            return await make_client(token=world.token["AAA-obs"])
        return await make_client()

    clients = {role: await client_for(role) for role in Role}
    for role, client in clients.items():
        me = (await client.get("/api/auth/me")).json()
        assert me["role"] == role.value

    failures: list[str] = []
    table = route_table(app)
    for key in sorted(table):
        method, path = key.split(" ", 1)
        if method == "WS":
            continue  # the socket's guard is proven in tests/live
        url = path.format(**params)
        for role in Role:
            client = await client_for(role) if key in SESSION_ENDING else clients[role]
            response = await client.request(method, url, json={}, follow_redirects=False)
            refused = guard_refused(response)
            allowed = role in EXPECTED[key]
            if refused == allowed:
                failures.append(
                    f"{key} as {role.value}: {'refused' if refused else 'let through'} "
                    f"({response.status_code} {response.text[:80]!r})"
                )
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("role", ["chair", "desk"])
async def test_staff_without_secretariat_rights_cannot_change_the_setup(
    app: Litestar, make_client: ClientFactory, world: World, role: str
) -> None:
    client = await make_client(staff=role)
    response = await client.post(
        f"/api/assemblies/{world.assembly_id}/nmos", json={"code": "ZZZ", "name": "Z"}
    )
    assert response.status_code == 403
    assert response.json()["message"] == f"A {role} may not do this."
