"""CSRF in a browser: a phone whose page outlived its token (the browser dropped the cookie,
as after a restart) still casts its ballot, once, without the delegate doing anything."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from assembly.demo import DEMO_PASSWORDS
from assembly.security import CSRF_COOKIE
from tests.conftest import with_csrf_token_sync
from tests.e2e.conftest import DemoServer
from tests.e2e.test_plenary import LIVE_MS, NewContext, phone_screen, receipt_of, review
from tests.e2e.test_receipts import close_vote, open_vote

pytestmark = pytest.mark.e2e


@pytest.fixture
def chair(demo_server: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as c:
        with_csrf_token_sync(c)
        login = c.post(
            "/api/auth/login", json={"username": "chair", "password": DEMO_PASSWORDS["chair"]}
        )
        assert login.status_code == 200, login.text
        yield c


def test_a_phone_that_lost_its_csrf_cookie_still_casts_its_ballot(
    demo_server: DemoServer, new_context: NewContext, chair: httpx.Client
) -> None:
    context = new_context(phone=True)
    phone = phone_screen(context, demo_server.head_of("ANEMF"))
    _, vote = open_vote(chair, secret=False)
    try:
        expect(phone.banner).to_contain_text(vote["question"], timeout=LIVE_MS)
        token = phone.page.locator('meta[name="csrf-token"]')
        stale = token.get_attribute("content")
        context.clear_cookies(name=CSRF_COOKIE)
        review(phone.card("ANEMF").locator("form"), "Yes", "ANEMF").click()
        receipt = receipt_of(phone, "ANEMF")
        assert token.get_attribute("content") not in (stale, None, "")
        turnout = chair.get(f"/api/votes/{vote['id']}/turnout")
        assert turnout.status_code == 200 and turnout.json()["ballots"] == 1, turnout.text
        mine = phone.page.request.get(f"/api/votes/{vote['id']}/mine").json()
        (right,) = [r for r in mine["rights"] if r["nmo_code"] == "ANEMF"]
        assert right["receipt"] == receipt
    finally:
        close_vote(chair, vote["id"])
