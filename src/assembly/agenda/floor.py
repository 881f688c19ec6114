"""The speakers' list of each agenda item, stored: requests from phones and from the chair,
the speaker at the microphone and the time each NMO spoke. What is allowed and who comes
next is decided by the plain rules in `speakers`; this module keeps their state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import service as agenda
from assembly.agenda.models import AgendaItem, FloorRequest
from assembly.agenda.speakers import Floor, Kind, Request, Side, Turn, check_request, queue
from assembly.agenda.speakers import reorder as reorder_rule
from assembly.agenda.speakers import speaking_totals as totals_rule
from assembly.credentials import service as credentials
from assembly.credentials.models import Delegate
from assembly.db import utcnow
from assembly.errors import Conflict, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.voting.models import Vote

MIN_SPEAKING_TIME_S = 10
MAX_SPEAKING_TIME_S = 3600
WAITING = "waiting"
SPEAKING = "speaking"


@dataclass(frozen=True)
class FloorState:
    """One item's list as every screen shows it."""

    item: AgendaItem
    floor: Floor
    waiting: list[FloorRequest]  # in the order they will get the floor
    speaking: FloorRequest | None
    totals: dict[int, int]  # NMO id -> seconds spoken on this item
    now: dt.datetime
    delegates: frozenset[int] = frozenset()  # every delegate who asked on this item

    def turn(self) -> Turn | None:
        return _turn(self.speaking) if self.speaking is not None else None

    def remaining_s(self) -> int | None:
        turn = self.turn()
        return turn.remaining_s(self.now) if turn is not None else None

    @property
    def points_of_order(self) -> list[FloorRequest]:
        return [r for r in self.waiting if r.kind == Kind.POINT_OF_ORDER]


def _rule_request(row: FloorRequest) -> Request:
    return Request(
        id=row.id,
        nmo_id=row.nmo_id,
        delegate_id=row.delegate_id or 0,
        kind=Kind(row.kind),
        side=Side(row.side),
        position=row.position,
    )


def _turn(row: FloorRequest) -> Turn:
    assert row.started_at is not None and row.allotted_s is not None
    return Turn(
        nmo_id=row.nmo_id,
        started_at=row.started_at,
        allotted_s=row.allotted_s,
        extended_s=row.extended_s,
        stopped_at=row.stopped_at,
    )


async def _rows(db: AsyncSession, item_id: int) -> list[FloorRequest]:
    query = select(FloorRequest).where(FloorRequest.item_id == item_id).order_by(FloorRequest.id)
    return list((await db.execute(query)).scalars())


async def _vote_open(db: AsyncSession, assembly_id: int) -> bool:
    query = select(func.count()).where(Vote.assembly_id == assembly_id, Vote.state == "open")
    return bool((await db.execute(query)).scalar_one())


def _floor(item: AgendaItem, rows: list[FloorRequest], vote_open: bool) -> Floor:
    spoken = [r for r in rows if r.started_at is not None and r.kind == Kind.SPEECH]
    sided = [r for r in spoken if r.side != Side.NEUTRAL]
    last = max(sided, key=lambda r: (r.started_at, r.id)).side if sided else None
    return Floor(
        closed=item.list_closed,
        sides=item.sides,
        vote_open=vote_open,
        last_side=Side(last) if last is not None else None,
    )


async def floor_of(db: AsyncSession, item: AgendaItem) -> FloorState:
    rows = await _rows(db, item.id)
    floor = _floor(item, rows, await _vote_open(db, item.assembly_id))
    by_id = {r.id: r for r in rows}
    waiting = [r for r in rows if r.state == WAITING]
    order = [by_id[r.id] for r in queue(floor, [_rule_request(r) for r in waiting])]
    now = utcnow()
    turns = [_turn(r) for r in rows if r.started_at is not None]
    return FloorState(
        item=item,
        floor=floor,
        waiting=order,
        speaking=next((r for r in rows if r.state == SPEAKING), None),
        totals=totals_rule(turns, now),
        now=now,
        delegates=frozenset(r.delegate_id for r in rows if r.delegate_id is not None),
    )


async def current_floor(db: AsyncSession, assembly_id: int) -> FloorState | None:
    item = await agenda.current_item(db, assembly_id)
    return await floor_of(db, item) if item is not None else None


async def _store(db: AsyncSession, row: FloorRequest) -> FloorRequest:
    db.add(row)
    try:
        await db.flush()
    except IntegrityError:
        # Two phones of one delegate tapped at once: the unique index kept the first.
        raise Conflict(t("You are already waiting for the floor.")) from None
    return row


async def _next_position(db: AsyncSession, item_id: int) -> int:
    query = select(func.max(FloorRequest.position)).where(FloorRequest.item_id == item_id)
    return int((await db.execute(query)).scalar_one() or 0) + 1


async def request_floor(
    db: AsyncSession, delegate: Delegate, item: AgendaItem, kind: Kind, side: Side, actor: str
) -> FloorRequest:
    """A delegate asks for the floor from the phone on the item the plenary is on."""
    if not item.is_current:
        raise Conflict(t("The plenary is not on this agenda item: ask on the current one."))
    if not delegate.checked_in:
        raise Conflict(
            t("Check in at the desk first: only delegates present may ask for the floor.")
        )
    state = await floor_of(db, item)
    stored_side = check_request(
        state.floor, [_rule_request(r) for r in state.waiting], delegate.id, kind, side
    )
    row = FloorRequest(
        assembly_id=item.assembly_id,
        item_id=item.id,
        nmo_id=delegate.nmo_id,
        delegate_id=delegate.id,
        kind=kind.value,
        side=stored_side.value,
        position=await _next_position(db, item.id),
        requested_by=actor,
    )
    return await _store(db, row)


