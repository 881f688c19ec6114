"""Tables of the public record: the signed record bundles the secretariat makes, kept so that
`/record/{id}/bundle.zip` serves the latest one as it was signed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from assembly.db import Base, UTCDateTime, utcnow


class RecordBundle(Base):
    """One signed record bundle (a zip of the exports, the audit log and its checkpoint), as
    served: `sha256` is of `data`, so a copy found anywhere can be told apart from another."""

    __tablename__ = "record_bundle"

    assembly_id: Mapped[int] = mapped_column(
        ForeignKey("assembly.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
