"""The speakers' list in browsers: two phones ask to speak, a third raises a point of order,
which jumps the queue and alerts the chair; the chair gives the floor in order, the countdown
runs on the chair screen and the projector; a phone moves to close the list, the chair puts
the motion to the vote, it is adopted and the list closes, which the phones see at once.
Every screen is a separate browser profile on the real server, no reloads."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from assembly.demo import DEMO_PASSWORDS
from tests.conftest import with_csrf_token_sync
from tests.e2e.conftest import DemoServer
from tests.e2e.test_plenary import (
    LIVE_MS,
    chair_screen,
    never_reloaded,
    phone_screen,
    projector_screen,
    receipt_of,
    review,
    snap,
)

pytestmark = pytest.mark.e2e

NewContext = Callable[..., BrowserContext]


@pytest.fixture
def debate(demo_server: DemoServer) -> Iterator[tuple[int, int]]:
    """A fresh agenda item made current for this test; afterwards its list is emptied and the
    item that was current before is current again, so other tests find the demo as it was."""
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as chair:
        with_csrf_token_sync(chair)
        login = chair.post(
            "/api/auth/login", json={"username": "chair", "password": DEMO_PASSWORDS["chair"]}
        )
        assert login.status_code == 200, login.text
        (assembly,) = chair.get("/api/assemblies").json()
        agenda = chair.get(f"/api/assemblies/{assembly['id']}/agenda").json()
        before = next((i["id"] for i in agenda if i["current"]), None)
        item = chair.post(
            f"/api/assemblies/{assembly['id']}/agenda", json={"title": "General debate"}
        ).json()
        assert chair.post(f"/api/agenda-items/{item['id']}/current").status_code == 200
        try:
            yield assembly["id"], item["id"]
        finally:
            floor: dict[str, Any] = chair.get(f"/api/agenda-items/{item['id']}/floor").json()
            for waiting in floor["waiting"]:
                chair.post(f"/api/floor-requests/{waiting['id']}/remove")
            if floor["speaking"]:
                chair.post(f"/api/agenda-items/{item['id']}/floor/stop")
            if before is not None:
                chair.post(f"/api/agenda-items/{before}/current")


def test_phones_ask_for_the_floor_a_point_of_order_jumps_the_queue_and_the_chair_closes_the_list(
    demo_server: DemoServer, new_context: NewContext, debate: tuple[int, int]
) -> None:
    assembly_id, _ = debate
    chair = chair_screen(new_context())
    projector = projector_screen(new_context(), assembly_id)
    camille = phone_screen(new_context(phone=True), demo_server.head_of("ANEMF"))
    lena = phone_screen(new_context(phone=True), demo_server.head_of("bvmd"))
    priya = phone_screen(new_context(phone=True), demo_server.head_of("MSAI"))
    floor = chair.locator("#floor")
    expect(floor).to_contain_text("Nobody has the floor", timeout=LIVE_MS)

    camille.page.locator("#my-floor").get_by_role("button", name="Ask to speak").click()
    expect(camille.page.locator("#my-floor")).to_contain_text("number 1 in the queue")
    lena.page.locator("#my-floor").get_by_role("button", name="Ask to speak").click()
    expect(lena.page.locator("#my-floor")).to_contain_text("number 2 in the queue")
    priya.page.locator("#my-floor").get_by_role("button", name="Point of order").click()

    # The point of order alerts the chair (screen readers too: static/live.js says it in the
    # chair screen's alert region) and goes first; the others move down a place.
    expect(floor.locator(".floor-point")).to_contain_text(
        "Point of order from MSAI", timeout=LIVE_MS
    )
    expect(chair.locator("#live-alert")).to_contain_text("Point of order from MSAI")
    queue = floor.locator("ol.floor-queue > li")
    expect(queue).to_have_count(3, timeout=LIVE_MS)
    expect(queue.nth(0)).to_contain_text("MSAI")
    expect(queue.nth(1)).to_contain_text("ANEMF")
    expect(camille.page.locator("#my-floor")).to_contain_text(
        "number 2 in the queue", timeout=LIVE_MS
    )
    expect(projector.locator("#floor ol.floor-queue > li")).to_have_count(3, timeout=LIVE_MS)
    snap(chair, "floor-chair-queue")
    snap(camille.page, "floor-phone-waiting")

    floor.get_by_role("button", name="Next speaker").click()
    expect(floor.locator(".floor-speaker")).to_contain_text("MSAI", timeout=LIVE_MS)
    expect(priya.page.locator("#my-floor")).to_contain_text("You have the floor", timeout=LIVE_MS)
    expect(projector.locator("#floor .floor-clock")).to_be_visible(timeout=LIVE_MS)
    first = projector.locator("#floor .floor-clock-value").inner_text()
    projector.wait_for_timeout(1_500)
    assert projector.locator("#floor .floor-clock-value").inner_text() != first, "no countdown"
    snap(projector, "floor-projector-speaker")

    floor.get_by_role("button", name="Next speaker").click()
    expect(floor.locator(".floor-speaker")).to_contain_text("ANEMF", timeout=LIVE_MS)
    expect(camille.page.locator("#my-floor")).to_contain_text("You have the floor", timeout=LIVE_MS)
    floor.get_by_role("button", name="+30 s").click()
    expect(chair.locator("#floor-feedback")).to_contain_text("30 seconds more", timeout=LIVE_MS)

    # bvmd moves to close the list; the chair puts the motion to the vote with one click.
    motion_form = lena.page.locator("#my-floor form.motion-form")
    motion_form.get_by_label("Raise a procedural motion").select_option(
        label="Close the speakers' list"
    )
    motion_form.get_by_role("button", name="Raise").click()
    expect(lena.page.locator("#my-floor")).to_contain_text("You moved: close the speakers' list")
    motions = floor.locator(".floor-motions")
    expect(motions).to_contain_text("Close the speakers' list · bvmd", timeout=LIVE_MS)
    snap(chair, "floor-chair-motion")
    motions.get_by_role("button", name="Put to the vote").click()
    expect(motions).to_contain_text("being voted on", timeout=LIVE_MS)

    # Three phones vote yes: two thirds of the votes cast, the motion is adopted.
    for phone in (camille, lena, priya):
        expect(phone.banner).to_contain_text("Close the speakers' list", timeout=LIVE_MS)
        review(phone.card(phone.who.nmo_code).locator("form"), "Yes", phone.who.nmo_code).click()
        receipt_of(phone, phone.who.nmo_code)
    line = chair.locator("li.vote-item").filter(has_text="Close the speakers' list")
    chair.once("dialog", lambda dialog: dialog.accept())
    line.get_by_role("button", name="Close the vote").click()
    expect(chair.locator("#vote-panel .verdict")).to_have_text(
        re.compile(r"Adopted"), timeout=LIVE_MS
    )

    # The motion took effect: the list is closed on every screen, without a reload.
    expect(floor).to_contain_text("list closed", timeout=LIVE_MS)
    expect(motions).to_have_count(0)
    expect(priya.page.locator("#my-floor")).to_contain_text(
        "The speakers' list is closed", timeout=LIVE_MS
    )
    expect(
        priya.page.locator("#my-floor").get_by_role("button", name="Ask to speak")
    ).to_have_count(0)
    # Points are still heard on a closed list.
    expect(
        priya.page.locator("#my-floor").get_by_role("button", name="Point of information")
    ).to_be_visible()
    snap(priya.page, "floor-phone-closed")
    for page in (chair, projector, camille.page, lena.page, priya.page):
        assert never_reloaded(page)
