"""The `assembly` command for operators: serve, migrate, demo and the credentials commands."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from assembly.settings import Settings, SettingsError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def run_db(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(session)` in one transaction against the configured database."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from assembly.db import UnmigratedDatabase, check_migrated, create_engine
    from assembly.errors import DomainError

    async def main() -> T:
        engine = create_engine(settings)
        try:
            await check_migrated(engine, settings)
            async with async_sessionmaker(engine, expire_on_commit=False)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except UnmigratedDatabase as exc:
        raise click.ClickException(str(exc)) from None
    except DomainError as exc:
        lines = [exc.message]
        for err in getattr(exc, "errors", []):
            lines.append(
                f"  row {err.get('row')}, column {err.get('column')}: {err.get('message')}"
            )
        raise click.ClickException("\n".join(lines)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="assembly")
def main() -> None:
    """Run a federation's General Assembly: credentials, votes and a verifiable record.

    Configuration comes from ASSEMBLY_* environment variables (see the README).
    """


def migrate_database(settings: Settings) -> str | None:
    from alembic import command

    from assembly.db import alembic_config, head_revision

    command.upgrade(alembic_config(settings), "head")
    return head_revision(settings)


def listen_options(fn: F) -> F:
    """--host and --port, defaulting to $HOST and $PORT (127.0.0.1:8000)."""
    fn = click.option(
        "--port",
        default=lambda: int(os.environ.get("PORT", "8000")),
        type=int,
        show_default="8000 or $PORT",
    )(fn)
    return click.option(
        "--host",
        default=lambda: os.environ.get("HOST", "127.0.0.1"),
        show_default="127.0.0.1 or $HOST",
    )(fn)


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema to this version."""
    from assembly.db import describe_database

    settings = load_settings()
    head = migrate_database(settings)
    click.echo(f"Database {describe_database(settings)} is at revision {head}.")


@main.command()
@listen_options
@click.option(
    "--workers",
    default=1,
    type=click.IntRange(1, 64),
    show_default=True,
    help="Server processes sharing the port (use PostgreSQL and Redis for more than 1).",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the assembly over HTTP and WebSockets."""
    settings = load_settings()
    if settings.ephemeral_secret:
        raise click.ClickException(
            "Set ASSEMBLY_SECRET_KEY (at least 32 characters) before serving: it seals the "
            "delegates' login tokens. This makes one: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    if workers > 1 and (settings.is_sqlite or not settings.redis_url):
        raise click.ClickException(
            "More than one worker needs PostgreSQL (ASSEMBLY_DATABASE_URL) and Redis "
            "(ASSEMBLY_REDIS_URL), so that every process sees the same votes and events."
        )
    _check_schema_or_exit(settings)
    if settings.audit_key_file is None:
        raise click.ClickException(
            "Set ASSEMBLY_AUDIT_KEY_FILE and ASSEMBLY_AUDIT_PASSPHRASE before serving: the key "
            "signs the audit log's checkpoints, which must still verify after a restart. "
            "This makes one: assembly audit keygen --out var/audit-key.json"
        )
    _load_audit_key_or_exit(settings)
    _run_server(host, port, workers)


def _load_audit_key_or_exit(settings: Settings) -> str:
    """Open the sealed key now, so a wrong passphrase stops the start with a clear message."""
    from assembly.audit.log import load_audit_key

    try:
        return load_audit_key(settings).verifier_key
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _check_schema_or_exit(settings: Settings) -> None:
    from assembly.db import UnmigratedDatabase, check_migrated, create_engine

    async def check() -> None:
        engine = create_engine(settings)
        try:
            await check_migrated(engine, settings)
        finally:
            await engine.dispose()

    try:
        asyncio.run(check())
    except UnmigratedDatabase as exc:
        raise click.ClickException(str(exc)) from None


def _run_server(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "assembly.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws_per_message_deflate=False,
        log_level="info",
        access_log=False,  # request lines carry login tokens in /login/... paths
    )


@main.command()
@listen_options
@click.option(
    "--fresh/--keep", default=True, show_default=True, help="Start from an empty demo database."
)
@click.option("--no-serve", is_flag=True, help="Only seed and print the links.")
def demo(host: str, port: int, fresh: bool, no_serve: bool) -> None:
    """Seed a demo assembly on SQLite and serve it, printing every screen's link."""
    from assembly.demo import (
        DEMO_AUDIT_KEY,
        DEMO_AUDIT_PASSPHRASE,
        DEMO_DB,
        DEMO_SECRET,
        seed_demo,
        write_demo_audit_key,
    )

    os.environ.setdefault("ASSEMBLY_SECRET_KEY", DEMO_SECRET)
    # The demo's own signing key, made once, sealed with a passphrase everyone can read.
    os.environ["ASSEMBLY_AUDIT_KEY_FILE"] = str(DEMO_AUDIT_KEY)
    os.environ["ASSEMBLY_AUDIT_PASSPHRASE"] = DEMO_AUDIT_PASSPHRASE
    # The demo always runs embedded, whatever ASSEMBLY_DATABASE_URL says for production.
    os.environ["ASSEMBLY_DATABASE_URL"] = f"sqlite+aiosqlite:///{DEMO_DB}"
    public = f"http://{host}:{port}"
    os.environ["ASSEMBLY_PUBLIC_URL"] = public
    settings = load_settings()
    if fresh and settings.sqlite_path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.sqlite_path}{suffix}").unlink(missing_ok=True)
    migrate_database(settings)
    if not DEMO_AUDIT_KEY.exists():
        write_demo_audit_key(settings)
    verifier = _load_audit_key_or_exit(settings)
    report = run_db(settings, lambda db: seed_demo(db, settings))
    click.echo(report)
    click.echo(f"  Audit log verifier key: {verifier}")
    sys.stdout.flush()
    if not no_serve:
        _run_server(host, port, 1)


