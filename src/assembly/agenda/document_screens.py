"""Document screens: read one version with its paragraphs numbered, compare two versions word by
word or side by side, and (the secretariat) import documents and make editorial changes.

The editorial form edits the whole text at once; `keep_ids` maps the edited paragraphs back to
the stable ids of the version it was written against, so amendments keep pointing at them.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import get, post
from litestar.datastructures import UploadFile
from litestar.params import Parameter
from litestar.response import Redirect, Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import documents
from assembly.agenda.amendments import Paragraph, ParagraphDiff, ParagraphStatus, WordOp
from assembly.agenda.models import DOCUMENT_KINDS, Document, DocumentVersion
from assembly.audit import log as audit_log
from assembly.credentials import service as credentials
from assembly.credentials.auth import LOGGED_IN, SECRETARIAT, roles
from assembly.credentials.routes import ensure_assembly_access
from assembly.credentials.screens import (
    MAX_IMPORT_BYTES,
    Form,
    Req,
    Upload,
    is_htmx,
    page,
    see_other,
)
from assembly.errors import Conflict, DomainError, Invalid
from assembly.i18n import t

KIND_NAMES = {
    "policy": t("Policy"),
    "position_paper": t("Position paper"),
    "constitution": t("Constitution"),
    "bylaws": t("Bylaws"),
}
VIEWS = {"words": t("Word by word"), "side": t("Side by side")}
TEXT_FILE_ENDINGS = (".md", ".markdown", ".txt")

VersionParam = Annotated[int | None, Parameter(query="version", required=False)]
SavedParam = Annotated[int | None, Parameter(query="saved", required=False)]
FromParam = Annotated[int | None, Parameter(query="from", required=False)]
ToParam = Annotated[int | None, Parameter(query="to", required=False)]

_HEADING = re.compile(r"^(#{1,6})(?:\s+|$)(.*)$", re.DOTALL)
_NUMBERED_ID = re.compile(r"p(\d+)")
# Below this similarity an edited paragraph counts as a new one, not a rewording of an old one.
SAME_PARAGRAPH_RATIO = 0.5


# --- what the pages show of a version ----------------------------------------------------


def heading_level(text: str) -> tuple[int, str]:
    """(level, text without its markers) of a Markdown heading; (0, text) for body text."""
    match = _HEADING.match(text)
    if match is None:
        return 0, text
    return len(match[1]), match[2].strip()


@dataclass(frozen=True, slots=True)
class ShownParagraph:
    """One paragraph as the reading page shows it: its number, and a heading's HTML level."""

    number: int
    id: str
    text: str
    tag: int = 0  # 2..6 for a heading (h1 is the document's title), 0 for body text


def shown_paragraphs(paragraphs: Sequence[Paragraph]) -> list[ShownParagraph]:
    """Numbered 1..n; the document's biggest heading becomes h2, the next h3, and so on."""
    levels = [heading_level(p.text) for p in paragraphs]
    top = min((level for level, _ in levels if level), default=1)
    return [
        ShownParagraph(n, p.id, text, min(6, level - top + 2) if level else 0)
        for n, (p, (level, text)) in enumerate(zip(paragraphs, levels, strict=True), start=1)
    ]


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One paragraph of a comparison, with its number in each version (None where absent)."""

    diff: ParagraphDiff
    old_number: int | None
    new_number: int | None

    @property
    def status(self) -> str:
        return self.diff.status.value

    @property
    def heading(self) -> bool:
        return bool(heading_level(self.diff.new_text or self.diff.old_text or "")[0])

    @property
    def runs(self) -> list[tuple[WordOp, str]]:
        """Word runs for the one-column view: a whole added or removed paragraph is one run."""
        status, diff = self.diff.status, self.diff
        if status is ParagraphStatus.changed:
            return list(diff.words)
        if status is ParagraphStatus.added:
            return [("insert", diff.new_text or "")]
        if status is ParagraphStatus.removed:
            return [("delete", diff.old_text or "")]
        return [("equal", diff.new_text or "")]

    @property
    def old_runs(self) -> list[tuple[WordOp, str]]:
        """The old version's side: what stayed and what went."""
        return [run for run in self.runs if run[0] != "insert"]

    @property
    def new_runs(self) -> list[tuple[WordOp, str]]:
        """The new version's side: what stayed and what came."""
        return [run for run in self.runs if run[0] != "delete"]


def diff_rows(
    diff: Sequence[ParagraphDiff], old: Sequence[Paragraph], new: Sequence[Paragraph]
) -> list[DiffRow]:
    old_numbers = {p.id: n for n, p in enumerate(old, start=1)}
    new_numbers = {p.id: n for n, p in enumerate(new, start=1)}
    return [DiffRow(d, old_numbers.get(d.id), new_numbers.get(d.id)) for d in diff]


# --- editorial changes: the edited text back to paragraphs with stable ids --------------------


