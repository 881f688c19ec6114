"""Logging in with a browser: a delegate opens the link on their card with a phone, a staff
member logs in with a password; each lands on their own screen."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from assembly.demo import DEMO_PASSWORDS
from tests.e2e.conftest import DemoServer

pytestmark = pytest.mark.e2e

NewContext = Callable[..., BrowserContext]
Screenshot = Callable[[Page, str], Path]


def assert_landed(page: Page, response: Response | None, path: str) -> None:
    """After the login's redirect: on `path`, and that screen answered 200."""
    assert urlsplit(page.url).path == path, f"landed on {page.url}, expected {path}"
    assert response is not None
    assert response.status == 200, f"{path} answered {response.status}"


def test_a_delegate_opens_the_card_link_on_a_phone_and_sees_their_delegation(
    demo_server: DemoServer, new_context: NewContext, screenshot: Screenshot
) -> None:
    head = demo_server.head_of("IFMSA-Brazil")
    page = new_context(phone=True).new_page()

    response = page.goto(head.url)
    screenshot(page, "delegate")

    assert_landed(page, response, "/delegate")
    expect(page.locator("main")).to_contain_text("IFMSA-Brazil")
    expect(page.locator("main")).to_contain_text(head.name)
    # A phone screen: nothing wider than the phone, so nobody scrolls sideways to vote.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than a 390px phone"


@pytest.mark.parametrize(
    ("username", "home", "shows"),
    [
        ("secretariat", "/secretariat", "Demo General Assembly"),
        ("chair", "/chair", "Quorum"),
        ("desk", "/desk", "ANEMF"),
    ],
    ids=["secretariat", "chair", "desk"],
)
def test_staff_log_in_with_their_password_and_land_on_their_screen(
    demo_server: DemoServer,
    new_context: NewContext,
    screenshot: Screenshot,
    username: str,
    home: str,
    shows: str,
) -> None:
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORDS[username])
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Log in").click()
    screenshot(page, username)

    assert_landed(page, navigation.value, home)
    expect(page.locator("main")).to_contain_text(shows)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_wrong_password_keeps_the_staff_member_on_the_login_page_with_a_message(
    demo_server: DemoServer, new_context: NewContext, screenshot: Screenshot
) -> None:
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("Username").fill("chair")
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Log in").click()
    screenshot(page, "refused")

    expect(page.locator("main").get_by_role("alert")).to_have_text("Wrong username or password.")
    assert urlsplit(page.url).path == "/login"
    expect(page.get_by_role("heading", name="Staff login")).to_be_visible()


def test_pages_load_htmx_from_the_server_itself(
    demo_server: DemoServer, new_context: NewContext
) -> None:
    page = new_context().new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(demo_server.base_url) else None,
    )
    page.goto("/login")
    page.wait_for_load_state("load")
    assert page.evaluate("typeof htmx") == "object", "htmx did not load"
    assert page.evaluate("htmx.version").startswith("2"), "expected htmx 2"
    assert outside == [], f"the page fetched from elsewhere: {outside}"