@main.group()
def audit() -> None:
    """The signed audit log: its signing key, export and offline verification."""


@audit.command("keygen")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the sealed key file (never overwritten).",
)
@click.option(
    "--name",
    default=None,
    help="The key's name in signatures (default: ASSEMBLY_PUBLIC_URL without the scheme).",
)
@click.option(
    "--passphrase",
    envvar="ASSEMBLY_AUDIT_PASSPHRASE",
    help="Asked for (twice) when not given (or $ASSEMBLY_AUDIT_PASSPHRASE).",
)
def audit_keygen(out: Path, name: str | None, passphrase: str | None) -> None:
    """Make the Ed25519 key that signs checkpoints, sealed with a passphrase (scrypt and
    AES-256-GCM), and print the verifier key that members check signatures with."""
    from assembly.audit import keys
    from assembly.audit.log import key_name

    if out.exists():
        raise click.ClickException(f"{out} exists; a signing key is never overwritten.")
    name = name or key_name(load_settings().public_url)
    if passphrase is None:
        passphrase = click.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=True, show_default=False
        )
    if len(passphrase) < 12:
        raise click.ClickException("The passphrase must be at least 12 characters long.")
    try:
        private_key, verifier = keys.generate(name)
        sealed = keys.seal(private_key, passphrase, name=name)
    except keys.KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "xb") as handle:
        handle.write(sealed)
    out.chmod(0o600)
    click.echo(f"Signing key written to {out} (readable by you only).")
    click.echo(f"Verifier key (publish it): {verifier}")
    click.echo(f"Serve with ASSEMBLY_AUDIT_KEY_FILE={out} and ASSEMBLY_AUDIT_PASSPHRASE set.")


