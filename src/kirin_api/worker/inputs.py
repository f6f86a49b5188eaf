"""A task's media inputs, made ready for the engine.

For every image and video of the request (``media_refs``), in three steps:

1. what needs no network: base64 is decoded; an input already in our own storage (a retried
   task's manifest) is copied from there (:meth:`InputPreparer._from_own_storage`, the one
   place to resolve an input without the network);
2. every remaining URL is fetched through the one SSRF-safe fetcher, **all at once**, under one
   deadline for the task (``fetch_deadline``) besides each URL's own limits; a cancel stops the
   fetches within a fraction of a second (:mod:`kirin_api.net.batch`);
3. everything is checked by decoding it, and the rules that relate media (masks against their
   image, trajectories inside it) are checked on what decoding found; a reference video whose
   sound is to be kept must have audio that decodes.

Images are then written again from their decoded pixels (:func:`rewrite_pixels`): whatever
else the file carried (bytes after the image, metadata chunks: a "polyglot" file) is never
stored, handed to an engine or sent inline to an upstream. Fetched inputs are kept in storage
under their content hash, with a small manifest per task, so a retried task (its worker died)
does not fetch them again.

Failures become task failures with the model's codes: a fetch that fails is ``...097``; media
that break a rule are ``...099``; both messages name the parameter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kirin_api.contract.addresses import PRIVATE_ADDRESS_HINT
from kirin_api.contract.errors import (
    InvalidMedia,
    InvalidParameter,
    TaskErrorKind,
    TaskFailure,
)
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef, VideoRules
from kirin_api.contract.registry import check_media_relations, media_refs
from kirin_api.engines.base import RenderCancelled
from kirin_api.media.audio import check_audio
from kirin_api.media.images import check_image, decode_base64_image, rewrite_pixels
from kirin_api.media.videos import check_video
from kirin_api.net.batch import Fetched, FetchRequest, fetch_all
from kirin_api.net.errors import FetchError
from kirin_api.net.fetch import SafeFetcher
from kirin_api.storage.base import BlobStorage
from kirin_api.store.base import TaskRecord, TaskStore
from kirin_api.worker.upload_inputs import UploadInputs


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


DEFAULT_FETCH_DEADLINE_SECONDS = 60.0
"""All of a task's URLs must be fetched within this (``KIRIN_FETCH_DEADLINE_SECONDS``)."""


