"""Tables of the agenda domain: the items the plenary works through, one of them current."""

from __future__ import annotations

import datetime as dt

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


class AgendaItem(Base):
    """One point of the agenda; the chair makes one current and every screen follows it."""

    __tablename__ = "agenda_item"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16), default="other")
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120), default="")

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
    current_version: Mapped[int] = mapped_column(Integer, default=1)
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