@audit.command("export")
@click.option("--assembly", "assembly_id", type=int, required=True, help="The assembly's id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write (JSON: entries, checkpoints, cosignatures, verifier key).",
)
def audit_export(assembly_id: int, out: Path) -> None:
    """Write the assembly's whole audit log to one file that `audit verify` checks."""
    from assembly.audit import log, verify
    from assembly.audit.keys import KeyFileError, read_verifier_key
    from assembly.credentials.service import get_assembly

    settings = load_settings()
    if settings.audit_key_file is None:
        raise click.ClickException(
            "Set ASSEMBLY_AUDIT_KEY_FILE: the export carries the key's public half."
        )
    try:
        verifier = str(read_verifier_key(settings.audit_key_file.read_bytes()))
    except (OSError, KeyFileError) as exc:
        raise click.ClickException(f"ASSEMBLY_AUDIT_KEY_FILE: {exc}") from None

    async def export(db: Any) -> dict[str, Any]:
        await get_assembly(db, assembly_id)
        entries = await log.entries(db, assembly_id)
        checkpoints = await log.checkpoints(db, assembly_id)
        return verify.export_document(
            log.origin_of(settings.public_url, assembly_id),
            verifier,
            [(e.seq, e.data) for e in entries],
            [c.note for c in checkpoints],
        )

    document = run_db(settings, export)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    click.echo(
        f"Wrote {len(document['entries'])} entries and {len(document['checkpoints'])} "
        f"checkpoints to {out}."
    )


@audit.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--checkpoint",
    "saved",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint you saved earlier (repeatable): the log must extend it.",
)
@click.option(
    "--key",
    default=None,
    help="The assembly's published verifier key, or a file holding it.",
)
def audit_verify(file: Path, saved: tuple[Path, ...], key: str | None) -> None:
    """Check an exported log offline: signatures, roots, saved checkpoints and every vote's
    result re-tallied from its ballots. Exits 0 only when everything holds."""
    from assembly.audit import verify

    if key is not None and Path(key).is_file():
        key = Path(key).read_text().strip()
    try:
        document = verify.load(file.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{file} cannot be read as an export: {exc}") from None
    report = verify.verify(document, key=key, saved=[path.read_text() for path in saved])
    for note in report.notes:
        click.echo(f"note: {note}")
    for failure in report.failures:
        click.echo(f"FAIL: {failure}")
    click.echo(
        f"{report.entries} entries, {report.checkpoints} signed checkpoints, "
        f"{report.votes} votes re-tallied: "
        + ("everything holds." if report.ok else f"{len(report.failures)} failures.")
    )
    if not report.ok:
        sys.exit(1)


@main.group()
def staff() -> None:
    """Staff accounts (secretariat, chair, credentials desk)."""


@staff.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["secretariat", "chair", "desk"]), required=True)
@click.option("--name", "display_name", default="", help="Name shown on screens.")
@click.option(
    "--password",
    envvar="ASSEMBLY_STAFF_PASSWORD",
    help="Asked for when not given (or $ASSEMBLY_STAFF_PASSWORD).",
)
def staff_add(username: str, role: str, display_name: str, password: str | None) -> None:
    """Create a staff account; the password is stored as an Argon2id hash."""
    from assembly.credentials import service

    if password is None:
        password = getpass.getpass("Password: ")
    settings = load_settings()
    user = run_db(
        settings, lambda db: service.add_staff(db, username, password, role, display_name)
    )
    click.echo(f"Staff account {user.username!r} ({user.role}) created.")


@main.group(name="assembly")
def assembly_group() -> None:
    """Create and list assemblies."""


@assembly_group.command("create")
@click.argument("name")
@click.option("--place", default="")
@click.option("--proxies/--no-proxies", default=False, show_default=True)
@click.option("--max-proxies", default=1, type=int, show_default=True)
@click.option(
    "--quorum", default="1/2", show_default=True, help="Share of Full Members, e.g. 1/2 or 1/3."
)
@click.option(
    "--at-least", is_flag=True, help="Quorum is 'at least' the share (default: 'more than')."
)
def assembly_create(
    name: str, place: str, proxies: bool, max_proxies: int, quorum: str, at_least: bool
) -> None:
    """Create a General Assembly."""
    from assembly.credentials import service

    settings = load_settings()
    a = run_db(
        settings,
        lambda db: service.create_assembly(
            db,
            "cli",
            name,
            place=place,
            proxies_enabled=proxies,
            max_proxies=max_proxies,
            quorum_share=quorum,
            quorum_strict=not at_least,
        ),
    )
    click.echo(f"Assembly {a.id} {a.name!r} created.")


