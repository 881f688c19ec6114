"""JSON API of the speakers' lists and procedural motions: delegates ask for the floor and raise
motions from the phone; the chair adds, removes, reorders, gives and takes the floor, extends
a speaker's time, closes the list, puts a motion to the vote or rules it out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import floor, motions
from assembly.agenda import service as agenda
from assembly.agenda.floor import FloorState
from assembly.agenda.models import AgendaItem, FloorRequest, NemoContra, ProceduralMotion
from assembly.agenda.speakers import MOTION_LABELS, Kind, Motion, Side
from assembly.credentials import service as credentials
from assembly.credentials.auth import CHAIR, LOGGED_IN, Principal, Role, roles
from assembly.credentials.models import Nmo
from assembly.credentials.routes import ensure_assembly_access
from assembly.errors import MAX_NUMBER, Forbidden
from assembly.i18n import t
from assembly.live.broadcast import announce_floor, announce_vote, settle_objections_later
from assembly.voting.routes import vote_out
from assembly.voting.schemas import VoteOut

Req = Request[Principal, Any, Any]
DELEGATES = frozenset({Role.delegate})


class FloorAsk(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Kind = Kind.SPEECH
    side: Side = Side.NEUTRAL


class SpeakerAdd(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    nmo_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_NUMBER)]
    kind: Kind = Kind.SPEECH
    side: Side = Side.NEUTRAL


class SpeakerMove(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    index: Annotated[int, msgspec.Meta(ge=0, le=MAX_NUMBER)]


class FloorStart(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    request_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_NUMBER)] | None = None


class FloorExtend(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    seconds: Annotated[int, msgspec.Meta(ge=1, le=floor.MAX_SPEAKING_TIME_S)]


class ListChange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    closed: bool | None = None
    sides: bool | None = None
    speaking_time_s: Annotated[int, msgspec.Meta(ge=1, le=MAX_NUMBER)] | None = None


class FloorRequestOut(msgspec.Struct, kw_only=True):
    id: int
    item_id: int
    nmo_id: int
    nmo_code: str
    nmo_name: str
    delegate_id: int | None
    kind: str
    side: str
    state: str
    requested_at: dt.datetime
    started_at: dt.datetime | None
    stopped_at: dt.datetime | None
    allotted_s: int | None
    extended_s: int


class SpeakingTime(msgspec.Struct, kw_only=True):
    nmo_id: int
    nmo_code: str
    seconds: int


class FloorOut(msgspec.Struct, kw_only=True):
    item_id: int
    closed: bool
    sides: bool
    speaking_time_s: int
    vote_open: bool
    speaking: FloorRequestOut | None
    remaining_s: int | None
    waiting: list[FloorRequestOut]
    points_of_order: int
    speaking_times: list[SpeakingTime]


async def _nmos(db: AsyncSession, assembly_id: int) -> dict[int, Nmo]:
    query = select(Nmo).where(Nmo.assembly_id == assembly_id)
    return {n.id: n for n in (await db.execute(query)).scalars()}


def request_out(row: FloorRequest, nmos: dict[int, Nmo]) -> FloorRequestOut:
    nmo = nmos.get(row.nmo_id)
    return FloorRequestOut(
        id=row.id,
        item_id=row.item_id,
        nmo_id=row.nmo_id,
        nmo_code=nmo.code if nmo else "",
        nmo_name=nmo.name if nmo else "",
        delegate_id=row.delegate_id,
        kind=row.kind,
        side=row.side,
        state=row.state,
        requested_at=row.requested_at,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        allotted_s=row.allotted_s,
        extended_s=row.extended_s,
    )


async def floor_out(db: AsyncSession, state: FloorState) -> FloorOut:
    nmos = await _nmos(db, state.item.assembly_id)
    return FloorOut(
        item_id=state.item.id,
        closed=state.floor.closed,
        sides=state.floor.sides,
        speaking_time_s=state.item.speaking_time_s,
        vote_open=state.floor.vote_open,
        speaking=request_out(state.speaking, nmos) if state.speaking else None,
        remaining_s=state.remaining_s(),
        waiting=[request_out(r, nmos) for r in state.waiting],
        points_of_order=len(state.points_of_order),
        speaking_times=[
            SpeakingTime(nmo_id=n, nmo_code=nmos[n].code if n in nmos else "", seconds=s)
            for n, s in sorted(state.totals.items(), key=lambda t: (-t[1], t[0]))
        ],
    )


async def _item(db: AsyncSession, principal: Principal, item_id: int) -> AgendaItem:
    item = await agenda.get_item(db, item_id)
    ensure_assembly_access(principal, item.assembly_id)
    return item


async def _committed(db: AsyncSession, state: State, item: AgendaItem) -> FloorOut:
    """The list after a change: read, committed, pushed to every screen."""
    out = await floor_out(db, await floor.floor_of(db, item))
    await db.commit()
    await announce_floor(state.ctx, item.assembly_id)
    return out


class FloorController(Controller):
    path = "/api/agenda-items/{item_id:int}/floor"
    tags = ["speakers"]

    @get("/", opt=roles(LOGGED_IN), operation_id="getFloor")
    async def show(self, db: AsyncSession, request: Req, item_id: int) -> FloorOut:
        """The item's speakers' list: who speaks, the time left, who waits in what order,
        and each NMO's speaking time so far."""
        item = await _item(db, request.user, item_id)
        return await floor_out(db, await floor.floor_of(db, item))

    @post("/requests", opt=roles(DELEGATES), operation_id="requestFloor")
    async def ask(
        self, db: AsyncSession, request: Req, state: State, item_id: int, data: FloorAsk
    ) -> FloorRequestOut:
        """Ask for the floor (to speak, for or against when the chair asked for sides) or
        raise a point of order or of information, which go before every speech."""
        item = await _item(db, request.user, item_id)
        assert request.user.delegate_id is not None
        delegate = await credentials.get_delegate(db, request.user.delegate_id)
        row = await floor.request_floor(
            db, delegate, item, data.kind, data.side, request.user.actor
        )
        out = request_out(row, await _nmos(db, item.assembly_id))
        await db.commit()
        await announce_floor(state.ctx, item.assembly_id, alert=data.kind is Kind.POINT_OF_ORDER)
        return out

    @post("/speakers", opt=roles(CHAIR), operation_id="addSpeaker")
    async def add(
        self, db: AsyncSession, request: Req, state: State, item_id: int, data: SpeakerAdd
    ) -> FloorRequestOut:
        """Put an NMO on the list from the chair (a hand raised in the room)."""
        item = await _item(db, request.user, item_id)
        row = await floor.add_speaker(
            db, item, data.nmo_id, data.kind, data.side, request.user.actor
        )
        out = request_out(row, await _nmos(db, item.assembly_id))
        await db.commit()
        await announce_floor(state.ctx, item.assembly_id)
        return out

    @post("/start", opt=roles(CHAIR), operation_id="giveFloor", status_code=200)
    async def start(
        self, db: AsyncSession, request: Req, state: State, item_id: int, data: FloorStart
    ) -> FloorOut:
        """Give the floor to the request named, or to whoever is next; the current speaker
        finishes first."""
        item = await _item(db, request.user, item_id)
        await floor.start(db, item, data.request_id, request.user.actor)
        return await _committed(db, state, item)

    @post("/stop", opt=roles(CHAIR), operation_id="takeFloor", status_code=200)
    async def stop(self, db: AsyncSession, request: Req, state: State, item_id: int) -> FloorOut:
        """The speaker's time is over: the floor is free."""
        item = await _item(db, request.user, item_id)
        await floor.stop(db, item)
        return await _committed(db, state, item)

    @post("/extend", opt=roles(CHAIR), operation_id="extendSpeakingTime", status_code=200)
    async def extend(
        self, db: AsyncSession, request: Req, state: State, item_id: int, data: FloorExtend
    ) -> FloorOut:
        """Give the current speaker more time."""
        item = await _item(db, request.user, item_id)
        await floor.extend(db, item, data.seconds, request.user.actor)
        return await _committed(db, state, item)

    @patch("/", opt=roles(CHAIR), operation_id="changeSpeakersList")
    async def change(
        self, db: AsyncSession, request: Req, state: State, item_id: int, data: ListChange
    ) -> FloorOut:
        """Close or reopen the list, ask for sides, or set the time per speaker."""
        item = await _item(db, request.user, item_id)
        await floor.set_list(
            db,
            item,
            request.user.actor,
            closed=data.closed,
            sides=data.sides,
            speaking_time_s=data.speaking_time_s,
        )
        return await _committed(db, state, item)


