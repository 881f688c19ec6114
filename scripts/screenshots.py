"""Regenerate the pictures of the published record in docs/screenshots/: the public results page
at phone and desktop width (Debian's Chromium, driven by playwright as in tests/e2e) and two
pages of the PDF minutes (rendered with pypdfium2).

It seeds the demo assembly in a temporary folder, serves it, and runs a plenary through the API
as the chair and the delegates would: the agenda adopted, amendments and the final votes on the
policy and the Bylaws, a secret motion and an election. Then it publishes the sessions'
attendance and takes the pictures.

    make screenshots                       # or: .venv/bin/python scripts/screenshots.py
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --keep   # keep the demo folder
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the browser settings and demo helpers of tests/e2e

from assembly.demo import (  # noqa: E402
    DEMO_AUDIT_KEY,
    DEMO_AUDIT_PASSPHRASE,
    DEMO_PASSWORDS,
    DEMO_SECRET,
)
from tests.e2e.conftest import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    DelegateLink,
    parse_links,
    server_env,
)

OUT = ROOT / "docs" / "screenshots"
PORT = 8123  # a fixed address, so the minutes print the same links from one run to the next
CLI = [sys.executable, "-m", "assembly.cli"]


def port_to_use(preferred: int) -> int:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def seed(workdir: Path, port: int) -> tuple[DelegateLink, ...]:
    seeded = subprocess.run(
        [*CLI, "demo", "--no-serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=server_env(ASSEMBLY_SECRET_KEY=DEMO_SECRET),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return parse_links(seeded.stdout)


def plan_sessions_from(database: Path, start: dt.datetime) -> None:
    """The demo plans its plenary sessions at fixed hours of today. Plenary I is moved to
    begin at `start` (just before the demo checked its delegations in), the others after it
    in the same rhythm, so the attendance shown is the same whatever the hour of the run."""
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from assembly.agenda.models import PlenarySession
    from assembly.db import create_engine
    from assembly.settings import Settings

    async def move() -> None:
        engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{database}"))
        try:
            async with async_sessionmaker(engine)() as db:
                query = select(PlenarySession).order_by(PlenarySession.starts_at)
                sittings = list((await db.execute(query)).scalars())
                shift = start - sittings[0].starts_at
                for sitting in sittings:
                    sitting.starts_at += shift
                    sitting.ends_at += shift
                await db.commit()
        finally:
            await engine.dispose()

    asyncio.run(move())


@contextmanager
def serve(workdir: Path, port: int) -> Iterator[str]:
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(
        ASSEMBLY_SECRET_KEY=DEMO_SECRET,
        ASSEMBLY_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'var' / 'demo.sqlite3'}",
        ASSEMBLY_PUBLIC_URL=base_url,
        ASSEMBLY_AUDIT_KEY_FILE=str(workdir / DEMO_AUDIT_KEY),
        ASSEMBLY_AUDIT_PASSPHRASE=DEMO_AUDIT_PASSPHRASE,
    )
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The server did not start:\n{log.read_text()}")
            try:
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def with_csrf_token(client: httpx.Client) -> httpx.Client:
    """Send the CSRF token the server asks of every POST, as its pages do (any GET sets it)."""
    client.get("/health")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    return client


def ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.method} {response.request.url}: {response.text}")
    return response.json()


class Plenary:
    """The chair, the secretariat and the heads of delegation, each with a logged-in client."""

    def __init__(self, base_url: str, links: tuple[DelegateLink, ...]) -> None:
        self.chair = self._staff(base_url, "chair")
        self.secretariat = self._staff(base_url, "secretariat")
        (assembly,) = ok(self.chair.get("/api/assemblies"))
        self.assembly_id: int = assembly["id"]
        self.phones = []
        for link in links:
            if link.role != "head":
                continue
            phone = with_csrf_token(httpx.Client(base_url=base_url, timeout=30))
            if phone.get(link.url, follow_redirects=False).status_code == 303:
                self.phones.append(phone)

    @staticmethod
    def _staff(base_url: str, role: str) -> httpx.Client:
        client = with_csrf_token(httpx.Client(base_url=base_url, timeout=30))
        ok(
            client.post(
                "/api/auth/login", json={"username": role, "password": DEMO_PASSWORDS[role]}
            )
        )
        return client

    def api(self, path: str) -> str:
        return f"/api/assemblies/{self.assembly_id}{path}"

    def move_to(self, position: int) -> None:
        items = ok(self.chair.get(self.api("/agenda")))
        items = items["items"] if isinstance(items, dict) else items
        item = next(i for i in items if i["position"] == position)
        ok(self.chair.post(f"/api/agenda-items/{item['id']}/current"))

    def vote(self, vote: dict[str, Any], choices: dict[str, Any]) -> dict[str, Any]:
        """Open the vote if it is not, cast each NMO's choice (a motion's yes/no/abstain or an
        election's list of marks) from the phone that holds its vote, and close it."""
        if vote["state"] == "draft":
            ok(self.chair.post(f"/api/votes/{vote['id']}/open"))
        secret = vote.get("secret", False)
        for phone in self.phones:
            mine = ok(phone.get(f"/api/votes/{vote['id']}/mine"))
            ballots = []
            for right in mine["rights"]:
                choice = choices.get(right["nmo_code"])
                if choice is None:
                    continue
                ballot: dict[str, Any] = {"nmo_id": right["nmo_id"], "ballot_id": uuid.uuid4().hex}
                ballot["marks" if isinstance(choice, list) else "choice"] = choice
                if secret:
                    ballot["tracker"] = uuid.uuid4().hex
                ballots.append(ballot)
            if ballots:
                ok(phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": ballots}))
        closed: dict[str, Any] = ok(self.chair.post(f"/api/votes/{vote['id']}/close"))
        return closed

    def amendments(self, document_id: int) -> dict[str, dict[str, Any]]:
        """The document's amendments by proposing NMO (and degree: 'ANEMF/2')."""
        listing = ok(self.chair.get(f"/api/documents/{document_id}/amendments"))
        rows = listing["amendments"] if isinstance(listing, dict) else listing
        return {
            a["nmo_code"] + ("/2" if a["degree"] == 2 else ""): a
            for a in rows
            if a["state"] not in ("withdrawn",)
        }


YES = dict.fromkeys(
    ["ANEMF", "bvmd", "IFMSA-Brazil", "AMSA-Kenya", "IFMSA-Quebec", "MSAI", "AMSA-Japan"], "yes"
)


def run_plenary(plenary: Plenary) -> None:
    chair = plenary.chair
    documents = {d["title"]: d for d in ok(chair.get(plenary.api("/documents")))}
    policy = documents["Policy Statement on Climate and Health"]["id"]
    bylaws = documents["Bylaws"]["id"]

    plenary.move_to(2)  # Adoption of the agenda
    plenary.vote(ok(chair.post(plenary.api("/agenda/adopt"))), {**YES, "IFMSA-Egypt": "abstain"})

    plenary.move_to(3)  # the policy statement and its amendments
    amendments = plenary.amendments(policy)
    plenary.vote(
        ok(chair.post(f"/api/amendments/{amendments['bvmd']['id']}/vote")),
        {**YES, "IFMSA-Egypt": "no"},
    )
    plenary.vote(
        ok(chair.post(f"/api/amendments/{amendments['ANEMF/2']['id']}/vote")),
        {"ANEMF": "yes", "bvmd": "yes", "IFMSA-Brazil": "no", "AMSA-Kenya": "no"}
        | {"IFMSA-Quebec": "abstain", "MSAI": "no", "AMSA-Japan": "no", "IFMSA-Egypt": "no"},
    )
    plenary.vote(
        ok(chair.post(f"/api/amendments/{amendments['MSAI']['id']}/vote")),
        {**YES, "bvmd": "abstain", "IFMSA-Egypt": "no"},
    )
    # Its paragraph was just rewritten: the proposer withdraws it.
    ok(plenary.secretariat.post(f"/api/amendments/{amendments['IFMSA-Brazil']['id']}/withdraw"))
    plenary.vote(
        ok(chair.post(f"/api/amendments/{amendments['AMSA-Kenya']['id']}/vote")),
        {"AMSA-Kenya": "yes", "IFMSA-Quebec": "yes", "ANEMF": "no", "bvmd": "no"}
        | {"IFMSA-Brazil": "no", "MSAI": "abstain", "AMSA-Japan": "abstain", "IFMSA-Egypt": "no"},
    )
    plenary.vote(
        ok(chair.post(f"/api/documents/{policy}/final-vote")),
        {**YES, "IFMSA-Egypt": "abstain"},
    )

    plenary.move_to(4)  # the Bylaws
    amendments = plenary.amendments(bylaws)
    plenary.vote(
        ok(chair.post(f"/api/amendments/{amendments['ANEMF']['id']}/vote")),
        {**YES, "IFMSA-Brazil": "no", "IFMSA-Egypt": "no"},
    )
    plenary.vote(
        ok(chair.post(f"/api/documents/{bylaws}/final-vote")),
        # 12 of 21 is short of two thirds: the Bylaws stay as they were.
        {"ANEMF": "yes", "bvmd": "yes", "MSAI": "yes", "AMSA-Japan": "yes", "AMSA-Kenya": "no"}
        | {"IFMSA-Brazil": "no", "IFMSA-Egypt": "no", "IFMSA-Quebec": "abstain"},
    )

    plenary.move_to(5)  # the election
    election = ok(
        chair.post(
            plenary.api("/votes"),
            json={
                "kind": "election",
                "question": "Election of the Vice-President for Finance",
                "candidates": ["Amira Haddad", "Lucas Ferreira", "Mei Lin"],
                "secret": True,
            },
        )
    )
    plenary.vote(
        election,
        {"ANEMF": ["c1"], "bvmd": ["c1"], "IFMSA-Brazil": ["c2"], "AMSA-Kenya": ["c1"]}
        | {"IFMSA-Quebec": ["c3"], "MSAI": ["c1"], "AMSA-Japan": ["c2"], "IFMSA-Egypt": ["c1"]},
    )
    # The demo's prepared secret motion, thanking the organizers.
    drafts = ok(chair.get(plenary.api("/votes")))
    thanks = next(v for v in drafts if v["state"] == "draft" and v["kind"] == "motion")
    plenary.vote(thanks, {**YES, "IFMSA-Egypt": "yes", "bvmd": "abstain"})

    for sitting in ok(chair.get(plenary.api("/sessions"))):
        ok(
            plenary.secretariat.post(
                plenary.api("/publishing"),
                json={"subject": "session", "id": sitting["id"], "publish": True},
            )
        )


def screenshot_results(base_url: str, assembly_id: int, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, viewport, phone, screens in (
                ("record-results-phone.png", PHONE, True, 1.25),
                ("record-results-desktop.png", DESKTOP, False, 1.5),
            ):
                context = browser.new_context(
                    base_url=base_url,
                    viewport=viewport,  # type: ignore[arg-type]
                    is_mobile=phone,
                    has_touch=phone,
                    device_scale_factor=2 if phone else 1,
                )
                page = context.new_page()
                page.goto(f"/record/{assembly_id}/results")
                page.wait_for_load_state("networkidle")
                # The top of the page: what a reader sees first.
                height = min(
                    page.evaluate("document.documentElement.scrollHeight"),
                    int(screens * viewport["height"]),
                )
                page.screenshot(
                    path=str(out / name),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": viewport["width"], "height": height},
                )
                context.close()
                smaller(out / name)
        finally:
            browser.close()


def smaller(png: Path) -> None:
    """256 colours are plenty for a page of text and keep the repository light."""
    from PIL import Image

    with Image.open(png) as image:
        image.convert("RGB").quantize(colors=256).save(png, optimize=True)


def render_minutes(pdf_path: Path, out: Path) -> int:
    """Page 1 and the first page with a roll call, as PNG; returns the page count."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(pdf_path)
    try:
        decisions = next(
            i for i in range(len(pdf)) if "Roll call" in pdf[i].get_textpage().get_text_range()
        )
        for index, name in ((0, "minutes-page-1.png"), (decisions, "minutes-decisions.png")):
            # 120 dpi: readable in the README, small enough to keep in git.
            pdf[index].render(scale=120 / 72).to_pil().save(out / name, optimize=True)
            smaller(out / name)
        return len(pdf)
    finally:
        pdf.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    parser.add_argument("--keep", action="store_true", help="keep the demo folder")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="assembly-screenshots-"))
    try:
        port = port_to_use(PORT)
        start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        links = seed(workdir, port)
        plan_sessions_from(workdir / "var" / "demo.sqlite3", start)
        with serve(workdir, port) as base_url:
            plenary = Plenary(base_url, links)
            run_plenary(plenary)
            screenshot_results(base_url, plenary.assembly_id, out)
            started = time.perf_counter()
            response = httpx.get(f"{base_url}/record/{plenary.assembly_id}/minutes.pdf", timeout=60)
            elapsed = time.perf_counter() - started
            response.raise_for_status()
        pdf_path = workdir / "minutes.pdf"
        pdf_path.write_bytes(response.content)
        pages = render_minutes(pdf_path, out)
        print(
            f"Minutes: {len(response.content) / 1024:.0f} KiB, {pages} pages, served in "
            f"{elapsed:.2f} s ({pdf_path if args.keep else 'not kept'})"
        )
        for png in sorted(out.glob("*.png")):
            print(f"  {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")
    finally:
        if args.keep:
            print(f"Demo folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
