"""CSRF protection: every unsafe request of a browser session must carry the page's token
(assembly.security), a request without it or with a wrong one changes nothing, and every
screen that posts renders the token."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from assembly.credentials.auth import Role
from assembly.security import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER, CSRF_MESSAGE
from assembly.voting.models import Ballot, Vote
from tests.conftest import ClientFactory, World
from tests.test_roles import EXPECTED, SESSION_ENDING, _world_for_matrix, route_table

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Called without a browser session by design (see assembly.security.CSRF_EXEMPT).
EXEMPT = {"POST /api/assemblies/{assembly_id}/log/cosignatures"}
HX = {"HX-Request": "true"}


def without_token(client: AsyncTestClient[Litestar]) -> AsyncTestClient[Litestar]:
    """The client as a forged cross-site request sends: its cookies, no header."""
    del client.headers[CSRF_HEADER]
    return client


def refused_for_csrf(response: Any) -> bool:
    if response.status_code != 403:
        return False
    if response.headers.get("content-type", "").startswith("application/json"):
        return bool(response.json() == {"error": "csrf_failed", "message": CSRF_MESSAGE})
    return "security token is missing or out of date" in response.text


async def ballots(app: Litestar, vote_id: int) -> int:
    async with app.state.ctx.session_maker() as db:
        count = await db.scalar(
            select(func.count()).select_from(Ballot).where(Ballot.vote_id == vote_id)
        )
        return int(count or 0)


async def vote_count(app: Litestar, assembly_id: int) -> int:
    async with app.state.ctx.session_maker() as db:
        count = await db.scalar(
            select(func.count()).select_from(Vote).where(Vote.assembly_id == assembly_id)
        )
        return int(count or 0)


# --- every unsafe route ------------------------------------------------------------------


async def test_every_unsafe_route_refuses_a_logged_in_request_without_the_token(
    app: Litestar, make_client: ClientFactory
) -> None:
    world, params = await _world_for_matrix(app)
    sessions = {
        "secretariat": without_token(await make_client(staff="secretariat")),
        "chair": without_token(await make_client(staff="chair")),
        "delegate": without_token(await make_client(token=world.token["AAA-head"])),
    }
    unsafe = sorted(k for k in route_table(app) if k.split(" ", 1)[0] in UNSAFE)
    assert len(unsafe) > 80, unsafe  # the table is the app's, not a sample
    let_through: dict[str, set[str]] = {}
    for key in unsafe:
        method, path = key.split(" ", 1)
        for name, client in sessions.items():
            for headers in ({}, HX):
                response = await client.request(
                    method, path.format(**params), json={}, headers=headers
                )
                if not refused_for_csrf(response):
                    let_through.setdefault(key, set()).add(f"{name} {response.status_code}")
    assert set(let_through) == EXEMPT, let_through


# --- a forged request changes nothing; the real one works ---------------------------------


async def test_a_ballot_without_the_token_or_with_a_wrong_one_is_refused_and_not_stored(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    created = await chair.post(
        f"/api/assemblies/{world.assembly_id}/votes", json={"question": "Lunch?"}
    )
    assert created.status_code == 201, created.text
    vote_id = created.json()["id"]
    assert (await chair.post(f"/api/votes/{vote_id}/open", json={})).status_code == 200
    phone = await make_client(token=world.token["AAA-head"])
    other = await make_client()  # a valid token, but of another browser
    token = phone.headers[CSRF_HEADER]
    body = {"ballots": [{"nmo_id": world.nmo["AAA"], "ballot_id": uuid.uuid4().hex}]}
    body["ballots"][0]["choice"] = "yes"
    url = f"/api/votes/{vote_id}/ballots"
    for wrong in (None, "", "0" * 128, token[:64] + "0" * 64, other.headers[CSRF_HEADER]):
        headers = {} if wrong is None else {CSRF_HEADER: wrong}
        del phone.headers[CSRF_HEADER]
        try:
            response = await phone.post(url, json=body, headers=headers)
        finally:
            phone.headers[CSRF_HEADER] = token
        assert refused_for_csrf(response), (wrong, response.status_code, response.text)
        assert await ballots(app, vote_id) == 0
    cast = await phone.post(url, json=body)
    assert cast.status_code == 200, cast.text
    assert cast.json()["ballots"][0]["status"] == "recorded"
    assert await ballots(app, vote_id) == 1


async def test_the_token_in_a_form_field_works_and_a_form_without_it_is_refused(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    chair = await make_client(staff="chair")
    token = without_token(chair).cookies[CSRF_COOKIE]
    before = await vote_count(app, world.assembly_id)
    url = f"/chair/assemblies/{world.assembly_id}/votes"
    form = {"question": "Shall we adjourn?", "kind": "motion"}
    forged = await chair.post(url, data=form)
    assert forged.status_code == 403
    assert "security token is missing or out of date" in forged.text
    assert "Reload the page and try again" in forged.text
    # htmx shows the refusal in the page's alert region instead of the form's target.
    forged_htmx = await chair.post(url, data=form, headers=HX)
    assert forged_htmx.status_code == 403
    assert forged_htmx.headers["HX-Retarget"] == "#flash"
    assert "Reload the page and try again" in forged_htmx.text
    assert await vote_count(app, world.assembly_id) == before
    posted = await chair.post(url, data={**form, CSRF_FIELD: token}, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    assert await vote_count(app, world.assembly_id) == before + 1


async def test_the_staff_login_form_needs_the_token_too(make_client: ClientFactory) -> None:
    """No login CSRF: a foreign page cannot log a browser in to an account of its choosing."""
    browser = without_token(await make_client())
    form = {"username": "chair", "password": "whatever", "next": "/chair"}
    assert refused_for_csrf(await browser.post("/login", data=form))
    api = await browser.post("/api/auth/login", json={"username": "chair", "password": "x"})
    assert refused_for_csrf(api)


async def test_a_token_made_under_another_secret_key_is_replaced_after_the_refusal(
    app: Litestar, make_client: ClientFactory
) -> None:
    """After a key change, the browser's old cookie fails once; reloading the page fixes it."""
    browser = await make_client()
    old = "a" * 64 + "b" * 64
    browser.cookies.set(CSRF_COOKIE, old, domain="testserver.local")
    page = await browser.get("/login")
    assert f'<meta name="csrf-token" content="{old}">' in page.text  # litestar keeps it
    refused = await browser.post(
        "/api/auth/logout", headers={CSRF_HEADER: old}, follow_redirects=False
    )
    assert refused_for_csrf(refused)
    assert f"{CSRF_COOKIE}=" in refused.headers["set-cookie"]
    assert browser.cookies.get(CSRF_COOKIE) is None
    reloaded = await browser.get("/login")
    fresh = browser.cookies[CSRF_COOKIE]
    assert fresh != old and f'content="{fresh}"' in reloaded.text
    out = await browser.post("/api/auth/logout", headers={CSRF_HEADER: fresh})
    assert out.status_code in (200, 204), out.text