class FloorRequestController(Controller):
    path = "/api/floor-requests/{request_id:int}"
    tags = ["speakers"]

    async def _load(
        self, db: AsyncSession, principal: Principal, request_id: int
    ) -> tuple[FloorRequest, AgendaItem]:
        row = await floor.get_request(db, request_id)
        item = await _item(db, principal, row.item_id)
        return row, item

    @post("/withdraw", opt=roles(DELEGATES), operation_id="withdrawFloorRequest", status_code=200)
    async def withdraw(
        self, db: AsyncSession, request: Req, state: State, request_id: int
    ) -> FloorRequestOut:
        """Take back your own request for the floor."""
        row, item = await self._load(db, request.user, request_id)
        if request.user.delegate_id is None:
            raise Forbidden(t("Only a delegate withdraws a request for the floor."))
        await floor.withdraw(db, row, request.user.delegate_id)
        out = request_out(row, await _nmos(db, item.assembly_id))
        await db.commit()
        await announce_floor(state.ctx, item.assembly_id)
        return out

    @post("/remove", opt=roles(CHAIR), operation_id="removeSpeaker", status_code=200)
    async def remove(
        self, db: AsyncSession, request: Req, state: State, request_id: int
    ) -> FloorRequestOut:
        """Take a waiting request off the list (recorded)."""
        row, item = await self._load(db, request.user, request_id)
        await floor.remove(db, item, row, request.user.actor)
        out = request_out(row, await _nmos(db, item.assembly_id))
        await db.commit()
        await announce_floor(state.ctx, item.assembly_id)
        return out

    @post("/move", opt=roles(CHAIR), operation_id="moveSpeaker", status_code=200)
    async def move(
        self, db: AsyncSession, request: Req, state: State, request_id: int, data: SpeakerMove
    ) -> FloorOut:
        """Move a waiting speech to another place among the speeches (0 is first)."""
        row, item = await self._load(db, request.user, request_id)
        await floor.move(db, item, row, data.index, request.user.actor)
        return await _committed(db, state, item)


