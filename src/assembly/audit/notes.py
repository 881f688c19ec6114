"""Signed checkpoints in the formats of the public transparency-log ecosystem: C2SP signed-note
(Ed25519), tlog-checkpoint, and tlog-cosignature (cosignature/v1, Ed25519) for witnesses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assembly.audit.merkle import HASH_SIZE

MAX_SIGNATURES = 100
"""Signature lines accepted in one note: the spec asks for at least 16; this bounds the work."""

MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_PREFIX = "— "  # em dash (U+2014), space
_COSIGNATURE_HEADER = "cosignature/v1\n"
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")
_KEY_ID = re.compile(r"[0-9a-f]{8}")
_ED25519_SIGNATURE_SIZE = 64


class NoteError(Exception):
    """A note, checkpoint, signature or verifier key is malformed or does not verify."""


class KeyType(IntEnum):
    """Signature type bytes assigned by C2SP signed-note, section "Signature types"."""

    ed25519 = 0x01
    """A plain Ed25519 signature over the note text: the log's checkpoint signature."""
    cosignature_v1 = 0x04
    """A timestamped Ed25519 witness cosignature (C2SP tlog-cosignature, cosignature/v1)."""


@dataclass(frozen=True)
class Verifier:
    """A known public key: its name, its signature type and its raw 32-byte Ed25519 key."""

    name: str
    key_type: KeyType
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if self.key_type not in tuple(KeyType):  # a plain int from a caller
            raise NoteError(f"signature type {self.key_type!r} is not supported")
        if len(self.public_key) != 32:
            raise NoteError(f"an Ed25519 public key is 32 bytes, not {len(self.public_key)}")

    @property
    def key_id(self) -> bytes:
        """SHA-256(name || 0x0A || type || public key)[:4], as signed-note recommends and
        tlog-cosignature requires."""
        return _key_id(self.name, self.key_type, self.public_key)

    def __str__(self) -> str:
        """The verifier key: "<name>+<hex key ID>+<base64(type || public key)>"."""
        material = base64.b64encode(bytes([self.key_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{material}"

    def verifies(self, text: bytes, signature: bytes) -> bool:
        """Whether `signature` (without its key ID) is this key's signature of the note text."""
        if self.key_type == KeyType.cosignature_v1:
            if len(signature) != 8 + _ED25519_SIGNATURE_SIZE:
                return False
            timestamp = int.from_bytes(signature[:8], "big")
            if timestamp > MAX_TIMESTAMP:
                return False
            message, signature = _cosigned_message(timestamp, text), signature[8:]
        else:
            if len(signature) != _ED25519_SIGNATURE_SIZE:
                return False
            message = text
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note, not yet checked."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        value = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIGNATURE_PREFIX}{self.name} {value}\n"


def verifier_key(
    name: str, public_key: Ed25519PublicKey, key_type: KeyType = KeyType.ed25519
) -> str:
    """The verifier key string a member pins: "<name>+<hex key ID>+<base64(type || key)>"."""
    return str(Verifier(name, key_type, public_key.public_bytes_raw()))


def parse_verifier_key(text: str) -> Verifier:
    """Read a verifier key string, checking its key ID; refuses unknown signature types."""
    name, _, rest = text.partition("+")
    key_id, _, material = rest.partition("+")
    if not _KEY_ID.fullmatch(key_id):
        raise NoteError(f"verifier key {text!r}: expected <name>+<8 hex digits>+<base64 key>")
    raw = _strict_b64decode(material, "verifier key material")
    if len(raw) != 33:
        raise NoteError(f"verifier key {text!r}: expected a type byte and a 32-byte Ed25519 key")
    try:
        key_type = KeyType(raw[0])
    except ValueError:
        raise NoteError(
            f"verifier key {text!r}: signature type 0x{raw[0]:02x} is not supported "
            "(only Ed25519 0x01 and Ed25519 cosignature/v1 0x04)"
        ) from None
    verifier = Verifier(name, key_type, raw[1:])
    if verifier.key_id.hex() != key_id:
        raise NoteError(f"verifier key {text!r}: its key ID does not match its name and key")
    return verifier


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: `body`, a blank line, and one Ed25519 signature line by key `name`."""
    _check_key_name(name)
    text = _note_text(body)
    public_key = private_key.public_key().public_bytes_raw()
    signature = NoteSignature(
        name, _key_id(name, KeyType.ed25519, public_key), private_key.sign(text)
    )
    return f"{body}\n{signature.line()}"


def parse_note(text: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and its signature lines, checking only the format."""
    _check_text(text, "the note")
    split = text.rfind("\n\n")
    if split < 0:
        raise NoteError("the note has no blank line before its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("the note has no signature lines, or they do not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    signatures = []
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise NoteError(f"signature line {line!r} does not start with an em dash and a space")
        name, _, value = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        _check_key_name(name)
        raw = _strict_b64decode(value, f"the signature by {name!r}")
        if len(raw) < 5:
            raise NoteError(f"the signature by {name!r} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return body, signatures


def open_note(text: str, verifiers: Iterable[Verifier]) -> tuple[str, list[str]]:
    """Check a signed note against the known keys; returns its text and the names of the known
    keys whose signatures verify, in order.

    As C2SP signed-note requires, signatures by unknown keys are ignored and a note with no
    verified signature from a known key is refused; a known key's failing signature refuses
    the whole note (the spec's SHOULD), since it means the text was altered or the key misused.
    """
    body, signatures = parse_note(text)
    known: dict[tuple[str, bytes], Verifier] = {}
    for candidate in verifiers:
        if known.setdefault((candidate.name, candidate.key_id), candidate) != candidate:
            raise NoteError(f"two verifier keys share the name {candidate.name!r} and key ID")
    message = body.encode("utf-8")
    verified: list[str] = []
    for signature in signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue
        if not verifier.verifies(message, signature.signature):
            raise NoteError(
                f"the signature by {signature.name!r} ({verifier}) does not verify: "
                "the note was altered, or it was not signed by that key"
            )
        if signature.name not in verified:
            verified.append(signature.name)
    if not verified:
        names = ", ".join(sorted({s.name for s in signatures}))
        raise NoteError(f"the note has no valid signature by a known key (signed by: {names})")
    return body, verified


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint: the log's origin, its tree size and the root hash at that size."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise NoteError("a checkpoint's origin must not be empty")
        _check_line(self.origin, "the checkpoint origin")
        if not 0 <= self.size < 2**64:
            raise NoteError(f"tree size {self.size} is out of range")
        if len(self.root) != HASH_SIZE:
            raise NoteError(f"a checkpoint's root hash is {HASH_SIZE} bytes, not {len(self.root)}")
        for line in self.extensions:
            if not line:
                raise NoteError("a checkpoint's extension lines must not be empty")
            _check_line(line, "a checkpoint extension line")

    def body(self) -> str:
        """The note text: origin, size and base64 root hash, one per line, then extensions."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Read a checkpoint body, strictly: the result's body() gives back the same text."""
        if not body.endswith("\n"):
            raise NoteError("a checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError("a checkpoint has at least three lines: origin, tree size, root hash")
        origin, size, root, *extensions = lines
        if not _TREE_SIZE.fullmatch(size):
            raise NoteError(f"tree size {size!r} is not a decimal number without leading zeros")
        return cls(origin, int(size), _strict_b64decode(root, "the root hash"), tuple(extensions))


def open_checkpoint(
    text: str, log: Verifier, origin: str, witnesses: Iterable[Verifier] = ()
) -> tuple[Checkpoint, list[str]]:
    """Check a signed checkpoint of the log `origin`: the log key must have signed it. Returns
    the checkpoint and the names of the witnesses whose cosignatures verify.

    The origin is checked because one key may sign the logs of several assemblies: without it
    a checkpoint of one assembly could pass for another's."""
    body, names = open_note(text, [log, *witnesses])
    if log.name not in names:
        raise NoteError(f"the checkpoint is not signed by the log key {log}")
    checkpoint = Checkpoint.parse(body)
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of the log {checkpoint.origin!r}, not of {origin!r}")
    return checkpoint, [name for name in names if name != log.name]


def cosign(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A witness's cosignature/v1 signature line for a checkpoint body, signed at `timestamp`
    (POSIX seconds); append it to the signed checkpoint to publish it."""
    _check_key_name(name)
    Checkpoint.parse(body)  # a witness vouches for checkpoints only
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is out of range")
    text = _note_text(body)
    public_key = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(_cosigned_message(timestamp, text))
    return NoteSignature(
        name,
        _key_id(name, KeyType.cosignature_v1, public_key),
        timestamp.to_bytes(8, "big") + signature,
    ).line()


def verify_cosignature(body: str, line: str, witness: Verifier) -> int:
    """Check one cosignature line of `witness` on a checkpoint body; returns its timestamp."""
    if witness.key_type != KeyType.cosignature_v1:
        raise NoteError(f"{witness} is not a cosignature/v1 key (its type byte must be 0x04)")
    if not line.endswith("\n"):
        line += "\n"
    _, signatures = parse_note(f"{body}\n{line}")
    if len(signatures) != 1:
        raise NoteError("expected exactly one cosignature line")
    signature = signatures[0]
    if (signature.name, signature.key_id) != (witness.name, witness.key_id):
        raise NoteError(f"the cosignature is by {signature.name!r}, not by the witness {witness}")
    if not witness.verifies(_note_text(body), signature.signature):
        raise NoteError(f"the cosignature by {witness.name!r} does not verify on this checkpoint")
    return int.from_bytes(signature.signature[:8], "big")


def short_root(root: bytes) -> str:
    """The first 8 hex characters of a root hash: what the projector shows after each result."""
    if len(root) != HASH_SIZE:
        raise NoteError(f"a root hash is {HASH_SIZE} bytes, not {len(root)}")
    return root.hex()[:8]


def _key_id(name: str, key_type: KeyType, public_key: bytes) -> bytes:
    material = name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(material).digest()[:4]


def _cosigned_message(timestamp: int, text: bytes) -> bytes:
    return f"{_COSIGNATURE_HEADER}time {timestamp}\n".encode("ascii") + text


def _note_text(body: str) -> bytes:
    if not body.endswith("\n"):
        raise NoteError("a note's text must end with a newline")
    _check_text(body, "the note text")
    return body.encode("utf-8")


def _check_key_name(name: str) -> None:
    # signed-note: non-empty, no Unicode spaces, no plus (it separates a verifier key's parts).
    if (
        not name
        or "+" in name
        or any(c.isspace() or unicodedata.category(c) in ("Zs", "Cc") for c in name)
    ):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or plus signs")


def _check_text(text: str, what: str) -> None:
    # signed-note: valid UTF-8 without ASCII control characters other than newline.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"{what} is not valid Unicode text") from None
    if any(c < " " and c != "\n" for c in text):
        raise NoteError(f"{what} contains a control character")


def _check_line(line: str, what: str) -> None:
    if "\n" in line or any(c < " " for c in line):
        raise NoteError(f"{what} must be one line without control characters")


def _strict_b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding, refusing any other spelling of the same bytes, so that
    every accepted note re-encodes to exactly its own text."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise NoteError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw
