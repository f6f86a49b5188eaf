"""The ``kirin_v3_i2v`` contract: image to video, single or multi-shot (seed
``seeds/kirin_v3_i2v.txt``).

Parameters, defaults, ranges and options follow the seed; the rules read out of its prose
(API.md) are:

- at least one of ``image`` / ``image_tail`` is required (reported on ``image``);
- ``multi_shot: false`` (the default): ``prompt`` is required, 1 to 2500 characters, not blank;
  ``shot_type`` and ``multi_prompt`` are ignored;
- ``multi_shot: true``: ``shot_type`` is required and must be ``customize``; ``multi_prompt`` is
  required, 1 to 6 shots ``{index, prompt, duration}``, each prompt 1 to 512 characters and not
  blank, each duration (a string or an integer) at least 1 and at most ``duration``
  (``multi_prompt.N.duration``), and the durations add up to ``duration`` exactly (reported on
  ``multi_prompt``: no one shot is at fault); ``prompt`` is ignored;
- ``index`` (which the seed shows but does not define) may be left out; where given it must be
  the shot's place in the list counting from 1 (``1, 2, 3...``), so that list order and index
  can never disagree. The normalised params carry it filled in;
- ``element_list``: 1 to 3 ``{"element_id": ...}`` (an empty array is refused: leave it out);
- ``sound`` on/off (default off), ``mode`` std/pro (default std), ``duration`` 3..15 (default 5).

"Ignored" means: the value's type and shape are still checked (it is a parameter of the API),
but it is taken out of the normalised params (:func:`normalise`), so it changes neither the
render nor the render seed.

Media: ``image`` JPEG/PNG, at most 10 MB, sides at least 300 px, aspect 1:2.5..2.5:1;
``image_tail`` the same with no aspect limit (the seed says so). No rules relate them.

Output: the aspect ratio of ``image`` (of ``image_tail`` where only it is given; an aspect beyond
1:2.5..2.5:1, which only a tail image can have, is clamped to that range), short side 720 for
``std`` and 1080 for ``pro`` (the seed: "generates 720P/1080P video"), both sides even; 30 fps;
``duration * 30`` frames; audio when ``sound`` is ``on``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from kirin_api.contract.common import (
    ContractModel,
    KirinRequest,
    ModelContract,
    StringOrInt,
    not_blank,
)
from kirin_api.contract.inputs import ElementRef, ImageInput, output_size, required_facts
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef
from kirin_api.contract.messages import rule_error
from kirin_api.contract.t2v import FPS, PROMPT_MAX_LENGTH, Mode, NegativePrompt

MODEL_ID = "kirin_v3_i2v"

DURATIONS: tuple[int, ...] = tuple(range(3, 16))
SHOT_DURATIONS: tuple[int, ...] = tuple(range(1, 16))
MAX_SHOTS = 6
SHOT_PROMPT_MAX_LENGTH = 512
MAX_ELEMENTS = 3
SHORT_SIDE: dict[str, int] = {"std": 720, "pro": 1080}

IMAGE_RULES = ImageRules()
IMAGE_TAIL_RULES = ImageRules(aspect_range=None)

Sound = Literal["on", "off"]
ShotType = Literal["customize"]
Duration = Annotated[int, StringOrInt(options=DURATIONS, unit="seconds")]
# Each shot's own bound is the whole range of durations; "at most the total" is a rule between
# parameters. Options rather than ge/le so the JSON Schema refuses "0" as the validator does.
ShotDuration = Annotated[int, StringOrInt(options=SHOT_DURATIONS, unit="seconds")]
# Not blank only where a prompt is required (multi_shot false); an ignored one is only bounded.
OptionalPrompt = Annotated[str, Field(max_length=PROMPT_MAX_LENGTH)]
ShotPrompt = Annotated[
    str,
    Field(min_length=1, max_length=SHOT_PROMPT_MAX_LENGTH, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(not_blank),
]


class Shot(ContractModel):
    """One shot of a multi-shot video."""

    index: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SHOTS,
        description="The shot's place in the list, counting from 1 (may be left out)",
    )
    prompt: ShotPrompt = Field(description="What the shot shows: 1 to 512 characters")
    duration: ShotDuration = Field(
        description="The shot's length in seconds (a string or an integer): at least 1, at most "
        "the video's duration; all shots add up to the video's duration"
    )


Shots = Annotated[list[Shot], Field(min_length=1, max_length=MAX_SHOTS)]
Elements = Annotated[list[ElementRef], Field(min_length=1, max_length=MAX_ELEMENTS)]

_MULTI_SHOT: dict[str, Any] = {
    "required": ["multi_shot"],
    "properties": {"multi_shot": {"const": True}},
}

_RULES_SCHEMA: dict[str, Any] = {
    "allOf": [
        {
            "anyOf": [
                {"required": ["image"], "properties": {"image": {"type": "string"}}},
                {"required": ["image_tail"], "properties": {"image_tail": {"type": "string"}}},
            ]
        },
        {
            "if": _MULTI_SHOT,
            "then": {
                "required": ["shot_type", "multi_prompt"],
                "properties": {"shot_type": {"type": "string"}, "multi_prompt": {"type": "array"}},
            },
            "else": {
                "required": ["prompt"],
                "properties": {"prompt": {"type": "string", "minLength": 1, "pattern": r"\S"}},
            },
        },
    ]
}


class KirinV3I2VRequest(KirinRequest):
    """The body of a kirin_v3_i2v request: image to video, one shot or up to six."""

    model_config = ConfigDict(json_schema_extra=_RULES_SCHEMA)

    image: ImageInput | None = Field(
        default=None,
        description="First frame (URL or raw base64, no data: prefix): JPEG or PNG, at most "
        "10 MB, sides at least 300 px, aspect 1:2.5 to 2.5:1. image or image_tail is required",
    )
    image_tail: ImageInput | None = Field(
        default=None,
        description="Last frame (URL or raw base64): JPEG or PNG, at most 10 MB, sides at least "
        "300 px, any aspect ratio. image or image_tail is required",
    )
    multi_shot: bool = Field(
        default=False,
        description="true: a multi-shot video from multi_prompt (prompt is ignored); false: one "
        "shot from prompt (shot_type and multi_prompt are ignored)",
    )
    shot_type: ShotType | None = Field(
        default=None, description="Required when multi_shot is true: customize"
    )
    prompt: OptionalPrompt | None = Field(
        default=None,
        description="What the video shows, at most 2500 characters; required when multi_shot "
        "is false, ignored when it is true",
    )
    multi_prompt: Shots | None = Field(
        default=None,
        description="Required when multi_shot is true: 1 to 6 shots {index, prompt (at most 512 "
        "characters), duration}, whose durations add up to duration",
    )
    negative_prompt: NegativePrompt | None = Field(
        default=None, description="What the video should not show: at most 2500 characters"
    )
    element_list: Elements | None = Field(
        default=None,
        description='1 to 3 subjects from the subject library: [{"element_id": ...}]',
    )
    sound: Sound = Field(default="off", description="on: the video has a sound track")
    mode: Mode = Field(
        default="std", description="std: 720p, cost-effective; pro: 1080p, higher quality"
    )
    duration: Duration = Field(
        default=5, description="Video length in seconds: 3 to 15 (a string or an integer)"
    )

    @model_validator(mode="after")
    def _rules_between_parameters(self) -> KirinV3I2VRequest:
        if self.image is None and self.image_tail is None:
            raise rule_error(
                "or image_tail is required (at least one of them): give the first frame "
                "(image), the last frame (image_tail) or both",
                param="image",
            )
        if not self.multi_shot:
            if self.prompt is None:
                raise rule_error(
                    "is required when multi_shot is false (1 to 2500 characters)", param="prompt"
                )
            if not self.prompt.strip():
                raise rule_error(
                    "must not be empty or blank when multi_shot is false", param="prompt"
                )
            return self
        if self.shot_type is None:
            raise rule_error(
                "is required when multi_shot is true; it must be 'customize'", param="shot_type"
            )
        if self.multi_prompt is None:
            raise rule_error(
                "is required when multi_shot is true: 1 to 6 shots {index, prompt, duration} "
                "whose durations add up to duration",
                param="multi_prompt",
            )
        for position, shot in enumerate(self.multi_prompt):
            if shot.index is not None and shot.index != position + 1:
                raise rule_error(
                    f"must be the shot's place in the list counting from 1, here {position + 1} "
                    f"(or be left out); got {shot.index}",
                    param=f"multi_prompt.{position}.index",
                )
            if shot.duration > self.duration:
                raise rule_error(
                    f"must be at most the video's duration ({self.duration} seconds); "
                    f"got {shot.duration}",
                    param=f"multi_prompt.{position}.duration",
                )
        total = sum(shot.duration for shot in self.multi_prompt)
        if total != self.duration:
            parts = " + ".join(str(shot.duration) for shot in self.multi_prompt)
            raise rule_error(
                f"durations must add up to duration ({self.duration} seconds) exactly; "
                f"they add up to {total} ({parts})",
                param="multi_prompt",
            )
        return self


def normalise(params: dict[str, Any]) -> dict[str, Any]:
    """Take ignored parameters out and fill in shot indexes (module docstring)."""
    out = dict(params)
    if out.get("multi_shot"):
        out.pop("prompt", None)
        out["multi_prompt"] = [
            {**shot, "index": position + 1} for position, shot in enumerate(out["multi_prompt"])
        ]
    else:
        out.pop("shot_type", None)
        out.pop("multi_prompt", None)
    return out


def media_refs(params: Mapping[str, Any]) -> list[MediaRef]:
    """``image`` and ``image_tail`` where given, with the seed's rules."""
    refs: list[MediaRef] = []
    if params.get("image") is not None:
        refs.append(MediaRef("image", "image", params["image"], IMAGE_RULES))
    if params.get("image_tail") is not None:
        refs.append(MediaRef("image_tail", "image", params["image_tail"], IMAGE_TAIL_RULES))
    return refs


