"""JSON API of amendments: propose, revise and withdraw (the proposer), admit, rule out, merge
and put to the vote (the chair), and the final vote on the text as amended."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, Router, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import amending, documents
from assembly.agenda.amending import AmendmentView, ChangeIn, Proposal
from assembly.agenda.amendments import Delete, Insert, Replace
from assembly.agenda.models import Amendment
from assembly.credentials.auth import CHAIR, LOGGED_IN, Principal, Role, role_guard, roles
from assembly.credentials.models import Nmo
from assembly.credentials.routes import ensure_assembly_access
from assembly.errors import Invalid
from assembly.i18n import t
from assembly.live.broadcast import announce_agenda, announce_vote
from assembly.openapi import Id
from assembly.voting.routes import vote_out
from assembly.voting.schemas import VoteOut

Req = Request[Principal, Any, Any]
PROPOSERS = frozenset({Role.secretariat, Role.delegate})


class ChangeBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    op: str
    paragraph_id: str | None = None
    after: str | None = None
    text: str = ""


class AmendmentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    changes: list[ChangeBody]
    rationale: str = ""
    # The NMO that proposes it: the secretariat names it; a head of delegation may leave it
    # out (its own NMO).
    nmo_id: Id | None = None
    amends: Id | None = None
    cosponsors: list[Id] = msgspec.field(default_factory=list)


class RevisionBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    changes: list[ChangeBody]
    rationale: str = ""


class Ruling(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ruling: str = ""


class ChangeOut(msgspec.Struct, kw_only=True):
    op: str
    paragraph_id: str | None
    after: str | None
    new_id: str | None
    paragraph_number: int | None
    text: str | None
    base_text: str | None
    words: list[tuple[str, str]]


class EventOut(msgspec.Struct, kw_only=True):
    kind: str
    actor: str
    at: dt.datetime
    note: str
    vote_id: int | None


class AmendmentOut(msgspec.Struct, kw_only=True):
    id: int
    label: str
    document_id: int
    version: int
    degree: int
    amends: int | None
    amends_label: str | None
    nmo_id: int
    nmo_code: str
    cosponsors: list[str]
    state: str
    late: bool
    rationale: str
    submitted_at: dt.datetime
    changes: list[ChangeOut]
    problems: list[str]
    votable: bool
    vote_id: int | None
    events: list[EventOut] | None = None


class DocumentAmendmentsOut(msgspec.Struct, kw_only=True):
    document_id: int
    current_version: int
    in_force_version: int | None
    deadline: dt.datetime | None
    final_vote_id: int | None
    # In voting order: second degree before first, first-degree ones in paragraph order;
    # then the ones to older versions and the withdrawn ones.
    amendments: list[AmendmentOut]


def amendment_out(view: AmendmentView) -> AmendmentOut:
    changes: list[ChangeOut] = []
    for change, number, words in zip(view.changes, view.paragraphs, view.words, strict=True):
        runs = [(op, text) for op, text in words]
        if isinstance(change, Replace):
            changes.append(
                ChangeOut(
                    op="replace",
                    paragraph_id=change.paragraph_id,
                    after=None,
                    new_id=None,
                    paragraph_number=number,
                    text=change.text,
                    base_text=change.base_text,
                    words=runs,
                )
            )
        elif isinstance(change, Insert):
            changes.append(
                ChangeOut(
                    op="insert",
                    paragraph_id=None,
                    after=change.after,
                    new_id=change.new_id,
                    paragraph_number=number,
                    text=change.text,
                    base_text=None,
                    words=runs,
                )
            )
        else:
            assert isinstance(change, Delete)
            changes.append(
                ChangeOut(
                    op="delete",
                    paragraph_id=change.paragraph_id,
                    after=None,
                    new_id=None,
                    paragraph_number=number,
                    text=None,
                    base_text=change.base_text,
                    words=runs,
                )
            )
    row = view.row
    return AmendmentOut(
        id=row.id,
        label=row.label,
        document_id=row.document_id,
        version=row.version_number,
        degree=row.degree,
        amends=row.amends_id,
        amends_label=view.target_label,
        nmo_id=row.nmo_id,
        nmo_code=view.nmo_code,
        cosponsors=view.sponsors,
        state=row.state,
        late=row.late,
        rationale=row.rationale,
        submitted_at=row.submitted_at,
        changes=changes,
        problems=view.problems,
        votable=view.votable,
        vote_id=view.vote.id if view.vote else None,
    )


def proposal_of(changes: list[ChangeBody], rationale: str, **extra: Any) -> Proposal:
    return Proposal(
        changes=[ChangeIn(c.op, c.paragraph_id, c.after, c.text) for c in changes],
        rationale=rationale,
        **extra,
    )


async def view_of(db: AsyncSession, amendment: Amendment, *, events: bool = False) -> AmendmentOut:
    document = await documents.get_document(db, amendment.document_id)
    view = next(v for v in await amending.amendment_views(db, document) if v.row.id == amendment.id)
    out = amendment_out(view)
    if events:
        out.events = [
            EventOut(kind=e.kind, actor=e.actor, at=e.at, note=e.note, vote_id=e.vote_id)
            for e in await amending.events_of(db, amendment.id)
        ]
    return out


class DocumentAmendmentsController(Controller):
    path = "/api/documents/{document_id:int}"
    tags = ["amendments"]

    @get("/amendments", opt=roles(LOGGED_IN), operation_id="listAmendments")
    async def list_amendments(
        self, db: AsyncSession, request: Req, document_id: int
    ) -> DocumentAmendmentsOut:
        """The document's amendments in voting order, each with why it no longer applies."""
        document = await documents.get_document(db, document_id)
        ensure_assembly_access(request.user, document.assembly_id)
        state = await amending.document_state(db, document)
        return DocumentAmendmentsOut(
            document_id=document.id,
            current_version=document.current_version,
            in_force_version=document.in_force_version,
            deadline=state["deadline"],
            final_vote_id=state["final_vote"].id if state["final_vote"] else None,
            amendments=[amendment_out(v) for v in await amending.amendment_views(db, document)],
        )

    @post("/amendments", opt=roles(PROPOSERS), operation_id="proposeAmendment")
    async def propose(
        self, db: AsyncSession, request: Req, state: State, document_id: int, data: AmendmentBody
    ) -> AmendmentOut:
        """Propose an amendment (a head of delegation for its NMO, or the secretariat on an
        NMO's behalf); after the deadline it is stored as late and waits for the chair."""
        document = await documents.get_document(db, document_id)
        ensure_assembly_access(request.user, document.assembly_id)
        nmo_id = data.nmo_id if data.nmo_id is not None else request.user.nmo_id
        if nmo_id is None:
            raise Invalid(t("Name the NMO that proposes the amendment (nmo_id)."))
        nmo = await db.get(Nmo, nmo_id)
        if nmo is None:
            raise Invalid(t("There is no NMO {nmo_id}.", nmo_id=nmo_id))
        amendment = await amending.submit(
            db,
            request.user,
            document,
            nmo,
            proposal_of(
                data.changes,
                data.rationale,
                amends_id=data.amends,
                cosponsor_nmo_ids=data.cosponsors,
            ),
        )
        out = await view_of(db, amendment, events=True)
        await db.commit()
        await announce_agenda(state.ctx, document.assembly_id)
        return out

    @post("/final-vote", opt=roles(CHAIR), operation_id="openFinalVote")
    async def final_vote(
        self, db: AsyncSession, request: Req, state: State, document_id: int
    ) -> VoteOut:
        """Open the final vote on the text as amended; every amendment must be decided."""
        document = await documents.get_document(db, document_id)
        vote = await amending.open_final_vote(db, request.user.actor, document)
        await db.commit()
        await announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)


