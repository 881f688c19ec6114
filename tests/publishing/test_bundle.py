"""The signed record bundle: made by the secretariat (CLI or API) and served at
/record/{id}/bundle.zip; `assembly audit verify BUNDLE.zip` accepts it and fails, naming the
file, when an exported file is altered, removed or added, or the log in it is altered; no file
in it pairs an NMO with a secret choice; a bundle is refused while a result is held."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import warnings
import zipfile
from pathlib import Path

from click.testing import CliRunner
from litestar import Litestar
from sqlalchemy import select

from assembly.agenda import documents
from assembly.cli import main
from assembly.credentials import service as credentials
from assembly.credentials.models import Nmo
from assembly.db import writing
from assembly.voting.models import SecretChoice
from tests.audit import test_verify
from tests.audit.test_log import run_vote
from tests.audit.test_verify import PASSPHRASE, cli_env, run_verify
from tests.conftest import ClientFactory, World

app = test_verify.app  # the app with a sealed key file, as `serve` runs it

EXPORTS = {"record.json", "votes.csv", "roll-calls.csv", "trackers.csv", "attendance.csv"}


async def plenary(make_client: ClientFactory, world: World) -> dict[str, int]:
    named = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "abstain"})
    secret = await run_vote(make_client, world, {"AAA": "yes", "CCC": "no"}, secret=True)
    return {"named": named["id"], "secret": secret["id"]}


async def publish_bundle(app: Litestar, world: World, out: Path) -> str:
    env = cli_env(app) | {"ASSEMBLY_AUDIT_PASSPHRASE": PASSPHRASE}
    args = ["publish", "bundle", "--assembly", str(world.assembly_id), "--out", str(out)]
    # The command runs its own event loop, so it gets a thread of its own.
    done = await asyncio.to_thread(CliRunner().invoke, main, args, env=env)
    assert done.exit_code == 0, done.output
    return done.output


def files_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(path: Path, files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


async def test_the_bundle_endpoint_says_so_before_the_first_bundle(
    make_client: ClientFactory, world: World
) -> None:
    public = await make_client()
    none_yet = await public.get(f"/record/{world.assembly_id}/bundle.zip")
    assert none_yet.status_code == 404
    assert "No signed record bundle yet" in none_yet.text
    nowhere = await public.get("/record/999/bundle.zip")
    assert nowhere.status_code == 404 and "There is no assembly 999" in nowhere.text


async def test_a_bundle_verifies_and_any_change_to_a_file_in_it_fails_naming_the_file(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    await plenary(make_client, world)
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        bylaws, _ = await documents.create_document(
            db, assembly, "test", "Bylaws", "bylaws", "# Members\n\nMembers pay dues."
        )
        await db.commit()
    text = f"documents/{bylaws.id}-bylaws.md"
    bundle = tmp_path / "bundle.zip"
    output = await publish_bundle(app, world, bundle)
    key = app.state.ctx.audit_key.verifier_key
    assert f"assembly audit verify {bundle} --key '{key}'" in output

    files = files_of(bundle)
    assert set(files) == EXPORTS | {text, "README.txt", "audit-log.json", "checkpoint.txt"}
    assert files[text].decode().startswith("# Bylaws\n")
    assert (
        files["checkpoint.txt"].decode() == json.loads(files["audit-log.json"])["checkpoints"][-1]
    )
    assert b"assembly audit verify THIS-FILE.zip --key" in files["README.txt"]
    # The server serves the same bytes.
    served = await (await make_client()).get(f"/record/{world.assembly_id}/bundle.zip")
    assert served.status_code == 200 and served.content == bundle.read_bytes()
    assert served.headers["content-type"] == "application/zip"
    assert 'attachment; filename="assembly-1-record-' in served.headers["content-disposition"]

    code, out = run_verify(bundle, "--key", key)
    assert code == 0, out
    assert "6 exported files match the SHA-256 listed in entry" in out
    assert out.rstrip().endswith("2 votes re-tallied: everything holds.")

    # The exports are those the server shows, and the log lists their SHA-256.
    log = json.loads(files["audit-log.json"])
    published = json.loads(log["entries"][-1]["data"])
    assert published["type"] == "record_published"
    listed = EXPORTS | {text}
    assert published["files"] == {n: hashlib.sha256(files[n]).hexdigest() for n in listed}
    public = await make_client()
    votes_now = await public.get(f"/record/{world.assembly_id}/export/votes.csv")
    assert votes_now.content == files["votes.csv"]

    altered = dict(files, **{"votes.csv": files["votes.csv"].replace(b"rejected", b"adopted")})
    assert altered["votes.csv"] != files["votes.csv"]
    code, out = run_verify(rezip(tmp_path / "altered.zip", altered), "--key", key)
    assert code == 1 and "FAIL: votes.csv: altered: its SHA-256 is" in out

    reworded = dict(files, **{text: files[text].replace(b"pay", b"need not pay")})
    code, out = run_verify(rezip(tmp_path / "reworded.zip", reworded), "--key", key)
    assert code == 1 and f"FAIL: {text}: altered" in out

    removed = {k: v for k, v in files.items() if k != "roll-calls.csv"}
    code, out = run_verify(rezip(tmp_path / "removed.zip", removed), "--key", key)
    assert code == 1
    assert "FAIL: roll-calls.csv: listed in entry" in out and "but not in the bundle" in out

    added = dict(files, **{"documents/99-forged.md": b"# Forged\n"})
    code, out = run_verify(rezip(tmp_path / "added.zip", added), "--key", key)
    assert code == 1 and "FAIL: documents/99-forged.md: not listed in entry" in out

    twice = tmp_path / "twice.zip"
    rezip(twice, files)
    with zipfile.ZipFile(twice, "a") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name
        archive.writestr("trackers.csv", b"Vote,Question,Tracker,Choice,Weight\r\n")
    code, out = run_verify(twice, "--key", key)
    assert code == 1 and "FAIL: trackers.csv: the zip holds 2 files of that name" in out

    # The log in the bundle: a changed entry breaks the signed checkpoint over it, and so
    # does a file list changed to match an altered file.
    changed_log = json.loads(json.dumps(log))
    ballot = next(e for e in changed_log["entries"] if '"choice":["no"]' in e["data"])
    ballot["data"] = ballot["data"].replace('"choice":["no"]', '"choice":["yes"]')
    code, out = run_verify(
        rezip(
            tmp_path / "log.zip",
            dict(files, **{"audit-log.json": json.dumps(changed_log).encode()}),
        ),
        "--key",
        key,
    )
    assert code == 1 and "does not match" in out

    relisted = json.loads(json.dumps(log))
    entry = json.loads(relisted["entries"][-1]["data"])
    entry["files"]["votes.csv"] = hashlib.sha256(altered["votes.csv"]).hexdigest()
    relisted["entries"][-1]["data"] = json.dumps(entry, separators=(",", ":"), sort_keys=True)
    forged = dict(altered, **{"audit-log.json": json.dumps(relisted).encode()})
    code, out = run_verify(rezip(tmp_path / "relisted.zip", forged), "--key", key)
    assert code == 1
    assert "FAIL: checkpoint.txt (size" in out and "does not match the log" in out

    no_checkpoint = {k: v for k, v in files.items() if k != "checkpoint.txt"}
    code, out = run_verify(rezip(tmp_path / "unsigned.zip", no_checkpoint), "--key", key)
    assert code == 1 and "FAIL: the bundle has no checkpoint.txt" in out

    # Bytes damaged inside the zip itself are named too (stored, so the CRC catches it).
    stored = rezip(tmp_path / "stored.zip", files, zipfile.ZIP_STORED)
    assert run_verify(stored, "--key", key)[0] == 0
    damaged = bytearray(stored.read_bytes())
    with zipfile.ZipFile(stored) as archive:
        info = archive.getinfo("votes.csv")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    damaged[start + info.compress_size // 2] ^= 0xFF
    (tmp_path / "damaged.zip").write_bytes(bytes(damaged))
    code, out = run_verify(tmp_path / "damaged.zip", "--key", key)
    assert code == 1 and "FAIL: votes.csv: it cannot be read from the zip" in out


async def test_no_file_of_the_bundle_pairs_an_nmo_with_a_secret_choice(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    ids = await plenary(make_client, world)
    bundle = tmp_path / "bundle.zip"
    await publish_bundle(app, world, bundle)
    async with writing(app.state.ctx.session_maker) as db:
        nmos = list((await db.execute(select(Nmo))).scalars())
        trackers = {
            c.tracker
            for c in (
                await db.execute(select(SecretChoice).where(SecretChoice.vote_id == ids["secret"]))
            ).scalars()
        }
    who = [n.code for n in nmos] + [n.name for n in nmos]
    assert len(trackers) == 2

    def names_an_nmo(text: str) -> list[str]:
        return [w for w in who if w in text]

    for name, data in files_of(bundle).items():
        text = data.decode()
        if name.endswith(".csv"):
            for row in csv.DictReader(io.StringIO(text)):
                if row.get("Vote") == str(ids["secret"]):
                    assert name in ("votes.csv", "trackers.csv"), name
                    assert not names_an_nmo(json.dumps(row)), (name, row)
        elif name == "record.json":
            [vote] = [v for v in json.loads(text)["votes"] if v["id"] == ids["secret"]]
            assert not names_an_nmo(json.dumps(vote))
            assert {t["tracker"] for t in vote["trackers"]} == trackers
        elif name == "audit-log.json":
            # The log says who took part in a secret vote and which choices were counted,
            # in separate entries: no entry of the vote holds both an NMO and a choice.
            for item in json.loads(text)["entries"]:
                entry = json.loads(item["data"])
                if entry.get("vote") != ids["secret"] or entry["type"] == "vote_opened":
                    continue
                assert entry["type"] != "ballot"
                body = json.dumps(entry)
                if entry["type"] == "secret_participation":
                    assert "choice" not in body and not [t for t in trackers if t in body]
                else:
                    assert not names_an_nmo(body), entry
        else:
            assert not [t for t in trackers if t in text], name


async def test_the_secretariat_makes_bundles_over_http_and_the_latest_is_served(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    await plenary(make_client, world)
    secretariat = await make_client(staff="secretariat")
    url = f"/api/assemblies/{world.assembly_id}/record/bundle"
    first = await secretariat.post(url)
    assert first.status_code == 201, first.text
    made = first.json()
    assert made["url"] == f"/record/{world.assembly_id}/bundle.zip"
    assert set(made["files"]) == EXPORTS and made["checkpoint_size"] == made["entry"] + 1
    public = await make_client()
    served = await public.get(made["url"])
    assert hashlib.sha256(served.content).hexdigest() == made["sha256"]
    assert served.headers["etag"] == f'"{made["sha256"]}"'

    await run_vote(make_client, world, {"BBB": "yes"})
    second = (await secretariat.post(url)).json()
    assert second["entry"] > made["entry"] and second["sha256"] != made["sha256"]
    latest = await public.get(made["url"])
    assert hashlib.sha256(latest.content).hexdigest() == second["sha256"]
    with zipfile.ZipFile(io.BytesIO(latest.content)) as archive:
        votes = archive.read("votes.csv").decode()
    assert len(votes.strip().splitlines()) == 1 + 3


async def test_no_bundle_is_made_while_a_result_is_held(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await credentials.update_assembly(db, assembly, "test", {"publish_results": "manual"})
        await db.commit()
    held = await run_vote(make_client, world, {"AAA": "yes"})
    secretariat = await make_client(staff="secretariat")
    refused = await secretariat.post(f"/api/assemblies/{world.assembly_id}/record/bundle")
    assert refused.status_code == 409
    message: str = refused.json()["message"]
    assert f"vote {held['id']} ({held['question']}) is held" in message
    public = await make_client()
    assert (await public.get(f"/record/{world.assembly_id}/bundle.zip")).status_code == 404


async def test_the_cli_needs_the_signing_key_to_make_a_bundle(
    app: Litestar, world: World, tmp_path: Path
) -> None:
    out = tmp_path / "x.zip"
    args = ["publish", "bundle", "--assembly", str(world.assembly_id), "--out", str(out)]
    no_key = cli_env(app) | {"ASSEMBLY_AUDIT_KEY_FILE": None}
    done = await asyncio.to_thread(CliRunner().invoke, main, args, env=no_key)
    assert done.exit_code == 1 and "Set ASSEMBLY_AUDIT_KEY_FILE" in done.output
    wrong = cli_env(app) | {"ASSEMBLY_AUDIT_PASSPHRASE": "not the passphrase"}
    done = await asyncio.to_thread(CliRunner().invoke, main, args, env=wrong)
    assert done.exit_code == 1 and "ASSEMBLY_AUDIT_KEY_FILE" in done.output, done.output
    assert not out.exists()
