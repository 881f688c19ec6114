"""Receipts over the JSON API: a closed vote's logged ballot (named votes) or list of trackers
and choices (secret votes), as one C2SP tlog-proof file a phone downloads and anyone checks
offline (`assembly audit receipt`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log, witness
from assembly.audit.models import AuditEntry
from assembly.audit.receipts import FILE_EXTENSION, build_receipt
from assembly.credentials import service as credentials
from assembly.credentials.auth import LOGGED_IN, Principal, roles
from assembly.credentials.routes import ensure_assembly_access
from assembly.errors import MAX_NUMBER, Conflict, DomainError, Forbidden, NotFound
from assembly.i18n import t
from assembly.voting.models import Vote

Req = Request[Principal, Any, Any]


class WrongReceiptKind(DomainError):
    """A named vote's receipt asked for a secret vote, or the other way round."""

    status = 400
    code = "wrong_receipt_kind"


async def _logged_vote_entry(
    db: AsyncSession, vote: Vote, receipt: str | None
) -> AuditEntry | None:
    """The log entry a receipt proves: the named ballot with this receipt code, or the secret
    vote's choices. Entries are found by what they say, as the log is the record."""
    kind = "secret_choices" if vote.secret else "ballot"
    rows = await db.execute(
        select(AuditEntry)
        .where(AuditEntry.assembly_id == vote.assembly_id, AuditEntry.kind == kind)
        .order_by(AuditEntry.seq.desc())
    )
    for entry in rows.scalars():
        data = json.loads(entry.data)
        if data.get("vote") == vote.id and (vote.secret or data.get("receipt") == receipt):
            return entry
    return None


async def vote_receipt(db: AsyncSession, vote: Vote, receipt: str | None) -> str:
    """The tlog-proof of a closed vote's logged ballot (named, by its receipt code) or of its
    list of trackers and choices (secret), at the latest signed checkpoint."""
    if vote.state != "closed":
        raise Conflict(
            t(
                "Vote {vote} is {state}: receipts exist once the vote is closed and logged.",
                vote=vote.id,
                state=vote.state,
            )
        )
    if vote.secret and receipt is not None:
        raise WrongReceiptKind(
            t(
                "Vote {vote} is secret: no ballot in it has its own receipt in the log. "
                "Ask without a receipt code for the list of trackers, and find your "
                "tracker in it.",
                vote=vote.id,
            )
        )
    if not vote.secret and receipt is None:
        raise WrongReceiptKind(
            t(
                "Vote {vote} is a named vote: give the receipt code your phone shows "
                "(receipt=...).",
                vote=vote.id,
            )
        )
    entry = await _logged_vote_entry(db, vote, receipt)
    if entry is None:
        if vote.secret:
            raise NotFound(t("The choices of vote {vote} are not in the audit log.", vote=vote.id))
        raise NotFound(
            t(
                "No ballot with receipt {receipt} in vote {vote}: check the code on your "
                "phone (a ballot changed while the vote was open got a new receipt).",
                receipt=receipt,
                vote=vote.id,
            )
        )
    checkpoint = await log.latest_checkpoint(db, vote.assembly_id)
    if checkpoint is None or checkpoint.size <= entry.seq:
        raise Conflict(
            t(
                "Entry {entry} of the log is not yet covered by a signed checkpoint; try "
                "again in a moment.",
                entry=entry.seq,
            )
        )
    _, proof = await log.inclusion_proof(db, vote.assembly_id, entry.seq, checkpoint.size)
    # Witnesses' cosignature lines follow the log's signature in the note (C2SP tlog-proof).
    note = await witness.cosigned_checkpoint(db, checkpoint)
    return build_receipt(entry.data, entry.seq, proof, note)


class ReceiptController(Controller):
    path = "/api/assemblies/{assembly_id:int}/log"
    tags = ["audit"]

    @get("/receipt", opt=roles(LOGGED_IN), operation_id="getReceipt", media_type="text/plain")
    async def receipt(
        self,
        db: AsyncSession,
        request: Req,
        assembly_id: int,
        vote_id: Annotated[int, Parameter(query="vote", ge=1, le=MAX_NUMBER)],
        receipt: Annotated[str | None, Parameter(query="receipt", max_length=64)] = None,
    ) -> Response[str]:
        """A closed vote's receipt as a C2SP tlog-proof: a named ballot's (by its receipt
        code) or a secret vote's list of trackers and choices (no receipt code)."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        vote = await db.get(Vote, vote_id)
        if vote is None or vote.assembly_id != assembly_id:
            raise NotFound(t("There is no vote {vote_id} in this assembly.", vote_id=vote_id))
        if vote.state == "draft" and not request.user.is_staff:
            raise Forbidden(t("This vote is still a draft of the chair."))
        text = await vote_receipt(db, vote, receipt.strip().upper() if receipt else None)
        name = "receipt" if not vote.secret else "trackers"
        return Response(
            text,
            media_type="text/plain; charset=utf-8",
            headers={
                "Content-Disposition": (
                    f'attachment; filename="vote-{vote.id}-{name}{FILE_EXTENSION}"'
                )
            },
        )
