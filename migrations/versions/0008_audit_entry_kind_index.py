"""an index on the audit log's entries by kind, to find a vote's result among its ballots

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 09:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain CREATE INDEX (not a batch copy, which would drop the table's append-only
    # triggers): no row is rewritten.
    op.create_index("ix_audit_entry_kind", "audit_entry", ["assembly_id", "kind", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_entry_kind", table_name="audit_entry")
