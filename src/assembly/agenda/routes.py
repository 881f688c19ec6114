"""JSON API of the agenda: list and add items, move the plenary to an item, and the documents
the assembly works on with their versions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get, patch, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import documents, service
from assembly.agenda.amendments import Paragraph, ParagraphDiff
from assembly.agenda.floor_routes import FLOOR_CONTROLLERS
from assembly.agenda.models import AgendaItem, Document, DocumentVersion, PlenarySession
from assembly.agenda.rollcall_routes import ROLL_CALL_CONTROLLERS
from assembly.audit import log as audit_log
from assembly.credentials import service as credentials
from assembly.credentials.auth import (
    CHAIR,
    LOGGED_IN,
    SECRETARIAT,
    Principal,
    role_guard,
    roles,
)
from assembly.credentials.routes import ensure_assembly_access
from assembly.credentials.screens import MAX_IMPORT_BYTES
from assembly.errors import MAX_NUMBER
from assembly.live.broadcast import announce_agenda, announce_vote
from assembly.openapi import Id
from assembly.voting.routes import vote_out
from assembly.voting.schemas import VoteOut


class ItemCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kind: str = "other"
    session_id: Id | None = None
    document_id: Id | None = None


class ItemLink(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    session_id: Id | None = None
    document_id: Id | None = None


class ItemMove(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    position: Annotated[int, msgspec.Meta(le=MAX_NUMBER)]


class ItemOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    position: int
    title: str
    kind: str
    current: bool
    session_id: int | None
    document_id: int | None


class SessionCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class SessionOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    name: str
    starts_at: dt.datetime
    ends_at: dt.datetime


class AgendaEventOut(msgspec.Struct, kw_only=True):
    kind: str
    actor: str
    at: dt.datetime
    detail: dict[str, Any]


class AgendaStateOut(msgspec.Struct, kw_only=True):
    adopted_at: dt.datetime | None
    vote_ids: list[int]
    events: list[AgendaEventOut]


def item_out(item: AgendaItem) -> ItemOut:
    return ItemOut(
        id=item.id,
        assembly_id=item.assembly_id,
        position=item.position,
        title=item.title,
        kind=item.kind,
        current=item.is_current,
        session_id=item.session_id,
        document_id=item.document_id,
    )


def session_out(session: PlenarySession) -> SessionOut:
    return SessionOut(
        id=session.id,
        assembly_id=session.assembly_id,
        name=session.name,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
    )


class AgendaController(Controller):
    path = "/api/assemblies/{assembly_id:int}/agenda"
    tags = ["agenda"]

    @get("/", opt=roles(LOGGED_IN), operation_id="listAgenda")
    async def list_items(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> list[ItemOut]:
        """The agenda in order, with the item the plenary is on marked current."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        return [item_out(i) for i in await service.items_of(db, assembly_id)]

    @post("/", opt=roles(CHAIR), operation_id="addAgendaItem")
    async def add(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        assembly_id: int,
        data: ItemCreate,
    ) -> ItemOut:
        """Add an item at the end of the agenda."""
        assembly = await credentials.get_assembly(db, assembly_id)
        item = await service.add_item(
            db,
            assembly,
            request.user.actor,
            data.title,
            data.kind,
            session_id=data.session_id,
            document_id=data.document_id,
        )
        out = item_out(item)
        await db.commit()
        return out

    @get("/state", opt=roles(LOGGED_IN), operation_id="getAgendaState")
    async def agenda_state(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> AgendaStateOut:
        """Whether the agenda is adopted, the votes on it, and every recorded change."""
        ensure_assembly_access(request.user, assembly_id)
        assembly = await credentials.get_assembly(db, assembly_id)
        return AgendaStateOut(
            adopted_at=assembly.agenda_adopted_at,
            vote_ids=[v.id for v in await service.agenda_votes(db, assembly_id)],
            events=[
                AgendaEventOut(kind=e.kind, actor=e.actor, at=e.at, detail=e.detail)
                for e in await service.events_of(db, assembly_id)
            ],
        )

    @post("/adopt", opt=roles(CHAIR), operation_id="voteOnAgenda")
    async def adopt(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        assembly_id: int,
    ) -> VoteOut:
        """Put the agenda to the vote (a procedural motion); adopted, later changes are
        recorded as changes to the adopted agenda."""
        assembly = await credentials.get_assembly(db, assembly_id)
        vote = await service.open_adoption_vote(db, assembly, request.user.actor)
        await db.commit()
        await announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)


