"""The roll call of each plenary session, stored: the chair opens and closes it, right holders
confirm from the phone, the desk marks NMOs present or absent. Who may answer, how answers
meet and the quorum they make are decided by the plain rules in `rollcall_rules`; this module
keeps their state and records the chair's and the desk's actions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda.models import AgendaEvent, PlenarySession, RollCall, RollCallAnswer
from assembly.agenda.rollcall_rules import (
    Answer,
    Answerer,
    NmoRight,
    Progress,
    Via,
    check_answer,
    merge,
    progress,
    roll_call_quorum,
)
from assembly.agenda.service import FLOOR_EVENT
from assembly.credentials import rules
from assembly.credentials import service as credentials
from assembly.credentials.models import Assembly, Delegate, Nmo
from assembly.db import utcnow
from assembly.errors import Conflict, Forbidden, Invalid, NotFound
from assembly.i18n import t

# The chair's and the desk's actions on a roll call are recorded beside the agenda with the
# other decisions of the floor, not among the agenda's changes (a desk marks 130 NMOs).
ROLL_CALL_EVENT = FLOOR_EVENT + "roll_call_"


def _record(db: AsyncSession, roll: RollCall, kind: str, actor: str, **detail: Any) -> None:
    db.add(
        AgendaEvent(
            assembly_id=roll.assembly_id,
            kind=ROLL_CALL_EVENT + kind,
            actor=credentials.actor_name(actor),
            detail={"roll_call_id": roll.id, "session_id": roll.session_id, **detail},
        )
    )


async def get_session(db: AsyncSession, session_id: int) -> PlenarySession:
    session = await db.get(PlenarySession, session_id)
    if session is None:
        raise NotFound(t("There is no plenary session {session_id}.", session_id=session_id))
    return session


async def roll_call_of(db: AsyncSession, session_id: int) -> RollCall | None:
    query = select(RollCall).where(RollCall.session_id == session_id)
    return (await db.execute(query)).scalar_one_or_none()


async def session_roll_call(db: AsyncSession, session: PlenarySession) -> RollCall:
    roll = await roll_call_of(db, session.id)
    if roll is None:
        raise NotFound(
            t(
                "There is no roll call for “{session}” yet: the chair starts it.",
                session=session.name,
            )
        )
    return roll


async def open_roll_call(db: AsyncSession, assembly_id: int) -> RollCall | None:
    query = select(RollCall).where(
        RollCall.assembly_id == assembly_id, RollCall.closed_at.is_(None)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def current_roll_call(db: AsyncSession, assembly_id: int) -> RollCall | None:
    """The roll call the screens show: the open one, else the one started last."""
    query = (
        select(RollCall)
        .where(RollCall.assembly_id == assembly_id)
        .order_by(
            RollCall.closed_at.is_(None).desc(), RollCall.started_at.desc(), RollCall.id.desc()
        )
        .limit(1)
    )
    return (await db.execute(query)).scalar_one_or_none()


async def answers_of(db: AsyncSession, roll_call_id: int) -> dict[int, RollCallAnswer]:
    query = select(RollCallAnswer).where(RollCallAnswer.roll_call_id == roll_call_id)
    return {a.nmo_id: a for a in (await db.execute(query)).scalars()}


def as_answer(row: RollCallAnswer) -> Answer:
    return Answer(nmo_id=row.nmo_id, present=row.present, via=Via(row.via))


# --- the chair --------------------------------------------------------------------------


async def start(
    db: AsyncSession, assembly: Assembly, session: PlenarySession, actor: str
) -> RollCall:
    """Open the roll call of `session`: every NMO is expected to answer."""
    if session.assembly_id != assembly.id:
        raise Invalid(
            t("There is no plenary session {session_id} in this assembly.", session_id=session.id)
        )
    if await roll_call_of(db, session.id) is not None:
        raise Conflict(
            t(
                "“{session}” already has its roll call: reopen it rather than start another.",
                session=session.name,
            ),
            code="roll_call_exists",
        )
    other = await open_roll_call(db, assembly.id)
    if other is not None:
        name = (await get_session(db, other.session_id)).name
        raise Conflict(
            t("The roll call of “{session}” is still open: close it first.", session=name),
            code="roll_call_open",
        )
    # Made before the flush: a failed flush expires every object.
    refusal = Conflict(
        t("Another roll call was opened at the same moment: close it first."),
        code="roll_call_open",
    )
    roll = RollCall(
        assembly_id=assembly.id,
        session_id=session.id,
        started_at=utcnow(),
        started_by=credentials.actor_name(actor),
    )
    db.add(roll)
    try:
        await db.flush()
    except IntegrityError:
        raise refusal from None
    _record(db, roll, "opened", actor)
    return roll


async def _locked(db: AsyncSession, roll: RollCall) -> RollCall:
    """The roll call, locked until the transaction ends (PostgreSQL; SQLite has one writer):
    answers and the chair's close then happen one after the other."""
    query = select(RollCall).where(RollCall.id == roll.id).with_for_update()
    locked = (await db.execute(query)).scalar_one()
    await db.refresh(locked)
    return locked


