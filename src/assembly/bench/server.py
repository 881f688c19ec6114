"""`assembly serve` as a child process of the bench: its environment, its health, the memory
of its processes and how many connections each worker holds (read from /proc)."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from assembly.bench import BenchSetupError

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
_TCP_ESTABLISHED = "01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def raise_fd_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit; return the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _child_setup() -> None:
    """In the server process, before exec: all the file descriptors it may have, and end it
    if the bench dies (Linux), so that no server outlives its bench."""
    raise_fd_limit()
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def cpu_s(pid: int) -> float:
    """A process's user + system CPU time in seconds (/proc/<pid>/stat fields 14 and 15)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 onwards
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return set()
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _established_inodes(port: int) -> set[str]:
    """Inodes of the established TCP sockets whose local port is `port` (the server side)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _TCP_ESTABLISHED and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


@dataclass
class Server:
    """One `assembly serve` process (and its workers) on 127.0.0.1:port."""

    workdir: Path
    env: dict[str, str]
    workers: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.port}.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        command = [sys.executable, "-m", "assembly.cli", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup,  # before exec: no threads in the bench yet
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchSetupError(
                    f"assembly serve exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                response = httpx.get(f"{self.base_url}/health", timeout=2)
                if response.status_code == 200 and len(self.worker_pids()) >= self.workers:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.1)
        self.stop()
        raise BenchSetupError(
            f"assembly serve did not answer in {START_TIMEOUT_S:.0f} s ({last}):\n{self.log_tail()}"
        )

    def pids(self) -> list[int]:
        """The server's process and every process below it."""
        if self.process is None:
            return []
        found = [self.process.pid]
        for pid in found:
            found.extend(_children(pid))
        return found

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: the children of uvicorn's supervisor when it
        runs several workers, else the one process."""
        if self.process is None:
            return []
        if self.workers == 1:
            return [self.process.pid]
        # uvicorn spawns its workers through multiprocessing, which may add a helper
        # process (a resource tracker) that holds no listening socket.
        return [pid for pid in _children(self.process.pid) if self._listens(pid)]

    def _listens(self, pid: int) -> bool:
        listening = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == self.port:
                    listening.add(fields[9])
        return bool(listening & _socket_inodes(pid))

    def cpu_s(self) -> float:
        """CPU time (user + system) used so far by all the server's processes, in seconds."""
        return sum(cpu_s(pid) for pid in self.pids())

    def rss_mb(self) -> float:
        """Resident memory of all the server's processes together, in MiB."""
        return sum(rss_kib(pid) for pid in self.pids()) / 1024

    def connections_per_worker(self) -> dict[int, int]:
        """Established client connections held by each worker process, by pid."""
        established = _established_inodes(self.port)
        return {pid: len(_socket_inodes(pid) & established) for pid in self.worker_pids()}

    def stop(self) -> None:
        if self.process is None:
            return
        commands = {pid: _cmdline(pid) for pid in self.pids()[1:]}
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        # A worker left behind by its supervisor: end it by its own pid, once sure that the
        # pid still names that process (same command line).
        for pid, cmdline in commands.items():
            if _cmdline(pid) == cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
