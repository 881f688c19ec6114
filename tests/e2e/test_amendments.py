"""One policy in browsers, from submission to the adopted version: the secretariat imports it,
the chair puts it on the agenda and moves the plenary to it, two heads of delegation propose
amendments from their phones, the chair admits them and opens each vote from the amendments
panel (one adopted, one rejected), then the final vote; the secretariat reads the diff.

Ballots are cast through each phone's own session with the JSON API (the ballot screens have
their own browser test, test_plenary.py); everything else goes through the pages.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from assembly.demo import DEMO_PASSWORDS
from assembly.security import CSRF_COOKIE, CSRF_HEADER
from tests.e2e.conftest import SCREENSHOTS, DemoServer

pytestmark = pytest.mark.e2e

NewContext = Callable[..., BrowserContext]
LIVE_MS = 5_000

OLD_P2 = "Member organisations should hold one plenary without paper each year."
NEW_P2 = "Member organisations must hold every plenary without paper from 2027."
OLD_P3 = "The secretariat publishes a guide for paperless meetings."
REJECTED_P3 = "The secretariat publishes nothing."


def snap(page: Page, label: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"amendments-{label}.png"), full_page=True)


def staff_page(context: BrowserContext, who: str) -> Page:
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(who)
    page.get_by_label("Password").fill(DEMO_PASSWORDS[who])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/{who}*")
    return page


def api(page: Page, method: str, path: str, body: Any = None) -> Any:
    """A JSON request with the page's own session (its cookies), and its CSRF token as the
    page's scripts send it."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == CSRF_COOKIE)
    headers = {} if method == "GET" else {CSRF_HEADER: token}
    response = page.request.fetch(path, method=method, data=body, headers=headers)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json()


def amendment_ids(page: Page, document_id: int) -> dict[str, dict[str, Any]]:
    listed = api(page, "GET", f"/api/documents/{document_id}/amendments")
    return {a["label"]: a for a in listed["amendments"]}


def cast_and_close(chair: Page, phones: dict[str, Page], vote_id: int, choice: str) -> None:
    for code, phone in phones.items():
        nmo_id = api(phone, "GET", "/api/auth/me")["nmo_id"]
        ballot = {"nmo_id": nmo_id, "ballot_id": uuid.uuid4().hex, "choice": choice}
        cast = api(phone, "POST", f"/api/votes/{vote_id}/ballots", {"ballots": [ballot]})
        assert cast["ballots"][0]["status"] == "recorded", (code, cast)
    api(chair, "POST", f"/api/votes/{vote_id}/close")


def propose(phone: Page, document_id: int, paragraph: str, text: str, rationale: str) -> None:
    phone.goto(f"/documents/{document_id}/amendments/new?paragraph={paragraph}")
    phone.get_by_label("Replace this paragraph").check()
    phone.get_by_label("New text").fill(text)
    phone.get_by_label("Rationale").fill(rationale)
    phone.get_by_role("button", name="Submit the amendment").click()
    expect(phone.locator("#amend-form")).to_contain_text("A", timeout=LIVE_MS)
    expect(phone.get_by_role("link", name="See it with all the amendments")).to_be_visible()


