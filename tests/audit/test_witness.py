"""Witnesses: the secretariat registers a member's cosignature/v1 key; the witness checks each
new checkpoint against the last one it saw (consistency proof), cosigns it and the server
publishes the cosigned checkpoint; a log that goes back, forks or is rewritten is refused with
the state kept; unregistered or altered cosignatures are refused; export carries the
cosignatures and verify checks them and names the trusted witnesses that cosigned."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient

from assembly.app import create_app
from assembly.audit import keys, notes, witness_client
from assembly.audit.notes import KeyType
from assembly.audit.witness_client import LogMisbehaved, WitnessState, witness_round
from assembly.cli import main
from assembly.settings import Settings
from tests.audit.test_log import run_vote
from tests.audit.test_verify import PASSPHRASE, export, run_verify, write
from tests.conftest import ClientFactory, World

WITNESS_PASSPHRASE = "the witness's passphrase"


@pytest.fixture
async def app(settings: Settings, tmp_path: Path) -> AsyncIterator[Litestar]:
    """The app with a sealed log key file (so tests can sign forks with the real key and the
    CLI can export)."""
    key_file = tmp_path / "audit-key.json"
    private_key, _ = keys.generate("testserver.local")
    key_file.write_bytes(keys.seal(private_key, PASSPHRASE, name="testserver.local", n=2**15))
    application = create_app(
        replace(settings, audit_key_file=key_file, audit_passphrase=PASSPHRASE)
    )
    yield application
    await application.state.ctx.engine.dispose()


class InProcess(TestClient[Litestar]):
    """A synchronous client on the app the async clients already started: entering it (as the
    CLI does) must not run the app's startup a second time."""

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *args: object) -> None:
        pass


@pytest.fixture
async def server(app: Litestar, make_client: ClientFactory) -> InProcess:
    """What the witness talks to: an httpx.Client whose transport is the app itself."""
    started = await make_client()
    client = InProcess(app, base_url="http://testserver.local")
    client.blocking_portal = started.blocking_portal
    return client


def witness_key(name: str) -> keys.SigningKey:
    private_key, _ = keys.generate(name, KeyType.cosignature_v1)
    return keys.SigningKey(name, private_key, KeyType.cosignature_v1)


def log_signing_key(app: Litestar) -> keys.SigningKey:
    return keys.unseal(app.state.ctx.settings.audit_key_file.read_bytes(), PASSPHRASE)


def log_verifier(app: Litestar) -> notes.Verifier:
    return notes.parse_verifier_key(app.state.ctx.audit_key.verifier_key)


async def register(
    make_client: ClientFactory, world: World, key: keys.SigningKey, **extra: Any
) -> dict[str, Any]:
    secretariat = await make_client(staff="secretariat")
    response = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/log/witnesses",
        json={"name": key.name, "verifier_key": key.verifier_key, **extra},
    )
    assert response.status_code == 201, response.text
    registered: dict[str, Any] = response.json()
    return registered


async def latest(make_client: ClientFactory, world: World) -> dict[str, Any]:
    response = await (await make_client()).get(
        f"/api/assemblies/{world.assembly_id}/log/checkpoint"
    )
    assert response.status_code == 200, response.text
    checkpoint: dict[str, Any] = response.json()
    return checkpoint


def one_round(
    server: httpx.Client, app: Litestar, world: World, key: keys.SigningKey, state: Path
) -> str:
    return witness_round(
        server, assembly_id=world.assembly_id, log_key=log_verifier(app), key=key, state_path=state
    )


def fake_state(app: Litestar, world: World, origin: str, size: int, root: bytes) -> WitnessState:
    """A state holding a checkpoint that the real log key signed, as a forking server would."""
    signing = log_signing_key(app)
    body = notes.Checkpoint(origin, size, root).body()
    return WitnessState(
        server="http://testserver.local",
        assembly=world.assembly_id,
        origin=origin,
        log_key=signing.verifier_key,
        size=size,
        root=base64.b64encode(root).decode(),
        checkpoint=notes.sign_note(body, signing.name, signing.private_key),
        cosigned=True,
    )


