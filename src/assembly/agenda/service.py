"""The agenda's logic: plenary sessions, items in order, which one the plenary is on, the
agenda's adoption by a vote and every later change to it, recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.models import ITEM_KINDS, AgendaEvent, AgendaItem, Document, PlenarySession
from assembly.credentials.models import Assembly
from assembly.db import utcnow
from assembly.errors import Conflict, Invalid, NotFound
from assembly.i18n import t
from assembly.voting import service as voting
from assembly.voting.models import Vote


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
        raise NotFound(t("There is no agenda item {item_id}.", item_id=item_id))
    return item


def record(
    db: AsyncSession, assembly: Assembly, kind: str, actor: str, **detail: Any
) -> AgendaEvent:
    """Note a change of the agenda; once the agenda is adopted, every change is one the
    plenary may ask about, so each says whether it came after the adoption."""
    event = AgendaEvent(
        assembly_id=assembly.id,
        kind=kind,
        actor=actor,
        detail={**detail, "after_adoption": assembly.agenda_adopted_at is not None},
    )
    db.add(event)
    return event


FLOOR_EVENT = "floor_"  # the chair's decisions on a speakers' list, kept beside the agenda's


def record_floor(db: AsyncSession, item: AgendaItem, kind: str, actor: str, **detail: Any) -> None:
    """Note what the chair did to an item's speakers' list (added, removed or moved a speaker,
    extended a speaker's time, closed the list), so it can be asked about afterwards."""
    db.add(
        AgendaEvent(
            assembly_id=item.assembly_id,
            kind=FLOOR_EVENT + kind,
            actor=actor,
            detail={"item_id": item.id, **detail},
        )
    )


async def events_of(
    db: AsyncSession, assembly_id: int, *, floor: bool = False
) -> list[AgendaEvent]:
    """The agenda's changes in order, or with `floor` the speakers' lists' instead."""
    is_floor = AgendaEvent.kind.startswith(FLOOR_EVENT, autoescape=True)
    query = (
        select(AgendaEvent)
        .where(AgendaEvent.assembly_id == assembly_id, is_floor if floor else ~is_floor)
        .order_by(AgendaEvent.id)
    )
    return list((await db.execute(query)).scalars())


async def sessions_of(db: AsyncSession, assembly_id: int) -> list[PlenarySession]:
    query = (
        select(PlenarySession)
        .where(PlenarySession.assembly_id == assembly_id)
        .order_by(PlenarySession.starts_at, PlenarySession.id)
    )
    return list((await db.execute(query)).scalars())


async def add_session(
    db: AsyncSession,
    assembly: Assembly,
    actor: str,
    name: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
) -> PlenarySession:
    """A plenary session with its planned times (UTC)."""
    name = name.strip()
    if not name:
        raise Invalid(t("A plenary session needs a name (for example “Plenary I”)."))
    if len(name) > 200:
        raise Invalid(t("A session's name is at most 200 characters."))
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid(t("Give the session's times with a time zone (for example 09:00Z)."))
    if ends_at <= starts_at:
        raise Invalid(t("A plenary session must end after it starts."))
    session = PlenarySession(
        assembly_id=assembly.id, name=name, starts_at=starts_at, ends_at=ends_at, created_by=actor
    )
    db.add(session)
    await db.flush()
    record(db, assembly, "session_added", actor, session_id=session.id, name=name)
    await db.flush()
    return session


async def _check_links(
    db: AsyncSession, assembly: Assembly, session_id: int | None, document_id: int | None
) -> None:
    if session_id is not None:
        session = await db.get(PlenarySession, session_id)
        if session is None or session.assembly_id != assembly.id:
            raise Invalid(
                t(
                    "There is no plenary session {session_id} in this assembly.",
                    session_id=session_id,
                )
            )
    if document_id is not None:
        document = await db.get(Document, document_id)
        if document is None or document.assembly_id != assembly.id:
            raise Invalid(
                t("There is no document {document_id} in this assembly.", document_id=document_id)
            )


async def add_item(
    db: AsyncSession,
    assembly: Assembly,
    actor: str,
    title: str,
    kind: str = "other",
    *,
    session_id: int | None = None,
    document_id: int | None = None,
) -> AgendaItem:
    """Append an item to the end of the agenda (recorded)."""
    title = title.strip()
    if not title:
        raise Invalid(t("An agenda item needs a title."))
    if len(title) > 300:
        raise Invalid(t("An agenda item's title is at most 300 characters."))
    if kind not in ITEM_KINDS:
        raise Invalid(
            t("kind must be one of {kinds}, not {kind!r}.", kinds=", ".join(ITEM_KINDS), kind=kind)
        )
    await _check_links(db, assembly, session_id, document_id)
    last = await db.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.assembly_id == assembly.id)
    )
    item = AgendaItem(
        assembly_id=assembly.id,
        position=(last or 0) + 1,
        title=title,
        kind=kind,
        session_id=session_id,
        document_id=document_id,
        is_current=False,
        created_by=actor,
    )
    db.add(item)
    await db.flush()
    record(db, assembly, "item_added", actor, item_id=item.id, title=title, position=item.position)
    await db.flush()
    return item


