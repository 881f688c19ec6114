"""Procedural motions: raised from a phone, put to a vote by the chair in one action (two
thirds by default, the assembly's procedural majority), and carried out when the vote closes
adopted: the list closes, the debate ends, the item is postponed. Or ruled out, with a reason."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assembly.agenda import service as agenda
from assembly.agenda.models import (
    AgendaItem,
    FloorRequest,
    NemoContra,
    NemoObjection,
    ProceduralMotion,
)
from assembly.agenda.speakers import (
    MOTION_LABELS,
    Floor,
    Motion,
    Objection,
    motion_effect,
    nemo_contra,
)
from assembly.credentials.models import Assembly, Delegate, Nmo
from assembly.db import utcnow
from assembly.errors import Conflict, Forbidden, Invalid, NotFound
from assembly.i18n import t
from assembly.voting import service as voting
from assembly.voting.models import Vote

REASON_LENGTH = 500


def allowed_motions(assembly: Assembly) -> list[Motion]:
    """The motions this assembly lets delegates raise (a setting of its rules)."""
    return [Motion(m) for m in assembly.procedural_motions.split(",") if m]


async def motions_of(db: AsyncSession, assembly_id: int) -> list[ProceduralMotion]:
    query = (
        select(ProceduralMotion)
        .where(ProceduralMotion.assembly_id == assembly_id)
        .order_by(ProceduralMotion.id)
    )
    return list((await db.execute(query)).scalars())


async def pending_motions(db: AsyncSession, assembly_id: int) -> list[ProceduralMotion]:
    """Motions the chair still has to deal with: raised, or being voted on."""
    return [m for m in await motions_of(db, assembly_id) if m.state in ("raised", "voting")]


RECENT = dt.timedelta(minutes=10)


async def motion_raisers(db: AsyncSession, assembly_id: int) -> set[int]:
    """Delegates whose phones show a motion of theirs that is pending or just decided."""
    since = utcnow() - RECENT
    return {
        m.delegate_id
        for m in await motions_of(db, assembly_id)
        if m.delegate_id is not None
        and (m.state in ("raised", "voting") or (m.decided_at and m.decided_at >= since))
    }


async def get_motion(db: AsyncSession, motion_id: int) -> ProceduralMotion:
    motion = await db.get(ProceduralMotion, motion_id)
    if motion is None:
        raise NotFound(t("There is no procedural motion {motion_id}.", motion_id=motion_id))
    return motion


async def raise_motion(
    db: AsyncSession, assembly: Assembly, delegate: Delegate, kind: Motion, actor: str
) -> ProceduralMotion:
    """A delegate present raises a motion on the item the plenary is on; the chair sees it at
    once. A motion the assembly does not allow is refused with the list of those it does."""
    allowed = allowed_motions(assembly)
    if kind not in allowed:
        names = ", ".join(MOTION_LABELS[m].lower() for m in allowed) or "none"
        raise Conflict(
            t("This assembly does not take that motion. It takes: {names}.", names=names)
        )
    if not delegate.checked_in:
        raise Conflict(t("Check in at the desk first: only delegates present may raise a motion."))
    item = await agenda.current_item(db, assembly.id)
    motion = ProceduralMotion(
        assembly_id=assembly.id,
        item_id=item.id if item is not None else None,
        kind=kind.value,
        nmo_id=delegate.nmo_id,
        delegate_id=delegate.id,
        raised_by=actor,
    )
    db.add(motion)
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(t("You have already raised this motion; the chair has it.")) from None
    return motion


def _raised(motion: ProceduralMotion) -> None:
    if motion.state != "raised":
        raise Conflict(
            t("This motion is {state}; only a raised motion can be dealt with.", state=motion.state)
        )


async def withdraw(db: AsyncSession, motion: ProceduralMotion, delegate_id: int) -> None:
    if motion.delegate_id != delegate_id:
        raise Forbidden(t("You can only withdraw a motion you raised."))
    _raised(motion)
    motion.state = "withdrawn"
    motion.decided_at = utcnow()


async def dismiss(db: AsyncSession, motion: ProceduralMotion, actor: str, reason: str) -> None:
    """The chair rules the motion out of order: it needs a reason, which is recorded."""
    _raised(motion)
    reason = reason.strip()
    if not reason:
        raise Invalid(t("Say why the motion is out of order: the reason is recorded."))
    if len(reason) > REASON_LENGTH:
        raise Invalid(
            t("The reason is at most {reason_length} characters.", reason_length=REASON_LENGTH)
        )
    motion.state = "dismissed"
    motion.decided_at = utcnow()
    motion.decided_by = actor
    motion.reason = reason


async def put_to_vote(
    db: AsyncSession, motion: ProceduralMotion, actor: str, countdown_s: int | None = None
) -> Vote:
    """One action of the chair: a vote on the motion is created and opened at once, by the
    assembly's procedural majority (two thirds by default); if it cannot open, nothing is
    stored."""
    _raised(motion)
    assembly = await db.get(Assembly, motion.assembly_id)
    nmo = await db.get(Nmo, motion.nmo_id)
    assert assembly is not None and nmo is not None
    item = await db.get(AgendaItem, motion.item_id) if motion.item_id else None
    # The question is stored and signed as written: in the assembly's language.
    label = MOTION_LABELS[Motion(motion.kind)]
    question = (
        t("{label} on “{title}”? (motion by {code})", label=label, title=item.title, code=nmo.code)
        if item is not None
        else t("{label}? (motion by {code})", label=label, code=nmo.code)
    )
    vote = await voting.create_vote(
        db,
        assembly,
        actor,
        voting.VoteSpec(
            question=question.translated(assembly.language)[:2000],
            kind="procedural",  # the assembly's procedural majority
        ),
    )
    vote.subject_kind, vote.subject_id = "motion", motion.id
    await voting.open_vote(db, vote, actor, countdown_s)
    motion.state = "voting"
    motion.vote_id = vote.id
    await db.flush()
    return vote


async def motion_decided(db: AsyncSession, vote: Vote, actor: str) -> None:
    """The vote on a motion closed: adopted, its effect on the item's speakers' list is applied
    in the same transaction; rejected, nothing changes."""
    motion = await db.get(ProceduralMotion, vote.subject_id or 0)
    if motion is None or motion.state != "voting":
        return
    adopted = bool(vote.result and vote.result.get("adopted"))
    await _decide(db, motion, adopted, actor, vote_id=vote.id)


async def _decide(
    db: AsyncSession,
    motion: ProceduralMotion,
    adopted: bool,
    actor: str,
    *,
    vote_id: int | None = None,
    at: dt.datetime | None = None,
) -> None:
    motion.state = "adopted" if adopted else "rejected"
    motion.decided_at = at or utcnow()
    motion.decided_by = actor
    item = await db.get(AgendaItem, motion.item_id) if motion.item_id else None
    if not adopted or item is None:
        return
    effect = motion_effect(Floor(closed=item.list_closed, sides=item.sides), Motion(motion.kind))
    item.list_closed = effect.floor.closed
    if effect.clear_speeches:
        await db.execute(
            update(FloorRequest)
            .where(
                FloorRequest.item_id == item.id,
                FloorRequest.state == "waiting",
                FloorRequest.kind == "speech",
            )
            .values(state="removed")
        )
    agenda.record_floor(
        db,
        item,
        "motion_adopted",
        actor,
        motion_id=motion.id,
        motion=motion.kind,
        vote_id=vote_id,
        without_vote=vote_id is None,
        closed=effect.floor.closed,
        speeches_cleared=effect.clear_speeches,
        postponed=effect.postpone_item,
        suspended=effect.suspend_session,
    )
    await db.flush()


# --- nemo contra: "any objection?" ---------------------------------------------------------

MIN_NEMO_S, MAX_NEMO_S = 5, 600
NEMO_ACTOR = "nemo contra"


async def pending_nemo(db: AsyncSession, assembly_id: int) -> NemoContra | None:
    query = select(NemoContra).where(
        NemoContra.assembly_id == assembly_id, NemoContra.outcome == "pending"
    )
    return (await db.execute(query.order_by(NemoContra.id.desc()))).scalars().first()


def nemo_deadline(nemo: NemoContra) -> dt.datetime:
    return nemo.asked_at + dt.timedelta(seconds=nemo.seconds)


async def ask_objection(
    db: AsyncSession, motion: ProceduralMotion, seconds: int, actor: str
) -> NemoContra:
    """The chair asks the room "any objection?" on a raised motion, for `seconds`."""
    _raised(motion)
    if not MIN_NEMO_S <= seconds <= MAX_NEMO_S:
        raise Invalid(
            t(
                "Give the room between {min_nemo_s} and {max_nemo_s} seconds to object.",
                min_nemo_s=MIN_NEMO_S,
                max_nemo_s=MAX_NEMO_S,
            )
        )
    await settle_due(db, motion.assembly_id)
    if await pending_nemo(db, motion.assembly_id) is not None:
        raise Conflict(t("The room is already being asked for objections; wait for the answer."))
    nemo = NemoContra(
        assembly_id=motion.assembly_id, motion_id=motion.id, seconds=seconds, asked_by=actor
    )
    db.add(nemo)
    await db.flush()
    return nemo


async def object_to(db: AsyncSession, assembly_id: int, delegate: Delegate) -> NemoContra:
    """A delegate objects for their NMO: one objection before the time is up defeats the
    motion's passing without a vote (the chair may still put it to a vote)."""
    await settle_due(db, assembly_id)
    nemo = await pending_nemo(db, assembly_id)
    if nemo is None:
        raise Conflict(t("Nothing is being asked: there is no motion to object to now."))
    if not delegate.checked_in:
        raise Conflict(t("Check in at the desk first: only delegates present may object."))
    now = utcnow()
    if nemo_contra(nemo.asked_at, nemo.seconds, [], now) is not Objection.PENDING:
        raise Conflict(t("Too late: the time for objections is over."))
    db.add(NemoObjection(nemo_id=nemo.id, nmo_id=delegate.nmo_id, delegate_id=delegate.id, at=now))
    try:
        await db.flush()
    except IntegrityError:
        raise Conflict(t("Your NMO has already objected.")) from None
    nemo.outcome = "objected"
    nemo.decided_at = now
    return nemo


async def settle_due(db: AsyncSession, assembly_id: int) -> bool:
    """Record the outcome of an "any objection?" whose time is up: with no objection the
    motion is adopted without a vote. True when something was recorded."""
    nemo = await pending_nemo(db, assembly_id)
    if nemo is None:
        return False
    query = select(NemoObjection.at).where(NemoObjection.nemo_id == nemo.id)
    objections = list((await db.execute(query)).scalars())
    outcome = nemo_contra(nemo.asked_at, nemo.seconds, objections, utcnow())
    if outcome is Objection.PENDING:
        return False
    deadline = nemo_deadline(nemo)
    nemo.outcome = outcome.value
    nemo.decided_at = deadline
    motion = await db.get(ProceduralMotion, nemo.motion_id)
    if outcome is Objection.PASSED and motion is not None and motion.state == "raised":
        await _decide(db, motion, True, NEMO_ACTOR, at=deadline)
    await db.flush()
    return True
