"""Property tests of `verify` on whole exports: whatever is done to the entries a member's saved
checkpoint covers (a flipped character, an entry deleted, inserted, or two swapped), verify
fails; two checkpoints of one size with different roots are reported; and no damage to the
file, however odd, makes verify crash instead of saying what is wrong."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from assembly.audit import keys, merkle, notes
from assembly.audit.canonical import canonical
from assembly.audit.verify import EXPORT_FORMAT, _retally, verify

ORIGIN = "ga.example.org/assembly/1"
PRIVATE, VERIFIER = keys.generate("ga.example.org")
SIGNING = keys.SigningKey("ga.example.org", PRIVATE)


def entry(type_: str, index: int, **payload: Any) -> bytes:
    return canonical({**payload, "v": 1, "type": type_, "assembly": 1, "at": f"2027-03-01 {index}"})


def plenary(choices: list[tuple[str, str, str]]) -> list[bytes]:
    """An assembly's log: its creation, NMOs, and one named vote with `choices`
    (NMO, weight, choice) and its result as the server's rule code computes it."""
    out = [entry("assembly_created", 0, rules={"majority_ordinary": "simple"})]
    out += [entry("nmo_added", len(out), code=c, weight=w) for c, w, _ in choices]
    present = sum((Fraction(w) for _, w, _ in choices), Fraction(0))
    opened = {
        "vote": 1,
        "kind": "motion",
        "rule": "simple",
        "base": "cast",
        "secret": False,
        "method": "single",
        "seats": 1,
        "options": ["yes", "no", "abstain"],
        "entitled_weight": str(present),
        "present_weight": str(present),
        "validity_turnout": None,
        "electorate": [{"nmo": c, "weight": w} for c, w, _ in choices],
    }
    out.append(entry("vote_opened", len(out), **opened))
    for code, weight, choice in choices:
        out.append(entry("ballot", len(out), vote=1, nmo=code, weight=weight, choice=[choice]))
    casts = [(Fraction(w), [choice]) for _, w, choice in choices]
    out.append(entry("vote_result", len(out), vote=1, result=_retally(opened, casts)))
    return out


def checkpoint(entries: list[bytes], size: int) -> str:
    root = merkle.root(merkle.leaf_hash(e) for e in entries[:size])
    return notes.sign_note(
        notes.Checkpoint(ORIGIN, size, root).body(), SIGNING.name, SIGNING.private_key
    )


def export(entries: list[bytes], checkpoints: list[str]) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "origin": ORIGIN,
        "verifier_key": SIGNING.verifier_key,
        "entries": [{"index": i, "data": e.decode()} for i, e in enumerate(entries)],
        "checkpoints": checkpoints,
        "cosignatures": [],
    }


ballots = st.lists(
    st.tuples(
        st.sampled_from(["AT", "BR", "CZ", "DE", "EG", "FR", "GH"]),
        st.sampled_from(["1", "2", "3/2"]),
        st.sampled_from(["yes", "no", "abstain"]),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda b: b[0],
)
tampering = st.sampled_from(["flip", "delete", "insert", "swap"])


def test_an_untouched_plenary_verifies() -> None:
    entries = plenary([("AT", "1", "yes"), ("BR", "3/2", "no")])
    saved = checkpoint(entries, len(entries))
    report = verify(export(entries, [saved]), key=SIGNING.verifier_key, saved=[saved])
    assert report.ok, report.failures
    assert report.votes == 1 and report.entries == len(entries)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=ballots, data=st.data(), how=tampering)
def test_any_change_under_a_saved_checkpoint_makes_verify_fail(
    choices: list[tuple[str, str, str]], data: st.DataObject, how: str
) -> None:
    entries = plenary(choices)
    saved_size = data.draw(st.integers(1, len(entries)), label="saved size")
    saved = checkpoint(entries, saved_size)
    texts = [e.decode() for e in entries]
    at = data.draw(st.integers(0, saved_size - 1), label="position")
    if how == "flip":
        text = texts[at]
        i = data.draw(st.integers(0, len(text) - 1), label="character")
        replacement = data.draw(st.characters(codec="utf-8"), label="replacement")
        assume(replacement != text[i])
        texts[at] = text[:i] + replacement + text[i + 1 :]
    elif how == "delete":
        del texts[at]
    elif how == "insert":
        texts.insert(at, data.draw(st.sampled_from(texts), label="copy of"))
    else:
        other = data.draw(st.integers(0, len(texts) - 1), label="swapped with")
        assume(texts[other] != texts[at])
        texts[at], texts[other] = texts[other], texts[at]
    # The operator re-signs a checkpoint of the changed log: it is self-consistent, but the
    # checkpoint the member saved earlier tells.
    changed = [t.encode() for t in texts]
    assume(changed[:saved_size] != entries[:saved_size])  # e.g. a copy of entry 0 put before it
    document = export(changed, [checkpoint(changed, len(changed))])
    document["entries"] = [{"index": i, "data": t} for i, t in enumerate(texts)]
    report = verify(document, key=SIGNING.verifier_key, saved=[saved])
    assert not report.ok
    assert any("saved checkpoint 0" in failure for failure in report.failures), report.failures


@settings(max_examples=40, deadline=None)
@given(choices=ballots, data=st.data())
def test_two_checkpoints_of_one_size_with_different_roots_are_reported(
    choices: list[tuple[str, str, str]], data: st.DataObject
) -> None:
    entries = plenary(choices)
    size = data.draw(st.integers(1, len(entries)))
    fork = notes.Checkpoint(ORIGIN, size, bytes(32)).body()
    document = export(
        entries,
        [
            checkpoint(entries, size),
            notes.sign_note(fork, SIGNING.name, SIGNING.private_key),
            checkpoint(entries, len(entries)),
        ],
    )
    report = verify(document, key=SIGNING.verifier_key)
    assert f"two signed checkpoints of size {size} with different roots" in " ".join(
        report.failures
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(choices=ballots, data=st.data())
def test_damage_of_any_shape_is_reported_never_a_crash(
    choices: list[tuple[str, str, str]], data: st.DataObject
) -> None:
    """A field of an entry replaced by any JSON value, or removed, still canonical and signed
    over by the operator: verify names the problem instead of raising."""
    entries = plenary(choices)
    at = data.draw(st.integers(0, len(entries) - 1))
    payload = json.loads(entries[at])
    field = data.draw(st.sampled_from(sorted(set(payload) - {"v", "type"})))
    if data.draw(st.booleans()):
        del payload[field]
    else:
        payload[field] = data.draw(json_values)
    damaged = canonical(payload)
    assume(damaged != entries[at])  # a value replaced by itself (the vote id 1 by 1) is no damage
    entries[at] = damaged
    document = export(entries, [checkpoint(entries, len(entries))])
    report = verify(document, key=SIGNING.verifier_key)
    # Some edits leave a log that still holds (a changed time); none may raise, and every
    # failure names the entry it is about.
    assert all(isinstance(f, str) and f.startswith("entry ") for f in report.failures)
    kind = json.loads(plenary(choices)[at])["type"]
    if kind == "ballot" and field in {"vote", "nmo", "weight"}:
        assert not report.ok
