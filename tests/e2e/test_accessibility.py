"""WCAG 2.2 AA in a real browser: axe-core (tests/e2e/package.json, installed by `make test`)
runs on every screen of a demo in full swing and the test fails on any violation, naming the
rule, its impact, the elements and the screen. Phones at 390 px, the other screens at 1280 px;
on the projector every text must also have 7:1 contrast (WCAG AAA), for a bright room. Screens
that answer a plain form (confirmations, the desk's scan, a refused login) are posted to.

The demo has its own server here, since this module changes its state: the Bylaws amended,
adopted and published, a secret motion closed and published, an election open and on the
projector, a delegate speaking, another waiting and a point of order raised.

Then two keyboard tests: a phone casts a ballot with Tab and Space/Enter only, and the chair
opens and closes a vote with the keyboard; and a test that pushed changes are said in the
screen readers' live regions (politely; a point of order as an alert on the chair screen).
axe-core is pinned in tests/e2e/package-lock.json; without it the tests skip (fail in CI).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from assembly.demo import DEMO_PASSWORDS
from assembly.language import LANG_COOKIE
from assembly.security import CSRF_COOKIE, CSRF_FIELD, CSRF_HEADER
from tests.conftest import need_service
from tests.e2e.conftest import DESKTOP, PHONE, SCREENSHOTS, DemoServer, serve_demo

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices (landmarks, headings).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# Run by name: duplicate ids (WCAG 2.2 dropped its parsing criterion, which axe tags thus, but
# scripts, labels and htmx's swaps find elements by id), and on the projector, in a bright
# room, text contrast of 7:1 at least (WCAG AAA).
UNIQUE_IDS = ["duplicate-id", "duplicate-id-active"]
BRIGHT_ROOM = ["color-contrast-enhanced"]
LIVE_MS = 5_000

RUN_AXE = """async ([kind, values]) => {
  const results = await axe.run(document, {
    runOnly: {type: kind, values: values},
    resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary})),
  }));
}"""


# --- the demo in full swing -----------------------------------------------------------------


@dataclass
class Demo:
    """One server and one browser profile per person, all logged in; the ids screens need."""

    server: DemoServer
    pages: dict[str, Page]
    ids: dict[str, Any] = field(default_factory=dict)


def api(page: Page, method: str, path: str, body: Any = None) -> Any:
    """A JSON request with the profile's session and CSRF token, as its scripts send it."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == CSRF_COOKIE)
    headers = {} if method == "GET" else {CSRF_HEADER: token}
    response = page.request.fetch(path, method=method, data=body, headers=headers)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json()


def staff_login(context: BrowserContext, who: str) -> Page:
    """A page logged in as `who` through the API (the login page has tests of its own)."""
    page = context.new_page()
    assert context.request.get("/health").ok  # sets the CSRF cookie
    api(page, "POST", "/api/auth/login", {"username": who, "password": DEMO_PASSWORDS[who]})
    return page


def delegate_login(context: BrowserContext, url: str) -> Page:
    """A page logged in with a delegate's link."""
    assert context.request.get(url).ok  # follows the redirect to /delegate
    return context.new_page()


def cast(phone: Page, vote_id: int, nmo_ids: list[int], choice: str) -> None:
    ballots = [
        {"nmo_id": n, "ballot_id": uuid.uuid4().hex, "choice": choice, "tracker": uuid.uuid4().hex}
        for n in nmo_ids
    ]
    result = api(phone, "POST", f"/api/votes/{vote_id}/ballots", {"ballots": ballots})
    assert all(b["status"] == "recorded" for b in result["ballots"]), result


def run_vote(demo: Demo, vote: dict[str, Any], voters: dict[str, list[int]]) -> None:
    """Open the vote, every listed phone votes for the first option, close it."""
    chair = demo.pages["chair"]
    if vote["state"] != "open":
        api(chair, "POST", f"/api/votes/{vote['id']}/open", {})
    first = vote["options"][0]["key"]
    for who, nmo_ids in voters.items():
        cast(demo.pages[who], vote["id"], nmo_ids, first)
    closed = api(chair, "POST", f"/api/votes/{vote['id']}/close")
    assert closed["state"] == "closed", closed


