"""Agenda screens: the chair adds items and moves the plenary on; every screen shows the
current item (fetched on load and after reconnects, pushed when the chair moves on)."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.datastructures import State
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import service
from assembly.agenda.models import ITEM_KINDS
from assembly.credentials import service as credentials
from assembly.credentials.auth import ALL_ROLES, CHAIR, MEMBERS, roles
from assembly.credentials.screens import Form, Req, page
from assembly.errors import Forbidden
from assembly.live.broadcast import announce_agenda


async def agenda_context(db: AsyncSession, assembly_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "assembly": await credentials.get_assembly(db, assembly_id),
        "items": await service.items_of(db, assembly_id),
        "kinds": ITEM_KINDS,
        "notice": "",
        "error": "",
        **extra,
    }


@get("/chair/assemblies/{assembly_id:int}/agenda", opt=roles(CHAIR))
async def chair_agenda(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The chair's agenda: the items in order, the current one marked, and a form to add."""
    return page(request, "chair/_agenda.html", **await agenda_context(db, assembly_id))


@post("/chair/assemblies/{assembly_id:int}/agenda", opt=roles(CHAIR), status_code=200)
async def chair_add_item(
    db: AsyncSession, request: Req, assembly_id: int, data: Form
) -> Template | Redirect:
    """Add an item at the end of the agenda."""
    assembly = await credentials.get_assembly(db, assembly_id)
    item = await service.add_item(
        db, assembly, request.user.actor, data.get("title", ""), data.get("kind") or "other"
    )
    await db.commit()
    if not request.headers.get("hx-request"):
        return Redirect(f"/chair?assembly={assembly_id}", status_code=303)
    context = await agenda_context(db, assembly_id, notice=f"Added: {item.title}")
    return page(request, "chair/_agenda.html", **context)


@post("/chair/agenda-items/{item_id:int}/current", opt=roles(CHAIR), status_code=200)
async def chair_make_current(
    db: AsyncSession, request: Req, state: State, item_id: int
) -> Template | Redirect:
    """Move the plenary to this item; the phones and the projector follow."""
    item = await service.get_item(db, item_id)
    await service.make_current(db, item)
    assembly_id, title = item.assembly_id, item.title
    await db.commit()
    await announce_agenda(state.ctx, assembly_id)
    if not request.headers.get("hx-request"):
        return Redirect(f"/chair?assembly={assembly_id}", status_code=303)
    context = await agenda_context(db, assembly_id, notice=f"Now: {title}")
    return page(request, "chair/_agenda.html", **context)


@get("/agenda/{assembly_id:int}/current", opt=roles(ALL_ROLES))
async def current_item(db: AsyncSession, request: Req, assembly_id: int) -> Template:
    """The current item as an out-of-band fragment: what every screen fetches to catch up."""
    principal = request.user
    if principal.role in MEMBERS and principal.assembly_id != assembly_id:
        raise Forbidden("You can only see the assembly your delegation is registered for.")
    await credentials.get_assembly(db, assembly_id)
    item = await service.current_item(db, assembly_id)
    return page(request, "fragments/current_item.html", item=item, oob=True)


def handlers() -> list[Any]:
    return [chair_agenda, chair_add_item, chair_make_current, current_item]
