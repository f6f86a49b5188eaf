"""Callbacks in the store: the records of deliveries and signing secrets, and the part of the
store protocol that keeps them (the outbox, the senders' claims, the secrets' rotation).

A delivery is the report of one status change of one task, written with that change; senders
claim, send and finish them (:mod:`kirin_api.webhooks.deliverer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from kirin_api.contract.status import TaskStatus

if TYPE_CHECKING:
    from kirin_api.store.base import TaskRecord

DeliveryState = Literal["pending", "delivered", "failed", "gone"]
DeliveryOutcome = Literal["delivered", "retry", "failed", "gone"]


@dataclass(frozen=True)
class DeliveryRecord:
    """One callback to send: the report of one status change of one task."""

    id: str  # the ``webhook-id``: the same for every retry
    task_id: str
    account_id: str
    seq: int  # 1, 2, 3 ... in the order of the task's status changes
    status_reported: TaskStatus
    state: DeliveryState
    attempts: int
    next_attempt_at: float | None  # None once it is no longer pending
    last_attempt_at: float | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: float | None
    created_at: float


@dataclass(frozen=True)
class ClaimedDelivery:
    """What a sender needs to send a claimed delivery; ``attempt`` fences its result."""

    delivery: DeliveryRecord
    # The task as the status change left it (status, progress, result ... of that moment).
    task: TaskRecord
    callback_url: str
    # The keys to sign with: the current secret first, then the previous one during a rotation.
    signing_keys: list[bytes]

    @property
    def attempt(self) -> int:
        return self.delivery.attempts


@dataclass(frozen=True)
class WebhookSecrets:
    account_id: str
    current: bytes
    previous: bytes | None  # signs too while a rotation is in progress
    previous_expires_at: float | None

    def signing_keys(self, now: float) -> list[bytes]:
        """The current secret, then the previous one while its rotation has not expired."""
        keys = [self.current]
        if (
            self.previous is not None
            and self.previous_expires_at is not None
            and now < self.previous_expires_at
        ):
            keys.append(self.previous)
        return keys


class DeliveryStore(Protocol):
    # Every status change of a task (create_task, claim from pending and claim's failing/cancelling
    # of lease-expired tasks, complete, fail, mark_cancelled, request_cancel of a pending task)
    # also writes, in its own transaction, one delivery for a task that has a callback_url: a
    # snapshot of the task as that change left it (see DeliveryRecord).

    def claim_delivery(self, lease_seconds: float) -> ClaimedDelivery | None:
        """Take the pending delivery that is due soonest, skipping those of a task whose earlier
        delivery is still pending (deliveries of one task go out in order). Its ``attempts``
        goes up by one (the fence for :meth:`finish_delivery`) and it is leased for
        ``lease_seconds``: nobody else sends it meanwhile; if the sender dies, it is taken again
        once the lease expires. One statement's worth of locking, as the store's ``claim``."""
        ...

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
        """Record how attempt ``attempt`` went: ``delivered``; ``retry`` (again in ``retry_in``
        seconds); ``failed`` (given up); ``gone`` (the receiver answered 410: this and every
        pending and future delivery of the task are dropped). False if the attempt no longer
        holds the delivery (its lease expired and another sender took it)."""
        ...

    def next_delivery_due(self) -> float | None:
        """When the earliest pending delivery is due (a read, no lock), None if there is none."""
        ...

    def list_deliveries(self, account_id: str, task_id: str) -> list[DeliveryRecord] | None:
        """The task's deliveries in order; None when there is no such task for this account."""
        ...

    def webhook_secrets(self, account_id: str) -> WebhookSecrets:
        """The account's signing secrets, the current one created (32 random bytes) if new."""
        ...

    def rotate_webhook_secret(self, account_id: str, grace_seconds: float) -> WebhookSecrets:
        """A new current secret; the old one keeps signing for ``grace_seconds`` (or until
        :meth:`finish_webhook_rotation`). Rotating again mid-rotation drops the oldest."""
        ...

    def finish_webhook_rotation(self, account_id: str) -> WebhookSecrets:
        """Stop signing with the previous secret now."""
        ...
