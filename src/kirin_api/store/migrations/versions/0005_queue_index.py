"""The queue: a partial index of the unfinished tasks in id order, for claiming.

A claim takes the oldest claimable task (``ORDER BY id LIMIT 1``). Without this index the search
either walks the primary key through every finished task of the table's history, or gathers
every pending task and sorts them: per claim, work that grows with the table. This index holds
only the pending and processing tasks, so the oldest claimable one is at or near its start.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('pending', 'processing')"


def upgrade() -> None:
    op.create_index(
        "ix_tasks_queue",
        "tasks",
        ["id"],
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_queue", table_name="tasks")
