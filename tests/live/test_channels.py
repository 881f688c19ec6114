"""Live quorum over WebSockets: who may hold a screen's socket, and that a desk check-in
reaches it as an htmx out-of-band fragment, within one process and across processes (Redis).

The sockets run through litestar's sync TestClient: it drives the app, its HTTP requests
and its sockets on one event loop in a worker thread, which is what a real server does.
The world is seeded through the `app` fixture (the test's own loop); each TestClient gets
its own app instance, so no database connection is shared between two event loops.
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import TestClient
from redis import Redis

from assembly.app import create_app
from assembly.credentials.auth import SESSION_COOKIE
from assembly.live.routes import hold_screen
from assembly.security import CSRF_COOKIE
from assembly.settings import Settings
from tests.conftest import PASSWORD, World, seed_world, with_csrf_token_sync

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
        yield with_csrf_token_sync(client)


Headers = dict[str, str]


def _session(client: TestClient[Litestar]) -> Headers:
    """Take the session cookie out of the client's jar, so one client can act for several
    people (every screen must share one app, and so one client, for in-memory channels)."""
    secret = client.cookies.get(SESSION_COOKIE)
    assert secret, "no session cookie after login"
    client.cookies.delete(SESSION_COOKIE)
    # The client's CSRF token stays in its jar; an explicit Cookie header replaces the jar's.
    return {"cookie": f"{SESSION_COOKIE}={secret}; {CSRF_COOKIE}={client.cookies[CSRF_COOKIE]}"}


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
    # A prefix of its own: other test runs may share the Redis, and their assembly 1 too.
    shared = dataclasses.replace(settings, redis_url=redis_url, channel_prefix=uuid4().hex)
    with client_for(shared) as server_a, client_for(shared) as server_b:
        for server in (server_a, server_b):
            assert server.get("/health").json()["channels"] == {"status": "ok", "kind": "redis"}
        desk = staff_session(server_a, "desk")
        chair = staff_session(server_b, "chair")
        url = f"/ws/assembly/{absent_world.assembly_id}"
        with server_b.websocket_connect(url, headers=chair) as socket:
            topic = f"{shared.channel_prefix}:assembly:{absent_world.assembly_id}:en"
            wait_for_redis_subscriber(redis_url, topic)
            check_in(server_a, desk, absent_world.delegate["AAA-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=1, full_members=3)


@pytest.mark.redis
def test_deployments_sharing_a_redis_do_not_hear_each_other(
    settings: Settings, absent_world: World, redis_url: str
) -> None:
    ours = dataclasses.replace(settings, redis_url=redis_url, channel_prefix=f"ga-{uuid4().hex}")
    theirs = dataclasses.replace(ours, channel_prefix=f"other-{uuid4().hex}")
    url = f"/ws/assembly/{absent_world.assembly_id}"
    with client_for(ours) as server_a, client_for(ours) as server_b, client_for(theirs) as other:
        desk = staff_session(server_a, "desk")
        chair = staff_session(server_b, "chair")
        stranger = staff_session(other, "chair")
        with (
            server_b.websocket_connect(url, headers=chair) as socket,
            other.websocket_connect(url, headers=stranger) as foreign,
        ):
            for prefix in (ours.channel_prefix, theirs.channel_prefix):
                topic = f"{prefix}:assembly:{absent_world.assembly_id}:en"
                wait_for_redis_subscriber(redis_url, topic)
            check_in(server_a, desk, absent_world.delegate["AAA-head"])
            assert_quorum_fragment(socket.receive_text(timeout=WAIT_S), present=1, full_members=3)
            # The other deployment's socket, on the same Redis and topic name, hears nothing.
            with pytest.raises(queue.Empty):
                foreign.receive_text(timeout=0.5)


class ScreenGoneMidSend:
    """A screen whose connection drops while a fragment is on its way to it."""

    def __init__(self) -> None:
        self.accepted = asyncio.Event()
        self.send_failed = asyncio.Event()

    async def accept(self) -> None:
        self.accepted.set()

    async def send_data(self, data: str, mode: str = "text") -> None:
        self.send_failed.set()
        raise WebSocketDisconnect(detail="connection lost")

    async def receive_data(self, mode: str = "text") -> str:
        await self.send_failed.wait()
        raise WebSocketDisconnect(detail="connection lost")


async def test_a_screen_gone_while_a_fragment_is_sent_lets_go_of_its_subscription() -> None:
    """Its handler ends (and unsubscribes) instead of waiting forever for the fragment the
    failed send never finished, which also held up the server's shutdown."""
    async with ChannelsPlugin(
        backend=MemoryChannelsBackend(), arbitrary_channels_allowed=True
    ) as channels:
        screen = ScreenGoneMidSend()
        held = asyncio.create_task(hold_screen(screen, channels, ["assembly:1"]))  # type: ignore[arg-type]
        await asyncio.wait_for(screen.accepted.wait(), WAIT_S)
        channels.publish("<p>quorum</p>", ["assembly:1"])
        channels.publish("<p>banner</p>", ["assembly:1"])
        await asyncio.wait_for(held, timeout=2)


@pytest.mark.redis
async def test_phones_subscribing_all_at_once_each_hear_their_own_topic(redis_url: str) -> None:
    """A room of phones reconnecting at once: every personal topic is subscribed on the one
    connection that is read, so every phone hears its message (redis-py alone connected one
    pub/sub per simultaneous first subscription and read only the last)."""
    from redis.asyncio import Redis as AsyncRedis

    from assembly.live.backends import PrefixedRedisBackend

    backend = PrefixedRedisBackend(AsyncRedis.from_url(redis_url), uuid4().hex)
    await backend.on_startup()
    topics = [f"delegate:{n}" for n in range(60)]
    try:
        await asyncio.gather(*(backend.subscribe([t]) for t in topics))
        heard: set[str] = set()

        async def listen() -> None:
            async for channel, _data in backend.stream_events():
                heard.add(channel)
                if heard == set(topics):
                    return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)
        for topic in topics:
            await backend.publish(b"hello", [topic])
        await asyncio.wait_for(listener, timeout=WAIT_S)
        assert heard == set(topics)
    finally:
        await backend.on_shutdown()


@pytest.mark.redis
async def test_messages_published_in_a_row_arrive_complete_and_in_order(redis_url: str) -> None:
    """The Redis backend sends what is published as pipelines, not one round trip per
    message: a vote's opening publishes a ballot for every phone at once."""
    from redis.asyncio import Redis as AsyncRedis

    from assembly.live.backends import PrefixedRedisBackend

    backend = PrefixedRedisBackend(AsyncRedis.from_url(redis_url), uuid4().hex)
    await backend.on_startup()
    try:
        await backend.subscribe(["a", "b"])
        got: list[tuple[str, bytes]] = []

        async def listen() -> None:
            async for channel, data in backend.stream_events():
                got.append((channel, data))
                if len(got) == 602:
                    return

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.2)
        for n in range(600):
            await backend.publish(str(n).encode(), ["a"])
        await backend.publish(b"both", ["a", "b"])
        await asyncio.wait_for(listener, timeout=WAIT_S)
        assert [int(d) for c, d in got[:600]] == list(range(600))
        assert all(c == "a" for c, _ in got[:600])
        assert sorted(got[600:]) == [("a", b"both"), ("b", b"both")]
    finally:
        await backend.on_shutdown()
