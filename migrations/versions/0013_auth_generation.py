"""auth generation: a counter that moves whenever who a session cookie belongs to may change

Server processes remember each session's principal and read this counter at most every half
second to know when to forget (credentials/principals.py). Triggers move it, so changes made
by any process or command count.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from assembly.credentials.principals import (
    drop_generation_trigger_statements,
    generation_trigger_statements,
)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_generation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_generation")),
    )
    op.execute("INSERT INTO auth_generation (id, n) VALUES (1, 0)")
    for statement in generation_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_generation_trigger_statements(op.get_bind().dialect.name):
        op.execute(statement)
    op.drop_table("auth_generation")
