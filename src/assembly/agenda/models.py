"""Tables of the agenda domain: plenary sessions and the items the plenary works through (one of
them current), the documents it debates as versions, and the amendments to them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from assembly.db import Base, UTCDateTime, utcnow

ITEM_KINDS = (
    "procedural",
    "report",
    "policy",
    "constitution",
    "bylaws",
    "election",
    "membership",
    "other",
)


DEFAULT_SPEAKING_TIME_S = 180


class PlenarySession(Base):
    """A sitting of the plenary with its planned start and end; agenda items belong to one."""

    __tablename__ = "plenary_session"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    # The session's attendance is in the public record from this moment (None: not yet).
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)


class AgendaItem(Base):
    """One point of the agenda; the chair makes one current and every screen follows it."""

    __tablename__ = "agenda_item"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16), default="other")
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("plenary_session.id", ondelete="SET NULL"), nullable=True
    )
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("document.id", ondelete="SET NULL"), nullable=True
    )
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    # The item's speakers' list: each speaker's time, closed to new speeches, sides asked.
    speaking_time_s: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_SPEAKING_TIME_S, server_default=str(DEFAULT_SPEAKING_TIME_S)
    )
    list_closed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    sides: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in ITEM_KINDS)})", name="kind_known"),
        # At most one current item per assembly, enforced by the database.
        Index(
            "uq_agenda_item_one_current",
            "assembly_id",
            unique=True,
            sqlite_where=text("is_current"),
            postgresql_where=text("is_current"),
        ),
    )


class AgendaEvent(Base):
    """What happened to the agenda, in order: items added or moved, the agenda adopted."""

    __tablename__ = "agenda_event"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


DOCUMENT_KINDS = ("policy", "position_paper", "constitution", "bylaws")


class Document(Base):
    """A text the assembly works on (a policy, a position paper, the constitution, the bylaws),
    kept as numbered versions; `current_version` is the one every screen shows."""

    __tablename__ = "document"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(300))
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    # The newest version; the one in force is the last version the plenary adopted (None
    # while a new text has not been adopted yet).
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    in_force_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The text in force and its history are in the public record from this moment.
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (
        CheckConstraint(
            f"kind IN ({', '.join(repr(k) for k in DOCUMENT_KINDS)})", name="kind_known"
        ),
    )


class DocumentVersion(Base):
    """One version of a document, never changed once written: its paragraphs as a JSON list of
    {"id", "text"} in order, and why it was made."""

    __tablename__ = "document_version"

    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    paragraphs: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (UniqueConstraint("document_id", "number"),)


AMENDMENT_STATES = ("submitted", "admitted", "withdrawn", "merged", "adopted", "rejected")
# The states in which an amendment still waits for the plenary.
PENDING_STATES = ("submitted", "admitted")
# The states whose changes are part of the text as amended.
APPLIED_STATES = ("merged", "adopted")


class Amendment(Base):
    """A proposed change to one version of a document, by an NMO; `changes` is a JSON list of
    {"op": "replace"|"insert"|"delete", ...} as amendments.py reads them. Its label is
    "A<number>", numbered per document."""

    __tablename__ = "amendment"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    version_number: Mapped[int] = mapped_column(Integer)
    degree: Mapped[int] = mapped_column(Integer, default=1)
    amends_id: Mapped[int | None] = mapped_column(
        ForeignKey("amendment.id", ondelete="CASCADE"), nullable=True
    )
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    rationale: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(12), default="submitted")
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_by: Mapped[str] = mapped_column(String(120), default="")
    revised_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("document_id", "number"),
        CheckConstraint(
            f"state IN ({', '.join(repr(s) for s in AMENDMENT_STATES)})", name="state_known"
        ),
        CheckConstraint("degree IN (1, 2)", name="degree_one_or_two"),
        CheckConstraint("(degree = 1) = (amends_id IS NULL)", name="second_degree_amends"),
    )

    @property
    def label(self) -> str:
        return f"A{self.number}"


class AmendmentSponsor(Base):
    """An NMO co-sponsoring an amendment."""

    __tablename__ = "amendment_sponsor"

    amendment_id: Mapped[int] = mapped_column(
        ForeignKey("amendment.id", ondelete="CASCADE"), index=True
    )
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))

    __table_args__ = (UniqueConstraint("amendment_id", "nmo_id"),)


class AmendmentEvent(Base):
    """The history of an amendment: submitted, revised, admitted (late: the chair's ruling),
    withdrawn, merged, put to the vote, adopted, rejected; never changed once written."""

    __tablename__ = "amendment_event"

    amendment_id: Mapped[int] = mapped_column(
        ForeignKey("amendment.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    vote_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


FLOOR_KINDS = ("speech", "point_of_order", "point_of_information")
FLOOR_SIDES = ("for", "against", "neutral")
FLOOR_STATES = ("waiting", "speaking", "done", "removed", "withdrawn")


class FloorRequest(Base):
    """A request for the floor on an agenda item, from a phone or added by the chair, and
    once given the floor, the speaker's turn: when it started and stopped, the time allowed."""

    __tablename__ = "floor_request"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_item.id", ondelete="CASCADE"), index=True
    )
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(24), default="speech")
    side: Mapped[str] = mapped_column(String(8), default="neutral")
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="waiting")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    allotted_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extended_s: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in FLOOR_KINDS)})", name="kind_known"),
        CheckConstraint(f"side IN ({', '.join(repr(k) for k in FLOOR_SIDES)})", name="side_known"),
        CheckConstraint(
            f"state IN ({', '.join(repr(k) for k in FLOOR_STATES)})", name="state_known"
        ),
        # One speaker at a time per item, and one waiting request per delegate and kind:
        # two phones tapping at once store one request, whatever the timing.
        Index(
            "uq_floor_request_one_speaker",
            "item_id",
            unique=True,
            sqlite_where=text("state = 'speaking'"),
            postgresql_where=text("state = 'speaking'"),
        ),
        Index(
            "uq_floor_request_one_waiting",
            "item_id",
            "delegate_id",
            "kind",
            unique=True,
            sqlite_where=text("state = 'waiting'"),
            postgresql_where=text("state = 'waiting'"),
        ),
    )


