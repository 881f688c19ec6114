"""Tables of the credentials domain: the assembly, NMOs, delegates, rights, proxies, logins."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from assembly.agenda.speakers import MOTION_KINDS
from assembly.db import Base, FractionType, UTCDateTime, utcnow

MEMBER_CLASSES = ("full", "candidate", "associate", "suspended")
DELEGATE_ROLES = ("head", "delegate", "observer")
STAFF_ROLES = ("secretariat", "chair", "desk")
MAJORITY_RULES = ("simple", "absolute", "two_thirds", "three_quarters", "unanimous")
# When a vote's result reaches the public record: at its close, when its plenary session ends,
# or when the secretariat publishes it.
PUBLISH_RESULTS = ("at_close", "session_end", "manual")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


ALL_MOTIONS = ",".join(MOTION_KINDS)


class Assembly(Base):
    """One General Assembly with the rule settings RULES.md lets each federation tune."""

    __tablename__ = "assembly"

    name: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200), default="")
    starts_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    ends_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Quorum: `quorum_share` of the Full Members, "more than" when strict, else "at least".
    quorum_share: Mapped[Fraction] = mapped_column(FractionType, default=Fraction(1, 2))
    quorum_strict: Mapped[bool] = mapped_column(Boolean, default=True)
    quorum_counts_proxies: Mapped[bool] = mapped_column(Boolean, default=False)
    open_without_quorum: Mapped[bool] = mapped_column(Boolean, default=False)
    proxies_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    max_proxies: Mapped[int] = mapped_column(Integer, default=1)
    proxy_deadline: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    self_checkin: Mapped[bool] = mapped_column(Boolean, default=False)
    vote_change_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    validity_turnout: Mapped[Fraction | None] = mapped_column(FractionType, nullable=True)
    majority_ordinary: Mapped[str] = mapped_column(String(20), default="simple")
    majority_procedural: Mapped[str] = mapped_column(String(20), default="two_thirds")
    majority_amendment: Mapped[str] = mapped_column(String(20), default="simple")
    majority_policy: Mapped[str] = mapped_column(String(20), default="two_thirds")
    majority_constitution: Mapped[str] = mapped_column(String(20), default="two_thirds")
    majority_bylaws: Mapped[str] = mapped_column(String(20), default="two_thirds")
    majority_membership: Mapped[str] = mapped_column(String(20), default="two_thirds")
    abstentions_in_base: Mapped[bool] = mapped_column(Boolean, default=False)
    bylaws_deadline_days: Mapped[int] = mapped_column(Integer, default=30)
    constitution_deadline_days: Mapped[int] = mapped_column(Integer, default=90)
    policy_validity_years: Mapped[int] = mapped_column(Integer, default=3)
    # Amendments to policies and position papers close at this moment (None: open until the
    # final vote on the text); constitution and bylaws close the days above before starts_on.
    policy_amendment_deadline: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )
    agenda_adopted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # One of PUBLISH_RESULTS, checked by the settings code (a CHECK would make SQLite copy the
    # table every other table refers to).
    publish_results: Mapped[str] = mapped_column(
        String(16), default="at_close", server_default="at_close"
    )
    # The procedural motions a delegate may raise from the phone, comma-separated (the API
    # gives and takes a list); checked by the settings code, as above.
    procedural_motions: Mapped[str] = mapped_column(
        String(300), default=ALL_MOTIONS, server_default=ALL_MOTIONS
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    nmos: Mapped[list[Nmo]] = relationship(back_populates="assembly", order_by="Nmo.code")

    __table_args__ = (
        CheckConstraint("max_proxies >= 0", name="max_proxies_not_negative"),
        *(
            CheckConstraint(_in(col, MAJORITY_RULES), name=f"{col}_known")
            for col in (
                "majority_ordinary",
                "majority_procedural",
                "majority_amendment",
                "majority_policy",
                "majority_constitution",
                "majority_bylaws",
                "majority_membership",
            )
        ),
    )


class Nmo(Base):
    """A National Member Organization as registered for one assembly."""

    __tablename__ = "nmo"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(100), default="")
    member_class: Mapped[str] = mapped_column(String(12), default="full")
    weight: Mapped[Fraction] = mapped_column(FractionType, default=Fraction(1))
    credentialed: Mapped[bool] = mapped_column(Boolean, default=False)
    credentialed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    assembly: Mapped[Assembly] = relationship(back_populates="nmos")
    delegates: Mapped[list[Delegate]] = relationship(
        back_populates="nmo", order_by="Delegate.id", foreign_keys="Delegate.nmo_id"
    )
    voting_right: Mapped[VotingRight | None] = relationship(back_populates="nmo", uselist=False)

    __table_args__ = (
        UniqueConstraint("assembly_id", "code", name="uq_nmo_assembly_code"),
        CheckConstraint(_in("member_class", MEMBER_CLASSES), name="member_class_known"),
    )


class Delegate(Base):
    """A person in an NMO's delegation; logs in with the personal link on their card."""

    __tablename__ = "delegate"

    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    role: Mapped[str] = mapped_column(String(12), default="delegate")
    language: Mapped[str] = mapped_column(String(8), default="en")
    checked_in: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The login token itself is kept encrypted (so cards can be reprinted) and looked up by
    # its hash; a database dump alone does not log anybody in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_sealed: Mapped[str] = mapped_column(Text)
    token_issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    nmo: Mapped[Nmo] = relationship(back_populates="delegates", foreign_keys=[nmo_id])

    __table_args__ = (
        CheckConstraint(_in("role", DELEGATE_ROLES), name="role_known"),
        # One head of delegation per NMO, enforced by the database.
        Index(
            "uq_delegate_one_head",
            "nmo_id",
            unique=True,
            sqlite_where=text("role = 'head'"),
            postgresql_where=text("role = 'head'"),
        ),
    )


