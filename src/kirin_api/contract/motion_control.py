"""The ``kirin_v3_motion_control`` contract: a character from an image moves like the one in a
reference video (seed ``seeds/kirin_v3_motion_control.txt``).

Parameters, defaults, ranges and options follow the seed:

- ``image_url`` (an image, as a URL or raw base64 despite its name: the seed says both),
  ``video_url`` (an http(s) URL), ``character_orientation`` (image/video) and ``mode`` (std/pro,
  **no default**: the seed marks it required) are required;
- ``prompt`` at most 2500 characters (the seed gives no lower bound: ``""`` is no prompt);
- ``keep_original_sound`` yes/no, default yes;
- ``element_list``: exactly 1 ``{"element_id": ...}`` where given (the seed: "up to 1"; an
  empty array is refused: leave it out), and then ``character_orientation`` must be ``video``
  ("when using subjects, the generated video can only follow the character orientation from the
  reference video"; reported on ``character_orientation``).

Media: ``image_url`` JPEG/PNG, at most 10 MB, sides 300..65536 px, aspect 1:2.5..2.5:1;
``video_url`` MP4/MOV by content, at most 100 MB, sides 340..3850 px, 3 s to 10 s with
``character_orientation: image`` and to 30 s with ``video`` (the rules ``media_refs`` gives carry
the limit of the request's orientation).

Relations: the video's duration against ``character_orientation`` (the same limits, checked
again as a pure rule on the facts, so that a caller holding only facts gets the same answer);
``invalid_media`` on ``video_url``.

Output: the reference image's aspect ratio, short side 720 (``std``) or 1080 (``pro``), both
sides even; 30 fps; ``round(video duration * 30)`` frames (the output is as long as the reference
video); audio when ``keep_original_sound`` is ``yes`` and the reference video has audio.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from kirin_api.contract.common import KirinRequest, ModelContract
from kirin_api.contract.errors import InvalidMedia
from kirin_api.contract.inputs import (
    ElementRef,
    ImageInput,
    VideoUrl,
    output_size,
    required_facts,
)
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef, VideoRules
from kirin_api.contract.messages import rule_error
from kirin_api.contract.t2v import FPS, PROMPT_MAX_LENGTH, Mode

MODEL_ID = "kirin_v3_motion_control"

SHORT_SIDE: dict[str, int] = {"std": 720, "pro": 1080}
MAX_ELEMENTS = 1
VIDEO_MIN_SECONDS = 3.0
# The longest reference video for each character_orientation (the seed).
VIDEO_MAX_SECONDS: dict[str, float] = {"image": 10.0, "video": 30.0}

IMAGE_RULES = ImageRules(max_side=65536)


def video_rules(character_orientation: str) -> VideoRules:
    """The reference video's rules for a ``character_orientation``."""
    return VideoRules(
        min_duration=VIDEO_MIN_SECONDS, max_duration=VIDEO_MAX_SECONDS[character_orientation]
    )


Orientation = Literal["image", "video"]
KeepSound = Literal["yes", "no"]
MotionPrompt = Annotated[str, Field(max_length=PROMPT_MAX_LENGTH)]
Elements = Annotated[list[ElementRef], Field(min_length=1, max_length=MAX_ELEMENTS)]

_SUBJECT_NEEDS_VIDEO_ORIENTATION: dict[str, Any] = {
    "allOf": [
        {
            "if": {"required": ["element_list"], "properties": {"element_list": {"type": "array"}}},
            "then": {"properties": {"character_orientation": {"const": "video"}}},
        }
    ]
}


