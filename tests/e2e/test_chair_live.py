"""The chair's screen is live: a check-in at the desk changes the quorum on the chair's
screen without a reload, through the page's one WebSocket on a real server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import APIResponse, BrowserContext, Page, Route, expect

from assembly.demo import DEMO_PASSWORDS
from tests.conftest import with_csrf_token_sync
from tests.e2e.conftest import DemoServer

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT_MS = 15_000
PRESENT = re.compile(r"(\d+) of (\d+) Full Members present")


@pytest.fixture
def desk_api(demo_server: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as client:
        with_csrf_token_sync(client)
        response = client.post(
            "/api/auth/login", json={"username": "desk", "password": DEMO_PASSWORDS["desk"]}
        )
        assert response.status_code == 200, response.text
        yield client


def delegate_id(api: httpx.Client, nmo_code: str, name: str) -> int:
    (assembly,) = api.get("/api/assemblies").json()
    nmo = next(
        n for n in api.get(f"/api/assemblies/{assembly['id']}/nmos").json() if n["code"] == nmo_code
    )
    people = api.get(f"/api/nmos/{nmo['id']}/delegates").json()
    return int(next(d["id"] for d in people if d["name"] == name))


def set_present(api: httpx.Client, delegate: int, present: bool) -> None:
    response = api.post(f"/api/delegates/{delegate}/check-in", json={"present": present})
    assert response.status_code == 200, response.text


def test_a_desk_check_out_and_in_changes_the_quorum_on_the_chair_screen_live(
    demo_server: DemoServer,
    new_context: Callable[..., BrowserContext],
    screenshot: Callable[[Page, str], Path],
    desk_api: httpx.Client,
) -> None:
    head = demo_server.head_of("IFMSA-Egypt")  # credentialed Full Member, head checked in
    omar = delegate_id(desk_api, head.nmo_code, head.name)
    page = new_context().new_page()
    # htmx's ws extension fires htmx:wsOpen once the page's socket is connected.
    page.add_init_script(
        "document.addEventListener('htmx:wsOpen', () => { window.assemblySocketOpen = true })"
    )
    page.goto("/login")
    page.get_by_label("Username").fill("chair")
    page.get_by_label("Password").fill(DEMO_PASSWORDS["chair"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/chair")
    quorum = page.locator("#quorum")
    expect(quorum).to_contain_text(PRESENT)
    match = PRESENT.search(quorum.inner_text())
    assert match, quorum.inner_text()
    present, full = int(match[1]), int(match[2])
    # A check-in made before the socket is open would only show on the next load.
    page.wait_for_function("() => window.assemblySocketOpen === true")

    try:
        set_present(desk_api, omar, False)
        # Generous: CI shares two cores between the server, Chromium and the test.
        expect(quorum).to_contain_text(
            f"{present - 1} of {full} Full Members present", timeout=LIVE_TIMEOUT_MS
        )
        screenshot(page, "checked-out")
    finally:
        set_present(desk_api, omar, True)
    expect(quorum).to_contain_text(
        f"{present} of {full} Full Members present", timeout=LIVE_TIMEOUT_MS
    )


def test_a_stale_catch_up_never_overwrites_a_newer_live_update(
    demo_server: DemoServer,
    new_context: Callable[..., BrowserContext],
    desk_api: httpx.Client,
) -> None:
    """The catch-up a screen fetches when its socket opens may read the database just before
    a change and arrive after that change's push: the screen keeps the newer state."""
    head = demo_server.head_of("IFMSA-Egypt")
    omar = delegate_id(desk_api, head.nmo_code, head.name)
    page = new_context().new_page()
    held: list[tuple[Route, APIResponse]] = []

    def hold(route: Route) -> None:
        held.append((route, route.fetch()))  # read now (the old state), answer later

    page.route("**/projector/*/quorum", hold)
    page.add_init_script(
        "document.addEventListener('htmx:wsOpen', () => { window.assemblySocketOpen = true });"
        "document.addEventListener('htmx:afterRequest', (e) => {"
        "  if ((e.detail.pathInfo.requestPath || '').endsWith('/quorum')) {"
        "    window.catchUpsDone = (window.catchUpsDone || 0) + 1 } })"
    )
    page.goto("/login")
    page.get_by_label("Username").fill("chair")
    page.get_by_label("Password").fill(DEMO_PASSWORDS["chair"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/chair")
    page.wait_for_function("() => window.assemblySocketOpen === true")
    for _ in range(100):  # the handler runs while Playwright waits; 5 s at most
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the screen made no catch-up request when its socket opened"
    quorum = page.locator("#quorum")
    match = PRESENT.search(quorum.inner_text())
    assert match, quorum.inner_text()
    present, full = int(match[1]), int(match[2])
    try:
        set_present(desk_api, omar, False)
        expect(quorum).to_contain_text(
            f"{present - 1} of {full} Full Members present", timeout=LIVE_TIMEOUT_MS
        )
        for route, response in held:
            route.fulfill(response=response)
        page.wait_for_function(f"() => (window.catchUpsDone || 0) >= {len(held)}")
        expect(quorum).to_contain_text(f"{present - 1} of {full} Full Members present")
    finally:
        set_present(desk_api, omar, True)
