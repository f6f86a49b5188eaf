"""Uploads named by a request, checked at submit: the upload must be the account's and alive,
and what decoding found when it was uploaded must meet the rules of the parameter it is given
to. So an upload that cannot serve is a 400 naming the parameter, at once, like base64, rather
than a task that fails later; and the rules between media (masks against their image, a
reference video's length) are checked at submit on the upload's facts too. The worker still
reads and checks the file itself when the task runs (it may have expired or been deleted by
then)."""

from __future__ import annotations

import time

from kirin_api.contract.errors import InvalidMedia, InvalidParameter
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef, VideoRules
from kirin_api.media.upload_check import CONTENT_TYPES
from kirin_api.storage.upload_links import parse_upload_url
from kirin_api.store.base import Account
from kirin_api.store.upload_records import UploadRecord, UploadStore

# What decoding names each content type an upload may have (the inverse of upload_check's).
_FORMATS = {content_type: name for name, content_type in CONTENT_TYPES.items()}


def upload_facts(
    ref: MediaRef, account: Account, store: UploadStore, url_secret: bytes
) -> MediaFacts | None:
    """The facts of the upload ``ref`` names, checked against its rules; None where ``ref`` is
    not one of this server's upload URLs. Raises 400 ``invalid_parameter`` for an upload that
    is not the account's or has expired, ``invalid_media`` for one that breaks the rules."""
    link = parse_upload_url(ref.value, url_secret)
    if link is None:
        return None
    upload = store.get_upload(account.id, link.upload_id)
    if upload is None:
        raise InvalidParameter(
            f"{ref.param}: no upload {link.upload_id} in this account (deleted, or uploaded "
            "with another account's key); upload the file with this account's key",
            param=ref.param,
        )
    if upload.expired(time.time()):
        raise InvalidParameter(
            f"{ref.param}: upload {upload.id} has expired; upload the file again",
            param=ref.param,
        )
    facts = MediaFacts(
        width=upload.width,
        height=upload.height,
        format=_FORMATS[upload.content_type],
        size_bytes=upload.size_bytes,
        duration=upload.duration,
    )
    _check(ref, upload, facts)
    return facts


def _refuse(ref: MediaRef, text: str) -> InvalidMedia:
    return InvalidMedia(f"{ref.param}: {text}", param=ref.param)


def _check(ref: MediaRef, upload: UploadRecord, facts: MediaFacts) -> None:
    rules = ref.rules
    size = f"{facts.width}x{facts.height}"
    if isinstance(rules, ImageRules):
        if upload.kind != "image":
            raise _refuse(ref, f"must be an image; upload {upload.id} is a video")
        if facts.format not in rules.formats:
            raise _refuse(ref, f"must be {' or '.join(sorted(rules.formats))}; got {facts.format}")
        if min(facts.width, facts.height) < rules.min_side:
            raise _refuse(ref, f"each side must be at least {rules.min_side} px; got {size}")
        if rules.max_side is not None and max(facts.width, facts.height) > rules.max_side:
            raise _refuse(ref, f"each side must be at most {rules.max_side} px; got {size}")
        if rules.aspect_range is not None:
            low, high = rules.aspect_range
            if not low - 1e-9 <= facts.aspect <= high + 1e-9:
                raise _refuse(
                    ref,
                    f"aspect ratio (width/height) must be between {low:.2f} and {high:.2f}; "
                    f"got {size} ({facts.aspect:.2f})",
                )
        return
    assert isinstance(rules, VideoRules)
    if upload.kind != "video":
        raise _refuse(ref, f"must be a video; upload {upload.id} is an image")
    if min(facts.width, facts.height) < rules.min_side or (
        max(facts.width, facts.height) > rules.max_side
    ):
        raise _refuse(
            ref, f"each side must be between {rules.min_side} and {rules.max_side} px; got {size}"
        )
    seconds = round(facts.duration or 0.0, 3)
    if seconds < rules.min_duration:
        raise _refuse(ref, f"video must last at least {rules.min_duration:g} s; got {seconds:g} s")
    if seconds > rules.max_duration:
        raise _refuse(ref, f"video must last at most {rules.max_duration:g} s; got {seconds:g} s")
