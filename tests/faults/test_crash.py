"""A server killed with SIGKILL in the middle of a ballot burst loses no acknowledged ballot,
counts none twice, keeps the vote open, and keeps the phones' sessions, on restart.

It runs `assembly demo --no-serve` and `assembly serve` like tests/e2e, without a browser.
The demo always seeds SQLite, so the PostgreSQL pass skips it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from assembly.demo import (
    DEMO_AUDIT_KEY,
    DEMO_AUDIT_PASSPHRASE,
    DEMO_NAME,
    DEMO_PASSWORDS,
    DEMO_SECRET,
)
from tests.conftest import TEST_DB_URL, with_csrf_token_sync
from tests.e2e.conftest import free_port, parse_links, server_env, wait_until_healthy

pytestmark = pytest.mark.skipif(
    bool(TEST_DB_URL), reason="`assembly demo` always seeds SQLite; the SQLite pass runs this"
)

CLI = [sys.executable, "-m", "assembly.cli"]
CHOICES = ("yes", "no", "abstain")


@dataclass
class Server:
    """`assembly serve` on the demo database; `start()` can be called again after a kill."""

    workdir: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.starts += 1
        log = self.workdir / f"server-{self.starts}.log"
        env = server_env(
            ASSEMBLY_SECRET_KEY=DEMO_SECRET,
            ASSEMBLY_DATABASE_URL=f"sqlite+aiosqlite:///{self.workdir / 'var' / 'demo.sqlite3'}",
            ASSEMBLY_PUBLIC_URL=self.base_url,
            ASSEMBLY_AUDIT_KEY_FILE=str(self.workdir / DEMO_AUDIT_KEY),
            ASSEMBLY_AUDIT_PASSPHRASE=DEMO_AUDIT_PASSPHRASE,
        )
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_until_healthy(self.base_url, self.process, log)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """The seeded demo and its server; yields it with the demo's printed report."""
    port = free_port()
    seeded = subprocess.run(
        [*CLI, "demo", "--no-serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=server_env(ASSEMBLY_SECRET_KEY=DEMO_SECRET),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, f"assembly demo failed:\n{seeded.stdout}\n{seeded.stderr}"
    srv = Server(tmp_path, port)
    try:
        srv.start()
        yield srv, seeded.stdout
    finally:
        srv.stop()


@dataclass
class Phone:
    """A head of delegation's phone: its cookie jar and the NMOs whose votes it casts."""

    code: str
    client: httpx.Client
    rights: dict[int, str]  # nmo_id -> NMO code


@dataclass
class Cast:
    nmo_id: int
    nmo_code: str
    ballot_id: str
    choice: str
    tracker: str


def ballot_body(cast: Cast) -> dict[str, Any]:
    return {
        "ballots": [
            {
                "nmo_id": cast.nmo_id,
                "ballot_id": cast.ballot_id,
                "choice": cast.choice,
                "tracker": cast.tracker,
            }
        ]
    }


def test_sigkill_during_a_ballot_burst_loses_no_acknowledged_ballot(
    server: tuple[Server, str],
) -> None:
    srv, report = server
    base = srv.base_url
    chair = with_csrf_token_sync(httpx.Client(base_url=base, timeout=10))
    phones: list[Phone] = []
    try:
        login = chair.post(
            "/api/auth/login", json={"username": "chair", "password": DEMO_PASSWORDS["chair"]}
        )
        assert login.status_code == 200, login.text
        assembly_id = next(
            a["id"] for a in chair.get("/api/assemblies").json() if a["name"] == DEMO_NAME
        )
        listed = chair.get(f"/api/assemblies/{assembly_id}/votes")
        assert listed.status_code == 200, (login.text, listed.text)
        votes = listed.json()
        motion = next(v for v in votes if v["kind"] == "motion" and v["state"] == "draft")
        vote_id = motion["id"]
        opened = chair.post(f"/api/votes/{vote_id}/open", json={})
        assert opened.status_code == 200, opened.text

        for link in parse_links(report):
            if link.role != "head":
                continue
            client = with_csrf_token_sync(httpx.Client(base_url=base, timeout=10))
            phones.append(Phone(link.nmo_code, client, {}))
            landed = client.get(link.url.removeprefix(base))  # sets the session cookie
            assert landed.status_code == 303, (link, landed.text)
            mine = client.get(f"/api/votes/{vote_id}/mine")
            if mine.status_code == 200:
                phones[-1].rights = {r["nmo_id"]: r["nmo_code"] for r in mine.json()["rights"]}
        casts = [
            (phone, Cast(nmo_id, code, uuid.uuid4().hex, CHOICES[i % 3], uuid.uuid4().hex))
            for i, (phone, nmo_id, code) in enumerate(
                (p, n, c) for p in phones for n, c in p.rights.items()
            )
        ]
        assert len(casts) >= 6, [(p.code, p.rights) for p in phones]

        # The burst: every phone sends at once; the half-th acknowledgement kills the server.
        acknowledged: dict[str, str] = {}  # ballot_id -> receipt
        lost: list[str] = []
        lock = threading.Lock()
        half = len(casts) // 2
        process = srv.process
        assert process is not None

        def send(phone: Phone, cast: Cast) -> None:
            try:
                response = phone.client.post(
                    f"/api/votes/{vote_id}/ballots", json=ballot_body(cast)
                )
            except httpx.TransportError:
                with lock:
                    lost.append(cast.ballot_id)
                return
            with lock:
                if response.status_code != 200:
                    lost.append(cast.ballot_id)
                    return
                acknowledged[cast.ballot_id] = response.json()["ballots"][0]["receipt"]
                if len(acknowledged) == half:
                    # No shutdown handler, flush or rollback runs; the rest are in flight.
                    os.kill(process.pid, signal.SIGKILL)

        with ThreadPoolExecutor(max_workers=len(casts)) as pool:
            list(pool.map(lambda pc: send(*pc), casts))
        assert process.wait(timeout=15) == -signal.SIGKILL
        assert len(acknowledged) >= half
        assert len(acknowledged) + len(lost) == len(casts)

        srv.start()

        vote = chair.get(f"/api/votes/{vote_id}")
        assert vote.status_code == 200, vote.text
        assert vote.json()["state"] == "open"
        stored_before = chair.get(f"/api/votes/{vote_id}/turnout").json()["ballots"]
        # Acknowledged means committed: each is still there, with the same receipt, once.
        for phone, cast in casts:
            if cast.ballot_id not in acknowledged:
                continue
            again = phone.client.post(f"/api/votes/{vote_id}/ballots", json=ballot_body(cast))
            assert again.status_code == 200, again.text
            result = again.json()["ballots"][0]
            assert result["status"] == "duplicate", result
            assert result["receipt"] == acknowledged[cast.ballot_id]
        # A ballot in flight at the kill may or may not have committed: never half of one.
        assert len(acknowledged) <= stored_before <= len(casts)
        assert chair.get(f"/api/votes/{vote_id}/turnout").json()["ballots"] == stored_before

        # The phones retry what was not acknowledged: each is recorded, once.
        receipts = dict(acknowledged)
        already_stored = 0
        for phone, cast in casts:
            if cast.ballot_id in acknowledged:
                continue
            retried = phone.client.post(f"/api/votes/{vote_id}/ballots", json=ballot_body(cast))
            assert retried.status_code == 200, retried.text
            result = retried.json()["ballots"][0]
            assert result["status"] in {"recorded", "duplicate"}, result
            already_stored += result["status"] == "duplicate"
            receipts[cast.ballot_id] = result["receipt"]
        turnout = chair.get(f"/api/votes/{vote_id}/turnout").json()
        assert turnout["ballots"] == len(casts)
        # Those that committed just before the kill are recognised, not stored again.
        assert already_stored == stored_before - len(acknowledged)

        # The sessions survived the restart, and each phone shows its receipts.
        for phone, cast in casts:
            mine = phone.client.get(f"/api/votes/{vote_id}/mine")
            assert mine.status_code == 200, mine.text
            right = next(r for r in mine.json()["rights"] if r["nmo_id"] == cast.nmo_id)
            assert right["voted"] and right["receipt"] == receipts[cast.ballot_id]
            home = phone.client.get("/delegate")
            assert home.status_code == 200, home.text
            page = phone.client.get("/delegate/vote")
            assert page.status_code == 200, page.text
            assert receipts[cast.ballot_id] in page.text
        print(
            f"acknowledged before the kill: {len(acknowledged)}, in flight: {len(lost)}, "
            f"stored of those in flight: {stored_before - len(acknowledged)}"
        )

        closed = chair.post(f"/api/votes/{vote_id}/close", json={})
        assert closed.status_code == 200, closed.text
        result = chair.get(f"/api/votes/{vote_id}").json()["result"]
        assert result["ballots"] == len(casts)
        assert result["counts"] == {
            choice: sum(c.choice == choice for _, c in casts) for choice in CHOICES
        }

        # The audit log names each NMO that voted once, and holds each phone's choice once.
        entries = chair.get(f"/api/assemblies/{assembly_id}/log/entries").json()
        (participation,) = [
            json.loads(e["data"]) for e in entries if e["kind"] == "secret_participation"
        ]
        assert sorted(participation["voted"]) == sorted(c.nmo_code for _, c in casts)
        (choices,) = [
            json.loads(e["data"])["choices"] for e in entries if e["kind"] == "secret_choices"
        ]
        by_tracker = {c["tracker"]: c["choice"] for c in choices}
        assert len(choices) == len(by_tracker) == len(casts)
        for _, cast in casts:
            assert by_tracker[cast.tracker] == [cast.choice]
    finally:
        chair.close()
        for phone in phones:
            phone.client.close()
