"""Money and limits: account balances, reservations, the unfinished-task limit.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("balance", sa.String(40), nullable=True))
        batch.add_column(sa.Column("reserved", sa.String(40), nullable=False, server_default="0"))
        batch.add_column(sa.Column("max_unfinished", sa.Integer(), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("reserved_cost", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("reserved_cost")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("max_unfinished")
        batch.drop_column("reserved")
        batch.drop_column("balance")
