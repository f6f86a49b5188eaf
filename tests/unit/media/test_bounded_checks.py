"""Media checks that cost bounded memory: PNGs proven by their chunk walk and counted inflate
(never a full decode), JPEGs decoded at 1/8 scale, videos refused from their box headers before
FFmpeg opens them; polyglot images rewritten from their pixels; broken audio refused cleanly."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from kirin_api.contract.errors import InvalidMedia
from kirin_api.contract.media import ImageRules, VideoRules
from kirin_api.media.audio import check_audio
from kirin_api.media.image_structure import StructureError, verify_png
from kirin_api.media.images import check_image, rewrite_pixels
from kirin_api.media.mp4_header import video_track_sizes
from kirin_api.media.videos import check_video
from tests.media_factory import broken_audio_video, image_bytes, video_file
from tests.png_forge import chunk, grey_png

RULES = ImageRules(aspect_range=None, min_side=1)


@pytest.fixture
def no_full_png_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any) -> Any:
        raise AssertionError("a PNG was fully decoded")

    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", refuse)


def zeros_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, "PNG")
    return out.getvalue()


def test_a_49_megapixel_png_is_checked_without_decoding_its_pixels(
    no_full_png_decode: None,
) -> None:
    data = zeros_png(7000, 7000)
    assert len(data) < 200_000  # tiny file, 49 MP: the bomb of the issue
    facts = check_image(data, RULES, "image")
    assert (facts.width, facts.height, facts.format) == (7000, 7000, "PNG")


@pytest.mark.parametrize(("width", "height"), [(301, 203), (1, 1), (9, 3), (64, 64)])
def test_interlaced_pngs_pass(width: int, height: int, no_full_png_decode: None) -> None:
    facts = check_image(grey_png(width, height, interlaced=True), RULES, "image")
    assert (facts.width, facts.height) == (width, height)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (grey_png(50, 40, filter_type=7), "filter"),
        (grey_png(50, 40, cut=1), "truncated"),
        (grey_png(50, 40, interlaced=True, cut=3), "truncated"),
        (grey_png(50, 40)[:-12], "IEND"),
        (grey_png(50, 40).replace(b"IDAT", b"IDAT", 1)[:-20] + b"\x00" * 8, "CRC|truncated"),
    ],
)
def test_broken_pngs_are_refused_by_the_walk(
    data: bytes, why: str, no_full_png_decode: None
) -> None:
    with pytest.raises(InvalidMedia, match=why) as caught:
        check_image(data, RULES, "image_tail")
    assert caught.value.message.startswith("image_tail: image data is truncated or corrupt")


def test_a_bad_crc_is_refused() -> None:
    data = bytearray(grey_png(20, 20))
    data[data.index(b"IDAT") + 6] ^= 0xFF  # inside the compressed data, CRC now wrong
    with pytest.raises(StructureError, match="CRC"):
        verify_png(bytes(data))


def test_png_exif_orientation_after_the_pixels_is_honoured(no_full_png_decode: None) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90°: the user sees 40x50
    data = grey_png(50, 40)
    data = data[:-12] + chunk(b"eXIf", exif.tobytes()) + data[-12:]
    facts = check_image(data, RULES, "image")
    assert (facts.width, facts.height) == (40, 50)


def test_a_large_jpeg_is_decoded_in_draft_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    data = image_bytes(1600, 1200, "JPEG")
    sizes: list[tuple[int, int]] = []
    original = Image.Image.load

    def spy(self: Any) -> Any:
        result = original(self)
        sizes.append(self.size)
        return result

    monkeypatch.setattr(Image.Image, "load", spy)
    facts = check_image(data, RULES, "image")
    assert (facts.width, facts.height) == (1600, 1200)
    assert sizes
    assert max(w * h for w, h in sizes) <= 200 * 150


def test_a_truncated_jpeg_is_still_refused() -> None:
    data = image_bytes(800, 600, "JPEG")
    with pytest.raises(InvalidMedia, match="truncated or corrupt"):
        check_image(data[: len(data) * 2 // 3], RULES, "image")


def test_a_polyglot_png_is_accepted_and_only_its_pixels_go_on() -> None:
    image = image_bytes(320, 240)
    payload = b"<html><script>alert(1)</script></html>" + b"PK\x03\x04" * 100
    polyglot = image + payload
    facts = check_image(polyglot, RULES, "image")
    assert (facts.width, facts.height, facts.format) == (320, 240, "PNG")
    clean = rewrite_pixels(polyglot, "image")
    assert payload not in clean
    assert b"<html>" not in clean
    assert verify_png(clean).end == len(clean)
    before = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"))
    after = np.asarray(Image.open(io.BytesIO(clean)).convert("RGB"))
    assert np.array_equal(before, after)  # PNG is rewritten losslessly


def test_a_jpeg_is_rewritten_oriented_without_its_metadata() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010E] = "secret note"  # ImageDescription
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "red").save(out, "JPEG", exif=exif.tobytes())
    clean = rewrite_pixels(out.getvalue() + b"trailing", "image")
    assert b"secret note" not in clean
    assert not clean.endswith(b"trailing")
    with Image.open(io.BytesIO(clean)) as image:
        assert image.format == "JPEG"
        assert image.size == (300, 400)


def _with_declared_size(path: Path, width: int, height: int) -> None:
    """Rewrite the visual sample entry's width and height (the stsd box) in place."""
    data = bytearray(path.read_bytes())
    entry = data.index(b"avc1", data.index(b"stsd")) - 4  # ftyp names avc1 too
    data[entry + 32 : entry + 36] = struct.pack(">HH", width, height)
    path.write_bytes(bytes(data))


