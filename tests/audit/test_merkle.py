"""Merkle tree hashing and proofs: every case of the shared transparency-dev/merkle test data,
the RFC 6962 roots, an independent transcription of the RFC's MTH, every proof of small trees,
then properties over generated logs (any change to a proof, a leaf, an index, a size or a root
is caught; so is any change to the entries under a saved checkpoint)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assembly.audit.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

TESTDATA = Path(
    os.environ.get(
        "ASSEMBLY_MERKLE_TESTDATA",
        Path(__file__).resolve().parent / "testdata" / "merkle",
    )
)


def cases(kind: str) -> list[Any]:
    files = sorted((TESTDATA / kind).rglob("*.json"))
    return [
        pytest.param(path, id=str(path.relative_to(TESTDATA).with_suffix(""))) for path in files
    ]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def proof_of(case: dict[str, Any]) -> list[bytes]:
    return [b64(h) for h in case["proof"] or []]  # the data writes an empty proof as null


def test_the_test_vectors_are_all_there() -> None:
    # They are part of the repository: a missing file is a broken checkout, not a skip.
    assert (TESTDATA / "rfc6962-roots.json").exists(), f"no Merkle test vectors at {TESTDATA}"
    assert len(cases("inclusion")) + len(cases("consistency")) == 196
    # 98 of each when written; fewer would mean cases silently dropped from the run.
    assert len(cases("inclusion")) >= 98
    assert len(cases("consistency")) >= 98


@pytest.mark.parametrize("path", cases("inclusion"))
def test_inclusion_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["leafIdx"], case["treeSize"], b64(case["leafHash"]), proof_of(case))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args, b64(case["root"]))
    else:
        verify_inclusion(*args, b64(case["root"]))


@pytest.mark.parametrize("path", cases("consistency"))
def test_consistency_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof_of(case))
    if case["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def rfc6962_tree() -> tuple[list[bytes], list[bytes]]:
    data = json.loads((TESTDATA / "rfc6962-roots.json").read_text())
    leaves = [leaf_hash(bytes.fromhex(entry)) for entry in data["leaf_inputs_hex"]]
    return leaves, [bytes.fromhex(h) for h in data["root_hash_hex_by_tree_size"]]


def test_roots_of_the_rfc6962_tree_at_every_size() -> None:
    leaves, roots = rfc6962_tree()
    tree = MerkleTree()
    assert tree.root() == EMPTY_ROOT == roots[0]
    for size in range(len(roots)):
        assert root(leaves[:size]) == roots[size]
        assert MerkleTree(leaves).root(size) == roots[size]
        if size:
            tree.append(leaves[size - 1])
            assert tree.root() == roots[size]


def test_generated_proofs_are_the_reference_proofs() -> None:
    """The happy-path vectors are proofs on the RFC 6962 tree: we must generate them exactly."""
    leaves, roots = rfc6962_tree()
    checked = 0
    for path in sorted(TESTDATA.rglob("happy-path.json")):
        case = json.loads(path.read_text())
        if "leafIdx" in case:
            size, index = case["treeSize"], case["leafIdx"]
            if b64(case["root"]) == roots[size] and b64(case["leafHash"]) == leaves[index]:
                assert inclusion_proof(leaves[:size], index) == proof_of(case), path
                checked += 1
        else:
            size1, size2 = case["size1"], case["size2"]
            if (b64(case["root1"]), b64(case["root2"])) == (roots[size1], roots[size2]):
                assert consistency_proof(leaves[:size2], size1) == proof_of(case), path
                checked += 1
    assert checked >= 8


def reference_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162, section 2.1.1, transcribed literally (slow, and independent of the code)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_mth(leaves[:k]), reference_mth(leaves[k:]))


def leaves_of(size: int, salt: bytes = b"") -> list[bytes]:
    return [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(size)]


def test_every_proof_of_every_small_tree_verifies() -> None:
    leaves = leaves_of(40)
    tree = MerkleTree(leaves)
    for size in range(1, 41):
        tree_root = reference_mth(leaves[:size])
        assert tree.root(size) == root(leaves[:size]) == tree_root
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == inclusion_proof(leaves[:size], index)
            verify_inclusion(index, size, leaves[index], proof, tree_root)
        for old_size in range(1, size + 1):
            proof = tree.consistency_proof(old_size, size)
            assert proof == consistency_proof(leaves[:size], old_size)
            verify_consistency(old_size, size, tree.root(old_size), tree_root, proof)


def test_proofs_that_cannot_exist_are_refused() -> None:
    tree = MerkleTree(leaves_of(5))
    with pytest.raises(ValueError, match="leaf 5"):
        tree.inclusion_proof(5)
    with pytest.raises(ValueError, match="leaf -1"):
        tree.inclusion_proof(-1)
    with pytest.raises(ValueError, match="from size 0"):
        tree.consistency_proof(0)
    with pytest.raises(ValueError, match="from size 6"):
        tree.consistency_proof(6)
    with pytest.raises(ValueError, match="not 6"):
        tree.root(6)
    with pytest.raises(IndexError):
        tree.leaf_hash(5)
    assert tree.consistency_proof(5) == []


def test_hashes_that_are_not_32_bytes_are_refused() -> None:
    leaves = leaves_of(4)
    tree = MerkleTree(leaves)
    proof = tree.inclusion_proof(1)
    with pytest.raises(ProofError, match="leaf hash must be 32 bytes, got 31"):
        verify_inclusion(1, 4, leaves[1][:31], proof, tree.root())
    with pytest.raises(ProofError, match="root hash must be 32 bytes, got 33"):
        verify_inclusion(1, 4, leaves[1], proof, tree.root() + b"\0")
    with pytest.raises(ProofError, match="proof hash 1 must be 32 bytes, got 0"):
        verify_inclusion(1, 4, leaves[1], [proof[0], b""], tree.root())
    with pytest.raises(ProofError, match="proof hash 0 must be 32 bytes"):
        verify_consistency(1, 4, tree.root(1), tree.root(), [b"x", *tree.consistency_proof(1)])
    with pytest.raises(ProofError, match="leaf hash 0 must be 32 bytes"):
        root([b"short"])
    with pytest.raises(ProofError):
        tree.append(b"short")


def test_failures_say_what_failed() -> None:
    leaves = leaves_of(6)
    tree = MerkleTree(leaves)
    proof = tree.inclusion_proof(2)
    with pytest.raises(ProofError, match="leaf index 6 is not in a tree of size 6"):
        verify_inclusion(6, 6, leaves[2], proof, tree.root())
    with pytest.raises(ProofError, match="fewer than"):
        verify_inclusion(2, 6, leaves[2], proof[:-1], tree.root())
    with pytest.raises(ProofError, match="more than"):
        verify_inclusion(2, 6, leaves[2], [*proof, proof[0]], tree.root())
    with pytest.raises(ProofError, match="gives root"):
        verify_inclusion(2, 6, leaves[3], proof, tree.root())
    with pytest.raises(ProofError, match="two different roots for the same tree size 6"):
        verify_consistency(6, 6, tree.root(), tree.root(5), [])
    with pytest.raises(ProofError, match="old tree size 6 is larger"):
        verify_consistency(6, 5, tree.root(), tree.root(5), [])
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 6, EMPTY_ROOT, tree.root(), [])
    with pytest.raises(ProofError, match="gives old root"):
        verify_consistency(3, 6, tree.root(2), tree.root(), tree.consistency_proof(3))


def test_a_log_of_a_thousand_entries_grows_one_leaf_at_a_time() -> None:
    leaves = leaves_of(1000)
    tree = MerkleTree()
    for size, leaf in enumerate(leaves, start=1):
        assert tree.append(leaf) == size - 1
        if size in (1, 2, 3, 255, 256, 257, 999, 1000):
            assert tree.root() == root(leaves[:size])
    assert tree.size == 1000
    assert tree.leaf_hash(999) == leaves[999]
    assert tree.root(500) == root(leaves[:500])


# Properties over generated logs.

logs = st.lists(st.binary(max_size=6), min_size=1, max_size=70)
# Distinct entries: with two equal leaves, a proof for one also proves the other, rightly.
distinct_logs = st.lists(st.binary(max_size=6), min_size=1, max_size=70, unique=True)
nonzero = st.integers(1, 255)


def flip(value: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(value)
    changed[position] ^= mask
    return bytes(changed)


@settings(max_examples=60, deadline=None)
@given(entries=logs, data=st.data())
def test_every_generated_proof_verifies(entries: list[bytes], data: st.DataObject) -> None:
    leaves = [leaf_hash(e) for e in entries]
    tree = MerkleTree(leaves)
    assert tree.root() == root(leaves) == reference_mth(leaves)
    for index in range(len(leaves)):
        verify_inclusion(index, tree.size, leaves[index], tree.inclusion_proof(index), tree.root())
    old_size = data.draw(st.integers(1, tree.size))
    verify_consistency(
        old_size, tree.size, tree.root(old_size), tree.root(), tree.consistency_proof(old_size)
    )


@settings(max_examples=60, deadline=None)
@given(entries=distinct_logs, data=st.data(), mask=nonzero)
def test_any_change_to_an_inclusion_proof_or_its_claim_fails(
    entries: list[bytes], data: st.DataObject, mask: int
) -> None:
    leaves = [leaf_hash(e) for e in entries]
    tree = MerkleTree(leaves)
    size, tree_root = tree.size, tree.root()
    index = data.draw(st.integers(0, size - 1))
    leaf, proof = leaves[index], tree.inclusion_proof(index)

    def fails(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
        try:
            verify_inclusion(index, size, leaf, proof, root)
        except ProofError:
            return True
        return False

    for position in range(32):
        assert fails(index, size, flip(leaf, position, mask), proof, tree_root)
        assert fails(index, size, leaf, proof, flip(tree_root, position, mask))
        for j in range(len(proof)):
            changed = [*proof[:j], flip(proof[j], position, mask), *proof[j + 1 :]]
            assert fails(index, size, leaf, changed, tree_root)
    for other in range(size + 2):
        if other != index:
            assert fails(other, size, leaf, proof, tree_root)
    # A different size with that size's own root: the pair a signed checkpoint would carry.
    bigger = MerkleTree([*leaves, *leaves_of(3, b"more")])
    for other in range(index + 1, bigger.size + 1):
        if other != size:
            assert fails(index, other, leaf, proof, bigger.root(other))
    if proof:
        assert fails(index, size, leaf, proof[:-1], tree_root)
        assert fails(index, size, leaf, [*proof, proof[-1]], tree_root)
        assert fails(index, size, leaf, proof[::-1], tree_root) or len(set(proof)) < 2


@settings(max_examples=60, deadline=None)
@given(entries=distinct_logs.filter(lambda e: len(e) > 1), data=st.data(), mask=nonzero)
def test_any_change_to_a_consistency_proof_or_its_claim_fails(
    entries: list[bytes], data: st.DataObject, mask: int
) -> None:
    leaves = [leaf_hash(e) for e in entries]
    tree = MerkleTree([*leaves, *leaves_of(3, b"more")])
    size2 = len(leaves)
    size1 = data.draw(st.integers(1, size2 - 1))
    root1, root2 = tree.root(size1), tree.root(size2)
    proof = tree.consistency_proof(size1, size2)

    def fails(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
        try:
            verify_consistency(size1, size2, root1, root2, proof)
        except ProofError:
            return True
        return False

    for position in range(32):
        assert fails(size1, size2, flip(root1, position, mask), root2, proof)
        assert fails(size1, size2, root1, flip(root2, position, mask), proof)
        for j in range(len(proof)):
            changed = [*proof[:j], flip(proof[j], position, mask), *proof[j + 1 :]]
            assert fails(size1, size2, root1, root2, changed)
    for other in range(0, tree.size + 1):
        if other != size1:
            assert fails(other, size2, tree.root(other), root2, proof)
            assert fails(other, size2, root1, root2, proof)
        if other != size2 and other >= size1:
            assert fails(size1, other, root1, tree.root(other), proof)
    assert fails(size1, size2, root2, root1, proof)
    assert fails(size1, size2, root1, root2, proof[:-1])
    assert fails(size1, size2, root1, root2, [*proof, proof[-1]])


def test_a_proof_does_not_authenticate_the_tree_size_alone() -> None:
    """The limit of the RFC algorithms: a proof fixes only the shape of the path, so a claim
    with another size but the same root can pass. A verifier must take the size and the root
    from the same signed checkpoint, never the size from anywhere else."""
    tree = MerkleTree(leaves_of(4))
    verify_inclusion(0, 3, tree.leaf_hash(0), tree.inclusion_proof(0), tree.root())
    verify_consistency(1, 3, tree.root(1), tree.root(4), tree.consistency_proof(1))


tampering = st.sampled_from(["flip", "delete", "insert", "swap"])


@settings(max_examples=100, deadline=None)
@given(entries=logs, data=st.data(), how=tampering)
def test_any_change_to_the_entries_under_a_saved_checkpoint_is_caught(
    entries: list[bytes], data: st.DataObject, how: str
) -> None:
    """A member saved the checkpoint (saved_size, saved_root). Whatever is done to the entries
    it covers, the tampered log's root at that size differs, and no consistency proof from the
    saved checkpoint to the tampered log verifies."""
    saved_size = data.draw(st.integers(1, len(entries)))
    saved_root = root(leaf_hash(e) for e in entries[:saved_size])
    tampered = list(entries)
    at = data.draw(st.integers(0, saved_size - 1))
    if how == "flip":
        entry = tampered[at] or b"\0"
        tampered[at] = flip(entry, data.draw(st.integers(0, len(entry) - 1)), 1)
    elif how == "delete":
        del tampered[at]
    elif how == "insert":
        tampered.insert(at, data.draw(st.binary(max_size=6)))
    else:
        other = data.draw(st.integers(0, len(entries) - 1))
        tampered[at], tampered[other] = tampered[other], tampered[at]
    assume(tampered[:saved_size] != entries[:saved_size])

    tampered_tree = MerkleTree(leaf_hash(e) for e in tampered)
    if tampered_tree.size >= saved_size:
        assert tampered_tree.root(saved_size) != saved_root
        with pytest.raises(ProofError):
            verify_consistency(
                saved_size,
                tampered_tree.size,
                saved_root,
                tampered_tree.root(),
                tampered_tree.consistency_proof(saved_size),
            )
    else:
        with pytest.raises(ValueError):
            tampered_tree.consistency_proof(saved_size)