MOTION_STATES = ("raised", "voting", "adopted", "rejected", "withdrawn", "dismissed")


class ProceduralMotion(Base):
    """A procedural motion raised from a phone: the chair puts it to a vote with one action
    (its effect follows the result) or rules it out; the raiser may withdraw it first."""

    __tablename__ = "procedural_motion"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_item.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(24))
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="SET NULL"), nullable=True
    )
    state: Mapped[str] = mapped_column(String(12), default="raised")
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    raised_by: Mapped[str] = mapped_column(String(120), default="")
    vote_id: Mapped[int | None] = mapped_column(
        ForeignKey("vote.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str] = mapped_column(String(120), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")

    __table_args__ = (
        CheckConstraint(
            f"state IN ({', '.join(repr(k) for k in MOTION_STATES)})", name="state_known"
        ),
        # A delegate raises a motion once; a second tap while it stands stores nothing.
        Index(
            "uq_procedural_motion_one_raised",
            "assembly_id",
            "delegate_id",
            "kind",
            unique=True,
            sqlite_where=text("state = 'raised'"),
            postgresql_where=text("state = 'raised'"),
        ),
    )


NEMO_OUTCOMES = ("pending", "passed", "objected")


class NemoContra(Base):
    """The chair asks "any objection?" on a motion: with no NMO objecting before the time is
    up, it passes without a vote, and the record says so."""

    __tablename__ = "nemo_contra"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    motion_id: Mapped[int] = mapped_column(
        ForeignKey("procedural_motion.id", ondelete="CASCADE"), index=True
    )
    asked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    seconds: Mapped[int] = mapped_column(Integer)
    asked_by: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(12), default="pending")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(
            f"outcome IN ({', '.join(repr(k) for k in NEMO_OUTCOMES)})", name="outcome_known"
        ),
    )


class NemoObjection(Base):
    """An NMO's objection to a motion the chair asked "any objection?" on: one per NMO."""

    __tablename__ = "nemo_objection"

    nemo_id: Mapped[int] = mapped_column(
        ForeignKey("nemo_contra.id", ondelete="CASCADE"), index=True
    )
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="SET NULL"), nullable=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("nemo_id", "nmo_id"),)


ROLL_CALL_VIA = ("phone", "desk")


class RollCall(Base):
    """The roll call of one plenary session: the chair opens it, each NMO answers from the
    phone or is marked at the desk, the chair closes it. It is the session's attendance in the
    record. At most one is open per assembly, and a session has one (reopened, not redone)."""

    __tablename__ = "roll_call"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    session_id: Mapped[int] = mapped_column(
        ForeignKey("plenary_session.id", ondelete="CASCADE"), unique=True
    )
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by: Mapped[str] = mapped_column(String(120), default="")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str] = mapped_column(String(120), default="")

    __table_args__ = (
        Index(
            "uq_roll_call_one_open",
            "assembly_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class RollCallAnswer(Base):
    """An NMO's answer to a roll call: present or absent, given from the phone (by the delegate
    named) or marked at the desk, by whom and when. One per NMO; the desk's later mark
    replaces it, and the agenda events keep each mark."""

    __tablename__ = "roll_call_answer"

    roll_call_id: Mapped[int] = mapped_column(
        ForeignKey("roll_call.id", ondelete="CASCADE"), index=True
    )
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    present: Mapped[bool] = mapped_column(Boolean)
    via: Mapped[str] = mapped_column(String(8))
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="SET NULL"), nullable=True
    )
    answered_by: Mapped[str] = mapped_column(String(120), default="")
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Two phones of one NMO tapping at once store one answer, whatever the timing.
        UniqueConstraint("roll_call_id", "nmo_id"),
        CheckConstraint(f"via IN ({', '.join(repr(v) for v in ROLL_CALL_VIA)})", name="via_known"),
    )
