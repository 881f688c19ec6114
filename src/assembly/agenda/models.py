"""Tables of the agenda domain: the items the plenary works through, one of them current."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
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