async def add_speaker(
    db: AsyncSession, item: AgendaItem, nmo_id: int, kind: Kind, side: Side, actor: str
) -> FloorRequest:
    """The chair puts an NMO on the list (a hand raised in the room); a closed list is the
    chair's own decision, so the chair may still add to it."""
    nmo = await credentials.get_nmo(db, nmo_id)
    if nmo.assembly_id != item.assembly_id:
        raise Invalid(t("NMO {nmo_id} is not a member of this assembly.", nmo_id=nmo_id))
    if kind is not Kind.SPEECH and side is not Side.NEUTRAL:
        raise Invalid(t("A point of order or information takes no side."))
    row = FloorRequest(
        assembly_id=item.assembly_id,
        item_id=item.id,
        nmo_id=nmo.id,
        delegate_id=None,
        kind=kind.value,
        side=side.value if item.sides else Side.NEUTRAL.value,
        position=await _next_position(db, item.id),
        requested_by=actor,
    )
    row = await _store(db, row)
    agenda.record_floor(db, item, "speaker_added", actor, request_id=row.id, nmo_id=nmo.id)
    return row


async def get_request(db: AsyncSession, request_id: int) -> FloorRequest:
    row = await db.get(FloorRequest, request_id)
    if row is None:
        raise NotFound(t("There is no request for the floor {request_id}.", request_id=request_id))
    return row


def _waiting(row: FloorRequest) -> None:
    if row.state != WAITING:
        raise Conflict(t("This request is no longer waiting (it is {state}).", state=row.state))


async def withdraw(db: AsyncSession, row: FloorRequest, delegate_id: int) -> None:
    if row.delegate_id != delegate_id:
        raise Forbidden(t("You can only withdraw your own request for the floor."))
    _waiting(row)
    row.state = "withdrawn"


async def remove(db: AsyncSession, item: AgendaItem, row: FloorRequest, actor: str) -> None:
    _waiting(row)
    row.state = "removed"
    agenda.record_floor(db, item, "speaker_removed", actor, request_id=row.id, nmo_id=row.nmo_id)


async def move(
    db: AsyncSession, item: AgendaItem, row: FloorRequest, index: int, actor: str
) -> None:
    """Put a waiting speech at place `index` (0 first) among the speeches."""
    _waiting(row)
    rows = [r for r in await _rows(db, item.id) if r.state == WAITING]
    moved = reorder_rule([_rule_request(r) for r in rows], row.id, index)
    positions = {r.id: r.position for r in moved}
    for r in rows:
        if r.id in positions:
            r.position = positions[r.id]
    agenda.record_floor(db, item, "speaker_moved", actor, request_id=row.id, index=index)


async def _stop_current(db: AsyncSession, item: AgendaItem, now: dt.datetime) -> None:
    query = select(FloorRequest).where(
        FloorRequest.item_id == item.id, FloorRequest.state == SPEAKING
    )
    for row in (await db.execute(query)).scalars():
        row.state = "done"
        row.stopped_at = now
    await db.flush()


async def start(
    db: AsyncSession, item: AgendaItem, request_id: int | None, actor: str
) -> FloorRequest:
    """Give the floor: to the request named, or to whoever is next. The speaker at the
    microphone, if any, finishes first."""
    state = await floor_of(db, item)
    if request_id is None:
        if not state.waiting:
            raise Conflict(t("Nobody is waiting for the floor."))
        row = state.waiting[0]
    else:
        row = await get_request(db, request_id)
        if row.item_id != item.id:
            raise Invalid(
                t("Request {request_id} is for another agenda item.", request_id=request_id)
            )
        _waiting(row)
    now = utcnow()
    await _stop_current(db, item, now)
    row.state = SPEAKING
    row.started_at = now
    row.allotted_s = item.speaking_time_s
    await db.flush()
    return row


async def stop(db: AsyncSession, item: AgendaItem) -> None:
    state = await floor_of(db, item)
    if state.speaking is None:
        raise Conflict(t("Nobody has the floor."))
    await _stop_current(db, item, utcnow())


async def extend(db: AsyncSession, item: AgendaItem, seconds: int, actor: str) -> FloorRequest:
    state = await floor_of(db, item)
    if state.speaking is None:
        raise Conflict(t("Nobody has the floor to extend."))
    turn = _turn(state.speaking).extend(seconds)
    state.speaking.extended_s = turn.extended_s
    agenda.record_floor(db, item, "time_extended", actor, request_id=state.speaking.id, by=seconds)
    return state.speaking


async def set_list(
    db: AsyncSession,
    item: AgendaItem,
    actor: str,
    *,
    closed: bool | None = None,
    sides: bool | None = None,
    speaking_time_s: int | None = None,
) -> None:
    """The chair closes or reopens the list, asks for sides, or sets the time per speaker."""
    if speaking_time_s is not None and not (
        MIN_SPEAKING_TIME_S <= speaking_time_s <= MAX_SPEAKING_TIME_S
    ):
        raise Invalid(
            t(
                "Speaking time is between {min_speaking_time_s} and {max_speaking_time_s} seconds.",
                min_speaking_time_s=MIN_SPEAKING_TIME_S,
                max_speaking_time_s=MAX_SPEAKING_TIME_S,
            )
        )
    changes: dict[str, object] = {}
    if closed is not None and closed != item.list_closed:
        item.list_closed = closed
        changes["closed"] = closed
    if sides is not None and sides != item.sides:
        item.sides = sides
        changes["sides"] = sides
    if speaking_time_s is not None and speaking_time_s != item.speaking_time_s:
        item.speaking_time_s = speaking_time_s
        changes["speaking_time_s"] = speaking_time_s
    if changes:
        agenda.record_floor(db, item, "list_changed", actor, **changes)
