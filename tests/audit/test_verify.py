"""`assembly audit export` and `assembly audit verify` after a small plenary: the export
verifies; any change to an entry, a deletion, a reordering, a forged checkpoint, a wrong key
makes it fail and says where; direct database edits are caught; and the honest limit: a cut
tail goes unnoticed unless a later checkpoint was saved."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from sqlalchemy import text

from assembly.app import create_app
from assembly.audit import keys, notes
from assembly.audit.verify import load, verify
from assembly.cli import main
from assembly.db import append_only_statements, drop_append_only_statements
from assembly.settings import Settings
from tests.audit.test_log import run_vote, setup_size
from tests.conftest import SECRET, ClientFactory, World

PASSPHRASE = "a passphrase for the tests"
# An abstention in the logged ballots becomes a yes, as an operator with SQL access would do.
CHANGE_A_BALLOT = {
    "sqlite": "UPDATE audit_entry SET data = CAST(REPLACE(CAST(data AS TEXT), 'abstain', 'yes') "
    "AS BLOB) WHERE kind = 'ballot' AND CAST(data AS TEXT) LIKE '%abstain%'",
    "postgresql": "UPDATE audit_entry SET data = convert_to(replace(convert_from(data, 'UTF8'), "
    "'abstain', 'yes'), 'UTF8') WHERE kind = 'ballot' "
    "AND convert_from(data, 'UTF8') LIKE '%abstain%'",
}


@pytest.fixture
async def app(settings: Settings, tmp_path: Path) -> AsyncIterator[Litestar]:
    """The app with a sealed key file, as `serve` runs it, so the CLI can export."""
    key_file = tmp_path / "audit-key.json"
    private_key, _ = keys.generate("testserver.local")
    key_file.write_bytes(keys.seal(private_key, PASSPHRASE, name="testserver.local", n=2**15))
    application = create_app(
        replace(settings, audit_key_file=key_file, audit_passphrase=PASSPHRASE)
    )
    yield application
    await application.state.ctx.engine.dispose()


def cli_env(app: Litestar) -> dict[str, str | None]:
    settings: Settings = app.state.ctx.settings
    return {
        "ASSEMBLY_DATABASE_URL": settings.database_url,
        "ASSEMBLY_SECRET_KEY": SECRET,
        "ASSEMBLY_PUBLIC_URL": settings.public_url,
        "ASSEMBLY_AUDIT_KEY_FILE": str(settings.audit_key_file),
        "ASSEMBLY_AUDIT_PASSPHRASE": None,  # exporting needs only the public half
        "ASSEMBLY_REDIS_URL": None,
    }


async def export(app: Litestar, world: World, out: Path) -> dict[str, Any]:
    # The command runs its own event loop, so it gets a thread of its own.
    done = await asyncio.to_thread(
        CliRunner().invoke,
        main,
        ["audit", "export", "--assembly", str(world.assembly_id), "--out", str(out)],
        env=cli_env(app),
    )
    assert done.exit_code == 0, done.output
    return load(await asyncio.to_thread(out.read_text))


def run_verify(path: Path, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["audit", "verify", str(path), *args])
    return done.exit_code, done.output


async def plenary(make_client: ClientFactory, world: World) -> None:
    await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"})
    await run_vote(make_client, world, {"AAA": "no", "BBB": "yes"}, secret=True)
    await run_vote(make_client, world, {"CCC": "abstain", "BBB": "yes"})


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


async def test_an_export_verifies_and_every_kind_of_change_fails_with_its_place(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    await plenary(make_client, world)
    document = await export(app, world, tmp_path / "log.json")
    key = document["verifier_key"]
    assert key == app.state.ctx.audit_key.verifier_key
    b = setup_size(document["entries"])  # the assembly's settings and its NMOs come first
    assert len(document["entries"]) == b + 5 + 4 + 4 and len(document["checkpoints"]) == 3

    code, output = run_verify(tmp_path / "log.json", "--key", key)
    assert code == 0, output
    assert (
        f"{b + 13} entries, 3 signed checkpoints, 3 votes re-tallied: everything holds." in output
    )
    code, output = run_verify(tmp_path / "log.json")
    assert code == 0 and "no --key given" in output

    # A changed ballot: the checkpoints covering it fail, and so does the vote's re-tally.
    changed = json.loads(json.dumps(document))
    ballot = next(
        e
        for e in changed["entries"]
        if '"type":"ballot"' in e["data"] and '"choice":["no"]' in e["data"]
    )
    ballot["data"] = ballot["data"].replace('"choice":["no"]', '"choice":["yes"]')
    code, output = run_verify(write(tmp_path / "changed.json", changed), "--key", key)
    assert code == 1
    assert f"FAIL: entries 0..{b + 4}: the checkpoint of size {b + 5} does not match them" in output
    assert (
        f"FAIL: entry {b + 4}: the result of vote 1 does not follow from its logged ballots"
        in output
    )

    deleted = json.loads(json.dumps(document))
    del deleted["entries"][b + 6]
    code, output = run_verify(write(tmp_path / "deleted.json", deleted), "--key", key)
    assert code == 1
    assert f"FAIL: entry {b + 6}: numbered {b + 7}; an entry is missing or moved" in output

    swapped = json.loads(json.dumps(document))
    entries = swapped["entries"]
    entries[b + 1]["data"], entries[b + 2]["data"] = entries[b + 2]["data"], entries[b + 1]["data"]
    code, output = run_verify(write(tmp_path / "swapped.json", swapped), "--key", key)
    assert code == 1
    assert f"entries 0..{b + 4}: the checkpoint of size {b + 5} does not match" in output

    forged = json.loads(json.dumps(document))
    note = forged["checkpoints"][0]
    forged["checkpoints"][0] = note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:]
    code, output = run_verify(write(tmp_path / "forged.json", forged), "--key", key)
    assert code == 1 and "FAIL: checkpoint 0:" in output

    other, _ = keys.generate("testserver.local")
    code, output = run_verify(
        tmp_path / "log.json", "--key", keys.SigningKey("testserver.local", other).verifier_key
    )
    assert code == 1 and "FAIL: checkpoint 0:" in output

    # Two checkpoints of one size with different roots: signed with the real key.
    signing = keys.unseal(app.state.ctx.settings.audit_key_file.read_bytes(), PASSPHRASE)
    first = notes.Checkpoint.parse(notes.parse_note(document["checkpoints"][0])[0])
    fork = notes.Checkpoint(first.origin, first.size, bytes(32))
    split = json.loads(json.dumps(document))
    split["checkpoints"].append(notes.sign_note(fork.body(), signing.name, signing.private_key))
    code, output = run_verify(write(tmp_path / "split.json", split), "--key", key)
    assert code == 1
    assert f"two signed checkpoints of size {b + 5} with different roots" in output


async def test_editing_the_database_directly_is_caught_by_verify(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    await plenary(make_client, world)
    engine = app.state.ctx.engine
    dialect = engine.dialect.name
    saved = await export(app, world, tmp_path / "before.json")
    gone = setup_size(saved["entries"]) + 7
    try:
        async with engine.begin() as connection:
            # Whoever owns the database can drop the triggers; the log still tells.
            for table in ("audit_entry", "audit_checkpoint"):
                for statement in drop_append_only_statements(table, dialect):
                    await connection.execute(text(statement))
            await connection.execute(text(CHANGE_A_BALLOT[dialect]))
            await connection.execute(text(f"DELETE FROM audit_entry WHERE seq = {gone}"))
            # Editing the ballot table changes nothing the log says.
            await connection.execute(text("UPDATE ballot SET choice = '[\"no\"]'"))
    finally:
        async with engine.begin() as connection:
            for table in ("audit_entry", "audit_checkpoint"):
                for statement in drop_append_only_statements(table, dialect):
                    await connection.execute(text(statement))  # whatever state it is in
                for statement in append_only_statements(table, dialect):
                    await connection.execute(text(statement))
    document = await export(app, world, tmp_path / "after.json")
    key = document["verifier_key"]
    code, output = run_verify(tmp_path / "after.json", "--key", key)
    assert code == 1
    assert f"FAIL: entry {gone}: numbered {gone + 1}; an entry is missing or moved" in output
    assert "does not follow from its logged ballots" in output
    # Against the checkpoint a member saved before, the change shows too.
    latest = tmp_path / "saved-checkpoint.txt"
    latest.write_text(saved["checkpoints"][-1])
    code, output = run_verify(tmp_path / "after.json", "--key", key, "--checkpoint", str(latest))
    assert code == 1 and "saved checkpoint 0" in output


async def test_a_cut_tail_goes_unnoticed_without_a_later_saved_checkpoint(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    await plenary(make_client, world)
    document = await export(app, world, tmp_path / "log.json")
    key = document["verifier_key"]
    saved = tmp_path / "projector-qr.txt"
    saved.write_text(document["checkpoints"][-1])
    # The operator drops the last vote and its checkpoint: what is left is consistent.
    cut = json.loads(json.dumps(document))
    b = setup_size(document["entries"])
    cut["entries"] = cut["entries"][: b + 9]
    cut["checkpoints"] = cut["checkpoints"][:2]
    path = write(tmp_path / "cut.json", cut)
    code, output = run_verify(path, "--key", key)
    assert code == 0, output  # the limit, honestly: nothing inside the file shows the cut
    code, output = run_verify(path, "--key", key, "--checkpoint", str(saved))
    assert code == 1
    assert (
        f"saved checkpoint 0 covers {b + 13} entries; the log has only {b + 9}: its tail was cut"
        in output
    )
    report = verify(cut, key=key, saved=[saved.read_text()])
    assert not report.ok and report.entries == b + 9
