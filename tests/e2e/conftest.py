"""Browser tests: a real `assembly serve` process on a seeded demo database, driven by
Debian's Chromium through playwright (its own browser download is not used).

Outside CI the tests skip, saying why, when Chromium or playwright is missing; in CI they fail.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from assembly.demo import DEMO_AUDIT_KEY, DEMO_AUDIT_PASSPHRASE, DEMO_SECRET
from tests.conftest import need_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-results" / "screenshots"
CHROMIUM = os.environ.get("ASSEMBLY_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
START_TIMEOUT_S = 60.0

# "    ANEMF         Camille Martin (head)              http://127.0.0.1:8000/login/..."
LINK_LINE = re.compile(
    r"^\s+(?P<code>\S+)\s+(?P<name>.+?) \((?P<role>head|delegate)\)\s+(?P<url>http\S+)$"
)


@dataclass(frozen=True)
class DelegateLink:
    nmo_code: str
    name: str
    role: str
    url: str


@dataclass(frozen=True)
class DemoServer:
    """A running server: its address, the demo's delegate links and its log file."""

    base_url: str
    links: tuple[DelegateLink, ...]
    log: Path

    def head_of(self, nmo_code: str) -> DelegateLink:
        return next(d for d in self.links if d.nmo_code == nmo_code and d.role == "head")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def parse_links(report: str) -> tuple[DelegateLink, ...]:
    return tuple(
        DelegateLink(m["code"], m["name"], m["role"], m["url"])
        for m in map(LINK_LINE.match, report.splitlines())
        if m
    )


def server_env(**values: str) -> dict[str, str]:
    """The caller's environment without its ASSEMBLY_* settings, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSEMBLY_")}
    env.update(values)
    return env


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(f"{base_url}/health", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.1)
    pytest.fail(
        f"the server did not become healthy in {START_TIMEOUT_S}s ({last}):\n{log.read_text()}"
    )


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """`assembly demo --no-serve` in a temporary directory, then `assembly serve` on its
    database, on 127.0.0.1 and a free port; stopped at the end of the session."""
    with serve_demo(tmp_path_factory.mktemp("e2e-demo")) as server:
        yield server


@contextmanager
def serve_demo(workdir: Path, serve: list[str] | None = None) -> Iterator[DemoServer]:
    """A demo server of its own in `workdir`, for a module that changes the demo's state
    (see demo_server); stopped when the block ends. `serve`: the command that serves (it gets
    --host and --port), `assembly serve` unless given; its output goes to server.log."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "assembly.cli"]
    # The demo keeps its database at ./var/demo.sqlite3 and prints links for --host/--port.
    seeded = subprocess.run(
        [*cli, "demo", "--no-serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=server_env(ASSEMBLY_SECRET_KEY=DEMO_SECRET),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seeded.returncode == 0, f"assembly demo failed:\n{seeded.stdout}\n{seeded.stderr}"
    links = parse_links(seeded.stdout)
    assert links, f"no delegate links in the demo's report:\n{seeded.stdout}"

    log = workdir / "server.log"
    env = server_env(
        ASSEMBLY_SECRET_KEY=DEMO_SECRET,
        ASSEMBLY_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'var' / 'demo.sqlite3'}",
        ASSEMBLY_PUBLIC_URL=base_url,
        ASSEMBLY_AUDIT_KEY_FILE=str(workdir / DEMO_AUDIT_KEY),
        ASSEMBLY_AUDIT_PASSPHRASE=DEMO_AUDIT_PASSPHRASE,
    )
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*(serve or [*cli, "serve"]), "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(base_url, process, log)
        yield DemoServer(base_url=base_url, links=links, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; package scope so that it is closed before other tests."""
    if not Path(CHROMIUM).exists():
        need_service("Chromium", f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need_service(
            "playwright", "the playwright package is not installed (pip install -e '.[dev]')"
        )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_context(
    browser: Browser, demo_server: DemoServer
) -> Iterator[Callable[..., BrowserContext]]:
    """new_context(phone=True) opens a fresh browser profile (no cookies) on the server."""
    opened: list[BrowserContext] = []

    def factory(*, phone: bool = False) -> BrowserContext:
        context = browser.new_context(
            base_url=demo_server.base_url,
            viewport=PHONE if phone else DESKTOP,  # type: ignore[arg-type]
            is_mobile=phone,
            has_touch=phone,
        )
        context.set_default_timeout(10_000)
        opened.append(context)
        return context

    yield factory
    for context in opened:
        context.close()


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """screenshot(page, "after-login") saves test-results/screenshots/<test>-after-login.png."""

    def take(page: Page, label: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", f"{request.node.name}-{label}")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