def fresh_ids(used: Iterable[str]) -> Iterator[str]:
    """p<N> ids above every numbered id the document ever used: an id is never given twice,
    so a comparison with an old version never mistakes a new paragraph for a removed one."""
    highest = max((int(m[1]) for i in used if (m := _NUMBERED_ID.fullmatch(i))), default=0)
    while True:
        highest += 1
        yield f"p{highest}"


def _similarity(a: str, b: str, floor: float) -> float:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() <= floor or matcher.quick_ratio() <= floor:
        return 0.0
    return matcher.ratio()


def keep_ids(
    old: Sequence[Paragraph], texts: Sequence[str], used: Iterable[str]
) -> tuple[Paragraph, ...]:
    """The edited `texts` as paragraphs: one equal to or replacing exactly one old paragraph at
    the same place keeps its id; where a run of paragraphs was rewritten into a different
    number of them, each new one keeps the id of the most similar old one of that run (in
    order, and only if they are alike); every other paragraph gets a fresh id."""
    texts = [t.strip() for t in texts]
    ids: list[str | None] = [None] * len(texts)
    matcher = difflib.SequenceMatcher(None, [p.text for p in old], texts, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                ids[j] = old[i].id
        elif tag == "replace":
            start = i1
            for j in range(j1, j2):
                best, best_ratio = None, SAME_PARAGRAPH_RATIO
                for i in range(start, i2):
                    ratio = _similarity(old[i].text, texts[j], best_ratio)
                    if ratio > best_ratio:
                        best, best_ratio = i, ratio
                if best is not None:
                    ids[j] = old[best].id
                    start = best + 1
    fresh = fresh_ids([*used, *(p.id for p in old)])
    return tuple(
        Paragraph(kept or next(fresh), text) for kept, text in zip(ids, texts, strict=True)
    )


def as_text(paragraphs: Iterable[Paragraph]) -> str:
    """A version as the editorial form shows it: paragraphs separated by a blank line."""
    return "\n\n".join(p.text for p in paragraphs)


# --- loading ------------------------------------------------------------------------------


async def versions_of(db: AsyncSession, document_id: int) -> list[DocumentVersion]:
    """Every version of the document, newest first."""
    query = (
        select(DocumentVersion)
        .where(DocumentVersion.document_id == document_id)
        .order_by(DocumentVersion.number.desc())
    )
    return list((await db.execute(query)).scalars())


async def readable_document(db: AsyncSession, request: Req, document_id: int) -> Document:
    """The document, if the person asking may read it (members: their own assembly only)."""
    document = await documents.get_document(db, document_id)
    ensure_assembly_access(request.user, document.assembly_id)
    return document


async def document_context(
    db: AsyncSession, document: Document, number: int | None, **extra: Any
) -> dict[str, Any]:
    if number is None:
        number = document.current_version
    version = await documents.get_version(db, document.id, number)
    paragraphs = documents.paragraphs_of(version)
    return {
        "assembly": await credentials.get_assembly(db, document.assembly_id),
        "document": document,
        "version": version,
        "paragraphs": shown_paragraphs(paragraphs),
        "versions": await versions_of(db, document.id),
        "kind_names": KIND_NAMES,
        "saved": None,
        "editorial_text": as_text(paragraphs),
        "editorial_reason": "",
        "editorial_error": "",
        **extra,
    }


# --- reading and comparing ----------------------------------------------------------------


@get("/documents/{document_id:int}", opt=roles(LOGGED_IN))
async def document_page(
    db: AsyncSession, request: Req, document_id: int, version: VersionParam, saved: SavedParam
) -> Template:
    """One version of a document (the current one unless ?version=N), paragraphs numbered."""
    document = await readable_document(db, request, document_id)
    context = await document_context(db, document, version)
    context["saved"] = saved if saved == context["version"].number else None
    return page(request, "documents/document.html", **context)


@get("/documents/{document_id:int}/diff", opt=roles(LOGGED_IN))
async def document_diff_page(
    db: AsyncSession,
    request: Req,
    document_id: int,
    from_version: FromParam,
    to_version: ToParam,
    view: str = "words",
) -> Template:
    """What changed between two versions (?from=N&to=M, by default the current version and the
    one before it): word by word, or side by side (?view=side)."""
    document = await readable_document(db, request, document_id)
    if view not in VIEWS:
        raise Invalid(
            t("view must be one of {views}, not {view!r}.", views=", ".join(VIEWS), view=view)
        )
    new_number = document.current_version if to_version is None else to_version
    old_number = max(1, new_number - 1) if from_version is None else from_version
    old = await documents.get_version(db, document.id, old_number)
    new = await documents.get_version(db, document.id, new_number)
    diff = await documents.diff_versions(db, document, old_number, new_number)
    old_paragraphs, new_paragraphs = documents.paragraphs_of(old), documents.paragraphs_of(new)
    counts = Counter(d.status.value for d in diff)
    return page(
        request,
        "documents/diff.html",
        assembly=await credentials.get_assembly(db, document.assembly_id),
        document=document,
        old=old,
        new=new,
        rows=diff_rows(diff, old_paragraphs, new_paragraphs),
        counts=counts,
        view=view,
        views=VIEWS,
        versions=await versions_of(db, document.id),
        kind_names=KIND_NAMES,
    )


# --- secretariat: import and editorial changes ---------------------------------------------


def blank_import() -> dict[str, str]:
    return {"title": "", "kind": "policy", "text": ""}


async def list_context(db: AsyncSession, assembly_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "assembly": await credentials.get_assembly(db, assembly_id),
        "documents": await documents.documents_of(db, assembly_id),
        "kinds": DOCUMENT_KINDS,
        "kind_names": KIND_NAMES,
        "form": blank_import(),
        "notice": "",
        "error": "",
        **extra,
    }


async def uploaded_text(data: dict[str, Any]) -> str:
    """The text of the uploaded .md or .txt file when one was chosen, else of the text box."""
    upload = data.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        if not upload.filename.lower().endswith(TEXT_FILE_ENDINGS):
            raise Invalid(
                t(
                    "{filename} is not a text file: choose a .md or .txt file, or paste the "
                    "text instead.",
                    filename=upload.filename,
                )
            )
        raw = await upload.read()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid(
                t(
                    "{filename} is not UTF-8 text: save it as UTF-8 and try again.",
                    filename=upload.filename,
                )
            ) from None
    text = data.get("text")
    return text if isinstance(text, str) else ""


@get("/secretariat/assemblies/{assembly_id:int}/documents", opt=roles(SECRETARIAT))
async def secretariat_documents(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The assembly's documents, and a form to import a new one."""
    return page(request, "documents/secretariat.html", **await list_context(db, assembly_id))


@post(
    "/secretariat/assemblies/{assembly_id:int}/documents",
    opt=roles(SECRETARIAT),
    status_code=200,
    request_max_body_size=MAX_IMPORT_BYTES,
)
async def secretariat_import_document(
    db: AsyncSession, request: Req, assembly_id: int, data: Upload
) -> Template | Redirect:
    """Import a Markdown or plain text (pasted or a file) as version 1 of a new document."""
    assembly = await credentials.get_assembly(db, assembly_id)
    form = {
        "title": str(data.get("title") or ""),
        "kind": str(data.get("kind") or ""),
        "text": str(data.get("text") or ""),
    }
    notice, error, status = "", "", 200
    try:
        document, version = await documents.create_document(
            db, assembly, request.user.actor, form["title"], form["kind"], await uploaded_text(data)
        )
    except DomainError as exc:
        await db.rollback()
        error, status = exc.message, exc.status
    else:
        title, count = document.title, len(version.paragraphs)
        await db.commit()
        if not is_htmx(request):
            return see_other(f"/secretariat/assemblies/{assembly_id}/documents")
        notice = t(
            "Imported “{title}” as version 1 ({count} paragraphs).", title=title, count=count
        )
        form = blank_import()
    context = await list_context(db, assembly_id, notice=notice, error=error, form=form)
    template = "documents/_list.html" if is_htmx(request) else "documents/secretariat.html"
    return page(request, template, status=status, **context)


@post("/secretariat/documents/{document_id:int}/editorial", opt=roles(SECRETARIAT), status_code=200)
async def secretariat_editorial_change(
    db: AsyncSession, request: Req, document_id: int, data: Form
) -> Template | Redirect:
    """An editorial change: the edited text becomes the next version; paragraphs that stayed
    keep their ids, new ones get new ids, and the reason is recorded."""
    document = await documents.get_document(db, document_id)
    text, reason = data.get("text", ""), data.get("reason", "")
    try:
        base = (data.get("base_version") or "").strip()
        if base and base != str(document.current_version):
            raise Conflict(
                t(
                    "Version {current_version} was saved after you opened this form: copy "
                    "your text, reload the page and make your change again.",
                    current_version=document.current_version,
                )
            )
        current = documents.paragraphs_of(await documents.current_version(db, document))
        used = [p["id"] for v in await versions_of(db, document.id) for p in v.paragraphs]
        edited = keep_ids(current, [p.text for p in documents.parse_text(text)], used)
        version = await documents.editorial_change(db, document, request.user.actor, reason, edited)
        ctx = request.app.state.ctx
        await audit_log.sign_checkpoint(
            db, ctx.audit_key, ctx.settings.public_url, document.assembly_id
        )
    except DomainError as exc:
        await db.rollback()
        document = await documents.get_document(db, document_id)
        context = await document_context(
            db,
            document,
            None,
            editorial_text=text,
            editorial_reason=reason,
            editorial_error=exc.message,
        )
        return page(request, "documents/document.html", status=exc.status, **context)
    number = version.number
    await db.commit()
    return see_other(f"/documents/{document_id}", saved=number)


def handlers() -> list[Any]:
    return [
        document_page,
        document_diff_page,
        secretariat_documents,
        secretariat_import_document,
        secretariat_editorial_change,
    ]
