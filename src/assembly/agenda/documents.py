"""Documents as numbered versions of paragraphs with stable ids: import a text, make editorial
changes (each one a new version, the old ones never touched), and compare two versions."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.amendments import Paragraph, ParagraphDiff, document_diff
from assembly.agenda.models import DOCUMENT_KINDS, Document, DocumentVersion
from assembly.audit import log as audit_log
from assembly.audit import record as audit_record
from assembly.credentials.models import Assembly
from assembly.db import utcnow
from assembly.errors import Invalid, NotFound
from assembly.i18n import t

_HEADING = re.compile(r"^#{1,6}(\s|$)")


def parse_text(text: str) -> tuple[Paragraph, ...]:
    """Paragraphs of a Markdown or plain text: separated by blank lines, each heading a paragraph
    of its own (marker kept); ids p1, p2 ... in the order read."""
    blocks: list[str] = []
    current: list[str] = []

    def close() -> None:
        if current:
            blocks.append("\n".join(current))
            current.clear()

    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip():
            close()
        elif _HEADING.match(line.lstrip()):
            close()
            blocks.append(line.strip())
        else:
            current.append(line)
    close()
    if not blocks:
        raise Invalid(t("The document has no text: paste or upload at least one paragraph."))
    return tuple(Paragraph(f"p{n}", block) for n, block in enumerate(blocks, start=1))


def paragraphs_of(version: DocumentVersion) -> tuple[Paragraph, ...]:
    return tuple(Paragraph(p["id"], p["text"]) for p in version.paragraphs)


def _stored(paragraphs: Iterable[Paragraph]) -> list[dict[str, str]]:
    return [{"id": p.id, "text": p.text} for p in paragraphs]


def _checked(paragraphs: Iterable[Paragraph]) -> tuple[Paragraph, ...]:
    """Paragraphs given by a person: each needs an id and text, and no id twice."""
    out = tuple(Paragraph(p.id.strip(), p.text.strip()) for p in paragraphs)
    if not out:
        raise Invalid(t("A version needs at least one paragraph."))
    seen: set[str] = set()
    for number, paragraph in enumerate(out, start=1):
        if not paragraph.id:
            raise Invalid(t("Paragraph {number} has no id.", number=number))
        if not paragraph.text:
            raise Invalid(
                t(
                    "Paragraph {number} ({paragraph}) has no text.",
                    number=number,
                    paragraph=paragraph.id,
                )
            )
        if paragraph.id in seen:
            raise Invalid(
                t("The paragraph id {paragraph!r} is used twice.", paragraph=paragraph.id)
            )
        seen.add(paragraph.id)
    return out


def years_after(day: dt.date, years: int) -> dt.date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


async def get_document(db: AsyncSession, document_id: int) -> Document:
    document = await db.get(Document, document_id)
    if document is None:
        raise NotFound(t("There is no document {document_id}.", document_id=document_id))
    return document


async def documents_of(db: AsyncSession, assembly_id: int) -> list[Document]:
    query = select(Document).where(Document.assembly_id == assembly_id).order_by(Document.id)
    return list((await db.execute(query)).scalars())


async def get_version(db: AsyncSession, document_id: int, number: int) -> DocumentVersion:
    query = select(DocumentVersion).where(
        DocumentVersion.document_id == document_id, DocumentVersion.number == number
    )
    version = (await db.execute(query)).scalar_one_or_none()
    if version is None:
        raise NotFound(
            t(
                "Document {document_id} has no version {number}.",
                document_id=document_id,
                number=number,
            )
        )
    return version


async def current_version(db: AsyncSession, document: Document) -> DocumentVersion:
    return await get_version(db, document.id, document.current_version)


async def create_document(
    db: AsyncSession,
    assembly: Assembly,
    actor: str,
    title: str,
    kind: str,
    text: str,
    in_force: bool | None = None,
) -> tuple[Document, DocumentVersion]:
    """Import a text as version 1; a policy is valid for the assembly's policy_validity_years.

    The constitution and bylaws are imported as the text in force (amendments change them);
    a new policy or position paper is a proposal until the plenary adopts it."""
    title = title.strip()
    if not title:
        raise Invalid(t("A document needs a title."))
    if len(title) > 300:
        raise Invalid(t("A document's title is at most 300 characters."))
    if kind not in DOCUMENT_KINDS:
        raise Invalid(
            t(
                "kind must be one of {kinds}, not {kind!r}.",
                kinds=", ".join(DOCUMENT_KINDS),
                kind=kind,
            )
        )
    paragraphs = parse_text(text)
    valid_until = (
        years_after(dt.date.today(), assembly.policy_validity_years)
        if kind in ("policy", "position_paper")
        else None
    )
    document = Document(
        assembly_id=assembly.id,
        kind=kind,
        title=title,
        valid_until=valid_until,
        current_version=1,
        in_force_version=(
            1
            if (in_force if in_force is not None else kind in ("constitution", "bylaws"))
            else None
        ),
        created_by=actor,
    )
    # A text imported as in force (the Constitution, the Bylaws) is public from the start.
    document.published_at = utcnow() if document.in_force_version is not None else None
    db.add(document)
    await db.flush()
    version = DocumentVersion(
        document_id=document.id,
        number=1,
        paragraphs=_stored(paragraphs),
        reason="submitted",
        created_by=actor,
    )
    db.add(version)
    await db.flush()
    await _log_version(db, document, version, "document_imported", actor)
    return document, version


async def _log_version(
    db: AsyncSession, document: Document, version: DocumentVersion, kind: str, actor: str
) -> None:
    """A text that becomes a version without a vote (imported, changed editorially) enters the
    audit log whole, with its hash, so the text in force can be traced to its source."""
    await audit_log.append(
        db,
        document.assembly_id,
        kind,
        {
            "document": document.id,
            "kind": document.kind,
            "title": document.title,
            "version": version.number,
            "in_force": document.in_force_version == version.number,
            "reason": version.reason,
            "by": actor[:120],
            "paragraphs": version.paragraphs,
            "text_sha256": audit_record.text_hash(version.paragraphs),
        },
    )


async def editorial_change(
    db: AsyncSession,
    document: Document,
    actor: str,
    reason: str,
    paragraphs: Iterable[Paragraph],
) -> DocumentVersion:
    """A new version with the given paragraphs; the reason says why, and it must change
    something."""
    reason = reason.strip()
    if not reason:
        raise Invalid(t("An editorial change needs a reason."))
    new = _checked(paragraphs)
    current = await current_version(db, document)
    if new == paragraphs_of(current):
        raise Invalid(t("Nothing changed: the paragraphs are the same as the current version."))
    number = document.current_version + 1
    version = DocumentVersion(
        document_id=document.id,
        number=number,
        paragraphs=_stored(new),
        reason=f"editorial: {reason}",
        created_by=actor,
    )
    db.add(version)
    document.current_version = number
    await db.flush()
    await _log_version(db, document, version, "editorial_change", actor)
    return version


async def diff_versions(
    db: AsyncSession, document: Document, old: int, new: int
) -> list[ParagraphDiff]:
    """Paragraph by paragraph, word by word, what changed from version `old` to `new`."""
    before = await get_version(db, document.id, old)
    after = await get_version(db, document.id, new)
    return document_diff(paragraphs_of(before), paragraphs_of(after))
