"""An engine that relays a task to an upstream service, exactly once, and brings its video back.

The flow, the same for every upstream dialect (:class:`UpstreamDialect` says how to speak it):

1. **Find or create.** The upstream task carries ``external_task_id`` = this task's id. Before
   creating, the engine looks it up by that id: a worker that died after the upstream's create
   (its lease expired, another worker took the task) finds the upstream task and carries on, so
   a paid upstream task is created at most once per task. A create that the upstream refuses as
   a duplicate id is a lookup too.
2. **Wait.** It polls with growing intervals, honouring the upstream's ``Retry-After``, passes
   the upstream's progress on, and stops (cancelling upstream where the dialect can) when the
   task is cancelled here.
3. **Bring back.** It downloads the video (and the watermarked one) into the task's directory;
   the worker checks it against the contract like any engine's output (``...096`` otherwise).

Upstream errors become the task's: parameters or content refused -> ``...099``; our keys or the
upstream account at fault -> ``...094`` (so a fallback engine may take over); the upstream's
rate or parallel-task limit -> the task waits in our queue (:class:`DeferTask`); no answer after
the retries -> ``...095``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from kirin_api.contract.errors import TaskErrorKind, TaskFailure
from kirin_api.contract.job import RenderJob
from kirin_api.contract.media import VideoRules
from kirin_api.contract.registry import media_refs
from kirin_api.engines.base import (
    DeferTask,
    RenderCancelled,
    RenderControl,
    RenderOutput,
    SlotGroup,
)
from kirin_api.engines.upstream.client import UpstreamClient, UpstreamError
from kirin_api.engines.upstream.options import UpstreamOptions

RemoteState = Literal["waiting", "running", "done", "failed"]
# Progress given to the upstream's work; downloading is the rest.
WORK_SHARE = 0.9
# How often a wait looks at cancellation.
CANCEL_CHECK_SECONDS = 0.2


@dataclass(frozen=True)
class Remote:
    """An upstream task as the dialect read it."""

    id: str
    state: RemoteState
    progress: float | None = None
    message: str = ""
    # Our kind of failure, where the upstream says (its own nine-digit code).
    failure: TaskErrorKind = TaskErrorKind.INTERNAL
    video_url: str | None = None
    watermark_url: str | None = None
    element_id: str | None = None
    cost: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class UpstreamDialect(Protocol):
    """How one upstream API is spoken: its paths, bodies and answers."""

    def find(self, client: UpstreamClient, job: RenderJob) -> Remote | None:
        """The upstream task whose external_task_id is ``job.task_id``, if there is one."""
        ...

    def create(self, client: UpstreamClient, job: RenderJob, params: dict[str, Any]) -> Remote:
        """Create the task from the relayed ``params`` (media and elements already mapped)."""
        ...

    def read(self, client: UpstreamClient, job: RenderJob, remote: Remote) -> Remote: ...

    def cancel(self, client: UpstreamClient, job: RenderJob, remote: Remote) -> None:
        """Cancel upstream where the API can (it may still bill for it)."""
        ...

    def headers(self) -> dict[str, str]:
        """Authentication for the next request."""
        ...


class UpstreamEngine:
    """The ``kling`` or ``kirin`` engine of one model's table (see ``options``)."""

    def __init__(
        self,
        options: UpstreamOptions,
        dialect: UpstreamDialect,
        client: UpstreamClient,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = options.engine
        self.relays_upstream = True
        self.options = options
        self.element_key = f"{options.engine}:{options.base_url}"
        self._dialect = dialect
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self.slot_group = (
            SlotGroup(f"{self.element_key}:{options.model}", options.max_concurrent)
            if options.max_concurrent
            else None
        )

    def supports(self, model: str) -> bool:
        return model == self.options.model

    def render(self, job: RenderJob, control: RenderControl) -> RenderOutput:
        remote = self._run(job, control)
        if remote.video_url is None:
            raise TaskFailure(TaskErrorKind.RESULT_PARSING, "the upstream gave no video URL")
        workdir = Path(job.workdir)
        video = workdir / "upstream.mp4"
        self._guarded(lambda: self._client.download(remote.video_url or "", video))
        marked = None
        if (job.params.get("watermark_info") or {}).get("enabled"):
            if remote.watermark_url is None:
                raise TaskFailure(
                    TaskErrorKind.RESULT_PARSING, "the upstream gave no watermarked video"
                )
            marked = workdir / "upstream_watermarked.mp4"
            self._guarded(lambda: self._client.download(remote.watermark_url or "", marked))
        control.report_progress(1.0)
        return RenderOutput(
            frames=iter(()),
            video_path=video,
            watermarked_path=marked,
            metadata=self._metadata(remote),
        )

    def make_element(self, job: RenderJob, control: RenderControl) -> dict[str, str]:
        remote = self._run(job, control)
        if remote.element_id is None:
            raise TaskFailure(TaskErrorKind.RESULT_PARSING, "the upstream gave no element id")
        return {self.element_key: remote.element_id}

    # --- the flow --------------------------------------------------------------------------

    def _run(self, job: RenderJob, control: RenderControl) -> Remote:
        params = relay_params(job, self.options.forward_private_urls, self.element_key)
        remote = self._guarded(lambda: self._find_or_create(job, params))
        remote = self._wait(job, remote, control)
        if remote.state == "failed":
            raise TaskFailure(remote.failure, f"the upstream task failed: {remote.message}")
        return remote

    def _find_or_create(self, job: RenderJob, params: dict[str, Any]) -> Remote:
        found = self._dialect.find(self._client, job)
        if found is not None:
            return found
        try:
            return self._dialect.create(self._client, job, params)
        except UpstreamError as exc:
            if exc.kind not in ("conflict", "bad_request"):
                raise
            # A create sent again after a lost answer may be refused as a duplicate id, by a
            # code that does not say so: if the task is there after all, it is ours.
            again = self._dialect.find(self._client, job)
            if again is not None:
                return again
            if exc.kind == "conflict":
                raise UpstreamError(
                    "unavailable", "the upstream refused a duplicate it cannot find"
                ) from exc
            raise

    def _wait(self, job: RenderJob, remote: Remote, control: RenderControl) -> Remote:
        deadline = self._clock() + self.options.timeout_seconds
        interval = self.options.poll_interval
        while remote.state in ("waiting", "running"):
            if remote.progress is not None:
                control.report_progress(WORK_SHARE * remote.progress)
            pause = interval
            try:
                self._pause(pause, job, remote, control)
                remote = self._dialect.read(self._client, job, remote)
            except UpstreamError as exc:
                if exc.kind != "busy":
                    raise self._translate(exc) from exc
                self._pause(exc.retry_after or interval, job, remote, control)
            if self._clock() > deadline:
                raise TaskFailure(
                    TaskErrorKind.INTERNAL,
                    f"the upstream task {remote.id} did not finish in "
                    f"{self.options.timeout_seconds:.0f}s",
                )
            interval = min(interval * 1.5, self.options.max_poll_interval)
        return remote

    def _pause(
        self, seconds: float, job: RenderJob, remote: Remote, control: RenderControl
    ) -> None:
        until = self._clock() + seconds
        while True:
            if control.should_stop():
                if control.cancelled():
                    # Best effort: the upstream may bill it anyway (docs/gateway.md).
                    with contextlib.suppress(UpstreamError):
                        self._dialect.cancel(self._client, job, remote)
                # Otherwise the task goes to another worker, which finds the upstream task.
                raise RenderCancelled
            left = until - self._clock()
            if left <= 0:
                return
            self._sleep(min(left, CANCEL_CHECK_SECONDS))

    def _guarded(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except UpstreamError as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: UpstreamError) -> Exception:
        where = f"upstream {self.name} at {self.options.base_url}"
        if exc.kind == "busy":
            return DeferTask(
                exc.retry_after or self.options.defer_seconds,
                f"{where} is at its rate or parallel-task limit: {exc.message}",
            )
        if exc.kind in ("bad_request", "refused"):
            return TaskFailure(
                TaskErrorKind.TASK_CREATION, f"{where} refused the task: {exc.message}"
            )
        if exc.kind == "credentials":
            variables = ", ".join(self.options.secret_env)
            return TaskFailure(
                TaskErrorKind.RESOURCE_INSUFFICIENT,
                f"{where} refused this server's credentials or account: {exc.message} "
                f"(operator: check {variables} and the upstream account)",
            )
        return TaskFailure(TaskErrorKind.INTERNAL, f"{where} unavailable: {exc.message}")

    def _metadata(self, remote: Remote) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "upstream": {"engine": self.name, "base_url": self.options.base_url},
            "upstream_task_id": remote.id,
        }
        if remote.cost is not None:
            metadata["upstream_cost"] = remote.cost
        return metadata


