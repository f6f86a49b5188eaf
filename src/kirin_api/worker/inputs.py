"""A task's media inputs, made ready for the engine.

For every image and video of the request (``media_refs``): a URL is fetched through the one
SSRF-safe fetcher, base64 is decoded; everything is checked by decoding it, and the rules that
relate media (masks against their image, trajectories inside it) are checked on what decoding
found. Fetched inputs are kept in storage under their content hash, with a small manifest per
task, so a retried task (its worker died) does not fetch them again.

Failures become task failures with the model's codes: a fetch that fails is ``...097``; media
that break a rule are ``...099``; both messages name the parameter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kirin_api.contract.errors import (
    InvalidMedia,
    InvalidParameter,
    TaskErrorKind,
    TaskFailure,
)
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef, VideoRules
from kirin_api.contract.registry import check_media_relations, media_refs
from kirin_api.media.images import check_image, decode_base64_image
from kirin_api.media.videos import check_video
from kirin_api.net.fetch import FetchError, SafeFetcher
from kirin_api.storage.base import BlobStorage
from kirin_api.store.base import TaskRecord, TaskStore
from kirin_api.worker.upload_inputs import PRIVATE_ADDRESS_HINT, UploadInputs


@dataclass
class PreparedInputs:
    """Local files of the task's inputs and what decoding them found, keyed by dotted param."""

    paths: dict[str, Path] = field(default_factory=dict)
    facts: dict[str, MediaFacts] = field(default_factory=dict)
    # URL parameters whose host is public (only worked out when asked: upstream engines).
    public_urls: set[str] = field(default_factory=set)
    # The subjects of element_list by id: engine key -> the upstream's id for it.
    element_refs: dict[int, dict[str, str]] = field(default_factory=dict)


def content_key(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return f"inputs/sha256/{digest.hexdigest()}"


def manifest_key(task_id: str) -> str:
    return f"inputs/tasks/{task_id}.json"


class InputPreparer:
    def __init__(
        self,
        storage: BlobStorage,
        fetcher: SafeFetcher,
        store: TaskStore,
        uploads: UploadInputs | None = None,
    ) -> None:
        self._storage = storage
        self._fetcher = fetcher
        self._store = store
        # Consulted before the fetcher: this server's own upload URLs are read from storage.
        self._uploads = uploads

    def prepare(
        self,
        task: TaskRecord,
        workdir: Path,
        check: Callable[[], None] = lambda: None,
        *,
        classify_urls: bool = False,
    ) -> PreparedInputs:
        """Fetch, decode and check every input of ``task`` into ``workdir``; ``check`` is called
        between inputs (it raises when the task was cancelled). ``classify_urls``: also find
        which URLs are on public addresses (for engines that relay them upstream)."""
        prepared = PreparedInputs()
        manifest = self._load_manifest(task.id)
        for index, ref in enumerate(media_refs(task.model, task.params)):
            check()
            path = workdir / f"input-{index}"
            self._materialise(ref, manifest, path, task.account_id)
            prepared.paths[ref.param] = path
            prepared.facts[ref.param] = self._check(ref, path)
            if classify_urls and ref.is_url and self._fetcher.is_public(ref.value):
                prepared.public_urls.add(ref.param)
        if manifest:
            self._storage.put_bytes(
                manifest_key(task.id), json.dumps(manifest).encode(), "application/json"
            )
        try:
            check_media_relations(task.model, task.params, prepared.facts)
        except (InvalidMedia, InvalidParameter) as exc:
            raise TaskFailure(TaskErrorKind.TASK_CREATION, exc.message) from exc
        self._add_elements(task, workdir, prepared)
        return prepared

    def _load_manifest(self, task_id: str) -> dict[str, str]:
        key = manifest_key(task_id)
        if not self._storage.exists(key):
            return {}
        loaded: dict[str, str] = json.loads(self._storage.get_bytes(key))
        return loaded

    def _materialise(
        self, ref: MediaRef, manifest: dict[str, str], path: Path, account_id: str
    ) -> None:
        """Write the input of ``ref`` to ``path``: decoded, from storage, or fetched."""
        if not ref.is_url:
            # Base64 was decoded and checked at submit already; decoding again is cheap.
            try:
                data, _ = decode_base64_image(ref.value, _image_rules(ref), ref.param)
            except InvalidMedia as exc:
                raise TaskFailure(TaskErrorKind.TASK_CREATION, exc.message) from exc
            path.write_bytes(data)
            return
        if self._uploads is not None and self._uploads.materialise(
            ref.value, account_id, ref.param, path
        ):
            return
        cached = manifest.get(ref.param)
        if cached is not None and self._storage.exists(cached):
            path.write_bytes(self._storage.get_bytes(cached))
            return
        try:
            # Streamed to disk with the rule's size cap: a 100 MB video never sits in memory.
            self._fetcher.fetch(
                ref.value, max_bytes=ref.rules.max_bytes, param=ref.param, dest=path
            )
        except FetchError as exc:
            hint = (
                PRIVATE_ADDRESS_HINT
                if exc.reason == "address" and not self._fetcher.allow_private
                else ""
            )
            raise TaskFailure(TaskErrorKind.HTTP_ERROR, exc.message + hint) from exc
        key = content_key(path)
        if not self._storage.exists(key):
            self._storage.put_file(key, path, "application/octet-stream")
        manifest[ref.param] = key

    @staticmethod
    def _check(ref: MediaRef, path: Path) -> MediaFacts:
        try:
            if isinstance(ref.rules, VideoRules):
                return check_video(path, ref.rules, ref.param)
            return check_image(path.read_bytes(), ref.rules, ref.param)
        except InvalidMedia as exc:
            raise TaskFailure(TaskErrorKind.TASK_CREATION, exc.message) from exc

    def _add_elements(self, task: TaskRecord, workdir: Path, prepared: PreparedInputs) -> None:
        """The frontal image of each subject in ``element_list``, as ``element_list.N``."""
        for index, item in enumerate(task.params.get("element_list") or []):
            param = f"element_list.{index}.element_id"
            element = self._store.get_element(task.account_id, int(item["element_id"]))
            if element is None:
                raise TaskFailure(
                    TaskErrorKind.TASK_CREATION,
                    f"{param}: no element {item['element_id']} in this account (deleted?)",
                )
            path = workdir / f"element-{index}"
            path.write_bytes(self._storage.get_bytes(element.frontal_key))
            prepared.paths[f"element_list.{index}"] = path
            prepared.element_refs[element.id] = dict(element.upstream)


def _image_rules(ref: MediaRef) -> ImageRules:
    if not isinstance(ref.rules, ImageRules):
        raise TaskFailure(TaskErrorKind.TASK_CREATION, f"{ref.param}: must be an http(s) URL")
    return ref.rules
