"""The delivery loop: drains the webhook outbox that the store fills in the transaction of every
status change.

Each process that delivers (every worker process, and the API process of ``kirin serve``) runs a
:class:`Deliverer` on a few threads. A thread claims one due delivery at a time from the store
(a lease, fenced by the attempt number, so no two senders ever hold one delivery), builds the
body from the snapshot the delivery carries (the task object exactly as ``GET`` answers it for
that status change), signs it and POSTs it through the SSRF-safe fetcher. Then it records the
outcome:

- any 2xx: ``delivered``;
- 410 Gone: ``gone``, and every other pending delivery of that task too (the receiver said it
  wants no more of it);
- anything else (a 3xx, which is not followed; 4xx; 5xx; refused connection; timeout): tried
  again after the next delay of the retry schedule, grown by up to ``jitter`` at random so that
  receivers coming back up are not hit by every sender at once; ``failed`` once the schedule is
  used up. A URL that can never work (bad scheme, credentials, malformed host) fails at once;
  a refused *address* is retried, since DNS may change.

Deliveries of one task go out in order: the store hands out a delivery only once every earlier
delivery of its task is no longer pending. Idle, a thread only reads (when is the next delivery
due?) and sleeps until then, at most ``poll_interval``: an idle process never takes the write lock.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kirin_api.net.fetch import FetchError, SafeFetcher
from kirin_api.store.base import StoreUnavailable, TaskStore
from kirin_api.store.delivery_records import ClaimedDelivery, DeliveryOutcome
from kirin_api.views import ResultLinks, TaskRenderer, task_object
from kirin_api.webhooks.signing import webhook_headers

log = logging.getLogger("kirin_api.webhooks")

DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "kirin-api-webhooks/0.1"
MAX_BACKOFF_SECONDS = 10.0  # longest wait between looks while the database is unreachable
# FetchError reasons that no retry can fix: the URL itself is unusable.
_PERMANENT = frozenset({"invalid_url", "scheme", "userinfo", "host"})


def parse_schedule(text: str) -> tuple[float, ...]:
    """``KIRIN_WEBHOOK_RETRY_SCHEDULE``: comma-separated seconds (``"5,30,120"``), each > 0."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(
            f"the webhook retry schedule must be comma-separated seconds, got {text!r}"
        ) from None
    if not delays or any(not delay > 0 for delay in delays):
        raise ValueError(f"the webhook retry schedule needs delays above 0, got {text!r}")
    return delays


@dataclass(frozen=True)
class DeliveryConfig:
    """How deliveries are sent.

    ``schedule``: seconds to wait after the 1st, 2nd ... failed attempt (its length + 1 attempts
    in all). ``base_url``: where result links point when ``ResultLinks.public_url`` is unset.
    ``lease_seconds``: how long a claimed delivery is held (a sender that dies gives it back
    after this; longer than ``timeout``). ``threads``: senders per process.
    """

    schedule: tuple[float, ...]
    base_url: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    lease_seconds: float = 60.0
    poll_interval: float = 0.5
    jitter: float = 0.1
    threads: int = 2


