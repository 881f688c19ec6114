"""Receipts: one C2SP tlog-proof file (https://c2sp.org/tlog-proof) proving that an entry of an
assembly's audit log (a named ballot, or a secret vote's list of trackers and choices) is in
the log its key signed, checkable offline with nothing but that key.

The entry's exact canonical bytes travel base64-encoded in the proof's `extra` line, so the
one file is the whole receipt. The spec warns that `extra` is not authenticated: here it is,
by hashing it into the leaf that the inclusion proof ties to the signed checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from assembly.audit import merkle, notes
from assembly.audit.canonical import CanonicalError, parse

HEADER = "c2sp.org/tlog-proof@v1"
FILE_EXTENSION = ".tlog-proof"
MAX_PROOF_HASHES = 64
"""A tree of fewer than 2**64 entries needs at most 64 hashes to prove an entry."""

_INDEX = re.compile(r"0|[1-9][0-9]*")
_TRACKER = re.compile(r"[0-9a-f]{32}")


class ReceiptError(Exception):
    """A receipt is malformed, or does not prove what it claims; the message says why."""


@dataclasses.dataclass(frozen=True)
class TlogProof:
    """A tlog-proof: the entry's index, its inclusion proof (from the leaf's sibling up), the
    signed checkpoint verbatim (with any cosignature lines) and optional opaque extra data."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index < 2**64:
            raise ReceiptError(f"index {self.index} is out of range")
        if len(self.hashes) > MAX_PROOF_HASHES:
            raise ReceiptError(
                f"the inclusion proof has {len(self.hashes)} hashes, more than any log needs"
            )
        for number, value in enumerate(self.hashes):
            if len(value) != merkle.HASH_SIZE:
                raise ReceiptError(
                    f"proof hash {number} is {len(value)} bytes, not {merkle.HASH_SIZE}"
                )
        try:
            notes.Checkpoint.parse(notes.parse_note(self.checkpoint)[0])
        except notes.NoteError as exc:
            raise ReceiptError(f"the checkpoint is malformed: {exc}") from None

    def text(self) -> str:
        """The file's text: header, extra line, index, one base64 hash per line, a blank line
        and the checkpoint."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append(f"extra {_b64(self.extra)}")
        lines.append(f"index {self.index}")
        lines.extend(_b64(h) for h in self.hashes)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        """Read a tlog-proof strictly: the result's text() gives back the same text."""
        if "\r" in text:
            raise ReceiptError(
                "the receipt has carriage returns: its lines must end with a newline only "
                "(was it opened and saved by an editor?)"
            )
        head, blank, checkpoint = text.partition("\n\n")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise ReceiptError(f"not a receipt: the first line must be {HEADER!r}")
        if not blank:
            raise ReceiptError("the receipt has no blank line before its checkpoint")
        at = 1
        extra: bytes | None = None
        if at < len(lines) and lines[at].startswith("extra "):
            extra = _b64decode(lines[at].removeprefix("extra "), f"line {at + 1} (extra data)")
            at += 1
        if at == len(lines) or not lines[at].startswith("index "):
            raise ReceiptError(f"line {at + 1} must be the entry's index: 'index <number>'")
        number = lines[at].removeprefix("index ")
        if not _INDEX.fullmatch(number):
            raise ReceiptError(
                f"line {at + 1}: index {number!r} is not a decimal number without leading zeros"
            )
        hashes = tuple(
            _hash(line, f"line {at + 2 + i} (proof hash {i})")
            for i, line in enumerate(lines[at + 1 :])
        )
        if not checkpoint:
            raise ReceiptError("the receipt ends before its checkpoint")
        return cls(int(number), hashes, checkpoint, extra)


def build_receipt(entry: bytes, index: int, hashes: list[bytes], checkpoint: str) -> str:
    """The receipt of the log entry `entry` at `index`: its proof at the checkpoint's size."""
    return TlogProof(index, tuple(hashes), checkpoint, entry).text()


@dataclasses.dataclass(frozen=True)
class LoggedChoice:
    """One ballot's content as logged: a named ballot has its NMO and receipt code, a secret
    one only the tracker its phone made."""

    choice: tuple[str, ...]
    weight: str
    nmo: str = ""
    receipt: str = ""
    tracker: str = ""

    @property
    def choice_text(self) -> str:
        return ", ".join(self.choice) if self.choice else "a blank ballot"