def test_a_policy_goes_from_submission_through_two_amendments_to_its_adopted_version(
    new_context: NewContext, demo_server: DemoServer
) -> None:
    title = f"Policy on Paperless Plenaries {uuid.uuid4().hex[:6]}"
    text = f"# {title}\n\n{OLD_P2}\n\n{OLD_P3}\n"

    # The secretariat imports the text as version 1.
    secretariat = staff_page(new_context(), "secretariat")
    assembly_id = api(secretariat, "GET", "/api/assemblies")[0]["id"]
    secretariat.goto(f"/secretariat/assemblies/{assembly_id}/documents")
    secretariat.get_by_text("Import a document", exact=True).click()  # folded: texts exist
    secretariat.get_by_label("Title").fill(title)
    secretariat.get_by_label("Kind").select_option("policy")
    secretariat.get_by_label("Paste the text").fill(text)
    secretariat.get_by_role("button", name="Import document").click()
    expect(secretariat.locator("#documents table")).to_contain_text(title)
    document_id = next(
        d["id"]
        for d in api(secretariat, "GET", f"/api/assemblies/{assembly_id}/documents")
        if d["title"] == title
    )

    # The chair adds the item with its document and moves the plenary to it; the
    # amendments panel follows the current item.
    chair = staff_page(new_context(), "chair")
    agenda = chair.locator("#chair-agenda")
    agenda.get_by_text("Add an item", exact=True).click()
    agenda.get_by_label("New item").fill(title)
    agenda.locator("#agenda-kind").select_option("policy")
    agenda.locator("#agenda-document").select_option(label=title)
    agenda.get_by_role("button", name="Add to the agenda").click()
    expect(agenda).to_contain_text(f"Added: {title}")
    move_here = re.compile(f"Move to this item ?: {re.escape(title)}")
    agenda.get_by_role("button", name=move_here).click()
    panel = chair.locator("#chair-amendments")
    expect(panel.get_by_role("heading", name=title)).to_be_visible(timeout=LIVE_MS)
    expect(panel).to_contain_text("No amendments to this version of the text.")

    # Two heads of delegation propose amendments from their phones.
    phones: dict[str, Page] = {}
    for code in ("ANEMF", "bvmd"):
        context = new_context(phone=True)
        page = context.new_page()
        page.goto(demo_server.head_of(code).url)
        page.wait_for_url("**/delegate")
        expect(page.locator("#current-item")).to_contain_text(title, timeout=LIVE_MS)
        phones[code] = page
    anemf, bvmd = phones["ANEMF"], phones["bvmd"]
    anemf.locator("#current-item").get_by_role("link", name="Amendments").click()
    expect(anemf.get_by_role("heading", level=1, name=f"Amendments {title}")).to_be_visible()
    propose(anemf, document_id, "p2", NEW_P2, "A date makes it happen.")
    propose(bvmd, document_id, "p3", REJECTED_P3, "Guides are never read.")
    snap(bvmd, "phone-proposed")
    ids = amendment_ids(chair, document_id)
    a1, a2 = ids["A1"], ids["A2"]
    assert (a1["nmo_code"], a2["nmo_code"]) == ("ANEMF", "bvmd")

    # The chair admits both and opens the vote on each with one click.
    expect(panel.locator(f"#amendment-{a1['id']}")).to_contain_text("Submitted", timeout=LIVE_MS)
    panel.locator(f"#admit-{a1['id']}").click()
    expect(panel.locator(f"#amendment-{a1['id']}")).to_contain_text("Admitted for debate")
    panel.locator(f"#admit-{a2['id']}").click()
    expect(panel.locator(f"#amendment-{a2['id']}")).to_contain_text("Admitted for debate")
    snap(chair, "chair-admitted")

    panel.locator(f"#vote-{a1['id']}").click()
    expect(panel.locator(f"#amendment-{a1['id']}")).to_contain_text("Being voted on")
    vote_id = amendment_ids(chair, document_id)["A1"]["vote_id"]
    vote = api(chair, "GET", f"/api/votes/{vote_id}")
    assert vote["state"] == "open" and vote["rule"] == "simple"
    cast_and_close(chair, phones, vote_id, "yes")
    expect(panel.locator(f"#amendment-{a1['id']}")).to_contain_text(
        "Adopted by the plenary", timeout=LIVE_MS
    )

    panel.locator(f"#vote-{a2['id']}").click()
    expect(panel.locator(f"#amendment-{a2['id']}")).to_contain_text("Being voted on")
    vote_id = amendment_ids(chair, document_id)["A2"]["vote_id"]
    cast_and_close(chair, phones, vote_id, "no")
    expect(panel.locator(f"#amendment-{a2['id']}")).to_contain_text(
        "Rejected by the plenary", timeout=LIVE_MS
    )

    # The final vote on the text as amended: two thirds.
    panel.locator(f"#final-vote-{document_id}").click()
    expect(panel).to_contain_text("The final vote is open")
    final_id = api(chair, "GET", f"/api/documents/{document_id}/amendments")["final_vote_id"]
    final_vote = api(chair, "GET", f"/api/votes/{final_id}")
    assert final_vote["subject_kind"] == "document" and final_vote["state"] == "open"
    assert final_vote["rule"] == "two_thirds"
    assert final_vote["question"] == f"Adopt “{title}” as amended by A1?"
    cast_and_close(chair, phones, final_vote["id"], "yes")
    expect(panel).to_contain_text("Version 2 is in force.", timeout=LIVE_MS)
    snap(chair, "chair-adopted")

    # Everyone reads version 2; the secretariat sees what changed, word by word.
    anemf.goto(f"/documents/{document_id}")
    expect(anemf.locator("main")).to_contain_text(NEW_P2)
    expect(anemf.locator("main")).not_to_contain_text(REJECTED_P3)
    expect(anemf.locator("main")).to_contain_text(OLD_P3)
    snap(anemf, "phone-version-2")
    secretariat.goto(f"/documents/{document_id}/diff?from=1&to=2")
    main = secretariat.locator("main")
    inserted = " ".join(main.locator("ins").all_inner_texts())
    deleted = " ".join(main.locator("del").all_inner_texts())
    assert "must" in inserted and "every" in inserted and "from 2027" in inserted
    assert "should" in deleted and "one" in deleted and "each year" in deleted
    assert "nothing" not in inserted and "guide" not in deleted
    expect(main).to_contain_text(OLD_P3)  # unchanged paragraph, shown as it is
    snap(secretariat, "secretariat-diff")
    secretariat.goto(f"/documents/{document_id}/diff?from=1&to=2&view=side")
    expect(secretariat.locator("main")).to_contain_text(OLD_P2)
    expect(secretariat.locator("main")).to_contain_text(NEW_P2)
    snap(secretariat, "secretariat-side-by-side")