def test_a_huge_declared_video_is_refused_before_ffmpeg_opens_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = video_file(tmp_path / "huge.mp4", width=64, height=48, seconds=1.0, audio=False)
    _with_declared_size(path, 16000, 16000)

    def no_ffmpeg(*args: object, **kwargs: object) -> None:
        raise AssertionError("FFmpeg opened a video that its header already refused")

    monkeypatch.setattr(av, "open", no_ffmpeg)
    rules = VideoRules(min_side=32, max_side=2160, min_duration=0.5)
    with pytest.raises(InvalidMedia, match="got 16000x16000") as caught:
        check_video(path, rules, "video_url")
    assert caught.value.param == "video_url"


def test_a_normal_video_still_passes_the_header_walk(tmp_path: Path) -> None:
    path = video_file(tmp_path / "ok.mp4", width=64, height=48, seconds=1.0)
    facts = check_video(path, VideoRules(min_side=32, max_side=2160, min_duration=0.5), "video_url")
    assert (facts.width, facts.height, facts.has_audio) == (64, 48, True)


def test_undecodable_audio_is_refused_naming_the_param_and_no_path(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir()
    path = broken_audio_video(tmp_path / "scratch" / "input-1.mp4")
    with pytest.raises(InvalidMedia) as caught:
        check_audio(path, "video_url", max_seconds=5)
    message = caught.value.message
    assert message.startswith("video_url: cannot decode the audio track")
    assert "keep_original_sound: no" in message
    assert str(tmp_path) not in message
    assert "scratch" not in message


def test_rules_of_a_sound_track_that_decodes(tmp_path: Path) -> None:
    check_audio(video_file(tmp_path / "ok.mp4", width=64, height=48), "video_url", max_seconds=5)


def test_zlib_slices_bound_the_inflate() -> None:
    # A stream that inflates to far more than the header says is stopped at once.
    raw = b"\x00" + b"\x00" * 10
    body = zlib.compress(raw * 100_000)
    header = struct.pack(">IIBBBBB", 10, 1, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )
    with pytest.raises(StructureError, match="more image data"):
        verify_png(data)


def test_a_png_of_endless_tiny_chunks_is_refused() -> None:
    data = grey_png(20, 20)
    filler = chunk(b"tEXt", b"") * 100_001
    with pytest.raises(StructureError, match="chunks"):
        verify_png(data[:33] + filler + data[33:])


def test_a_video_of_endless_tiny_boxes_is_walked_in_bounded_time(tmp_path: Path) -> None:
    path = video_file(tmp_path / "ok.mp4", width=64, height=48, seconds=1.0, audio=False)
    data = path.read_bytes()
    # A million empty "free" boxes before the real ones: the walk gives up early (finding no
    # size to refuse), and FFmpeg's own reading decides.
    path.write_bytes(data[:32] + b"\x00\x00\x00\x08free" * 1_000_000 + data[32:])
    with path.open("rb") as f:
        assert video_track_sizes(f, path.stat().st_size) == []
