"""``--param key=@file``: videos (and large images) are uploaded first, small images go inline."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kirin_api.user_cli import UPLOAD_IMAGES_OVER, ParamError, parse_params, parse_value

PNG_HEAD = b"\x89PNG\r\n\x1a\n"
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00"


def test_videos_and_large_images_are_uploaded_small_images_inline(tmp_path: Path) -> None:
    (tmp_path / "fox.mp4").write_bytes(MP4_HEAD + b"\x00" * 100)
    (tmp_path / "small.png").write_bytes(PNG_HEAD)
    (tmp_path / "large.png").write_bytes(PNG_HEAD + b"\x00" * UPLOAD_IMAGES_OVER)
    uploaded: list[Path] = []

    def upload(path: Path) -> str:
        uploaded.append(path)
        return f"https://kirin.example/uploads/{path.name}"

    body = parse_params(
        ["video_url=@fox.mp4", "image=@small.png", "image_tail=@large.png"],
        base_dir=tmp_path,
        upload=upload,
    )
    assert body == {
        "video_url": "https://kirin.example/uploads/fox.mp4",
        "image": base64.b64encode(PNG_HEAD).decode(),
        "image_tail": "https://kirin.example/uploads/large.png",
    }
    assert [p.name for p in uploaded] == ["fox.mp4", "large.png"]


def test_without_uploads_a_video_is_refused_and_a_large_image_goes_inline(
    tmp_path: Path,
) -> None:
    (tmp_path / "fox.mov").write_bytes(MP4_HEAD)
    (tmp_path / "large.png").write_bytes(PNG_HEAD + b"\x00" * UPLOAD_IMAGES_OVER)
    with pytest.raises(ParamError, match="takes no uploads"):
        parse_value("@fox.mov", base_dir=tmp_path, upload=lambda path: None)
    inline = parse_value("@large.png", base_dir=tmp_path, upload=lambda path: None)
    assert base64.b64decode(inline).startswith(PNG_HEAD)
