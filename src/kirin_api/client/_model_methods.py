"""The typed method of each model on the task resources (``client.tasks.t2v(...)`` and the
rest), written once for the sync and the async client: each builds its parameters with the
builders of :mod:`kirin_api.client.helpers` and hands them to the resource's ``create``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar

from kirin_api.client.helpers import (
    AspectRatio,
    Duration,
    ElementRef,
    ImageInput,
    Mode,
    build_create_element,
    build_i2v,
    build_motion_control,
    build_multi_i2v,
    build_t2v,
    build_v3_i2v,
)

R = TypeVar("R")


class ModelHelpers(Generic[R]):
    """One typed method per model, shared by the sync (``R = Task``) and the async
    (``R = Awaitable[Task]``) task resources: only ``_create`` differs between them."""

    def _create(self, model: str, params: dict[str, Any]) -> R:
        raise NotImplementedError

    def t2v(
        self,
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
    ) -> R:
        """Create a ``kirin_v1_t2v`` task (text to video). ``camera_control`` is e.g.
        ``{"type": "simple", "config": {"pan": 5}}`` (std mode, 5 s only)."""
        return self._create(
            "kirin_v1_t2v",
            build_t2v(
                prompt,
                negative_prompt=negative_prompt,
                duration=duration,
                aspect_ratio=aspect_ratio,
                mode=mode,
                cfg_scale=cfg_scale,
                camera_control=camera_control,
                watermark=watermark,
                callback_url=callback_url,
                external_task_id=external_task_id,
                **extra,
            ),
        )

    def i2v(
        self,
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
    ) -> R:
        """Create a ``kirin_v1_i2v`` task (image to video, optional tail frame or motion
        brush); see :func:`build_i2v`."""
        return self._create(
            "kirin_v1_i2v",
            build_i2v(
                image,
                prompt=prompt,
                negative_prompt=negative_prompt,
                image_tail=image_tail,
                duration=duration,
                mode=mode,
                cfg_scale=cfg_scale,
                static_mask=static_mask,
                dynamic_masks=dynamic_masks,
                watermark=watermark,
                callback_url=callback_url,
                external_task_id=external_task_id,
                **extra,
            ),
        )

    def multi_i2v(
        self,
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
    ) -> R:
        """Create a ``kirin_v1_6_multi_i2v`` task (1 to 4 reference images)."""
        return self._create(
            "kirin_v1_6_multi_i2v",
            build_multi_i2v(
                image_list,
                prompt,
                negative_prompt=negative_prompt,
                duration=duration,
                aspect_ratio=aspect_ratio,
                mode=mode,
                watermark=watermark,
                callback_url=callback_url,
                external_task_id=external_task_id,
                **extra,
            ),
        )

    def v3_i2v(
        self,
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
    ) -> R:
        """Create a ``kirin_v3_i2v`` task (single or multi-shot); see :func:`build_v3_i2v`."""
        return self._create(
            "kirin_v3_i2v",
            build_v3_i2v(
                image,
                image_tail=image_tail,
                prompt=prompt,
                negative_prompt=negative_prompt,
                multi_shot=multi_shot,
                shot_type=shot_type,
                multi_prompt=multi_prompt,
                element_list=element_list,
                sound=sound,
                duration=duration,
                mode=mode,
                watermark=watermark,
                callback_url=callback_url,
                external_task_id=external_task_id,
                **extra,
            ),
        )

    def motion_control(
        self,
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
    ) -> R:
        """Create a ``kirin_v3_motion_control`` task (a character image driven by a video)."""
        return self._create(
            "kirin_v3_motion_control",
            build_motion_control(
                image_url,
                video_url,
                character_orientation=character_orientation,
                mode=mode,
                prompt=prompt,
                element_list=element_list,
                keep_original_sound=keep_original_sound,
                watermark=watermark,
                callback_url=callback_url,
                external_task_id=external_task_id,
                **extra,
            ),
        )

    def create_element(
        self,
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
    ) -> R:
        """Create a ``kirin_custom_elements`` task; once completed, ``task.element_id`` is the
        new subject's id for ``element_list``."""
        return self._create(
            "kirin_custom_elements",
            build_create_element(
                element_name,
                element_description=element_description,
                frontal_image=frontal_image,
                refer_images=refer_images,
                video_url=video_url,
                reference_type=reference_type,
                watermark=watermark,
                callback_url=callback_url,
                external_task_id=external_task_id,
                **extra,
            ),
        )