async def close(db: AsyncSession, roll: RollCall, actor: str) -> RollCall:
    roll = await _locked(db, roll)
    if not roll.is_open:
        raise Conflict(t("This roll call is already closed."), code="roll_call_closed")
    roll.closed_at = utcnow()
    roll.closed_by = credentials.actor_name(actor)
    _record(db, roll, "closed", actor)
    return roll


async def reopen(db: AsyncSession, roll: RollCall, actor: str) -> RollCall:
    """Open a closed roll call again (NMOs arriving late, a mistaken close); the answers stay."""
    roll = await _locked(db, roll)
    if roll.is_open:
        raise Conflict(t("This roll call is open already."), code="roll_call_open")
    other = await open_roll_call(db, roll.assembly_id)
    if other is not None:
        name = (await get_session(db, other.session_id)).name
        raise Conflict(
            t("The roll call of “{session}” is still open: close it first.", session=name),
            code="roll_call_open",
        )
    roll.closed_at = None
    roll.closed_by = ""
    await db.flush()
    _record(db, roll, "reopened", actor)
    return roll


# --- answers ----------------------------------------------------------------------------


async def nmo_right(db: AsyncSession, nmo: Nmo) -> NmoRight:
    right = await credentials.voting_right(db, nmo.id)
    head = await db.scalar(
        select(Delegate.id).where(Delegate.nmo_id == nmo.id, Delegate.role == "head")
    )
    return NmoRight(nmo_id=nmo.id, code=nmo.code, holder_id=right.holder_id, head_id=head)


async def _store(
    db: AsyncSession, roll: RollCall, answer: Answer, delegate_id: int | None, actor: str
) -> RollCallAnswer | None:
    """Store `answer` over the NMO's previous one, as `merge` decides; None: nothing changed."""
    rows = await answers_of(db, roll.id)
    row = rows.get(answer.nmo_id)
    merged = merge(as_answer(row) if row is not None else None, answer)
    if merged is None:
        return None
    if row is None:
        row = RollCallAnswer(roll_call_id=roll.id, nmo_id=answer.nmo_id)
        db.add(row)
    row.present = merged.present
    row.via = merged.via.value
    row.delegate_id = delegate_id
    row.answered_by = credentials.actor_name(actor)
    row.answered_at = utcnow()
    await db.flush()
    return row


async def confirm(
    db: AsyncSession, roll: RollCall, delegate: Delegate, actor: str
) -> tuple[RollCallAnswer, bool]:
    """A right holder confirms from the phone that its NMO is present. Returns the NMO's
    answer and whether this confirmation changed it (a second tap changes nothing)."""
    roll = await _locked(db, roll)
    nmo = await credentials.get_nmo(db, delegate.nmo_id)
    if nmo.assembly_id != roll.assembly_id:
        raise Forbidden(t("This roll call is for another assembly."))
    answerer = Answerer(
        delegate_id=delegate.id,
        nmo_id=delegate.nmo_id,
        role=rules.DelegateRole(delegate.role),
        checked_in=delegate.checked_in,
    )
    try:
        check_answer(answerer, await nmo_right(db, nmo), open_=roll.is_open)
    except rules.RuleViolation as exc:
        raise Conflict(exc.message, code=exc.rule) from None
    stored = await _store(db, roll, Answer(nmo.id, True, Via.phone), delegate.id, actor)
    if stored is not None:
        return stored, True
    return (await answers_of(db, roll.id))[nmo.id], False


