"""Server processes tell each other when a vote opens or closes (live/processes.py): every
process reads an opened vote's ballot sheet and its casters' sessions at once, not with the
first ballot it takes, and drops a closed vote's sheet at once. Embedded (one process hears
itself) and through Redis (two app instances, as two server processes)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from uuid import uuid4

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from assembly.credentials.auth import hash_secret
from assembly.live import processes
from assembly.settings import Settings
from tests.conftest import ClientFactory, World
from tests.live.test_channels import client_for, delegate_session, staff_session
from tests.voting.test_api import cast, make_vote, open_vote

WAIT_S = 10.0


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, f"waited {WAIT_S} s for {what}"
        time.sleep(0.01)


async def test_the_opening_process_hears_itself_and_reads_the_sheet_only_once(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    sheets = app.state.ctx.ballot_sheets
    chair = await make_client(staff="chair")
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    assert sheets.cached(vote["id"]) is not None
    phone = await make_client(token=world.token["AAA-head"])
    assert (await cast(phone, vote["id"], world.nmo["AAA"], "yes")).status_code == 200
    assert sheets.reads == 1  # the news of its own opening read nothing again
    response = await chair.post(f"/api/votes/{vote['id']}/close", json={})
    assert response.status_code == 200, response.text
    assert sheets.cached(vote["id"]) is None


async def test_news_of_an_opening_reads_the_sheet_and_the_casters_sessions(
    app: Litestar, world: World, make_client: ClientFactory
) -> None:
    """What a process that did not open the vote does with the news (called directly here;
    the Redis test below has it travel between two apps)."""
    ctx = app.state.ctx
    chair = await make_client(staff="chair")
    phone = await make_client(token=world.token["BBB-head"])
    assert (await phone.get("/api/auth/me")).json()["role"] == "delegate"
    vote = await make_vote(chair, world)
    await open_vote(chair, vote["id"])
    ctx.ballot_sheets.forget(vote["id"])  # as in a process that has not seen the vote
    ctx.principals.forget_all()
    reads = ctx.ballot_sheets.reads
    await processes.heard(ctx, f'{{"vote":{vote["id"]},"state":"open"}}'.encode())
    assert ctx.ballot_sheets.cached(vote["id"]) is not None
    assert ctx.ballot_sheets.reads == reads + 1
    await processes.heard(ctx, f'{{"vote":{vote["id"]},"state":"open"}}'.encode())
    assert ctx.ballot_sheets.reads == reads + 1  # heard twice, read once
    await processes.heard(ctx, f'{{"vote":{vote["id"]},"state":"closed"}}'.encode())
    assert ctx.ballot_sheets.cached(vote["id"]) is None
    # News of a vote that is not open (any more) reads nothing into the sheets.
    await processes.heard(ctx, b'{"vote":999999,"state":"open"}')
    assert ctx.ballot_sheets.cached(999999) is None


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_a_message_that_cannot_be_acted_on_is_logged_and_the_next_one_heard(
    settings: Settings, world: World
) -> None:
    recorded = Recorded()  # on the module's logger: the app's logging set-up replaces root's
    logging.getLogger("assembly.live.processes").addHandler(recorded)
    try:
        heard_after_a_bad_message(settings, world)
    finally:
        logging.getLogger("assembly.live.processes").removeHandler(recorded)
    assert recorded.messages == ["news from another server process could not be acted on"]


def heard_after_a_bad_message(settings: Settings, world: World) -> None:
    with client_for(settings) as server:
        ctx = server.app.state.ctx
        chair = staff_session(server, "chair")
        response = server.post(
            f"/api/assemblies/{world.assembly_id}/votes", json={"question": "Q?"}, headers=chair
        )
        assert response.status_code == 201, response.text
        vote_id = response.json()["id"]

        def publish(message: bytes) -> None:  # in the app's event loop, not the test's thread
            assert server.blocking_portal is not None
            server.blocking_portal.call(ctx.channels.publish, message, [processes.PROCESSES_TOPIC])

        publish(b"not json")
        response = server.post(f"/api/votes/{vote_id}/open", json={}, headers=chair)
        assert response.status_code == 200, response.text
        ctx.ballot_sheets.forget(vote_id)
        publish(f'{{"vote":{vote_id},"state":"open"}}'.encode())
        wait_until("the sheet", lambda: ctx.ballot_sheets.cached(vote_id) is not None)


@pytest.mark.redis
def test_a_vote_opened_in_one_process_is_read_at_once_in_the_other_through_redis(
    settings: Settings, world: World, redis_url: str
) -> None:
    shared = dataclasses.replace(settings, redis_url=redis_url, channel_prefix=uuid4().hex)
    server_a: TestClient[Litestar]
    server_b: TestClient[Litestar]
    with client_for(shared) as server_a, client_for(shared) as server_b:
        ctx_b = server_b.app.state.ctx
        chair = staff_session(server_a, "chair")
        phone = delegate_session(server_b, world.token["CCC-head"])
        assert server_b.get("/api/auth/me", headers=phone).json()["role"] == "delegate"
        ctx_b.principals.forget_all()
        response = server_a.post(
            f"/api/assemblies/{world.assembly_id}/votes", json={"question": "Q?"}, headers=chair
        )
        assert response.status_code == 201, response.text
        vote_id = response.json()["id"]
        response = server_a.post(f"/api/votes/{vote_id}/open", json={}, headers=chair)
        assert response.status_code == 200, response.text
        # Server B reads the sheet and its casters' sessions without any request of its own.
        wait_until("server B's sheet", lambda: ctx_b.ballot_sheets.cached(vote_id) is not None)
        secret = phone["cookie"].split(";")[0].split("=", 1)[1]
        wait_until(
            "server B to remember the phone's session",
            lambda: ctx_b.principals.get(hash_secret(secret)) is not None,
        )
        response = server_a.post(f"/api/votes/{vote_id}/close", json={}, headers=chair)
        assert response.status_code == 200, response.text
        wait_until(
            "server B to drop the sheet", lambda: ctx_b.ballot_sheets.cached(vote_id) is None
        )


def test_a_server_starts_without_redis_and_says_so(settings: Settings) -> None:
    """Redis unreachable at start: the server still starts and serves (as before it heard
    the other processes), /health says what is wrong, and the listener logs that it will
    try again."""
    recorded = Recorded()
    recorded.setLevel(logging.WARNING)
    logger = logging.getLogger("assembly.live.processes")
    logger.addHandler(recorded)
    unreachable = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    try:
        with client_for(unreachable) as server:
            health = server.get("/health")
            assert health.status_code == 503, health.text
            assert health.json()["channels"]["status"] == "error"
            assert health.json()["database"]["status"] == "ok"
            assert server.get("/api/auth/me").json()["role"] == "public"  # it serves
    finally:
        logger.removeHandler(recorded)
    assert any("cannot hear the other server processes" in m for m in recorded.messages)
