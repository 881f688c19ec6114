"""The floor of an agenda item as plain rules: who may ask for it, who speaks next, how a
speaker's time runs, what a procedural motion does to the list, and when "any objection?"
has passed. No database and no HTTP: the service stores what these functions decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from assembly.errors import Conflict, Invalid
from assembly.i18n import t


class Kind(StrEnum):
    """What a delegate asks the floor for."""

    SPEECH = "speech"
    POINT_OF_ORDER = "point_of_order"
    POINT_OF_INFORMATION = "point_of_information"


class Side(StrEnum):
    """The side a speech takes when the chair has asked for sides."""

    FOR = "for"
    AGAINST = "against"
    NEUTRAL = "neutral"


# Points jump the queue: a point of order before a point of information, both before speeches.
PRECEDENCE = {Kind.POINT_OF_ORDER: 0, Kind.POINT_OF_INFORMATION: 1, Kind.SPEECH: 2}
POINTS = frozenset({Kind.POINT_OF_ORDER, Kind.POINT_OF_INFORMATION})


@dataclass(frozen=True)
class Request:
    """One waiting request for the floor. `position` orders speeches (the chair reorders
    them by changing it); `id` grows with the time of the request and breaks ties."""

    id: int
    nmo_id: int
    delegate_id: int
    kind: Kind = Kind.SPEECH
    side: Side = Side.NEUTRAL
    position: int = 0


@dataclass(frozen=True)
class Floor:
    """The state of one agenda item's list that the rules depend on."""

    closed: bool = False
    sides: bool = False  # the chair asked speakers to say for or against
    vote_open: bool = False  # a vote of this assembly is open right now
    last_side: Side | None = None  # the side of the last speech given, for alternation


def check_request(
    floor: Floor, waiting: Sequence[Request], delegate_id: int, kind: Kind, side: Side
) -> Side:
    """Refuse a request the rules do not allow, with the reason; return the side to store
    (a side is only kept when the chair asked for sides)."""
    if kind is Kind.SPEECH and floor.closed:
        raise Conflict(t("The speakers' list is closed: only points of order and information."))
    if kind in POINTS and side is not Side.NEUTRAL:
        raise Invalid(t("A point of order or information takes no side."))
    for request in waiting:
        if request.delegate_id == delegate_id and request.kind is kind:
            raise Conflict(
                t("You are already waiting for the floor ({what}).", what=_KIND_WORDS[kind])
            )
    return side if kind is Kind.SPEECH and floor.sides else Side.NEUTRAL


_KIND_WORDS = {
    Kind.SPEECH: t("to speak"),
    Kind.POINT_OF_ORDER: t("a point of order"),
    Kind.POINT_OF_INFORMATION: t("a point of information"),
}


def queue(floor: Floor, waiting: Iterable[Request]) -> list[Request]:
    """The order in which the waiting requests get the floor.

    Points first (order before information, each in the order asked); then speeches by the
    chair's position. When the chair asked for sides, speeches alternate: the next speaker is
    the first in the list who is neutral or takes the side opposite to the last speech; when
    nobody does, the first in the list."""
    requests = sorted(waiting, key=lambda r: (PRECEDENCE[r.kind], r.position, r.id))
    points = [r for r in requests if r.kind in POINTS]
    speeches = [r for r in requests if r.kind is Kind.SPEECH]
    if not floor.sides:
        return points + speeches
    ordered: list[Request] = []
    last = floor.last_side
    while speeches:
        chosen = next((r for r in speeches if _may_follow(r.side, last)), speeches[0])
        ordered.append(chosen)
        speeches.remove(chosen)
        if chosen.side is not Side.NEUTRAL:
            last = chosen.side
    return points + ordered


def _may_follow(side: Side, last: Side | None) -> bool:
    return side is Side.NEUTRAL or last is None or side is not last


def next_request(floor: Floor, waiting: Iterable[Request]) -> Request | None:
    """Who the chair gives the floor to next, if anybody waits."""
    order = queue(floor, waiting)
    return order[0] if order else None


def interrupts(floor: Floor, kind: Kind) -> bool:
    """Whether a request alerts the chair at once, before the current speaker ends: a point
    of order does, except while a vote is open, when it waits for the result."""
    return kind is Kind.POINT_OF_ORDER and not floor.vote_open


def reorder(waiting: Sequence[Request], request_id: int, new_index: int) -> list[Request]:
    """Move one speech to `new_index` among the waiting speeches; positions become 1..n.
    Points are not moved: their precedence is the rule, not the chair's choice."""
    speeches = [r for r in queue(Floor(), waiting) if r.kind is Kind.SPEECH]
    moving = next((r for r in speeches if r.id == request_id), None)
    if moving is None:
        raise Invalid(t("Request {request_id} is not a waiting speech.", request_id=request_id))
    if not 0 <= new_index < len(speeches):
        raise Invalid(
            t(
                "Position {position} is outside the list (1 to {count}).",
                position=new_index + 1,
                count=len(speeches),
            )
        )
    speeches.remove(moving)
    speeches.insert(new_index, moving)
    return [replace(r, position=i + 1) for i, r in enumerate(speeches)]