@assembly_group.command("list")
def assembly_list() -> None:
    """List assemblies."""
    from sqlalchemy import select

    from assembly.credentials.models import Assembly

    async def work(db: Any) -> list[Assembly]:
        return list((await db.execute(select(Assembly).order_by(Assembly.id))).scalars())

    for a in run_db(load_settings(), work):
        click.echo(f"{a.id}\t{a.name}\t{a.place}")


@main.command("import")
@click.argument("kind", type=click.Choice(["nmos", "delegates"]))
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--assembly", "assembly_id", type=int, required=True)
def import_csv(kind: str, csv_file: Path, assembly_id: int) -> None:
    """Import NMOs or delegates from CSV: every row is checked, then all are stored or none.

    NMOs: code,name,country,member_class,weight. Delegates: nmo_code,name,email,role,language.
    """
    from assembly.app import AppContext  # noqa: F401  (keeps import order stable)
    from assembly.credentials import importing, service
    from assembly.credentials.auth import TokenSealer

    settings = load_settings()
    text = csv_file.read_text(encoding="utf-8-sig")

    async def work(db: Any) -> int:
        a = await service.get_assembly(db, assembly_id)
        if kind == "nmos":
            return await importing.import_nmos(db, a, "cli", text)
        return await importing.import_delegates(
            db, TokenSealer(settings.secret_key), a, "cli", text
        )

    if kind == "delegates" and settings.ephemeral_secret:
        raise click.ClickException(
            "Set ASSEMBLY_SECRET_KEY first: it seals the delegates' login tokens."
        )
    count = run_db(settings, work)
    click.echo(f"Imported {count} {kind}.")


@main.group()
def token() -> None:
    """Delegates' login links."""


@token.command("reissue")
@click.argument("delegate_id", type=int)
def token_reissue(delegate_id: int) -> None:
    """Revoke a delegate's login link, end their sessions and print the new link."""
    from assembly.credentials import service
    from assembly.credentials.auth import TokenSealer

    settings = load_settings()

    async def work(db: Any) -> str:
        d = await service.get_delegate(db, delegate_id)
        return await service.reissue_token(db, TokenSealer(settings.secret_key), d, "cli")

    new = run_db(settings, work)
    click.echo(f"{settings.public_url}/login/{new}")


@token.command("links")
@click.option("--assembly", "assembly_id", type=int, required=True)
def token_links(assembly_id: int) -> None:
    """Print every delegate's current login link (tab separated)."""
    from sqlalchemy import select

    from assembly.credentials import service
    from assembly.credentials.auth import TokenSealer
    from assembly.credentials.models import Delegate, Nmo

    settings = load_settings()
    sealer = TokenSealer(settings.secret_key)

    async def work(db: Any) -> list[str]:
        rows = await db.execute(
            select(Delegate, Nmo.code)
            .join(Nmo, Nmo.id == Delegate.nmo_id)
            .where(Nmo.assembly_id == assembly_id)
            .order_by(Nmo.code, Delegate.id)
        )
        return [
            "\t".join(
                (
                    code,
                    d.name,
                    d.role,
                    f"{settings.public_url}/login/{service.login_token(sealer, d)}",
                )
            )
            for d, code in rows.all()
        ]

    for line in run_db(settings, work):
        click.echo(line)


@main.command()
@click.option("--assembly", "assembly_id", type=int, required=True)
def quorum(assembly_id: int) -> None:
    """Print the live quorum of an assembly."""
    from assembly.credentials import service

    async def work(db: Any) -> str:
        a = await service.get_assembly(db, assembly_id)
        return (await service.standing(db, a)).quorum.explain()

    click.echo(run_db(load_settings(), work))


if __name__ == "__main__":
    main()
