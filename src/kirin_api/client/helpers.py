"""Typed helpers for each model, and image encoding.

Each helper builds the flat parameter dict of API.md from keyword arguments named as in the
model's document (the seed), encodes local images, and hands it to ``create``. Where the API
takes an image, a helper accepts:

* an ``http(s)://`` URL: passed through for the server to fetch;
* a :class:`pathlib.Path`, or a ``str`` naming an existing file: read and sent as **raw**
  base64 (no ``data:`` prefix: the API refuses it);
* ``bytes``: the image itself, sent as raw base64;
* any other ``str``: taken to be base64 already (a ``data:...;base64,`` prefix is stripped).

The server checks every rule; the helpers only shape the request, so a rule the server adds
never needs an SDK release. ``**extra`` passes parameters the helper does not name.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

__all__ = [
    "ImageInput",
    "build_create_element",
    "build_i2v",
    "build_motion_control",
    "build_multi_i2v",
    "build_t2v",
    "build_v3_i2v",
    "encode_image",
]

ImageInput: TypeAlias = "str | os.PathLike[str] | bytes"
Mode = Literal["std", "pro"]
AspectRatio = Literal["16:9", "9:16", "1:1"]
Duration: TypeAlias = "int | str"
ElementRef: TypeAlias = "int | str | Mapping[str, Any]"

# Characters of (standard or URL-safe) base64 and the whitespace that may wrap it.
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-\s]*$")
_DATA_URL = re.compile(r"^data:[^,]{0,100};base64,", re.IGNORECASE)


def encode_image(value: ImageInput) -> str:
    """An image argument as the API takes it: a URL, or raw base64 of the file's bytes.

    Raises :class:`FileNotFoundError` for a :class:`~pathlib.Path` that does not exist, and
    for a string that is neither a URL, an existing file nor base64 (a mistyped file name).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, os.PathLike):
        return _read_b64(Path(value))
    text = str(value)
    if text.startswith(("http://", "https://")):
        return text
    if match := _DATA_URL.match(text):
        return text[match.end() :]
    # Only short, single-line strings can be paths; a megabyte of base64 is not stat()ed.
    if len(text) < 4096 and "\n" not in text:
        candidate = Path(text).expanduser()
        if candidate.is_file():
            return _read_b64(candidate)
        if not _BASE64_CHARS.match(text):
            raise FileNotFoundError(f"no such image file {text!r} (and it is not a URL)")
    return text


def _read_b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _maybe_image(value: ImageInput | None) -> str | None:
    return None if value is None else encode_image(value)


def _common(
    watermark: bool | None,
    callback_url: str | None,
    external_task_id: str | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "watermark_info": None if watermark is None else {"enabled": watermark},
        "callback_url": callback_url,
        "external_task_id": external_task_id,
    }
    params.update(extra)
    return params


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    # Unset arguments are left out, so the server's defaults (the seed's) apply.
    return {key: value for key, value in params.items() if value is not None}


def _duration(value: Duration | None) -> str | None:
    # The seeds type durations as strings; the server also takes integers.
    return None if value is None else str(value)


def _elements(items: Sequence[ElementRef] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    result: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, Mapping):
            result.append({**item, "element_id": int(item["element_id"])})
        else:
            result.append({"element_id": int(item)})
    return result


