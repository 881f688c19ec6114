"""Tests of the signed audit log core: Merkle proofs, signed notes, canonical entries, key files."""
