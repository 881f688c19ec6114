"""The credentials screens: secretariat, cards, desk, delegate, chair and projector pages."""

from __future__ import annotations

import re

from litestar import Litestar
from sqlalchemy import func, select

from assembly.credentials import screens, service
from assembly.credentials.models import Assembly, CredentialEvent, Delegate, Nmo, Proxy
from assembly.db import writing
from tests.conftest import PASSWORD, ClientFactory, World, seed_world

HX = {"HX-Request": "true"}


async def delegate_row(app: Litestar, delegate_id: int) -> Delegate:
    async with writing(app.state.ctx.session_maker) as db:
        found = await db.get(Delegate, delegate_id)
        assert found is not None
        return found


async def nmo_row(app: Litestar, nmo_id: int) -> Nmo:
    async with writing(app.state.ctx.session_maker) as db:
        found = await db.get(Nmo, nmo_id)
        assert found is not None
        return found


async def standing_proxies(app: Litestar, assembly_id: int) -> list[Proxy]:
    async with writing(app.state.ctx.session_maker) as db:
        return await service.standing_proxies(db, assembly_id)


async def add_observer(app: Litestar, world: World, code: str) -> str:
    async with writing(app.state.ctx.session_maker) as db:
        nmo = await service.get_nmo(db, world.nmo[code])
        _, token = await service.add_delegate(
            db, app.state.ctx.sealer, nmo, "test", name=f"{code}-obs", role="observer"
        )
        await db.commit()
    return token


def main_of(html: str) -> str:
    """The page's <main>, without the header (which holds the logout form)."""
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


# --- who may open what ------------------------------------------------------------------


def test_every_screen_declares_its_roles() -> None:
    for handler in screens.handlers():
        assert handler.opt.get("roles"), f"{handler} declares no roles"


