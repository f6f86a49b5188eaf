"""The ``kirin_v1_6_multi_i2v`` contract: several reference images to video
(seed ``seeds/kirin_v1_6_multi_i2v.txt``).

Parameters, defaults, ranges and options follow the seed:

- ``image_list`` is required: 1 to 4 items, each ``{"image": <URL or raw base64>}``;
- ``prompt`` is required, 1 to 2500 characters, not blank; ``negative_prompt`` at most 2500;
- ``mode`` std/pro (default std), ``duration`` 5/10 (default 5), ``aspect_ratio`` 16:9, 9:16,
  1:1 (default 16:9). The seed lists no ``cfg_scale``, so it is refused as unknown.

Media: every image JPEG/PNG, at most 10 MB, sides at least 300 px, aspect 1:2.5..2.5:1 (the
seed). No rules relate the images to each other.

Output: as ``kirin_v1_t2v``, from ``aspect_ratio`` (1280x720, 720x1280, 720x720); 30 fps;
``duration * 30`` frames; no audio. The seed does not say the resolution; 720p, as for the
other V1 models, is API.md's table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field

from kirin_api.contract.common import ContractModel, KirinRequest, ModelContract
from kirin_api.contract.inputs import ImageInput
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef
from kirin_api.contract.t2v import (
    FPS,
    SIZES,
    AspectRatio,
    Duration,
    Mode,
    NegativePrompt,
    Prompt,
)

MODEL_ID = "kirin_v1_6_multi_i2v"

MAX_IMAGES = 4
IMAGE_RULES = ImageRules()


class ImageItem(ContractModel):
    """One reference image of ``image_list``."""

    image: ImageInput = Field(
        description="URL or raw base64 (no data: prefix): JPEG or PNG, at most 10 MB, sides at "
        "least 300 px, aspect 1:2.5 to 2.5:1; framed as intended (no cropping is applied)"
    )


ImageList = Annotated[list[ImageItem], Field(min_length=1, max_length=MAX_IMAGES)]


class KirinV16MultiI2VRequest(KirinRequest):
    """The body of a kirin_v1_6_multi_i2v request: 1 to 4 reference images to video."""

    image_list: ImageList = Field(description='1 to 4 reference images: [{"image": ...}, ...]')
    prompt: Prompt = Field(description="What the video shows: 1 to 2500 characters")
    negative_prompt: NegativePrompt | None = Field(
        default=None, description="What the video should not show: at most 2500 characters"
    )
    mode: Mode = Field(
        default="std", description="std: standard, cost-effective; pro: higher quality"
    )
    duration: Duration = Field(
        default=5, description="Video length in seconds: 5 or 10 (a string or an integer)"
    )
    aspect_ratio: AspectRatio = Field(default="16:9", description="Width:height of the video")


def media_refs(params: Mapping[str, Any]) -> list[MediaRef]:
    """``image_list.N.image`` for every item, with the seed's image rules."""
    return [
        MediaRef(f"image_list.{index}.image", "image", item["image"], IMAGE_RULES)
        for index, item in enumerate(params["image_list"])
    ]


def check_media_relations(params: Mapping[str, Any], facts: Mapping[str, MediaFacts]) -> None:
    """No rules relate this model's images to each other or to its parameters."""


def output_spec(
    params: Mapping[str, Any], facts: Mapping[str, MediaFacts] | None = None
) -> OutputSpec:
    """As kirin_v1_t2v, from ``aspect_ratio``; the images do not change the size."""
    width, height = SIZES[params["aspect_ratio"]]
    return OutputSpec(
        width=width, height=height, fps=FPS, frames=int(params["duration"]) * FPS, audio=False
    )


def _spec(params: dict[str, Any]) -> OutputSpec:
    return output_spec(params)


CONTRACT = ModelContract(
    id=MODEL_ID,
    request=KirinV16MultiI2VRequest,
    output_spec=_spec,
    description=(
        "Kirin V1.6 multi-image to video: 1 to 4 reference images and a prompt; 720p at 30 fps, "
        "5 or 10 seconds, 16:9, 9:16 or 1:1"
    ),
)