def build_t2v(
    prompt: str,
    *,
    negative_prompt: str | None = None,
    duration: Duration | None = 5,
    aspect_ratio: AspectRatio | None = "16:9",
    mode: Mode | None = None,
    cfg_scale: float | None = None,
    camera_control: Mapping[str, Any] | None = None,
    watermark: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Parameters of ``kirin_v1_t2v``."""
    return _clean(
        {
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "duration": _duration(duration),
            "aspect_ratio": aspect_ratio,
            "mode": mode,
            "cfg_scale": cfg_scale,
            "camera_control": None if camera_control is None else dict(camera_control),
            **_common(watermark, callback_url, external_task_id, extra),
        }
    )


def _trajectory(points: Sequence[Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = []
    for point in points:
        if isinstance(point, Mapping):
            result.append(dict(point))
        else:
            x, y = point
            result.append({"x": x, "y": y})
    return result


def build_i2v(
    image: ImageInput,
    *,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    image_tail: ImageInput | None = None,
    duration: Duration | None = 5,
    mode: Mode | None = None,
    cfg_scale: float | None = None,
    static_mask: ImageInput | None = None,
    dynamic_masks: Sequence[Mapping[str, Any]] | None = None,
    watermark: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Parameters of ``kirin_v1_i2v``.

    ``dynamic_masks`` items are ``{"mask": image, "trajectories": [...]}`` where each point is
    ``{"x": ..., "y": ...}`` or an ``(x, y)`` pair (pixels, origin at the image's bottom left).
    """
    masks = None
    if dynamic_masks is not None:
        masks = [
            {
                **item,
                "mask": encode_image(item["mask"]),
                "trajectories": _trajectory(item.get("trajectories", [])),
            }
            for item in dynamic_masks
        ]
    return _clean(
        {
            "image": encode_image(image),
            "image_tail": _maybe_image(image_tail),
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "duration": _duration(duration),
            "mode": mode,
            "cfg_scale": cfg_scale,
            "static_mask": _maybe_image(static_mask),
            "dynamic_masks": masks,
            **_common(watermark, callback_url, external_task_id, extra),
        }
    )


def build_multi_i2v(
    image_list: Sequence[ImageInput | Mapping[str, Any]],
    prompt: str,
    *,
    negative_prompt: str | None = None,
    duration: Duration | None = 5,
    aspect_ratio: AspectRatio | None = "16:9",
    mode: Mode | None = None,
    watermark: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Parameters of ``kirin_v1_6_multi_i2v``: 1 to 4 images (or ``{"image": ...}`` items)."""
    images = [
        {**item, "image": encode_image(item["image"])}
        if isinstance(item, Mapping)
        else {"image": encode_image(item)}
        for item in image_list
    ]
    return _clean(
        {
            "image_list": images,
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "duration": _duration(duration),
            "aspect_ratio": aspect_ratio,
            "mode": mode,
            **_common(watermark, callback_url, external_task_id, extra),
        }
    )


def build_v3_i2v(
    image: ImageInput | None = None,
    *,
    image_tail: ImageInput | None = None,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    multi_shot: bool | None = None,
    shot_type: Literal["customize"] | None = None,
    multi_prompt: Sequence[Mapping[str, Any]] | None = None,
    element_list: Sequence[ElementRef] | None = None,
    sound: Literal["on", "off"] | bool | None = None,
    duration: Duration | None = 5,
    mode: Mode | None = None,
    watermark: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Parameters of ``kirin_v3_i2v`` (one of ``image``/``image_tail`` is required).

    With ``multi_prompt`` given and ``multi_shot`` unset, ``multi_shot=True`` and
    ``shot_type="customize"`` are filled in (the only combination the API takes).
    ``multi_prompt`` items are ``{"index": i, "prompt": ..., "duration": ...}``; ``index``
    defaults to the item's position (1-based). ``sound`` may be a bool.
    """
    if image is None and image_tail is None:
        raise ValueError("kirin_v3_i2v needs image or image_tail")
    shots = None
    if multi_prompt is not None:
        shots = [
            {
                "index": item.get("index", number),
                **item,
                **({"duration": str(item["duration"])} if "duration" in item else {}),
            }
            for number, item in enumerate(multi_prompt, start=1)
        ]
        if multi_shot is None:
            multi_shot = True
        if multi_shot and shot_type is None:
            shot_type = "customize"
    if isinstance(sound, bool):
        sound = "on" if sound else "off"
    return _clean(
        {
            "image": _maybe_image(image),
            "image_tail": _maybe_image(image_tail),
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "multi_shot": multi_shot,
            "shot_type": shot_type,
            "multi_prompt": shots,
            "element_list": _elements(element_list),
            "sound": sound,
            "duration": _duration(duration),
            "mode": mode,
            **_common(watermark, callback_url, external_task_id, extra),
        }
    )


def build_motion_control(
    image_url: ImageInput,
    video_url: str,
    *,
    character_orientation: Literal["image", "video"],
    mode: Mode,
    prompt: str | None = None,
    element_list: Sequence[ElementRef] | None = None,
    keep_original_sound: Literal["yes", "no"] | bool | None = None,
    watermark: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Parameters of ``kirin_v3_motion_control``: a reference image (URL, file or base64) and
    a reference video URL. ``keep_original_sound`` may be a bool."""
    if isinstance(keep_original_sound, bool):
        keep_original_sound = "yes" if keep_original_sound else "no"
    return _clean(
        {
            "image_url": encode_image(image_url),
            "video_url": video_url,
            "character_orientation": character_orientation,
            "mode": mode,
            "prompt": prompt,
            "element_list": _elements(element_list),
            "keep_original_sound": keep_original_sound,
            **_common(watermark, callback_url, external_task_id, extra),
        }
    )


def build_create_element(
    element_name: str,
    *,
    element_description: str | None = None,
    frontal_image: ImageInput | None = None,
    refer_images: Sequence[ImageInput] | None = None,
    video_url: str | None = None,
    reference_type: Literal["image_refer", "video_refer"] | None = None,
    watermark: bool | None = None,
    callback_url: str | None = None,
    external_task_id: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Parameters of ``kirin_custom_elements``: a subject from images (``frontal_image`` and
    1 to 3 ``refer_images``) or from a video (``video_url``). ``reference_type`` follows from
    which one is given unless set."""
    if reference_type is None:
        reference_type = "video_refer" if video_url is not None else "image_refer"
    image_list = None
    if frontal_image is not None or refer_images is not None:
        image_list = _clean(
            {
                "frontal_image": _maybe_image(frontal_image),
                "refer_images": None
                if refer_images is None
                else [{"image_url": encode_image(item)} for item in refer_images],
            }
        )
    return _clean(
        {
            "element_name": element_name,
            "element_description": element_description,
            "reference_type": reference_type,
            "element_image_list": image_list,
            "element_video_list": None if video_url is None else {"video_url": video_url},
            **_common(watermark, callback_url, external_task_id, extra),
        }
    )