class MotionRaise(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Motion


class MotionVote(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    countdown_s: Annotated[int, msgspec.Meta(ge=0, le=3600)] | None = None


class MotionDismiss(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=motions.REASON_LENGTH)]


class NemoAsk(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    seconds: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 20


class NemoOut(msgspec.Struct, kw_only=True):
    id: int
    motion_id: int
    asked_at: dt.datetime
    seconds: int
    deadline: dt.datetime
    outcome: str


def nemo_out(nemo: NemoContra) -> NemoOut:
    return NemoOut(
        id=nemo.id,
        motion_id=nemo.motion_id,
        asked_at=nemo.asked_at,
        seconds=nemo.seconds,
        deadline=motions.nemo_deadline(nemo),
        outcome=nemo.outcome,
    )


class MotionOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    item_id: int | None
    kind: str
    label: str
    nmo_id: int
    nmo_code: str
    state: str
    raised_at: dt.datetime
    vote_id: int | None
    decided_at: dt.datetime | None
    without_vote: bool  # adopted because nobody objected ("nemo contra")
    reason: str


def motion_out(motion: ProceduralMotion, nmos: dict[int, Nmo]) -> MotionOut:
    nmo = nmos.get(motion.nmo_id)
    return MotionOut(
        id=motion.id,
        assembly_id=motion.assembly_id,
        item_id=motion.item_id,
        kind=motion.kind,
        label=MOTION_LABELS[Motion(motion.kind)],
        nmo_id=motion.nmo_id,
        nmo_code=nmo.code if nmo else "",
        state=motion.state,
        raised_at=motion.raised_at,
        vote_id=motion.vote_id,
        decided_at=motion.decided_at,
        without_vote=motion.state == "adopted" and motion.vote_id is None,
        reason=motion.reason,
    )


class AssemblyMotionsController(Controller):
    path = "/api/assemblies/{assembly_id:int}/motions"
    tags = ["speakers"]

    @get("/", opt=roles(LOGGED_IN), operation_id="listMotions")
    async def list_motions(
        self, db: AsyncSession, request: Req, assembly_id: int
    ) -> list[MotionOut]:
        """Every procedural motion of the assembly, in the order raised, with its outcome."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        nmos = await _nmos(db, assembly_id)
        return [motion_out(m, nmos) for m in await motions.motions_of(db, assembly_id)]

    @post("/", opt=roles(DELEGATES), operation_id="raiseMotion")
    async def raise_motion(
        self, db: AsyncSession, request: Req, state: State, assembly_id: int, data: MotionRaise
    ) -> MotionOut:
        """Raise a procedural motion from the phone; the chair sees it at once."""
        ensure_assembly_access(request.user, assembly_id)
        assembly = await credentials.get_assembly(db, assembly_id)
        assert request.user.delegate_id is not None
        delegate = await credentials.get_delegate(db, request.user.delegate_id)
        motion = await motions.raise_motion(db, assembly, delegate, data.kind, request.user.actor)
        out = motion_out(motion, await _nmos(db, assembly_id))
        await db.commit()
        await announce_floor(state.ctx, assembly_id, alert=True)
        return out

    @post("/objection", opt=roles(DELEGATES), operation_id="objectToMotion", status_code=200)
    async def object_to(
        self, db: AsyncSession, request: Req, state: State, assembly_id: int
    ) -> NemoOut:
        """Object, for your NMO, to the motion the chair asked "any objection?" on: it then
        does not pass without a vote."""
        ensure_assembly_access(request.user, assembly_id)
        assert request.user.delegate_id is not None
        delegate = await credentials.get_delegate(db, request.user.delegate_id)
        nemo = await motions.object_to(db, assembly_id, delegate)
        out = nemo_out(nemo)
        await db.commit()
        await announce_floor(state.ctx, assembly_id)
        return out


class MotionController(Controller):
    path = "/api/motions/{motion_id:int}"
    tags = ["speakers"]

    async def _load(self, db: AsyncSession, principal: Principal, motion_id: int) -> Any:
        motion = await motions.get_motion(db, motion_id)
        ensure_assembly_access(principal, motion.assembly_id)
        return motion

    @post("/vote", opt=roles(CHAIR), operation_id="voteOnMotion")
    async def vote(
        self, db: AsyncSession, request: Req, state: State, motion_id: int, data: MotionVote
    ) -> VoteOut:
        """Put the motion to a vote now (the procedural majority); adopted, it takes effect."""
        motion = await self._load(db, request.user, motion_id)
        vote = await motions.put_to_vote(db, motion, request.user.actor, data.countdown_s)
        await db.commit()
        await announce_vote(state.ctx, vote.id)
        return await vote_out(db, vote)

    @post("/nemo-contra", opt=roles(CHAIR), operation_id="askForObjections")
    async def nemo_contra(
        self, db: AsyncSession, request: Req, state: State, motion_id: int, data: NemoAsk
    ) -> NemoOut:
        """Ask the room "any objection?": with no NMO objecting within `seconds`, the motion
        passes without a vote, and the record says so."""
        motion = await self._load(db, request.user, motion_id)
        nemo = await motions.ask_objection(db, motion, data.seconds, request.user.actor)
        out = nemo_out(nemo)
        await db.commit()
        settle_objections_later(state.ctx, motion.assembly_id, nemo.seconds)
        await announce_floor(state.ctx, motion.assembly_id)
        return out

    @post("/dismiss", opt=roles(CHAIR), operation_id="dismissMotion", status_code=200)
    async def dismiss(
        self, db: AsyncSession, request: Req, state: State, motion_id: int, data: MotionDismiss
    ) -> MotionOut:
        """Rule the motion out of order, with the reason (recorded)."""
        motion = await self._load(db, request.user, motion_id)
        await motions.dismiss(db, motion, request.user.actor, data.reason)
        out = motion_out(motion, await _nmos(db, motion.assembly_id))
        await db.commit()
        await announce_floor(state.ctx, motion.assembly_id)
        return out

    @post("/withdraw", opt=roles(DELEGATES), operation_id="withdrawMotion", status_code=200)
    async def withdraw(
        self, db: AsyncSession, request: Req, state: State, motion_id: int
    ) -> MotionOut:
        """Withdraw a motion you raised, before the chair deals with it."""
        motion = await self._load(db, request.user, motion_id)
        assert request.user.delegate_id is not None
        await motions.withdraw(db, motion, request.user.delegate_id)
        out = motion_out(motion, await _nmos(db, motion.assembly_id))
        await db.commit()
        await announce_floor(state.ctx, motion.assembly_id)
        return out


FLOOR_CONTROLLERS = [
    FloorController,
    FloorRequestController,
    AssemblyMotionsController,
    MotionController,
]