class InputPreparer:
    def __init__(
        self,
        storage: BlobStorage,
        fetcher: SafeFetcher,
        store: TaskStore,
        uploads: UploadInputs | None = None,
        *,
        fetch_deadline: float = DEFAULT_FETCH_DEADLINE_SECONDS,
    ) -> None:
        self._storage = storage
        self._fetcher = fetcher
        self._store = store
        self._fetch_deadline = fetch_deadline
        # Consulted before the fetcher: this server's own upload URLs are read from storage.
        self._uploads = uploads

    def prepare(
        self,
        task: TaskRecord,
        workdir: Path,
        check: Callable[[], None] = lambda: None,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        classify_urls: bool = False,
    ) -> PreparedInputs:
        """Fetch, decode and check every input of ``task`` into ``workdir``; ``check`` is called
        between inputs and ``should_stop`` while fetching (a cancel raises
        :class:`~kirin_api.engines.base.RenderCancelled`). ``classify_urls``: also find which
        URLs are on public addresses (for engines that relay them upstream)."""
        prepared = PreparedInputs()
        manifest = self._load_manifest(task.id)
        refs = media_refs(task.model, task.params)
        requests: list[FetchRequest] = []
        for index, ref in enumerate(refs):
            check()
            path = workdir / f"input-{index}"
            prepared.paths[ref.param] = path
            if not self._without_network(ref, manifest, path, task.account_id):
                requests.append(
                    FetchRequest(ref.value, ref.param, ref.rules.max_bytes, path, classify_urls)
                )
        fetched = self._fetch(requests, should_stop)
        for ref in refs:
            check()
            path = prepared.paths[ref.param]
            prepared.facts[ref.param] = self._check(task, ref, path)
            # Only the pixels go on: an engine, storage and an upstream never get the bytes as
            # they came (a public URL relayed as it is is the user's own link, not our copy).
            if ref.kind == "image":
                self._rewrite(ref, path)
            if classify_urls and ref.is_url:
                got = fetched.get(ref.param)
                public = got.public if got is not None else self._fetcher.is_public(ref.value)
                if public:
                    prepared.public_urls.add(ref.param)
            if ref.param in fetched:
                manifest[ref.param] = self._keep(path)
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

    def _without_network(
        self, ref: MediaRef, manifest: dict[str, str], path: Path, account_id: str
    ) -> bool:
        """Write the input of ``ref`` to ``path`` if that needs no fetch (base64, or already in
        our storage); False if its URL must be fetched."""
        if not ref.is_url:
            # Base64 was decoded and checked at submit already; decoding again is cheap.
            try:
                data, _ = decode_base64_image(ref.value, _image_rules(ref), ref.param)
            except InvalidMedia as exc:
                raise TaskFailure(TaskErrorKind.TASK_CREATION, exc.message) from exc
            path.write_bytes(data)
            return True
        return self._from_own_storage(ref, manifest, path, account_id)

    def _from_own_storage(
        self, ref: MediaRef, manifest: dict[str, str], path: Path, account_id: str
    ) -> bool:
        """The seam for inputs we hold ourselves: copy ``ref``'s input from our storage to
        ``path`` and return True, or False to fetch its URL: an upload of the task's account
        (this server's own signed URL), or a retried task's inputs, kept under their content
        hash by the first attempt."""
        if self._uploads is not None and self._uploads.materialise(
            ref.value, account_id, ref.param, path
        ):
            return True
        cached = manifest.get(ref.param)
        if cached is not None and self._storage.exists(cached):
            path.write_bytes(self._storage.get_bytes(cached))
            return True
        return False

    def _fetch(
        self, requests: list[FetchRequest], should_stop: Callable[[], bool]
    ) -> dict[str, Fetched]:
        """Every URL at once, under the task deadline; each streamed to disk with the rule's
        size cap (a 100 MB video never sits in memory)."""
        try:
            return fetch_all(
                self._fetcher,
                requests,
                deadline_seconds=self._fetch_deadline,
                should_stop=should_stop,
            )
        except FetchError as exc:
            if exc.reason == "cancelled":
                raise RenderCancelled from exc
            hint = (
                PRIVATE_ADDRESS_HINT
                if exc.reason == "address" and not self._fetcher.allow_private
                else ""
            )
            raise TaskFailure(TaskErrorKind.HTTP_ERROR, exc.message + hint) from exc

    def _keep(self, path: Path) -> str:
        """Store a fetched (and checked, and rewritten) input under its content hash."""
        key = content_key(path)
        if not self._storage.exists(key):
            self._storage.put_file(key, path, "application/octet-stream")
        return key

    @staticmethod
    def _check(task: TaskRecord, ref: MediaRef, path: Path) -> MediaFacts:
        try:
            if isinstance(ref.rules, VideoRules):
                facts = check_video(path, ref.rules, ref.param)
                if facts.has_audio and task.params.get("keep_original_sound") == "yes":
                    check_audio(path, ref.param, max_seconds=ref.rules.max_duration)
                return facts
            return check_image(path.read_bytes(), ref.rules, ref.param)
        except InvalidMedia as exc:
            raise TaskFailure(TaskErrorKind.TASK_CREATION, exc.message) from exc

    @staticmethod
    def _rewrite(ref: MediaRef, path: Path) -> None:
        try:
            path.write_bytes(rewrite_pixels(path.read_bytes(), ref.param))
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