def in_full_swing(demo: Demo) -> None:
    chair, secretariat = demo.pages["chair"], demo.pages["secretariat"]
    (assembly,) = api(chair, "GET", "/api/assemblies")
    aid = demo.ids["assembly"] = assembly["id"]
    nmos = {n["code"]: n["id"] for n in api(chair, "GET", f"/api/assemblies/{aid}/nmos")}
    demo.ids["nmo"] = nmos["MSAI"]
    demo.ids["card"] = demo.server.head_of("ANEMF").url  # what the desk's scanner types
    voters = {
        "phone": [nmos["MSAI"], nmos["AMSA-Japan"]],  # MSAI holds AMSA-Japan's proxy
        "anemf": [nmos["ANEMF"]],
        "bvmd": [nmos["bvmd"]],
    }

    # The Bylaws: the amendment adopted, then the text as amended; published.
    docs = {d["title"]: d["id"] for d in api(chair, "GET", f"/api/assemblies/{aid}/documents")}
    bylaws, policy = docs["Bylaws"], docs["Policy Statement on Climate and Health"]
    demo.ids["document"], demo.ids["bylaws"] = policy, bylaws
    (amendment,) = api(chair, "GET", f"/api/documents/{bylaws}/amendments")["amendments"]
    run_vote(demo, api(chair, "POST", f"/api/amendments/{amendment['id']}/vote"), voters)
    run_vote(demo, api(chair, "POST", f"/api/documents/{bylaws}/final-vote"), voters)
    publish = f"/api/assemblies/{aid}/publishing"
    api(secretariat, "POST", publish, {"subject": "document", "id": bylaws, "publish": True})
    mine = api(demo.pages["phone"], "GET", f"/api/documents/{policy}/amendments")["amendments"]
    demo.ids["amendment"] = next(a["id"] for a in mine if a["nmo_code"] == "MSAI")

    # The secret motion: closed, its result published and on the projector.
    votes = {v["question"]: v for v in api(chair, "GET", f"/api/assemblies/{aid}/votes")}
    motion = next(v for q, v in votes.items() if q.startswith("Shall the General Assembly"))
    run_vote(demo, motion, voters)
    api(secretariat, "POST", publish, {"subject": "vote", "id": motion["id"], "publish": True})
    demo.ids["vote"] = motion["id"]
    sessions = api(chair, "GET", f"/api/assemblies/{aid}/sessions")
    demo.ids["session"] = sessions[0]["id"]
    api(
        secretariat,
        "POST",
        publish,
        {"subject": "session", "id": sessions[0]["id"], "publish": True, "with_results": True},
    )

    # The election: open, ANEMF's ballot in (the receipt on its phone), on the projector.
    election = next(v for q, v in votes.items() if q.startswith("Election"))
    api(chair, "POST", f"/api/votes/{election['id']}/open", {})
    api(chair, "POST", f"/api/votes/{election['id']}/projector", {"show": True})
    demo.ids["election"] = election["id"]
    demo.ids["candidate"] = election["options"][0]["key"]
    ballot = {
        "nmo_id": nmos["ANEMF"],
        "ballot_id": uuid.uuid4().hex,
        "tracker": uuid.uuid4().hex,
        "marks": [election["options"][0]["key"]],
    }
    cast = api(
        demo.pages["anemf"], "POST", f"/api/votes/{election['id']}/ballots", {"ballots": [ballot]}
    )
    assert cast["ballots"][0]["status"] == "recorded", cast

    # The floor: ANEMF speaks; bvmd waits to speak and raises a point of order.
    item = next(i for i in api(chair, "GET", f"/api/assemblies/{aid}/agenda") if i["current"])
    floor = f"/api/agenda-items/{item['id']}/floor"
    api(demo.pages["anemf"], "POST", f"{floor}/requests", {"kind": "speech"})
    api(chair, "POST", f"{floor}/start", {})
    api(demo.pages["bvmd"], "POST", f"{floor}/requests", {"kind": "speech"})
    api(demo.pages["bvmd"], "POST", f"{floor}/requests", {"kind": "point_of_order"})


