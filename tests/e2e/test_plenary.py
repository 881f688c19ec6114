"""A plenary in browsers: the chair prepares and opens a two-thirds motion, three phones (one
holding a proxy) cast through the confirmation step, the chair watches the turnout rise and
closes the vote; the result reaches the chair and every phone, and the room once the chair
publishes it to the projector, all without a reload.

Every screen is a separate browser profile on the real server, driven only through its pages.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import httpx
import pytest
from playwright.sync_api import BrowserContext, Dialog, Locator, Page, expect

from assembly.demo import DEMO_NMOS, DEMO_PASSWORDS
from tests.conftest import with_csrf_token_sync
from tests.e2e.conftest import SCREENSHOTS, DelegateLink, DemoServer

pytestmark = pytest.mark.e2e

NewContext = Callable[..., BrowserContext]

LIVE_MS = 5_000  # a push or the projector's two-second poll arrives well within this
PROJECTOR = {"width": 1280, "height": 720}
RECEIPT = re.compile(r"^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$")
TURNOUT = re.compile(r"(\d+) of (\d+) votes cast \d+ %\s+weight (\S+) of (\S+)")
# Demo weights (src/assembly/demo.py) of the NMOs that vote in this test.
WEIGHTS = {code: Fraction(weight) for code, _, _, _, weight, _ in DEMO_NMOS}
# Every NMO code and name and every delegate of the demo: none may appear on the projector.
PERSONAL = sorted(
    {code for code, *_ in DEMO_NMOS}
    | {name for _, name, *_ in DEMO_NMOS}
    | {person for *_, people in DEMO_NMOS for person in people}
)


def expected_explanation(yes: Fraction, no: Fraction) -> tuple[bool, str]:
    """Two thirds of the votes cast, abstentions not counted (RULES.md), said in words."""
    base = yes + no
    adopted = yes >= Fraction(2, 3) * base
    percent = f"{float(yes / base * 100):.1f} %"
    verdict = "adopted" if adopted else "not adopted"
    return adopted, (
        f"{yes} of {base} votes cast excluding abstentions is {percent}, "
        f"at least two thirds: {verdict}"
    )


# --- opening the screens --------------------------------------------------------------------

# htmx's ws extension fires htmx:wsOpen once a page's socket is connected; the marker set
# after loading disappears if the page ever reloads.
WATCH_SOCKET = "document.addEventListener('htmx:wsOpen', () => { window.plenarySocketOpen = true })"


def snap(page: Page, label: str) -> None:
    """Save test-results/screenshots/plenary-<label>.png (the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"plenary-{label}.png"), full_page=True)


def stay_on_page(page: Page) -> None:
    page.evaluate("window.plenaryNoReload = true")


def never_reloaded(page: Page) -> bool:
    return bool(page.evaluate("window.plenaryNoReload === true"))


def wait_for_socket(page: Page) -> None:
    # A vote opened before the socket is subscribed would only show after a catch-up.
    page.wait_for_function("() => window.plenarySocketOpen === true", timeout=LIVE_MS)


def chair_screen(context: BrowserContext) -> Page:
    page = context.new_page()
    page.add_init_script(WATCH_SOCKET)
    page.goto("/login")
    page.get_by_label("Username").fill("chair")
    page.get_by_label("Password").fill(DEMO_PASSWORDS["chair"])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/chair")
    expect(page.locator("#vote-form")).to_be_visible()  # the votes section has loaded
    wait_for_socket(page)
    stay_on_page(page)
    return page


@dataclass(frozen=True)
class Phone:
    page: Page
    who: DelegateLink

    @property
    def banner(self) -> Locator:
        return self.page.locator("#vote-banner")

    @property
    def ballot(self) -> Locator:
        return self.page.locator("#my-ballot")

    def card(self, nmo_code: str) -> Locator:
        return self.ballot.locator(".ballot-card").filter(
            has=self.page.get_by_role("heading", name=re.compile(rf"^Vote of {nmo_code}\b"))
        )


def phone_screen(context: BrowserContext, who: DelegateLink) -> Phone:
    page = context.new_page()
    page.add_init_script(WATCH_SOCKET)
    page.goto(who.url)
    page.wait_for_url("**/delegate")
    expect(page.locator("main")).to_contain_text(who.name)
    wait_for_socket(page)
    stay_on_page(page)
    return Phone(page, who)


