"""No secret reaches the server's logs: a real `assembly serve` process (access log as in
production, the app's own loggers at DEBUG) sees delegates and staff log in, a failed login,
a named and a secret ballot, receipts downloaded; its whole output then holds none of the
tokens, session cookies, passwords, ballot ids, trackers or receipts that went through it.

It runs `assembly demo --no-serve` like tests/e2e, so the PostgreSQL pass skips it."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from assembly.credentials.auth import SESSION_COOKIE
from assembly.demo import DEMO_PASSWORDS
from assembly.security import CSRF_COOKIE, CSRF_FIELD
from tests.conftest import TEST_DB_URL, with_csrf_token_sync
from tests.e2e.conftest import serve_demo

pytestmark = pytest.mark.skipif(
    bool(TEST_DB_URL), reason="`assembly demo` always seeds SQLite; the SQLite pass runs this"
)

# `assembly serve` itself (its access log setting included), with the loggers of the app and
# of litestar turned to DEBUG once the app is built (litestar configures logging then).
DEBUG_SERVE = """
import logging, sys
import assembly.app
from assembly.cli import main

build = assembly.app.create_app

def create_app(*args, **kwargs):
    app = build(*args, **kwargs)
    for name in ("assembly", "litestar"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger("assembly").debug("debug logging is on")
    return app

assembly.app.create_app = create_app
main(["serve", *sys.argv[1:]])
"""


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json() if "json" in response.headers.get("content-type", "") else None


def test_the_server_logs_no_token_cookie_password_ballot_id_tracker_or_receipt(
    tmp_path: Path,
) -> None:
    secrets: dict[str, str] = {"the staff password": DEMO_PASSWORDS["chair"]}
    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        clients.append(with_csrf_token_sync(httpx.Client(base_url=base, timeout=10)))
        secrets[f"CSRF token {len(clients)}"] = clients[-1].cookies[CSRF_COOKIE]
        return clients[-1]

    with serve_demo(tmp_path, serve=[sys.executable, "-c", DEBUG_SERVE]) as server:
        base, log = server.base_url, server.log
        heads = [link for link in server.links if link.role == "head"]
        try:
            # Staff log in through the page's form and through the API; one password is wrong.
            chair = client()
            form = {"username": "chair", "password": DEMO_PASSWORDS["chair"], "next": "/chair"}
            page = chair.post(
                "/login",
                data={**form, CSRF_FIELD: chair.cookies[CSRF_COOKIE]},
                follow_redirects=True,
            )
            assert page.status_code == 200 and "/chair" in str(page.url), page.text
            secrets["the chair's session"] = chair.cookies[SESSION_COOKIE]
            wrong = client().post(
                "/api/auth/login", json={"username": "chair", "password": "not-the-pw-42"}
            )
            assert wrong.status_code == 401, wrong.text
            secrets["a wrong password"] = "not-the-pw-42"
            api = client()
            ok(
                api.post(
                    "/api/auth/login", json={"username": "chair", "password": form["password"]}
                )
            )
            secrets["the API session"] = api.cookies[SESSION_COOKIE]

            # Every head of delegation opens their card's link; one link is mistyped, one forged.
            phones = []
            for head in heads:
                phones.append(client())
                token = head.url.rsplit("/login/", 1)[1]
                landed = phones[-1].get(f"/login/{token}", follow_redirects=False)
                assert landed.status_code == 303, landed.text
                secrets[f"{head.nmo_code}'s login token"] = token
                secrets[f"{head.nmo_code}'s session"] = phones[-1].cookies[SESSION_COOKIE]
            token = heads[0].url.rsplit("/login/", 1)[1]
            mistyped = token[:-1] + ("A" if token[-1] != "A" else "B")
            forged = uuid.uuid4().hex + uuid.uuid4().hex
            for bad in (mistyped, forged):
                failed = client().get(f"/login/{bad}", follow_redirects=False)
                assert failed.status_code in (401, 403, 404), (failed.status_code, failed.text)
            secrets["a mistyped login token"] = mistyped
            secrets["a forged login token"] = forged

            (assembly,) = ok(chair.get("/api/assemblies"))
            for secret in (False, True):
                vote = ok(
                    chair.post(
                        f"/api/assemblies/{assembly['id']}/votes",
                        json={"question": f"Logged? {secret}", "secret": secret},
                    ),
                    201,
                )
                ok(chair.post(f"/api/votes/{vote['id']}/open", json={}))
                phone, rights = next(
                    (p, r)
                    for p in phones
                    if (r := ok(p.get(f"/api/votes/{vote['id']}/mine"))["rights"])
                )
                ballot = {"nmo_id": rights[0]["nmo_id"], "ballot_id": uuid.uuid4().hex}
                ballot["choice"] = "yes"
                if secret:
                    ballot["tracker"] = uuid.uuid4().hex
                    secrets["the tracker"] = ballot["tracker"]
                cast = ok(
                    phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [ballot]})
                )
                receipt = cast["ballots"][0]["receipt"]
                secrets[f"the {'secret' if secret else 'named'} ballot's id"] = ballot["ballot_id"]
                secrets[f"the {'secret' if secret else 'named'} ballot's receipt"] = receipt
                # The same ballot again (a phone's retry), and one refused as already cast.
                again = phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [ballot]})
                assert ok(again)["ballots"][0]["status"] == "duplicate"
                other = {**ballot, "ballot_id": uuid.uuid4().hex}
                refused = phone.post(f"/api/votes/{vote['id']}/ballots", json={"ballots": [other]})
                assert refused.status_code == 409, refused.text
                secrets[f"a refused {'secret' if secret else 'named'} ballot's id"] = other[
                    "ballot_id"
                ]
                ok(chair.post(f"/api/votes/{vote['id']}/close", json={}))
                proof = phone.get(
                    f"/api/assemblies/{assembly['id']}/log/receipt",
                    params={"vote": vote["id"], **({} if secret else {"receipt": receipt})},
                )
                assert proof.status_code == 200, proof.text
            # A request refused for its CSRF token.
            forged_post = phone.post("/delegate/check-in", headers={"X-CSRFToken": "forged"})
            assert forged_post.status_code == 403
            assert phone.post("/logout").status_code in (200, 303)
        finally:
            for c in clients:
                c.close()

    output = log.read_text(errors="replace")
    assert "debug logging is on" in output, output[-3000:]
    assert "Application startup complete" in output, output[-3000:]
    leaks = {what: value for what, value in secrets.items() if value in output}
    lines = [line for line in output.splitlines() if any(v in line for v in leaks.values())]
    assert leaks == {}, "\n".join(lines[:20])
    # The refusals on the way (a wrong password, a mistyped link, a missing CSRF token) are
    # answers to the person, not failures of the server: no traceback for them.
    assert "Traceback" not in output, output[output.index("Traceback") - 500 :][:3000]