@pytest.fixture(scope="module")
def demo(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if not AXE.exists():
        need_service("axe-core", f"{AXE} is missing: `make axe-core` installs it (npm ci)")
    with serve_demo(tmp_path_factory.mktemp("e2e-a11y")) as server:
        contexts: list[BrowserContext] = []

        def profile(*, phone: bool = False, lang: str = "") -> BrowserContext:
            context = browser.new_context(
                base_url=server.base_url,
                viewport=PHONE if phone else DESKTOP,  # type: ignore[arg-type]
                is_mobile=phone,
                has_touch=phone,
            )
            context.set_default_timeout(10_000)
            if lang:  # as the language chooser leaves it
                context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": server.base_url}])
            # Loaded before each document's own scripts, so the page's CSP does not apply.
            context.add_init_script(path=str(AXE))
            contexts.append(context)
            return context

        try:
            pages = {who: staff_login(profile(), who) for who in ("chair", "secretariat", "desk")}
            pages["public"] = profile().new_page()
            pages["public-phone"] = profile(phone=True).new_page()
            for who, code in (("phone", "MSAI"), ("anemf", "ANEMF"), ("bvmd", "bvmd")):
                pages[who] = delegate_login(profile(phone=True), server.head_of(code).url)
            # MSAI's other delegate (not the head), in French: a delegate's choice of language
            # is kept with them, so not the head, whose screens stay in English.
            arjun = next(d for d in server.links if d.nmo_code == "MSAI" and d.role != "head")
            pages["phone-fr"] = delegate_login(profile(phone=True, lang="fr"), arjun.url)
            pages["chair-fr"] = staff_login(profile(lang="fr"), "chair")
            pages["public-es"] = profile(phone=True, lang="es").new_page()
            demo = Demo(server, pages)
            in_full_swing(demo)
            yield demo
        finally:
            for context in contexts:
                context.close()


# --- every screen ---------------------------------------------------------------------------


def project(vote: str) -> Callable[[Demo], None]:
    """Put the demo's `vote` ("election" or "vote") on the projector."""

    def prepare(demo: Demo) -> None:
        vote_id = demo.ids[vote]
        api(demo.pages["chair"], "POST", f"/api/votes/{vote_id}/projector", {"show": True})

    return prepare


def move_to(title: str) -> Callable[[Demo], None]:
    """Make the agenda item that starts with `title` the current one."""

    def prepare(demo: Demo) -> None:
        chair = demo.pages["chair"]
        agenda = api(chair, "GET", f"/api/assemblies/{demo.ids['assembly']}/agenda")
        item = next(i for i in agenda if i["title"].startswith(title))
        api(chair, "POST", f"/api/agenda-items/{item['id']}/current")

    return prepare


@dataclass(frozen=True)
class Screen:
    name: str
    who: str  # a key of Demo.pages
    path: str  # formatted with Demo.ids
    status: int = 200
    # Screens that answer a plain form (no JavaScript): posted from the page at `path`.
    post: str = ""
    form: tuple[tuple[str, str], ...] = ()
    prepare: Callable[[Demo], None] | None = None
    bright_room: bool = False

    def __str__(self) -> str:
        return self.name


SCREENS = [
    # Anyone, without logging in.
    Screen("start", "public", "/"),
    Screen("login", "public", "/login"),
    Screen("login-phone", "public-phone", "/login"),
    Screen(
        "login-refused",
        "public",
        "/login",
        status=401,
        post="/login",
        form=(("username", "chair"),),
    ),
    Screen("error-404", "public", "/record/999999", status=404),
    Screen(
        "projector-vote",
        "public",
        "/projector/{assembly}",
        prepare=project("election"),
        bright_room=True,
    ),
    Screen(
        "projector-result",
        "public",
        "/projector/{assembly}",
        prepare=project("vote"),
        bright_room=True,
    ),
    Screen(
        "projector-live",
        "chair",
        "/projector/{assembly}",
        prepare=project("election"),
        bright_room=True,
    ),
    Screen("record", "public", "/record/{assembly}"),
    Screen("record-results", "public", "/record/{assembly}/results"),
    Screen("record-vote", "public", "/record/{assembly}/votes/{vote}"),
    Screen("record-session", "public", "/record/{assembly}/sessions/{session}"),
    Screen("record-document", "public", "/record/{assembly}/documents/{bylaws}"),
    Screen("record-diff", "public", "/record/{assembly}/documents/{bylaws}/diff"),
    Screen("record-phone", "public-phone", "/record/{assembly}"),
    Screen("audit-log", "public", "/assemblies/{assembly}/log"),
    # The chair.
    Screen("chair", "chair", "/chair"),
    Screen("chair-votes", "chair", "/chair/votes?assembly={assembly}&vote={vote}"),
    Screen("chair-agenda", "chair", "/chair/assemblies/{assembly}/agenda"),
    Screen("chair-amendments", "chair", "/chair/assemblies/{assembly}/amendments"),
    Screen("chair-confirm-close", "chair", "/chair", post="/chair/votes/{election}/close"),
    # The credentials desk.
    Screen("desk", "desk", "/desk"),
    Screen("desk-search", "desk", "/desk?q=MSAI"),
    Screen(
        "desk-scan",
        "desk",
        "/desk",
        post="/desk/scan",
        form=(("assembly", "{assembly}"), ("scanned", "{card}")),
    ),
    Screen(
        "desk-scan-unknown",
        "desk",
        "/desk",
        status=404,
        post="/desk/scan",
        form=(("assembly", "{assembly}"), ("scanned", "not a card")),
    ),
    # The secretariat.
    Screen("secretariat", "secretariat", "/secretariat"),
    Screen("secretariat-nmo", "secretariat", "/secretariat/nmos/{nmo}"),
    Screen("secretariat-import", "secretariat", "/secretariat/assemblies/{assembly}/import"),
    Screen("secretariat-events", "secretariat", "/secretariat/assemblies/{assembly}/events"),
    Screen("secretariat-cards", "secretariat", "/secretariat/assemblies/{assembly}/cards"),
    Screen("secretariat-documents", "secretariat", "/secretariat/assemblies/{assembly}/documents"),
    Screen(
        "secretariat-publishing", "secretariat", "/secretariat/assemblies/{assembly}/publishing"
    ),
    Screen("document", "secretariat", "/documents/{document}"),
    Screen("document-diff", "secretariat", "/documents/{bylaws}/diff"),
    Screen("document-diff-side", "secretariat", "/documents/{bylaws}/diff?view=side"),
    Screen("amendments", "secretariat", "/documents/{document}/amendments"),
    # A head of delegation's phone (MSAI, holding AMSA-Japan's proxy).
    Screen("phone-home", "phone", "/delegate"),
    Screen("phone-vote", "phone", "/delegate/vote"),
    Screen(
        "phone-vote-review",
        "phone",
        "/delegate/vote",
        post="/delegate/vote/{election}/ballots",
        form=(("nmo", "{nmo}"), ("choice", "{candidate}")),
    ),
    Screen("phone-floor", "phone", "/delegate/floor"),
    Screen("phone-document", "phone", "/documents/{document}"),
    Screen("phone-amendments", "phone", "/documents/{document}/amendments"),
    Screen("phone-amend", "phone", "/documents/{document}/amendments/new"),
    Screen("phone-revise", "phone", "/amendments/{amendment}/revise"),
    Screen(
        "phone-withdraw-confirm",
        "phone",
        "/documents/{document}/amendments",
        post="/amendments/{amendment}/withdraw",
    ),
    Screen("phone-diff", "phone", "/documents/{bylaws}/diff"),
    Screen("phone-record-vote", "phone", "/record/{assembly}/votes/{vote}"),
    Screen("phone-after-voting", "anemf", "/delegate"),
    Screen("phone-forbidden", "phone", "/chair", status=403),
    # In French and Spanish, chosen on the device: translated names must still fit.
    Screen("chair-fr", "chair-fr", "/chair"),
    Screen("phone-home-fr", "phone-fr", "/delegate"),
    Screen("phone-vote-fr", "phone-fr", "/delegate/vote"),
    Screen("login-es", "public-es", "/login"),
    Screen("record-vote-es", "public-es", "/record/{assembly}/votes/{vote}"),
    # The plenary on the policy: its amendments on the chair screen, its links on the phones.
    Screen("chair-on-policy", "chair", "/chair", prepare=move_to("Policy Statement")),
    Screen("phone-on-policy", "phone", "/delegate", prepare=move_to("Policy Statement")),
    Screen(
        "projector-on-policy",
        "public",
        "/projector/{assembly}",
        prepare=move_to("Policy"),
        bright_room=True,
    ),
]

POST_FORM = """([action, fields]) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  for (const [name, value] of fields) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}"""


def open_screen(demo: Demo, screen: Screen) -> tuple[Page, str]:
    page = demo.pages[screen.who]
    if screen.prepare:
        screen.prepare(demo)
    path = screen.path.format(**demo.ids)
    response = page.goto(path)
    if screen.post:
        path = screen.post.format(**demo.ids)
        token = page.locator("meta[name=csrf-token]").get_attribute("content") or ""
        fields = [(CSRF_FIELD, token), *((k, v.format(**demo.ids)) for k, v in screen.form)]
        with page.expect_navigation() as navigation:
            page.evaluate(POST_FORM, [path, fields])
        response = navigation.value
    assert response is not None and response.status == screen.status, (
        f"{path}: {response and response.status}\n{demo.server.log_tail()}"
    )
    return page, path


def settle(page: Page) -> None:
    """Wait until the page and the fragments it loads by itself (htmx) are in."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling')")


def violations_on(page: Page, kind: str, values: list[str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE, [kind, values])
    return found


def describe(screen: Screen, url: str, found: list[dict[str, Any]]) -> str:
    lines = [f"{len(found)} accessibility violation(s) on the {screen.name} screen ({url}):"]
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:10]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {json.dumps(node['target'])}: {summary}")
        if len(v["nodes"]) > 10:
            lines.append(f"    ... and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


@pytest.mark.parametrize("screen", SCREENS, ids=str)
def test_axe_finds_no_violation(demo: Demo, screen: Screen) -> None:
    page, path = open_screen(demo, screen)
    settle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"a11y-{screen.name}.png"), full_page=True)
    found = violations_on(page, "tag", AXE_TAGS)
    found += violations_on(page, "rule", UNIQUE_IDS + (BRIGHT_ROOM if screen.bright_room else []))
    assert not found, describe(screen, path, found)


# --- by keyboard alone ----------------------------------------------------------------------


def focused_matches(page: Page, selector: str) -> bool:
    return bool(
        page.evaluate(
            "s => !!document.activeElement && document.activeElement.matches(s)", selector
        )
    )


def tab_to(page: Page, selector: str, limit: int = 250) -> None:
    """Press Tab until the focus is on an element matching `selector`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused_matches(page, selector):
            return
    pytest.fail(f"{limit} presses of Tab never reached {selector} on {page.url}")


def new_motion(demo: Demo, question: str) -> dict[str, Any]:
    aid = demo.ids["assembly"]
    vote: dict[str, Any] = api(
        demo.pages["chair"], "POST", f"/api/assemblies/{aid}/votes", {"question": question}
    )
    return vote


def test_a_phone_casts_its_ballot_with_the_keyboard_alone(demo: Demo) -> None:
    """bvmd's head has not voted in the open election: Tab to a candidate, Space marks it,
    Tab to "Review my vote", Enter; the focus goes to "Confirm my vote", Space casts."""
    page = demo.pages["bvmd"]
    page.goto("/delegate")
    ballot = page.locator("#my-ballot")
    expect(ballot.locator("form")).to_have_count(1, timeout=LIVE_MS)
    settle(page)

    tab_to(page, "#my-ballot input[name=choice]")
    page.keyboard.press("Space")
    expect(ballot.locator("input[name=choice]:checked")).to_have_count(1)
    tab_to(page, "#my-ballot button[type=submit]")
    page.keyboard.press("Enter")
    confirm = ballot.get_by_role("button", name="Confirm my vote")
    expect(confirm).to_be_focused()
    page.keyboard.press("Space")
    expect(ballot.locator(".recorded-note")).to_contain_text(
        "Your vote for bvmd is recorded.", timeout=LIVE_MS
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "a11y-keyboard-phone-voted.png"), full_page=True)
    found = violations_on(page, "tag", AXE_TAGS)
    assert not found, describe(Screen("phone-voted", "bvmd", "/delegate"), page.url, found)


