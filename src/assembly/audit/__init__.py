"""The signed audit log: a Merkle tree log of canonical JSON entries with signed checkpoints."""
