"""`assembly bench` run as a real command with a small plenary: the last line of its output is
the figures as JSON, and no acknowledged ballot is lost, embedded and scale-out."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import TEST_DB_URL, TEST_REDIS_URL, need_service, reachable

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
REQUIRED = {
    "delegates",
    "fanout_p99_ms",
    "ballots_per_s",
    "ballot_p99_ms",
    "result_ms",
    "rss_mb",
    "baseline_rps",
    "lost_ballots",
    "config",
}
DELEGATES = 40
CLI = [sys.executable, "-m", "assembly.cli", "bench"]


def run_bench(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [*CLI, "--delegates", str(DELEGATES), "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"assembly bench failed:\n{done.stdout}\n{done.stderr}"
    last = done.stdout.strip().splitlines()[-1]
    figures: dict[str, Any] = json.loads(last)
    return figures


def check_figures(figures: dict[str, Any], config: str) -> None:
    assert figures.keys() >= REQUIRED, f"missing: {REQUIRED - figures.keys()}"
    assert figures["config"] == config
    assert figures["delegates"] == DELEGATES
    assert figures["lost_ballots"] == 0
    # Every NMO's vote is cast (5 % of them by proxy) and every one is acknowledged and counted.
    assert figures["ballots_acknowledged"] == DELEGATES
    assert figures["ballots_counted"] == figures["ballots_acknowledged"]
    assert figures["ballots_refused"] == 0
    assert figures["proxies"] == DELEGATES * 5 // 100
    assert figures["ballots_per_s"] > 0 and figures["rss_mb"] > 0
    # Which side was busy, in each timed phase: the server or the load generator.
    for phase in ("baseline", "fanout", "burst"):
        assert figures[f"{phase}_server_cores"] > 0, phase
        assert figures[f"{phase}_load_cores"] >= 0, phase
        # The whole machine's busy CPU (database and Redis included), read from /proc/stat in
        # ticks of 10 ms per core: a short phase of this small bench is only a few of them.
        assert 0 <= figures[f"{phase}_machine_cores"] <= figures["machine_cores"] + 0.5, phase


@pytest.mark.skipif(
    bool(TEST_DB_URL), reason="the embedded bench always runs on SQLite; the SQLite pass runs it"
)
def test_bench_embedded_prints_its_figures_as_json_and_loses_no_ballot() -> None:
    check_figures(run_bench("--config", "embedded"), "embedded")


@pytest.mark.redis
def test_bench_scale_out_spreads_phones_over_two_workers_and_loses_no_ballot() -> None:
    if not reachable(POSTGRES_URL):
        need_service("PostgreSQL", f"{POSTGRES_URL} does not answer")
    if not reachable(TEST_REDIS_URL):
        need_service("Redis", f"{TEST_REDIS_URL} does not answer")
    figures = run_bench(
        "--config",
        "scale-out",
        "--database-url",
        POSTGRES_URL,
        "--redis-url",
        TEST_REDIS_URL,
    )
    check_figures(figures, "scale-out")
    assert figures["workers"] == 2
    per_worker = figures["connections_per_worker"]
    assert len(per_worker) == 2 and sum(per_worker) >= DELEGATES
