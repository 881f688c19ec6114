"""`assembly bench`: seed a fresh database, start `assembly serve` on it and play a plenary,
in the embedded configuration (SQLite, one process) and the scale-out one (PostgreSQL, Redis,
two workers); print the figures, and with --json one line of JSON at the end."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

if TYPE_CHECKING:
    from assembly.bench.seed import Seeded
    from assembly.bench.server import Server
    from assembly.settings import Settings

EMBEDDED = "embedded"
SCALE_OUT = "scale-out"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"

# The figures printed as a table, in this order, with their labels.
TABLE = [
    ("delegates", "phones (delegates logged in)"),
    ("ballots_acknowledged", "ballots acknowledged"),
    ("fanout_p50_ms", "fan-out p50 (ms)"),
    ("fanout_p99_ms", "fan-out p99 (ms)"),
    ("fanout_max_ms", "fan-out max (ms)"),
    ("fanout_server_cores", "server CPU in the fan-out (cores)"),
    ("fanout_load_cores", "load generator CPU in the fan-out (cores)"),
    ("ballots_per_s", "ballots/s"),
    ("ballot_p50_ms", "ballot p50 (ms)"),
    ("ballot_p99_ms", "ballot p99 (ms)"),
    ("ballot_max_ms", "ballot max (ms)"),
    ("burst_server_cores", "server CPU in the burst (cores)"),
    ("burst_load_cores", "load generator CPU in the burst (cores)"),
    ("burst_machine_cores", "whole machine's CPU in the burst (cores)"),
    ("machine_cores", "cores of the machine"),
    ("result_ms", "close to result on screen (ms)"),
    ("baseline_rps", "GET /health requests/s"),
    ("baseline_server_cores", "server CPU for /health (cores)"),
    ("ballot_ratio", "ballots/s / health requests/s"),
    ("rss_mb", "server RSS (MiB)"),
    ("idle_phones", "idle phones"),
    ("idle_rss_mb", "server RSS with idle phones (MiB)"),
    ("lost_ballots", "lost ballots"),
]


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def _server_env(values: dict[str, str]) -> dict[str, str]:
    """The caller's environment without its ASSEMBLY_* settings, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSEMBLY_")}
    env.update(values)
    return env


def _audit_key(workdir: Path, public_url: str) -> tuple[Path, str]:
    """A signing key for this run only, sealed with a random passphrase at a low scrypt cost."""
    from assembly.audit import keys
    from assembly.audit.log import key_name

    passphrase = secrets.token_urlsafe(18)
    private_key, _ = keys.generate(key_name(public_url))
    path = workdir / "audit-key.json"
    path.write_bytes(keys.seal(private_key, passphrase, name=key_name(public_url), n=2**15))
    path.chmod(0o600)
    return path, passphrase


@dataclass
class Options:
    delegates: int
    concurrency: int
    idle: int
    postgres_url: str
    redis_url: str
    workers: int
    warm_up: bool


@dataclass
class Run:
    """One configuration's database, work directory and (not yet started) server."""

    config: str
    workdir: Path
    database_url: str
    server: Server
    settings: Settings

    def cleanup(self, log: Callable[[str], None]) -> None:
        from assembly.bench import BenchSetupError
        from assembly.bench.seed import drop_postgres_database

        self.server.stop()
        if self.database_url.startswith("postgresql"):
            try:
                drop_postgres_database(self.database_url)
            except BenchSetupError as exc:
                log(f"[{self.config}] could not drop {self.database_url}: {exc}")
        shutil.rmtree(self.workdir, ignore_errors=True)