# --- every screen that posts carries the token --------------------------------------------


class Forms(HTMLParser):
    """The page's CSRF meta tag, its posting forms with their CSRF field, and whether it
    loads static/csrf.js (which adds the header to htmx requests) and has hx-post & co."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: str | None = None
        self.forms: list[dict[str, str | None]] = []
        self.in_form: dict[str, str | None] | None = None
        self.scripts: list[str] = []
        self.hx_unsafe = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("name") == "csrf-token":
            self.meta = a.get("content")
        if tag == "script" and a.get("src"):
            self.scripts.append(str(a["src"]))
        if any(k in a for k in ("hx-post", "hx-put", "hx-patch", "hx-delete")):
            self.hx_unsafe += 1
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self.in_form = {"action": a.get("action"), "token": None}
            self.forms.append(self.in_form)
        if tag == "input" and self.in_form is not None and a.get("name") == CSRF_FIELD:
            self.in_form["token"] = a.get("value")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.in_form = None


def parse(html: str) -> Forms:
    forms = Forms()
    forms.feed(html)
    return forms


async def test_every_screen_renders_the_token_in_each_form_and_for_htmx(
    app: Litestar, make_client: ClientFactory
) -> None:
    world, params = await _world_for_matrix(app)
    chair = await make_client(staff="chair")
    opened = await chair.post(f"/api/votes/{params['vote_id']}/open", json={})
    assert opened.status_code == 200, opened.text
    clients = {
        "public": await make_client(),
        "secretariat": await make_client(staff="secretariat"),
        "chair": chair,
        "desk": await make_client(staff="desk"),
        "delegate": await make_client(token=world.token["AAA-head"]),
        "observer": await make_client(token=world.token["AAA-obs"]),
    }
    pages: list[tuple[str, str, str]] = []  # (who, url, html)
    for key in sorted(route_table(app)):
        method, path = key.split(" ", 1)
        if method != "GET" or key in SESSION_ENDING or path.startswith(("/api/", "/health")):
            continue
        for name, client in clients.items():
            if Role(name) not in EXPECTED[key]:
                continue
            url = path.format(**params)
            for headers in ({}, HX):
                response = await client.get(url, headers=headers, follow_redirects=False)
                if response.status_code == 200 and "text/html" in response.headers.get(
                    "content-type", ""
                ):
                    pages.append((name, url + (" (htmx)" if headers else ""), response.text))
    # Pages reached only by posting without JavaScript: the confirmation steps.
    close = await chair.post(f"/chair/votes/{params['vote_id']}/close", data={})
    assert close.status_code == 200, close.text
    pages.append(("chair", "POST close (confirm)", close.text))
    review = await clients["delegate"].post(
        f"/delegate/vote/{params['vote_id']}/ballots",
        data={"nmo": str(world.nmo["AAA"]), "choice": "yes"},
    )
    assert review.status_code == 200, review.text
    pages.append(("delegate", "POST ballot (review)", review.text))

    problems: list[str] = []
    actions: set[str] = set()
    for name, url, html in pages:
        token = clients[name].cookies[CSRF_COOKIE]
        found = parse(html)
        full_page = html.lstrip().lower().startswith("<!doctype")
        if full_page and found.meta != token:
            problems.append(f"{url} as {name}: meta csrf-token {found.meta!r}")
        if found.hx_unsafe and full_page and "/static/csrf.js" not in found.scripts:
            problems.append(f"{url} as {name}: hx-post without static/csrf.js")
        for form in found.forms:
            actions.add(re.sub(r"\d+", "N", str(form["action"])))
            if form["token"] != token:
                problems.append(f"{url} as {name}: form {form['action']} token {form['token']!r}")
    assert problems == [], "\n".join(problems)
    # The walk reached the screens of every role, and their forms.
    for action in (
        "/login",
        "/logout",
        "/secretariat/assemblies",
        "/secretariat/assemblies/N/nmos",
        "/desk/scan",
        "/chair/assemblies/N/votes",
        "/chair/votes/N/close",
        "/delegate/voting-right",
        "/delegate/vote/N/ballots",
        "/documents/N/amendments",
        "/secretariat/assemblies/N/publishing/policy",
    ):
        assert action in actions, (action, "\n".join(sorted(actions)))
    assert len(pages) > 40, [url for _, url, _ in pages]