async def test_the_secretariat_registers_witnesses_and_refuses_wrong_keys_and_names(
    make_client: ClientFactory, world: World, app: Litestar
) -> None:
    key = witness_key("witness.aaa.example")
    registered = await register(make_client, world, key, nmo="AAA")
    assert registered["name"] == "witness.aaa.example"
    assert registered["verifier_key"] == key.verifier_key and registered["nmo"] == "AAA"
    assert notes.parse_verifier_key(registered["verifier_key"]).key_type == 0x04

    listed = await (await make_client()).get(f"/api/assemblies/{world.assembly_id}/log/witnesses")
    assert listed.status_code == 200
    assert [(w["name"], w["verifier_key"], w["nmo"]) for w in listed.json()] == [
        ("witness.aaa.example", key.verifier_key, "AAA")
    ]

    url = f"/api/assemblies/{world.assembly_id}/log/witnesses"
    secretariat = await make_client(staff="secretariat")
    # The log's own key is an Ed25519 signing key (type 0x01), not a cosignature/v1 key.
    log_key = await secretariat.post(
        url, json={"name": "log", "verifier_key": app.state.ctx.audit_key.verifier_key}
    )
    assert log_key.status_code == 422
    assert "type 0x01" in log_key.json()["message"] and "0x04" in log_key.json()["message"]
    garbage = await secretariat.post(url, json={"name": "x", "verifier_key": "not a key"})
    assert garbage.status_code == 422 and "cannot be read" in garbage.json()["message"]
    same_name = await secretariat.post(
        url,
        json={"name": key.name, "verifier_key": witness_key("other.example").verifier_key},
    )
    assert same_name.status_code == 409 and "already a witness named" in same_name.text
    same_key = await secretariat.post(url, json={"name": "again", "verifier_key": key.verifier_key})
    assert same_key.status_code == 409 and "already has the key" in same_key.text
    no_nmo = await secretariat.post(
        url,
        json={"name": "zz", "verifier_key": witness_key("zz").verifier_key, "nmo": "ZZZ"},
    )
    assert no_nmo.status_code == 422 and "no NMO 'ZZZ'" in no_nmo.json()["message"]

    for who in (await make_client(staff="chair"), await make_client(token=world.token["AAA-del"])):
        refused = await who.post(
            url, json={"name": "mine", "verifier_key": witness_key("mine").verifier_key}
        )
        assert refused.status_code == 403
    listed = await (await make_client()).get(url)
    assert [w["name"] for w in listed.json()] == ["witness.aaa.example"]


async def test_a_witness_cosigns_each_checkpoint_it_checked_and_the_server_publishes_it(
    make_client: ClientFactory, world: World, app: Litestar, server: InProcess, tmp_path: Path
) -> None:
    key = witness_key("witness.aaa.example")
    await register(make_client, world, key, nmo="AAA")
    state = tmp_path / "witness" / "state.json"
    nothing = one_round(server, app, world, key, state)
    assert "no checkpoint yet" in nothing and not state.exists()

    await run_vote(make_client, world, {"AAA": "yes", "BBB": "no"})
    first = await latest(make_client, world)
    assert first["cosignatures"] == [] and first["cosigned"] == first["checkpoint"]
    done = one_round(server, app, world, key, state)
    assert done.startswith(f"Cosigned the checkpoint of size {first['size']},")
    saved = json.loads(state.read_text())
    assert (saved["size"], saved["root"], saved["cosigned"]) == (first["size"], first["root"], True)
    assert saved["origin"] == first["origin"] and saved["checkpoint"] == first["checkpoint"]

    published = await latest(make_client, world)
    [cosignature] = published["cosignatures"]
    assert cosignature["witness"] == key.name and cosignature["verifier_key"] == key.verifier_key
    assert published["cosigned"].startswith(published["checkpoint"])
    witness = notes.parse_verifier_key(key.verifier_key)
    checkpoint, cosigners = notes.open_checkpoint(
        published["cosigned"], log_verifier(app), first["origin"], [witness]
    )
    assert cosigners == [key.name] and checkpoint.size == first["size"]
    line = published["cosigned"][len(published["checkpoint"]) :]
    assert notes.verify_cosignature(checkpoint.body(), line, witness) == cosignature["timestamp"]
    assert "Nothing new" in one_round(server, app, world, key, state)

    # The same witness sending the same size again gets the stored cosignature, no second row.
    url = f"/api/assemblies/{world.assembly_id}/log/cosignatures"
    public = await make_client()
    again = await public.post(url, json={"size": first["size"], "cosignature": line})
    assert again.status_code == 200 and again.json()["line"] == line
    later = notes.cosign(checkpoint.body(), key.name, key.private_key, cosignature["timestamp"] + 9)
    resent = await public.post(url, json={"size": first["size"], "cosignature": later})
    assert resent.status_code == 200
    assert resent.json()["timestamp"] == cosignature["timestamp"]
    assert len((await latest(make_client, world))["cosignatures"]) == 1

    # After another vote the witness asks for the consistency proof from the size it saw.
    await run_vote(make_client, world, {"CCC": "abstain"})
    second = await latest(make_client, world)
    assert second["size"] > first["size"] and second["cosignatures"] == []
    asked: list[str] = []
    server.event_hooks = {
        "request": [lambda r: asked.append(r.url.path + "?" + r.url.query.decode())]
    }
    done = one_round(server, app, world, key, state)
    assert done.startswith(
        f"Cosigned the checkpoint of size {second['size']} (was {first['size']})"
    )
    proof_path = f"/api/assemblies/{world.assembly_id}/log/proof/consistency"
    assert f"{proof_path}?from={first['size']}&to={second['size']}" in asked
    published = await latest(make_client, world)
    assert [c["witness"] for c in published["cosignatures"]] == [key.name]
    _, cosigners = notes.open_checkpoint(
        published["cosigned"], log_verifier(app), first["origin"], [witness]
    )
    assert cosigners == [key.name]
    assert json.loads(state.read_text())["size"] == second["size"]


