"""The speakers' list in two languages: one phone chooses French on its own screen, asks for
the floor, moves to close the list and votes on that motion, reading every answer, its ballot
and every live update in French, while the phone beside it, on the same list, stays in
English; adopted, the motion closes the list on both. Each phone is its own browser profile
on the real server; the pushes reach each phone in its language."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from assembly.demo import DEMO_PASSWORDS
from tests.conftest import with_csrf_token_sync
from tests.e2e.conftest import DemoServer
from tests.e2e.test_floor import NewContext
from tests.e2e.test_floor import debate as debate  # the fixture: a fresh current item
from tests.e2e.test_plenary import LIVE_MS, never_reloaded, phone_screen, snap, stay_on_page

pytestmark = pytest.mark.e2e

# A delegation no other browser test uses: its head's language is stored with them.
FRENCH_NMO = "IFMSA-Brazil"
# What a phone's ballot says, in each language (the catalogues' own wording).
FRENCH_BALLOT = {
    "card": "Vote de {code}",
    "yes": "Pour",
    "review": "Vérifier mon vote",
    "voting": "Vous votez {choice} pour {code}.",
    "confirm": "Confirmer mon vote",
    "recorded": "Votre vote pour {code} est enregistré.",
}
ENGLISH_BALLOT = {
    "card": "Vote of {code}",
    "yes": "Yes",
    "review": "Review my vote",
    "voting": "You are voting {choice} for {code}.",
    "confirm": "Confirm my vote",
    "recorded": "Your vote for {code} is recorded.",
}


@pytest.fixture
def chair_api(demo_server: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as chair:
        with_csrf_token_sync(chair)
        login = chair.post(
            "/api/auth/login", json={"username": "chair", "password": DEMO_PASSWORDS["chair"]}
        )
        assert login.status_code == 200, login.text
        yield chair


def choose(page: Page, language: str) -> None:
    """Press a language in the header's chooser; the page comes back in it."""
    page.get_by_role("navigation", name=_language_nav(page)).get_by_role(
        "button", name=language
    ).click()
    page.wait_for_url("**/delegate")
    page.wait_for_function("() => window.plenarySocketOpen === true", timeout=LIVE_MS)


def _language_nav(page: Page) -> str:
    # The chooser's own name is in the page's language.
    return {"fr": "Langue", "es": "Idioma"}.get(
        page.locator("html").get_attribute("lang") or "", "Language"
    )


def test_one_phone_follows_the_speakers_list_in_french_while_the_other_stays_in_english(
    demo_server: DemoServer,
    new_context: NewContext,
    debate: tuple[int, int],
    chair_api: httpx.Client,
) -> None:
    assembly_id, _ = debate
    french_context: BrowserContext = new_context(phone=True)
    french = phone_screen(french_context, demo_server.head_of(FRENCH_NMO))
    english = phone_screen(new_context(phone=True), demo_server.head_of("bvmd"))
    try:
        choose(french.page, "Français")
        stay_on_page(french.page)
        expect(french.page.locator("html")).to_have_attribute("lang", "fr")
        expect(english.page.locator("html")).to_have_attribute("lang", "en")
        mine_fr = french.page.locator("#my-floor")
        mine_en = english.page.locator("#my-floor")
        expect(mine_fr.get_by_role("heading")).to_have_text("La parole")
        expect(mine_en.get_by_role("heading")).to_have_text("The floor")

        # Each asks for the floor with the button in their own language.
        mine_fr.get_by_role("button", name="Demander la parole").click()
        expect(mine_fr).to_contain_text("n° 1 dans la file")
        mine_en.get_by_role("button", name="Ask to speak").click()
        expect(mine_en).to_contain_text("number 2 in the queue")

        # The French phone moves to close the list: its answer, and the list every phone
        # shows (pushed), are in French there and in English on the other phone.
        motion = mine_fr.locator("form.motion-form")
        motion.get_by_label("Présenter une motion de procédure").select_option("close_list")
        motion.get_by_role("button", name="Présenter", exact=True).click()
        expect(mine_fr).to_contain_text("Vous avez présenté")
        expect(french.page.locator("#floor")).to_contain_text(
            "Clore la liste des orateurs", timeout=LIVE_MS
        )
        expect(english.page.locator("#floor")).to_contain_text(
            "Close the speakers' list", timeout=LIVE_MS
        )
        snap(french.page, "languages-phone-fr-motion")

        # The chair puts it to the vote; each phone casts in its own language, the French
        # one with its French ballot, review step and receipt note.
        raised = [
            m
            for m in chair_api.get(f"/api/assemblies/{assembly_id}/motions").json()
            if m["state"] == "raised" and m["kind"] == "close_list"
        ]
        assert len(raised) == 1, raised
        put = chair_api.post(f"/api/motions/{raised[0]['id']}/vote", json={})
        assert put.status_code in (200, 201), put.text
        vote_id = put.json()["id"]
        # (The question itself is the vote's stored, signed text: it stays as written.)
        for phone, code, state, words in (
            (french, FRENCH_NMO, "Le vote est ouvert", FRENCH_BALLOT),
            (english, "bvmd", "Voting is open", ENGLISH_BALLOT),
        ):
            expect(phone.banner).to_contain_text(state, timeout=LIVE_MS)
            expect(phone.banner).to_contain_text("Close the speakers' list")
            card = phone.ballot.locator(".ballot-card").filter(
                has=phone.page.get_by_role("heading", name=words["card"].format(code=code))
            )
            form = card.locator("form")
            form.get_by_label(words["yes"], exact=True).check()
            form.get_by_role("button", name=words["review"]).click()
            status = form.locator(".ballot-status")
            expect(status).to_contain_text(words["voting"].format(choice=words["yes"], code=code))
            if phone is french:
                snap(french.page, "languages-phone-fr-ballot")
            status.get_by_role("button", name=words["confirm"]).click()
            expect(card.locator(".recorded-note")).to_contain_text(
                words["recorded"].format(code=code), timeout=LIVE_MS
            )
        closed = chair_api.post(f"/api/votes/{vote_id}/close")
        assert closed.status_code in (200, 201), closed.text

        # Adopted, the motion closes the list: both phones learn it at once, each in its
        # language, and the French phone can no longer ask for the floor.
        expect(french.page.locator("#floor")).to_contain_text("liste close", timeout=LIVE_MS)
        expect(english.page.locator("#floor")).to_contain_text("list closed", timeout=LIVE_MS)
        # Withdrawn from a closed list, the French phone may not ask again: it says so.
        mine_fr.get_by_role("button", name="Retirer (intervention)").click()
        expect(mine_fr).to_contain_text("La liste des orateurs est close.", timeout=LIVE_MS)
        expect(mine_fr.get_by_role("button", name="Demander la parole")).to_have_count(0)
        expect(mine_en).to_contain_text("number 1 in the queue", timeout=LIVE_MS)
        snap(french.page, "languages-phone-fr-closed")
        snap(english.page, "languages-phone-en-closed")
        assert never_reloaded(french.page) and never_reloaded(english.page)
    finally:
        # Back to English, so that the demo is as other tests expect it.
        if french.page.locator("html").get_attribute("lang") != "en":
            choose(french.page, "English")