class Deliverer:
    """Sends the outbox's callbacks; see the module docstring."""

    def __init__(
        self,
        store: TaskStore,
        links: ResultLinks,
        config: DeliveryConfig,
        *,
        sender: SafeFetcher | None = None,
        renderers: Mapping[str, TaskRenderer] | None = None,
        allow_private: bool = False,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if config.lease_seconds <= config.timeout:
            raise ValueError("the delivery lease must outlast the send timeout")
        self._store = store
        self._links = links
        # How the tasks of each dialect are rendered in their callbacks; the Kirin task object
        # for every other task (the store records the dialect a task was created in).
        self._renderers: Mapping[str, TaskRenderer] = renderers or {}
        self._config = config
        self._sender = sender or SafeFetcher(
            allow_private=allow_private, timeout=config.timeout, user_agent=USER_AGENT
        )
        self._clock = clock
        self._rng = rng

    # --- the loop ----------------------------------------------------------------------------

    def start(self, stop: threading.Event) -> list[threading.Thread]:
        """Run the loop on ``config.threads`` daemon threads until ``stop`` is set."""
        threads = [
            threading.Thread(target=self.run, args=(stop,), name=f"webhooks-{n}", daemon=True)
            for n in range(self._config.threads)
        ]
        for thread in threads:
            thread.start()
        return threads

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; nothing the store or a receiver does ends the loop."""
        backoff = self._config.poll_interval
        while not stop.is_set():
            try:
                if self.run_once():
                    backoff = self._config.poll_interval
                    continue
                wait = self._idle_wait()
                backoff = self._config.poll_interval
            except StoreUnavailable as exc:
                log.warning("database unavailable, deliveries wait %.1fs: %s", backoff, exc)
                wait, backoff = backoff, min(backoff * 2, MAX_BACKOFF_SECONDS)
            except Exception:  # a bug must not silently end deliveries for this process
                log.exception("webhook delivery loop error")
                wait = self._config.poll_interval
            stop.wait(wait)

    def run_once(self) -> bool:
        """Send one due delivery, if there is one; whether one was sent."""
        due = self._store.next_delivery_due()
        if due is None or due > self._clock():
            return False  # only a read: idle senders never take the write lock
        claimed = self._store.claim_delivery(self._config.lease_seconds)
        if claimed is None:
            return False  # another sender was faster
        self.deliver(claimed)
        return True

    def _idle_wait(self) -> float:
        due = self._store.next_delivery_due()
        if due is None:
            return self._config.poll_interval
        # At least a few ms: a delivery due now that another sender holds must not spin us.
        return min(self._config.poll_interval, max(due - self._clock(), 0.005))

    # --- one delivery ------------------------------------------------------------------------

    def deliver(self, claimed: ClaimedDelivery) -> DeliveryOutcome:
        """Send a claimed delivery once and record the outcome; the outcome."""
        delivery = claimed.delivery
        status_code: int | None = None
        try:
            body = self.body(claimed)
            timestamp = int(self._clock())
            headers = webhook_headers(delivery.id, timestamp, body, claimed.signing_keys)
            result = self._sender.post(
                claimed.callback_url, content=body, headers=headers, param="callback_url"
            )
        except FetchError as exc:
            permanent = exc.reason in _PERMANENT
            error = exc.message
        except StoreUnavailable:
            raise  # the lease runs out and the delivery is tried again; the loop backs off
        except Exception as exc:  # building the body (storage) failed: try again later
            log.exception("delivery %s could not be built", delivery.id)
            permanent, error = False, f"internal error: {type(exc).__name__}: {exc}"
        else:
            status_code = result.status_code
            if 200 <= status_code < 300:
                return self._finish(claimed, "delivered", status_code, None)
            if status_code == 410:
                error = "HTTP 410 Gone: no further deliveries for this task"
                return self._finish(claimed, "gone", status_code, error)
            permanent = False
            error = f"HTTP {status_code}"
            if 300 <= status_code < 400:
                error += f" redirect to {result.location!r} (redirects are not followed)"
        return self._retry_or_fail(claimed, status_code, error, permanent)

    def body(self, claimed: ClaimedDelivery) -> bytes:
        """The task of the delivery's status change, as ``GET`` in the task's dialect would
        answer it then (result URLs signed now, so they are fresh when received)."""
        render = self._renderers.get(claimed.task.dialect, task_object)
        obj = render(claimed.task, self._links, self._config.base_url)
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def retry_delay(self, attempts: int) -> float | None:
        """Seconds before the next try after ``attempts`` failed ones; None when out of tries."""
        schedule: Sequence[float] = self._config.schedule
        if attempts > len(schedule):
            return None
        return schedule[attempts - 1] * (1.0 + self._config.jitter * self._rng())

    def _retry_or_fail(
        self, claimed: ClaimedDelivery, status_code: int | None, error: str, permanent: bool
    ) -> DeliveryOutcome:
        delay = None if permanent else self.retry_delay(claimed.attempt)
        if delay is None:
            if not permanent:
                error = f"gave up after {claimed.attempt} attempts; last: {error}"
            return self._finish(claimed, "failed", status_code, error)
        log.info(
            "delivery %s (%s of task %s) attempt %d failed, next in %.1fs: %s",
            claimed.delivery.id,
            claimed.delivery.status_reported.value,
            claimed.delivery.task_id,
            claimed.attempt,
            delay,
            error,
        )
        return self._finish(claimed, "retry", status_code, error, retry_in=delay)

    def _finish(
        self,
        claimed: ClaimedDelivery,
        outcome: DeliveryOutcome,
        status_code: int | None,
        error: str | None,
        *,
        retry_in: float | None = None,
    ) -> DeliveryOutcome:
        recorded = self._store.finish_delivery(
            claimed.delivery.id,
            claimed.attempt,
            outcome,
            status_code=status_code,
            error=error[:1000] if error else None,
            retry_in=retry_in,
        )
        if not recorded:
            # Our lease ran out (a send slower than the lease); another sender has it now.
            log.warning("delivery %s: lease lost, outcome %s dropped", claimed.delivery.id, outcome)
        elif outcome in ("failed", "gone"):
            log.warning("delivery %s %s: %s", claimed.delivery.id, outcome, error)
        return outcome