async def test_a_log_that_went_back_forked_or_was_rewritten_is_refused_and_the_state_kept(
    make_client: ClientFactory, world: World, app: Litestar, server: InProcess, tmp_path: Path
) -> None:
    key = witness_key("witness.bbb.example")
    await register(make_client, world, key, nmo="BBB")
    await run_vote(make_client, world, {"AAA": "yes"})
    shown = await latest(make_client, world)
    origin, size = shown["origin"], shown["size"]

    cases = {
        # The witness saw another root at the same size: two views of the log.
        "forked": fake_state(app, world, origin, size, bytes(32)),
        # The witness saw a bigger log than the server now shows: its tail was cut.
        "went back": fake_state(app, world, origin, size + 100, bytes(32)),
    }
    for word, state_value in cases.items():
        path = tmp_path / f"{word}.json"
        witness_client.save_state(path, state_value)
        before = path.read_bytes()
        with pytest.raises(LogMisbehaved, match=f"the log {word}") as refused:
            one_round(server, app, world, key, path)
        assert "keeps the earlier" in str(refused.value)
        assert path.read_bytes() == before

    # A smaller checkpoint whose root the server's log does not extend: the proof fails.
    rewritten = tmp_path / "rewritten.json"
    witness_client.save_state(rewritten, fake_state(app, world, origin, size - 1, bytes(32)))
    before = rewritten.read_bytes()
    with pytest.raises(LogMisbehaved, match="the log was rewritten"):
        one_round(server, app, world, key, rewritten)
    assert rewritten.read_bytes() == before

    # The witness pins the origin it first saw.
    elsewhere = tmp_path / "elsewhere.json"
    witness_client.save_state(
        elsewhere, fake_state(app, world, "other.example/log", size, bytes(32))
    )
    with pytest.raises(
        witness_client.WitnessError, match=re.escape("this witness watches 'other.example/log'")
    ):
        one_round(server, app, world, key, elsewhere)
    assert (await latest(make_client, world))["cosignatures"] == []


async def test_cosignatures_by_unregistered_keys_or_altered_are_refused(
    make_client: ClientFactory, world: World, app: Litestar
) -> None:
    registered = witness_key("witness.ccc.example")
    await register(make_client, world, registered)
    await run_vote(make_client, world, {"AAA": "no"})
    shown = await latest(make_client, world)
    body = notes.Checkpoint.parse(notes.parse_note(shown["checkpoint"])[0]).body()
    url = f"/api/assemblies/{world.assembly_id}/log/cosignatures"
    public = await make_client()

    stranger = witness_key("stranger.example")
    line = notes.cosign(body, stranger.name, stranger.private_key, 1_700_000_000)
    refused = await public.post(url, json={"size": shown["size"], "cosignature": line})
    assert refused.status_code == 403
    assert "'stranger.example'" in refused.json()["message"]
    assert "not a registered witness" in refused.json()["message"]
    # The registered name with another key is a stranger too: the key ID tells them apart.
    impostor = witness_key(registered.name)
    line = notes.cosign(body, impostor.name, impostor.private_key, 1_700_000_000)
    refused = await public.post(url, json={"size": shown["size"], "cosignature": line})
    assert refused.status_code == 403

    line = notes.cosign(body, registered.name, registered.private_key, 1_700_000_000)
    prefix, value = line.rstrip("\n").rsplit(" ", 1)
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 1
    tampered = f"{prefix} {base64.b64encode(bytes(raw)).decode()}\n"
    altered = await public.post(url, json={"size": shown["size"], "cosignature": tampered})
    assert altered.status_code == 422 and "does not verify" in altered.json()["message"]
    other_root = notes.Checkpoint(shown["origin"], shown["size"], bytes(32)).body()
    elsewhere = notes.cosign(other_root, registered.name, registered.private_key, 1_700_000_000)
    wrong = await public.post(url, json={"size": shown["size"], "cosignature": elsewhere})
    assert wrong.status_code == 422 and "does not verify" in wrong.json()["message"]
    no_such = await public.post(url, json={"size": shown["size"] + 7, "cosignature": line})
    assert no_such.status_code == 404 and "no signed checkpoint of size" in no_such.text
    for junk in ("hello", line + line, line.replace("— ", "- ")):
        bad = await public.post(url, json={"size": shown["size"], "cosignature": junk})
        assert bad.status_code == 422 and "one signature line" in bad.json()["message"]
    assert (await latest(make_client, world))["cosignatures"] == []

    accepted = await public.post(url, json={"size": shown["size"], "cosignature": line})
    assert accepted.status_code == 201 and accepted.json()["witness"] == registered.name