def check_media_relations(params: Mapping[str, Any], facts: Mapping[str, MediaFacts]) -> None:
    """No rules relate this model's images (``image_tail`` need not match ``image``)."""


def output_spec(params: Mapping[str, Any], facts: Mapping[str, MediaFacts] | None) -> OutputSpec:
    """The first (else the last) frame's aspect at 720p/1080p by mode; audio when sound is on."""
    param = "image" if params.get("image") is not None else "image_tail"
    image = required_facts(facts, param, model=MODEL_ID, purpose="the output has its aspect")
    width, height = output_size(image.aspect, SHORT_SIDE[params["mode"]])
    return OutputSpec(
        width=width,
        height=height,
        fps=FPS,
        frames=int(params["duration"]) * FPS,
        audio=params["sound"] == "on",
    )


def _spec_without_facts(params: dict[str, Any]) -> OutputSpec:
    return output_spec(params, None)


CONTRACT = ModelContract(
    id=MODEL_ID,
    request=KirinV3I2VRequest,
    output_spec=_spec_without_facts,
    description=(
        "Kirin V3 image to video: first and/or last frame, one shot or up to six; 720p (std) or "
        "1080p (pro) in the image's aspect ratio at 30 fps, 3 to 15 seconds, optional sound and "
        "subjects"
    ),
)
