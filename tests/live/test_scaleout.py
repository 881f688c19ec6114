"""Scale-out: `assembly serve` processes sharing one PostgreSQL database and one Redis act as
one server. A ballot cast through one process reaches the chair's screen held by another, and
the vote's close on that other reaches the phone held by the first.

The test runs in the SQLite pass of `make test` (with the other Redis tests), on a database of
its own that it creates on the PostgreSQL server of ASSEMBLY_TEST_SCALEOUT_DATABASE_URL (the
Makefile passes ASSEMBLY_TEST_DATABASE_URL's; the database named in the URL is not touched)
and drops at the end. Redis comes from ASSEMBLY_TEST_REDIS_URL, as for tests/live/test_channels.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from redis import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from assembly.app import create_app
from assembly.audit import keys
from assembly.audit.log import key_name
from assembly.credentials.auth import SESSION_COOKIE
from assembly.security import CSRF_COOKIE, CSRF_HEADER
from assembly.settings import Settings, normalise_database_url
from tests.conftest import (
    PASSWORD,
    SECRET,
    TEST_DB_URL,
    TEST_REDIS_URL,
    World,
    need_service,
    reachable,
    seed_world,
)
from tests.e2e.conftest import free_port, server_env, wait_until_healthy

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

PG_SERVER_URL = os.environ.get("ASSEMBLY_TEST_SCALEOUT_DATABASE_URL") or TEST_DB_URL or ""
CLI = [sys.executable, "-m", "assembly.cli"]
AUDIT_PASSPHRASE = "scale-out-test-passphrase"
WAIT_S = 5.0
HAS_PROC_NET = Path("/proc/net/tcp").exists()  # Linux: which process holds a connection


def plain_postgres_url(url: str, database: str) -> str:
    """The server of `url` (any driver suffix dropped) with another database name."""
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass(frozen=True)
class Deployment:
    """A migrated and seeded database, and the settings every server process of it shares."""

    database_url: str
    database: str  # its name: the servers' channel prefix in Redis, unless told another
    world: World
    env: dict[str, str]
    workdir: Path


@dataclass(frozen=True)
class Server:
    """One `assembly serve`: its master process and address."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def print_log(self) -> None:
        print(f"== {self.log}\n{self.log_text()}")


