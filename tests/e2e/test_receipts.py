"""Receipts on a phone, in a browser: after a named vote closes the phone offers each ballot's
receipt file, which checks offline with the log's key; after a secret vote the phone finds the
tracker it made in the logged list and says how it was counted, without a reload."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from assembly.audit.receipts import check_receipt
from assembly.demo import DEMO_PASSWORDS
from tests.conftest import with_csrf_token_sync
from tests.e2e.conftest import SCREENSHOTS, DemoServer
from tests.e2e.test_plenary import LIVE_MS, NewContext, phone_screen, receipt_of, review

pytestmark = pytest.mark.e2e
Screenshot = Callable[[Page, str], Path]

# A vote that closes while the phone shows it is fetched again within a few seconds.
CLOSED_MS = LIVE_MS + 4_000


@pytest.fixture
def chair_api(demo_server: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as chair:
        with_csrf_token_sync(chair)
        login = chair.post(
            "/api/auth/login", json={"username": "chair", "password": DEMO_PASSWORDS["chair"]}
        )
        assert login.status_code == 200, login.text
        yield chair


def open_vote(chair: httpx.Client, *, secret: bool) -> tuple[int, dict[str, Any]]:
    (assembly,) = chair.get("/api/assemblies").json()
    created = chair.post(
        f"/api/assemblies/{assembly['id']}/votes",
        json={"question": f"Receipts motion {uuid.uuid4().hex[:6]}?", "secret": secret},
    )
    assert created.status_code == 201, created.text
    vote = created.json()
    opened = chair.post(f"/api/votes/{vote['id']}/open")
    assert opened.status_code == 200, opened.text
    return int(assembly["id"]), vote


def close_vote(chair: httpx.Client, vote_id: int) -> None:
    closed = chair.post(f"/api/votes/{vote_id}/close")
    assert closed.status_code == 200, closed.text


def test_a_phone_downloads_its_named_ballots_receipt_and_it_checks_offline(
    demo_server: DemoServer,
    new_context: NewContext,
    chair_api: httpx.Client,
    screenshot: Screenshot,
) -> None:
    phone = phone_screen(new_context(phone=True), demo_server.head_of("ANEMF"))
    assembly_id, vote = open_vote(chair_api, secret=False)
    expect(phone.banner).to_contain_text(vote["question"], timeout=LIVE_MS)
    review(phone.card("ANEMF").locator("form"), "No", "ANEMF").click()
    receipt = receipt_of(phone, "ANEMF")
    close_vote(chair_api, vote["id"])

    link = phone.ballot.get_by_role("link", name="Download receipt of the vote of ANEMF")
    expect(link).to_be_visible(timeout=CLOSED_MS)
    expect(phone.ballot).to_contain_text(receipt)
    screenshot(phone.page, "closed")
    phone.ballot.screenshot(path=str(SCREENSHOTS / "receipt-named-ballot.png"))
    with phone.page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == f"vote-{vote['id']}-receipt.tlog-proof"
    text = download.value.path().read_text()
    key = chair_api.get(f"/api/assemblies/{assembly_id}/log/checkpoint").json()["verifier_key"]
    checked = check_receipt(text, key)
    assert checked.ballot is not None
    assert (checked.vote, checked.ballot.nmo, checked.ballot.choice) == (
        vote["id"],
        "ANEMF",
        ("no",),
    )
    assert checked.ballot.receipt == receipt


def test_after_a_secret_vote_the_phone_finds_its_tracker_in_the_log(
    demo_server: DemoServer,
    new_context: NewContext,
    chair_api: httpx.Client,
    screenshot: Screenshot,
) -> None:
    phone = phone_screen(new_context(phone=True), demo_server.head_of("bvmd"))
    _, vote = open_vote(chair_api, secret=True)
    expect(phone.banner).to_contain_text(vote["question"], timeout=LIVE_MS)
    review(phone.card("bvmd").locator("form"), "Yes", "bvmd").click()
    receipt_of(phone, "bvmd")
    tracker = phone.ballot.locator(".tracker").inner_text().strip()
    assert len(tracker) == 32
    close_vote(chair_api, vote["id"])

    results = phone.ballot.locator(".tracker-results")
    expect(results).to_have_attribute("aria-live", "polite", timeout=CLOSED_MS)
    expect(results).to_have_text(
        f"Your tracker {tracker[:8]}… (bvmd) is in the log, counted as: Yes.", timeout=LIVE_MS
    )
    expect(phone.ballot.get_by_role("link", name="Download the list of trackers")).to_be_visible()
    screenshot(phone.page, "closed")
    phone.ballot.screenshot(path=str(SCREENSHOTS / "receipt-secret-ballot.png"))

    # A phone that kept no tracker (another profile, same delegate) says so instead.
    other = phone_screen(new_context(phone=True), demo_server.head_of("bvmd"))
    expect(other.ballot.locator(".tracker-results")).to_contain_text(
        "This phone keeps no tracker for the ballot of bvmd", timeout=LIVE_MS
    )
