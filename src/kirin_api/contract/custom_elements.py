"""The ``kirin_custom_elements`` contract: create a subject for ``element_list`` (API.md "Models";
there is no seed).

- ``element_name`` is required: 1 to 20 characters, not blank;
- ``element_description``: at most 100 characters;
- ``reference_type`` is required (API.md gives no default, and it decides which list is read):
  ``image_refer`` or ``video_refer``;
- ``image_refer`` needs ``element_image_list``: ``{"frontal_image": <image>, "refer_images":
  [{"image_url": <image>}, ...]}`` with 1 to 3 refer images;
- ``video_refer`` needs ``element_video_list``: ``{"video_url": <http(s) URL>}``;
- the list of the *other* reference type is **refused** (``null`` is fine): it would be fetched
  and checked for nothing, and a client that sends both has most likely set the wrong
  ``reference_type``; saying so beats guessing.

Media (no seed, so API.md's "Images everywhere" rules; no aspect limit, as no seed states one):
element images JPEG/PNG, at most 10 MB, sides at least 300 px; the element video follows the
reference-video rules of ``kirin_v3_motion_control`` at their widest (MP4/MOV, at most 100 MB,
sides 340..3850 px, 3 to 30 s), the nearest thing the seeds say about a video of a character.

This model makes no video: its task's output is ``{"type": "element", "element_id": <int64>}``.
:func:`output_spec` raises ``ValueError`` (the registry's ``produces_video`` says so up front).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator

from kirin_api.contract.common import ContractModel, KirinRequest, ModelContract, not_blank
from kirin_api.contract.inputs import ImageInput, VideoUrl
from kirin_api.contract.job import OutputSpec
from kirin_api.contract.media import ImageRules, MediaFacts, MediaRef, VideoRules
from kirin_api.contract.messages import rule_error

MODEL_ID = "kirin_custom_elements"

NAME_MAX_LENGTH = 20
DESCRIPTION_MAX_LENGTH = 100
MAX_REFER_IMAGES = 3

IMAGE_RULES = ImageRules(aspect_range=None)
VIDEO_RULES = VideoRules()

ReferenceType = Literal["image_refer", "video_refer"]
ElementName = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX_LENGTH, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(not_blank),
]
ElementDescription = Annotated[str, Field(max_length=DESCRIPTION_MAX_LENGTH)]


class ReferImage(ContractModel):
    """One more view of the subject."""

    image_url: ImageInput = Field(
        description="URL or raw base64 (no data: prefix): JPEG or PNG, at most 10 MB, sides at "
        "least 300 px"
    )


ReferImages = Annotated[list[ReferImage], Field(min_length=1, max_length=MAX_REFER_IMAGES)]


class ElementImageList(ContractModel):
    """The images of an ``image_refer`` subject."""

    frontal_image: ImageInput = Field(
        description="The subject seen from the front (URL or raw base64): JPEG or PNG, at most "
        "10 MB, sides at least 300 px"
    )
    refer_images: ReferImages = Field(description='1 to 3 more views: [{"image_url": ...}, ...]')


class ElementVideoList(ContractModel):
    """The video of a ``video_refer`` subject."""

    video_url: VideoUrl = Field(
        description="http or https URL of a video of the subject: MP4 or MOV, at most 100 MB, "
        "sides 340 to 3850 px, 3 to 30 s"
    )


# Which list each reference type reads.
_LIST_OF: dict[str, str] = {
    "image_refer": "element_image_list",
    "video_refer": "element_video_list",
}


def _branch(kind: str, needed: str, refused: str) -> dict[str, Any]:
    return {
        "if": {"required": ["reference_type"], "properties": {"reference_type": {"const": kind}}},
        "then": {
            "required": [needed],
            "properties": {needed: {"type": "object"}, refused: {"type": "null"}},
        },
    }


_LIST_MATCHES_TYPE: dict[str, Any] = {
    "allOf": [
        _branch("image_refer", "element_image_list", "element_video_list"),
        _branch("video_refer", "element_video_list", "element_image_list"),
    ]
}


class KirinCustomElementsRequest(KirinRequest):
    """The body of a kirin_custom_elements request: a new subject from images or a video."""

    model_config = ConfigDict(json_schema_extra=_LIST_MATCHES_TYPE)

    element_name: ElementName = Field(description="The subject's name: 1 to 20 characters")
    element_description: ElementDescription | None = Field(
        default=None, description="What the subject is: at most 100 characters"
    )
    reference_type: ReferenceType = Field(
        description="image_refer: made from element_image_list; video_refer: made from "
        "element_video_list"
    )
    # validate_default so that the "required with this reference_type" check also runs when a
    # list is left out; declared after reference_type so the check can read it.
    element_image_list: ElementImageList | None = Field(
        default=None,
        validate_default=True,
        description="Required with image_refer (refused with video_refer): "
        '{"frontal_image": ..., "refer_images": [{"image_url": ...}, ...]}',
    )
    element_video_list: ElementVideoList | None = Field(
        default=None,
        validate_default=True,
        description='Required with video_refer (refused with image_refer): {"video_url": ...}',
    )

    @field_validator("element_image_list", "element_video_list", mode="before")
    @classmethod
    def _list_matches_reference_type(cls, value: object, info: ValidationInfo) -> object:
        # Runs before the list is parsed, so a list of the wrong type is refused for being there,
        # not for what is inside it. A failed reference_type leaves info.data without it.
        kind = info.data.get("reference_type")
        if kind is None:
            return value
        name = info.field_name
        if _LIST_OF[kind] == name and value is None:
            raise rule_error(f"is required when reference_type is {kind!r}")
        if _LIST_OF[kind] != name and value is not None:
            raise rule_error(
                f"is not accepted with reference_type {kind!r} (it reads {_LIST_OF[kind]}); "
                "leave it out, or set reference_type to match the list you send"
            )
        return value


def media_refs(params: Mapping[str, Any]) -> list[MediaRef]:
    """The subject's images (``image_refer``) or video (``video_refer``)."""
    images = params.get("element_image_list")
    if images is not None:
        return [
            MediaRef(
                "element_image_list.frontal_image", "image", images["frontal_image"], IMAGE_RULES
            ),
            *(
                MediaRef(
                    f"element_image_list.refer_images.{index}.image_url",
                    "image",
                    item["image_url"],
                    IMAGE_RULES,
                )
                for index, item in enumerate(images["refer_images"])
            ),
        ]
    video = params["element_video_list"]
    return [MediaRef("element_video_list.video_url", "video", video["video_url"], VIDEO_RULES)]


def check_media_relations(params: Mapping[str, Any], facts: Mapping[str, MediaFacts]) -> None:
    """No rules relate a subject's media to each other."""


def output_spec(params: Mapping[str, Any], facts: Mapping[str, MediaFacts] | None) -> OutputSpec:
    """Always ``ValueError``: this model creates a subject, not a video."""
    raise ValueError(
        f"{MODEL_ID} makes no video (its output is an element id); it has no output spec"
    )


def _spec_without_facts(params: dict[str, Any]) -> OutputSpec:
    return output_spec(params, None)


CONTRACT = ModelContract(
    id=MODEL_ID,
    request=KirinCustomElementsRequest,
    output_spec=_spec_without_facts,
    description=(
        "Kirin custom elements: creates a subject for element_list from a frontal image and 1 to "
        "3 more views (image_refer) or from a video (video_refer); the output is its element_id"
    ),
)