def prepare(config: str, options: Options, runs: list[Run]) -> None:
    """Make the configuration's database (a file, or a PostgreSQL database of its own), its
    secrets and its server's environment; append it to `runs` (which cleans up after)."""
    from assembly.bench.seed import create_postgres_database, sqlite_url
    from assembly.bench.server import Server
    from assembly.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix=f"assembly-bench-{config}-"))
    scale_out = config == SCALE_OUT
    server = Server(workdir, {}, workers=options.workers if scale_out else 1)
    run = Run(config, workdir, sqlite_url(workdir), server, Settings())
    runs.append(run)
    if scale_out:
        run.database_url = create_postgres_database(options.postgres_url)
    key_file, passphrase = _audit_key(workdir, server.base_url)
    values = {
        "ASSEMBLY_SECRET_KEY": secrets.token_urlsafe(48),
        "ASSEMBLY_DATABASE_URL": run.database_url,
        "ASSEMBLY_PUBLIC_URL": server.base_url,
        "ASSEMBLY_AUDIT_KEY_FILE": str(key_file),
        "ASSEMBLY_AUDIT_PASSPHRASE": passphrase,
    }
    if scale_out:
        values["ASSEMBLY_REDIS_URL"] = options.redis_url
    server.env = _server_env(values)
    run.settings = Settings(
        database_url=run.database_url,
        secret_key=values["ASSEMBLY_SECRET_KEY"],
        public_url=server.base_url,
    )


def _timed_seed(settings: Settings, delegates: int) -> tuple[Seeded, float]:
    from assembly.bench.seed import seed

    started = time.perf_counter()
    seeded = seed(settings, delegates)
    return seeded, round(time.perf_counter() - started, 1)


def play(run: Run, seeded: Seeded, options: Options, log: Callable[[str], None]) -> dict[str, Any]:
    """Start the server on the seeded database and play the plenary against it."""
    from assembly.bench.load import run_plenary

    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    log(f"[{run.config}] starting assembly serve --workers {run.server.workers}")
    run.server.start()
    try:
        figures = asyncio.run(
            run_plenary(
                run.server,
                seeded,
                options.concurrency,
                options.idle,
                options.warm_up,
                lambda m: log(f"[{run.config}] {m}"),
            )
        )
    finally:
        run.server.stop()
    ratio = figures["ballots_per_s"] / figures["baseline_rps"] if figures["baseline_rps"] else 0
    return {
        "config": run.config,
        "delegates": options.delegates,
        "workers": run.server.workers,
        "concurrency": options.concurrency,
        "rights": seeded.rights,
        "proxies": sum(max(0, len(p.casts_for) - 1) for p in seeded.phones),
        **figures,
        "ballot_ratio": round(ratio, 3),
        # Other work on the machine shares its cores with the bench: say how busy it was.
        "loadavg_1m_before": round(load_before, 2),
        "machine_cores": os.cpu_count(),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "run_s": round(time.perf_counter() - started, 1),
    }


