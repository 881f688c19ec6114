"""The `assembly` command: every command explains itself, `serve` refuses to start without a
key or on an unmigrated database, and an operator can go from nothing to an assembly."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from assembly.cli import main
from tests.conftest import SECRET

# Keys the CLI reads; each test states them all, so the caller's environment cannot leak in.
ENV_KEYS = (
    "ASSEMBLY_DATABASE_URL",
    "ASSEMBLY_REDIS_URL",
    "ASSEMBLY_SECRET_KEY",
    "ASSEMBLY_PUBLIC_URL",
    "ASSEMBLY_STAFF_PASSWORD",
    "ASSEMBLY_AUDIT_KEY_FILE",
    "ASSEMBLY_AUDIT_PASSPHRASE",
)


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subcommand, as the words an operator types after `assembly`."""
    for name, command in sorted(group.commands.items()):
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def cli_env(tmp_path: Path, **values: str | None) -> dict[str, str | None]:
    env: dict[str, str | None] = dict.fromkeys(ENV_KEYS)
    env["ASSEMBLY_DATABASE_URL"] = f"sqlite:///{tmp_path / 'assembly.sqlite3'}"
    env["ASSEMBLY_SECRET_KEY"] = SECRET
    env.update(values)
    return env


def run(args: list[str], env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_assembly_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in ("serve", "migrate", "demo", "staff", "assembly"):
        assert re.search(rf"^\s+{name}\s", result.output, re.MULTILINE), result.output


@pytest.mark.parametrize("path", list(command_paths(main)), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: "), result.output


def test_the_installed_assembly_command_runs() -> None:
    """The console script from pyproject.toml, run the way an operator runs it."""
    script = Path(sys.executable).with_name("assembly")
    assert script.exists(), f"{script} is missing: is the package installed (pip install -e .)?"
    done = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "General Assembly" in done.stdout


def test_serve_without_a_secret_key_refuses_and_says_how_to_make_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve"], env=cli_env(tmp_path, ASSEMBLY_SECRET_KEY=None))
    assert result.exit_code != 0
    assert "Set ASSEMBLY_SECRET_KEY" in result.output
    assert "secrets.token_urlsafe" in result.output


def test_serve_with_a_short_secret_key_refuses(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve"], env=cli_env(tmp_path, ASSEMBLY_SECRET_KEY="short"))
    assert result.exit_code != 0
    assert "at least 32 characters" in result.output


def test_serve_on_an_unmigrated_database_refuses_and_says_to_migrate(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", "1"], env=cli_env(tmp_path))
    assert result.exit_code != 0
    assert "has no schema yet" in result.output
    assert "Run `assembly migrate`" in result.output


def test_serve_refuses_several_workers_on_sqlite(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--workers", "2"], env=cli_env(tmp_path))
    assert result.exit_code != 0
    assert "More than one worker needs PostgreSQL" in result.output


def test_an_operator_migrates_adds_staff_and_creates_an_assembly(tmp_path: Path) -> None:
    env = cli_env(tmp_path)

    migrated = run(["migrate"], env)
    assert migrated.exit_code == 0, migrated.output
    assert "is at revision" in migrated.output
    again = run(["migrate"], env)  # idempotent: an upgrade at head changes nothing
    assert again.exit_code == 0, again.output

    added = run(
        ["staff", "add", "ana", "--role", "secretariat", "--password", "a long enough password"],
        env,
    )
    assert added.exit_code == 0, added.output
    assert "Staff account 'ana' (secretariat) created." in added.output
    twice = run(["staff", "add", "ana", "--role", "chair", "--password", "another password!"], env)
    assert twice.exit_code != 0
    assert "already a staff account 'ana'" in twice.output
    weak = CliRunner().invoke(
        main,
        ["staff", "add", "bo", "--role", "desk"],
        env={**env, "ASSEMBLY_STAFF_PASSWORD": "short"},
    )
    assert weak.exit_code != 0
    assert "at least 10 characters" in weak.output

    created = run(["assembly", "create", "Spring GA 2026", "--place", "Lisbon", "--proxies"], env)
    assert created.exit_code == 0, created.output
    match = re.fullmatch(r"Assembly (\d+) 'Spring GA 2026' created\.\n", created.output)
    assert match, created.output

    listed = run(["assembly", "list"], env)
    assert listed.exit_code == 0, listed.output
    assert f"{match.group(1)}\tSpring GA 2026\tLisbon" in listed.output


def test_commands_on_an_unmigrated_database_say_to_migrate(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["assembly", "list"], env=cli_env(tmp_path))
    assert result.exit_code != 0
    assert "Run `assembly migrate`" in result.output


def test_demo_without_serving_seeds_its_own_database_and_prints_every_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo keeps its database under ./var/
    result = run(["demo", "--no-serve", "--port", "8123"], cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "var" / "demo.sqlite3").exists()
    assert not (tmp_path / "assembly.sqlite3").exists()  # ASSEMBLY_DATABASE_URL is ignored
    assert "user chair / " in result.output
    links = re.findall(r"http://127\.0\.0\.1:8123/login/\S+", result.output)
    assert len(links) >= 10, result.output


def test_audit_keygen_seals_a_key_that_serve_needs(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "audit-key.json"
    env = cli_env(tmp_path, ASSEMBLY_PUBLIC_URL="https://ga.example.org")
    short = CliRunner().invoke(
        main, ["audit", "keygen", "--out", str(key_file), "--passphrase", "short"], env=env
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.output
    made = run(
        ["audit", "keygen", "--out", str(key_file), "--passphrase", "a long passphrase"], env
    )
    assert made.exit_code == 0, made.output
    assert "Verifier key (publish it): ga.example.org+" in made.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = key_file.read_text()
    assert "a long passphrase" not in sealed and '"scrypt"' in sealed.lower()
    again = CliRunner().invoke(
        main,
        ["audit", "keygen", "--out", str(key_file), "--passphrase", "another passphrase"],
        env=env,
    )
    assert again.exit_code != 0 and "never overwritten" in again.output
    assert key_file.read_text() == sealed

    assert run(["migrate"], env).exit_code == 0
    no_key = CliRunner().invoke(main, ["serve", "--port", "1"], env=env)
    assert no_key.exit_code != 0 and "Set ASSEMBLY_AUDIT_KEY_FILE" in no_key.output
    wrong = CliRunner().invoke(
        main,
        ["serve", "--port", "1"],
        env={
            **env,
            "ASSEMBLY_AUDIT_KEY_FILE": str(key_file),
            "ASSEMBLY_AUDIT_PASSPHRASE": "not the passphrase",
        },
    )
    assert wrong.exit_code != 0 and "ASSEMBLY_AUDIT_KEY_FILE" in wrong.output


def test_serve_runs_on_uvloop_and_httptools(tmp_path: Path) -> None:
    """`assembly serve` names its event loop and HTTP parser (both in C) instead of letting
    uvicorn fall back unnoticed to the pure-Python ones, which cost a quarter of a ballot's
    CPU: the running server process has both loaded."""
    import os

    from tests.e2e.conftest import free_port, wait_until_healthy

    port = free_port()
    key_file = tmp_path / "audit-key.json"
    env = cli_env(
        tmp_path,
        ASSEMBLY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        ASSEMBLY_AUDIT_KEY_FILE=str(key_file),
        ASSEMBLY_AUDIT_PASSPHRASE="a long passphrase",
    )
    keygen = ["audit", "keygen", "--out", str(key_file), "--passphrase", "a long passphrase"]
    assert run(keygen, env).exit_code == 0
    assert run(["migrate"], env).exit_code == 0
    log = tmp_path / "serve.log"
    script = Path(sys.executable).with_name("assembly")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, **{k: v for k, v in env.items() if v is not None}},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        maps = Path(f"/proc/{process.pid}/maps").read_text()
        assert re.search(r"/uvloop/loop\.cpython[^/]*\.so", maps), "uvloop is not loaded"
        assert re.search(r"/httptools/parser/parser\.cpython[^/]*\.so", maps), (
            "httptools is not loaded"
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
