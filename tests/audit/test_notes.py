"""Signed notes, checkpoints and witness cosignatures against the C2SP specs: the reference
example of golang.org/x/mod/sumdb/note byte for byte, the examples of the C2SP texts, real
verifier keys, then refusals of every kind of malformed or altered note."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from assembly.audit import notes
from assembly.audit.notes import (
    Checkpoint,
    KeyType,
    NoteError,
    Verifier,
    cosign,
    open_checkpoint,
    open_note,
    parse_note,
    parse_verifier_key,
    short_root,
    sign_note,
    verifier_key,
    verify_cosignature,
)

# The example of golang.org/x/mod/sumdb/note (note.go and note_test.go), the reference
# implementation of C2SP signed-note.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngo"
    "tpRZb6KE6RyyBwJnAM=\n"
)
PETER_NOTE = PETER_TEXT + "\n" + PETER_LINE
ENOCH_LINE = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLo"
    "x33WWd1RvMc+QQ=\n"
)

# The example of C2SP tlog-cosignature: a checkpoint signed by its log and cosigned by a witness.
SOFA_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_NOTE = (
    SOFA_BODY
    + "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b"
    "2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)

ORIGIN = "assembly.example.org/ga-2026-03"
WITNESS = "witness.nmo.example/w1"


def peter_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert seed[0] == KeyType.ed25519
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def key(n: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"test key %d" % n).digest())


def checkpoint(size: int = 7) -> Checkpoint:
    return Checkpoint(ORIGIN, size, hashlib.sha256(b"root %d" % size).digest())


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    assert sign_note(PETER_TEXT, "PeterNeumann", peter_key()) == PETER_NOTE
    assert verifier_key("PeterNeumann", peter_key().public_key()) == PETER_VKEY


def test_the_reference_note_opens_with_its_verifier_key() -> None:
    verifier = parse_verifier_key(PETER_VKEY)
    assert verifier.name == "PeterNeumann"
    assert verifier.key_id.hex() == "c74f20a3"
    assert verifier.key_type is KeyType.ed25519
    assert str(verifier) == PETER_VKEY
    assert open_note(PETER_NOTE, [verifier]) == (PETER_TEXT, ["PeterNeumann"])


def test_signatures_by_unknown_keys_are_ignored() -> None:
    doubly_signed = PETER_NOTE + ENOCH_LINE  # the Go example's note re-signed by EnochRoot
    assert open_note(doubly_signed, [parse_verifier_key(PETER_VKEY)]) == (
        PETER_TEXT,
        ["PeterNeumann"],
    )
    stranger = Verifier("EnochRoot", KeyType.ed25519, key(1).public_key().public_bytes_raw())
    with pytest.raises(NoteError, match=r"no valid signature by a known key.*EnochRoot"):
        open_note(PETER_TEXT + "\n" + ENOCH_LINE, [stranger, parse_verifier_key(PETER_VKEY)])
    # Same name, another key: a different key ID, so not the known key either.
    impostor = Verifier("PeterNeumann", KeyType.ed25519, key(2).public_key().public_bytes_raw())
    with pytest.raises(NoteError, match="no valid signature"):
        open_note(PETER_NOTE, [impostor])


def test_every_mangling_of_a_verifier_key_is_refused() -> None:
    """Ported from note_test.go: any proper substring, any character changed."""
    for start in range(len(PETER_VKEY)):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) != (0, len(PETER_VKEY)):
                with pytest.raises(NoteError):
                    parse_verifier_key(PETER_VKEY[start:end])
    for i, char in enumerate(PETER_VKEY):
        with pytest.raises(NoteError):
            parse_verifier_key(PETER_VKEY[:i] + chr(ord(char) + 1) + PETER_VKEY[i + 1 :])
    with pytest.raises(NoteError, match="type 0x02"):
        parse_verifier_key(str(Verifier("x", KeyType.ed25519, bytes(32))).replace("+AQAA", "+AgAA"))


def test_real_verifier_keys_of_both_types_are_read() -> None:
    # From transparency-dev/formats note_cosigv1_test.go: a witness's cosignature/v1 key (0x04)
    # and a plain Ed25519 key (0x01); their key IDs check the hash over name, type and key.
    witness = parse_verifier_key(
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    )
    assert witness.key_type is KeyType.cosignature_v1
    plain = parse_verifier_key("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert plain.key_type is KeyType.ed25519
    assert plain.name == "TEST"


def test_a_key_id_is_the_hash_of_name_type_and_key() -> None:
    public = key(3).public_key().public_bytes_raw()
    for key_type in KeyType:
        verifier = Verifier("log.example", key_type, public)
        expected = hashlib.sha256(b"log.example\n" + bytes([key_type]) + public).digest()[:4]
        assert verifier.key_id == expected
        assert parse_verifier_key(str(verifier)) == verifier


@pytest.mark.parametrize(
    "name", ["", "two words", "a+b", "tab\there", "no\u00a0break", "line\nbreak", "\u2003em"]
)
def test_key_names_with_spaces_or_plus_signs_are_refused(name: str) -> None:
    with pytest.raises(NoteError, match="key name"):
        sign_note("text\n", name, key(1))
    with pytest.raises(NoteError, match="key name"):
        verifier_key(name, key(1).public_key())


def test_any_change_to_a_signed_note_is_refused() -> None:
    verifier = parse_verifier_key(PETER_VKEY)
    for i in range(len(PETER_TEXT) - 1):
        changed = PETER_TEXT[:i] + ("X" if PETER_TEXT[i] != "X" else "Y") + PETER_TEXT[i + 1 :]
        with pytest.raises(NoteError, match="does not verify"):
            open_note(changed + "\n" + PETER_LINE, [verifier])
    signature = base64.b64decode(PETER_LINE.split()[-1])
    for i in range(4, len(signature)):
        flipped = bytearray(signature)
        flipped[i] ^= 0x10
        line = f"— PeterNeumann {base64.b64encode(flipped).decode()}\n"
        with pytest.raises(NoteError, match="does not verify"):
            open_note(PETER_TEXT + "\n" + line, [verifier])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (PETER_TEXT + PETER_LINE, "no blank line"),
        (PETER_TEXT + "\n", "no signature lines"),
        (PETER_NOTE[:-1], "do not end with a newline"),
        (PETER_NOTE.replace("— ", "- "), "em dash"),
        (PETER_NOTE.replace("—", "--"), "em dash"),
        (PETER_NOTE.replace("=\n", "\n"), "not valid base64"),
        (PETER_NOTE.replace("M=\n", "N=\n"), "not canonical base64"),
        (PETER_TEXT + "\n— PeterNeumann AAAA\n", "too short"),
        (PETER_TEXT + "\n— Peter+Neumann AAAAAAA=\n", "key name"),
        (PETER_TEXT + "\n—  PeterNeumann AAAAAAA=\n", "key name"),
        ("tab\there\n" + "\n" + PETER_LINE, "control character"),
        ("crlf\r\n" + "\n" + PETER_LINE, "control character"),
        ("lone \ud800 surrogate\n" + "\n" + PETER_LINE, "not valid Unicode"),
        (PETER_TEXT + "\n" + PETER_LINE * 101, "more than 100"),
    ],
)
def test_malformed_notes_are_refused(text: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        open_note(text, [parse_verifier_key(PETER_VKEY)])


def test_sixteen_signatures_are_accepted_and_each_signer_named_once() -> None:
    keys = [key(n) for n in range(16)]
    body = checkpoint().body()
    note = sign_note(body, "signer-0", keys[0])
    for n, private in enumerate(keys[1:], start=1):
        note += sign_note(body, f"signer-{n}", private).split("\n\n")[1]
    note += sign_note(body, "signer-0", keys[0]).split("\n\n")[1]  # a repeated line
    verifiers = [
        Verifier(f"signer-{n}", KeyType.ed25519, k.public_key().public_bytes_raw())
        for n, k in enumerate(keys)
    ]
    assert open_note(note, verifiers) == (body, [f"signer-{n}" for n in range(16)])


def test_ambiguous_verifiers_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    public = key(1).public_key().public_bytes_raw()
    same = Verifier("x", KeyType.ed25519, public)
    assert open_note(sign_note("a\n", "x", key(1)), [same, same]) == ("a\n", ["x"])
    # Two keys whose name and 4-byte key ID collide: which one signed cannot be told.
    monkeypatch.setattr(notes, "_key_id", lambda name, key_type, public_key: b"\0\0\0\0")
    other = Verifier("x", KeyType.ed25519, key(2).public_key().public_bytes_raw())
    with pytest.raises(NoteError, match="share the name 'x'"):
        open_note(sign_note("a\n", "x", key(1)), [same, other])


def test_a_body_with_blank_lines_is_split_at_the_last_one() -> None:
    body = "first\n\nsecond\n\n"
    note = sign_note(body, "x", key(1))
    assert open_note(
        note, [Verifier("x", KeyType.ed25519, key(1).public_key().public_bytes_raw())]
    ) == (body, ["x"])


def test_a_body_must_end_with_a_newline() -> None:
    with pytest.raises(NoteError, match="end with a newline"):
        sign_note("no newline", "x", key(1))


# Checkpoints.


def test_a_checkpoint_body_is_origin_size_and_root() -> None:
    root = bytes(range(32))
    body = Checkpoint(ORIGIN, 42, root).body()
    assert body == f"{ORIGIN}\n42\n{base64.b64encode(root).decode()}\n"
    assert Checkpoint.parse(body) == Checkpoint(ORIGIN, 42, root)
    with_extensions = Checkpoint(ORIGIN, 0, root, ("ext one", "ext two"))
    assert with_extensions.body().endswith("\next one\next two\n")
    assert Checkpoint.parse(with_extensions.body()) == with_extensions


def test_the_specification_example_checkpoint_is_read() -> None:
    parsed = Checkpoint.parse(SOFA_BODY)
    assert (parsed.origin, parsed.size) == ("example.com/behind-the-sofa", 20852163)
    assert parsed.body() == SOFA_BODY


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("origin\n1\n", "at least three lines"),
        ("origin\n1\nAAAA", "end with a newline"),
        (f"{ORIGIN}\n01\n{base64.b64encode(bytes(32)).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n+1\n{base64.b64encode(bytes(32)).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n 1\n{base64.b64encode(bytes(32)).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n١\n{base64.b64encode(bytes(32)).decode()}\n", "leading zeros"),
        (f"{ORIGIN}\n{2**64}\n{base64.b64encode(bytes(32)).decode()}\n", "out of range"),
        (f"{ORIGIN}\n1\n{base64.b64encode(bytes(31)).decode()}\n", "32 bytes, not 31"),
        (f"{ORIGIN}\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n", "not canonical"),
        (f"{ORIGIN}\n1\n{base64.b64encode(bytes(32)).decode()}\n\n", "extension lines"),
        (f"\n1\n{base64.b64encode(bytes(32)).decode()}\n", "origin must not be empty"),
    ],
)
def test_malformed_checkpoints_are_refused(body: str, message: str) -> None:
    with pytest.raises(NoteError, match=message):
        Checkpoint.parse(body)


@settings(max_examples=100, deadline=None)
@given(
    origin=st.text(st.characters(min_codepoint=0x20, exclude_characters="\x7f"), min_size=1),
    size=st.integers(0, 2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(st.characters(min_codepoint=0x20), min_size=1), max_size=3),
)
def test_checkpoints_round_trip_through_their_body(
    origin: str, size: int, root: bytes, extensions: list[str]
) -> None:
    original = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(original.body()) == original


def test_a_signed_checkpoint_opens_only_for_its_log_and_origin() -> None:
    log = Verifier(ORIGIN, KeyType.ed25519, key(1).public_key().public_bytes_raw())
    signed = sign_note(checkpoint().body(), ORIGIN, key(1))
    assert open_checkpoint(signed, log, ORIGIN) == (checkpoint(), [])
    with pytest.raises(NoteError, match=r"not of 'assembly\.example\.org/ga-2027-03'"):
        open_checkpoint(signed, log, "assembly.example.org/ga-2027-03")
    other_log = Verifier(ORIGIN, KeyType.ed25519, key(2).public_key().public_bytes_raw())
    with pytest.raises(NoteError, match="no valid signature"):
        open_checkpoint(signed, other_log, ORIGIN)


def test_short_root_is_the_first_eight_hex_characters() -> None:
    assert short_root(bytes.fromhex("5dc9da79" + "00" * 28)) == "5dc9da79"
    with pytest.raises(NoteError):
        short_root(b"short")


# Witness cosignatures (cosignature/v1).


def witness_verifier(n: int = 5) -> Verifier:
    return parse_verifier_key(verifier_key(WITNESS, key(n).public_key(), KeyType.cosignature_v1))


def test_a_cosignature_is_the_timestamped_signature_the_spec_describes() -> None:
    body = checkpoint().body()
    line = cosign(body, WITNESS, key(5), 1_767_225_600)
    assert line.startswith(f"— {WITNESS} ") and line.endswith("\n")
    raw = base64.b64decode(line.split()[-1])
    public = key(5).public_key().public_bytes_raw()
    assert len(raw) == 4 + 8 + 64
    assert raw[:4] == hashlib.sha256(WITNESS.encode() + b"\n\x04" + public).digest()[:4]
    assert int.from_bytes(raw[4:12], "big") == 1_767_225_600
    # The signed message, built by hand from tlog-cosignature's "Ed25519 signed message".
    message = b"cosignature/v1\ntime 1767225600\n" + body.encode()
    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    assert witness_verifier().key_id == raw[:4]
    assert str(witness_verifier()).split("+")[2].startswith("B")  # base64 of 0x04 || key


def test_the_specification_example_cosignature_carries_its_timestamp() -> None:
    _, signatures = parse_note(SOFA_NOTE)
    assert [s.name for s in signatures] == ["example.com/behind-the-sofa", "witness.example.com/w1"]
    cosignature = signatures[1].signature
    assert len(cosignature) == 8 + 64
    assert int.from_bytes(cosignature[:8], "big") == 1679315147  # the spec's "time 1679315147"


def test_a_cosigned_checkpoint_names_its_witnesses() -> None:
    body = checkpoint().body()
    log = Verifier(ORIGIN, KeyType.ed25519, key(1).public_key().public_bytes_raw())
    note = sign_note(body, ORIGIN, key(1)) + cosign(body, WITNESS, key(5), 1_767_225_600)
    assert verify_cosignature(body, note.split("\n\n")[1].split("\n")[1], witness_verifier()) == (
        1_767_225_600
    )
    assert open_note(note, [log, witness_verifier()]) == (body, [ORIGIN, WITNESS])
    assert open_checkpoint(note, log, ORIGIN, [witness_verifier()]) == (checkpoint(), [WITNESS])
    # Without the log's own signature, a witness's cosignature is not enough.
    with pytest.raises(NoteError, match="not signed by the log key"):
        open_checkpoint(
            f"{body}\n" + cosign(body, WITNESS, key(5), 1), log, ORIGIN, [witness_verifier()]
        )


def test_a_cosignature_does_not_pass_for_another_checkpoint_time_or_key_type() -> None:
    body, other = checkpoint(7).body(), checkpoint(8).body()
    line = cosign(body, WITNESS, key(5), 1_767_225_600)
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(other, line, witness_verifier())
    raw = bytearray(base64.b64decode(line.split()[-1]))
    raw[11] ^= 1  # another timestamp
    changed = f"— {WITNESS} {base64.b64encode(raw).decode()}\n"
    with pytest.raises(NoteError, match="does not verify"):
        verify_cosignature(body, changed, witness_verifier())
    with pytest.raises(NoteError, match="not by the witness"):
        verify_cosignature(body, line, witness_verifier(6))
    # The same key as a plain Ed25519 key has another key ID: the line is not its signature.
    plain = Verifier(WITNESS, KeyType.ed25519, key(5).public_key().public_bytes_raw())
    with pytest.raises(NoteError, match="no valid signature"):
        open_note(f"{body}\n{line}", [plain])
    with pytest.raises(NoteError, match="not a cosignature/v1 key"):
        verify_cosignature(body, line, plain)


def test_only_checkpoints_are_cosigned() -> None:
    with pytest.raises(NoteError, match="at least three lines"):
        cosign("just a note\n", WITNESS, key(5), 1)
    with pytest.raises(NoteError, match="timestamp"):
        cosign(checkpoint().body(), WITNESS, key(5), 2**63)


note_text = st.text(
    st.characters(codec="utf-8", min_codepoint=0x20) | st.just("\n"), max_size=80
).map(lambda text: text + "\n")


@settings(max_examples=50, deadline=None)
@given(body=note_text, name=st.from_regex(r"[a-z0-9./-]{1,30}", fullmatch=True))
def test_any_note_round_trips(body: str, name: str) -> None:
    verifier = Verifier(name, KeyType.ed25519, key(1).public_key().public_bytes_raw())
    assert open_note(sign_note(body, name, key(1)), [verifier]) == (body, [name])