class KirinV3MotionControlRequest(KirinRequest):
    """The body of a kirin_v3_motion_control request: an image's character, a video's motion."""

    model_config = ConfigDict(json_schema_extra=_SUBJECT_NEEDS_VIDEO_ORIENTATION)

    prompt: MotionPrompt | None = Field(
        default=None,
        description="Text to add elements or camera effects: at most 2500 characters",
    )
    image_url: ImageInput = Field(
        description="Reference image with the character (URL or raw base64, no data: prefix): "
        "JPEG or PNG, at most 10 MB, sides 300 to 65536 px, aspect 1:2.5 to 2.5:1"
    )
    video_url: VideoUrl = Field(
        description="Reference video whose motion is followed (http or https URL): MP4 or MOV, "
        "at most 100 MB, sides 340 to 3850 px, 3 s to 10 s (orientation image) or 30 s "
        "(orientation video)"
    )
    element_list: Elements | None = Field(
        default=None,
        description='At most 1 subject from the subject library: [{"element_id": ...}]; '
        "needs character_orientation video",
    )
    keep_original_sound: KeepSound = Field(
        default="yes", description="yes: keep the reference video's sound"
    )
    character_orientation: Orientation = Field(
        description="image: the character faces as in the image (video at most 10 s); video: as "
        "in the video (video at most 30 s; required with a subject)"
    )
    mode: Mode = Field(description="std: 720p, cost-effective; pro: 1080p, higher quality")

    @model_validator(mode="after")
    def _subject_needs_video_orientation(self) -> KirinV3MotionControlRequest:
        if self.element_list is not None and self.character_orientation != "video":
            raise rule_error(
                "must be 'video' when element_list is given: with a subject the video can only "
                f"follow the reference video's orientation; got {self.character_orientation!r}",
                param="character_orientation",
            )
        return self


def media_refs(params: Mapping[str, Any]) -> list[MediaRef]:
    """``image_url`` and ``video_url``, the video's duration limit following the orientation."""
    return [
        MediaRef("image_url", "image", params["image_url"], IMAGE_RULES),
        MediaRef(
            "video_url",
            "video",
            params["video_url"],
            video_rules(params["character_orientation"]),
        ),
    ]


def check_media_relations(params: Mapping[str, Any], facts: Mapping[str, MediaFacts]) -> None:
    """The reference video's duration against ``character_orientation``."""
    video = facts.get("video_url")
    if video is None or video.duration is None:
        return
    orientation = params["character_orientation"]
    longest = VIDEO_MAX_SECONDS[orientation]
    if video.duration < VIDEO_MIN_SECONDS:
        raise InvalidMedia(
            f"video_url must be at least {VIDEO_MIN_SECONDS:g} seconds long; "
            f"it is {video.duration:g} seconds",
            param="video_url",
        )
    if video.duration > longest:
        raise InvalidMedia(
            f"video_url must be at most {longest:g} seconds long with character_orientation "
            f"{orientation!r} (10 s with 'image', 30 s with 'video'); "
            f"it is {video.duration:g} seconds",
            param="video_url",
        )


def output_spec(params: Mapping[str, Any], facts: Mapping[str, MediaFacts] | None) -> OutputSpec:
    """The image's aspect at 720p/1080p by mode, as long as the reference video."""
    image = required_facts(facts, "image_url", model=MODEL_ID, purpose="the output has its aspect")
    video = required_facts(
        facts, "video_url", model=MODEL_ID, purpose="the output is as long as the video"
    )
    if video.duration is None:
        raise ValueError(f"{MODEL_ID}: the facts of 'video_url' have no duration")
    width, height = output_size(image.aspect, SHORT_SIDE[params["mode"]])
    return OutputSpec(
        width=width,
        height=height,
        fps=FPS,
        frames=round(video.duration * FPS),
        audio=params["keep_original_sound"] == "yes" and video.has_audio,
    )


def _spec_without_facts(params: dict[str, Any]) -> OutputSpec:
    return output_spec(params, None)


CONTRACT = ModelContract(
    id=MODEL_ID,
    request=KirinV3MotionControlRequest,
    output_spec=_spec_without_facts,
    description=(
        "Kirin V3 motion control: the character of a reference image performs the motion of a "
        "reference video (3 to 30 s); 720p (std) or 1080p (pro) in the image's aspect ratio at "
        "30 fps, as long as the video, with its sound if wanted"
    ),
)
