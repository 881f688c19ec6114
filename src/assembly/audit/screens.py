"""The audit log as people see it: the checkpoint each result was signed into (its short root,
and on the projector a QR code of the whole signed note, so the room keeps a copy the operator
cannot take back), and the public page of an assembly's log with the checkpoint to save."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

import segno
from litestar import MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.response import Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.audit import log, notes, witness
from assembly.audit.models import AuditCheckpoint
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, Principal, roles
from assembly.credentials.models import Assembly
from assembly.errors import NotFound
from assembly.i18n import t

Req = Request[Principal, Any, Any]

QR_ERROR = "m"
"""Error correction M: a signed checkpoint (200 to 400 bytes) stays a QR code of version 10 to
15, whose modules a phone resolves on a projector across the room."""


@functools.lru_cache(maxsize=256)
def checkpoint_qr(note: str) -> Markup:
    """An inline SVG QR code of a signed checkpoint note. Checkpoints never change, so each is
    drawn once. The SVG is segno's drawing (paths only, no text of the note): the one piece of
    markup the templates take as is."""
    qr = segno.make_qr(note, error=QR_ERROR)
    # omitsize: a viewBox only, so CSS sizes it; a white ground with the quiet zone around it
    # keeps it readable on any background.
    svg = qr.svg_inline(scale=1, dark="#000", light="#fff", svgclass="qr-code", omitsize=True)
    return Markup(svg)


@dataclass(frozen=True, slots=True)
class ShownCheckpoint:
    """A signed checkpoint as the screens show it."""

    size: int
    short_root: str
    note: str
    """The C2SP signed note, exactly as stored and signed: what the QR code carries."""
    created_at: dt.datetime

    @property
    def qr(self) -> Markup:
        return checkpoint_qr(self.note)


def shown(checkpoint: AuditCheckpoint) -> ShownCheckpoint:
    return ShownCheckpoint(
        size=checkpoint.size,
        short_root=notes.short_root(checkpoint.root),
        note=checkpoint.note,
        created_at=checkpoint.created_at,
    )


async def vote_checkpoint(
    db: AsyncSession, assembly_id: int, vote_id: int
) -> ShownCheckpoint | None:
    """The checkpoint signed when the vote closed (None before, or for a vote closed before the
    log existed)."""
    checkpoint = await log.result_checkpoint(db, assembly_id, vote_id)
    return None if checkpoint is None else shown(checkpoint)


def log_path(assembly_id: int) -> str:
    return f"/assemblies/{assembly_id}/log"


@dataclass(frozen=True, slots=True)
class WitnessRow:
    """A registered witness with the sizes of the checkpoints it cosigned."""

    name: str
    nmo: str | None
    verifier_key: str
    cosigned: list[int]


async def known_assembly(db: AsyncSession, assembly_id: int) -> Assembly:
    try:
        return await credentials.get_assembly(db, assembly_id)
    except NotFound:
        raise NotFound(
            t(
                "There is no assembly {assembly_id}, so there is no audit log to show: "
                "check the address (the start page lists the assemblies).",
                assembly_id=assembly_id,
            )
        ) from None


@get("/assemblies/{assembly_id:int}/log", opt=roles(ALL_ROLES))
async def public_log(db: AsyncSession, request: Req, state: State, assembly_id: int) -> Template:
    """The assembly's audit log for anyone, without logging in: the key that verifies it, the
    signed checkpoints, the witnesses that cosigned them, and how to check the log."""
    assembly = await known_assembly(db, assembly_id)
    signed = await log.checkpoints(db, assembly_id)
    cosigned_by: dict[int, list[str]] = {}
    sizes_of: dict[int, list[int]] = {}
    for cosignature, by in await witness.cosignatures(db, assembly_id):
        cosigned_by.setdefault(cosignature.size, []).append(by.name)
        sizes_of.setdefault(by.id, []).append(cosignature.size)
    witnesses = [
        WitnessRow(w.name, code, w.verifier_key, sizes_of.get(w.id, []))
        for w, code in await witness.listed(db, assembly_id)
    ]
    latest = shown(signed[-1]) if signed else None
    stored_key = await log.verifier_key(db, assembly_id)
    return Template(
        "public/log.html",
        context={
            "principal": request.user,
            "assembly": assembly,
            "origin": log.origin_of(state.ctx.settings.public_url, assembly_id),
            "verifier_key": stored_key or state.ctx.audit_key.verifier_key,
            "latest": latest,
            "checkpoints": [shown(c) for c in reversed(signed)],
            "cosigned_by": cosigned_by,
            "witnesses": witnesses,
            "download": checkpoint_filename(assembly_id, latest.size) if latest else "",
        },
    )


def checkpoint_filename(assembly_id: int, size: int) -> str:
    return f"assembly-{assembly_id}-checkpoint-{size}.txt"


@get(
    "/assemblies/{assembly_id:int}/log/checkpoint.txt",
    opt=roles(ALL_ROLES),
    media_type=MediaType.TEXT,
)
async def checkpoint_text(db: AsyncSession, assembly_id: int) -> Response[str]:
    """The latest signed checkpoint as plain text: the file a member saves and later gives to
    `assembly audit verify --checkpoint`, to prove the log was not cut or rewritten since."""
    await known_assembly(db, assembly_id)
    latest = await log.latest_checkpoint(db, assembly_id)
    if latest is None:
        raise NotFound(t("No checkpoint yet: the first one is signed when the first vote closes."))
    filename = checkpoint_filename(assembly_id, latest.size)
    return Response(
        latest.note,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def handlers() -> list[Any]:
    return [public_log, checkpoint_text]
