"""The ``kirin_v1_i2v`` contract: image to video (seed ``seeds/kirin_v1_i2v.txt``).

Parameters, defaults, ranges and options follow the seed; the rules read out of its prose
(API.md "Rules read out of the seeds' prose") are:

- ``image`` is required: a tail frame alone (``image_tail`` without ``image``) is not supported;
- ``image_tail`` only with ``duration: 5`` (first and last frame);
- ``static_mask`` / ``dynamic_masks`` (motion brush) only with ``duration: 5``;
- ``image_tail`` and the masks exclude each other (reported on ``image_tail``);
- ``dynamic_masks``: 1 to 6 groups (an empty array is refused: leave it out), each a ``mask`` and
  2 to 77 ``trajectories`` points ``{x, y}``, non-negative pixel coordinates;
- ``prompt``, where given, 1 to 2500 characters and not blank; ``negative_prompt`` at most 2500.

Media (``media_refs``): ``image`` JPEG/PNG, at most 10 MB, sides at least 300 px, aspect
1:2.5..2.5:1; ``image_tail`` the same without an aspect limit (its seed entry gives none);
masks the same as ``image_tail`` ("format requirements same as image field"), their aspect being
bound to the image's by a relation rule instead.

Relations (``check_media_relations``, pure functions of decoded facts, each skipped while a fact
it needs is unknown):

- every mask has the image's aspect ratio within :data:`MASK_ASPECT_TOLERANCE` (1 %, relative):
  room for a mask drawn at another resolution, whose sides were rounded to whole pixels
  (at 300 px that rounding alone is up to 0.33 %); ``invalid_media`` on the mask;
- all masks have one resolution (each is compared with the first given: ``static_mask``, then
  ``dynamic_masks`` in order); ``invalid_media`` on the mask that differs;
- every trajectory point lies inside the image: ``0 <= x <= width`` and ``0 <= y <= height``
  (origin at the bottom-left corner; the far edges are included, as coordinates are continuous);
  ``invalid_parameter`` on ``dynamic_masks.N.trajectories``.

Output: the image's aspect ratio, short side 720 (both modes, the seed's note), both sides even;
30 fps; ``duration * 30`` frames; no audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from kirin_api.contract.common import ContractModel, KirinRequest, ModelContract
from kirin_api.contract.errors import InvalidMedia, InvalidParameter
from kirin_api.contract.inputs import ImageInput, output_size, required_facts
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef
from kirin_api.contract.messages import rule_error
from kirin_api.contract.t2v import FPS, Duration, Mode, NegativePrompt, Prompt

MODEL_ID = "kirin_v1_i2v"

SHORT_SIDE = 720
MAX_DYNAMIC_MASKS = 6
TRAJECTORY_MIN_POINTS = 2
TRAJECTORY_MAX_POINTS = 77
MASK_ASPECT_TOLERANCE = 0.01
"""Largest relative difference allowed between a mask's aspect ratio and the image's."""

IMAGE_RULES = ImageRules()
IMAGE_TAIL_RULES = ImageRules(aspect_range=None)
MASK_RULES = ImageRules(aspect_range=None)


class TrajectoryPoint(ContractModel):
    """One point of a motion trajectory, in pixels of the input image (origin bottom-left)."""

    x: float = Field(ge=0, description="Pixels from the image's left edge (at least 0)")
    y: float = Field(ge=0, description="Pixels from the image's bottom edge (at least 0)")


Trajectory = Annotated[
    list[TrajectoryPoint],
    Field(min_length=TRAJECTORY_MIN_POINTS, max_length=TRAJECTORY_MAX_POINTS),
]


class DynamicMask(ContractModel):
    """A dynamic-brush group: the painted area and the path it moves along."""

    mask: ImageInput = Field(
        description="Mask image (URL or raw base64): light pixels are the area that moves; "
        "the image's aspect ratio, the same resolution as the other masks"
    )
    trajectories: Trajectory = Field(
        description="2 to 77 points {x, y} in the image's pixels, origin bottom-left; the area "
        "moves from the first point through the others in order"
    )


DynamicMasks = Annotated[list[DynamicMask], Field(min_length=1, max_length=MAX_DYNAMIC_MASKS)]


def _given(name: str, kind: str) -> dict[str, Any]:
    """JSON Schema: ``name`` is present and not null."""
    return {"required": [name], "properties": {name: {"type": kind}}}


_DURATION_5: dict[str, Any] = {"properties": {"duration": {"enum": [5, "5"]}}}

_RULES_SCHEMA: dict[str, Any] = {
    "allOf": [
        {"if": _given("image_tail", "string"), "then": _DURATION_5},
        {"if": _given("static_mask", "string"), "then": _DURATION_5},
        {"if": _given("dynamic_masks", "array"), "then": _DURATION_5},
        {
            "not": {
                **_given("image_tail", "string"),
                "anyOf": [_given("static_mask", "string"), _given("dynamic_masks", "array")],
            }
        },
    ]
}


class KirinV1I2VRequest(KirinRequest):
    """The body of a kirin_v1_i2v request: image to video, with first/last frame or motion brush."""

    model_config = ConfigDict(json_schema_extra=_RULES_SCHEMA)

    image: ImageInput = Field(
        description="First frame (URL or raw base64, no data: prefix): JPEG or PNG, at most "
        "10 MB, sides at least 300 px, aspect 1:2.5 to 2.5:1. Required"
    )
    image_tail: ImageInput | None = Field(
        default=None,
        description="Last frame (URL or raw base64): JPEG or PNG, at most 10 MB, sides at least "
        "300 px; only with duration 5, not with the masks",
    )
    prompt: Prompt | None = Field(
        default=None, description="What the video shows: 1 to 2500 characters"
    )
    negative_prompt: NegativePrompt | None = Field(
        default=None, description="What the video should not show: at most 2500 characters"
    )
    cfg_scale: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Freedom of the model: larger values follow the prompt more closely",
    )
    mode: Mode = Field(
        default="std", description="std: standard, cost-effective; pro: higher quality"
    )
    duration: Duration = Field(
        default=5, description="Video length in seconds: 5 or 10 (a string or an integer)"
    )
    static_mask: ImageInput | None = Field(
        default=None,
        description="Static-brush mask (URL or raw base64): light pixels stay still; the "
        "image's aspect ratio; only with duration 5, not with image_tail",
    )
    dynamic_masks: DynamicMasks | None = Field(
        default=None,
        description="1 to 6 dynamic-brush groups {mask, trajectories}; only with duration 5, "
        "not with image_tail",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_tail_alone(cls, data: Any) -> Any:
        # Said before "image is required", because the client meant something the model cannot do.
        if isinstance(data, dict) and data.get("image") is None and data.get("image_tail"):
            raise rule_error(
                "is required: kirin_v1_i2v does not support a tail frame alone (image_tail "
                "without image); give the first frame as image",
                param="image",
            )
        return data

    @model_validator(mode="after")
    def _rules_between_parameters(self) -> KirinV1I2VRequest:
        if self.image_tail is not None and self.duration != 5:
            raise rule_error(
                "(first and last frame) is only supported with duration 5; "
                f"got duration {self.duration}",
                param="image_tail",
            )
        for name in ("static_mask", "dynamic_masks"):
            if getattr(self, name) is not None and self.duration != 5:
                raise rule_error(
                    "(motion brush) is only supported with duration 5; "
                    f"got duration {self.duration}",
                    param=name,
                )
        if self.image_tail is not None and (
            self.static_mask is not None or self.dynamic_masks is not None
        ):
            given = [n for n in ("static_mask", "dynamic_masks") if getattr(self, n) is not None]
            raise rule_error(
                "cannot be used together with static_mask or dynamic_masks: first and last "
                "frame and motion brush exclude each other; "
                f"got image_tail and {' and '.join(given)}",
                param="image_tail",
            )
        return self


def _mask_params(params: Mapping[str, Any]) -> list[str]:
    found = ["static_mask"] if params.get("static_mask") is not None else []
    found += [f"dynamic_masks.{i}.mask" for i in range(len(params.get("dynamic_masks") or ()))]
    return found


def media_refs(params: Mapping[str, Any]) -> list[MediaRef]:
    """Every image of a validated request, with its rules (module docstring)."""
    refs = [MediaRef("image", "image", params["image"], IMAGE_RULES)]
    if params.get("image_tail") is not None:
        refs.append(MediaRef("image_tail", "image", params["image_tail"], IMAGE_TAIL_RULES))
    if params.get("static_mask") is not None:
        refs.append(MediaRef("static_mask", "image", params["static_mask"], MASK_RULES))
    for index, group in enumerate(params.get("dynamic_masks") or ()):
        refs.append(MediaRef(f"dynamic_masks.{index}.mask", "image", group["mask"], MASK_RULES))
    return refs


def _size(facts: MediaFacts) -> str:
    return f"{facts.width}x{facts.height}"


def check_media_relations(params: Mapping[str, Any], facts: Mapping[str, MediaFacts]) -> None:
    """The rules between the image, the masks and the trajectories (module docstring)."""
    image = facts.get("image")
    masks = [(param, facts[param]) for param in _mask_params(params) if param in facts]
    if image is not None:
        for param, mask in masks:
            if abs(mask.aspect / image.aspect - 1) > MASK_ASPECT_TOLERANCE:
                raise InvalidMedia(
                    f"{param} must have the aspect ratio of image (within 1%): the mask is "
                    f"{_size(mask)} (aspect {mask.aspect:.4f}), the image {_size(image)} "
                    f"(aspect {image.aspect:.4f})",
                    param=param,
                )
    if masks:
        first_param, first = masks[0]
        for param, mask in masks[1:]:
            if (mask.width, mask.height) != (first.width, first.height):
                raise InvalidMedia(
                    f"{param} must have the same resolution as every other mask: it is "
                    f"{_size(mask)}, {first_param} is {_size(first)}",
                    param=param,
                )
    if image is not None:
        for index, group in enumerate(params.get("dynamic_masks") or ()):
            for number, point in enumerate(group["trajectories"]):
                x, y = point["x"], point["y"]
                if not (0 <= x <= image.width and 0 <= y <= image.height):
                    param = f"dynamic_masks.{index}.trajectories"
                    raise InvalidParameter(
                        f"{param} must lie inside the input image: point {number} (x={x:g}, "
                        f"y={y:g}) is outside its {_size(image)} pixels (x 0..{image.width}, "
                        f"y 0..{image.height}, origin at the bottom-left corner)",
                        param=param,
                    )


def output_spec(params: Mapping[str, Any], facts: Mapping[str, MediaFacts] | None) -> OutputSpec:
    """The image's aspect ratio at short side 720, both sides even; ``duration * 30`` frames."""
    image = required_facts(facts, "image", model=MODEL_ID, purpose="the output has its aspect")
    width, height = output_size(image.aspect, SHORT_SIDE)
    return OutputSpec(
        width=width, height=height, fps=FPS, frames=int(params["duration"]) * FPS, audio=False
    )


def _spec_without_facts(params: dict[str, Any]) -> OutputSpec:
    return output_spec(params, None)


CONTRACT = ModelContract(
    id=MODEL_ID,
    request=KirinV1I2VRequest,
    output_spec=_spec_without_facts,
    description=(
        "Kirin V1 image to video: 720p (the image's aspect ratio) at 30 fps, 5 or 10 seconds; "
        "first and last frame or motion brush (static and dynamic masks) at 5 seconds"
    ),
)