class AmendmentController(Controller):
    path = "/api/amendments/{amendment_id:int}"
    tags = ["amendments"]

    @get("/", opt=roles(LOGGED_IN), operation_id="getAmendment")
    async def get_amendment(
        self, db: AsyncSession, request: Req, amendment_id: int
    ) -> AmendmentOut:
        """One amendment with its history."""
        amendment = await amending.get_amendment(db, amendment_id)
        document = await documents.get_document(db, amendment.document_id)
        ensure_assembly_access(request.user, document.assembly_id)
        return await view_of(db, amendment, events=True)

    async def _visible(self, db: AsyncSession, request: Req, amendment: Amendment) -> None:
        document = await documents.get_document(db, amendment.document_id)
        ensure_assembly_access(request.user, document.assembly_id)

    async def _done(self, db: AsyncSession, state: State, amendment: Amendment) -> AmendmentOut:
        out = await view_of(db, amendment, events=True)
        document = await documents.get_document(db, amendment.document_id)
        await db.commit()
        await announce_agenda(state.ctx, document.assembly_id)
        return out

    @post("/revise", opt=roles(PROPOSERS), operation_id="reviseAmendment", status_code=200)
    async def revise(
        self, db: AsyncSession, request: Req, state: State, amendment_id: int, data: RevisionBody
    ) -> AmendmentOut:
        """The proposer rewrites an undecided amendment against the text as amended now."""
        amendment = await amending.get_amendment(db, amendment_id)
        await self._visible(db, request, amendment)
        await amending.revise(
            db, request.user, amendment, proposal_of(data.changes, data.rationale)
        )
        return await self._done(db, state, amendment)

    @post("/withdraw", opt=roles(PROPOSERS), operation_id="withdrawAmendment", status_code=200)
    async def withdraw(
        self, db: AsyncSession, request: Req, state: State, amendment_id: int
    ) -> AmendmentOut:
        """The proposer withdraws an undecided amendment; amendments to it fall with it."""
        amendment = await amending.get_amendment(db, amendment_id)
        await self._visible(db, request, amendment)
        await amending.withdraw(db, request.user, amendment)
        return await self._done(db, state, amendment)

    @post("/admit", opt=roles(CHAIR), operation_id="admitAmendment", status_code=200)
    async def admit(
        self,
        db: AsyncSession,
        request: Req,
        state: State,
        amendment_id: int,
        data: Ruling | None = None,
    ) -> AmendmentOut:
        """Admit an amendment for debate; a late one needs the chair's ruling (recorded)."""
        amendment = await amending.get_amendment(db, amendment_id)
        await amending.admit(db, request.user.actor, amendment, data.ruling if data else "")
        return await self._done(db, state, amendment)

    @post("/refuse", opt=roles(CHAIR), operation_id="ruleAmendmentOut", status_code=200)
    async def refuse(
        self, db: AsyncSession, request: Req, state: State, amendment_id: int, data: Ruling
    ) -> AmendmentOut:
        """Rule an amendment out of order, with the reason (recorded)."""
        amendment = await amending.get_amendment(db, amendment_id)
        await amending.refuse(db, request.user.actor, amendment, data.ruling)
        return await self._done(db, state, amendment)

    @post("/merge", opt=roles(CHAIR), operation_id="mergeAmendment", status_code=200)
    async def merge(
        self, db: AsyncSession, request: Req, state: State, amendment_id: int
    ) -> AmendmentOut:
        """Merge a friendly amendment into the text without a vote."""
        amendment = await amending.get_amendment(db, amendment_id)
        await amending.merge(db, request.user.actor, amendment)
        return await self._done(db, state, amendment)

    @post("/vote", opt=roles(CHAIR), operation_id="voteOnAmendment")
    async def vote(
        self, db: AsyncSession, request: Req, state: State, amendment_id: int
    ) -> VoteOut:
        """Open a vote on the amendment (simple majority by default) in one action."""
        amendment = await amending.get_amendment(db, amendment_id)
        vote = await amending.open_amendment_vote(db, request.user.actor, amendment)
        await db.commit()
        await announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)


def amendment_api_routes() -> list[Router]:
    return [
        Router(
            path="/",
            guards=[role_guard],
            route_handlers=[DocumentAmendmentsController, AmendmentController],
        )
    ]
