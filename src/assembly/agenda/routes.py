"""JSON API of the agenda: list and add items, and move the plenary to an item."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Router, get, post
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import service
from assembly.agenda.models import AgendaItem
from assembly.credentials import service as credentials
from assembly.credentials.auth import CHAIR, LOGGED_IN, Principal, role_guard, roles
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


def agenda_api_routes() -> list[Router]:
    return [
        Router(
            path="/", guards=[role_guard], route_handlers=[AgendaController, AgendaItemController]
        )
    ]
