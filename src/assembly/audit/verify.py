"""Check an exported audit log offline, trusting nothing but the verifier key: every checkpoint's
signature, every root recomputed from the entries, consistency with checkpoints saved earlier,
and every vote re-tallied from its logged electorate and ballots with the server's own rule
code. Each failure names the entry (or vote) and says why."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from assembly.audit import merkle, notes
from assembly.audit.canonical import CanonicalError, parse

EXPORT_FORMAT = "assembly-audit-log/v1"
# What reading a damaged entry can raise: reported as a failure at that entry, never a crash.
VOTE_ENTRIES = frozenset(
    {"vote_opened", "ballot", "secret_participation", "secret_choices", "vote_result"}
)
DAMAGE = (KeyError, TypeError, ValueError, AttributeError, IndexError, ArithmeticError)


@dataclass(slots=True)
class Report:
    """What a verification found: `failures` empty means everything holds."""

    entries: int = 0
    checkpoints: int = 0
    votes: int = 0
    cosignatures: int = 0
    """Witness cosignatures in the file that verify on the file's checkpoints."""
    latest: int | None = None
    """The size of the latest checkpoint that verifies."""
    cosigned_by: list[str] = field(default_factory=list)
    """The trusted witnesses (verify's `witnesses`) that cosigned the latest checkpoint."""
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
    cosignatures: Sequence[Mapping[str, object]] = (),
) -> dict[str, Any]:
    """The one file `assembly audit export` writes: entries (index as stored, exact canonical
    text), the signed checkpoints and the witnesses' cosignatures of them (each: the size it
    cosigns, the witness's name and verifier key, the tlog-cosignature line)."""
    return {
        "format": EXPORT_FORMAT,
        "origin": origin,
        "verifier_key": verifier_key,
        "entries": [{"index": i, "data": e.decode()} for i, e in entries],
        "checkpoints": list(checkpoints),
        "cosignatures": [
            {k: c[k] for k in ("size", "witness", "verifier_key", "line")} for c in cosignatures
        ],
    }


def _retally(opened: dict[str, Any], casts: list[tuple[Fraction, list[str]]]) -> dict[str, Any]:
    """The result as the server computes it, from the logged opening and ballots."""
    from assembly.credentials.rules import exact_sum, format_weight
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
    result["weight_cast"] = format_weight(exact_sum(w for w, _ in casts))
    result["electorate_weight"] = format_weight(vote.present_weight or Fraction(0))
    # As it reads back from the log's JSON (tuples become lists).
    normal: dict[str, Any] = json.loads(json.dumps(result))
    return normal


def _check_votes(entries: list[tuple[int, dict[str, Any]]], report: Report) -> None:
    opened: dict[int, tuple[int, dict[str, Any]]] = {}
    casts: dict[int, list[tuple[Fraction, list[str]]]] = {}
    voters: dict[int, set[str]] = {}
    for index, entry in entries:
        try:
            kind, vote_id = entry.get("type"), entry.get("vote")
            if kind not in VOTE_ENTRIES:
                continue
            if type(vote_id) is not int:  # bool is an int to Python, not to the log
                report.failures.append(f"entry {index}: its vote is {vote_id!r}, not a vote id")
                continue
            if kind == "vote_opened":
                opened[vote_id] = (index, entry)
                casts[vote_id] = []
                voters[vote_id] = set()
            elif kind == "ballot":
                if vote_id not in opened:
                    report.failures.append(
                        f"entry {index}: a ballot of vote {vote_id}, never opened"
                    )
                    continue
                electorate = {e["nmo"]: e["weight"] for e in opened[vote_id][1]["electorate"]}
                nmo = entry["nmo"]
                if nmo not in electorate:
                    report.failures.append(
                        f"entry {index}: {nmo} voted in vote {vote_id} but is not in its electorate"
                    )
                elif entry["weight"] != electorate[nmo]:
                    report.failures.append(
                        f"entry {index}: {nmo}'s ballot in vote {vote_id} weighs "
                        f"{entry['weight']}, its electorate weight is {electorate[nmo]}"
                    )
                if nmo in voters[vote_id]:
                    report.failures.append(f"entry {index}: {nmo} voted twice in vote {vote_id}")
                voters[vote_id].add(nmo)
                casts[vote_id].append((Fraction(entry["weight"]), list(entry["choice"])))
            elif kind == "secret_choices":
                if vote_id not in opened:
                    report.failures.append(
                        f"entry {index}: choices of vote {vote_id}, never opened"
                    )
                    continue
                casts[vote_id].extend(
                    (Fraction(c["weight"]), list(c["choice"])) for c in entry["choices"]
                )
            elif kind == "vote_result":
                if vote_id not in opened:
                    report.failures.append(
                        f"entry {index}: a result of vote {vote_id}, never opened"
                    )
                    continue
                report.votes += 1
                try:
                    expected = _retally(opened[vote_id][1], casts[vote_id])
                except DAMAGE as exc:
                    report.failures.append(
                        f"entry {index}: vote {vote_id} cannot be re-tallied: {exc}"
                    )
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
        except DAMAGE as exc:
            # A damaged entry is reported, never a crash: the member learns where.
            report.failures.append(
                f"entry {index}: a {entry.get('type')!r} entry that cannot be read "
                f"({type(exc).__name__}: {exc})"
            )


