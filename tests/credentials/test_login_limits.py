"""Failed logins are limited per staff account and per delegate login link, not per address
(a whole venue shares one): after ten failures in fifteen minutes the account or link is
refused with 429, a Retry-After and a message saying how long; other accounts and the rest of
the venue are unaffected; a success clears the count."""

from __future__ import annotations

from litestar import Litestar

from assembly.credentials.limits import AttemptLimiter, TooManyAttempts
from tests.conftest import PASSWORD, ClientFactory, World


def test_the_window_slides_and_a_success_clears_the_count() -> None:
    now = [0.0]
    limiter = AttemptLimiter(3, 60, clock=lambda: now[0])
    for _ in range(3):
        limiter.check("alice", "this account")
        limiter.failed("alice")
    try:
        limiter.check("alice", "this account")
    except TooManyAttempts as exc:
        assert exc.status == 429 and exc.retry_after_s == 60
        assert "try again in 1 minute." in exc.message
    else:
        raise AssertionError("the fourth attempt was not refused")
    limiter.check("bob", "this account")  # another account is not affected
    now[0] = 60.5  # the first failures leave the window
    limiter.check("alice", "this account")
    limiter.failed("alice")
    limiter.succeeded("alice")
    limiter.check("alice", "this account")


async def test_a_staff_account_is_locked_after_ten_wrong_passwords_not_the_venue(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    venue = await make_client()  # every request comes from the same address
    for _ in range(10):
        wrong = await venue.post(
            "/api/auth/login", json={"username": "chair", "password": "not the password"}
        )
        assert wrong.status_code == 401
    locked = await venue.post("/api/auth/login", json={"username": "chair", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed logins for this account" in locked.json()["message"]
    assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
    # The same form on the login page says so too, and another account logs in meanwhile.
    page = await venue.post(
        "/login", data={"username": "chair", "password": PASSWORD}, follow_redirects=False
    )
    assert page.status_code == 429 and "Too many failed logins" in page.text
    other = await venue.post(
        "/api/auth/login", json={"username": "secretariat", "password": PASSWORD}
    )
    assert other.status_code == 200


async def test_a_login_link_is_locked_after_ten_failures_and_good_links_still_work(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    venue = await make_client()
    guessed = "x" * 43
    for _ in range(10):
        assert (await venue.get(f"/login/{guessed}", follow_redirects=False)).status_code == 401
    refused = await venue.get(f"/login/{guessed}", follow_redirects=False)
    assert refused.status_code == 429 and "this login link" in refused.text
    good = await venue.get(f"/login/{world.token['AAA-head']}", follow_redirects=False)
    assert good.status_code == 303
    # The limiter keeps hashes, never a usable token.
    limits = app.state.ctx.login_limits
    assert guessed not in repr(limits.tokens._failures)