COUNT_LIST_SWAPS = """() => {
  window.voteListSwaps = 0;
  document.body.addEventListener("htmx:afterSettle", (e) => {
    if (e.target.id === "vote-list") window.voteListSwaps += 1;
  });
}"""


def test_the_chair_opens_and_closes_a_vote_with_the_keyboard_alone(demo: Demo) -> None:
    """Tab to "Open the vote" of a prepared motion, Enter; the focus stays on that vote, on
    "Close the vote"; Enter, and Enter again accepts the browser's confirmation."""
    vote = new_motion(demo, f"Shall the plenary break for lunch {uuid.uuid4().hex[:4]}?")
    page = demo.pages["chair"]
    page.goto("/chair")
    item = page.locator(f"#vote-item-{vote['id']}")
    expect(item).to_contain_text("Prepared")
    settle(page)

    page.evaluate(COUNT_LIST_SWAPS)
    tab_to(page, f"#open-{vote['id']}")
    page.keyboard.press("Enter")
    expect(item).to_have_class(re.compile(r"\bstate-open\b"), timeout=LIVE_MS)
    # The answer to the action, then the list fetched again after the push the vote opened:
    # only then is the new "Close the vote" form bound to htmx.
    page.wait_for_function("() => window.voteListSwaps >= 2", timeout=LIVE_MS)
    settle(page)
    close = page.locator(f"#close-{vote['id']}")
    expect(close).to_be_focused()  # not lost to the top of the page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "a11y-keyboard-chair-opened.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm's window.confirm
    page.keyboard.press("Enter")
    expect(item).to_have_class(re.compile(r"\bstate-closed\b"), timeout=LIVE_MS)
    expect(page.locator(f"#vote-item-{vote['id']} :focus")).to_have_count(1)
    found = violations_on(page, "tag", AXE_TAGS)
    assert not found, describe(Screen("chair-closed", "chair", "/chair"), page.url, found)


