"""Merkle tree hashing, proofs and proof checking for the audit log, as RFC 9162 (RFC 6962) define
them with SHA-256: the same functions serve the server, the JSON API and the offline verifier.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of a tree with no entries: SHA-256 of the empty string (RFC 9162, section 2.1.1)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class ProofError(Exception):
    """A proof does not verify, or its inputs are malformed; the message says which check failed."""


def leaf_hash(entry: bytes) -> bytes:
    """The hash of one log entry: SHA-256(0x00 || entry bytes)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH: the root hash of the tree whose leaves have these hashes, in one pass.

    Keeps the roots of the complete subtrees seen so far (at most one per power of two), so a
    million leaves need a million node hashes and a few kilobytes, not a copy of the tree.
    """
    stack: list[bytes] = []
    for index, leaf in enumerate(leaf_hashes):
        _check_hash(leaf, f"leaf hash {index}")
        stack.append(leaf)
        # Each trailing zero bit of the new size is a pair of equal subtrees that now merge.
        merged = index + 1
        while merged % 2 == 0:
            right = stack.pop()
            stack[-1] = node_hash(stack[-1], right)
            merged //= 2
    if not stack:
        return EMPTY_ROOT
    result = stack[-1]
    for left in reversed(stack[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162, section 2.1.3.1, for the tree of all these leaves."""
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of RFC 9162, section 2.1.4.1, for the tree of all these leaves."""
    return MerkleTree(leaf_hashes).consistency_proof(old_size)


class MerkleTree:
    """An append-only tree that keeps every complete subtree's hash, so that appending a leaf,
    and computing the root or a proof for the current or any earlier size, costs O(log n)
    hashes instead of rehashing the log.

    Each level is one bytearray of 32-byte hashes (level 0 holds the leaf hashes): a million
    leaves take about 64 MB, against about 150 MB as separate bytes objects.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> int:
        """Add a leaf hash; returns its index."""
        _check_hash(leaf_hash, f"leaf hash {self._size}")
        index = self._size
        node = leaf_hash
        level = 0
        while True:
            if level == len(self._levels):
                self._levels.append(bytearray())
            hashes = self._levels[level]
            hashes += node
            if (len(hashes) // HASH_SIZE) % 2:
                break
            # The level now ends with a complete pair: their parent completes one level up.
            node = node_hash(bytes(hashes[-2 * HASH_SIZE : -HASH_SIZE]), bytes(hashes[-HASH_SIZE:]))
            level += 1
        self._size += 1
        return index

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self._size:
            raise IndexError(f"no leaf {index} in a tree of size {self._size}")
        return self._stored(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree at `size` leaves (by default, all of them)."""
        size = self._check_size(size)
        return self._mth(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) (RFC 9162, section 2.1.3.1), hashes ordered from the leaf up."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"no inclusion proof for leaf {index}: the tree has {size} leaves")
        return self._path(index, 0, size)

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[size]) (RFC 9162, section 2.1.4.1); empty when the sizes are equal."""
        size = self._check_size(size)
        if not 0 < old_size <= size:
            # A proof from the empty tree would prove nothing (verify_consistency refuses it).
            raise ValueError(
                f"no consistency proof from size {old_size} to size {size}: "
                "the old size must be between 1 and the new size"
            )
        return self._subproof(old_size, 0, size, True)

    # The recursions below follow the RFC's definitions over the leaf range [lo, hi).

    def _path(self, m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, lo, lo + k), self._mth(lo + k, hi)]
        return [*self._path(m - k, lo + k, hi), self._mth(lo, lo + k)]

    def _subproof(self, m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            # The old tree is this very subtree: its root is known to the verifier only if it
            # is the whole old tree.
            return [] if complete else [self._mth(lo, hi)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, lo, lo + k, complete), self._mth(lo + k, hi)]
        return [*self._subproof(m - k, lo + k, hi, False), self._mth(lo, lo + k)]

    def _mth(self, lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            # A complete, aligned subtree: its hash was stored when its last leaf arrived.
            return self._stored(n.bit_length() - 1, lo // n)
        k = _split(n)
        return node_hash(self._mth(lo, lo + k), self._mth(lo + k, hi))

    def _stored(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise ValueError(f"the tree has {self._size} leaves, not {size}")
        return size


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the leaf with this hash is at `index` in the tree of `size` leaves whose root
    is `root`, with the algorithm of RFC 9162, section 2.1.3.2. Raises ProofError if not."""
    if index < 0 or size < 0:
        raise ProofError(f"index {index} and size {size} must not be negative")
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root hash")
    _check_proof(proof)

    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError(
                f"inclusion proof has {len(proof)} hashes, more than leaf {index} "
                f"of a tree of size {size} needs"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # On the right edge of a tree that is not complete, a node may have no sibling at
            # some levels: climb past them.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"inclusion proof has {len(proof)} hashes, fewer than leaf {index} "
            f"of a tree of size {size} needs"
        )
    if r != root:
        raise ProofError(
            f"inclusion proof for leaf {index} gives root {r.hex()[:16]}…, "
            f"not the expected {root.hex()[:16]}… of the tree of size {size}"
        )


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of `size2` leaves with root `root2` extends the tree of `size1`
    leaves with root `root1`, with the algorithm of RFC 9162, section 2.1.4.2. Raises
    ProofError if not.

    A proof from size 0 is refused (it would prove nothing). For equal sizes the proof must be
    empty and the roots equal byte for byte; as in transparency-dev/merkle, and as the shared
    test vectors expect, their length is then not checked: nothing is hashed.
    """
    if size1 < 0 or size2 < 0:
        raise ProofError(f"tree sizes {size1} and {size2} must not be negative")
    if size1 > size2:
        raise ProofError(f"the old tree size {size1} is larger than the new tree size {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree (size 0) proves nothing")
    if size1 == size2:
        if proof:
            raise ProofError(f"both trees have size {size1}, so the proof must be empty")
        if root1 != root2:
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    _check_hash(root1, "old root hash")
    _check_hash(root2, "new root hash")
    if not proof:
        raise ProofError(f"empty consistency proof from size {size1} to size {size2}")
    _check_proof(proof)

    path = list(proof)
    if size1 & (size1 - 1) == 0:
        # The old tree is a complete subtree of the new one: its root starts the path.
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(
                f"consistency proof has {len(proof)} hashes, more than "
                f"sizes {size1} to {size2} need"
            )
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(
            f"consistency proof has {len(proof)} hashes, fewer than sizes {size1} to {size2} need"
        )
    if fr != root1:
        raise ProofError(
            f"consistency proof gives old root {fr.hex()[:16]}… for size {size1}, "
            f"not the expected {root1.hex()[:16]}…"
        )
    if sr != root2:
        raise ProofError(
            f"consistency proof gives new root {sr.hex()[:16]}… for size {size2}, "
            f"not the expected {root2.hex()[:16]}…"
        )


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where RFC 9162 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        _check_hash(element, f"proof hash {i}")
