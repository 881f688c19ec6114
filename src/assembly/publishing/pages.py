"""The public record of an assembly, for anyone and without a login: the agenda with its
outcomes, every published vote, attendance per plenary session, the texts in force with their
history, and the audit log's checkpoint with a proof for every decision. Every page renders from
`build_record`, so it shows exactly what is published; the secretariat and the chair also see
what is held, marked. Pages carry no script: they are plain HTML that a phone loads fast."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

from litestar import Request, Response, Router, get
from litestar.datastructures import State
from litestar.params import Parameter
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.amendments import Paragraph, document_diff
from assembly.agenda.document_screens import KIND_NAMES, diff_rows
from assembly.audit import log, witness
from assembly.audit.models import AuditEntry
from assembly.audit.receipts import FILE_EXTENSION, build_receipt
from assembly.credentials.auth import ALL_ROLES, Principal, role_guard, roles
from assembly.errors import Conflict, NotFound
from assembly.i18n import t
from assembly.publishing.record import (
    DocumentRecord,
    PublicRecord,
    SessionRecord,
    VersionRecord,
    build_record,
)
from assembly.publishing.service import is_published, sees_unpublished
from assembly.voting.models import Vote

Req = Request[Principal, Any, Any]
OldParam = Annotated[int | None, Parameter(query="old", required=False)]
NewParam = Annotated[int | None, Parameter(query="new", required=False)]

PUBLIC_PAGE = roles(ALL_ROLES)


def record_path(assembly_id: int) -> str:
    return f"/record/{assembly_id}"


async def record_for(
    db: AsyncSession, request: Req, state: State, assembly_id: int
) -> PublicRecord:
    """The record as the person asking may see it: what is published, or (the secretariat and
    the chair) everything, with what is held marked."""
    stored_key = await log.verifier_key(db, assembly_id)
    return await build_record(
        db,
        assembly_id,
        staff_view=sees_unpublished(request.user),
        verifier_key=stored_key or state.ctx.audit_key.verifier_key,
    )


def render(request: Req, template: str, record: PublicRecord, **context: Any) -> Template:
    return Template(
        template,
        context={
            "principal": request.user,
            "record": record,
            "kind_names": KIND_NAMES,
            **context,
        },
    )


def session_in(record: PublicRecord, session_id: int) -> SessionRecord:
    """A session whose attendance the person asking may see; a held one is not found, with
    the same words as one that does not exist."""
    for sitting in record.sessions:
        if sitting.id == session_id and (sitting.published or record.staff_view):
            return sitting
    raise NotFound(
        t("There is no published session {session_id} in this assembly.", session_id=session_id)
    )


def version_of(document: DocumentRecord, number: int) -> VersionRecord:
    for version in document.versions:
        if version.number == number:
            return version
    raise NotFound(
        t("There is no published version {number} of {title}.", number=number, title=document.title)
    )


def paragraphs(version: VersionRecord) -> tuple[Paragraph, ...]:
    return tuple(Paragraph(pid, text) for pid, text in version.paragraphs)


@get("/record/{assembly_id:int}", opt=PUBLIC_PAGE)
async def record_overview(
    db: AsyncSession, request: Req, state: State, assembly_id: int
) -> Template:
    """The assembly's public record: sessions, the agenda with its outcomes, the texts in force
    and the audit log's latest checkpoint with its verifier key."""
    record = await record_for(db, request, state, assembly_id)
    return render(request, "record/overview.html", record, votes={v.id: v for v in record.votes})


@get("/record/{assembly_id:int}/results", opt=PUBLIC_PAGE)
async def record_results(
    db: AsyncSession, request: Req, state: State, assembly_id: int
) -> Template:
    """Every published vote with its rule, outcome, explanation and totals (roll calls are on
    each vote's page, which keeps this page small)."""
    record = await record_for(db, request, state, assembly_id)
    return render(request, "record/results.html", record, votes={v.id: v for v in record.votes})


@get("/record/{assembly_id:int}/votes/{vote_id:int}", opt=PUBLIC_PAGE)
async def record_vote(
    db: AsyncSession, request: Req, state: State, assembly_id: int, vote_id: int
) -> Template:
    """One vote: its result, and NMO by NMO (named vote) or tracker by tracker (secret vote)."""
    record = await record_for(db, request, state, assembly_id)
    vote = record.vote(vote_id)
    item = next((i for i in record.agenda if vote.id in i.votes), None)
    return render(request, "record/vote.html", record, vote=vote, item=item)