def projector_screen(context: BrowserContext, assembly_id: int) -> Page:
    page = context.new_page()
    page.set_viewport_size(PROJECTOR)  # type: ignore[arg-type]
    page.goto(f"/projector/{assembly_id}")
    expect(page.locator("h1")).to_contain_text("Demo General Assembly")
    stay_on_page(page)
    return page


# --- what each person does ------------------------------------------------------------------


def prepare_two_thirds_motion(chair: Page, question: str) -> Locator:
    """Fill the chair's "Prepare a vote" form; return the new draft's line in the list."""
    form = chair.locator("#vote-form")
    form.get_by_label("Question").fill(question)
    form.get_by_label("Motion", exact=True).check()
    form.get_by_label("Majority").select_option(label="Two thirds")
    form.get_by_label("Named (roll call", exact=False).check()
    form.get_by_role("button", name="Prepare the vote").click()
    expect(chair.locator("#vote-form")).to_contain_text("The vote is prepared")
    item = chair.locator("li.vote-item").filter(has_text=question)
    expect(item).to_contain_text("Prepared")
    expect(item).to_contain_text("Two-thirds majority of the votes cast")
    return item


def take_off_the_projector(chair: Page) -> None:
    """One vote at most is on the projector; the chair takes it off, if there is one."""
    votes = chair.locator("#vote-list")
    pinned = votes.get_by_role("button", name="Take off the projector")
    if pinned.count():
        pinned.first.click()
    expect(pinned).to_have_count(0)
    expect(votes.locator(".badge.projected")).to_have_count(0)


def review(form: Locator, choice: str, for_codes: str) -> Locator:
    """Mark a choice and review it, as a delegate does; return the button that confirms it."""
    form.get_by_label(choice, exact=True).check()
    form.get_by_role("button", name=re.compile(r"^Review")).click()
    status = form.locator(".ballot-status")
    expect(status).to_contain_text(f"You are voting {choice} for {for_codes}.")
    return status.get_by_role("button", name="Confirm my vote")


def receipt_of(phone: Phone, nmo_code: str) -> str:
    """Wait until the card says the ballot of `nmo_code` is recorded; return its receipt."""
    card = phone.card(nmo_code)
    expect(card.locator(".recorded-note")).to_contain_text(
        f"Your vote for {nmo_code} is recorded.", timeout=LIVE_MS
    )
    receipt = card.locator(".receipt").inner_text().strip()
    assert RECEIPT.match(receipt), f"{nmo_code}'s receipt {receipt!r} is not a receipt code"
    expect(card.locator("form")).to_have_count(0)  # nothing left to cast for this NMO
    return receipt


def expect_turnout(
    panel: Locator, ballots: int, electorate: int, weight: Fraction, of: str
) -> None:
    expect(panel.locator(".turnout-figures")).to_contain_text(
        re.compile(
            rf"^{ballots} of {electorate} votes cast \d+ %\s+weight {weight} of {re.escape(of)}\s*$"
        ),
        timeout=LIVE_MS,
    )


def assert_no_personal_data(projector: Page) -> None:
    """The room sees totals only: no NMO and no delegate next to any choice."""
    shown = projector.locator("main").inner_text()
    named = [word for word in PERSONAL if word in shown]
    assert not named, f"the projector shows {named}:\n{shown}"


# --- the plenary ----------------------------------------------------------------------------


@pytest.fixture
def proxy_counts(demo_server: DemoServer) -> Iterator[None]:
    """The demo gives AMSA-Japan's vote to MSAI but leaves AMSA-Japan without credentials, so
    the proxy carries no vote (RULES.md: a delegation is credentialed before it may vote).
    The desk credentials it for this plenary and withdraws the credentials afterwards."""
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as desk:
        with_csrf_token_sync(desk)
        login = desk.post(
            "/api/auth/login", json={"username": "desk", "password": DEMO_PASSWORDS["desk"]}
        )
        assert login.status_code == 200, login.text
        (assembly,) = desk.get("/api/assemblies").json()
        nmos = desk.get(f"/api/assemblies/{assembly['id']}/nmos").json()
        japan = next(n for n in nmos if n["code"] == "AMSA-Japan")

        def credential(yes: bool) -> None:
            response = desk.post(f"/api/nmos/{japan['id']}/credential", json={"credentialed": yes})
            assert response.status_code == 200, response.text

        was = bool(japan["credentialed"])
        credential(True)
        try:
            yield
        finally:
            credential(was)


