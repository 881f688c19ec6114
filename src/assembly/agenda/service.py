"""The agenda's logic: items in order, and which one the plenary is on."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.models import ITEM_KINDS, AgendaItem
from assembly.credentials.models import Assembly
from assembly.errors import Invalid, NotFound


async def items_of(db: AsyncSession, assembly_id: int) -> list[AgendaItem]:
    query = (
        select(AgendaItem)
        .where(AgendaItem.assembly_id == assembly_id)
        .order_by(AgendaItem.position, AgendaItem.id)
    )
    return list((await db.execute(query)).scalars())


async def current_item(db: AsyncSession, assembly_id: int) -> AgendaItem | None:
    query = select(AgendaItem).where(
        AgendaItem.assembly_id == assembly_id, AgendaItem.is_current.is_(True)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def get_item(db: AsyncSession, item_id: int) -> AgendaItem:
    item = await db.get(AgendaItem, item_id)
    if item is None:
        raise NotFound(f"There is no agenda item {item_id}.")
    return item


async def add_item(
    db: AsyncSession, assembly: Assembly, actor: str, title: str, kind: str = "other"
) -> AgendaItem:
    """Append an item to the end of the agenda."""
    title = title.strip()
    if not title:
        raise Invalid("An agenda item needs a title.")
    if len(title) > 300:
        raise Invalid("An agenda item's title is at most 300 characters.")
    if kind not in ITEM_KINDS:
        raise Invalid(f"kind must be one of {', '.join(ITEM_KINDS)}, not {kind!r}.")
    last = await db.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.assembly_id == assembly.id)
    )
    item = AgendaItem(
        assembly_id=assembly.id,
        position=(last or 0) + 1,
        title=title,
        kind=kind,
        is_current=False,
        created_by=actor,
    )
    db.add(item)
    await db.flush()
    return item


async def make_current(db: AsyncSession, item: AgendaItem) -> None:
    """The chair moves the plenary to this item; the previous one stops being current."""
    await db.execute(
        update(AgendaItem)
        .where(AgendaItem.assembly_id == item.assembly_id, AgendaItem.id != item.id)
        .values(is_current=False)
    )
    await db.flush()
    item.is_current = True
    await db.flush()
