"""The `assembly` command for operators: serve, migrate, demo and the credentials commands."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assembly.settings import Settings, SettingsError

if TYPE_CHECKING:
    from assembly.audit import notes

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

    from assembly.db import UnmigratedDatabase, check_migrated, create_engine, writing
    from assembly.errors import DomainError

    async def main() -> T:
        engine = create_engine(settings)
        try:
            await check_migrated(engine, settings)
            # A command may run beside a serving process: wait for its writer, don't fail.
            async with writing(async_sessionmaker(engine, expire_on_commit=False)) as db:
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


def server_loop() -> str:
    """uvloop where it exists (not on Windows), named rather than "auto" so that a missing
    install fails at start instead of serving on the slower loop unnoticed."""
    return "asyncio" if sys.platform == "win32" else "uvloop"


def _run_server(host: str, port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "assembly.app:create_server_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop=server_loop(),
        http="httptools",
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
    """The signed audit log: its signing key, export, offline verification and witnesses."""


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
    from assembly.audit import notes
    from assembly.audit.log import key_name

    if out.exists():
        raise click.ClickException(f"{out} exists; a signing key is never overwritten.")
    name = name or key_name(load_settings().public_url)
    verifier = _write_sealed_key(out, name, passphrase, notes.KeyType.ed25519)
    click.echo(f"Signing key written to {out} (readable by you only).")
    click.echo(f"Verifier key (publish it): {verifier}")
    click.echo(f"Serve with ASSEMBLY_AUDIT_KEY_FILE={out} and ASSEMBLY_AUDIT_PASSPHRASE set.")


def _write_sealed_key(out: Path, name: str, passphrase: str | None, key_type: notes.KeyType) -> str:
    """Make an Ed25519 key of `key_type`, seal it with the passphrase (asked for twice when
    not given) into `out`, readable by its owner only; return its verifier key."""
    from assembly.audit import keys

    if passphrase is None:
        passphrase = click.prompt(
            "Passphrase", hide_input=True, confirmation_prompt=True, show_default=False
        )
    if len(passphrase) < 12:
        raise click.ClickException("The passphrase must be at least 12 characters long.")
    try:
        private_key, verifier = keys.generate(name, key_type)
        sealed = keys.seal(private_key, passphrase, name=name, key_type=key_type)
    except keys.KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "xb") as handle:
        handle.write(sealed)
    out.chmod(0o600)
    return verifier


def _configured_verifier(settings: Settings) -> str:
    from assembly.audit.keys import KeyFileError, read_verifier_key

    if settings.audit_key_file is None:
        raise click.ClickException(
            "The log has no signed checkpoint yet; set ASSEMBLY_AUDIT_KEY_FILE so the export "
            "carries the verifier key."
        )
    try:
        return str(read_verifier_key(settings.audit_key_file.read_bytes()))
    except (OSError, KeyFileError) as exc:
        raise click.ClickException(f"ASSEMBLY_AUDIT_KEY_FILE: {exc}") from None


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
    from assembly.audit.export import document_text, log_document
    from assembly.credentials.service import get_assembly

    settings = load_settings()

    async def export(db: Any) -> dict[str, Any]:
        await get_assembly(db, assembly_id)
        # The key that signed the checkpoints is stored with them; the key file is read only
        # for a log that has no checkpoint yet (or only ones signed before that was stored).
        return await log_document(
            db, assembly_id, settings.public_url, lambda: _configured_verifier(settings)
        )

    document = run_db(settings, export)
    out.write_text(document_text(document))
    click.echo(
        f"Wrote {len(document['entries'])} entries, {len(document['checkpoints'])} "
        f"checkpoints and {len(document['cosignatures'])} witness cosignatures to {out}."
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
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="The verifier key of a witness you trust, or a file holding it (repeatable): the "
    "report says which of them cosigned the latest checkpoint.",
)
def audit_verify(
    file: Path, saved: tuple[Path, ...], key: str | None, witnesses: tuple[str, ...]
) -> None:
    """Check an exported log offline: signatures, roots, saved checkpoints, the witnesses'
    cosignatures and every vote's result re-tallied from its ballots. FILE may also be a
    signed record bundle (zip): its checkpoint.txt counts as a saved checkpoint, and every
    exported file in it must be the one its record_published entry lists. Exits 0 only when
    everything holds."""
    from assembly.audit import verify, verify_bundle

    if key is not None:
        key = _key_text(key)
    texts = [path.read_text() for path in saved]
    names = [f"saved checkpoint {number}" for number in range(len(texts))]
    bundle = None
    try:
        if verify_bundle.is_bundle(file):
            bundle = verify_bundle.read_bundle(file)
            document = bundle.document
        else:
            document = verify.load(file.read_text())
    except verify_bundle.BundleError as exc:
        raise click.ClickException(f"{file} cannot be read as a record bundle: {exc}") from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{file} cannot be read as an export: {exc}") from None
    if bundle is not None and bundle.checkpoint is not None:
        texts.append(bundle.checkpoint)
        names.append(verify_bundle.CHECKPOINT_FILE)
    report = verify.verify(
        document,
        key=key,
        saved=texts,
        witnesses=[_key_text(w) for w in witnesses],
        saved_names=names,
    )
    files = verify_bundle.check_files(bundle, report, key=key) if bundle is not None else None
    for note in report.notes:
        click.echo(f"note: {note}")
    for failure in report.failures:
        click.echo(f"FAIL: {failure}")
    if document.get("cosignatures"):
        click.echo(f"{report.cosignatures} witness cosignatures verified.")
    if files is not None and files.entry is not None:
        click.echo(
            f"{files.matched} exported files match the SHA-256 listed in entry {files.entry} "
            f"({verify_bundle.RECORD_PUBLISHED})."
        )
    if witnesses and report.latest is not None:
        by = ", ".join(report.cosigned_by) or "none of the witnesses you trust"
        click.echo(f"The latest checkpoint (size {report.latest}) is cosigned by: {by}.")
    click.echo(
        f"{report.entries} entries, {report.checkpoints} signed checkpoints, "
        f"{report.votes} votes re-tallied: "
        + ("everything holds." if report.ok else f"{len(report.failures)} failures.")
    )
    if not report.ok:
        sys.exit(1)


@audit.command("receipt")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--key",
    required=True,
    help="The assembly's published verifier key, or a file holding it.",
)
@click.option(
    "--tracker",
    default=None,
    metavar="HEX",
    help="For a secret vote's receipt: your phone's tracker, to find the choice counted for it.",
)
@click.option(
    "--origin",
    default=None,
    help="The log the receipt must be from, e.g. ga.example.org/assembly/1 "
    "(default: the one its checkpoint names).",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    help="A witness's verifier key, or a file holding it (repeatable): its cosignature "
    "must be on the checkpoint.",
)
def audit_receipt(
    file: Path, key: str, tracker: str | None, origin: str | None, witnesses: tuple[str, ...]
) -> None:
    """Check a receipt (.tlog-proof) offline: the checkpoint is signed by the key and the entry
    is in the log it covers; print what it proves. Exits 0 only when it holds (and, with
    --tracker, when the tracker is counted)."""
    from assembly.audit.receipts import ReceiptError, check_receipt, short_tracker

    key, *witness_keys = (
        Path(k).read_text().strip() if Path(k).is_file() else k for k in (key, *witnesses)
    )
    try:
        text = file.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"FAIL: {file} cannot be read as a receipt: {exc}")
        sys.exit(1)
    try:
        receipt = check_receipt(text, key, origin, witnesses=witness_keys, tracker=tracker)
    except ReceiptError as exc:
        click.echo(f"FAIL: the receipt does not hold: {exc}")
        sys.exit(1)
    missing = len(witness_keys) - len(receipt.witnesses)
    if missing:
        click.echo(f"FAIL: {missing} of the witnesses given did not cosign this checkpoint.")
        sys.exit(1)
    click.echo(receipt.describe())
    click.echo(f"Log: {receipt.origin}")
    if receipt.tracker is None:
        if receipt.kind == "secret_choices":
            click.echo("Pass --tracker with the tracker your phone shows to find your ballot.")
        return
    shown = short_tracker(receipt.tracker)
    if not receipt.tracked:
        click.echo(
            f"FAIL: tracker {shown} is not among the choices counted in vote {receipt.vote}."
        )
        sys.exit(1)
    for counted in receipt.tracked:
        click.echo(
            f"tracker {shown} is counted with choice: {counted.choice_text} "
            f"(weight {counted.weight})"
        )
    if len(receipt.tracked) > 1:
        click.echo(f"note: tracker {shown} appears {len(receipt.tracked)} times in the list.")


def _key_text(value: str) -> str:
    """A verifier key given as is, or the first line of the file that holds it."""
    try:
        if Path(value).is_file():
            return Path(value).read_text().strip()
    except OSError:
        pass
    return value.strip()


@audit.group("witness", invoke_without_command=True)
@click.option("--server", default=None, help="The assembly server, e.g. https://ga.example.org.")
@click.option("--assembly", "assembly_id", type=int, default=None, help="The assembly's id.")
@click.option(
    "--log-key",
    default=None,
    help="The log's published verifier key, or a file holding it.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The witness's sealed key file (from `assembly audit witness keygen`).",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the witness keeps the last checkpoint it checked (made on the first round).",
)
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Run a round every SECONDS until interrupted (default: one round).",
)
@click.option(
    "--passphrase",
    envvar="ASSEMBLY_WITNESS_PASSPHRASE",
    help="The key file's passphrase; asked for when not given (or $ASSEMBLY_WITNESS_PASSPHRASE).",
)
@click.pass_context
def audit_witness(
    ctx: click.Context,
    server: str | None,
    assembly_id: int | None,
    log_key: str | None,
    key_file: Path | None,
    state_file: Path | None,
    every: float | None,
    passphrase: str | None,
) -> None:
    """Witness an assembly's log: check each new checkpoint against the last one seen (with a
    consistency proof), cosign it and send the cosignature. A log that went back or forked is
    refused: exit 3, the state file kept as evidence.

    \b
    assembly audit witness --server URL --assembly N --log-key KEY \\
        --key FILE --state FILE [--every SECONDS]
    """
    if ctx.invoked_subcommand is not None:
        return
    from assembly.audit import keys, notes, witness_client

    if server is None or assembly_id is None or log_key is None or not key_file or not state_file:
        given = {
            "--server": server,
            "--assembly": assembly_id,
            "--log-key": log_key,
            "--key": key_file,
            "--state": state_file,
        }
        missing = ", ".join(option for option, value in given.items() if value is None)
        raise click.UsageError(f"Missing {missing}.", ctx)
    if not server.startswith(("http://", "https://")):
        raise click.UsageError(f"--server {server!r}: give the address with http(s)://.", ctx)
    try:
        log_verifier = notes.parse_verifier_key(_key_text(log_key))
    except notes.NoteError as exc:
        raise click.ClickException(f"--log-key: {exc}") from None
    if log_verifier.key_type != notes.KeyType.ed25519:
        raise click.ClickException("--log-key: that is a witness key, not the log's key.")
    if passphrase is None:
        passphrase = click.prompt("Passphrase of the witness key", hide_input=True)
    try:
        signing_key = keys.unseal(key_file.read_bytes(), passphrase)
    except (OSError, keys.KeyFileError) as exc:
        raise click.ClickException(f"--key {key_file}: {exc}") from None
    if signing_key.key_type != notes.KeyType.cosignature_v1:
        raise click.ClickException(
            f"--key {key_file} is not a witness key (it signs checkpoints, not cosignatures): "
            "make one with `assembly audit witness keygen`."
        )
    click.echo(f"Witness {signing_key.verifier_key}")
    try:
        with witness_client.connect(server) as client:
            while True:
                try:
                    done = witness_client.witness_round(
                        client,
                        assembly_id=assembly_id,
                        log_key=log_verifier,
                        key=signing_key,
                        state_path=state_file,
                    )
                except witness_client.LogMisbehaved as exc:
                    click.echo(f"REFUSED: {exc}", err=True)
                    sys.exit(3)
                except witness_client.WitnessError as exc:
                    if every is None:
                        raise click.ClickException(str(exc)) from None
                    # A long-running witness outlives a server restart or a network outage.
                    click.echo(f"error: {exc}; trying again in {every:g} s", err=True)
                else:
                    click.echo(done)
                if every is None:
                    return
                time.sleep(every)
    except witness_client.WitnessError as exc:  # the address itself is unusable
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        click.echo("Stopped.")


@audit_witness.command("keygen")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the sealed witness key file (never overwritten).",
)
@click.option(
    "--name",
    default=None,
    help="The witness's key name in its cosignatures, e.g. witness.nmo.example.org "
    "(default: this machine's host name).",
)
@click.option(
    "--passphrase",
    envvar="ASSEMBLY_WITNESS_PASSPHRASE",
    help="Asked for (twice) when not given (or $ASSEMBLY_WITNESS_PASSPHRASE).",
)
def audit_witness_keygen(out: Path, name: str | None, passphrase: str | None) -> None:
    """Make a witness's Ed25519 cosignature/v1 key, sealed with a passphrase (scrypt and
    AES-256-GCM), and print the verifier key the secretariat registers."""
    import socket

    from assembly.audit import notes

    if out.exists():
        raise click.ClickException(f"{out} exists; a witness key is never overwritten.")
    name = name or socket.getfqdn().replace("+", "-").replace(" ", "-") or "witness"
    verifier = _write_sealed_key(out, name, passphrase, notes.KeyType.cosignature_v1)
    click.echo(f"Witness key written to {out} (readable by you only).")
    click.echo(f"Verifier key (type 0x04, cosignature/v1; give it to the secretariat): {verifier}")


@main.group()
def publish() -> None:
    """The public record: the signed record bundle and the PDF minutes."""


@publish.command("bundle")
@click.option("--assembly", "assembly_id", type=int, required=True, help="The assembly's id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the bundle (a zip) as well; the server serves it at "
    "/record/ID/bundle.zip.",
)
def publish_bundle(assembly_id: int, out: Path) -> None:
    """Sign the public record as it is now into a bundle: the CSV and JSON exports, the texts
    in force, the whole audit log and a checkpoint covering the entry that lists every file's
    SHA-256. Needs the signing key (ASSEMBLY_AUDIT_KEY_FILE and its passphrase)."""
    from dataclasses import replace

    from assembly.audit.log import load_audit_key
    from assembly.publishing.bundle import make_bundle

    settings = load_settings()
    if settings.audit_key_file is None:
        raise click.ClickException(
            "Set ASSEMBLY_AUDIT_KEY_FILE (and ASSEMBLY_AUDIT_PASSPHRASE): the bundle's "
            "checkpoint is signed with the key the server signs the log with."
        )
    if not settings.audit_passphrase:
        passphrase = click.prompt("Passphrase of the signing key", hide_input=True)
        settings = replace(settings, audit_passphrase=passphrase)
    try:
        key = load_audit_key(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    made = run_db(settings, lambda db: make_bundle(db, assembly_id, key, settings.public_url))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(made.bundle.data)
    click.echo(
        f"Wrote {out}: {len(made.files)} exported files, the audit log and the checkpoint of "
        f"its first {made.checkpoint_size} entries (entry {made.entry} lists the files)."
    )
    click.echo(f"SHA-256 of the bundle: {made.bundle.sha256}")
    click.echo(f"Served at {settings.public_url}/record/{assembly_id}/bundle.zip")
    click.echo(f"Check it: assembly audit verify {out} --key '{key.verifier_key}'")


@publish.command("minutes")
@click.option("--assembly", "assembly_id", type=int, required=True, help="The assembly's id.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the PDF; the server serves the same at /record/ID/minutes.pdf.",
)
@click.option(
    "--draft",
    is_flag=True,
    help="Include the results, attendance and texts not yet published, marked as such "
    "(for the secretariat to proofread; never publish this copy).",
)
def publish_minutes(assembly_id: int, out: Path, draft: bool) -> None:
    """Write the minutes as a PDF: only what is published, with a table of contents, each
    decision's result, explanation and roll call or trackers, attendance, the texts adopted
    and the audit log's latest checkpoint."""
    from assembly.app import make_jinja
    from assembly.audit import log
    from assembly.audit.keys import KeyFileError, read_verifier_key
    from assembly.publishing.minutes import minutes_pdf
    from assembly.publishing.record import PublicRecord, build_record

    settings = load_settings()

    async def work(db: Any) -> PublicRecord:
        key = await log.verifier_key(db, assembly_id)
        if key is None and settings.audit_key_file is not None:
            try:
                key = str(read_verifier_key(settings.audit_key_file.read_bytes()))
            except (OSError, KeyFileError):
                key = None
        return await build_record(db, assembly_id, staff_view=draft, verifier_key=key)

    record = run_db(settings, work)
    started = time.perf_counter()
    pdf = minutes_pdf(record, make_jinja(settings), link_base=settings.public_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    click.echo(
        f"Wrote {out} ({len(pdf) // 1024} KiB, {len(record.votes)} decisions, made in "
        f"{time.perf_counter() - started:.1f} s)"
        + (": a DRAFT with unpublished items, not for publication." if draft else ".")
    )


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


def _add_bench() -> None:
    from assembly.bench.command import bench

    main.add_command(bench)


_add_bench()


if __name__ == "__main__":
    main()
