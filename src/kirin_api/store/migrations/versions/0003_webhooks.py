"""Webhooks: the delivery outbox and the per-account signing secrets.

The secrets that ``GET /model/v1/webhook-secret`` used to hand out (rows ``webhook:<account id>``
of ``secrets``) are copied into ``webhook_secrets``, so receivers that already verify with them
keep working.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEGACY_PREFIX = "webhook:"


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status_reported", sa.String(16), nullable=False),
        sa.Column("progress", sa.Double(), nullable=False),
        sa.Column("task_updated_at", sa.Double(), nullable=False),
        sa.Column("completed_at", sa.Double(), nullable=True),
        sa.Column("error_code", sa.String(16), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("usage_cost", sa.String(32), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Double(), nullable=True),
        sa.Column("lease_expires_at", sa.Double(), nullable=True),
        sa.Column("last_attempt_at", sa.Double(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name="fk_webhook_deliveries_task_id_tasks"
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_webhook_deliveries_account_id_accounts"
        ),
        sa.UniqueConstraint("task_id", "seq", name="uq_webhook_deliveries_task_id_seq"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "webhook_secrets",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("previous_secret", sa.LargeBinary(), nullable=True),
        sa.Column("previous_expires_at", sa.Double(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("rotated_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", name="pk_webhook_secrets"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_webhook_secrets_account_id_accounts"
        ),
    )
    # Carry over the secrets already handed out, for the accounts that still exist.
    secrets = sa.table(
        "secrets", sa.column("name", sa.String), sa.column("value"), sa.column("created_at")
    )
    accounts = sa.table("accounts", sa.column("id", sa.String))
    webhook_secrets = sa.table(
        "webhook_secrets",
        sa.column("account_id", sa.String),
        sa.column("secret"),
        sa.column("created_at"),
    )
    account_id = sa.func.substr(secrets.c.name, len(_LEGACY_PREFIX) + 1)
    legacy = sa.select(account_id, secrets.c.value, secrets.c.created_at).where(
        secrets.c.name.like(_LEGACY_PREFIX + "%"),
        account_id.in_(sa.select(accounts.c.id)),
    )
    op.execute(webhook_secrets.insert().from_select(["account_id", "secret", "created_at"], legacy))


def downgrade() -> None:
    op.drop_table("webhook_secrets")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
