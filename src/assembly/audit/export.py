"""The whole audit log of an assembly as one document: what `assembly audit export` writes and
what a signed record bundle carries as `audit-log.json`, checked offline by `audit verify`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log, verify, witness


async def log_document(
    db: AsyncSession, assembly_id: int, public_url: str, configured_key: Callable[[], str]
) -> dict[str, Any]:
    """Every entry, every signed checkpoint and every witness cosignature of the log.
    `configured_key` gives the server's verifier key; it is asked only when no checkpoint has
    the key that signed it stored with it (a log with no checkpoint yet)."""
    entries = await log.entries(db, assembly_id)
    checkpoints = await log.checkpoints(db, assembly_id)
    verifier = await log.verifier_key(db, assembly_id) or configured_key()
    cosignatures = [
        {"size": c.size, "witness": w.name, "verifier_key": w.verifier_key, "line": c.line}
        for c, w in await witness.cosignatures(db, assembly_id)
    ]
    return verify.export_document(
        log.origin_of(public_url, assembly_id),
        verifier,
        [(e.seq, e.data) for e in entries],
        [c.note for c in checkpoints],
        cosignatures,
    )


def document_text(document: dict[str, Any]) -> str:
    """The document as the file is written (UTF-8, one entry field per line)."""
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"
