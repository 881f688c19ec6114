"""The Content Security Policy in a real browser: the phone, the chair screen, the projector
and the public record load their scripts, styles and live socket with no violation reported."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, expect

from assembly.demo import DEMO_PASSWORDS
from tests.e2e.conftest import DemoServer

pytestmark = pytest.mark.e2e

NewContext = Callable[..., BrowserContext]


def test_no_screen_breaks_the_content_security_policy(
    demo_server: DemoServer, new_context: NewContext
) -> None:
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    phone = new_context(phone=True).new_page()
    phone.on("console", watch)
    phone.goto(demo_server.head_of("IFMSA-Brazil").url)
    expect(phone.locator("main")).to_contain_text("IFMSA-Brazil")

    chair = new_context().new_page()
    chair.on("console", watch)
    chair.goto(f"{demo_server.base_url}/login")
    chair.fill("input[name=username]", "chair")
    chair.fill("input[name=password]", DEMO_PASSWORDS["chair"])
    chair.click("main button.primary")
    expect(chair.locator("main")).to_contain_text("Quorum")
    for path in ("/projector/1", "/record/1", "/assemblies/1/log"):
        chair.goto(f"{demo_server.base_url}{path}")
        chair.wait_for_load_state("networkidle")
    # The live socket opened under the policy: htmx's ws extension marks it connected.
    chair.goto(f"{demo_server.base_url}/chair")
    chair.wait_for_load_state("networkidle")
    assert violations == [], violations
