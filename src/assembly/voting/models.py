"""Tables of the voting domain: votes, their options, the frozen electorate and ballots.

Secret ballots are split in two tables that share no key: `participation` says who voted
(NMO, receipt, time) and `secret_choice` holds what was chosen (option, weight, the phone's
tracker) under a random key, with no time and no reference to the NMO. On SQLite the choice
table is WITHOUT ROWID, so even the storage order follows the random key, not insertion.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from assembly.db import Base, FractionType, UTCDateTime, utcnow

VOTE_KINDS = ("motion", "procedural", "election")
VOTE_STATES = ("draft", "open", "closed", "cancelled")
MAJORITY_RULES = ("simple", "absolute", "two_thirds", "three_quarters", "unanimous")
BASES = ("cast", "cast_with_abstentions", "entitled")
ELECTION_METHODS = ("rounds", "instant_runoff", "stv", "block")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Vote(Base):
    """One question put to the plenary: a motion, a procedural motion or an election round."""

    __tablename__ = "vote"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(12), default="motion")
    question: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    rule: Mapped[str] = mapped_column(String(20), default="simple")
    base: Mapped[str] = mapped_column(String(24), default="cast")
    secret: Mapped[bool] = mapped_column(Boolean, default=False)
    seats: Mapped[int] = mapped_column(Integer, default=1)
    method: Mapped[str] = mapped_column(String(16), default="rounds")
    # An election's later rounds point at the first round's vote.
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("vote.id", ondelete="CASCADE"), nullable=True
    )
    round_no: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(12), default="draft")
    vote_change_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Frozen at opening: the weight of all Full Members (the "entitled" base) and of the
    # electorate present (for a validity turnout).
    entitled_weight: Mapped[Fraction | None] = mapped_column(FractionType, nullable=True)
    present_weight: Mapped[Fraction | None] = mapped_column(FractionType, nullable=True)
    quorum_met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    validity_turnout: Mapped[Fraction | None] = mapped_column(FractionType, nullable=True)
    countdown_ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Totals, the rule applied and the explanation, computed once at close (JSON, exact
    # numbers as text) so every screen and export shows the same result.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What the vote decides, when it is more than its question: "agenda" (subject_id: the
    # assembly), "amendment" or "document" (the final vote on a text as amended). Its
    # effect is applied when the vote closes (see SUBJECT_HOOKS in service.py).
    subject_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    on_projector: Mapped[bool] = mapped_column(Boolean, default=False)
    # The agenda item the plenary was on when the vote was prepared (its place in the record).
    agenda_item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # The result is in the public record from this moment (None: held by the secretariat).
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        CheckConstraint(_in("kind", VOTE_KINDS), name="kind_known"),
        CheckConstraint(_in("state", VOTE_STATES), name="state_known"),
        CheckConstraint(_in("rule", MAJORITY_RULES), name="rule_known"),
        CheckConstraint(_in("base", BASES), name="base_known"),
        CheckConstraint(_in("method", ELECTION_METHODS), name="method_known"),
        CheckConstraint("seats >= 1", name="seats_positive"),
        Index("ix_vote_subject", "subject_kind", "subject_id"),
        # Elections are always secret.
        CheckConstraint("kind <> 'election' OR secret", name="elections_secret"),
    )


class VoteOption(Base):
    """A choice on the ballot: yes / no / abstain, a candidate, or Re-open nominations."""

    __tablename__ = "vote_option"

    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("vote_id", "key", name="uq_vote_option_key"),)


class ElectorateEntry(Base):
    """The electorate frozen when the vote opened: one row per voting right that may vote."""

    __tablename__ = "electorate_entry"

    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"))
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    nmo_code: Mapped[str] = mapped_column(String(20))
    weight: Mapped[Fraction] = mapped_column(FractionType)
    cast_by_nmo_id: Mapped[int] = mapped_column(Integer)
    cast_by_delegate_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    via_proxy: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("vote_id", "nmo_id", name="uq_electorate_vote_nmo"),
        Index("ix_electorate_caster", "vote_id", "cast_by_delegate_id"),
    )


class ElectorateRow(NamedTuple):
    """One voting right of a vote's frozen electorate, as plain values: with 2,000 rights,
    loading or making them as ORM objects cost several times as much, in every opening,
    close and turnout push."""

    nmo_id: int
    nmo_code: str
    weight: Fraction
    cast_by_nmo_id: int
    cast_by_delegate_id: int | None
    via_proxy: bool


class Ballot(Base):
    """A named (roll-call) ballot: who voted what is public by design."""

    __tablename__ = "ballot"

    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"))
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    client_ballot_id: Mapped[str] = mapped_column(String(64))
    choice: Mapped[str] = mapped_column(Text)
    weight: Mapped[Fraction] = mapped_column(FractionType)
    cast_by_delegate_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    receipt: Mapped[str] = mapped_column(String(32))
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # One ballot per voting right per vote: the database decides, not Python.
        UniqueConstraint("vote_id", "nmo_id", name="uq_ballot_vote_nmo"),
    )


class Participation(Base):
    """Who has voted in a secret vote (and their receipt), never what they chose."""

    __tablename__ = "participation"

    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"))
    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    client_ballot_id: Mapped[str] = mapped_column(String(64))
    cast_by_delegate_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    receipt: Mapped[str] = mapped_column(String(32))
    cast_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("vote_id", "nmo_id", name="uq_participation_vote_nmo"),)


class SecretChoice(Base):
    """What was chosen in a secret vote: random key, no NMO, no time, no insertion order."""

    __tablename__ = "secret_choice"
    __table_args__ = ({"sqlite_with_rowid": False},)

    # Overrides the autoincrement id of the base: a random 63-bit key made by the writer.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    vote_id: Mapped[int] = mapped_column(ForeignKey("vote.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(Text)
    weight: Mapped[Fraction] = mapped_column(FractionType)
    tracker: Mapped[str] = mapped_column(String(32), default="")
