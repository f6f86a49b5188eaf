"""The gateway: deferred tasks, elements known upstream, parallel-task slots of upstreams.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("deferrals", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("elements") as batch:
        batch.add_column(sa.Column("upstream", sa.Text(), nullable=False, server_default="{}"))
    op.create_table(
        "engine_slots",
        sa.Column("group_key", sa.String(200), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(64), nullable=True),
        sa.Column("expires_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("group_key", "slot", name="pk_engine_slots"),
    )


def downgrade() -> None:
    op.drop_table("engine_slots")
    with op.batch_alter_table("elements") as batch:
        batch.drop_column("upstream")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("deferrals")
