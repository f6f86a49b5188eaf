"""The ``kirin_v1_t2v`` contract: text to video (seed ``seeds/kirin_v1_t2v.txt``).

Parameters, defaults, ranges and options follow the seed; the rules read out of its prose
(API.md) are:

- ``prompt`` is required, 1 to 2500 characters, and not only whitespace;
- ``camera_control`` only with ``mode: std`` and ``duration: 5``;
- ``camera_control.type: simple`` needs ``config`` with exactly one of its six fields non-zero
  (missing fields count as 0), each in -10..10; the four other types take no ``config``.

Output: 720p at 30 fps for both modes (the seed's note): 16:9 is 1280x720, 9:16 is 720x1280, 1:1
is 720x720; ``duration * 30`` frames; no audio.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from kirin_api.contract.common import (
    ContractModel,
    KirinRequest,
    ModelContract,
    StringOrInt,
    not_blank,
)
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.messages import describe_value, rule_error

MODEL_ID = "kirin_v1_t2v"

PROMPT_MAX_LENGTH = 2500
DURATIONS: tuple[int, ...] = (5, 10)
FPS = 30

Mode = Literal["std", "pro"]
AspectRatio = Literal["16:9", "9:16", "1:1"]
CameraControlType = Literal[
    "simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"
]
CAMERA_AXES: tuple[str, ...] = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")

# (width, height) of each aspect ratio: 720p, short side 720.
SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (720, 720),
}

Prompt = Annotated[
    str,
    # The pattern is for the JSON Schema only ("some non-space character"); the check itself is
    # not_blank, whose message is clearer than a pattern mismatch.
    Field(min_length=1, max_length=PROMPT_MAX_LENGTH, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(not_blank),
]
NegativePrompt = Annotated[str, Field(max_length=PROMPT_MAX_LENGTH)]
Duration = Annotated[int, StringOrInt(options=DURATIONS, unit="seconds")]
CameraAxis = Annotated[float, Field(ge=-10, le=10)]

# JSON Schema for "exactly one of the six axes is present and non-zero": a oneOf whose branch i
# matches iff axis i is given and not 0, so exactly one branch matching is exactly the rule.
_EXACTLY_ONE_AXIS: dict[str, Any] = {
    "oneOf": [
        {"required": [axis], "properties": {axis: {"not": {"const": 0}}}} for axis in CAMERA_AXES
    ]
}


class CameraConfig(ContractModel):
    """Camera movement for type simple: exactly one field non-zero, each in -10..10."""

    model_config = ConfigDict(json_schema_extra=_EXACTLY_ONE_AXIS)

    horizontal: CameraAxis = Field(
        default=0, description="Translation along x; negative moves left, positive right"
    )
    vertical: CameraAxis = Field(
        default=0, description="Translation along y; negative moves down, positive up"
    )
    pan: CameraAxis = Field(
        default=0, description="Rotation around y; negative rotates left, positive right"
    )
    tilt: CameraAxis = Field(
        default=0, description="Rotation around x; negative tilts down, positive up"
    )
    roll: CameraAxis = Field(
        default=0, description="Rotation around z; negative counter-clockwise, positive clockwise"
    )
    zoom: CameraAxis = Field(
        default=0, description="Focal length; negative zooms in (smaller FOV), positive out"
    )

    @model_validator(mode="after")
    def _exactly_one_movement(self) -> CameraConfig:
        moving = [(axis, getattr(self, axis)) for axis in CAMERA_AXES if getattr(self, axis) != 0]
        if len(moving) != 1:
            got = (
                "all are 0"
                if not moving
                else f"{len(moving)} are: "
                + ", ".join(f"{a}={describe_value(v)}" for a, v in moving)
            )
            raise rule_error(
                "must have exactly one of horizontal, vertical, pan, tilt, roll, zoom non-zero "
                f"(the others 0 or left out); {got}"
            )
        return self


_CONFIG_ONLY_FOR_SIMPLE: dict[str, Any] = {
    "if": {"properties": {"type": {"const": "simple"}}, "required": ["type"]},
    "then": {"required": ["config"], "properties": {"config": {"type": "object"}}},
    "else": {"properties": {"config": {"type": "null"}}},
}


class CameraControl(ContractModel):
    """A predefined camera movement, or type simple with one movement in config."""

    model_config = ConfigDict(json_schema_extra=_CONFIG_ONLY_FOR_SIMPLE)

    type: CameraControlType = Field(
        description=(
            "simple: one movement chosen in config; down_back: press down and zoom out; "
            "forward_up: push in and move up; right_turn_forward: turn right then push in; "
            "left_turn_forward: turn left then push in"
        )
    )
    # validate_default so that the "simple needs a config" check also runs when it is left out.
    config: CameraConfig | None = Field(
        default=None,
        validate_default=True,
        description="Required when type is simple; not accepted for the other types",
    )

    @field_validator("config", mode="before")
    @classmethod
    def _config_matches_type(cls, value: object, info: ValidationInfo) -> object:
        # Runs before the config is parsed, so a config given to down_back is refused for being
        # there, not for what is inside it. A failed `type` leaves info.data without it.
        kind = info.data.get("type")
        if kind is None:
            return value
        if kind == "simple" and value is None:
            raise rule_error(
                "is required when camera_control.type is 'simple': an object with exactly one "
                "of horizontal, vertical, pan, tilt, roll, zoom non-zero"
            )
        if kind != "simple" and value is not None:
            raise rule_error(
                f"is not accepted with camera_control.type {kind!r} (only 'simple' takes a "
                "config); leave it out or set it to null"
            )
        return value


_CAMERA_ONLY_STD_5: dict[str, Any] = {
    "allOf": [
        {
            "if": {
                "properties": {"camera_control": {"type": "object"}},
                "required": ["camera_control"],
            },
            "then": {
                "properties": {
                    "mode": {"const": "std"},
                    "duration": {"enum": [5, "5"]},
                }
            },
        }
    ]
}


class KirinV1T2VRequest(KirinRequest):
    """The body of a kirin_v1_t2v request: text to video."""

    model_config = ConfigDict(json_schema_extra=_CAMERA_ONLY_STD_5)

    prompt: Prompt = Field(description="What the video shows: 1 to 2500 characters")
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
    aspect_ratio: AspectRatio = Field(default="16:9", description="Width:height of the video")
    duration: Duration = Field(
        default=5, description="Video length in seconds: 5 or 10 (a string or an integer)"
    )
    camera_control: CameraControl | None = Field(
        default=None,
        description="Camera movement; only with mode std and duration 5. Left out: the model "
        "chooses from the prompt",
    )

    @model_validator(mode="after")
    def _camera_control_only_std_5(self) -> KirinV1T2VRequest:
        if self.camera_control is not None and (self.mode != "std" or self.duration != 5):
            raise rule_error(
                "is only supported with mode 'std' and duration 5; "
                f"got mode {self.mode!r} and duration {self.duration}",
                param="camera_control",
            )
        return self


def output_spec(params: dict[str, Any]) -> OutputSpec:
    """The video a ``kirin_v1_t2v`` request must produce (params as normalised by the contract)."""
    width, height = SIZES[params["aspect_ratio"]]
    return OutputSpec(
        width=width, height=height, fps=FPS, frames=int(params["duration"]) * FPS, audio=False
    )


CONTRACT = ModelContract(
    id=MODEL_ID,
    request=KirinV1T2VRequest,
    output_spec=output_spec,
    description=(
        "Kirin V1 text to video: 720p at 30 fps, 5 or 10 seconds, 16:9, 9:16 or 1:1, with "
        "optional camera control (std mode, 5 seconds)"
    ),
)