class SessionsController(Controller):
    path = "/api/assemblies/{assembly_id:int}/sessions"
    tags = ["agenda"]

    @get("/", opt=roles(LOGGED_IN), operation_id="listPlenarySessions")
    async def list_sessions(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> list[SessionOut]:
        """The plenary sessions in time order."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        return [session_out(s) for s in await service.sessions_of(db, assembly_id)]

    @post("/", opt=roles(CHAIR), operation_id="addPlenarySession")
    async def add(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        assembly_id: int,
        data: SessionCreate,
    ) -> SessionOut:
        """Add a plenary session with its start and end (with a time zone)."""
        assembly = await credentials.get_assembly(db, assembly_id)
        session = await service.add_session(
            db, assembly, request.user.actor, data.name, data.starts_at, data.ends_at
        )
        out = session_out(session)
        await db.commit()
        return out


class AgendaItemController(Controller):
    path = "/api/agenda-items/{item_id:int}"
    tags = ["agenda"]

    @post("/current", opt=roles(CHAIR), operation_id="makeAgendaItemCurrent", status_code=200)
    async def make_current(self, db: AsyncSession, state: State, item_id: int) -> ItemOut:
        """Move the plenary to this item: the chair, the phones and the projector follow."""
        item = await service.get_item(db, item_id)
        await service.make_current(db, item)
        out = item_out(item)
        await db.commit()
        await announce_agenda(state.ctx, item.assembly_id)
        return out

    @post("/move", opt=roles(CHAIR), operation_id="moveAgendaItem", status_code=200)
    async def move(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        item_id: int,
        data: ItemMove,
    ) -> list[ItemOut]:
        """Move the item to another position (recorded); answers the whole agenda."""
        item = await service.get_item(db, item_id)
        assembly = await credentials.get_assembly(db, item.assembly_id)
        items = await service.move_item(db, assembly, request.user.actor, item, data.position)
        out = [item_out(i) for i in items]
        await db.commit()
        await announce_agenda(state.ctx, assembly.id)
        return out

    @patch("/", opt=roles(CHAIR), operation_id="linkAgendaItem")
    async def link(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        item_id: int,
        data: ItemLink,
    ) -> ItemOut:
        """Put the item in a plenary session and attach the document it debates."""
        item = await service.get_item(db, item_id)
        assembly = await credentials.get_assembly(db, item.assembly_id)
        await service.link_item(
            db,
            assembly,
            request.user.actor,
            item,
            session_id=data.session_id,
            document_id=data.document_id,
        )
        out = item_out(item)
        await db.commit()
        await announce_agenda(state.ctx, assembly.id)
        return out


class DocumentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kind: str
    text: str
    # Whether the text is already in force (the constitution and bylaws as they stand) or
    # a proposal the plenary adopts; by default, by its kind.
    in_force: bool | None = None


class ParagraphIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    id: str
    text: str


class EditorialChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str
    paragraphs: list[ParagraphIn]


class DocumentOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    kind: str
    title: str
    valid_until: dt.date | None
    current_version: int
    in_force_version: int | None


class ParagraphOut(msgspec.Struct, kw_only=True):
    number: int
    id: str
    text: str


class VersionOut(msgspec.Struct, kw_only=True):
    document: DocumentOut
    number: int
    reason: str
    created_at: dt.datetime
    created_by: str
    paragraphs: list[ParagraphOut]


class ParagraphDiffOut(msgspec.Struct, kw_only=True):
    id: str
    status: str
    old_text: str | None
    new_text: str | None
    words: list[tuple[str, str]]


class DiffOut(msgspec.Struct, kw_only=True):
    document_id: int
    from_version: int = msgspec.field(name="from")
    to_version: int = msgspec.field(name="to")
    paragraphs: list[ParagraphDiffOut]


def document_out(document: Document) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        assembly_id=document.assembly_id,
        kind=document.kind,
        title=document.title,
        valid_until=document.valid_until,
        current_version=document.current_version,
        in_force_version=document.in_force_version,
    )


def version_out(document: Document, version: DocumentVersion) -> VersionOut:
    return VersionOut(
        document=document_out(document),
        number=version.number,
        reason=version.reason,
        created_at=version.created_at,
        created_by=version.created_by,
        paragraphs=[
            ParagraphOut(number=n, id=p.id, text=p.text)
            for n, p in enumerate(documents.paragraphs_of(version), start=1)
        ],
    )


def diff_out(diff: ParagraphDiff) -> ParagraphDiffOut:
    return ParagraphDiffOut(
        id=diff.id,
        status=diff.status.value,
        old_text=diff.old_text,
        new_text=diff.new_text,
        words=[(op, text) for op, text in diff.words],
    )


class AssemblyDocumentController(Controller):
    path = "/api/assemblies/{assembly_id:int}/documents"
    tags = ["documents"]

    @get("/", opt=roles(LOGGED_IN), operation_id="listDocuments")
    async def list_documents(
        self, db: AsyncSession, request: Request[Principal, Any, Any], assembly_id: int
    ) -> list[DocumentOut]:
        """The assembly's documents, oldest first."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        return [document_out(d) for d in await documents.documents_of(db, assembly_id)]

    @post(
        "/",
        opt=roles(SECRETARIAT),
        operation_id="createDocument",
        request_max_body_size=MAX_IMPORT_BYTES,  # a whole document's text
    )
    async def create(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        assembly_id: int,
        data: DocumentCreate,
    ) -> VersionOut:
        """Import a Markdown or plain text as version 1 of a new document."""
        assembly = await credentials.get_assembly(db, assembly_id)
        document, version = await documents.create_document(
            db, assembly, request.user.actor, data.title, data.kind, data.text, data.in_force
        )
        out = version_out(document, version)
        await db.commit()
        return out


class DocumentController(Controller):
    path = "/api/documents/{document_id:int}"
    tags = ["documents"]

    @get("/", opt=roles(LOGGED_IN), operation_id="getDocument")
    async def get_document(
        self, db: AsyncSession, request: Request[Principal, Any, Any], document_id: int
    ) -> VersionOut:
        """The document with its current version's paragraphs, numbered 1..n."""
        document = await documents.get_document(db, document_id)
        ensure_assembly_access(request.user, document.assembly_id)
        return version_out(document, await documents.current_version(db, document))

    @get("/versions/{number:int}", opt=roles(LOGGED_IN), operation_id="getDocumentVersion")
    async def get_version(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        document_id: int,
        number: int,
    ) -> VersionOut:
        """One version of the document, as it was written."""
        document = await documents.get_document(db, document_id)
        ensure_assembly_access(request.user, document.assembly_id)
        return version_out(document, await documents.get_version(db, document_id, number))

    @post(
        "/versions",
        opt=roles(SECRETARIAT),
        operation_id="changeDocumentEditorially",
        request_max_body_size=MAX_IMPORT_BYTES,
    )
    async def editorial_change(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        state: State,
        document_id: int,
        data: EditorialChange,
    ) -> VersionOut:
        """An editorial change: a new version with the given paragraphs and the reason."""
        document = await documents.get_document(db, document_id)
        version = await documents.editorial_change(
            db,
            document,
            request.user.actor,
            data.reason,
            [Paragraph(p.id, p.text) for p in data.paragraphs],
        )
        # A text changed without a vote gets a signed checkpoint, as an adopted one does.
        await audit_log.sign_checkpoint(
            db, state.ctx.audit_key, state.ctx.settings.public_url, document.assembly_id
        )
        out = version_out(document, version)
        await db.commit()
        return out

    @get("/diff", opt=roles(LOGGED_IN), operation_id="diffDocumentVersions")
    async def diff(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        document_id: int,
        from_version: Annotated[int, Parameter(query="from", ge=1, le=MAX_NUMBER)],
        to_version: Annotated[int, Parameter(query="to", ge=1, le=MAX_NUMBER)],
    ) -> DiffOut:
        """Paragraph by paragraph, word by word, what changed between two versions."""
        document = await documents.get_document(db, document_id)
        ensure_assembly_access(request.user, document.assembly_id)
        diff = await documents.diff_versions(db, document, from_version, to_version)
        return DiffOut(
            document_id=document.id,
            from_version=from_version,
            to_version=to_version,
            paragraphs=[diff_out(d) for d in diff],
        )


def agenda_api_routes() -> list[Router]:
    return [
        Router(
            path="/",
            guards=[role_guard],
            route_handlers=[
                AgendaController,
                AgendaItemController,
                SessionsController,
                AssemblyDocumentController,
                DocumentController,
                *FLOOR_CONTROLLERS,
                *ROLL_CALL_CONTROLLERS,
            ],
        )
    ]
