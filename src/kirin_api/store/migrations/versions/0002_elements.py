"""The subject library: elements made by kirin_custom_elements tasks.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "elements",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reference_type", sa.String(32), nullable=False),
        sa.Column("frontal_key", sa.Text(), nullable=False),
        sa.Column("refer_keys", sa.Text(), nullable=False),
        sa.Column("source_task_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_elements"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_elements_account_id_accounts"
        ),
        sa.UniqueConstraint("source_task_id", name="uq_elements_source_task_id"),
    )
    op.create_index("ix_elements_account_id", "elements", ["account_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_elements_account_id", table_name="elements")
    op.drop_table("elements")