async def test_public_is_sent_to_login_and_a_delegate_may_not_open_staff_screens(
    make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    for path in ("/secretariat", "/desk", "/chair", "/delegate"):
        response = await public.get(path, follow_redirects=False)
        assert response.status_code in (302, 303, 307), path
        assert response.headers["location"] == f"/login?next={path}"
    head = await make_client(token=world.token["AAA-head"])
    for path in (
        "/secretariat",
        "/desk",
        "/chair",
        f"/secretariat/assemblies/{world.assembly_id}/cards",
    ):
        response = await head.get(path)
        assert response.status_code == 403, path
        assert "A delegate may not do this." in response.text
    desk = await make_client(staff="desk")
    assert (await desk.get("/secretariat")).status_code == 403
    assert (await desk.get("/chair")).status_code == 403
    assert (await desk.get("/delegate")).status_code == 403
    chair = await make_client(staff="chair")
    assert (await chair.get("/desk")).status_code == 403


# --- secretariat ------------------------------------------------------------------------


async def test_secretariat_page_lists_nmos_with_class_weight_and_presence(
    make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    response = await client.get("/secretariat")
    assert response.status_code == 200
    html = response.text
    for code in ("AAA", "BBB", "CCC", "DDD", "EEE"):
        assert f'href="/secretariat/nmos/{world.nmo[code]}">{code}</a>' in html
    assert "Candidate Member" in html and "Suspended" in html
    assert '<td data-label="Weight">1.5</td>' in html  # CCC's exact weight, 3/2
    assert "secretariat · secretariat" in html  # the header says who is logged in
    assert 'name="quorum_share"' in html and 'value="1/2"' in html
    assert f"/secretariat/assemblies/{world.assembly_id}/cards" in html
    assert f"/secretariat/assemblies/{world.assembly_id}/import" in html


async def test_secretariat_without_an_assembly_offers_to_create_one(
    app: Litestar, make_client: ClientFactory
) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        await service.add_staff(db, "secretariat", PASSWORD, "secretariat")
        await db.commit()
    client = await make_client(staff="secretariat")
    page = await client.get("/secretariat")
    assert page.status_code == 200 and "There is no assembly yet" in page.text
    refused = await client.post("/secretariat/assemblies", data={"name": " "})
    assert refused.status_code == 422 and "An assembly needs a name." in refused.text
    created = await client.post("/secretariat/assemblies", data={"name": "First GA"})
    assert (
        created.status_code == 200 and '<h1>Secretariat<span class="sub">First GA' in created.text
    )


async def test_secretariat_defaults_to_the_newest_assembly_and_can_pick_another(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    response = await client.post(
        "/secretariat/assemblies",
        data={"name": "Second GA", "place": "Accra", "starts_on": "2027-03-01"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    newest = await client.get("/secretariat")
    assert "Second GA" in newest.text and "AAA" not in main_of(newest.text).split("</h1>")[1]
    first = await client.get(f"/secretariat?assembly={world.assembly_id}")
    assert f'href="/secretariat/nmos/{world.nmo["AAA"]}">AAA</a>' in first.text
    assert 'id="assembly-pick"' in first.text


async def test_secretariat_adds_an_nmo_with_htmx_and_without(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    url = f"/secretariat/assemblies/{world.assembly_id}/nmos"
    response = await client.post(
        url,
        data={"code": "FFF", "name": "NMO F", "member_class": "full", "weight": "2.5"},
        headers=HX,
    )
    assert response.status_code == 200
    assert 'id="nmos"' in response.text and "FFF added" in response.text
    assert "2.5" in response.text
    plain = await client.post(
        url,
        data={"code": "GGG", "name": "NMO G", "member_class": "associate"},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/secretariat?assembly={world.assembly_id}"
    duplicate = await client.post(url, data={"code": "AAA", "name": "Again"}, headers=HX)
    assert duplicate.status_code == 409
    assert "There is already an NMO with code AAA in this assembly." in duplicate.text
    async with writing(app.state.ctx.session_maker) as db:
        codes = set((await db.execute(select(Nmo.code))).scalars())
    assert {"FFF", "GGG"} <= codes


async def test_secretariat_changes_rules_and_shows_what_is_wrong(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    url = f"/secretariat/assemblies/{world.assembly_id}/rules"
    shown = await client.get(f"/secretariat?assembly={world.assembly_id}")
    # Every procedural motion is allowed until the secretariat says otherwise.
    assert 'name="motion_no_confidence" checked' in shown.text
    form = {
        "name": "Test GA",
        "place": "Lyon",
        "quorum_share": "1/3",
        "quorum_strict": "at_least",
        "proxies_enabled": "on",
        "max_proxies": "2",
        "proxy_deadline": "2030-08-01T18:00",
        "self_checkin": "on",
        "majority_ordinary": "absolute",
        "majority_procedural": "two_thirds",
        "majority_amendment": "simple",
        "majority_policy": "two_thirds",
        "majority_constitution": "three_quarters",
        "majority_bylaws": "two_thirds",
        "majority_membership": "two_thirds",
        "reason": "Rules of procedure 2030",
        "starts_on": "2030-09-01",
        "constitution_deadline_days": "120",
        "bylaws_deadline_days": "45",
        "policy_amendment_deadline": "2030-08-30T12:00",
        "motion_close_list": "on",
        "motion_proceed_to_vote": "on",
    }
    response = await client.post(url, data=form, headers=HX)
    assert response.status_code == 200
    assert "Saved:" in response.text and "proxies_enabled" in response.text
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None
        assert (assembly.place, assembly.max_proxies) == ("Lyon", 2)
        assert assembly.proxies_enabled and assembly.self_checkin and not assembly.quorum_strict
        assert assembly.proxy_deadline is not None and assembly.proxy_deadline.hour == 18
        assert assembly.majority_constitution == "three_quarters"
        assert str(assembly.starts_on) == "2030-09-01"
        assert (assembly.constitution_deadline_days, assembly.bylaws_deadline_days) == (120, 45)
        assert assembly.policy_amendment_deadline is not None
        assert assembly.policy_amendment_deadline.isoformat() == "2030-08-30T12:00:00+00:00"
        assert assembly.procedural_motions == "close_list,proceed_to_vote"
        event = (
            await db.execute(
                select(CredentialEvent).where(CredentialEvent.kind == "assembly_rules")
            )
        ).scalar_one()
        assert event.reason == "Rules of procedure 2030"
    # Unticked boxes switch a rule off; a wrong share is refused with the service's message.
    bad = {**form, "quorum_share": "3/2"}
    del bad["self_checkin"]
    refused = await client.post(url, data=bad, headers=HX)
    assert refused.status_code == 422
    assert "quorum_share is a share of the members, at most 1" in refused.text
    assert 'value="3/2"' in refused.text  # what was typed stays in the form
    plain = await client.post(url, data={**form, "self_checkin": ""}, follow_redirects=False)
    assert plain.status_code == 303
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await db.get(Assembly, world.assembly_id)
        assert assembly is not None and not assembly.self_checkin


async def test_secretariat_changes_class_or_weight_only_with_a_reason(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    nmo_id = world.nmo["DDD"]
    page = await client.get(f"/secretariat/nmos/{nmo_id}")
    assert page.status_code == 200
    assert "DDD-head" in page.text and "DDD-del" in page.text
    assert "Holds the vote" in page.text
    no_reason = await client.post(
        f"/secretariat/nmos/{nmo_id}",
        data={"member_class": "full", "weight": "1", "reason": ""},
        headers=HX,
    )
    assert no_reason.status_code == 422
    assert "Say why the member class or weight changes (reason)." in no_reason.text
    assert (await nmo_row(app, nmo_id)).member_class == "candidate"
    done = await client.post(
        f"/secretariat/nmos/{nmo_id}",
        data={"member_class": "full", "weight": "3", "reason": "Admitted by the plenary"},
        headers=HX,
    )
    assert done.status_code == 200 and "Saved" in done.text
    nmo = await nmo_row(app, nmo_id)
    assert nmo.member_class == "full" and nmo.weight == 3


async def test_secretariat_adds_a_delegate_and_reissues_a_link_shown_once(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    nmo_id = world.nmo["AAA"]
    added = await client.post(
        f"/secretariat/nmos/{nmo_id}/delegates",
        data={
            "name": "Zoé Dupont",
            "email": "zoe@example.org",
            "role": "delegate",
            "language": "fr",
        },
        headers=HX,
    )
    assert added.status_code == 200
    assert "Zoé Dupont" in added.text
    assert "http://testserver.local/login/" in added.text
    second_head = await client.post(
        f"/secretariat/nmos/{nmo_id}/delegates", data={"name": "X", "role": "head"}, headers=HX
    )
    assert (
        second_head.status_code == 409
        and "AAA already has a head of delegation." in second_head.text
    )

    delegate_id = world.delegate["AAA-del"]
    old_token = world.token["AAA-del"]
    reissued = await client.post(f"/secretariat/delegates/{delegate_id}/token", headers=HX)
    assert reissued.status_code == 200
    links = re.findall(r"http://testserver\.local/login/([A-Za-z0-9_-]+)", reissued.text)
    assert len(links) == 1 and links[0] != old_token
    assert f'id="delegate-{delegate_id}"' in reissued.text
    # The old card no longer logs in; the new link does, and it is not shown again.
    stale = await (await make_client()).get(f"/login/{old_token}", follow_redirects=False)
    assert stale.status_code != 303 and "set-cookie" not in stale.headers
    await make_client(token=links[0])
    again = await client.get(f"/secretariat/nmos/{nmo_id}")
    assert links[0] not in again.text


async def test_csv_import_lists_every_row_error_and_imports_all_or_nothing(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    page = await client.get(f"/secretariat/assemblies/{world.assembly_id}/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.text and 'type="file"' in page.text
    url = f"/secretariat/assemblies/{world.assembly_id}/import/nmos"
    bad = "code,name,member_class,weight\nAAA,Again,full,1\nHHH,,full,1\nIII,NMO I,royal,-2\n"
    empty_file = {"file": ("", b"", "application/octet-stream")}
    refused = await client.post(url, data={"csv": bad}, files=empty_file, headers=HX)
    assert refused.status_code == 422
    html = refused.text
    assert 'id="import-nmos"' in html
    cells = re.findall(
        r'<td data-label="Row">(\d+)</td><td data-label="Column"><code>(\w+)</code></td>'
        r'<td data-label="Problem" class="wide">([^<]*)</td>',
        html,
    )
    assert cells[0] == ("2", "code", "NMO AAA is already registered")
    assert [(row, column) for row, column, _ in cells[1:]] == [
        ("3", "name"),
        ("4", "member_class"),
        ("4", "weight"),
    ]
    assert "HHH" in html  # the pasted text stays to be fixed
    async with writing(app.state.ctx.session_maker) as db:
        assert await db.scalar(select(func.count()).select_from(Nmo)) == 5

    good = "code;name;country;member_class;weight\nHHH;NMO H;Chile;full;2\nIII;NMO I;;candidate;1\n"
    upload = {"file": ("nmos.csv", good.encode("utf-8-sig"), "text/csv")}
    done = await client.post(url, data={"csv": ""}, files=upload, headers=HX)
    assert done.status_code == 200 and "Imported 2 NMOs." in done.text
    people = "nmo_code,name,role\nHHH,Hanna Head,head\nIII,Ivo,delegate\n"
    plain = await client.post(
        f"/secretariat/assemblies/{world.assembly_id}/import/delegates",
        data={"csv": people},
        files=empty_file,
    )
    assert plain.status_code == 200 and "Imported 2 delegates." in plain.text
    assert "<h1>Import CSV" in plain.text  # without htmx the whole page comes back


async def test_credentials_record_lists_events_newest_first(
    make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    response = await client.get(f"/secretariat/assemblies/{world.assembly_id}/events")
    assert response.status_code == 200
    html = response.text
    assert ">Credentialed</th>" in html and ">Checked in</th>" in html
    assert html.index(">Credentialed</th>") < html.index(">Assembly created</th>")
    assert "AAA-head" in html


async def test_cards_have_one_qr_code_and_the_login_link_per_delegate(
    make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="secretariat")
    response = await client.get(f"/secretariat/assemblies/{world.assembly_id}/cards")
    assert response.status_code == 200
    html = response.text
    assert html.count("<svg") == len(world.delegate) == 10
    assert html.count('class="card-page"') == 5
    for name, token in world.token.items():
        assert f"http://testserver.local/login/{token}" in html
        assert f'<h3 class="card-name">{name}</h3>' in html
    assert "Head of delegation" in html and "Test GA" in html

    one = await client.get(
        f"/secretariat/assemblies/{world.assembly_id}/cards?nmo={world.nmo['BBB']}"
    )
    assert one.text.count("<svg") == 2 and one.text.count('class="card-page"') == 1
    assert world.token["BBB-head"] in one.text and world.token["AAA-head"] not in one.text


# --- credentials desk -------------------------------------------------------------------


async def test_desk_shows_quorum_and_searches_by_code_or_name(
    make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="desk")
    response = await client.get("/desk")
    assert response.status_code == 200
    html = response.text
    assert 'id="quorum"' in html and "Quorum met" in html
    assert "3</strong> of 3 Full Members present; 2 needed" in html
    assert f'ws-connect="/ws/assembly/{world.assembly_id}"' in html
    assert 'id="scanned"' in html and "autofocus" in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    found = await client.get(f"/desk/search?assembly={world.assembly_id}&q=bbb-DEL", headers=HX)
    assert found.status_code == 200
    assert f'id="desk-nmo-{world.nmo["BBB"]}"' in found.text
    assert "desk-nmo-" + str(world.nmo["AAA"]) not in found.text
    assert "1 delegation found" in found.text


async def test_desk_check_in_and_credentials_change_the_database(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="desk")
    delegate_id = world.delegate["AAA-del"]
    assert not (await delegate_row(app, delegate_id)).checked_in
    response = await client.post(
        f"/desk/delegates/{delegate_id}/check-in", data={"present": "1", "q": ""}, headers=HX
    )
    assert response.status_code == 200
    assert (await delegate_row(app, delegate_id)).checked_in
    assert f'id="desk-nmo-{world.nmo["AAA"]}"' in response.text
    assert 'hx-swap-oob="innerHTML"' in response.text  # the quorum rides along

    head_id = world.delegate["BBB-head"]
    plain = await client.post(
        f"/desk/delegates/{head_id}/check-in",
        data={"present": "0", "q": "BBB"},
        follow_redirects=False,
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/desk?assembly={world.assembly_id}&q=BBB"
    assert not (await delegate_row(app, head_id)).checked_in

    withdrawn = await client.post(
        f"/desk/nmos/{world.nmo['CCC']}/credential", data={"credentialed": "0"}, headers=HX
    )
    assert withdrawn.status_code == 200 and "Credential CCC" in withdrawn.text
    assert not (await nmo_row(app, world.nmo["CCC"])).credentialed
    assert "1</strong> of 3 Full Members present" in withdrawn.text


async def test_desk_scan_checks_the_card_owner_in_or_says_why_not(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, check_in=False)
    client = await make_client(staff="desk")
    card = f"http://testserver.local/login/{world.token['CCC-del']}"
    response = await client.post(
        "/desk/scan", data={"assembly": str(world.assembly_id), "scanned": card}, headers=HX
    )
    assert response.status_code == 200
    assert "Checked in" in response.text and "CCC-del" in response.text
    assert (await delegate_row(app, world.delegate["CCC-del"])).checked_in
    again = await client.post(
        "/desk/scan", data={"assembly": str(world.assembly_id), "scanned": card}, headers=HX
    )
    assert "Already checked in" in again.text
    unknown = await client.post(
        "/desk/scan",
        data={"assembly": str(world.assembly_id), "scanned": "http://x/login/not-a-token"},
        headers=HX,
    )
    assert unknown.status_code == 404
    assert "No delegate has this card" in unknown.text
    plain = await client.post(
        "/desk/scan", data={"assembly": str(world.assembly_id), "scanned": world.token["AAA-head"]}
    )
    assert plain.status_code == 200 and "<h1>Credentials desk" in plain.text
    assert (
        "AAA-head" in plain.text
        and (await delegate_row(app, world.delegate["AAA-head"])).checked_in
    )


# --- delegate home ------------------------------------------------------------------------


async def test_delegate_home_shows_my_nmo_vote_holder_and_presence(
    make_client: ClientFactory, world: World
) -> None:
    client = await make_client(token=world.token["CCC-del"])
    response = await client.get("/delegate")
    assert response.status_code == 200
    html = response.text
    assert "CCC-del · delegate" in html  # header
    assert "NMO CCC" in html and "Full Member" in html and "<dd>1.5</dd>" in html
    assert "CCC-head · present" in html
    assert "You are not checked in" in html
    assert 'id="conn-lost"' in html and "/static/live.js" in html
    assert f'ws-connect="/ws/assembly/{world.assembly_id}"' in html
    # Not the head: no hand-over or proxy forms; self check-in is off by default.
    body = main_of(html)
    assert 'action="/delegate/voting-right"' not in body and 'action="/delegate/proxy"' not in body
    assert 'action="/delegate/check-in"' not in body
    assert "show your card at the credentials desk" in body


async def test_head_gives_a_proxy_and_a_rule_violation_shows_the_rule(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, proxies_enabled=True, max_proxies=1)
    aaa = await make_client(token=world.token["AAA-head"])
    page = await aaa.get("/delegate")
    assert 'action="/delegate/proxy"' in page.text and ">BBB · NMO BBB</option>" in page.text
    assert ">DDD · NMO DDD</option>" not in page.text  # candidates hold no vote to carry
    given = await aaa.post("/delegate/proxy", data={"holder_id": str(world.nmo["BBB"])}, headers=HX)
    assert given.status_code == 200
    assert "Your proxy was given." in given.text
    assert "has given its vote to <strong>BBB</strong>" in given.text
    assert [(p.giver_id, p.holder_id) for p in await standing_proxies(app, world.assembly_id)] == [
        (world.nmo["AAA"], world.nmo["BBB"])
    ]
    ccc = await make_client(token=world.token["CCC-head"])
    refused = await ccc.post(
        "/delegate/proxy", data={"holder_id": str(world.nmo["BBB"])}, headers=HX
    )
    assert refused.status_code == 409
    assert (
        "BBB already carries 1 proxy, the most one NMO may hold at this assembly (1)."
        in refused.text
    )
    assert 'role="alert"' in refused.text
    chain = await ccc.post("/delegate/proxy", data={"holder_id": str(world.nmo["AAA"])})
    assert chain.status_code == 409 and "<h1>CCC-head" in chain.text  # plain form: whole page
    assert "AAA has given its own vote away, so it cannot hold proxies (no chains)." in chain.text

    proxy_id = (await standing_proxies(app, world.assembly_id))[0].id
    not_mine = await ccc.post(f"/delegate/proxies/{proxy_id}/revoke", headers=HX)
    assert not_mine.status_code == 403
    assert "Only the head of delegation of AAA can revoke its proxy." in not_mine.text
    revoked = await aaa.post(f"/delegate/proxies/{proxy_id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/delegate"
    assert await standing_proxies(app, world.assembly_id) == []


async def test_head_hands_the_vote_to_another_delegate(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    head = await make_client(token=world.token["AAA-head"])
    response = await head.post(
        "/delegate/voting-right", data={"holder_id": str(world.delegate["AAA-del"])}, headers=HX
    )
    assert response.status_code == 200
    assert "The vote was handed over." in response.text
    assert "AAA-del · not checked in" in response.text
    assert "2</strong> of 3 Full Members present" in response.text  # quorum oob
    other = await head.post(
        "/delegate/voting-right", data={"holder_id": str(world.delegate["BBB-del"])}, headers=HX
    )
    assert other.status_code == 409
    assert "The vote of AAA can only be held by one of its delegates." in other.text


async def test_self_check_in_appears_only_when_the_assembly_allows_it(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, self_checkin=True)
    client = await make_client(token=world.token["BBB-del"])
    page = await client.get("/delegate")
    assert 'action="/delegate/check-in"' in page.text
    response = await client.post("/delegate/check-in", data={"present": "1"}, headers=HX)
    assert response.status_code == 200 and "You are checked in" in response.text
    assert (await delegate_row(app, world.delegate["BBB-del"])).checked_in


async def test_an_observer_sees_the_page_but_no_actions(
    app: Litestar, make_client: ClientFactory
) -> None:
    world = await seed_world(app, proxies_enabled=True, self_checkin=True)
    token = await add_observer(app, world, "AAA")
    client = await make_client(token=token)
    response = await client.get("/delegate")
    assert response.status_code == 200
    body = main_of(response.text)
    assert "AAA-obs" in body and "NMO AAA" in body and "Observer" in body
    assert "<form" not in body and "<button" not in body
    refused = await client.post("/delegate/proxy", data={"holder_id": str(world.nmo["BBB"])})
    assert refused.status_code == 403


# --- chair and projector ------------------------------------------------------------------


async def test_chair_screen_shows_live_quorum_presence_and_votes_placeholder(
    make_client: ClientFactory, world: World
) -> None:
    client = await make_client(staff="chair")
    response = await client.get("/chair")
    assert response.status_code == 200
    html = response.text
    assert "Quorum met" in html and 'id="quorum"' in html
    assert f'hx-ext="ws" ws-connect="/ws/assembly/{world.assembly_id}"' in html
    for code in ("AAA", "BBB", "CCC", "DDD", "EEE"):
        assert f"{code} <span" in html
    assert "3 of 3 Full Members present" in html
    assert '<h2 id="votes-title">Votes</h2>' in html
    refreshed = await client.get(f"/chair/nmos?assembly={world.assembly_id}", headers=HX)
    assert refreshed.status_code == 200 and "AAA" in refreshed.text


async def test_projector_is_public_and_shows_no_personal_data(
    make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    response = await public.get(f"/projector/{world.assembly_id}")
    assert response.status_code == 200
    html = response.text
    assert "Test GA" in html and "Quorum met" in html
    assert "3</strong> of 3 Full Members present" in html
    assert "-head" not in html and "-del" not in html and "NMO AAA" not in html
    # The public projector holds the assembly's WebSocket (no personal data on it).
    assert f'ws-connect="/ws/assembly/{world.assembly_id}?lang=en"' in html
    fragment = await public.get(f"/projector/{world.assembly_id}/quorum")
    assert fragment.status_code == 200
    assert 'id="quorum"' in fragment.text and 'hx-swap-oob="innerHTML"' in fragment.text
    chair = await make_client(staff="chair")
    live = await chair.get(f"/projector/{world.assembly_id}")
    assert f'ws-connect="/ws/assembly/{world.assembly_id}?lang=en"' in live.text
    assert "chair · chair" not in live.text.split("<main", 1)[1]


async def test_the_chair_opens_self_check_in_and_a_delegate_can_then_check_in(
    make_client: ClientFactory, app: Litestar
) -> None:
    world = await seed_world(app, check_in=False)
    phone = await make_client(token=world.token["AAA-head"])
    refused = await phone.post("/api/me/check-in", json={"present": True})
    assert refused.status_code == 403 and "Self check-in is not open" in refused.json()["message"]
    chair = await make_client(staff="chair")
    page = (await chair.get(f"/chair?assembly={world.assembly_id}")).text
    assert "Self check-in from the phones is <strong>closed</strong>" in page
    switched = await chair.post(
        f"/chair/assemblies/{world.assembly_id}/self-check-in",
        data={"allowed": "1"},
        headers={"HX-Request": "true"},
    )
    assert switched.status_code == 200
    assert "<strong>open</strong>" in switched.text and "Close self check-in" in switched.text
    assert (await phone.post("/api/me/check-in", json={"present": True})).status_code == 200
    events = (await chair.get(f"/api/assemblies/{world.assembly_id}/events")).json()
    change = [e for e in events if e["kind"] == "assembly_rules"][-1]
    assert change["detail"] == {"self_checkin": {"old": False, "new": True}}
    assert change["actor"] == "chair:chair" and change["reason"] == "set by the chair"
    closed = await chair.post(
        f"/api/assemblies/{world.assembly_id}/self-check-in", json={"allowed": False}
    )
    assert closed.status_code == 200 and closed.json()["rules"]["self_checkin"] is False