def run_configs(
    configs: list[str], options: Options, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Prepare every configuration, seed their databases side by side (each in a process of
    its own: seeding thousands of delegates through the services is the slowest part), then
    play them one after the other, so that no measurement shares the machine with another."""
    from assembly.bench import BenchSetupError
    from assembly.bench.load import BenchFailed

    runs: list[Run] = []
    results = []
    current: Run | None = None
    try:
        for config in configs:
            prepare(config, options, runs)
        log(f"seeding {options.delegates} NMOs and delegates for: {', '.join(configs)} ...")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(runs), mp_context=context) as pool:
            futures = [pool.submit(_timed_seed, r.settings, options.delegates) for r in runs]
            seeded = [f.result() for f in futures]
        for run, (seeds, seed_s) in zip(runs, seeded, strict=True):
            log(f"[{run.config}] seeded in {seed_s} s")
            current = run
            results.append({**play(run, seeds, options, log), "seed_s": seed_s})
    except (BenchSetupError, BenchFailed) as exc:
        where = f"[{current.config}] " if current else ""
        tail = f"\nServer log (last lines):\n{current.server.log_tail()}" if current else ""
        raise click.ClickException(f"{where}{exc}{tail}") from None
    finally:
        for run in runs:
            run.cleanup(log)
    return results


def _table(runs: list[dict[str, Any]]) -> str:
    width = max(len(label) for _, label in TABLE)
    lines = [f"{'':{width}}  " + "  ".join(f"{r['config']:>12}" for r in runs)]
    for key, label in TABLE:
        cells = "  ".join(f"{r.get(key, '-')!s:>12}" for r in runs)
        lines.append(f"{label:{width}}  {cells}")
    for r in runs:
        lines.append(
            f"[{r['config']}] connections per worker: {r.get('connections_per_worker')}"
            + (
                f", with the idle phones: {r['idle_connections_per_worker']}"
                if "idle_connections_per_worker" in r
                else ""
            )
        )
    return "\n".join(lines)


@click.command()
@click.option(
    "--delegates",
    default=2000,
    show_default=True,
    type=click.IntRange(2, 20_000),
    help="Delegates logged in, each with a phone socket; as many NMOs, one vote each, 5 % of "
    "them given by proxy.",
)
@click.option(
    "--config",
    "config",
    type=click.Choice([EMBEDDED, SCALE_OUT, "both"]),
    default=None,
    help="embedded: SQLite and one process; scale-out: PostgreSQL, Redis and --workers "
    "processes. Default: both when PostgreSQL and Redis answer, else embedded.",
)
@click.option(
    "--concurrency",
    default=64,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="HTTP requests in flight at once (logins, the ballot burst and the baseline).",
)
@click.option(
    "--idle",
    default=0,
    show_default=True,
    type=click.IntRange(0, 50_000),
    help="After the vote, hold this many phone sockets open in all and report the server's "
    "memory (e.g. 10000); 0 skips this.",
)
@click.option(
    "--database-url",
    default=DEFAULT_POSTGRES,
    show_default=True,
    help="PostgreSQL server for scale-out: the bench creates a database of its own there "
    "(assembly_bench_<random>) and drops it afterwards.",
)
@click.option("--redis-url", default=DEFAULT_REDIS, show_default=True, help="Redis for scale-out.")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(2, 16),
    help="Server processes in the scale-out configuration.",
)
@click.option(
    "--warm-up/--no-warm-up",
    default=True,
    show_default=True,
    help="Scale-out: open phones one by one until every worker holds one before the rest "
    "connect at once (works around a start-up race of the Redis channels; see BENCHMARKS.md).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="End the output with one line of JSON: the figures of the configuration, or with "
    '--config both {"config": "both", "delegates": N, "runs": [one per configuration]}.',
)
def bench(
    delegates: int,
    config: str | None,
    concurrency: int,
    idle: int,
    database_url: str,
    redis_url: str,
    workers: int,
    warm_up: bool,
    as_json: bool,
) -> None:
    """Simulate a plenary against a real `assembly serve` on a fresh database: phones log in
    and hold their sockets, the chair opens a vote, every delegate casts at once, the chair
    closes it. Reports fan-out, ballots/s, latencies, time to result, server memory and a
    GET /health baseline, and checks that no acknowledged ballot is lost."""
    if not database_url.startswith(("postgresql://", "postgres://")):
        raise click.ClickException("--database-url must be a postgresql:// URL.")
    scale_out_ready = reachable(database_url, 5432) and reachable(redis_url, 6379)
    if config is None:
        config = "both" if scale_out_ready else EMBEDDED
        if not scale_out_ready:
            click.echo(
                f"PostgreSQL ({database_url}) or Redis ({redis_url}) does not answer: running the "
                "embedded configuration only.",
                err=True,
            )
    configs = [EMBEDDED, SCALE_OUT] if config == "both" else [config]
    if SCALE_OUT in configs and not scale_out_ready:
        raise click.ClickException(
            f"The scale-out configuration needs PostgreSQL at {database_url} and Redis at "
            f"{redis_url}; one of them does not answer (see --database-url and --redis-url)."
        )
    from assembly.bench.server import raise_fd_limit

    raise_fd_limit()

    def log(message: str) -> None:
        click.echo(message, err=True)

    options = Options(delegates, concurrency, idle, database_url, redis_url, workers, warm_up)
    runs = run_configs(configs, options, log)
    click.echo(_table(runs))
    if any(r["lost_ballots"] for r in runs):
        click.echo("LOST BALLOTS: an acknowledged ballot is missing from the result.", err=True)
    if as_json:
        line: dict[str, Any] = (
            runs[0] if len(runs) == 1 else {"config": "both", "delegates": delegates, "runs": runs}
        )
        sys.stdout.flush()
        click.echo(json.dumps(line, separators=(",", ":")))
    if any(r["lost_ballots"] for r in runs):
        sys.exit(1)
