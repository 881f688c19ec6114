"""Security rules: the WebSocket Origin check, the headers on every response (HSTS over https
only) and the session and CSRF cookies' flags. CSRF itself: tests/test_csrf.py; no secrets in
the server's logs: tests/test_logs.py."""

from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any, cast

from litestar.testing import TestClient

from assembly.app import create_app
from assembly.live.routes import origin_allowed
from assembly.security import (
    CONTENT_SECURITY_POLICY,
    CSRF_COOKIE,
    SECURITY_HEADERS,
    STRICT_TRANSPORT_SECURITY,
)
from assembly.settings import Settings
from tests.conftest import PASSWORD, ClientFactory, World, with_csrf_token_sync


def socket_with(headers: dict[str, str]) -> Any:
    return cast(Any, SimpleNamespace(headers=headers))


def test_a_socket_from_a_foreign_origin_is_refused() -> None:
    assert not origin_allowed(
        socket_with({"origin": "https://evil.example", "host": "vote.example"})
    )


def test_a_socket_from_the_same_origin_is_accepted() -> None:
    assert origin_allowed(socket_with({"origin": "https://vote.example", "host": "vote.example"}))


def test_a_socket_without_an_origin_is_left_to_the_session() -> None:
    assert origin_allowed(socket_with({"host": "vote.example"}))


async def test_every_response_carries_the_security_headers(make_client: ClientFactory) -> None:
    client = await make_client()
    for path in ("/", "/api/auth/me", "/static/app.css", "/no-such-page"):
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)


async def test_session_cookies_are_httponly_and_samesite_and_secure_over_https(
    settings: Settings, world: World, make_client: ClientFactory
) -> None:
    client = await make_client()
    staff = await client.post("/api/auth/login", json={"username": "chair", "password": PASSWORD})
    phone = await client.get(f"/login/{world.token['AAA-head']}", follow_redirects=False)
    for response in (staff, phone):
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    # Served over https, the cookie is Secure even without ASSEMBLY_COOKIE_SECURE.
    https = create_app(replace(settings, public_url="https://ga.example.org"))
    try:
        with TestClient(https, base_url="https://ga.example.org") as browser:
            with_csrf_token_sync(browser)
            login = browser.post(
                "/api/auth/login", json={"username": "chair", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            assert "secure" in login.headers["set-cookie"].lower()
    finally:
        await https.state.ctx.engine.dispose()


async def test_the_csrf_cookie_has_the_session_cookies_flags(
    settings: Settings, make_client: ClientFactory
) -> None:
    browser = await make_client()
    browser.cookies.clear()
    cookie = (await browser.get("/login")).headers["set-cookie"].lower()
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    https = create_app(replace(settings, public_url="https://ga.example.org"))
    try:
        with TestClient(https, base_url="https://ga.example.org") as client:
            cookie = client.get("/login").headers["set-cookie"].lower()
            assert cookie.startswith(f"{CSRF_COOKIE}=") and "secure" in cookie
    finally:
        await https.state.ctx.engine.dispose()


async def test_hsts_is_sent_over_https_only(settings: Settings, make_client: ClientFactory) -> None:
    paths = ("/", "/login", "/api/auth/me", "/static/app.css", "/no-such-page")
    plain = await make_client()
    for path in paths:
        assert "strict-transport-security" not in (await plain.get(path)).headers, path
    https = create_app(replace(settings, public_url="https://ga.example.org"))
    try:
        with TestClient(https, base_url="https://ga.example.org") as client:
            for path in paths:
                response = client.get(path)
                assert response.headers.get("strict-transport-security") == (
                    STRICT_TRANSPORT_SECURITY
                ), (path, response.status_code, dict(response.headers))
                for name, value in SECURITY_HEADERS.items():
                    assert response.headers.get(name) == value, (path, name)
    finally:
        await https.state.ctx.engine.dispose()
    assert STRICT_TRANSPORT_SECURITY == "max-age=31536000"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=", re.IGNORECASE)


async def test_the_policy_allows_no_inline_code_and_no_screen_needs_it(
    world: World, make_client: ClientFactory
) -> None:
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    a = world.assembly_id
    screens = {
        None: ["/", "/login", f"/projector/{a}", f"/record/{a}", f"/assemblies/{a}/log"],
        "chair": ["/chair"],
        "secretariat": ["/secretariat", f"/secretariat/assemblies/{a}/publishing"],
        "desk": ["/desk"],
    }
    for staff, paths in screens.items():
        client = await make_client(staff=staff) if staff else await make_client()
        for path in paths:
            page = await client.get(path)
            assert page.status_code == 200, (path, page.status_code)
            assert not INLINE.search(page.text), (path, INLINE.search(page.text))
    phone = await make_client(token=world.token["AAA-head"])
    page = await phone.get("/delegate")
    assert page.status_code == 200 and not INLINE.search(page.text)