def _check_cosignatures(
    items: Sequence[Any],
    bodies: Mapping[int, str],
    trusted_keys: Sequence[str],
    report: Report,
) -> None:
    """Every cosignature in the file must verify on the file's checkpoint of its size; then,
    for the latest checkpoint, which of the witnesses the member trusts cosigned it."""
    trusted: list[notes.Verifier] = []
    for text in trusted_keys:
        try:
            witness = notes.parse_verifier_key(text.strip())
        except notes.NoteError as exc:
            report.failures.append(f"the witness key {text!r} cannot be read: {exc}")
            continue
        if witness.key_type != notes.KeyType.cosignature_v1:
            report.failures.append(
                f"{witness} is not a witness key: a witness's key is of type cosignature/v1 (0x04)"
            )
            continue
        trusted.append(witness)
    cosigned: dict[tuple[str, bytes], set[int]] = {}
    keys_by_name: dict[str, set[str]] = {}
    for number, item in enumerate(items):
        try:
            size, name = int(item["size"]), str(item["witness"])
            key_text, line = str(item["verifier_key"]), str(item["line"])
        except (KeyError, TypeError, ValueError):
            report.failures.append(f"cosignature {number}: its fields are not as exported")
            continue
        what = f"cosignature {number} (witness {name!r}, size {size})"
        try:
            witness = notes.parse_verifier_key(key_text)
        except notes.NoteError as exc:
            report.failures.append(f"{what}: {exc}")
            continue
        keys_by_name.setdefault(witness.name, set()).add(str(witness))
        body = bodies.get(size)
        if body is None:
            report.failures.append(
                f"{what}: the file has no valid signed checkpoint of size {size} to cosign"
            )
            continue
        try:
            notes.verify_cosignature(body, line, witness)
        except notes.NoteError as exc:
            report.failures.append(f"{what} does not hold: {exc}")
            continue
        report.cosignatures += 1
        cosigned.setdefault((witness.name, witness.key_id), set()).add(size)
    for witness in trusted:
        for other in sorted(keys_by_name.get(witness.name, set()) - {str(witness)}):
            report.failures.append(
                f"witness {witness.name!r}: the file gives it the key {other}, not the one you "
                f"trust ({witness}); its cosignatures under that key do not count"
            )
        # The key ID is a hash of the name, type and public key: a cosignature that verified
        # under the file's key with this key ID verified under the trusted key.
        sizes = cosigned.get((witness.name, witness.key_id), set())
        if report.latest is not None and report.latest in sizes:
            report.cosigned_by.append(witness.name)
        elif report.latest is not None:
            report.notes.append(
                f"trusted witness {witness.name!r} did not cosign the latest checkpoint "
                f"(size {report.latest}): "
                + (f"its latest cosignature is of size {max(sizes)}" if sizes else "none by it")
            )


def verify(
    document: dict[str, Any],
    *,
    key: str | None = None,
    saved: Sequence[str] = (),
    witnesses: Sequence[str] = (),
    saved_names: Sequence[str] = (),
) -> Report:
    """Check an export. `key` is the verifier key the member trusts (default: the one in the
    file, which only proves the file is self-consistent); `saved` are signed checkpoints the
    member kept (from the projector's QR code, a witness, an earlier download); `witnesses`
    are the verifier keys of the witnesses the member trusts; `saved_names` name the saved
    checkpoints in the report (default: "saved checkpoint 0", 1 ...)."""
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
    bodies: dict[int, str] = {}
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
        bodies.setdefault(checkpoint.size, checkpoint.body())
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
    report.latest = max(bodies, default=None)
    _check_cosignatures(document.get("cosignatures") or [], bodies, witnesses, report)
    for number, text in enumerate(saved):
        what = saved_names[number] if number < len(saved_names) else f"saved checkpoint {number}"
        checkpoint = check(text, what)
        if checkpoint is None:
            continue
        if checkpoint.size > tree.size:
            report.failures.append(
                f"{what} covers {checkpoint.size} entries; the log has only "
                f"{tree.size}: its tail was cut"
            )
        elif tree.root(checkpoint.size) != checkpoint.root:
            report.failures.append(
                f"{what} (size {checkpoint.size}) does not match the log: "
                "an entry before it was changed since you saved it"
            )
        elif by_size.get(checkpoint.size, checkpoint.root) != checkpoint.root:
            report.failures.append(f"{what} differs from the file's checkpoint of the same size")
    if document["checkpoints"] and max(by_size, default=0) < tree.size:
        report.notes.append(
            f"entries {max(by_size, default=0)}..{tree.size - 1} are not covered by a checkpoint"
        )
    _check_votes(parsed, report)
    return report


def load(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    return document