# --- what is sent ----------------------------------------------------------------------------


def relay_params(job: RenderJob, forward_private: bool, element_key: str) -> dict[str, Any]:
    """The task's parameters as the upstream gets them: this task's id as ``external_task_id``;
    no ``callback_url`` (this server delivers its own callbacks); a URL the upstream cannot be
    trusted to reach (not on a public address) replaced by the fetched file in base64 (videos,
    which both APIs take only as URLs, cannot be: that is ``...094``); an image sent as base64
    replaced by the prepared file too (its pixels written again: never the bytes as sent);
    subjects by their upstream ids."""
    params = copy.deepcopy(job.params)
    params.pop("callback_url", None)
    params["external_task_id"] = job.task_id
    for ref in media_refs(job.model, job.params):
        if ref.is_url and (forward_private or ref.param in job.public_urls):
            continue
        if not ref.is_url and ref.param not in job.inputs:
            continue  # nothing prepared to send instead (a job made by hand)
        if isinstance(ref.rules, VideoRules):
            raise TaskFailure(
                TaskErrorKind.RESOURCE_INSUFFICIENT,
                f"{ref.param}: the upstream fetches videos by URL itself, and this URL is not "
                "on a public address; give a public URL",
            )
        encoded = base64.b64encode(Path(job.inputs[ref.param]).read_bytes()).decode("ascii")
        set_path(params, ref.param, encoded)
    for index, item in enumerate(params.get("element_list") or []):
        element_id = int(item["element_id"])
        upstream_id = job.element_refs.get(element_id, {}).get(element_key)
        if upstream_id is None:
            raise TaskFailure(
                TaskErrorKind.RESOURCE_INSUFFICIENT,
                f"element_list.{index}.element_id: element {element_id} exists on this server "
                f"but not at {element_key}; make subjects with the engine that runs the tasks "
                "using them",
            )
        item["element_id"] = int(upstream_id) if upstream_id.isdecimal() else upstream_id
    return params


def set_path(params: dict[str, Any], dotted: str, value: Any) -> None:
    """``params[a][0][b] = value`` for ``dotted`` = ``"a.0.b"``."""
    *parents, last = dotted.split(".")
    node: Any = params
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
