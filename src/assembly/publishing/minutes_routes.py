"""The minutes as a PDF, for anyone and without a login: only what is published, whoever asks
(the secretariat's draft with held items is `assembly publish minutes --draft`)."""

from __future__ import annotations

import functools

import anyio.to_thread
from litestar import Response, Router, get
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.credentials.auth import ALL_ROLES, role_guard, roles
from assembly.publishing.export_routes import file_response, public_record
from assembly.publishing.minutes import minutes_pdf


def minutes_filename(assembly_id: int) -> str:
    return f"minutes-{assembly_id}.pdf"


@get(
    "/record/{assembly_id:int}/minutes.pdf",
    opt=roles(ALL_ROLES),
    include_in_schema=False,
    operation_id="getMinutes",
)
async def minutes(db: AsyncSession, state: State, assembly_id: int) -> Response[bytes]:
    """The minutes as a PDF: each published decision with its result, explanation and roll
    call or trackers, attendance, the texts adopted and the latest checkpoint."""
    record = await public_record(db, state, assembly_id)
    ctx = state.ctx
    # Laying out the PDF takes CPU for a while: off the event loop, so screens stay live.
    pdf = await anyio.to_thread.run_sync(
        functools.partial(minutes_pdf, record, ctx.jinja, link_base=ctx.settings.public_url)
    )
    return file_response(pdf, "application/pdf", minutes_filename(assembly_id), download=False)


def minutes_routes() -> list[Router]:
    return [Router(path="/", guards=[role_guard], route_handlers=[minutes])]