async def test_export_carries_the_cosignatures_and_verify_checks_them_and_the_trusted_witnesses(
    make_client: ClientFactory, world: World, app: Litestar, server: InProcess, tmp_path: Path
) -> None:
    aaa, bbb = witness_key("witness.aaa.example"), witness_key("witness.bbb.example")
    await register(make_client, world, aaa, nmo="AAA")
    await register(make_client, world, bbb, nmo="BBB")
    await run_vote(make_client, world, {"AAA": "yes", "BBB": "no"})
    first = (await latest(make_client, world))["size"]
    one_round(server, app, world, aaa, tmp_path / "aaa.json")
    one_round(server, app, world, bbb, tmp_path / "bbb.json")
    await run_vote(make_client, world, {"CCC": "yes"})
    second = (await latest(make_client, world))["size"]
    one_round(server, app, world, aaa, tmp_path / "aaa.json")

    document = await export(app, world, tmp_path / "log.json")
    assert [(c["size"], c["witness"], c["verifier_key"]) for c in document["cosignatures"]] == [
        (first, aaa.name, aaa.verifier_key),
        (first, bbb.name, bbb.verifier_key),
        (second, aaa.name, aaa.verifier_key),
    ]
    key = document["verifier_key"]
    path = tmp_path / "log.json"
    code, output = run_verify(path, "--key", key)
    assert code == 0, output
    assert "3 witness cosignatures verified." in output
    assert "everything holds." in output

    bbb_file = tmp_path / "bbb-key.txt"
    bbb_file.write_text(bbb.verifier_key + "\n")
    code, output = run_verify(
        path, "--key", key, "--witness", aaa.verifier_key, "--witness", str(bbb_file)
    )
    assert code == 0, output
    assert f"The latest checkpoint (size {second}) is cosigned by: {aaa.name}." in output
    assert (
        f"note: trusted witness {bbb.name!r} did not cosign the latest checkpoint "
        f"(size {second}): its latest cosignature is of size {first}" in output
    )

    # A member who trusts another key under a registered witness's name is told.
    impostor = witness_key(aaa.name)
    code, output = run_verify(path, "--key", key, "--witness", impostor.verifier_key)
    assert code == 1
    assert f"FAIL: witness {aaa.name!r}: the file gives it the key {aaa.verifier_key}" in output
    assert "is cosigned by: none of the witnesses you trust." in output
    code, output = run_verify(path, "--key", key, "--witness", key)
    assert code == 1 and "is not a witness key" in output

    # A forged cosignature (another key's signature on the line) fails, naming it.
    forged = json.loads(json.dumps(document))
    body = notes.Checkpoint.parse(notes.parse_note(document["checkpoints"][-1])[0]).body()
    stolen = notes.cosign(body, aaa.name, impostor.private_key, 1_700_000_000)
    forged["cosignatures"][2]["line"] = stolen
    code, output = run_verify(write(tmp_path / "forged.json", forged), "--key", key)
    assert code == 1
    assert f"FAIL: cosignature 2 (witness {aaa.name!r}, size {second}) does not hold:" in output
    assert "2 witness cosignatures verified." in output
    # A cosignature of a size the file has no checkpoint of.
    moved = json.loads(json.dumps(document))
    moved["cosignatures"][0]["size"] = first + 1
    code, output = run_verify(write(tmp_path / "moved.json", moved), "--key", key)
    assert code == 1
    assert (
        f"FAIL: cosignature 0 (witness {aaa.name!r}, size {first + 1}): the file has no valid "
        f"signed checkpoint of size {first + 1}" in output
    )


