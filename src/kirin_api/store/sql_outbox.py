"""Callbacks in :class:`~kirin_api.store.sql.SqlTaskStore`: the outbox written with each status
change, its deliveries as the sender claims and finishes them, and each account's signing
secrets (a mixin, as :mod:`.uploads`; the statements are :mod:`.outbox`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from sqlalchemy import Connection

from kirin_api.contract.ids import ulid
from kirin_api.store import outbox, queries
from kirin_api.store.base import StoreError
from kirin_api.store.delivery_records import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryRecord,
    WebhookSecrets,
)


class OutboxMixin:
    """Needs the store's ``_write``, ``_read`` and ``_clock``."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _clock: Callable[[], float]

    def _enqueue(self, conn: Connection, task_ids: Sequence[str]) -> None:
        """The outbox: inside the transaction of a status change, one delivery per changed task
        that has a callback_url. Committed with the change or not at all."""
        now = self._clock()
        for task_id in task_ids:
            outbox.enqueue_delivery(conn, "msg_" + ulid(now), task_id, now)

    def claim_delivery(self, lease_seconds: float) -> ClaimedDelivery | None:
        now = self._clock()
        with self._write() as conn:
            delivery = outbox.claim_next_delivery(
                conn, lease_expires_at=now + lease_seconds, now=now
            )
            if delivery is None:
                return None
            found = outbox.select_delivery_task(conn, delivery.id)
            if found is None:  # pragma: no cover - the foreign key keeps the task
                raise StoreError(f"the task of delivery {delivery.id} vanished")
            task, callback_url = found
            keys = self._webhook_secrets(conn, delivery.account_id).signing_keys(now)
        return ClaimedDelivery(
            delivery=delivery, task=task, callback_url=callback_url, signing_keys=keys
        )

    def finish_delivery(
        self,
        delivery_id: str,
        attempt: int,
        outcome: DeliveryOutcome,
        *,
        status_code: int | None = None,
        error: str | None = None,
        retry_in: float | None = None,
    ) -> bool:
        now = self._clock()
        if outcome == "retry":
            if retry_in is None:
                raise ValueError("a retry needs retry_in")
            state, next_attempt_at = "pending", now + max(retry_in, 0.0)
        else:
            state, next_attempt_at = outcome, None
        with self._write() as conn:
            record = outbox.finish_delivery(
                conn,
                delivery_id,
                attempt,
                state=state,
                next_attempt_at=next_attempt_at,
                status_code=status_code,
                error=error,
                now=now,
            )
            if record is not None and outcome == "gone":
                outbox.drop_pending_deliveries(conn, record.task_id)
        return record is not None

    def next_delivery_due(self) -> float | None:
        with self._read() as conn:
            return outbox.select_next_delivery_due(conn)

    def list_deliveries(self, account_id: str, task_id: str) -> list[DeliveryRecord] | None:
        with self._read() as conn:
            if queries.select_task(conn, account_id, task_id) is None:
                return None
            return outbox.select_deliveries(conn, account_id, task_id)

    def _webhook_secrets(self, conn: Connection, account_id: str) -> WebhookSecrets:
        outbox.insert_webhook_secret_if_absent(conn, account_id, os.urandom(32), self._clock())
        found = outbox.select_webhook_secrets(conn, account_id)
        if found is None:  # pragma: no cover - inserted or kept in the same transaction
            raise StoreError(f"the webhook secret of {account_id} vanished")
        return found

    def webhook_secrets(self, account_id: str) -> WebhookSecrets:
        with self._write() as conn:
            return self._webhook_secrets(conn, account_id)

    def rotate_webhook_secret(self, account_id: str, grace_seconds: float) -> WebhookSecrets:
        now = self._clock()
        with self._write() as conn:
            self._webhook_secrets(conn, account_id)
            rotated = outbox.rotate_webhook_secret(
                conn, account_id, os.urandom(32), now + grace_seconds, now
            )
        if rotated is None:  # pragma: no cover - ensured in the same transaction
            raise StoreError(f"the webhook secret of {account_id} vanished")
        return rotated

    def finish_webhook_rotation(self, account_id: str) -> WebhookSecrets:
        with self._write() as conn:
            self._webhook_secrets(conn, account_id)
            ended = outbox.end_webhook_rotation(conn, account_id)
        if ended is None:  # pragma: no cover - ensured in the same transaction
            raise StoreError(f"the webhook secret of {account_id} vanished")
        return ended
