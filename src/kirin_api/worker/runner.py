"""The worker loop: claim a task, fetch its inputs, render it, store the video, finish the task.

One worker renders one task at a time; run several worker processes for parallelism. Claiming
and fetching happen beside the render (a claiming thread, and the tasks in hand of
:mod:`kirin_api.worker.prefetch`), so the render slot never waits on the network while a task
with ready inputs waits. Every way a task can end is written to the store: completed, failed
with the model's code, or cancelled.
A worker that dies leaves its task to the lease: another worker claims it once the lease expires,
and the store fails it with ``...098`` after too many lost attempts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image

from kirin_api.contract.errors import TaskErrorKind, TaskFailure, task_error_code
from kirin_api.contract.job import NO_VIDEO, RenderJob
from kirin_api.contract.pricing import PricingTable, format_cost
from kirin_api.contract.registry import output_spec, produces_video, render_seed, served_models
from kirin_api.engines.base import (
    DeferTask,
    ElementMaker,
    Engine,
    RenderCancelled,
    RenderControl,
    relays_upstream,
    slot_groups,
)
from kirin_api.logs import task_context
from kirin_api.media.encode import (
    EncodeCancelled,
)
from kirin_api.metrics import observe_render
from kirin_api.storage.base import BlobStorage, StorageError
from kirin_api.store.base import NewElement, StoreUnavailable, TaskRecord, TaskStore, WorkerInfo
from kirin_api.worker.inputs import InputPreparer, PreparedInputs
from kirin_api.worker.lease import LeaseKeeper
from kirin_api.worker.messages import clean_message
from kirin_api.worker.prefetch import (
    DEFAULT_PREFETCH_BYTES,
    DEFAULT_PREFETCH_TASKS,
    InHand,
    Ticket,
    input_bytes,
    peer_is_idle,
)
from kirin_api.worker.results import (
    encode_output,
    extension,
    sharpest_frame,
    take_delivered,
    verify_result,
)
from kirin_api.worker.slots import SlotHolder

log = logging.getLogger("kirin_api.worker")

# Share of the progress bar given to rendering and encoding; storing the result is the rest.
RENDER_SHARE = 0.95
# Longest wait between claims while the database is unreachable.
MAX_BACKOFF_SECONDS = 10.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class WorkerConfig:
    scratch_dir: Path
    worker_id: str
    lease_seconds: float = 60.0
    max_attempts: int = 3
    poll_interval: float = 0.5
    # Silent for this long, the worker is not live in the registry: beat well within it.
    stale_after: float = 30.0
    # The software's version, as the registry shows it.
    version: str = "unknown"
    # Tasks whose inputs are fetched at once beside the render, and their size caps in all.
    prefetch_tasks: int = DEFAULT_PREFETCH_TASKS
    prefetch_bytes: int = DEFAULT_PREFETCH_BYTES

    @property
    def registry_interval(self) -> float:
        return min(self.stale_after / 3, 5.0)

    @property
    def heartbeat_interval(self) -> float:
        # Several heartbeats per lease, and often enough for progress to look live to a poller
        # (a 5 s preview video renders in about 1.5 s).
        return min(self.lease_seconds / 4, 0.5)


class Worker:
    def __init__(
        self,
        store: TaskStore,
        storage: BlobStorage,
        engines: Mapping[str, Engine],
        pricing: PricingTable,
        config: WorkerConfig,
        inputs: InputPreparer,
    ) -> None:
        self._store = store
        self._storage = storage
        self._inputs = inputs
        self._engines = dict(engines)
        self._pricing = pricing
        self._config = config
        # What this worker claims: the models it has an engine for, and those that need none
        # (kirin_custom_elements only stores images).
        engineless = {model for model in served_models() if not produces_video(model)}
        self.models = sorted(set(self._engines) | engineless)
        self._started_at = time.time()
        # Set when the process is asked to stop: the task in hand is given back (see process).
        self._stopping = threading.Event()
        self._current_task: str | None = None
        # Upstreams' parallel-task limits, shared with every other worker through the store.
        self._slots = SlotHolder(
            store,
            {model: slot_groups(engine) for model, engine in self._engines.items()},
            holder=config.worker_id,
            seconds=config.lease_seconds,
        )

    def run(self, stop: threading.Event) -> None:
        """Claim and process tasks until ``stop`` is set (tasks in hand are given back)."""
        log.info("worker %s serving %s", self._config.worker_id, ", ".join(self.models))
        self._stopping = stop
        beats = threading.Thread(target=self._announce, args=(stop,), name="registry", daemon=True)
        beats.start()
        hand = InHand(self._config.prefetch_tasks, self._config.prefetch_bytes)
        claims = threading.Thread(target=self._claim_loop, args=(stop, hand), name="claims")
        claims.start()
        try:
            self._render_loop(stop, hand)
        finally:
            stop.set()
            hand.wake()
            claims.join()
            for ticket in hand.close():
                self._give_back(ticket)
            with contextlib.suppress(StoreUnavailable):
                self._store.unregister_worker(self._config.worker_id)

    def _announce(self, stop: threading.Event) -> None:
        """Register in the store's registry of workers, then heartbeat there until ``stop``."""
        registered = False
        while True:
            try:
                if not registered:
                    self._store.register_worker(self.info())
                    registered = True
                else:
                    self._store.beat_worker(self._config.worker_id, self._current_task)
            except StoreUnavailable as exc:
                log.warning("registry heartbeat failed: %s", exc)
            if stop.wait(self._config.registry_interval):
                return

    def info(self) -> WorkerInfo:
        """This worker as the registry shows it."""
        now = time.time()
        return WorkerInfo(
            id=self._config.worker_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            models=list(self.models),
            engines={model: engine.name for model, engine in self._engines.items()},
            version=self._config.version,
            started_at=self._started_at,
            last_seen=now,
            current_task=self._current_task,
        )

    def _claim_loop(self, stop: threading.Event, hand: InHand) -> None:
        """Keep the hand filled: claim while there is room (see :mod:`.prefetch`); and settle
        at once a ready task that was cancelled while it waited for the render slot."""
        backoff = self._config.poll_interval
        while not stop.is_set():
            try:
                for waiting in hand.take_stopped():
                    self._settle_waiting(waiting)
                ahead = hand.busy()
                if not hand.room_for_more() or (ahead and self._peer_is_idle()):
                    hand.wait(self._config.poll_interval)
                    continue
                ticket = self._claim(ahead=ahead)
            except StoreUnavailable as exc:
                log.warning("database unavailable, retrying in %.1fs: %s", backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            except Exception:  # never let one bad claim stop this worker from claiming
                log.exception("claiming failed; retrying in %.1fs", backoff)
                stop.wait(backoff)
                continue
            backoff = self._config.poll_interval
            if ticket is None:
                # Woken at once by a new task where the database can tell (PostgreSQL NOTIFY);
                # otherwise, and as the fallback, this is the poll interval.
                self._store.wait_for_work(self.models, self._config.poll_interval, stop)
                continue
            hand.start(ticket, self._prepare)

    def _render_loop(self, stop: threading.Event, hand: InHand) -> None:
        while not stop.is_set():
            ticket = hand.take_ready(self._config.poll_interval)
            if ticket is None:
                continue
            try:
                self._render(ticket)
            except Exception:  # the outcome could not be written: the lease brings it back
                log.exception("task %s: could not record how it ended", ticket.task.id)
            finally:
                hand.finished(ticket)

    def _settle_waiting(self, ticket: Ticket) -> None:
        """A ready task that must stop before its render (cancelled, lease lost, stopping)."""
        try:
            self._settled(ticket, ticket.control.check)
        finally:
            self._release(ticket)

    def run_once(self) -> TaskRecord | None:
        """Claim one task and process it, all on this thread; None when there was nothing to
        claim. Models whose upstream is at its parallel-task limit are not claimed."""
        ticket = self._claim(ahead=False)
        if ticket is None:
            return None
        if self._prepare(ticket):
            self._render(ticket)
        return ticket.task

    def _claim(self, *, ahead: bool) -> Ticket | None:
        """Claim one task. With tasks already in hand (``ahead``) only models that may be
        claimed ahead are (see :meth:`_claimed_alone`)."""
        holds = contextlib.ExitStack()
        try:
            if ahead:
                models = [m for m in self.models if not self._claimed_alone(m)]
                task = self._claim_of(models) if models else None
            else:
                claimable = holds.enter_context(self._slots.reserve(self.models))
                task = self._claim_of(claimable.models)
                claimable.keep_for(task.model if task is not None else None)
        except BaseException:
            holds.close()
            raise
        if task is None:
            holds.close()
            return None
        log.info("task %s (%s) attempt %d", task.id, task.model, task.attempt)
        workdir = self._config.scratch_dir / f"{task.id}-{task.attempt}"
        workdir.mkdir(parents=True, exist_ok=True)
        lease = LeaseKeeper(
            self._store,
            task.id,
            task.attempt,
            lease_seconds=self._config.lease_seconds,
            interval=self._config.heartbeat_interval,
            also=self._slots.renew,
        )
        lease.__enter__()
        control = RenderControl(
            report_progress=lambda f: lease.set_progress(RENDER_SHARE * f),
            should_stop=lambda: lease.should_stop() or self._stopping.is_set(),
            cancelled=lambda: lease.cancel_requested,
        )
        return Ticket(task, lease, control, workdir, holds, input_bytes(task))

    def _claim_of(self, models: list[str]) -> TaskRecord | None:
        return self._store.claim(
            self._config.worker_id, models, self._config.lease_seconds, self._config.max_attempts
        )

    def _peer_is_idle(self) -> bool:
        config = self._config
        return peer_is_idle(self._store, config.worker_id, self.models, config.stale_after)

    def _claimed_alone(self, model: str) -> bool:
        """Tasks never claimed ahead: an upstream's slots are held one task at a time, and a
        relay's "render" waits on the network anyway (there is no render slot to keep busy)."""
        engine = self._engines.get(model)
        return engine is not None and (bool(slot_groups(engine)) or relays_upstream(engine))

    def _prepare(self, ticket: Ticket) -> bool:
        """Fetch and check the inputs of ``ticket``; False if the task ended here (its status
        is written and the ticket released)."""
        task, control = ticket.task, ticket.control

        def prepare() -> None:
            engine = self._engines.get(task.model)
            ticket.prepared = self._inputs.prepare(
                task,
                ticket.workdir,
                control.check,
                should_stop=control.should_stop,
                classify_urls=engine is not None and relays_upstream(engine),
            )

        try:
            if self._settled(ticket, prepare):
                return True
        except Exception:  # writing the outcome failed: the lease brings the task back
            log.exception("task %s: could not record how its preparation ended", task.id)
        self._release(ticket)
        return False

    def _render(self, ticket: Ticket) -> None:
        self._current_task = ticket.task.id
        try:
            self._settled(ticket, lambda: self._run_task(ticket))
        finally:
            self._current_task = None
            self._release(ticket)

    def _settled(self, ticket: Ticket, step: Callable[[], None]) -> bool:
        """Run ``step``; True if it returned, else write how the task ended (every way)."""
        task, lease = ticket.task, ticket.lease
        try:
            with task_context(task.id, task.model):
                step()
            return True
        except (RenderCancelled, EncodeCancelled):
            if lease.cancel_requested:
                self._store.mark_cancelled(task.id, task.attempt)
                log.info("task %s cancelled", task.id)
            elif self._stopping.is_set() and not lease.lease_lost:
                # Given back at once, not left for its lease to expire: not a lost attempt.
                if self._store.defer(task.id, task.attempt, 0.0):
                    log.info("task %s given back: this worker is stopping", task.id)
            else:
                log.warning("task %s abandoned: its lease went to another worker", task.id)
        except DeferTask as wait:
            if self._store.defer(task.id, task.attempt, wait.seconds):
                log.info("task %s back in the queue for %.1fs: %s", task.id, wait.seconds, wait)
        except TaskFailure as failure:
            self._fail(ticket, failure.kind, failure.message)
        except MemoryError:
            self._fail(ticket, TaskErrorKind.RESOURCE_INSUFFICIENT, "the engine ran out of memory")
        except (StoreUnavailable, StorageError) as exc:
            # The task stays processing; once its lease expires another attempt is made.
            log.warning("task %s left for a retry: %s", task.id, exc)
        except Exception as exc:
            log.exception("task %s failed in the engine", task.id)
            self._fail(ticket, TaskErrorKind.INTERNAL, f"internal generation error: {exc}")
        return False

    def _give_back(self, ticket: Ticket) -> None:
        """A ready task this stopping worker will not render: back to the queue at once."""
        with contextlib.suppress(StoreUnavailable):
            self._store.defer(ticket.task.id, ticket.task.attempt, 0.0)
        self._release(ticket)

    def _release(self, ticket: Ticket) -> None:
        ticket.lease.__exit__(None, None, None)
        with contextlib.suppress(StoreUnavailable):
            ticket.holds.close()
        shutil.rmtree(ticket.workdir, ignore_errors=True)

    def _fail(self, ticket: Ticket, kind: TaskErrorKind, message: str) -> None:
        task = ticket.task
        # Users read this: never a path of ours (scratch, work dir) or a traceback.
        hidden = (str(ticket.workdir), str(self._config.scratch_dir))
        message = clean_message(message, hidden)
        if not self._store.fail(task.id, task.attempt, task_error_code(task.model, kind), message):
            log.warning("could not record failure of %s: lease lost", task.id)

    def _run_task(self, ticket: Ticket) -> None:
        task, workdir, control = ticket.task, ticket.workdir, ticket.control
        started = time.monotonic()
        engine = self._engines.get(task.model)
        relays = engine is not None and relays_upstream(engine)
        prepared = ticket.prepared
        assert prepared is not None
        control.check()
        video = produces_video(task.model)
        spec = output_spec(task.model, task.params, prepared.facts) if video else NO_VIDEO
        job = RenderJob(
            task_id=task.id,
            model=task.model,
            params=task.params,
            spec=spec,
            seed=render_seed(task.model, task.params),
            inputs={param: str(path) for param, path in prepared.paths.items()},
            workdir=str(workdir),
            public_urls=frozenset(prepared.public_urls),
            element_refs=prepared.element_refs,
        )
        if not video:
            upstream: dict[str, str] = {}
            if relays and isinstance(engine, ElementMaker):
                upstream = engine.make_element(job, control)
            self._finish_element(task, prepared, workdir, upstream)
            return
        assert engine is not None
        output = engine.render(job, control)
        watermarked = bool(task.params.get("watermark_info", {}).get("enabled"))
        clean_path = workdir / "video.mp4"
        marked_path = workdir / "video_watermarked.mp4"
        if output.video_path is not None:
            take_delivered(output, clean_path, marked_path if watermarked else None)
        else:
            encode_output(
                output,
                spec,
                clean_path,
                marked_path if watermarked else None,
                on_progress=control.report_progress,
                should_stop=control.should_stop,
            )
        render_seconds = time.monotonic() - started
        verify_result(clean_path, spec)
        control.check()

        content: dict[str, Any] = {
            "type": "video",
            "key": f"results/{task.id}/video.mp4",
            "duration": spec.duration,
        }
        self._storage.put_file(content["key"], clean_path, "video/mp4")
        if watermarked:
            content["watermark_key"] = f"results/{task.id}/video_watermarked.mp4"
            self._storage.put_file(content["watermark_key"], marked_path, "video/mp4")
        metadata = {
            "engine": engine.name,
            **output.metadata,
            "width": spec.width,
            "height": spec.height,
            "fps": spec.fps,
            "frames": spec.frames,
            "render_seconds": round(render_seconds, 3),
        }
        cost = self._pricing.cost(task.model, task.params, seconds=spec.duration)
        if self._complete(task, content, cost, metadata):
            log.info("task %s completed in %.2fs", task.id, render_seconds)
            observe_render(task.model, str(metadata["engine"]), render_seconds)

    def _complete(
        self, task: TaskRecord, content: dict[str, Any], cost: Decimal, metadata: dict[str, Any]
    ) -> bool:
        """Record the task's one output and charge ``cost``; False if the lease was lost."""
        result = {
            "content": [content],
            "job_id": f"{task.id}-{task.attempt}",
            "discount": self._pricing.discount_value(),
        }
        done = self._store.complete(task.id, task.attempt, result, format_cost(cost), metadata)
        if not done:
            log.warning("task %s finished but its lease was lost; result dropped", task.id)
        return done

    def _finish_element(
        self,
        task: TaskRecord,
        prepared: PreparedInputs,
        workdir: Path,
        upstream: dict[str, str],
    ) -> None:
        """A ``kirin_custom_elements`` task: store the subject's images and the element (and
        where it exists upstream, when an upstream engine made it there too)."""
        params = task.params
        prefix = f"elements/{task.id}"
        if params["reference_type"] == "video_refer":
            video = prepared.paths["element_video_list.video_url"]
            frontal = workdir / "frontal.png"
            Image.fromarray(sharpest_frame(video)).save(frontal)
            frontal_key = f"{prefix}/frontal.png"
            self._storage.put_file(frontal_key, frontal, "image/png")
            refer_keys: list[str] = []
        else:
            frontal_param = "element_image_list.frontal_image"
            frontal_key = f"{prefix}/frontal{extension(prepared.facts[frontal_param])}"
            self._storage.put_file(frontal_key, prepared.paths[frontal_param], "image/*")
            refer_keys = []
            refer_params = sorted(
                (p for p in prepared.paths if p.startswith("element_image_list.refer_images.")),
                key=lambda p: int(p.split(".")[2]),
            )
            for index, param in enumerate(refer_params):
                key = f"{prefix}/refer_{index}{extension(prepared.facts[param])}"
                self._storage.put_file(key, prepared.paths[param], "image/*")
                refer_keys.append(key)
        element = self._store.create_element(
            NewElement(
                account_id=task.account_id,
                name=params["element_name"],
                description=params.get("element_description"),
                reference_type=params["reference_type"],
                frontal_key=frontal_key,
                refer_keys=refer_keys,
                source_task_id=task.id,
                upstream=upstream,
            )
        )
        engine = self._engines.get(task.model)
        metadata: dict[str, Any] = {"engine": engine.name if engine else "preview"}
        metadata["element_id"] = element.id
        if upstream:
            metadata["upstream_element_ids"] = upstream
        self._complete(
            task,
            {"type": "element", "element_id": element.id},
            self._pricing.cost(task.model, task.params),
            metadata,
        )
