"""Media intake against hostile inputs: each refusal is an InvalidMedia naming the param, fast.

Images are made with Pillow (and one PNG header by hand); videos with PyAV at a few dozen pixels
and a few seconds, with the rules scaled down to match, so the whole module runs in seconds.
"""

from __future__ import annotations

import base64
import io
import random
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kirin_api.contract.errors import InvalidMedia
from kirin_api.contract.media import MB, ImageRules, MediaFacts, VideoRules
from kirin_api.media import images
from kirin_api.media.images import MAX_PIXELS, check_image, decode_base64_image, load_rgb
from kirin_api.media.videos import check_video, has_audio, sniff_container

RULES = ImageRules()  # the API's: 10 MB, sides >= 300, aspect 1:2.5 .. 2.5:1, JPEG/PNG


@contextmanager
def refused(param: str, match: str, *, within: float = 2.0) -> Iterator[None]:
    """Expect an InvalidMedia for ``param`` whose message matches, raised within ``within`` s."""
    started = time.monotonic()
    with pytest.raises(InvalidMedia, match=match) as info:
        yield
    assert info.value.param == param
    assert info.value.message.startswith(f"{param}: ")
    assert info.value.status == 400
    assert info.value.code == "invalid_media"
    assert time.monotonic() - started < within


# -- image makers --------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def png(width: int = 400, height: int = 500) -> bytes:
    return encode(Image.new("RGB", (width, height), (10, 120, 200)), "PNG")


