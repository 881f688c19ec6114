"""JSON API of the roll call: the chair starts, closes and reopens a plenary session's roll
call, a right holder confirms from the phone that its NMO is present, the desk marks an NMO
present or absent, and the staff read how far it has got and the quorum it makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import rollcall
from assembly.agenda.models import PlenarySession, RollCall, RollCallAnswer
from assembly.agenda.rollcall import RollCallView
from assembly.credentials import service as credentials
from assembly.credentials.auth import CHAIR, STAFF, Principal, Role, roles
from assembly.credentials.routes import ensure_assembly_access
from assembly.credentials.rules import format_weight
from assembly.errors import NotFound
from assembly.i18n import t
from assembly.live.broadcast import announce_roll_call

Req = Request[Principal, Any, Any]
DELEGATES = frozenset({Role.delegate})


class RollCallMark(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    present: bool


class RollCallAnswerOut(msgspec.Struct, kw_only=True):
    nmo_id: int
    nmo_code: str
    present: bool
    via: str  # "phone" or "desk"
    delegate_id: int | None  # the right holder who confirmed from the phone
    answered_by: str
    answered_at: dt.datetime


class RollCallNmoOut(msgspec.Struct, kw_only=True):
    nmo_id: int
    nmo_code: str
    nmo_name: str
    member_class: str
    answer: RollCallAnswerOut | None  # None: not answered yet


class RollCallQuorumOut(msgspec.Struct, kw_only=True):
    full_members: int
    present: int
    represented_by_proxy: int
    required: int
    met: bool
    weight_present: str
    explanation: str


class RollCallOut(msgspec.Struct, kw_only=True):
    id: int
    assembly_id: int
    session_id: int
    session_name: str
    open: bool
    started_at: dt.datetime
    started_by: str
    closed_at: dt.datetime | None
    closed_by: str
    expected: int
    answered: int
    present: int
    absent: int
    waiting: int
    by_phone: int
    by_desk: int
    quorum: RollCallQuorumOut
    nmos: list[RollCallNmoOut]


def answer_out(row: RollCallAnswer, code: str) -> RollCallAnswerOut:
    return RollCallAnswerOut(
        nmo_id=row.nmo_id,
        nmo_code=code,
        present=row.present,
        via=row.via,
        delegate_id=row.delegate_id,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
    )


def roll_call_out(view: RollCallView) -> RollCallOut:
    roll, p, q = view.roll, view.progress, view.quorum
    return RollCallOut(
        id=roll.id,
        assembly_id=roll.assembly_id,
        session_id=roll.session_id,
        session_name=view.session.name,
        open=roll.is_open,
        started_at=roll.started_at,
        started_by=roll.started_by,
        closed_at=roll.closed_at,
        closed_by=roll.closed_by,
        expected=p.expected,
        answered=p.answered,
        present=p.present,
        absent=p.absent,
        waiting=p.waiting,
        by_phone=p.by_phone,
        by_desk=p.by_desk,
        quorum=RollCallQuorumOut(
            full_members=q.full_members,
            present=q.present,
            represented_by_proxy=q.represented_by_proxy,
            required=q.required,
            met=q.met,
            weight_present=format_weight(q.weight_present),
            explanation=str(q.explain()),
        ),
        nmos=[
            RollCallNmoOut(
                nmo_id=n.id,
                nmo_code=n.code,
                nmo_name=n.name,
                member_class=n.member_class,
                answer=answer_out(view.answers[n.id], n.code) if n.id in view.answers else None,
            )
            for n in view.nmos
        ],
    )


async def _session(db: AsyncSession, principal: Principal, session_id: int) -> PlenarySession:
    session = await rollcall.get_session(db, session_id)
    ensure_assembly_access(principal, session.assembly_id)
    return session


async def _committed(
    db: AsyncSession, state: State, roll: RollCall, nmo_ids: set[int] | None
) -> RollCallOut:
    """The roll call after a change: read, committed, pushed to every screen."""
    out = roll_call_out(await rollcall.view_of(db, roll))
    await db.commit()
    await announce_roll_call(state.ctx, roll.assembly_id, nmo_ids=nmo_ids)
    return out


class RollCallController(Controller):
    path = "/api/plenary-sessions/{session_id:int}/roll-call"
    tags = ["roll call"]

    @get("/", opt=roles(STAFF), operation_id="getRollCall")
    async def show(self, db: AsyncSession, request: Req, session_id: int) -> RollCallOut:
        """The session's roll call: each NMO's answer (present or absent, from the phone or
        the desk, by whom and when), how many answered, and the quorum it makes."""
        session = await _session(db, request.user, session_id)
        roll = await rollcall.session_roll_call(db, session)
        return roll_call_out(await rollcall.view_of(db, roll))

    @post("/", opt=roles(CHAIR), operation_id="startRollCall")
    async def start(
        self, db: AsyncSession, request: Req, state: State, session_id: int
    ) -> RollCallOut:
        """Start the session's roll call: the phones of the right holders ask them to
        confirm, the desk marks the others. One roll call is open at a time."""
        session = await _session(db, request.user, session_id)
        assembly = await credentials.get_assembly(db, session.assembly_id)
        roll = await rollcall.start(db, assembly, session, request.user.actor)
        return await _committed(db, state, roll, None)

    @post("/close", opt=roles(CHAIR), operation_id="closeRollCall", status_code=200)
    async def close(
        self, db: AsyncSession, request: Req, state: State, session_id: int
    ) -> RollCallOut:
        """Close the roll call: its answers are the session's attendance."""
        session = await _session(db, request.user, session_id)
        roll = await rollcall.close(
            db, await rollcall.session_roll_call(db, session), request.user.actor
        )
        return await _committed(db, state, roll, None)

    @post("/reopen", opt=roles(CHAIR), operation_id="reopenRollCall", status_code=200)
    async def reopen(
        self, db: AsyncSession, request: Req, state: State, session_id: int
    ) -> RollCallOut:
        """Open a closed roll call again (late arrivals, a mistaken close); answers stay."""
        session = await _session(db, request.user, session_id)
        roll = await rollcall.reopen(
            db, await rollcall.session_roll_call(db, session), request.user.actor
        )
        return await _committed(db, state, roll, None)

    @post("/confirm", opt=roles(DELEGATES), operation_id="confirmPresence", status_code=200)
    async def confirm(
        self, db: AsyncSession, request: Req, state: State, session_id: int
    ) -> RollCallAnswerOut:
        """Confirm, as the delegate holding your NMO's vote, that your NMO is present."""
        session = await _session(db, request.user, session_id)
        roll = await rollcall.session_roll_call(db, session)
        assert request.user.delegate_id is not None
        delegate = await credentials.get_delegate(db, request.user.delegate_id)
        row, changed = await rollcall.confirm(db, roll, delegate, request.user.actor)
        nmo = await credentials.get_nmo(db, row.nmo_id)
        out = answer_out(row, nmo.code)
        await db.commit()
        if changed:
            await announce_roll_call(state.ctx, roll.assembly_id, nmo_ids={nmo.id})
        return out

    @put("/nmos/{nmo_id:int}", opt=roles(STAFF), operation_id="markRollCall")
    async def mark(
        self,
        db: AsyncSession,
        request: Req,
        state: State,
        session_id: int,
        nmo_id: int,
        data: RollCallMark,
    ) -> RollCallAnswerOut:
        """Mark an NMO present or absent at the desk (recorded); the desk's mark replaces
        any earlier answer."""
        session = await _session(db, request.user, session_id)
        roll = await rollcall.session_roll_call(db, session)
        nmo = await credentials.get_nmo(db, nmo_id)
        if nmo.assembly_id != session.assembly_id:
            raise NotFound(t("There is no NMO {nmo_id} in this assembly.", nmo_id=nmo_id))
        row, changed = await rollcall.mark(db, roll, nmo, data.present, request.user.actor)
        out = answer_out(row, nmo.code)
        await db.commit()
        if changed:
            await announce_roll_call(state.ctx, roll.assembly_id, nmo_ids={nmo.id})
        return out


class AssemblyRollCallController(Controller):
    path = "/api/assemblies/{assembly_id:int}/roll-call"
    tags = ["roll call"]

    @get("/", opt=roles(STAFF), operation_id="getCurrentRollCall")
    async def current(self, db: AsyncSession, request: Req, assembly_id: int) -> RollCallOut:
        """The roll call the screens show: the open one, else the one started last."""
        ensure_assembly_access(request.user, assembly_id)
        await credentials.get_assembly(db, assembly_id)
        roll = await rollcall.current_roll_call(db, assembly_id)
        if roll is None:
            raise NotFound(t("There has been no roll call in this assembly yet."))
        return roll_call_out(await rollcall.view_of(db, roll))


ROLL_CALL_CONTROLLERS = [RollCallController, AssemblyRollCallController]