class VotingRight(Base):
    """The vote of one NMO, held by exactly one of its delegates at a time."""

    __tablename__ = "voting_right"

    nmo_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"), unique=True)
    holder_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="SET NULL"), nullable=True
    )

    nmo: Mapped[Nmo] = relationship(back_populates="voting_right", foreign_keys=[nmo_id])
    holder: Mapped[Delegate | None] = relationship(foreign_keys=[holder_id])


class Proxy(Base):
    """An NMO's vote handed to another NMO; standing while `revoked_at` is empty."""

    __tablename__ = "proxy"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="CASCADE"))
    giver_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("nmo.id", ondelete="CASCADE"))
    given_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    given_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(120), nullable=True)

    giver: Mapped[Nmo] = relationship(foreign_keys=[giver_id])
    holder: Mapped[Nmo] = relationship(foreign_keys=[holder_id])

    __table_args__ = (
        CheckConstraint("giver_id <> holder_id", name="not_to_self"),
        # At most one standing proxy per giving NMO, enforced by the database.
        Index(
            "uq_proxy_one_standing_per_giver",
            "giver_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class CredentialEvent(Base):
    """Append-only record of every credentials change (who, when, what, why).

    Rows are never updated or deleted: the ORM refuses it here, and triggers in the
    migration refuse it in the database. The audit log consumes this table.
    """

    __tablename__ = "credential_event"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="RESTRICT"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    nmo_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delegate_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")


class StaffUser(Base):
    """A secretariat, chair or credentials-desk account, logging in with a password."""

    __tablename__ = "staff_user"

    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (CheckConstraint(_in("role", STAFF_ROLES), name="role_known"),)


class LoginSession(Base):
    """A browser session; the cookie holds a random secret, the table only its hash."""

    __tablename__ = "login_session"

    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=True, index=True
    )
    delegate_id: Mapped[int | None] = mapped_column(
        ForeignKey("delegate.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("(staff_user_id IS NULL) <> (delegate_id IS NULL)", name="one_principal"),
    )


class AuthGeneration(Base):
    """One row counting the changes to who a session cookie belongs to. Triggers (migration
    0013) add one whenever a login session is changed or deleted, or a delegate, staff user
    or NMO changes in what a session's principal holds, whichever process or command makes
    the change. Each server process reads it at most every GENERATION_CHECK_S and forgets
    the principals it remembers when it has moved (credentials/principals.py)."""

    __tablename__ = "auth_generation"

    n: Mapped[int] = mapped_column(BigInteger, default=0)


def _refuse_change(mapper: Mapper[Any], connection: Any, target: CredentialEvent) -> None:
    raise RuntimeError("credential_event is append-only: rows are never updated or deleted")


event.listen(CredentialEvent, "before_update", _refuse_change)
event.listen(CredentialEvent, "before_delete", _refuse_change)
