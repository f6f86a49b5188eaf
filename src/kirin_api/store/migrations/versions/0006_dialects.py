"""Dialects: the dialect a task was created in, and access-key pairs for JWTs.

A task remembers its dialect so that its callbacks are rendered as its client expects them (the
Kling dialect's tasks report Kling's task data). An API key row may be an access-key pair: the
access key in clear and the secret key sealed with the server's secret key.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(
            sa.Column("dialect", sa.String(16), nullable=False, server_default="kirin")
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("access_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("sealed_secret", sa.Text(), nullable=True))
        batch.create_unique_constraint("uq_api_keys_access_key", ["access_key"])


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("uq_api_keys_access_key", type_="unique")
        batch.drop_column("sealed_secret")
        batch.drop_column("access_key")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("dialect")