async def _create_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_postgres_url(server_url, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_database(server_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(plain_postgres_url(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _seed(database_url: str) -> World:
    app = create_app(
        Settings(
            database_url=normalise_database_url(database_url),
            secret_key=SECRET,
            database_pool=False,
        )
    )
    try:
        return await seed_world(app)
    finally:
        await app.state.ctx.engine.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """A fresh database `assembly_scaleout_<hex>`, migrated by `assembly migrate` and seeded,
    and a sealed audit key. Its name is also the servers' channel prefix, which keeps other
    test runs sharing the Redis out."""
    if not PG_SERVER_URL:
        need_service(
            "PostgreSQL",
            "set ASSEMBLY_TEST_SCALEOUT_DATABASE_URL to a PostgreSQL server's URL "
            "(make test passes ASSEMBLY_TEST_DATABASE_URL's)",
        )
    if not reachable(plain_postgres_url(PG_SERVER_URL, "postgres")):
        need_service("PostgreSQL", f"nothing answers at {PG_SERVER_URL}")
    if not reachable(TEST_REDIS_URL):  # before making a database for nothing
        need_service("Redis", f"nothing answers at {TEST_REDIS_URL}")
    workdir = tmp_path_factory.mktemp("scaleout")
    name = f"assembly_scaleout_{secrets.token_hex(6)}"
    asyncio.run(_create_database(PG_SERVER_URL, name))
    try:
        database_url = plain_postgres_url(PG_SERVER_URL, name)
        migrated = subprocess.run(
            [*CLI, "migrate"],
            env=server_env(ASSEMBLY_DATABASE_URL=database_url, ASSEMBLY_SECRET_KEY=SECRET),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert migrated.returncode == 0, f"migrate failed:\n{migrated.stdout}\n{migrated.stderr}"
        world = asyncio.run(_seed(database_url))

        public_url = "http://assembly.test"  # one deployment, one address (a load balancer's)
        key_file = workdir / "audit-key.json"
        private_key, _ = keys.generate(key_name(public_url))
        key_file.write_bytes(
            keys.seal(private_key, AUDIT_PASSPHRASE, name=key_name(public_url), n=2**15)
        )
        env = {
            "ASSEMBLY_DATABASE_URL": database_url,
            "ASSEMBLY_SECRET_KEY": SECRET,
            "ASSEMBLY_PUBLIC_URL": public_url,
            "ASSEMBLY_AUDIT_KEY_FILE": str(key_file),
            "ASSEMBLY_AUDIT_PASSPHRASE": AUDIT_PASSPHRASE,
        }
        yield Deployment(database_url, name, world, env, workdir)
    finally:
        asyncio.run(_drop_database(PG_SERVER_URL, name))


def start_servers(
    deployment: Deployment, redis_url: str, stack: ExitStack, count: int, workers: int = 1
) -> list[Server]:
    """Start `count` servers side by side, each stopped when `stack` closes."""
    servers = []
    workers_option = ["--workers", str(workers)]
    for _ in range(count):
        port = free_port()
        log = deployment.workdir / f"server-{port}.log"
        env = server_env(**deployment.env, ASSEMBLY_REDIS_URL=redis_url)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*CLI, "serve", "--host", "127.0.0.1", "--port", str(port), *workers_option],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = Server(process, port, log)
        # After the server stopped: its log, which pytest shows when the test failed.
        stack.callback(server.print_log)
        stack.callback(stop, process)
        servers.append(server)
    for server in servers:
        wait_until_healthy(server.base_url, server.process, server.log)
    return servers


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture
def two_servers(deployment: Deployment, redis_url: str) -> Iterator[tuple[Server, Server]]:
    with ExitStack() as stack:
        a, b = start_servers(deployment, redis_url, stack, count=2)
        yield a, b


def wait_for_redis_subscribers(redis_url: str, topic: str, count: int = 1) -> None:
    """A socket is accepted once its process has subscribed in Redis; the subscription is
    checked anyway, so that a publication can never race it."""
    client = Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + WAIT_S
        while client.pubsub_numsub(topic)[0][1] < count:
            assert time.monotonic() < deadline, f"nobody subscribed to {topic} in Redis"
            time.sleep(0.01)
    finally:
        client.close()


def client_of(server: Server, cookies: httpx.Cookies | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, cookies=cookies, timeout=10)


def echo_csrf(client: httpx.AsyncClient) -> None:
    """Send back the CSRF cookie a GET set, as a page's scripts do."""
    token = client.cookies.get(CSRF_COOKIE)
    assert token, "no CSRF cookie after a GET"
    client.headers[CSRF_HEADER] = token


async def staff_login(server: Server, username: str) -> httpx.AsyncClient:
    client = client_of(server)
    assert (await client.get("/login")).status_code == 200
    echo_csrf(client)
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return client


async def delegate_login(server: Server, token: str) -> httpx.AsyncClient:
    client = client_of(server)
    response = await client.get(f"/login/{token}", follow_redirects=False)
    assert response.status_code == 303, response.text
    echo_csrf(client)
    return client


async def open_named_vote(chair: httpx.AsyncClient, assembly_id: int, question: str) -> int:
    created = await chair.post(
        f"/api/assemblies/{assembly_id}/votes", json={"question": question, "secret": False}
    )
    assert created.status_code == 201, created.text
    vote_id: int = created.json()["id"]
    opened = await chair.post(f"/api/votes/{vote_id}/open", json={})
    assert opened.status_code == 200, opened.text
    return vote_id


def screen_socket(server: Server, client: httpx.AsyncClient, assembly_id: int) -> connect:
    """The socket a screen opens from a page of `server`, with its session cookie."""
    session = client.cookies.get(SESSION_COOKIE)
    assert session, "no session cookie after login"
    return connect(
        f"{server.ws_url}/ws/assembly/{assembly_id}",
        origin=Origin(server.base_url),
        additional_headers={"Cookie": f"{SESSION_COOKIE}={session}"},
        open_timeout=WAIT_S,
    )


async def receive_until(socket: ClientConnection, wanted: re.Pattern[str]) -> str:
    """The first fragment matching `wanted` within WAIT_S; the others are skipped."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await socket.recv()
                html = message if isinstance(message, str) else message.decode()
                if wanted.search(html):
                    return html
                seen.append(html[:200])
    except TimeoutError:
        pytest.fail(f"no fragment matching {wanted.pattern!r} in {WAIT_S}s; got {seen}")


def worker_pids(server: Server, count: int) -> set[int]:
    """The worker processes of `serve --workers N`, once `count` have started (their startup
    is logged by the master, which only watches them)."""
    deadline = time.monotonic() + 30
    while (started := server.log_text().count("Application startup complete.")) < count:
        assert time.monotonic() < deadline, f"{started} worker(s) started:\n{server.log_text()}"
        time.sleep(0.1)
    workers = set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        # The master's children are its workers and multiprocessing's resource tracker.
        if ppid == server.process.pid and b"spawn_main" in command:
            workers.add(int(proc.name))
    return workers


def connection_owner(server: Server, client_port: int, pids: Iterable[int]) -> int:
    """Which of `pids` holds the server's end of the TCP connection from `client_port`: its
    socket's inode from /proc/net/tcp, then the process with that inode among its files."""
    inode = ""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)) == (
                server.port,
                client_port,
            ):
                inode = fields[9]
    assert inode, f"no connection from port {client_port} to {server.port}"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"none of {list(pids)} holds the connection from port {client_port}")


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def not_voted(html: str) -> list[str]:
    """The NMO codes a turnout fragment lists as not having voted yet."""
    match = re.search(r'<p class="codes">([^<]*)</p>', html)
    return [code.strip() for code in match[1].split(",")] if match else []


async def test_a_ballot_through_one_process_reaches_the_chair_screen_on_another(
    deployment: Deployment, two_servers: tuple[Server, Server], redis_url: str
) -> None:
    a, b = two_servers
    world = deployment.world
    assert a.process.pid != b.process.pid and a.port != b.port
    for server in (a, b):
        async with client_of(server) as client:
            health = (await client.get("/health")).json()
        assert health["database"]["kind"] == "postgresql", health
        assert health["channels"] == {"status": "ok", "kind": "redis"}, health

    chair = await staff_login(b, "chair")
    phone = await delegate_login(a, world.token["AAA-head"])
    # The chair's login and CSRF token from B are good on A too (one secret key, one database).
    chair_on_a = client_of(a, chair.cookies)
    chair_on_a.headers[CSRF_HEADER] = chair.headers[CSRF_HEADER]
    try:
        vote_id = await open_named_vote(chair_on_a, world.assembly_id, "Shall we scale out?")
        mine = await phone.get(f"/api/votes/{vote_id}/mine")
        assert mine.status_code == 200, mine.text
        rights = {r["nmo_code"]: r["nmo_id"] for r in mine.json()["rights"]}
        assert "AAA" in rights, rights
        turnout = re.compile(rf'id="turnout-{vote_id}"')

        # Channel names in Redis start with the database's name, which both processes share.
        topic = f"{deployment.database}:assembly:{world.assembly_id}:en"
        async with screen_socket(b, chair, world.assembly_id) as chair_screen:
            wait_for_redis_subscribers(redis_url, topic)
            cast = await phone.post(
                f"/api/votes/{vote_id}/ballots",
                json={
                    "ballots": [
                        {"nmo_id": rights["AAA"], "ballot_id": uuid.uuid4().hex, "choice": "yes"}
                    ]
                },
            )
            assert cast.status_code == 200, cast.text
            assert cast.json()["ballots"][0]["status"] == "recorded", cast.text

            # Process A rendered the turnout and published it; B's chair screen received it.
            html = await receive_until(chair_screen, turnout)
            assert re.search(r"\b1 of 3 votes cast\b", words(html)), words(html)
            assert "AAA" not in not_voted(html) and "BBB" in not_voted(html), html

            # The other way: the chair closes the vote on B; the phone's socket on A hears it.
            async with screen_socket(a, phone, world.assembly_id) as phone_screen:
                wait_for_redis_subscribers(redis_url, topic, count=2)
                closed = await chair.post(f"/api/votes/{vote_id}/close")
                assert closed.status_code == 200, closed.text
                banner = await receive_until(
                    phone_screen, re.compile(r'id="vote-banner"[^>]*data-state="closed"')
                )
                assert "Vote closed" in words(banner), words(banner)
    finally:
        for client in (chair, chair_on_a, phone):
            await client.aclose()


async def test_two_workers_on_one_port_share_ballots_and_screens(
    deployment: Deployment, redis_url: str
) -> None:
    """`serve --workers 2`: uvicorn's worker processes accept on one port; the chair's screens
    end up on both, and the one the ballot did not go through hears of it all the same."""
    if not HAS_PROC_NET:
        need_service("Linux /proc", "it tells which worker process holds a connection")
    world = deployment.world
    with ExitStack() as stack:
        (server,) = start_servers(deployment, redis_url, stack, count=1, workers=2)
        workers = worker_pids(server, 2)
        assert len(workers) == 2, (workers, server.log_text())
        chair = await staff_login(server, "chair")
        phone = await delegate_login(server, world.token["BBB-head"])
        try:
            vote_id = await open_named_vote(chair, world.assembly_id, "Two workers, one port?")
            mine = (await phone.get(f"/api/votes/{vote_id}/mine")).json()
            rights = {r["nmo_code"]: r["nmo_id"] for r in mine["rights"]}
            turnout = re.compile(rf'id="turnout-{vote_id}"')
            async with AsyncExitStack() as sockets:
                # Which worker accepts a connection is the kernel's choice: open screens until
                # each worker holds one.
                screens: dict[int, ClientConnection] = {}
                for _ in range(40):
                    screen = await sockets.enter_async_context(
                        screen_socket(server, chair, world.assembly_id)
                    )
                    owner = connection_owner(server, screen.local_address[1], workers)
                    if owner in screens:
                        await screen.close()
                    screens[owner] = screens.get(owner, screen)
                    if len(screens) == len(workers):
                        break
                assert screens.keys() == workers, f"every screen went to {set(screens)}"
                topic = f"{deployment.database}:assembly:{world.assembly_id}:en"
                wait_for_redis_subscribers(redis_url, topic, count=len(workers))

                cast = await phone.post(
                    f"/api/votes/{vote_id}/ballots",
                    json={
                        "ballots": [
                            {"nmo_id": rights["BBB"], "ballot_id": uuid.uuid4().hex, "choice": "no"}
                        ]
                    },
                )
                assert cast.status_code == 200, cast.text
                client_port = cast.extensions["network_stream"].get_extra_info("client_addr")[1]
                through = connection_owner(server, client_port, workers)
                (elsewhere,) = workers - {through}
                for pid in (elsewhere, through):
                    html = await receive_until(screens[pid], turnout)
                    assert re.search(r"\b1 of 3 votes cast\b", words(html)), (pid, words(html))
                    assert "BBB" not in not_voted(html) and "AAA" in not_voted(html), html
        finally:
            await chair.aclose()
            await phone.aclose()
