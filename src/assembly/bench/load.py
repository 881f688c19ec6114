"""The load of one plenary, played from the bench's own process against a running server:
phones log in and hold their sockets, the chair opens a vote, every right holder casts in one
burst, the chair closes, and the chair's and the projector's screens show the result."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from assembly.bench.seed import CHAIR_USERNAME, Phone, Seeded
from assembly.bench.server import Server
from assembly.bench.stats import ms, percentile, summary_ms

T = TypeVar("T")
CSRF_COOKIE = "csrftoken"
CSRF_HEADER = "X-CSRFToken"
WAIT_S = 30.0  # the longest the bench waits for a screen to show what it should
CONNECTS_AT_ONCE = 200  # sockets being opened at the same moment
# No request waits for ever: a request the server never answers fails the run.
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=90.0, connect=60.0, sock_read=60.0)
ACKNOWLEDGED = {"recorded", "duplicate", "changed"}


def machine_busy_s() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (every process, every core),
    from Linux's /proc/stat: user, nice, system, irq, softirq and steal time."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    busy = sum(int(x) for x in fields[1:4]) + sum(int(x) for x in fields[6:9])
    return busy / os.sysconf("SC_CLK_TCK")


class BenchFailed(RuntimeError):
    """The server did not do what a plenary needs (a refused request, a screen not updated)."""


class TransportError(OSError):
    """A request's connection failed or timed out: its outcome is unknown."""


Jar = dict[str, str]


class Http:
    """A bare HTTP/1.1 client on one connection pool shared by every simulated user; each user
    keeps their own cookies (a plain dict), sent explicitly, and the CSRF header whenever the
    server has set its cookie, so requests work with and without CSRF protection.

    aiohttp rather than httpx: the load generator shares the machine's cores with the server,
    and httpx's pure-Python HTTP stack cost about 4 ms of CPU per request, as much as the
    server spent answering it. aiohttp parses HTTP in C."""

    def __init__(self, base_url: str, concurrency: int) -> None:
        self.base_url = base_url
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop, as aiohttp requires.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency, force_close=False),
                cookie_jar=aiohttp.DummyCookieJar(),  # each user's cookies are sent by hand
                timeout=REQUEST_TIMEOUT,
                auto_decompress=False,
            )
        return self._session

    async def request(
        self, method: str, path: str, jar: Jar, body: Any = None
    ) -> tuple[int, bytes]:
        """Send one request; raises TransportError when the connection fails or times out."""
        headers = {"accept": "application/json"}
        if jar:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        if method not in {"GET", "HEAD", "OPTIONS"} and CSRF_COOKIE in jar:
            headers[CSRF_HEADER] = jar[CSRF_COOKIE]
        content: bytes | None = None  # no body, and no Content-Type
        if body is not None:
            content = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        try:
            async with self.session.request(
                method,
                self.base_url + path,
                headers=headers,
                data=content,
                allow_redirects=False,
                # aiohttp would call an empty body application/octet-stream
                skip_auto_headers=() if content is not None else ("Content-Type",),
            ) as response:
                data = await response.read()
                status = response.status
                cookies = response.headers.getall("set-cookie", [])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(repr(exc)) from exc
        for raw in cookies:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if value in {"", '""'} or "max-age=0" in raw.lower():
                jar.pop(name.strip(), None)
            else:
                jar[name.strip()] = value
        return status, data

    async def json(self, method: str, path: str, jar: Jar, body: Any = None) -> Any:
        try:
            status, data = await self.request(method, path, jar, body)
        except TransportError as exc:
            raise BenchFailed(f"{method} {path}: {exc}") from None
        if status >= 400:
            raise BenchFailed(f"{method} {path} answered {status}: {data[:300].decode()}")
        return json.loads(data) if data else None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def cookie_header(jar: Jar) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


@dataclass
class Screen:
    """One socket (a phone, the chair's screen or the projector) and when it first received a
    message containing `marker`."""

    socket: ClientConnection
    marker: str | None = None
    seen_at: float | None = None
    messages: int = 0
    seen: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, marker: str) -> None:
        self.marker, self.seen_at = marker, None
        self.seen.clear()

    async def listen(self) -> None:
        try:
            async for message in self.socket:
                now = time.perf_counter()
                self.messages += 1
                marker = self.marker
                if marker is not None and self.seen_at is None and marker in str(message):
                    self.seen_at = now
                    self.seen.set()
        except WebSocketException:
            pass


