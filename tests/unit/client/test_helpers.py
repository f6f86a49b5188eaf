"""Per-model parameter builders and image encoding."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kirin_api.client import helpers as h

PNG = b"\x89PNG\r\n\x1a\n fake image bytes"
RAW = base64.b64encode(PNG).decode()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "image.png"
    path.write_bytes(PNG)
    return path


def test_encode_image_inputs(image: Path) -> None:
    assert h.encode_image(image) == RAW
    assert h.encode_image(str(image)) == RAW
    assert h.encode_image(PNG) == RAW
    assert h.encode_image("https://example.com/a.png") == "https://example.com/a.png"
    assert h.encode_image("data:image/png;base64," + RAW) == RAW  # the API refuses the prefix
    assert h.encode_image(RAW) == RAW
    assert not h.encode_image(image).startswith("data:")


def test_encode_image_refuses_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        h.encode_image(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError):
        h.encode_image("missing-photo.png")


def test_t2v_leaves_out_what_was_not_given() -> None:
    assert h.build_t2v("x", duration=10, mode="pro", watermark=True) == {
        "prompt": "x",
        "duration": "10",
        "aspect_ratio": "16:9",
        "mode": "pro",
        "watermark_info": {"enabled": True},
    }
    assert h.build_t2v("x", duration=None, aspect_ratio=None) == {"prompt": "x"}


def test_i2v_encodes_every_image_and_trajectory_pairs(image: Path) -> None:
    params = h.build_i2v(
        image,
        static_mask=image,
        dynamic_masks=[{"mask": str(image), "trajectories": [(0, 0), {"x": 5, "y": 6}]}],
        external_task_id="e",
    )
    assert params["image"] == params["static_mask"] == RAW
    assert params["dynamic_masks"] == [
        {"mask": RAW, "trajectories": [{"x": 0, "y": 0}, {"x": 5, "y": 6}]}
    ]
    assert params["external_task_id"] == "e"


def test_multi_i2v_wraps_images(image: Path) -> None:
    params = h.build_multi_i2v([image, {"image": "https://e.com/b.jpg"}], "p", aspect_ratio="1:1")
    assert params["image_list"] == [{"image": RAW}, {"image": "https://e.com/b.jpg"}]


def test_v3_i2v_multi_shot_fills_in_what_the_api_requires(image: Path) -> None:
    params = h.build_v3_i2v(
        image_tail=image,
        multi_prompt=[{"prompt": "a", "duration": 2}, {"prompt": "b", "duration": "3"}],
        element_list=[829836802793406551, "5"],
        sound=True,
    )
    assert params["multi_shot"] is True
    assert params["shot_type"] == "customize"
    assert params["multi_prompt"] == [
        {"index": 1, "prompt": "a", "duration": "2"},
        {"index": 2, "prompt": "b", "duration": "3"},
    ]
    assert params["element_list"] == [{"element_id": 829836802793406551}, {"element_id": 5}]
    assert params["sound"] == "on"
    assert "image" not in params
    with pytest.raises(ValueError, match="image"):
        h.build_v3_i2v(prompt="x")


def test_motion_control_and_elements(image: Path) -> None:
    params = h.build_motion_control(
        image,
        "https://e.com/dance.mp4",
        character_orientation="video",
        mode="std",
        keep_original_sound=False,
        element_list=[{"element_id": "7"}],
    )
    assert params == {
        "image_url": RAW,
        "video_url": "https://e.com/dance.mp4",
        "character_orientation": "video",
        "mode": "std",
        "keep_original_sound": "no",
        "element_list": [{"element_id": 7}],
    }
    element = h.build_create_element("hero", frontal_image=image, refer_images=[image])
    assert element == {
        "element_name": "hero",
        "reference_type": "image_refer",
        "element_image_list": {"frontal_image": RAW, "refer_images": [{"image_url": RAW}]},
    }
    video = h.build_create_element("dancer", video_url="https://e.com/v.mp4")
    assert video["reference_type"] == "video_refer"
    assert video["element_video_list"] == {"video_url": "https://e.com/v.mp4"}
