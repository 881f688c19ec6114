"""JSON API of the agenda: list and add items, move the plenary to an item, and the documents
the assembly works on with their versions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Router, get, post
from litestar.datastructures import State
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import documents, service
from assembly.agenda.amendments import Paragraph, ParagraphDiff
from assembly.agenda.models import AgendaItem, Document, DocumentVersion
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
from assembly.live.broadcast import announce_agenda


class ItemCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kind: str = "other"


class ItemOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    position: int
    title: str
    kind: str
    current: bool


def item_out(item: AgendaItem) -> ItemOut:
    return ItemOut(
        id=item.id,
        assembly_id=item.assembly_id,
        position=item.position,
        title=item.title,
        kind=item.kind,
        current=item.is_current,
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
        item = await service.add_item(db, assembly, request.user.actor, data.title, data.kind)
        out = item_out(item)
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


class DocumentCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kind: str
    text: str


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

    @post("/", opt=roles(SECRETARIAT), operation_id="createDocument")
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
            db, assembly, request.user.actor, data.title, data.kind, data.text
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

    @post("/versions", opt=roles(SECRETARIAT), operation_id="changeDocumentEditorially")
    async def editorial_change(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
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
        out = version_out(document, version)
        await db.commit()
        return out

    @get("/diff", opt=roles(LOGGED_IN), operation_id="diffDocumentVersions")
    async def diff(
        self,
        db: AsyncSession,
        request: Request[Principal, Any, Any],
        document_id: int,
        from_version: Annotated[int, Parameter(query="from", ge=1)],
        to_version: Annotated[int, Parameter(query="to", ge=1)],
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
                AssemblyDocumentController,
                DocumentController,
            ],
        )
    ]
