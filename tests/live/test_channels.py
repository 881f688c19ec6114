"""Live quorum over WebSockets: who may hold a screen's socket, and that a desk check-in
reaches it as an htmx out-of-band fragment, within one process and across processes (Redis).

The sockets run through litestar's sync TestClient: it drives the app, its HTTP requests
and its sockets on one event loop in a worker thread, which is what a real server does.
The world is seeded through the `app` fixture (the test's own loop); each TestClient gets
its own app instance, so no database connection is shared between two event loops.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from redis import Redis

from assembly.app import create_app
from assembly.credentials.auth import SESSION_COOKIE
from assembly.settings import Settings
from tests.conftest import PASSWORD, World, seed_world

BASE_URL = "http://testserver.local"
WAIT_S = 10.0


@pytest.fixture
async def absent_world(app: Litestar) -> World:
    """Credentialed delegations, nobody checked in yet: the quorum starts at 0 present."""
    return await seed_world(app, check_in=False)


@contextmanager
def client_for(settings: Settings) -> Iterator[TestClient[Litestar]]:
    """One app instance (one server process) and a client to it."""
    with TestClient(app=create_app(settings), base_url=BASE_URL, timeout=WAIT_S) as client:
        yield client


Headers = dict[str, str]


def _session(client: TestClient[Litestar]) -> Headers:
    """Take the session cookie out of the client's jar, so one client can act for several
    people (every screen must share one app, and so one client, for in-memory channels)."""
    secret = client.cookies.get(SESSION_COOKIE)
    assert secret, "no session cookie after login"
    client.cookies.clear()
    return {"cookie": f"{SESSION_COOKIE}={secret}"}


def staff_session(client: TestClient[Litestar], username: str) -> Headers:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return _session(client)


def delegate_session(client: TestClient[Litestar], token: str) -> Headers:
    response = client.get(f"/login/{token}", follow_redirects=False)
    assert response.status_code == 303, response.text
    return _session(client)


def check_in(client: TestClient[Litestar], desk: Headers, delegate_id: int) -> None:
    response = client.post(
        f"/api/delegates/{delegate_id}/check-in", json={"present": True}, headers=desk
    )
    assert response.status_code == 200, response.text


def wait_for_redis_subscriber(redis_url: str, topic: str) -> None:
    """The socket is accepted before its server has subscribed to the topic in Redis; a
    fragment published in between is lost (screens catch up from the server's state), so
    wait for the subscription instead of racing it."""
    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + WAIT_S
        while not client.pubsub_numsub(topic)[0][1]:
            assert time.monotonic() < deadline, f"nobody subscribed to {topic} in Redis"
            time.sleep(0.01)
    finally:
        client.close()


def assert_quorum_fragment(html: str, present: int, full_members: int) -> None:
    """The pushed quorum: swapped out-of-band into #quorum, with the new count."""
    assert 'id="quorum"' in html, html
    assert "hx-swap-oob" in html, html
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert re.search(rf"\b{present} of {full_members} Full Members present", text), text


def test_desk_check_in_pushes_the_new_quorum_to_the_chair_screen(
    settings: Settings, absent_world: World
) -> None:
    with client_for(settings) as client:
        chair = staff_session(client, "chair")
        desk = staff_session(client, "desk")
        url = f"/ws/assembly/{absent_world.assembly_id}"
        with client.websocket_connect(url, headers=chair) as socket:
            check_in(client, desk, absent_world.delegate["AAA-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=1, full_members=3)
            check_in(client, desk, absent_world.delegate["BBB-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=2, full_members=3)


def test_a_delegate_of_the_assembly_may_hold_its_socket(
    settings: Settings, absent_world: World
) -> None:
    with client_for(settings) as client:
        phone = delegate_session(client, absent_world.token["AAA-del"])
        desk = staff_session(client, "desk")
        url = f"/ws/assembly/{absent_world.assembly_id}"
        with client.websocket_connect(url, headers=phone) as socket:
            check_in(client, desk, absent_world.delegate["CCC-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=1, full_members=3)


def test_the_public_projector_holds_the_assembly_socket_and_gets_the_quorum(
    settings: Settings, absent_world: World
) -> None:
    with client_for(settings) as client:
        desk = staff_session(client, "desk")
        url = f"/ws/assembly/{absent_world.assembly_id}"
        with client.websocket_connect(url) as projector:
            check_in(client, desk, absent_world.delegate["AAA-head"])
            assert_quorum_fragment(
                projector.receive_text(timeout=WAIT_S), present=1, full_members=3
            )


def test_a_socket_opened_from_a_foreign_origin_is_refused(
    settings: Settings, absent_world: World
) -> None:
    with client_for(settings) as client:
        chair = staff_session(client, "chair")
        url = f"/ws/assembly/{absent_world.assembly_id}"
        foreign = {**chair, "origin": "https://evil.example"}
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(url, headers=foreign),
        ):
            pass
        assert refused.value.code == 4403
        # The same login from the server's own origin is let in.
        with client.websocket_connect(url, headers={**chair, "origin": BASE_URL}) as socket:
            desk = staff_session(client, "desk")
            check_in(client, desk, absent_world.delegate["AAA-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=1, full_members=3)


def test_a_delegate_may_not_listen_to_another_assembly(
    settings: Settings, absent_world: World
) -> None:
    with client_for(settings) as client:
        phone = delegate_session(client, absent_world.token["AAA-del"])
        url = f"/ws/assembly/{absent_world.assembly_id + 1}"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(url, headers=phone),
        ):
            pass
        assert refused.value.code == 4403


@pytest.mark.redis
def test_a_check_in_on_one_server_reaches_a_socket_on_another_through_redis(
    settings: Settings, absent_world: World, redis_url: str
) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url)
    with client_for(shared) as server_a, client_for(shared) as server_b:
        for server in (server_a, server_b):
            assert server.get("/health").json()["channels"] == {"status": "ok", "kind": "redis"}
        desk = staff_session(server_a, "desk")
        chair = staff_session(server_b, "chair")
        url = f"/ws/assembly/{absent_world.assembly_id}"
        with server_b.websocket_connect(url, headers=chair) as socket:
            wait_for_redis_subscriber(redis_url, f"assembly:{absent_world.assembly_id}")
            check_in(server_a, desk, absent_world.delegate["AAA-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=1, full_members=3)