def jpeg(width: int = 400, height: int = 500) -> bytes:
    return encode(Image.new("RGB", (width, height), (200, 60, 10)), "JPEG")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` (valid CRCs) over a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


# -- images: what passes ------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "fmt"), [(png, "PNG"), (jpeg, "JPEG")])
def test_valid_images_pass(make: Callable[[], bytes], fmt: str) -> None:
    data = make()
    facts = check_image(data, RULES, "image")
    assert facts == MediaFacts(width=400, height=500, format=fmt, size_bytes=len(data))
    array = load_rgb(data)
    assert array.shape == (500, 400, 3)
    assert array.dtype == np.uint8


def test_base64_with_line_breaks_and_without_padding_passes() -> None:
    data = png(401, 500)
    text = base64.encodebytes(data).decode().rstrip("=\n")  # MIME line breaks, no padding
    assert "\n" in text
    decoded, facts = decode_base64_image(text, RULES, "image")
    assert decoded == data
    assert (facts.width, facts.height, facts.format) == (401, 500, "PNG")


def test_aspect_ratio_bounds_are_inclusive() -> None:
    assert check_image(png(300, 750), RULES, "image").aspect == pytest.approx(0.4)
    assert check_image(png(750, 300), RULES, "image").aspect == pytest.approx(2.5)


def test_exif_orientation_gives_the_oriented_size_everywhere() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = encode(Image.new("RGB", (600, 400)), "JPEG", exif=exif)
    facts = check_image(data, RULES, "image")
    assert (facts.width, facts.height) == (400, 600)
    assert load_rgb(data).shape == (600, 400, 3)


def test_a_multi_picture_jpeg_counts_as_jpeg() -> None:
    first, second = Image.new("RGB", (400, 400)), Image.new("RGB", (400, 400), (9, 9, 9))
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert check_image(data, RULES, "image").format == "JPEG"


def test_sixteen_bit_png_keeps_its_top_bits() -> None:
    data = encode(Image.fromarray(np.full((400, 400), 40000, np.uint16)), "PNG")
    assert check_image(data, RULES, "image").format == "PNG"
    assert load_rgb(data)[0, 0].tolist() == [40000 >> 8] * 3


def test_nine_megabyte_image_passes_and_an_eleven_megabyte_one_does_not() -> None:
    ok = encode(noise(1800, 1700), "PNG", compress_level=0)  # noise does not compress
    assert 8 * MB < len(ok) <= 10 * MB
    assert check_image(ok, RULES, "image").size_bytes == len(ok)
    big = encode(noise(2000, 1900), "PNG", compress_level=0)
    assert len(big) > 10 * MB
    with refused("image", r"^image: image is larger than 10 MB$"):
        check_image(big, RULES, "image")
    with refused("image", r"larger than 10 MB"):
        decode_base64_image(base64.b64encode(big).decode(), RULES, "image")


def test_oversized_base64_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("decoded an oversized string")

    monkeypatch.setattr(images.binascii, "a2b_base64", never)
    rules = ImageRules(max_bytes=1000)
    just_over = "A" * (4 * 334 + 4)  # decodes to 1005 bytes
    with refused("image", "larger than 1000 bytes"):
        decode_base64_image(just_over, rules, "image")
    with refused("image", "larger than 1000 bytes"):
        decode_base64_image("A" * 50_000_000, rules, "image")  # refused on length alone


# -- images: what is refused -------------------------------------------------------------------


def test_data_url_prefix_is_refused_with_a_hint_to_strip_it() -> None:
    value = "data:image/png;base64," + base64.b64encode(png()).decode()
    with refused("image_tail", r"strip the prefix"):
        decode_base64_image(value, RULES, "image_tail")
    with refused("image", r"not a data: URL"):
        decode_base64_image("  DATA:image/png;base64,AAAA", RULES, "image")


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("iVBORw0KGgo$$$$", r"not valid base64 \(character '\$'\)"),
        ("iVBORw0K-_o", r"character '-'"),  # URL-safe alphabet
        ("https://example.com/a.png", r"character ':'"),
        ("ftp://example.com/a.png", r"send an http\(s\) URL or standard base64"),
        ("iVBORw0KG", r"truncated"),  # 9 symbols: the last one cannot make a byte
        ("AAAA=AAA", r"not valid base64 \('=' padding before the end\)"),  # padding in the middle
        ("", r"empty"),
        ("   \n ", r"empty"),
        ("aGVsbG8gd29ybGQ=", r"must be a JPEG or PNG image"),  # "hello world"
    ],
)
def test_invalid_base64_is_refused(value: str, match: str) -> None:
    with refused("image_list.2.image", match):
        decode_base64_image(value, RULES, "image_list.2.image")


def test_truncated_png_is_refused() -> None:
    data = encode(noise(400, 400), "PNG")
    with refused("image", r"truncated or corrupt"):
        check_image(data[: len(data) // 2], RULES, "image")


def test_truncated_jpeg_is_refused() -> None:
    data = encode(noise(400, 400), "JPEG", quality=90)
    with refused("image", r"truncated or corrupt"):
        check_image(data[: len(data) // 2], RULES, "image")


def test_png_cut_inside_its_header_is_refused() -> None:
    with refused("image", r"must be a JPEG or PNG image .* got a damaged PNG"):
        check_image(png()[:20], RULES, "image")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (encode(Image.new("RGB", (400, 400)), "GIF"), "a GIF image"),
        (encode(Image.new("RGB", (400, 400)), "WEBP"), "a WebP image"),
        (encode(Image.new("RGB", (400, 400)), "BMP"), "a BMP image"),
        (encode(Image.new("RGB", (400, 400)), "TIFF"), "a TIFF image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="400"/>', "an SVG"),
        (b"<!DOCTYPE html><html></html>", "an HTML page"),
        (np.random.default_rng(1).bytes(5000), "not a recognised image"),
        (b"\x00" * 100, "not a recognised image"),
    ],
)
def test_other_formats_are_refused_by_content(data: bytes, what: str) -> None:
    # The bytes arrive without a name: a GIF "named .png" is just these bytes.
    with refused("image", rf"must be a JPEG or PNG image \(checked by content\); got {what}"):
        check_image(data, RULES, "image")


def test_only_the_formats_of_the_rules_are_opened() -> None:
    with refused("mask", r"must be a PNG image"):
        check_image(jpeg(), ImageRules(formats=frozenset({"PNG"})), "mask")


def test_decompression_bomb_header_fails_fast() -> None:
    # 50000 x 50000 = 2.5 gigapixels declared over ~100 bytes: refused from the header alone.
    data = png_header_only(50_000, 50_000)
    assert len(data) < 200
    with refused("image", r"too many pixels|megapixels", within=0.5):
        check_image(data, RULES, "image")
    with refused("image", r"too many pixels|megapixels", within=0.5):
        load_rgb(data)


def test_pixel_budget_is_below_pillows_and_an_error() -> None:
    # 8000 x 8000 = 64 MP: under Pillow's own warning (~89 MP), over ours (50 MP).
    assert MAX_PIXELS < Image.MAX_IMAGE_PIXELS  # type: ignore[operator]
    with refused("image", r"^image: image is 8000x8000, more than 50 megapixels$", within=0.5):
        check_image(png_header_only(8000, 8000), RULES, "image")


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ((1, 1), "image: each side must be at least 300 px; got 1x1"),
        ((200, 800), "image: each side must be at least 300 px; got 200x800"),
        ((400, 299), "image: each side must be at least 300 px; got 400x299"),
    ],
)
def test_small_sides_are_refused(size: tuple[int, int], message: str) -> None:
    with refused("image", f"^{message}$"):
        check_image(png(*size), RULES, "image")


def test_large_sides_are_refused_where_the_rules_cap_them() -> None:
    with refused("image", r"^image: each side must be at most 600 px; got 700x400$"):
        check_image(png(700, 400), ImageRules(max_side=600), "image")


def test_aspect_three_to_one_is_refused_where_limited_and_accepted_where_not() -> None:
    data = png(900, 300)
    with refused("image", r"between 1:2\.5 and 2\.5:1; got 900x300 \(3:1\)"):
        check_image(data, RULES, "image")
    with refused("image", r"got 300x900 \(1:3\)"):
        check_image(png(300, 900), RULES, "image")
    assert check_image(data, ImageRules(aspect_range=None), "image").aspect == 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_an_image_or_invalid_media(data: bytes) -> None:
    try:
        check_image(data, ImageRules(min_side=1, aspect_range=None), "image")
    except InvalidMedia as exc:
        error = exc
    else:
        return
    assert error.param == "image"


MUTABLE_PNG = encode(noise(32, 32), "PNG")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(MUTABLE_PNG) - 1), st.integers(0, 255)), max_size=8))
def test_corrupted_png_is_an_image_or_invalid_media(edits: list[tuple[int, int]]) -> None:
    data = bytearray(MUTABLE_PNG)
    for offset, value in edits:
        data[offset] = value
    try:
        check_image(bytes(data), ImageRules(min_side=1, aspect_range=None), "image")
    except InvalidMedia as exc:
        error = exc
    else:
        return
    assert error.param == "image"


# -- videos ----------------------------------------------------------------------------------------

VRULES = VideoRules(max_bytes=MB, min_side=32, max_side=256, min_duration=1.0, max_duration=4.0)


def make_video(
    path: Path,
    *,
    frames: int = 25,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    container: str | None = None,
    audio: bool = False,
    rotation: int | None = None,
    faststart: bool = False,
) -> Path:
    width, height = size
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        stream: Any = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        sound: Any = out.add_stream("aac", rate=48000) if audio else None
        for i in range(frames):
            pixels = np.full((height, width, 3), (i * 10) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if sound is not None:
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate = 48000
            for packet in [*sound.encode(frame), *sound.encode()]:
                out.mux(packet)
    return path


def test_small_mp4_passes(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4")
    facts = check_video(path, VRULES, "video_url")
    assert facts == MediaFacts(
        width=64,
        height=48,
        format="mp4",
        size_bytes=path.stat().st_size,
        duration=2.5,
        frames=25,
        fps=10.0,
        has_audio=False,
    )
    assert not has_audio(path)


def test_mov_passes(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mov")
    assert path.read_bytes()[8:12] == b"qt  "
    facts = check_video(path, VRULES, "video_url")
    assert (facts.format, facts.width, facts.height, facts.frames) == ("mov", 64, 48, 25)


def test_the_name_does_not_matter_the_content_does(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.bin", container="mp4")
    assert check_video(path, VRULES, "video_url").format == "mp4"


def test_audio_is_reported(tmp_path: Path) -> None:
    path = make_video(tmp_path / "sound.mp4", audio=True)
    assert check_video(path, VRULES, "video_url").has_audio
    assert has_audio(path)


def test_rotated_video_reports_the_displayed_size(tmp_path: Path) -> None:
    path = make_video(tmp_path / "portrait.mp4", rotation=90)
    facts = check_video(path, VRULES, "video_url")
    assert (facts.width, facts.height) == (48, 64)


def test_faststart_mp4_passes(tmp_path: Path) -> None:
    path = make_video(tmp_path / "fs.mp4", faststart=True)
    assert check_video(path, VRULES, "video_url").frames == 25


def test_png_renamed_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.mp4"
    path.write_bytes(png())
    with refused("video_url", r"must be an MOV or MP4 video \(checked by content\); got a PNG"):
        check_video(path, VRULES, "video_url")


def test_jpeg_renamed_mov_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "image.mov"
    path.write_bytes(jpeg())
    with refused("video_url", r"got a JPEG image"):
        check_video(path, VRULES, "video_url")


def test_heif_image_in_an_ftyp_box_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "photo.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 100)
    with refused("video_url", r"got a HEIF/AVIF image"):
        check_video(path, VRULES, "video_url")


def test_hls_playlist_named_mp4_never_reaches_ffmpeg(tmp_path: Path) -> None:
    path = tmp_path / "playlist.mp4"
    path.write_bytes(b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n")
    with refused("video_url", r"got an HLS playlist"):
        check_video(path, VRULES, "video_url")


def test_other_containers_are_refused(tmp_path: Path) -> None:
    mkv = make_video(tmp_path / "clip.mkv", container="matroska")
    with refused("video_url", r"got a Matroska/WebM video"):
        check_video(mkv, VRULES, "video_url")
    three_gp = tmp_path / "clip.3gp"
    data = bytearray(make_video(tmp_path / "src.mp4").read_bytes())
    data[8:12] = b"3gp4"
    three_gp.write_bytes(bytes(data))
    with refused("video_url", r"got 3GP"):
        check_video(three_gp, VRULES, "video_url")


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(2).bytes(20_000))
    with refused("video_url", r"got unknown"):
        check_video(path, VRULES, "video_url")


def test_random_bytes_behind_an_ftyp_box_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(
        b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + np.random.default_rng(3).bytes(20_000)
    )
    with refused("video_url", r"cannot be read|corrupt|no video stream"):
        check_video(path, VRULES, "video_url")


def test_truncated_mp4_is_refused(tmp_path: Path) -> None:
    data = make_video(tmp_path / "whole.mp4").read_bytes()  # moov at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with refused("video_url", r"cannot be read as MOV or MP4"):
        check_video(cut, VRULES, "video_url")
    assert str(tmp_path) not in _message(check_video, cut)  # no server paths in messages


def test_truncated_faststart_mp4_is_refused(tmp_path: Path) -> None:
    data = make_video(tmp_path / "whole.mp4", faststart=True).read_bytes()  # moov first
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) - 200])
    with refused("video_url", r"truncated"):
        check_video(cut, VRULES, "video_url")


def _message(check: Callable[[Path, VideoRules, str], MediaFacts], path: Path) -> str:
    with pytest.raises(InvalidMedia) as info:
        check(path, VRULES, "video_url")
    return info.value.message


def test_too_short_video_is_refused(tmp_path: Path) -> None:
    path = make_video(tmp_path / "short.mp4", frames=5)
    with refused("video_url", r"^video_url: video must last at least 1 s; got 0\.5 s$"):
        check_video(path, VRULES, "video_url")


def test_too_long_video_is_refused(tmp_path: Path) -> None:
    path = make_video(tmp_path / "long.mp4", frames=50)
    with refused("video_url", r"^video_url: video must last at most 4 s; got 5 s$"):
        check_video(path, VRULES, "video_url")


@pytest.mark.parametrize("size", [(16, 16), (64, 24), (320, 64)])
def test_sides_out_of_range_are_refused(tmp_path: Path, size: tuple[int, int]) -> None:
    path = make_video(tmp_path / "odd.mp4", size=size)
    width, height = size
    with refused("video_url", rf"each side must be between 32 and 256 px; got {width}x{height}$"):
        check_video(path, VRULES, "video_url")


def test_single_frame_video_is_refused(tmp_path: Path) -> None:
    path = make_video(tmp_path / "still.mp4", frames=1)
    with refused("element_video_list.0.video_url", r"single frame; a still image is not a video"):
        check_video(path, VRULES, "element_video_list.0.video_url")


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "audio.mp4"
    with av.open(str(path), "w") as out:
        sound: Any = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 48000
        for packet in [*sound.encode(frame), *sound.encode()]:
            out.mux(packet)
    with refused("video_url", r"no video stream"):
        check_video(path, VRULES, "video_url")


def test_video_over_the_byte_cap_is_refused_before_opening(tmp_path: Path) -> None:
    path = make_video(tmp_path / "clip.mp4")
    rules = VideoRules(max_bytes=1000, min_side=32, max_side=256, min_duration=1, max_duration=4)
    with refused("video_url", r"^video_url: video is larger than 1000 bytes$"):
        check_video(path, rules, "video_url")


def test_empty_and_missing_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with refused("video_url", r"empty"):
        check_video(empty, VRULES, "video_url")
    with refused("video_url", r"cannot read the video"):
        check_video(tmp_path / "missing.mp4", VRULES, "video_url")


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "mp4"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ", "mov"),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", "mov"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif", "image"),
        (b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom", "m4a"),
        (b"\x1a\x45\xdf\xa3\x00\x00", "a Matroska/WebM video"),
        (b"", "unknown"),
    ],
)
def test_sniff_container(head: bytes, kind: str) -> None:
    assert sniff_container(head) == kind


def test_mutated_images_that_pass_the_check_also_load() -> None:
    # A seeded corpus of damaged PNG/JPEG files: every one is refused as InvalidMedia or passes,
    # and one that passes check_image must decode in load_rgb too (a failed decode must never
    # hide behind an earlier look at EXIF).
    rng = random.Random(0)
    pixels = np.random.default_rng(1).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    seeds = [
        encode(Image.fromarray(pixels).convert(mode), fmt, **options)
        for fmt, mode, options in [
            ("PNG", "RGB", {}),
            ("PNG", "RGBA", {}),
            ("PNG", "P", {}),
            ("PNG", "L", {"optimize": True}),
            ("JPEG", "RGB", {"quality": 80}),
            ("JPEG", "L", {"progressive": True}),
        ]
    ]
    rules = ImageRules(min_side=1, aspect_range=None)
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 10)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            del data[rng.randrange(len(data)) :]
        try:
            facts = check_image(bytes(data), rules, "image")
        except InvalidMedia:
            continue
        assert load_rgb(bytes(data)).shape == (facts.height, facts.width, 3)


def test_mutated_videos_pass_or_are_invalid_media_quickly(tmp_path: Path) -> None:
    rng = random.Random(0)
    seeds = [
        make_video(tmp_path / "a.mp4").read_bytes(),
        make_video(tmp_path / "b.mov").read_bytes(),
        make_video(tmp_path / "c.mp4", audio=True, faststart=True).read_bytes(),
    ]
    rules = VideoRules(min_side=1, max_side=9999, min_duration=0, max_duration=99)
    path = tmp_path / "mutant.mp4"
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            del data[rng.randrange(len(data)) :]
        path.write_bytes(bytes(data))
        started = time.monotonic()
        try:
            check_video(path, rules, "video_url")
        except InvalidMedia as exc:
            error: InvalidMedia | None = exc
        else:
            error = None
        assert error is None or error.param == "video_url"
        assert time.monotonic() - started < 1.0
