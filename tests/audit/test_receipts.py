"""Receipts: the C2SP tlog-proof format (round trip, strict parsing), check_receipt (any change
to the proof, the entry or the checkpoint fails it), the API a phone downloads them from after
a named or a secret vote, `assembly audit receipt`, and the phone's link to its receipt."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import Litestar

from assembly.audit import log, merkle, notes, witness
from assembly.audit.canonical import canonical
from assembly.audit.receipts import (
    HEADER,
    ReceiptError,
    TlogProof,
    build_receipt,
    check_receipt,
)
from assembly.cli import main
from assembly.credentials import service as credentials
from assembly.db import writing
from tests.conftest import ClientFactory, World, seed_world
from tests.voting.test_screens import HX, section

NAME = "ga.example.org"
ORIGIN = f"{NAME}/assembly/1"
KEY = Ed25519PrivateKey.generate()
VERIFIER = notes.verifier_key(NAME, KEY.public_key())
TRACKERS = ["0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"]


# --- the format and the check, offline ---------------------------------------------------


def entry(kind: str, **payload: Any) -> bytes:
    return canonical({"v": 1, "type": kind, "assembly": 1, "at": "2025-05-01T10:00:00Z", **payload})


def small_log() -> list[bytes]:
    return [
        entry("vote_opened", vote=3),
        entry("ballot", vote=3, nmo="FR", weight="1", choice=["yes"], receipt="ABCDE-FGHJK"),
        entry("ballot", vote=3, nmo="DE", weight="3/2", choice=["no"], receipt="KLMNP-QRSTU"),
        entry(
            "secret_choices",
            vote=4,
            choices=[
                {"tracker": TRACKERS[0], "choice": ["yes"], "weight": "1"},
                {"tracker": TRACKERS[1], "choice": [], "weight": "2"},
            ],
        ),
        entry("vote_result", vote=3, result={"adopted": False}),
    ]


def signed_checkpoint(tree: merkle.MerkleTree, key: Ed25519PrivateKey = KEY) -> str:
    body = notes.Checkpoint(ORIGIN, tree.size, tree.root()).body()
    return notes.sign_note(body, NAME, key)


def receipt_of(index: int, entries: list[bytes] | None = None) -> str:
    entries = entries or small_log()
    tree = merkle.MerkleTree(merkle.leaf_hash(e) for e in entries)
    return build_receipt(
        entries[index], index, tree.inclusion_proof(index), signed_checkpoint(tree)
    )


def lines_of(text: str) -> list[str]:
    return text.split("\n")


def test_a_receipt_is_a_tlog_proof_that_reads_back_to_the_same_text() -> None:
    text = receipt_of(1)
    lines = lines_of(text)
    assert lines[0] == HEADER == "c2sp.org/tlog-proof@v1"
    assert base64.b64decode(lines[1].removeprefix("extra ")) == small_log()[1]
    assert lines[2] == "index 1"
    proof = TlogProof.parse(text)
    assert proof.index == 1 and proof.extra == small_log()[1] and len(proof.hashes) == 3
    assert proof.checkpoint.startswith(f"{ORIGIN}\n5\n") and proof.text() == text
    # A proof without extra data and without hashes (a log of one entry) reads back too.
    bare = TlogProof(0, (), proof.checkpoint)
    assert TlogProof.parse(bare.text()) == bare
    assert bare.text().startswith(f"{HEADER}\nindex 0\n\n{ORIGIN}\n")


def test_every_entry_of_logs_of_every_small_size_proves_its_place() -> None:
    for size in range(1, 18):
        entries = [
            entry("ballot", vote=1, nmo=f"N{i}", weight="1", choice=["yes"], receipt="R")
            for i in range(size)
        ]
        for index in range(size):
            receipt = check_receipt(receipt_of(index, entries), VERIFIER)
            assert (receipt.index, receipt.size) == (index, size)
            assert receipt.ballot is not None and receipt.ballot.nmo == f"N{index}"


def test_a_named_ballots_receipt_says_whose_ballot_it_is_and_what_it_chose() -> None:
    receipt = check_receipt(receipt_of(2), VERIFIER)
    assert receipt.origin == ORIGIN and receipt.signed_by == NAME
    assert (receipt.kind, receipt.vote, receipt.index, receipt.size) == ("ballot", 3, 2, 5)
    assert receipt.ballot is not None
    assert (receipt.ballot.nmo, receipt.ballot.weight, receipt.ballot.choice) == (
        "DE",
        "3/2",
        ("no",),
    )
    assert receipt.ballot.receipt == "KLMNP-QRSTU"
    assert receipt.describe() == (
        f"Ballot of DE in vote 3 (weight 3/2): no — entry 2 of a log of 5 entries, "
        f"checkpoint signed by {NAME}: it holds."
    )
    assert check_receipt(receipt_of(2), VERIFIER, ORIGIN) == receipt


def test_a_secret_votes_receipt_finds_a_tracker_or_says_it_is_not_there() -> None:
    text = receipt_of(3)
    receipt = check_receipt(text, VERIFIER)
    assert receipt.kind == "secret_choices" and receipt.ballot is None
    assert [c.tracker for c in receipt.choices] == TRACKERS and receipt.tracked == ()
    found = check_receipt(text, VERIFIER, tracker=TRACKERS[1].upper())
    assert [(c.choice, c.weight) for c in found.tracked] == [((), "2")]
    assert found.tracked[0].choice_text == "a blank ballot"
    absent = check_receipt(text, VERIFIER, tracker="ab" * 16)
    assert absent.tracker == "ab" * 16 and absent.tracked == ()
    with pytest.raises(ReceiptError, match="not 32 hexadecimal characters"):
        check_receipt(text, VERIFIER, tracker="1a2b")
    with pytest.raises(ReceiptError, match="ballot entry, not of a secret vote's choices"):
        check_receipt(receipt_of(1), VERIFIER, tracker=TRACKERS[0])


def flip_last_char(value: str) -> str:
    """Change the last byte of the base64 value that ends `value` (a hash line, or a signature
    line "— name base64"), keeping it canonical base64, so only the bytes are wrong."""
    head, _, encoded = value.rpartition(" ")
    raw = bytearray(base64.b64decode(encoded))
    raw[-1] ^= 1
    return (head + " " if head else "") + base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace(HEADER, "c2sp.org/tlog-proof@v2"), "the first line must be"),
        (lambda t: t.replace("\n\n", "\n"), "no blank line before its checkpoint"),
        (lambda t: t.replace("index 1\n", "index 01\n"), "without leading zeros"),
        (lambda t: t.replace("index 1\n", "index -1\n"), "without leading zeros"),
        (lambda t: t.replace("index 1\n", ""), "must be the entry's index"),
        (lambda t: t.replace("index 1\n", "index 1\nextra AAAA\n"), "line 4 (proof hash 0)"),
        (lambda t: t.replace("\n", "\r\n"), "carriage returns"),
        (lambda t: t.replace("extra ", "extra *"), "line 2 (extra data) is not valid base64"),
        (lambda t: t.replace("index 1\n", "index 1\nAAAA\n"), "3 bytes, not a 32-byte hash"),
        (lambda t: t.split("\n\n")[0] + "\n\n", "ends before its checkpoint"),
        (lambda t: t.replace(f"{ORIGIN}\n5\n", f"{ORIGIN}\nfive\n"), "checkpoint is malformed"),
        (lambda t: t.replace("\n— ", "\n- "), "checkpoint is malformed"),
    ],
)
def test_malformed_receipts_are_refused_with_the_reason(change: Any, message: str) -> None:
    with pytest.raises(ReceiptError, match=re.escape(message)):
        check_receipt(change(receipt_of(1)), VERIFIER)


def test_a_hash_spelled_in_non_canonical_base64_is_refused() -> None:
    lines = lines_of(receipt_of(1))
    raw = base64.b64decode(lines[3])
    # The last base64 digit of a 32-byte value carries two unused bits: setting one gives
    # another spelling of the same bytes, which a strict reader refuses.
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = lines[3][-2]
    lines[3] = lines[3][:-2] + digits[digits.index(last) | 1] + "="
    assert base64.b64decode(lines[3]) == raw
    with pytest.raises(ReceiptError, match="not canonical base64"):
        TlogProof.parse("\n".join(lines))


def test_a_changed_proof_hash_entry_or_signature_makes_the_check_fail() -> None:
    text = receipt_of(1)
    lines = lines_of(text)

    hashed = list(lines)
    hashed[4] = flip_last_char(hashed[4])
    with pytest.raises(ReceiptError, match="the entry is not in the signed log"):
        check_receipt("\n".join(hashed), VERIFIER)

    forged_entry = small_log()[1].replace(b'"yes"', b'"no"')
    changed = list(lines)
    changed[1] = "extra " + base64.b64encode(forged_entry).decode()
    with pytest.raises(ReceiptError, match="the entry is not in the signed log"):
        check_receipt("\n".join(changed), VERIFIER)

    signature = text.rindex("\n— ")
    forged = text[: signature + 1] + flip_last_char(text[signature + 1 : -1]) + "\n"
    with pytest.raises(ReceiptError, match="does not verify"):
        check_receipt(forged, VERIFIER)

    other = notes.verifier_key(NAME, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ReceiptError, match="no valid signature by a known key"):
        check_receipt(text, other)
    with pytest.raises(ReceiptError, match=re.escape(f"not of '{NAME}/assembly/2'")):
        check_receipt(text, VERIFIER, f"{NAME}/assembly/2")
    with pytest.raises(ReceiptError, match="verifier key cannot be read"):
        check_receipt(text, "not a key")

    moved = list(lines)
    moved[2] = "index 2"
    with pytest.raises(ReceiptError, match="the entry is not in the signed log"):
        check_receipt("\n".join(moved), VERIFIER)

    without_entry = "\n".join(line for line in lines if not line.startswith("extra "))
    with pytest.raises(ReceiptError, match="carries no entry"):
        check_receipt(without_entry, VERIFIER)


# --- downloaded from the server ---------------------------------------------------------


async def run_vote(
    make_client: ClientFactory, world: World, choices: dict[str, str], *, secret: bool = False
) -> tuple[int, dict[str, dict[str, str]]]:
    """Open a vote, cast each NMO's ballot from its head's phone and close it; returns the
    vote's id and, per NMO, the ballot's receipt (and tracker, in a secret vote)."""
    vote_id = await open_vote(make_client, world, secret=secret)
    cast: dict[str, dict[str, str]] = {}
    for code, choice in choices.items():
        phone = await make_client(token=world.token[f"{code}-head"])
        ballot: dict[str, Any] = {
            "nmo_id": world.nmo[code],
            "ballot_id": uuid.uuid4().hex,
            "choice": choice,
        }
        if secret:
            ballot["tracker"] = uuid.uuid4().hex
        sent = await phone.post(f"/api/votes/{vote_id}/ballots", json={"ballots": [ballot]})
        assert sent.status_code == 200, sent.text
        cast[code] = {"receipt": sent.json()["ballots"][0]["receipt"], **ballot}
    chair = await make_client(staff="chair")
    closed = await chair.post(f"/api/votes/{vote_id}/close")
    assert closed.status_code == 200, closed.text
    return vote_id, cast


async def open_vote(make_client: ClientFactory, world: World, *, secret: bool = False) -> int:
    chair = await make_client(staff="chair")
    vote = await chair.post(
        f"/api/assemblies/{world.assembly_id}/votes",
        json={"question": f"Motion {uuid.uuid4().hex[:4]}?", "secret": secret},
    )
    assert vote.status_code == 201, vote.text
    vote_id = int(vote.json()["id"])
    assert (await chair.post(f"/api/votes/{vote_id}/open")).status_code == 200
    return vote_id


def receipt_url(world: World, vote_id: int, receipt: str | None = None) -> str:
    url = f"/api/assemblies/{world.assembly_id}/log/receipt?vote={vote_id}"
    return url if receipt is None else f"{url}&receipt={receipt}"


async def logged_index(client: Any, world: World, **fields: Any) -> int:
    """The index of the log entry holding these fields, as the entries API shows it."""
    entries = (await client.get(f"/api/assemblies/{world.assembly_id}/log/entries")).json()
    [index] = [
        e["index"]
        for e in entries
        if all(json.loads(e["data"]).get(k) == v for k, v in fields.items())
    ]
    return int(index)


async def test_a_named_ballots_receipt_downloads_and_proves_the_ballot_as_cast(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    vote_id, cast = await run_vote(make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "yes"})
    key = app.state.ctx.audit_key.verifier_key
    phone = await make_client(token=world.token["BBB-head"])
    response = await phone.get(receipt_url(world, vote_id, cast["BBB"]["receipt"]))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="vote-{vote_id}-receipt.tlog-proof"'
    )
    receipt = check_receipt(response.text, key)
    assert receipt.ballot is not None
    assert (receipt.vote, receipt.ballot.nmo, receipt.ballot.choice) == (vote_id, "BBB", ("no",))
    assert (receipt.ballot.weight, receipt.ballot.receipt) == ("2", cast["BBB"]["receipt"])
    index = await logged_index(phone, world, type="ballot", receipt=cast["BBB"]["receipt"])
    checkpoint = (await phone.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")).json()
    assert (receipt.index, receipt.size) == (index, checkpoint["size"])
    assert receipt.origin == checkpoint["origin"]
    assert check_receipt(response.text, key, checkpoint["origin"]) == receipt
    # Any member of the assembly (and staff) may fetch it; the code may be typed in lower case.
    secretariat = await make_client(staff="secretariat")
    again = await secretariat.get(receipt_url(world, vote_id, cast["BBB"]["receipt"].lower()))
    assert again.status_code == 200 and again.text == response.text

    # After another vote, the receipt is proved at the newest checkpoint, and still holds.
    await run_vote(make_client, world, {"AAA": "abstain"})
    later = check_receipt(
        (await phone.get(receipt_url(world, vote_id, cast["BBB"]["receipt"]))).text, key
    )
    newest = (await phone.get(f"/api/assemblies/{world.assembly_id}/log/checkpoint")).json()
    assert later.size == newest["size"] > receipt.size and later.index == receipt.index


async def test_a_secret_votes_receipt_is_the_list_where_each_phone_finds_its_tracker(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    vote_id, cast = await run_vote(
        make_client, world, {"AAA": "yes", "BBB": "no", "CCC": "abstain"}, secret=True
    )
    phone = await make_client(token=world.token["AAA-del"])
    response = await phone.get(receipt_url(world, vote_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        f'attachment; filename="vote-{vote_id}-trackers.tlog-proof"'
    )
    key = app.state.ctx.audit_key.verifier_key
    receipt = check_receipt(response.text, key)
    assert receipt.kind == "secret_choices" and receipt.vote == vote_id
    assert len(receipt.choices) == 3
    for code, ballot in cast.items():
        found = check_receipt(response.text, key, tracker=ballot["tracker"])
        assert [c.choice for c in found.tracked] == [(ballot["choice"],)], code
    assert receipt.index == await logged_index(phone, world, type="secret_choices", vote=vote_id)
    # Nothing in it names an NMO.
    assert not any(code in json.dumps(receipt.entry) for code in world.nmo)


async def test_receipts_are_refused_with_a_reason_until_and_unless_they_exist(
    make_client: ClientFactory, world: World
) -> None:
    named, cast = await run_vote(make_client, world, {"AAA": "yes"})
    secret, _ = await run_vote(make_client, world, {"AAA": "yes"}, secret=True)
    still_open = await open_vote(make_client, world)
    phone = await make_client(token=world.token["AAA-head"])

    response = await phone.get(receipt_url(world, still_open, "ABCDE-FGHJK"))
    assert response.status_code == 409
    assert "receipts exist once the vote is closed and logged" in response.json()["message"]
    response = await phone.get(receipt_url(world, named, "ZZZZZ-ZZZZZ"))
    assert response.status_code == 404
    assert "No ballot with receipt ZZZZZ-ZZZZZ" in response.json()["message"]
    response = await phone.get(receipt_url(world, 9999, "ABCDE-FGHJK"))
    assert response.status_code == 404 and "no vote 9999" in response.json()["message"]
    response = await phone.get(receipt_url(world, secret, cast["AAA"]["receipt"]))
    assert response.status_code == 400 and "is secret" in response.json()["message"]
    response = await phone.get(receipt_url(world, named))
    assert response.status_code == 400 and "is a named vote" in response.json()["message"]


async def test_only_the_assemblys_members_and_staff_get_its_receipts(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    vote_id, cast = await run_vote(make_client, world, {"AAA": "yes"})
    url = receipt_url(world, vote_id, cast["AAA"]["receipt"])
    other_world = await seed_world(app, nmos=[("ZZZ", "full", 1)], staff=False)
    outsider = await make_client(token=other_world.token["ZZZ-head"])
    refused = await outsider.get(url)
    assert refused.status_code == 403
    # Asked under the other assembly's id, the vote is not there.
    wrong = await outsider.get(
        f"/api/assemblies/{other_world.assembly_id}/log/receipt?vote={vote_id}"
        f"&receipt={cast['AAA']['receipt']}"
    )
    assert wrong.status_code == 404
    assert (await (await make_client()).get(url)).status_code == 401
    for allowed in (
        await make_client(token=world.token["CCC-del"]),
        await make_client(staff="desk"),
    ):
        assert (await allowed.get(url)).status_code == 200


async def test_a_receipt_carries_the_witnesses_cosignatures_of_its_checkpoint(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    vote_id, cast = await run_vote(make_client, world, {"AAA": "yes"})
    witness_key = Ed25519PrivateKey.generate()
    witness_verifier = notes.verifier_key(
        "witness.example", witness_key.public_key(), notes.KeyType.cosignature_v1
    )
    async with writing(app.state.ctx.session_maker) as db:
        assembly = await credentials.get_assembly(db, world.assembly_id)
        await witness.register(db, assembly, "test", name="", verifier_key=witness_verifier)
        latest = await log.latest_checkpoint(db, world.assembly_id)
        assert latest is not None
        body, _ = notes.parse_note(latest.note)
        line = notes.cosign(body, "witness.example", witness_key, 1_750_000_000)
        await witness.accept(db, world.assembly_id, latest.size, line)
        await db.commit()

    phone = await make_client(token=world.token["AAA-head"])
    text = (await phone.get(receipt_url(world, vote_id, cast["AAA"]["receipt"]))).text
    assert text.endswith(line)
    key = app.state.ctx.audit_key.verifier_key
    receipt = check_receipt(text, key, witnesses=[witness_verifier])
    assert receipt.witnesses == ("witness.example",)
    assert "signed by testserver.local and cosigned by witness.example: it holds." in (
        receipt.describe()
    )
    assert check_receipt(text, key).witnesses == ()  # a witness nobody asked for is not named

    path = tmp_path / "receipt.tlog-proof"
    path.write_text(text)
    code, output = run_check(path, "--key", key, "--witness", witness_verifier)
    assert code == 0 and "cosigned by witness.example" in output
    stranger = notes.verifier_key(
        "other.example", Ed25519PrivateKey.generate().public_key(), notes.KeyType.cosignature_v1
    )
    code, output = run_check(path, "--key", key, "--witness", stranger)
    assert code == 1 and "1 of the witnesses given did not cosign this checkpoint" in output


# --- assembly audit receipt -------------------------------------------------------------


def run_check(path: Path, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["audit", "receipt", str(path), *args])
    return done.exit_code, done.output


async def test_the_command_checks_a_downloaded_receipt_and_refuses_a_tampered_one(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    vote_id, cast = await run_vote(make_client, world, {"AAA": "yes", "CCC": "no"})
    phone = await make_client(token=world.token["CCC-head"])
    text = (await phone.get(receipt_url(world, vote_id, cast["CCC"]["receipt"]))).text
    path = tmp_path / f"vote-{vote_id}-receipt.tlog-proof"
    path.write_text(text)
    key = app.state.ctx.audit_key.verifier_key
    key_file = tmp_path / "assembly.pub"
    key_file.write_text(key + "\n")
    expected = check_receipt(text, key)

    code, output = run_check(path, "--key", key)
    assert code == 0, output
    assert (
        f"Ballot of CCC in vote {vote_id} (weight 3/2): no — entry {expected.index} of a log of "
        f"{expected.size} entries, checkpoint signed by testserver.local: it holds."
    ) in output
    assert f"Log: {expected.origin}" in output
    assert run_check(path, "--key", str(key_file))[0] == 0
    assert run_check(path, "--key", str(key_file), "--origin", expected.origin)[0] == 0

    lines = text.split("\n")
    entry_bytes = base64.b64decode(lines[1].removeprefix("extra "))
    lines[1] = "extra " + base64.b64encode(entry_bytes.replace(b'"no"', b'"yes"')).decode()
    tampered = tmp_path / "tampered.tlog-proof"
    tampered.write_text("\n".join(lines))
    code, output = run_check(tampered, "--key", key)
    assert (
        code == 1
        and "FAIL: the receipt does not hold: the entry is not in the signed log" in output
    )

    code, output = run_check(path, "--key", key, "--origin", "elsewhere/assembly/1")
    assert code == 1 and "FAIL:" in output and "not of 'elsewhere/assembly/1'" in output
    code, output = run_check(path, "--key", key, "--tracker", "ab" * 16)
    assert code == 1 and "not of a secret vote's choices" in output


async def test_the_command_finds_a_tracker_in_a_secret_votes_receipt(
    app: Litestar, make_client: ClientFactory, world: World, tmp_path: Path
) -> None:
    vote_id, cast = await run_vote(make_client, world, {"AAA": "no", "BBB": "yes"}, secret=True)
    phone = await make_client(token=world.token["AAA-head"])
    path = tmp_path / "trackers.tlog-proof"
    path.write_text((await phone.get(receipt_url(world, vote_id))).text)
    key = app.state.ctx.audit_key.verifier_key
    tracker = cast["AAA"]["tracker"]

    code, output = run_check(path, "--key", key)
    assert code == 0 and f"The choices of secret vote {vote_id}, 2 ballots" in output
    assert "Pass --tracker" in output
    code, output = run_check(path, "--key", key, "--tracker", tracker)
    assert code == 0, output
    assert f"tracker {tracker[:8]}… is counted with choice: no (weight 1)" in output
    code, output = run_check(path, "--key", key, "--tracker", "ab" * 16)
    assert code == 1
    assert f"FAIL: tracker abababab… is not among the choices counted in vote {vote_id}" in output


# --- the phone --------------------------------------------------------------------------


async def test_the_phone_links_each_ballot_of_a_closed_vote_to_its_receipt(
    app: Litestar, make_client: ClientFactory, world: World
) -> None:
    vote_id, cast = await run_vote(make_client, world, {"AAA": "yes"})
    phone = await make_client(token=world.token["AAA-head"])
    for headers in (HX, {}):  # the live page's fragment, and the plain page without JavaScript
        ballot = section((await phone.get("/delegate/vote", headers=headers)).text, "my-ballot")
        link = receipt_url(world, vote_id, cast["AAA"]["receipt"]).replace("&", "&amp;")
        assert f'<a class="button receipt-link" href="{link}" download>Download receipt' in ballot
    download = await phone.get(receipt_url(world, vote_id, cast["AAA"]["receipt"]))
    check_receipt(download.text, app.state.ctx.audit_key.verifier_key)

    secret, _ = await run_vote(make_client, world, {"AAA": "no"}, secret=True)
    ballot = section((await phone.get("/delegate/vote", headers=HX)).text, "my-ballot")
    assert f'data-tracker-check="{secret}"' in ballot
    assert f'data-receipt-url="{receipt_url(world, secret)}"' in ballot
    assert "Download the list of trackers" in ballot and 'role="status"' in ballot
    assert "Download receipt" not in ballot
    assert f'data-tracker-for="{secret}:{world.nmo["AAA"]}" data-code="AAA"' in ballot


async def test_an_open_or_cancelled_vote_has_no_receipt_link(
    make_client: ClientFactory, world: World
) -> None:
    vote_id = await open_vote(make_client, world)
    phone = await make_client(token=world.token["AAA-head"])
    sent = await phone.post(
        f"/api/votes/{vote_id}/ballots",
        json={"ballots": [{"nmo_id": world.nmo["AAA"], "ballot_id": "b1", "choice": "yes"}]},
    )
    assert sent.status_code == 200
    assert "receipt-link" not in (await phone.get("/delegate/vote", headers=HX)).text
    chair = await make_client(staff="chair")
    assert (await chair.post(f"/api/votes/{vote_id}/cancel")).status_code == 200
    ballot = section((await phone.get("/delegate/vote", headers=HX)).text, "my-ballot")
    assert "recorded, receipt" in ballot and "receipt-link" not in ballot
    refused = await phone.get(receipt_url(world, vote_id, sent.json()["ballots"][0]["receipt"]))
    assert refused.status_code == 409 and "cancelled" in refused.json()["message"]
