"""roll call: each plenary session's roll call and every NMO's answer to it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import assembly.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "roll_call",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "assembly_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("started_at", assembly.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=120), nullable=False),
        sa.Column("closed_at", assembly.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["assembly_id"],
            ["assembly.id"],
            name=op.f("fk_roll_call_assembly_id_assembly"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["plenary_session.id"],
            name=op.f("fk_roll_call_session_id_plenary_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_call")),
        sa.UniqueConstraint("session_id", name=op.f("uq_roll_call_session_id")),
    )
    op.create_index(op.f("ix_roll_call_assembly_id"), "roll_call", ["assembly_id"])
    op.create_index(
        "uq_roll_call_one_open",
        "roll_call",
        ["assembly_id"],
        unique=True,
        sqlite_where=sa.text("closed_at IS NULL"),
        postgresql_where=sa.text("closed_at IS NULL"),
    )
    op.create_table(
        "roll_call_answer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "roll_call_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("nmo_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column(
            "delegate_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("answered_by", sa.String(length=120), nullable=False),
        sa.Column("answered_at", assembly.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("via IN ('phone', 'desk')", name=op.f("ck_roll_call_answer_via_known")),
        sa.ForeignKeyConstraint(
            ["delegate_id"],
            ["delegate.id"],
            name=op.f("fk_roll_call_answer_delegate_id_delegate"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["nmo_id"], ["nmo.id"], name=op.f("fk_roll_call_answer_nmo_id_nmo"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["roll_call_id"],
            ["roll_call.id"],
            name=op.f("fk_roll_call_answer_roll_call_id_roll_call"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_call_answer")),
        sa.UniqueConstraint(
            "roll_call_id", "nmo_id", name=op.f("uq_roll_call_answer_roll_call_id")
        ),
    )
    op.create_index(op.f("ix_roll_call_answer_roll_call_id"), "roll_call_answer", ["roll_call_id"])


def downgrade() -> None:
    op.drop_table("roll_call_answer")
    op.drop_table("roll_call")