# --- live regions ---------------------------------------------------------------------------

WATCH_SOCKET = "document.addEventListener('htmx:wsOpen', () => { window.a11ySocketOpen = true })"


def live_page(demo: Demo, who: str, path: str) -> Page:
    page = demo.pages[who].context.new_page()
    page.add_init_script(WATCH_SOCKET)
    page.goto(path)
    page.wait_for_function("() => window.a11ySocketOpen === true", timeout=LIVE_MS)
    settle(page)
    return page


def test_pushed_changes_are_announced_in_live_regions(demo: Demo) -> None:
    """A vote opening is said politely on a phone and on the chair screen; a point of order
    is an alert on the chair screen only, a lost connection on every screen."""
    phone = live_page(demo, "bvmd", "/delegate")
    chair = live_page(demo, "chair", "/chair")
    for page in (phone, chair):
        polite = page.locator("#live-announce")
        expect(polite).to_have_attribute("aria-live", "polite")
        expect(page.locator("#live-alert")).to_have_attribute("role", "alert")
        expect(page.locator("#quorum")).to_have_attribute("aria-live", "polite")

    question = f"Shall the plenary adjourn {uuid.uuid4().hex[:4]}?"
    vote = new_motion(demo, question)
    api(demo.pages["chair"], "POST", f"/api/votes/{vote['id']}/open", {})
    try:
        expect(phone.locator("#live-announce")).to_have_text(
            f"Voting is open. {question}", timeout=LIVE_MS
        )
        expect(chair.locator("#live-announce")).to_contain_text(question, timeout=LIVE_MS)

        aid = demo.ids["assembly"]
        item = next(
            i
            for i in api(demo.pages["chair"], "GET", f"/api/assemblies/{aid}/agenda")
            if i["current"]
        )
        api(
            demo.pages["phone"],
            "POST",
            f"/api/agenda-items/{item['id']}/floor/requests",
            {"kind": "point_of_order"},
        )
        expect(chair.locator("#live-alert")).to_contain_text("Point of order", timeout=LIVE_MS)
        expect(chair.locator("#live-alert")).to_contain_text("MSAI")
        expect(phone.locator("#live-alert")).to_be_empty()

        # A lost connection is an alert everywhere; it goes once the socket is back.
        phone.evaluate("document.dispatchEvent(new CustomEvent('htmx:wsClose'))")
        expect(phone.locator("#live-alert")).to_contain_text("Connection lost.")
        phone.evaluate("document.dispatchEvent(new CustomEvent('htmx:wsOpen'))")
        expect(phone.locator("#live-alert")).to_be_empty()
    finally:
        api(demo.pages["chair"], "POST", f"/api/votes/{vote['id']}/cancel")
        phone.close()
        chair.close()