def test_a_two_thirds_vote_runs_live_on_the_phones_the_chair_screen_and_the_projector(
    demo_server: DemoServer, new_context: NewContext, proxy_counts: None
) -> None:
    question = f"Shall the Policy Statement on Safe Plenaries be adopted? ({uuid.uuid4().hex[:6]})"
    camille = demo_server.head_of("ANEMF")  # votes no
    lena = demo_server.head_of("bvmd")  # abstains
    priya = demo_server.head_of("MSAI")  # holds AMSA-Japan's proxy; both vote yes
    assert (camille.name, lena.name, priya.name) == (
        "Camille Martin",
        "Lena Schmidt",
        "Priya Sharma",
    )
    yes = WEIGHTS["MSAI"] + WEIGHTS["AMSA-Japan"]
    no = WEIGHTS["ANEMF"]
    abstain = WEIGHTS["bvmd"]
    adopted, explanation = expected_explanation(yes, no)
    # Exactly two thirds: adopted only because abstentions are left out of the base and
    # "at least" two thirds is enough.
    assert adopted and explanation == (
        "6 of 9 votes cast excluding abstentions is 66.7 %, at least two thirds: adopted"
    )

    chair = chair_screen(new_context())
    ws = chair.locator("[ws-connect]").first.get_attribute("ws-connect") or ""
    assembly_id = int(ws.rsplit("/", 1)[1])
    projector = projector_screen(new_context(), assembly_id)
    phones = [phone_screen(new_context(phone=True), who) for who in (camille, lena, priya)]
    anemf, bvmd, msai = phones

    # The room sees the open vote unless the chair keeps another one on the projector.
    take_off_the_projector(chair)

    # The chair prepares the motion and opens it from the list.
    item = prepare_two_thirds_motion(chair, question)  # its line in the chair's list
    item.get_by_role("button", name="Open the vote").click()
    panel = chair.locator("#vote-panel")
    expect(panel).to_contain_text(question)
    expect(panel.locator(".vote-meta")).to_contain_text("Voting open")
    expect(panel.locator(".vote-meta")).to_contain_text(
        "Motion · Two-thirds majority of the votes cast · named vote"
    )
    expect(panel.locator(".turnout-figures")).to_contain_text(TURNOUT)
    figures = TURNOUT.search(panel.locator(".turnout-figures").inner_text())
    assert figures, panel.locator(".turnout-figures").inner_text()
    electorate, electorate_weight = int(figures[2]), figures[4]
    assert (int(figures[1]), figures[3]) == (0, "0")
    assert electorate >= 4, f"only {electorate} rights to vote: the three phones need four"
    vote_id = panel.get_attribute("data-vote-id")
    snap(chair, "01-chair-opened")

    # Every phone gets its ballot pushed; the proxy holder gets two and an "all the same".
    for phone in phones:
        expect(phone.banner).to_contain_text("Voting is open", timeout=LIVE_MS)
        expect(phone.banner).to_contain_text(question)
    expect(anemf.card("ANEMF").locator("form")).to_be_visible(timeout=LIVE_MS)
    expect(bvmd.card("bvmd").locator("form")).to_be_visible(timeout=LIVE_MS)
    expect(msai.card("MSAI").locator("form")).to_be_visible(timeout=LIVE_MS)
    expect(msai.card("AMSA-Japan")).to_contain_text("by proxy")
    expect(msai.card("MSAI")).not_to_contain_text("by proxy")
    all_same = msai.ballot.locator(".ballot-card.all-same")
    expect(all_same).to_contain_text("Or cast all the same: MSAI, AMSA-Japan")
    for phone in phones:
        snap(phone.page, f"02-phone-{phone.who.nmo_code.lower()}-ballot")

    # The projector shows the open vote with its options and the turnout, nothing personal.
    projected = projector.locator("#vote-panel")
    expect(projected).to_contain_text(question, timeout=LIVE_MS)
    expect(projected.locator(".options")).to_have_text(re.compile(r"Yes\s*No\s*Abstain"))
    expect_turnout(projected, 0, electorate, Fraction(0), electorate_weight)
    expect(projected.locator(".not-voted")).to_have_count(0)
    assert_no_personal_data(projector)
    snap(projector, "03-projector-open")

    # ANEMF votes no; the chair sees the turnout rise and ANEMF leave the "not voted" list.
    review(anemf.card("ANEMF").locator("form"), "No", "ANEMF").click()
    receipts = {"ANEMF": receipt_of(anemf, "ANEMF")}
    snap(anemf.page, "04-phone-anemf-recorded")
    expect_turnout(panel, 1, electorate, no, electorate_weight)
    not_voted = panel.locator(".not-voted .codes")
    expect(not_voted).not_to_contain_text("ANEMF")
    expect(not_voted).to_contain_text("bvmd")

    # bvmd abstains.
    review(bvmd.card("bvmd").locator("form"), "Abstain", "bvmd").click()
    receipts["bvmd"] = receipt_of(bvmd, "bvmd")
    expect_turnout(panel, 2, electorate, no + abstain, electorate_weight)
    snap(chair, "05-chair-turnout-2")

    # Priya casts MSAI's vote and AMSA-Japan's with one "all the same" ballot: yes.
    confirm = review(all_same.locator("form"), "Yes", "MSAI, AMSA-Japan")
    snap(msai.page, "06-phone-msai-confirm")
    confirm.click()
    receipts["MSAI"] = receipt_of(msai, "MSAI")
    receipts["AMSA-Japan"] = receipt_of(msai, "AMSA-Japan")
    expect(all_same).to_have_count(0)
    assert receipts["MSAI"] != receipts["AMSA-Japan"], "two ballots, two receipts"
    snap(msai.page, "07-phone-msai-recorded")
    expect_turnout(panel, 4, electorate, yes + no + abstain, electorate_weight)
    expect(not_voted).not_to_contain_text(re.compile(r"\b(ANEMF|bvmd|MSAI|AMSA-Japan)\b"))
    snap(chair, "08-chair-turnout-4")
    expect_turnout(projected, 4, electorate, yes + no + abstain, electorate_weight)
    assert_no_personal_data(projector)
    snap(projector, "09-projector-turnout-4")

    # The chair closes the vote, confirming the browser's question.
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    chair.once("dialog", answer)
    item.get_by_role("button", name="Close the vote").click()
    expect(panel.locator(".verdict")).to_have_text(re.compile(r"Adopted"), timeout=LIVE_MS)
    assert asked and asked[0].startswith("Close the vote “Shall the Policy Statement"), asked

    # The result, with its explanation, totals and chart, on the chair's screen ...
    counts = (
        f"2 NMOs voted yes, 1 no, 1 abstained · 4 ballots, weight {yes + no + abstain} "
        f"of {electorate_weight}."
    )
    chart = f"Yes {yes}, No {no}, Abstain {abstain}"
    expect(panel.locator(".vote-meta")).to_contain_text("Closed")
    expect(panel.locator(".explanation")).to_have_text(explanation)
    expect(panel.locator(".counts")).to_have_text(counts)
    expect(panel.locator("svg.chart")).to_have_attribute("aria-label", chart)
    expect(item.locator(".vote-facts")).to_contain_text("Adopted")
    snap(chair, "10-chair-result")

    # ... in every phone's banner, each phone keeping the receipts it was given ...
    for phone, codes in ((anemf, ["ANEMF"]), (bvmd, ["bvmd"]), (msai, ["MSAI", "AMSA-Japan"])):
        expect(phone.banner).to_contain_text("Vote closed", timeout=LIVE_MS)
        expect(phone.banner).to_contain_text(question)
        expect(phone.banner.locator(".verdict")).to_have_text(re.compile(r"Adopted"))
        expect(phone.banner.locator(".explanation")).to_have_text(explanation)
        expect(phone.banner.locator("svg.chart")).to_have_attribute("aria-label", chart)
        for code in codes:
            expect(phone.ballot).to_contain_text(receipts[code])
        expect(phone.ballot.locator("form")).to_have_count(0)
        snap(phone.page, f"11-phone-{phone.who.nmo_code.lower()}-result")

    # ... and, once the chair publishes it to the projector, to the room: a chart, no names.
    item.get_by_role("button", name="Show on the projector").click()
    expect(item.locator(".badge.projected")).to_have_text("On the projector")
    expect(projected).to_contain_text(question, timeout=LIVE_MS)
    expect(projected.locator(".verdict")).to_have_text(re.compile(r"Adopted"))
    expect(projected.locator(".explanation")).to_have_text(explanation)
    expect(projected.locator("svg.chart")).to_be_visible()
    expect(projected.locator("svg.chart")).to_have_attribute("aria-label", chart)
    assert_no_personal_data(projector)
    snap(projector, "12-projector-result")

    screens = [chair, projector, *(p.page for p in phones)]
    assert all(never_reloaded(page) for page in screens), "a screen reloaded during the vote"
    assert all(p.banner.get_attribute("data-vote-id") == vote_id for p in phones)

    # The chair clears the projector for whatever comes next.
    take_off_the_projector(chair)
    expect(projected).to_be_empty(timeout=LIVE_MS)