async def move_item(
    db: AsyncSession, assembly: Assembly, actor: str, item: AgendaItem, position: int
) -> list[AgendaItem]:
    """Move an item to `position` (1-based); the others close up. Recorded, with the order
    before and after, so a reordering after the adoption can be shown to the plenary."""
    if item.assembly_id != assembly.id:
        raise Invalid(t("Agenda item {item} is not on this assembly's agenda.", item=item.id))
    items = await items_of(db, assembly.id)
    if not 1 <= position <= len(items):
        raise Invalid(t("The position must be from 1 to {count}.", count=len(items)))
    before = [i.id for i in items]
    old = before.index(item.id) + 1
    if old == position:
        raise Invalid(
            t("“{title}” is already item {position}.", title=item.title, position=position)
        )
    items.remove(item)
    items.insert(position - 1, item)
    for n, each in enumerate(items, start=1):
        each.position = n
    record(
        db,
        assembly,
        "item_moved",
        actor,
        item_id=item.id,
        title=item.title,
        from_position=old,
        to_position=position,
        order_before=before,
        order_after=[i.id for i in items],
    )
    await db.flush()
    return items


async def link_item(
    db: AsyncSession,
    assembly: Assembly,
    actor: str,
    item: AgendaItem,
    *,
    session_id: int | None,
    document_id: int | None,
) -> None:
    """Put an item in a plenary session and/or attach the document it debates (recorded)."""
    await _check_links(db, assembly, session_id, document_id)
    item.session_id = session_id
    item.document_id = document_id
    record(
        db,
        assembly,
        "item_linked",
        actor,
        item_id=item.id,
        session_id=session_id,
        document_id=document_id,
    )
    await db.flush()


async def agenda_votes(db: AsyncSession, assembly_id: int) -> list[Vote]:
    query = (
        select(Vote)
        .where(Vote.subject_kind == "agenda", Vote.subject_id == assembly_id)
        .order_by(Vote.id)
    )
    return list((await db.execute(query)).scalars())


async def open_adoption_vote(
    db: AsyncSession, assembly: Assembly, actor: str, countdown_s: int | None = None
) -> Vote:
    """The chair puts the agenda to the vote (a procedural motion); adopted, it fixes the
    agenda, and every later change is recorded as a change to the adopted agenda."""
    if assembly.agenda_adopted_at is not None:
        raise Conflict(t("The agenda is already adopted; later changes are recorded."))
    if any(v.state in ("draft", "open") for v in await agenda_votes(db, assembly.id)):
        raise Conflict(t("The agenda is already being voted on."))
    items = await items_of(db, assembly.id)
    if not items:
        raise Conflict(t("The agenda has no items to adopt."))
    vote = await voting.create_vote(
        db,
        assembly,
        actor,
        voting.VoteSpec(
            kind="procedural",
            question="Adopt the agenda?",
            description="\n".join(f"{i.position}. {i.title}" for i in items),
        ),
    )
    vote.subject_kind, vote.subject_id = "agenda", assembly.id
    await voting.open_vote(db, vote, actor, countdown_s)
    await db.flush()
    return vote


async def agenda_decided(db: AsyncSession, vote: Vote, actor: str) -> None:
    assembly = await db.get(Assembly, vote.subject_id or 0)
    if assembly is None or not (vote.result and vote.result.get("adopted")):
        return
    assembly.agenda_adopted_at = utcnow()
    items = await items_of(db, assembly.id)
    db.add(
        AgendaEvent(
            assembly_id=assembly.id,
            kind="adopted",
            actor=actor,
            detail={"vote_id": vote.id, "order": [i.id for i in items]},
        )
    )
    await db.flush()


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