async def mark(
    db: AsyncSession, roll: RollCall, nmo: Nmo, present: bool, actor: str
) -> tuple[RollCallAnswer, bool]:
    """The desk marks an NMO present or absent (recorded, each mark)."""
    roll = await _locked(db, roll)
    if nmo.assembly_id != roll.assembly_id:
        raise Invalid(t("NMO {nmo_id} is not a member of this assembly.", nmo_id=nmo.id))
    if not roll.is_open:
        raise Conflict(
            t("The roll call is closed: the chair reopens it to change an answer."),
            code="roll_call_closed",
        )
    stored = await _store(db, roll, Answer(nmo.id, present, Via.desk), None, actor)
    if stored is None:
        return (await answers_of(db, roll.id))[nmo.id], False
    _record(db, roll, "marked", actor, nmo_id=nmo.id, code=nmo.code, present=present)
    return stored, True


# --- what the screens show ---------------------------------------------------------------


@dataclass(frozen=True)
class RollCallView:
    """One roll call as every screen and the API show it."""

    roll: RollCall
    session: PlenarySession
    nmos: list[Nmo]  # every NMO of the assembly, by code
    answers: dict[int, RollCallAnswer]  # by NMO id
    progress: Progress
    quorum: rules.QuorumStatus
    now: dt.datetime

    @property
    def is_open(self) -> bool:
        return self.roll.is_open


async def view_of(db: AsyncSession, roll: RollCall) -> RollCallView:
    assembly = await credentials.get_assembly(db, roll.assembly_id)
    nmos = list(
        (
            await db.execute(
                select(Nmo).where(Nmo.assembly_id == roll.assembly_id).order_by(Nmo.code)
            )
        ).scalars()
    )
    answers = await answers_of(db, roll.id)
    plain = {n: as_answer(a) for n, a in answers.items()}
    proxies = credentials.as_proxy_states(await credentials.standing_proxies(db, assembly.id))
    return RollCallView(
        roll=roll,
        session=await get_session(db, roll.session_id),
        nmos=nmos,
        answers=answers,
        progress=progress([n.id for n in nmos], plain),
        quorum=roll_call_quorum(
            await credentials.nmo_states(db, assembly.id),
            plain,
            proxies,
            credentials.quorum_rule(assembly),
        ),
        now=utcnow(),
    )


async def sessions_to_call(db: AsyncSession, assembly_id: int) -> list[PlenarySession]:
    """The plenary sessions that have no roll call yet, in time order."""
    called = select(RollCall.session_id).where(RollCall.assembly_id == assembly_id)
    query = (
        select(PlenarySession)
        .where(PlenarySession.assembly_id == assembly_id, PlenarySession.id.not_in(called))
        .order_by(PlenarySession.starts_at, PlenarySession.id)
    )
    return list((await db.execute(query)).scalars())


def next_session(sessions: list[PlenarySession], now: dt.datetime) -> PlenarySession | None:
    """The session a roll call is most likely for: the one sitting now, else the next."""
    for session in sessions:
        if session.ends_at > now:
            return session
    return sessions[-1] if sessions else None


async def roll_call_answerers(
    db: AsyncSession, assembly_id: int, nmo_ids: set[int] | None = None
) -> list[Delegate]:
    """The delegates (not observers) of the NMOs named (all when None), whose phones show
    their NMO's answer."""
    query = (
        select(Delegate)
        .join(Nmo, Nmo.id == Delegate.nmo_id)
        .where(Nmo.assembly_id == assembly_id, Delegate.role != "observer")
        .order_by(Delegate.id)
    )
    if nmo_ids is not None:
        query = query.where(Delegate.nmo_id.in_(nmo_ids))
    return list((await db.execute(query)).scalars())