async def test_the_witness_command_makes_a_key_cosigns_and_refuses_a_fork(
    make_client: ClientFactory,
    world: World,
    app: Litestar,
    server: InProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"ASSEMBLY_WITNESS_PASSPHRASE": WITNESS_PASSPHRASE}
    key_file = tmp_path / "witness-key.json"
    made = CliRunner().invoke(
        main,
        ["audit", "witness", "keygen", "--out", str(key_file), "--name", "witness.ddd.example"],
        env=env,
    )
    assert made.exit_code == 0, made.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    verifier = keys.read_verifier_key(key_file.read_bytes())
    assert verifier.key_type == KeyType.cosignature_v1 and verifier.name == "witness.ddd.example"
    assert f"give it to the secretariat): {verifier}" in made.output
    again = CliRunner().invoke(
        main, ["audit", "witness", "keygen", "--out", str(key_file)], env=env
    )
    assert again.exit_code != 0 and "never overwritten" in again.output

    secretariat = await make_client(staff="secretariat")
    added = await secretariat.post(
        f"/api/assemblies/{world.assembly_id}/log/witnesses",
        json={"name": "NMO DDD's witness", "verifier_key": str(verifier), "nmo": "DDD"},
    )
    assert added.status_code == 201, added.text
    await run_vote(make_client, world, {"AAA": "yes"})
    log_key_file = tmp_path / "log-key.txt"
    log_key_file.write_text(app.state.ctx.audit_key.verifier_key + "\n")
    state = tmp_path / "state.json"
    command = [
        "audit",
        "witness",
        "--server",
        "http://testserver.local",
        "--assembly",
        str(world.assembly_id),
        "--log-key",
        str(log_key_file),
        "--key",
        str(key_file),
        "--state",
        str(state),
    ]

    monkeypatch.setattr(witness_client, "connect", lambda url: server)
    done = CliRunner().invoke(main, command, env=env)
    assert done.exit_code == 0, done.output
    assert "Cosigned the checkpoint of size" in done.output
    assert [c["witness"] for c in (await latest(make_client, world))["cosignatures"]] == [
        "NMO DDD's witness"
    ]
    wrong = CliRunner().invoke(main, command, env={"ASSEMBLY_WITNESS_PASSPHRASE": "not it at all"})
    assert wrong.exit_code == 1 and "wrong passphrase" in wrong.output

    shown = await latest(make_client, world)
    witness_client.save_state(
        state, fake_state(app, world, shown["origin"], shown["size"], bytes(32))
    )
    before = state.read_bytes()
    forked = CliRunner().invoke(main, command, env=env)
    assert forked.exit_code == 3 and "REFUSED: the log forked" in forked.output
    assert state.read_bytes() == before

    missing = CliRunner().invoke(main, command[:4], env=env)
    assert missing.exit_code == 2
    assert "Missing --assembly, --log-key, --key, --state" in missing.output
    log_as_witness = CliRunner().invoke(
        main, [*command[:6], "--log-key", str(verifier), *command[8:]], env=env
    )
    assert log_as_witness.exit_code == 1 and "not the log's key" in log_as_witness.output

    monkeypatch.undo()
    unreachable = CliRunner().invoke(
        main, [*command[:2], "--server", "http://127.0.0.1:9", *command[4:]], env=env
    )
    assert unreachable.exit_code == 1
    assert "cannot reach http://127.0.0.1:9" in unreachable.output
    assert "Traceback" not in unreachable.output


def test_a_witness_key_file_keeps_its_type_and_cannot_sign_the_log(
    settings: Settings, tmp_path: Path
) -> None:
    from assembly.audit.log import load_audit_key
    from assembly.settings import SettingsError

    private_key, verifier = keys.generate("witness.eee.example", KeyType.cosignature_v1)
    sealed = keys.seal(
        private_key, WITNESS_PASSPHRASE, name="witness.eee.example", key_type=KeyType.cosignature_v1
    )
    opened = keys.unseal(sealed, WITNESS_PASSPHRASE)
    assert opened.key_type == KeyType.cosignature_v1 and opened.verifier_key == verifier
    assert str(keys.read_verifier_key(sealed)) == verifier
    key_file = tmp_path / "witness-key.json"
    key_file.write_bytes(sealed)
    with pytest.raises(SettingsError, match="is a witness's key"):
        load_audit_key(
            replace(settings, audit_key_file=key_file, audit_passphrase=WITNESS_PASSPHRASE)
        )