@dataclass(frozen=True)
class Turn:
    """A speaker's time at the microphone: whole seconds, never a float."""

    nmo_id: int
    started_at: dt.datetime
    allotted_s: int
    extended_s: int = 0
    stopped_at: dt.datetime | None = None

    def spoken_s(self, now: dt.datetime) -> int:
        end = self.stopped_at if self.stopped_at is not None else now
        return max(0, int((end - self.started_at).total_seconds()))

    def remaining_s(self, now: dt.datetime) -> int:
        """Seconds left; below zero once the speaker runs over."""
        return self.allotted_s + self.extended_s - self.spoken_s(now)

    def extend(self, seconds: int) -> Turn:
        if self.stopped_at is not None:
            raise Conflict(t("This speaker has already finished."))
        if seconds <= 0:
            raise Invalid(t("An extension is a positive number of seconds."))
        return replace(self, extended_s=self.extended_s + seconds)


def speaking_totals(turns: Iterable[Turn], now: dt.datetime) -> dict[int, int]:
    """Each NMO's total speaking time in seconds, a running turn counted up to `now`."""
    totals: dict[int, int] = {}
    for turn in turns:
        totals[turn.nmo_id] = totals.get(turn.nmo_id, 0) + turn.spoken_s(now)
    return totals


class Motion(StrEnum):
    """Procedural motions a delegate can raise from the phone (the assembly chooses which)."""

    ADOPT_AGENDA = "adopt_agenda"
    CHANGE_AGENDA = "change_agenda"
    CLOSE_LIST = "close_list"
    PROCEED_TO_VOTE = "proceed_to_vote"
    POSTPONE = "postpone"
    REOPEN_DEBATE = "reopen_debate"
    SUSPEND_SESSION = "suspend_session"
    OVERRULE_CHAIR = "overrule_chair"
    NO_CONFIDENCE = "no_confidence"


MOTION_KINDS = tuple(m.value for m in Motion)

MOTION_LABELS = {
    Motion.ADOPT_AGENDA: t("Adopt the agenda"),
    Motion.CHANGE_AGENDA: t("Change the agenda"),
    Motion.CLOSE_LIST: t("Close the speakers' list"),
    Motion.PROCEED_TO_VOTE: t("Proceed to vote"),
    Motion.POSTPONE: t("Postpone the item"),
    Motion.REOPEN_DEBATE: t("Reopen the debate"),
    Motion.SUSPEND_SESSION: t("Suspend the session"),
    Motion.OVERRULE_CHAIR: t("Overrule the chair"),
    Motion.NO_CONFIDENCE: t("No confidence in the chair"),
}


@dataclass(frozen=True)
class Effect:
    """What an adopted procedural motion does to the item's floor."""

    floor: Floor
    clear_speeches: bool = False  # waiting speeches lose their turn
    postpone_item: bool = False
    suspend_session: bool = False


def motion_effect(floor: Floor, motion: Motion) -> Effect:
    """The floor after an adopted motion. Motions on the agenda and the chair change no list:
    their effect is the vote's record (the agenda has its own adoption and moves)."""
    if motion is Motion.CLOSE_LIST:
        return Effect(replace(floor, closed=True))
    if motion is Motion.PROCEED_TO_VOTE:
        return Effect(replace(floor, closed=True), clear_speeches=True)
    if motion is Motion.REOPEN_DEBATE:
        return Effect(replace(floor, closed=False))
    if motion is Motion.POSTPONE:
        return Effect(replace(floor, closed=True), clear_speeches=True, postpone_item=True)
    if motion is Motion.SUSPEND_SESSION:
        return Effect(floor, suspend_session=True)
    return Effect(floor)


class Objection(StrEnum):
    PENDING = "pending"
    PASSED = "passed"  # nobody objected in time: adopted without a vote
    OBJECTED = "objected"


def nemo_contra(
    asked_at: dt.datetime, seconds: int, objections: Iterable[dt.datetime], now: dt.datetime
) -> Objection:
    """ "Any objection?": one objection made before the time ran out defeats it; an objection
    after the deadline is too late; with none, the motion passes once the time is over."""
    deadline = asked_at + dt.timedelta(seconds=seconds)
    if any(asked_at <= at < deadline for at in objections):
        return Objection.OBJECTED
    return Objection.PASSED if now >= deadline else Objection.PENDING