@dataclasses.dataclass(frozen=True)
class Receipt:
    """What a checked receipt proves: entry `index` of the log `origin` is `entry`, in the tree
    of `size` entries whose checkpoint the key `signed_by` signed."""

    origin: str
    index: int
    size: int
    signed_by: str
    entry: dict[str, Any]
    witnesses: tuple[str, ...] = ()
    """The names of the given witnesses whose cosignatures of the checkpoint verify."""
    tracker: str | None = None
    """The tracker looked up (lower-case hex), when one was given."""

    @property
    def kind(self) -> str:
        return str(self.entry.get("type", ""))

    @property
    def vote(self) -> int | None:
        vote = self.entry.get("vote")
        return vote if isinstance(vote, int) else None

    @property
    def ballot(self) -> LoggedChoice | None:
        """A named ballot: its NMO, weight, choice and receipt code."""
        if self.kind != "ballot":
            return None
        return _logged_choice(self.entry, "the ballot", named=True)

    @property
    def choices(self) -> tuple[LoggedChoice, ...]:
        """A secret vote's (tracker, choice, weight) list; empty for other entries."""
        if self.kind != "secret_choices":
            return ()
        items = self.entry.get("choices")
        if not isinstance(items, list):
            raise ReceiptError("the secret choices entry has no list of choices")
        return tuple(_logged_choice(item, f"choice {i}") for i, item in enumerate(items))

    @property
    def tracked(self) -> tuple[LoggedChoice, ...]:
        """The choices logged with the tracker looked up: one when it was counted."""
        if self.tracker is None:
            return ()
        return tuple(c for c in self.choices if c.tracker == self.tracker)

    def describe(self) -> str:
        """One sentence: what the entry says and where it is, e.g. "Ballot of FR in vote 3
        (weight 1): yes — entry 17 of a log of 40 entries, checkpoint signed by ...: it holds."""
        ballot = self.ballot
        if ballot is not None:
            what = (
                f"Ballot of {ballot.nmo} in vote {self.vote} (weight {ballot.weight}): "
                f"{ballot.choice_text}"
            )
        elif self.kind == "secret_choices":
            count = len(self.choices)
            what = (
                f"The choices of secret vote {self.vote}, {count} ballot{'s' if count != 1 else ''}"
                " with their trackers"
            )
        elif self.kind == "vote_result":
            # The public record links every decision to this entry's proof.
            result = self.entry.get("result")
            explanation = result.get("explanation") if isinstance(result, dict) else None
            what = f"The result of vote {self.vote}" + (
                f": {explanation}" if isinstance(explanation, str) and explanation else ""
            )
        else:
            what = f"A {self.kind} entry" + (f" of vote {self.vote}" if self.vote else "")
        cosigned = f" and cosigned by {', '.join(self.witnesses)}" if self.witnesses else ""
        return (
            f"{what} — entry {self.index} of a log of {self.size} entries, checkpoint signed "
            f"by {self.signed_by}{cosigned}: it holds."
        )


def check_receipt(
    text: str,
    verifier_key: str,
    origin: str | None = None,
    *,
    witnesses: Sequence[str] = (),
    tracker: str | None = None,
) -> Receipt:
    """Check a receipt offline: the checkpoint is signed by `verifier_key` for the log
    `origin` (default: the log the checkpoint names), and the entry carried in `extra` is at
    `index` in the tree that checkpoint commits to. Cosignatures by the `witnesses` (their
    cosignature/v1 verifier keys) are checked and named in the result. `tracker`, for the
    receipt of a secret vote, is looked up in its choices (see Receipt.tracked). Raises
    ReceiptError."""
    proof = TlogProof.parse(text)
    try:
        verifier = notes.parse_verifier_key(verifier_key.strip())
        known = [notes.parse_verifier_key(key.strip()) for key in witnesses]
    except notes.NoteError as exc:
        raise ReceiptError(f"a verifier key cannot be read: {exc}") from None
    body, _ = notes.parse_note(proof.checkpoint)
    named = notes.Checkpoint.parse(body).origin
    try:
        checkpoint, cosigned = notes.open_checkpoint(
            proof.checkpoint, verifier, origin or named, known
        )
    except notes.NoteError as exc:
        raise ReceiptError(f"the checkpoint does not verify: {exc}") from None
    if proof.extra is None:
        raise ReceiptError(
            "the receipt carries no entry (no 'extra' line): it proves an entry is there, "
            "not what it says"
        )
    try:
        merkle.verify_inclusion(
            proof.index,
            checkpoint.size,
            merkle.leaf_hash(proof.extra),
            proof.hashes,
            checkpoint.root,
        )
    except merkle.ProofError as exc:
        raise ReceiptError(
            f"the entry is not in the signed log: {exc} (the entry or the proof was changed)"
        ) from None
    try:
        entry = parse(proof.extra)
    except CanonicalError as exc:
        raise ReceiptError(f"the entry is in the log but cannot be read: {exc}") from None
    receipt = Receipt(
        checkpoint.origin, proof.index, checkpoint.size, verifier.name, entry, tuple(cosigned)
    )
    if tracker is None:
        return receipt
    if receipt.kind != "secret_choices":
        raise ReceiptError(
            f"this receipt is of a {receipt.kind} entry, not of a secret vote's choices: "
            "there is no tracker to look up in it"
        )
    wanted = tracker.strip().lower()
    if not _TRACKER.fullmatch(wanted):
        raise ReceiptError(f"tracker {tracker!r} is not 32 hexadecimal characters")
    return dataclasses.replace(receipt, tracker=wanted)


def short_tracker(tracker: str) -> str:
    """The first 8 characters of a tracker, as phones and messages show it."""
    return f"{tracker[:8]}…"


def _logged_choice(item: object, what: str, *, named: bool = False) -> LoggedChoice:
    if not isinstance(item, dict):
        raise ReceiptError(f"{what} in the entry is not an object")
    choice, weight = item.get("choice"), item.get("weight")
    if (
        not isinstance(choice, list)
        or not all(isinstance(c, str) for c in choice)
        or not isinstance(weight, str)
    ):
        raise ReceiptError(f"{what} in the entry has no list of options and weight")
    if named:
        nmo, receipt = item.get("nmo"), item.get("receipt")
        if not isinstance(nmo, str) or not isinstance(receipt, str):
            raise ReceiptError(f"{what} in the entry has no NMO or receipt code")
        return LoggedChoice(tuple(choice), weight, nmo=nmo, receipt=receipt)
    tracker = item.get("tracker")
    if not isinstance(tracker, str):
        raise ReceiptError(f"{what} in the entry has no tracker")
    return LoggedChoice(tuple(choice), weight, tracker=tracker)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _hash(text: str, what: str) -> bytes:
    raw = _b64decode(text, what)
    if len(raw) != merkle.HASH_SIZE:
        raise ReceiptError(f"{what} is {len(raw)} bytes, not a {merkle.HASH_SIZE}-byte hash")
    return raw


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding, and no other spelling of the same bytes."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise ReceiptError(f"{what} is not valid base64") from None
    if _b64(raw) != text:
        raise ReceiptError(f"{what} is not canonical base64")
    return raw
