"""Tables of the audit log: one append-only Merkle log per assembly (its entries, as the exact
canonical bytes that are hashed) and the signed checkpoints of it. Neither is ever updated or
deleted: the ORM refuses it and so do database triggers (migration 0006)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from assembly.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """Leaf `seq` (0-based) of the assembly's log: `data` is canonical JSON, hashed as is."""

    __tablename__ = "audit_entry"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The sequence numbers of one log are 0, 1, 2 ... with no gap: the database refuses a
    # second entry at the same place, which is how two writers racing are caught.
    __table_args__ = (UniqueConstraint("assembly_id", "seq"),)


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) of the log at `size`."""

    __tablename__ = "audit_checkpoint"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="RESTRICT"))
    size: Mapped[int] = mapped_column(Integer)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("assembly_id", "size"),)


def _refuse_change(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    raise RuntimeError(f"{target.__tablename__} is append-only: rows are never changed")


for _table in (AuditEntry, AuditCheckpoint):
    event.listen(_table, "before_update", _refuse_change)
    event.listen(_table, "before_delete", _refuse_change)
