"""Tables of the audit log: one append-only Merkle log per assembly (its entries, as the exact
canonical bytes that are hashed) and the signed checkpoints of it. Neither is ever updated or
deleted: the ORM refuses it and so do database triggers (migration 0006)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
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
    # second entry at the same place, which is how two writers racing are caught. The index
    # finds the few entries of one kind (a vote's result) among the many ballots.
    __table_args__ = (
        UniqueConstraint("assembly_id", "seq"),
        Index("ix_audit_entry_kind", "assembly_id", "kind", "seq"),
    )


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) of the log at `size`."""

    __tablename__ = "audit_checkpoint"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="RESTRICT"))
    size: Mapped[int] = mapped_column(Integer)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    # The public half of the key that signed it ("name+keyid+base64"), so that an export or a
    # public page needs no key file; None on checkpoints signed before migration 0007.
    verifier_key: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("assembly_id", "size"),)


class AuditWitness(Base):
    """A witness the secretariat registered for the assembly's log (usually run by a member
    NMO): its cosignature/v1 verifier key. Only registered witnesses' cosignatures are kept."""

    __tablename__ = "audit_witness"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(200))
    verifier_key: Mapped[str] = mapped_column(Text)
    nmo_id: Mapped[int | None] = mapped_column(
        ForeignKey("nmo.id", ondelete="RESTRICT"), default=None
    )
    added_by: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("assembly_id", "name"),)


class AuditCosignature(Base):
    """A witness's C2SP tlog-cosignature line on the checkpoint of `size`: published with it."""

    __tablename__ = "audit_cosignature"

    assembly_id: Mapped[int] = mapped_column(ForeignKey("assembly.id", ondelete="RESTRICT"))
    witness_id: Mapped[int] = mapped_column(ForeignKey("audit_witness.id", ondelete="RESTRICT"))
    size: Mapped[int] = mapped_column(Integer)
    line: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("witness_id", "size"),)


def _refuse_change(mapper: Mapper[Any], connection: Any, target: Any) -> None:
    raise RuntimeError(f"{target.__tablename__} is append-only: rows are never changed")


for _table in (AuditEntry, AuditCheckpoint, AuditCosignature):
    event.listen(_table, "before_update", _refuse_change)
    event.listen(_table, "before_delete", _refuse_change)
