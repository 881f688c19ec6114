"""Check an exported audit log offline, trusting nothing but the verifier key: every checkpoint's
signature, every root recomputed from the entries, consistency with checkpoints saved earlier,
and every vote re-tallied from its logged electorate and ballots with the server's own rule
code. Each failure names the entry (or vote) and says why."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from assembly.audit import merkle, notes
from assembly.audit.canonical import CanonicalError, parse

EXPORT_FORMAT = "assembly-audit-log/v1"


@dataclass(slots=True)
class Report:
    """What a verification found: `failures` empty means everything holds."""

    entries: int = 0
    checkpoints: int = 0
    votes: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def export_document(
    origin: str,
    verifier_key: str,
    entries: Sequence[tuple[int, bytes]],
    checkpoints: Sequence[str],
) -> dict[str, Any]:
    """The one file `assembly audit export` writes: entries (index as stored, exact canonical
    text) and the signed checkpoints."""
    return {
        "format": EXPORT_FORMAT,
        "origin": origin,
        "verifier_key": verifier_key,
        "entries": [{"index": i, "data": e.decode()} for i, e in entries],
        "checkpoints": list(checkpoints),
        "cosignatures": [],
    }


def _retally(opened: dict[str, Any], casts: list[tuple[Fraction, list[str]]]) -> dict[str, Any]:
    """The result as the server computes it, from the logged opening and ballots."""
    from assembly.credentials.rules import format_weight
    from assembly.voting.models import Vote, VoteOption
    from assembly.voting.service import compute_result

    def fraction(value: Any) -> Fraction | None:
        return None if value is None else Fraction(value)

    vote = Vote(
        kind=opened["kind"],
        rule=opened["rule"],
        base=opened["base"],
        secret=opened["secret"],
        seats=opened["seats"],
        method=opened["method"],
        entitled_weight=fraction(opened["entitled_weight"]),
        present_weight=fraction(opened["present_weight"]),
        validity_turnout=fraction(opened["validity_turnout"]),
    )
    options = [VoteOption(key=k, label=k, position=i) for i, k in enumerate(opened["options"])]
    result = compute_result(vote, options, casts)
    result["ballots"] = len(casts)
    result["weight_cast"] = format_weight(sum((w for w, _ in casts), Fraction(0)))
    result["electorate_weight"] = format_weight(vote.present_weight or Fraction(0))
    # As it reads back from the log's JSON (tuples become lists).
    normal: dict[str, Any] = json.loads(json.dumps(result))
    return normal


def _check_votes(entries: list[tuple[int, dict[str, Any]]], report: Report) -> None:
    opened: dict[int, tuple[int, dict[str, Any]]] = {}
    casts: dict[int, list[tuple[Fraction, list[str]]]] = {}
    voters: dict[int, set[str]] = {}
    for index, entry in entries:
        kind, vote_id = entry.get("type"), int(entry.get("vote") or 0)
        if kind == "vote_opened":
            opened[vote_id] = (index, entry)
            casts[vote_id] = []
            voters[vote_id] = set()
        elif kind == "ballot":
            if vote_id not in opened:
                report.failures.append(f"entry {index}: a ballot of vote {vote_id}, never opened")
                continue
            electorate = {e["nmo"]: e["weight"] for e in opened[vote_id][1]["electorate"]}
            nmo = entry["nmo"]
            if nmo not in electorate:
                report.failures.append(
                    f"entry {index}: {nmo} voted in vote {vote_id} but is not in its electorate"
                )
            elif entry["weight"] != electorate[nmo]:
                report.failures.append(
                    f"entry {index}: {nmo}'s ballot in vote {vote_id} weighs {entry['weight']}, "
                    f"its electorate weight is {electorate[nmo]}"
                )
            if nmo in voters[vote_id]:
                report.failures.append(f"entry {index}: {nmo} voted twice in vote {vote_id}")
            voters[vote_id].add(nmo)
            casts[vote_id].append((Fraction(entry["weight"]), list(entry["choice"])))
        elif kind == "secret_choices":
            if vote_id not in opened:
                report.failures.append(f"entry {index}: choices of vote {vote_id}, never opened")
                continue
            casts[vote_id].extend(
                (Fraction(c["weight"]), list(c["choice"])) for c in entry["choices"]
            )
        elif kind == "vote_result":
            if vote_id not in opened:
                report.failures.append(f"entry {index}: a result of vote {vote_id}, never opened")
                continue
            report.votes += 1
            try:
                expected = _retally(opened[vote_id][1], casts[vote_id])
            except (KeyError, TypeError, ValueError) as exc:
                report.failures.append(f"entry {index}: vote {vote_id} cannot be re-tallied: {exc}")
                continue
            if expected != entry["result"]:
                differs = sorted(
                    k
                    for k in set(expected) | set(entry["result"])
                    if expected.get(k) != entry["result"].get(k)
                )
                report.failures.append(
                    f"entry {index}: the result of vote {vote_id} does not follow from its "
                    f"logged ballots (re-tallied, these differ: {', '.join(differs)}); "
                    f"re-tallied: {expected.get('explanation', '')}"
                )


def verify(
    document: dict[str, Any],
    *,
    key: str | None = None,
    saved: Sequence[str] = (),
) -> Report:
    """Check an export. `key` is the verifier key the member trusts (default: the one in the
    file, which only proves the file is self-consistent); `saved` are signed checkpoints the
    member kept (from the projector's QR code, a witness, an earlier download)."""
    report = Report()
    if document.get("format") != EXPORT_FORMAT:
        report.failures.append(f"not an assembly audit log export ({EXPORT_FORMAT})")
        return report
    verifier_text = key or document["verifier_key"]
    if key is None:
        report.notes.append(
            "no --key given: the verifier key inside the file was used; pass the key published "
            "by the assembly to check who signed"
        )
    try:
        verifier = notes.parse_verifier_key(verifier_text)
    except notes.NoteError as exc:
        report.failures.append(f"the verifier key cannot be read: {exc}")
        return report
    origin = document["origin"]

    leaves: list[bytes] = []
    parsed: list[tuple[int, dict[str, Any]]] = []
    for position, item in enumerate(document["entries"]):
        if item.get("index") != position:
            report.failures.append(
                f"entry {position}: numbered {item.get('index')}; an entry is missing or moved"
            )
        data = item["data"].encode()
        leaves.append(merkle.leaf_hash(data))
        try:
            parsed.append((position, parse(data)))
        except CanonicalError as exc:
            report.failures.append(f"entry {position}: not canonical JSON ({exc})")
    report.entries = len(leaves)
    tree = merkle.MerkleTree(leaves)

    def check(text: str, what: str) -> notes.Checkpoint | None:
        try:
            checkpoint, _ = notes.open_checkpoint(text, verifier, origin)
        except notes.NoteError as exc:
            report.failures.append(f"{what}: {exc}")
            return None
        return checkpoint

    by_size: dict[int, bytes] = {}
    good: list[int] = []
    bad: list[int] = []
    for number, text in enumerate(document["checkpoints"]):
        checkpoint = check(text, f"checkpoint {number}")
        if checkpoint is None:
            continue
        report.checkpoints += 1
        if checkpoint.size in by_size and by_size[checkpoint.size] != checkpoint.root:
            report.failures.append(
                f"two signed checkpoints of size {checkpoint.size} with different roots: "
                "the log was rewritten (or shown differently to different people)"
            )
        by_size[checkpoint.size] = checkpoint.root
        if checkpoint.size > tree.size:
            report.failures.append(
                f"checkpoint {number} covers {checkpoint.size} entries; the file has only "
                f"{tree.size}: entries {tree.size}..{checkpoint.size - 1} are missing"
            )
        elif tree.root(checkpoint.size) != checkpoint.root:
            bad.append(checkpoint.size)
        else:
            good.append(checkpoint.size)
    for size in sorted(set(bad)):
        before = max((g for g in good if g < size), default=0)
        report.failures.append(
            f"entries {before}..{size - 1}: the checkpoint of size {size} does not match them "
            f"(the one of size {before} does): an entry in that range was changed, "
            "removed or added"
        )
    for number, text in enumerate(saved):
        checkpoint = check(text, f"saved checkpoint {number}")
        if checkpoint is None:
            continue
        if checkpoint.size > tree.size:
            report.failures.append(
                f"saved checkpoint {number} covers {checkpoint.size} entries; the log has only "
                f"{tree.size}: its tail was cut"
            )
        elif tree.root(checkpoint.size) != checkpoint.root:
            report.failures.append(
                f"saved checkpoint {number} (size {checkpoint.size}) does not match the log: "
                "an entry before it was changed since you saved it"
            )
        elif by_size.get(checkpoint.size, checkpoint.root) != checkpoint.root:
            report.failures.append(
                f"saved checkpoint {number} differs from the file's checkpoint of the same size"
            )
    if document["checkpoints"] and max(by_size, default=0) < tree.size:
        report.notes.append(
            f"entries {max(by_size, default=0)}..{tree.size - 1} are not covered by a checkpoint"
        )
    _check_votes(parsed, report)
    return report


def load(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document