@get("/record/{assembly_id:int}/sessions/{session_id:int}", opt=PUBLIC_PAGE)
async def record_session(
    db: AsyncSession, request: Req, state: State, assembly_id: int, session_id: int
) -> Template:
    """Attendance at one plenary session, NMO by NMO."""
    record = await record_for(db, request, state, assembly_id)
    sitting = session_in(record, session_id)
    items = [i for i in record.agenda if i.session_id == sitting.id]
    return render(request, "record/session.html", record, session=sitting, items=items)


@get("/record/{assembly_id:int}/documents/{document_id:int}", opt=PUBLIC_PAGE)
async def record_document(
    db: AsyncSession, request: Req, state: State, assembly_id: int, document_id: int
) -> Template:
    """A text in force, paragraphs numbered, with its version history."""
    record = await record_for(db, request, state, assembly_id)
    document = record.document(document_id)
    version = document.in_force
    if version is None:
        raise NotFound(
            t(
                "There is no published document {document_id} in this assembly.",
                document_id=document_id,
            )
        )
    return render(request, "record/document.html", record, document=document, version=version)


@get("/record/{assembly_id:int}/documents/{document_id:int}/diff", opt=PUBLIC_PAGE)
async def record_document_diff(
    db: AsyncSession,
    request: Req,
    state: State,
    assembly_id: int,
    document_id: int,
    old: OldParam,
    new: NewParam,
) -> Template:
    """What changed between two published versions of a text (?old=N&new=M; by default the
    version in force and the one before it), word by word."""
    record = await record_for(db, request, state, assembly_id)
    document = record.document(document_id)
    new_number = document.in_force_version or 1 if new is None else new
    old_number = max(1, new_number - 1) if old is None else old
    before, after = version_of(document, old_number), version_of(document, new_number)
    old_paragraphs, new_paragraphs = paragraphs(before), paragraphs(after)
    diff = document_diff(old_paragraphs, new_paragraphs)
    return render(
        request,
        "record/diff.html",
        record,
        document=document,
        old=before,
        new=after,
        rows=diff_rows(diff, old_paragraphs, new_paragraphs),
        counts=Counter(d.status.value for d in diff),
    )


async def visible_vote(
    db: AsyncSession, principal: Principal, assembly_id: int, vote_id: int
) -> Vote:
    """A closed vote whose result the person asking may see; the same refusal as the record's
    for one that is held or does not exist."""
    vote = await db.get(Vote, vote_id)
    if (
        vote is None
        or vote.assembly_id != assembly_id
        or vote.state != "closed"
        or not (sees_unpublished(principal) or is_published(vote.published_at))
    ):
        raise NotFound(t("There is no published vote {vote_id} in this assembly.", vote_id=vote_id))
    return vote


async def result_proof(db: AsyncSession, vote: Vote) -> str:
    """The C2SP tlog-proof of the vote's `vote_result` log entry at the latest checkpoint."""
    # Newest first: the index on (assembly, kind, seq) keeps this to the results.
    entries = await db.execute(
        select(AuditEntry)
        .where(AuditEntry.assembly_id == vote.assembly_id, AuditEntry.kind == "vote_result")
        .order_by(AuditEntry.seq.desc())
    )
    entry = next((e for e in entries.scalars() if json.loads(e.data).get("vote") == vote.id), None)
    if entry is None:
        raise NotFound(t("The result of vote {vote} is not in the audit log.", vote=vote.id))
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
    note = await witness.cosigned_checkpoint(db, checkpoint)
    return build_receipt(entry.data, entry.seq, proof, note)


@get(
    "/record/{assembly_id:int}/votes/{vote_id:int}/proof.tlog-proof",
    opt=PUBLIC_PAGE,
    media_type="text/plain",
)
async def record_vote_proof(
    db: AsyncSession, request: Req, assembly_id: int, vote_id: int
) -> Response[str]:
    """Proof that the vote's result is in the signed audit log: a C2SP tlog-proof anyone checks
    offline with `assembly audit receipt FILE --key KEY`."""
    vote = await visible_vote(db, request.user, assembly_id, vote_id)
    text = await result_proof(db, vote)
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="vote-{vote.id}-result{FILE_EXTENSION}"'
        },
    )


def record_routes() -> list[Router]:
    return [
        Router(
            path="/",
            guards=[role_guard],
            include_in_schema=False,
            route_handlers=[
                record_overview,
                record_results,
                record_vote,
                record_vote_proof,
                record_session,
                record_document,
                record_document_diff,
            ],
        )
    ]


__all__ = ["record_path", "record_routes"]