async def bounded(limit: int, jobs: Sequence[Callable[[], Awaitable[T]]]) -> list[T]:
    """Run the jobs with at most `limit` of them at once, in order of the list."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(one(job) for job in jobs)))


@dataclass
class Plenary:
    server: Server
    seeded: Seeded
    concurrency: int
    idle: int
    warm_up: bool
    log: Callable[[str], None]
    http: Http = field(init=False)
    jars: list[Jar] = field(default_factory=list)  # the phones' cookies, in seeded order
    sockets: list[Screen] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = Http(self.server.base_url, self.concurrency)

    @property
    def socket_url(self) -> str:
        host = urlsplit(self.server.base_url).netloc
        return f"ws://{host}/ws/assembly/{self.seeded.assembly_id}"

    async def open_screen(self, jar: Jar) -> Screen:
        headers = {"Cookie": cookie_header(jar)} if jar else {}
        socket = await connect(
            self.socket_url,
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            open_timeout=WAIT_S,
            max_size=2**22,
        )
        screen = Screen(socket)
        self.sockets.append(screen)
        self.tasks.append(asyncio.create_task(screen.listen()))
        return screen

    async def run(self) -> dict[str, Any]:
        try:
            return await self._run()
        finally:
            await self._close_sockets()
            await self.http.close()

    async def _close_sockets(self) -> None:
        await asyncio.gather(*(s.socket.close() for s in self.sockets), return_exceptions=True)
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.sockets.clear()
        self.tasks.clear()

    async def _run(self) -> dict[str, Any]:
        seeded, f = self.seeded, self.figures
        chair: Jar = {}
        await self.http.request("GET", "/login", chair)  # the CSRF cookie, when there is one
        await self.http.json(
            "POST",
            "/api/auth/login",
            chair,
            {"username": CHAIR_USERNAME, "password": seeded.chair_password},
        )

        started = time.perf_counter()
        jars = await bounded(self.concurrency, [self._login(p) for p in seeded.phones])
        self.jars = jars
        f["login_s"] = round(time.perf_counter() - started, 2)
        await self._fresh_pool()
        started = time.perf_counter()
        chair_screen = await self.open_screen(chair)
        projector = await self.open_screen({})
        first = await self._warm_up(jars) if self.warm_up else []
        phones = first + await bounded(
            CONNECTS_AT_ONCE, [self._opener(jar) for jar in jars[len(first) :]]
        )
        f["connect_s"] = round(time.perf_counter() - started, 2)
        self.log(f"{len(phones)} phones logged in ({f['login_s']} s) and connected.")
        await asyncio.sleep(0.5)
        f["connections_per_worker"] = list(self.server.connections_per_worker().values())

        await self._baseline()
        vote_id = await self._create_vote(chair)
        await self._open(chair, vote_id, phones)
        acknowledged = await self._burst(vote_id)
        await self._close(chair, vote_id, chair_screen, projector)
        await self._count(chair, vote_id, acknowledged)
        f["rss_mb"] = round(self.server.rss_mb(), 1)
        if self.idle:
            await self._idle(jars)
        return f

    async def _fresh_pool(self) -> None:
        """Close the HTTP connections, so that the server's connections are the sockets."""
        await self.http.close()
        self.http = Http(self.server.base_url, self.concurrency)
        await asyncio.sleep(0.2)

    async def _warm_up(self, jars: list[Jar]) -> list[Screen]:
        """Open phones one by one until every worker process holds one, before the rest
        connect all at once. Works around a race in the Redis channels backend (redis-py's
        PubSub opens its connection on first use without a lock): when the first sockets of
        a process subscribe at the same moment, their subscriptions land on connections that
        nobody reads, and that process's screens receive nothing (see BENCHMARKS.md)."""
        workers = self.server.worker_pids()
        if len(workers) < 2:
            return []
        before = self.server.connections_per_worker()
        phones: list[Screen] = []
        for jar in jars[:50]:
            phones.append(await self.open_screen(jar))
            await asyncio.sleep(0.05)
            now = self.server.connections_per_worker()
            if all(now.get(pid, 0) > before.get(pid, 0) for pid in workers):
                break
        await asyncio.sleep(0.3)  # their subscriptions reach Redis
        self.figures["warm_up_phones"] = len(phones)
        return phones

    def _login(self, phone: Phone) -> Callable[[], Awaitable[Jar]]:
        async def login() -> Jar:
            jar: Jar = {}
            status, body = await self.http.request("GET", f"/login/{phone.token}", jar)
            if status >= 400 or not jar:
                raise BenchFailed(f"login of delegate {phone.delegate_id}: {status} {body[:200]!r}")
            return jar

        return login

    def _opener(self, jar: Jar) -> Callable[[], Awaitable[Screen]]:
        return lambda: self.open_screen(jar)

    def _cpu(self) -> tuple[float, float, float | None]:
        """CPU seconds used so far by the server's processes, by this load process, and by
        the whole machine (None where /proc/stat cannot be read)."""
        return self.server.cpu_s(), time.process_time(), machine_busy_s()

    def _cpu_shares(
        self, phase: str, before: tuple[float, float, float | None], elapsed: float
    ) -> None:
        """How busy the server, the load generator and the whole machine (the database and
        Redis included) were during a phase, in cores (1.0 is one core all the time): which
        of them limited the rate, and whether the machine had any CPU left."""
        server, bench, machine = self._cpu()
        self.figures[f"{phase}_server_cores"] = round((server - before[0]) / elapsed, 2)
        self.figures[f"{phase}_load_cores"] = round((bench - before[1]) / elapsed, 2)
        if machine is not None and before[2] is not None:
            self.figures[f"{phase}_machine_cores"] = round((machine - before[2]) / elapsed, 2)

    async def _baseline(self) -> None:
        """The same client, concurrency and pool on the app's most trivial endpoint."""
        count = max(len(self.seeded.phones), 4 * self.concurrency)
        latencies: list[float] = []
        await self._fresh_pool()

        async def health() -> None:
            sent = time.perf_counter()
            status, _ = await self.http.request("GET", "/health", {})
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                raise BenchFailed(f"GET /health answered {status}")

        started, cpu = time.perf_counter(), self._cpu()
        await bounded(self.concurrency, [health] * count)
        elapsed = time.perf_counter() - started
        self._cpu_shares("baseline", cpu, elapsed)
        self.figures["baseline_rps"] = round(count / elapsed, 1)
        self.figures["baseline_p99_ms"] = ms(percentile(latencies, 0.99))

    async def _create_vote(self, chair: Jar) -> int:
        question = f"Bench motion {secrets.token_hex(4)}: shall the assembly adopt it?"
        path = f"/api/assemblies/{self.seeded.assembly_id}/votes"
        vote = await self.http.json("POST", path, chair, {"question": question, "kind": "motion"})
        return int(vote["id"])

    async def _open(self, chair: Jar, vote_id: int, phones: list[Screen]) -> None:
        """Every phone shows its ballot (a right holder) or the vote (a giver of a proxy)."""
        for phone, seat in zip(phones, self.seeded.phones, strict=True):
            phone.expect(
                f'id="ballot-form-{vote_id}-' if seat.casts_for else f'data-vote-id="{vote_id}"'
            )
        self.log(f"Opening vote {vote_id}.")
        sent, cpu = time.perf_counter(), self._cpu()
        await self.http.json("POST", f"/api/votes/{vote_id}/open", chair)
        self.figures["open_ms"] = ms(time.perf_counter() - sent)
        await self._wait(phones, "every phone to show the opened vote")
        self._cpu_shares("fanout", cpu, time.perf_counter() - sent)
        self.figures.update(summary_ms("fanout", [(p.seen_at or sent) - sent for p in phones]))
        self.log(f"Vote {vote_id} open: fan-out p99 {self.figures['fanout_p99_ms']} ms.")

    async def _wait(self, screens: list[Screen], what: str) -> None:
        try:
            await asyncio.wait_for(asyncio.gather(*(s.seen.wait() for s in screens)), WAIT_S)
        except TimeoutError:
            missing = [s for s in screens if not s.seen.is_set()]
            silent = sum(1 for s in missing if not s.messages)
            raise BenchFailed(
                f"waited {WAIT_S:.0f} s for {what}: {len(missing)} of {len(screens)} did not "
                f"({silent} of them received no message at all; connections per worker: "
                f"{self.figures.get('connections_per_worker')})"
            ) from None

    async def _burst(self, vote_id: int) -> dict[int, str]:
        """Every right holder casts at once (proxy holders for their NMOs too); returns the
        acknowledged ballots (nmo_id -> receipt)."""
        acknowledged: dict[int, str] = {}
        latencies: list[float] = []
        refused: list[str] = []
        retried: list[int] = []
        path = f"/api/votes/{vote_id}/ballots"

        def caster(seat: Phone, jar: Jar) -> Callable[[], Awaitable[None]]:
            body = {
                "ballots": [
                    {"nmo_id": nmo_id, "ballot_id": uuid.uuid4().hex, "choice": "yes"}
                    for nmo_id in seat.casts_for
                ]
            }

            async def cast() -> None:
                sent = time.perf_counter()
                try:
                    status, data = await self.http.request("POST", path, jar, body)
                except TransportError:
                    # The outcome is unknown: send the same ballots again, as a phone does
                    # (same ballot ids, so a ballot already recorded keeps its receipt).
                    retried.append(1)
                    try:
                        status, data = await self.http.request("POST", path, jar, body)
                    except TransportError as exc:
                        status, data = 0, repr(exc).encode()
                latencies.append(time.perf_counter() - sent)
                if status != 200:
                    refused.append(f"{status} {data[:200].decode(errors='replace')}")
                    return
                for ballot in json.loads(data)["ballots"]:
                    if ballot["status"] in ACKNOWLEDGED:
                        acknowledged[ballot["nmo_id"]] = ballot["receipt"]

            return cast

        casters = [
            caster(seat, jar)
            for seat, jar in zip(self.seeded.phones, self.jars, strict=True)
            if seat.casts_for
        ]
        await self._fresh_pool()  # the server has closed connections idle for 5 s
        started, cpu = time.perf_counter(), self._cpu()
        await bounded(self.concurrency, casters)
        elapsed = time.perf_counter() - started
        self._cpu_shares("burst", cpu, elapsed)
        f = self.figures
        f["ballot_requests"] = len(casters)
        f["ballots_acknowledged"] = len(acknowledged)
        f["ballots_refused"] = len(refused)
        f["ballot_retries"] = len(retried)
        f["burst_s"] = round(elapsed, 3)
        f["ballots_per_s"] = round(len(acknowledged) / elapsed, 1)
        f.update(summary_ms("ballot", latencies))
        if refused:
            f["first_refusal"] = refused[0]
        self.log(
            f"{len(acknowledged)} ballots acknowledged in {elapsed:.2f} s "
            f"({f['ballots_per_s']}/s), p99 {f['ballot_p99_ms']} ms, {len(refused)} refused."
        )
        return acknowledged

    async def _close(
        self, chair: Jar, vote_id: int, chair_screen: Screen, projector: Screen
    ) -> None:
        marker = f'data-vote-id="{vote_id}" data-state="closed"'
        chair_screen.expect(marker)
        projector.expect(marker)
        sent = time.perf_counter()
        await self.http.json("POST", f"/api/votes/{vote_id}/close", chair)
        self.figures["close_request_ms"] = ms(time.perf_counter() - sent)
        await self._wait([chair_screen, projector], "the chair and projector result")
        chair_ms = ms((chair_screen.seen_at or sent) - sent)
        projector_ms = ms((projector.seen_at or sent) - sent)
        self.figures.update(
            result_ms=max(chair_ms, projector_ms),
            result_chair_ms=chair_ms,
            result_projector_ms=projector_ms,
        )
        self.log(f"Vote closed: the result on screen after {self.figures['result_ms']} ms.")

    async def _count(self, chair: Jar, vote_id: int, acknowledged: dict[int, str]) -> None:
        """Every acknowledged ballot must be in the result: none of their NMOs is listed as
        not having voted, and the counts agree."""
        vote = await self.http.json("GET", f"/api/votes/{vote_id}", chair)
        turnout = await self.http.json("GET", f"/api/votes/{vote_id}/turnout", chair)
        not_voted = set(turnout.get("not_voted") or [])
        codes = self.seeded.codes
        lost = [nmo_id for nmo_id in acknowledged if codes[nmo_id] in not_voted]
        counted = int((vote.get("result") or {}).get("ballots", turnout["ballots"]))
        f = self.figures
        f["ballots_counted"] = counted
        f["lost_ballots"] = max(len(lost), len(acknowledged) - counted)
        f["result_yes"] = (vote.get("result") or {}).get("counts", {}).get("yes")

    async def _idle(self, jars: list[Jar]) -> None:
        """Open sockets up to `idle` phones in all (sessions reused round robin), hold them
        still and read the server's memory."""
        phones = len(self.sockets)
        extra = max(0, self.idle - phones)
        started = time.perf_counter()
        await bounded(CONNECTS_AT_ONCE, [self._opener(jars[i % len(jars)]) for i in range(extra)])
        self.log(f"{len(self.sockets)} idle sockets open ({time.perf_counter() - started:.1f} s).")
        await self._fresh_pool()
        await asyncio.sleep(2.0)
        self.figures["idle_phones"] = len(self.sockets)
        self.figures["idle_rss_mb"] = round(self.server.rss_mb(), 1)
        self.figures["idle_connections_per_worker"] = list(
            self.server.connections_per_worker().values()
        )


async def run_plenary(
    server: Server,
    seeded: Seeded,
    concurrency: int,
    idle: int,
    warm_up: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    from assembly.app import tune_gc

    # The load generator holds as many sockets as the server: without this its own full
    # collections (up to 0.3 s) would delay when it sees the messages it times.
    tune_gc()
    plenary = Plenary(server, seeded, concurrency, idle, warm_up, log)
    return await plenary.run()
