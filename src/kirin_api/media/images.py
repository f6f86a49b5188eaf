"""Images in requests: strict base64 decoding, checks by content, RGB for the engines.

Every refusal is an :class:`~kirin_api.contract.errors.InvalidMedia` whose message starts with the
``param`` and says what is allowed (400 ``invalid_media`` at submit; the worker maps it to the
model's ``...099`` task code for images fetched from URLs).

Order of the checks, cheapest and safest first, so hostile input is refused before it costs
memory: base64 length and alphabet → decoded size → format by content (Pillow, restricted to the
allowed plugins) → declared dimensions from the header (pixel budget, sides) → only then the
proof that the data decodes, which catches truncated and corrupt files, in bounded memory
(:mod:`.image_structure`: a PNG's compressed rows are inflated and counted, never kept; a JPEG
is decoded at 1/8 scale) → the aspect ratio of the oriented image (a PNG's EXIF orientation may
sit after its pixel data, so it is read by that walk; a failed check must never be swallowed by
an earlier look at EXIF).

Full decodes (:func:`load_rgb`, :func:`rewrite_pixels`, the check of any other format) and the
bounded checks alike run at most :func:`full_decode_slots` at a time in a process: a full decode
may hold a 50 MP frame, and any of them is CPU that many threads at once would turn into a
convoy on the interpreter lock, starving the API's event loop.

Decompression bombs: Pillow's own guard warns at about 89 MP and errors at twice that. We refuse
anything above :data:`MAX_PIXELS` (50 MP, an error, never a warning) from the *header*, before a
pixel is decoded. 50 MP is more than any camera photo a user is likely to send (and far more
than the 720/1080 px outputs need), while a decoded 50 MP RGBA frame still fits in 200 MB.

Sizes are *oriented*: a JPEG whose EXIF says "rotate 90°" is reported (and checked) with width
and height swapped, because that is the image the user sees and the one :func:`load_rgb` hands
to the engines, and trajectory points are given in its pixels.
"""

from __future__ import annotations

import binascii
import functools
import io
import os
import re
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from kirin_api.contract.errors import InvalidMedia
from kirin_api.contract.media import ImageRules, MediaFacts, size_text
from kirin_api.media.image_structure import StructureError, verify_png

__all__ = [
    "MAX_PIXELS",
    "check_image",
    "decode_base64_image",
    "full_decode_slots",
    "load_rgb",
    "rewrite_pixels",
]

MAX_PIXELS = 50_000_000
"""Largest width x height accepted (see the module docstring)."""

# What Pillow's plugins raise on malformed data (SyntaxError for bad headers, struct.error and
# EOFError for short reads, ...): all of it means "not a valid image" to us.
_DECODE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
)
# What one full decode of a MAX_PIXELS image may cost (RGBA, plus a converted copy).
_FULL_DECODE_BYTES = 2 * 4 * MAX_PIXELS
_JPEG_QUALITY = 95  # rewritten JPEGs: no visible loss, and the engines resample anyway


@functools.cache
def full_decode_slots() -> int:
    """Full decodes that may run at once in this process: a quarter of the memory, shared out
    at :data:`_FULL_DECODE_BYTES` each, between 1 and 4."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1
    return max(1, min(4, memory // 4 // _FULL_DECODE_BYTES))


@functools.cache
def _decode_gate() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(full_decode_slots())


@contextmanager
def _full_decode() -> Iterator[None]:
    with _decode_gate():
        yield


_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_WHITESPACE = re.compile(r"[ \t\r\n]+")
_EXIF_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})  # the ones that turn the image by 90°

# A few signatures, only to *name* what we refuse ("got a GIF image"); acceptance is Pillow's.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"GIF87a", 0, "a GIF image"),
    (b"GIF89a", 0, "a GIF image"),
    (b"WEBP", 8, "a WebP image"),
    (b"BM", 0, "a BMP image"),
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"ftypheic", 4, "a HEIC image"),
    (b"ftypheix", 4, "a HEIC image"),
    (b"ftypmif1", 4, "a HEIF image"),
    (b"ftypavif", 4, "an AVIF image"),
    (b"\x00\x00\x00\x0cjP  ", 0, "a JPEG 2000 image"),
    (b"\x89PNG\r\n\x1a\n", 0, "a damaged PNG"),
    (b"\xff\xd8\xff", 0, "a damaged JPEG"),
    (b"%PDF", 0, "a PDF document"),
)


def _formats_text(formats: frozenset[str]) -> str:
    return " or ".join(sorted(formats))


def _what_is(data: bytes) -> str:
    for magic, offset, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    head = data[:256].lstrip().lower()
    if head.startswith((b"<svg", b"<?xml")):
        return "an SVG/XML document"
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    return "not a recognised image"


def decode_base64_image(value: str, rules: ImageRules, param: str) -> tuple[bytes, MediaFacts]:
    """Decode an image sent as raw base64 and check it against ``rules``.

    Accepted: the standard alphabet (``A-Z a-z 0-9 + /``), with or without ``=`` padding, with
    spaces and line breaks anywhere (as MIME wraps it); missing padding is harmless because the
    length alone says how many bytes the last group holds. Refused: a ``data:`` URL prefix
    (with a message saying to strip it), the URL-safe alphabet and any other character, and
    anything whose decoded size would pass ``rules.max_bytes`` — that is computed from the
    length before decoding, so an oversized string is never decoded.

    Raises:
        InvalidMedia: with ``param`` set, saying what is wrong and what is allowed.
    """
    encoded_cap = 4 * -(-rules.max_bytes // 3)  # base64 length of max_bytes, padded
    too_large = InvalidMedia(
        f"{param}: image is larger than {size_text(rules.max_bytes)}", param=param
    )
    # Bound the raw string first: even generous line wrapping adds less than 1 char in 4.
    if len(value) > encoded_cap + encoded_cap // 4 + 1024:
        raise too_large
    text = value.strip()
    if text[:5].lower() == "data:":
        raise InvalidMedia(
            f"{param}: send raw base64, not a data: URL; strip the prefix up to and including "
            "the comma (e.g. 'data:image/png;base64,')",
            param=param,
        )
    compact = _WHITESPACE.sub("", text)
    if not compact:
        raise InvalidMedia(f"{param}: image is empty", param=param)
    if not _BASE64.fullmatch(compact):
        bad = next((c for c in compact if not (c.isascii() and (c.isalnum() or c in "+/="))), None)
        what = f"character {bad!r}" if bad is not None else "'=' padding before the end"
        raise InvalidMedia(
            f"{param}: not valid base64 ({what}); send an http(s) URL or standard "
            "base64 (A-Z, a-z, 0-9, '+', '/', optional '=' padding)",
            param=param,
        )
    body = compact.rstrip("=")
    if len(body) % 4 == 1:  # 6 bits cannot make a byte: the string was cut
        raise InvalidMedia(f"{param}: not valid base64 (truncated)", param=param)
    if len(body) * 3 // 4 > rules.max_bytes:
        raise too_large
    padded = body + "=" * (-len(body) % 4)
    try:
        data = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error as exc:
        raise InvalidMedia(f"{param}: not valid base64 ({exc})", param=param) from exc
    return data, check_image(data, rules, param)


def _open(data: bytes, formats: frozenset[str], param: str) -> Image.Image:
    """Open by content with only the allowed plugins.

    Pillow's JPEG plugin itself hands back an ``MPO`` image for a JPEG with extra frames (many
    phone photos); :func:`check_image` reports those as JPEG.
    """
    try:
        return Image.open(io.BytesIO(data), formats=sorted(formats))
    except Image.DecompressionBombError as exc:
        raise InvalidMedia(
            f"{param}: image has too many pixels (at most {MAX_PIXELS // 1_000_000} megapixels)",
            param=param,
        ) from exc
    except _DECODE_ERRORS as exc:  # UnidentifiedImageError is an OSError
        raise InvalidMedia(
            f"{param}: must be a {_formats_text(formats)} image (checked by content); "
            f"got {_what_is(data)}",
            param=param,
        ) from exc


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block is not worth refusing the image for
        orientation = None
    if orientation in _SWAPPING_ORIENTATIONS:
        return height, width
    return width, height


def check_image(
    data: bytes, rules: ImageRules, param: str, *, max_pixels: int = MAX_PIXELS
) -> MediaFacts:
    """Check image bytes against ``rules`` and return what they are (oriented size).

    Raises:
        InvalidMedia: wrong format (by content), too many bytes or pixels, a side out of
            bounds, aspect ratio out of range, truncated or corrupt data; ``param`` is set.
    """
    if len(data) > rules.max_bytes:
        raise InvalidMedia(
            f"{param}: image is larger than {size_text(rules.max_bytes)}", param=param
        )
    if not data:
        raise InvalidMedia(f"{param}: image is empty", param=param)
    with _open(data, rules.formats, param) as image:
        fmt = "JPEG" if image.format == "MPO" else str(image.format)
        # Header only, before a pixel is decoded: the pixel budget and the sides do not depend
        # on orientation (the sizes in the messages do, so use it where it is free: JPEG).
        width, height = _oriented_size(image) if fmt == "JPEG" else image.size
        if width * height > max_pixels:
            raise InvalidMedia(
                f"{param}: image is {width}x{height}, more than "
                f"{max_pixels / 1_000_000:g} megapixels",
                param=param,
            )
        if min(width, height) < rules.min_side:
            raise InvalidMedia(
                f"{param}: each side must be at least {rules.min_side} px; got {width}x{height}",
                param=param,
            )
        if rules.max_side is not None and max(width, height) > rules.max_side:
            raise InvalidMedia(
                f"{param}: each side must be at most {rules.max_side} px; got {width}x{height}",
                param=param,
            )
        width, height = _prove_decodes(image, data, fmt, param)
        if rules.aspect_range is not None:
            low, high = rules.aspect_range
            aspect = width / height
            # A hair of tolerance so that 300x750 passes 1/2.5 whichever way floats round.
            if not low - 1e-9 <= aspect <= high + 1e-9:
                raise InvalidMedia(
                    f"{param}: aspect ratio (width/height) must be between {_ratio(low)} and "
                    f"{_ratio(high)}; got {width}x{height} ({_ratio(aspect)})",
                    param=param,
                )
    return MediaFacts(width=width, height=height, format=fmt, size_bytes=len(data))


def _prove_decodes(image: Image.Image, data: bytes, fmt: str, param: str) -> tuple[int, int]:
    """Prove the whole image decodes, in bounded memory where the format allows (see the module
    docstring); return its oriented size. At most :func:`full_decode_slots` run at once: each
    is seconds of CPU for a large image, and forty threads at it would also starve every other
    thread of the process (the API's event loop) of the interpreter lock."""
    with _full_decode():
        if fmt == "PNG":
            return _png_size(data, param)
        try:
            if fmt == "JPEG":
                size = _oriented_size(image)  # its EXIF is in the header; draft shrinks .size
                # Every entropy-coded segment is still read; only the inverse DCT is cut short.
                image.draft(image.mode, (-(-image.width // 8), -(-image.height // 8)))
                image.load()
                return size
            image.load()
        except _DECODE_ERRORS as exc:
            raise InvalidMedia(
                f"{param}: image data is truncated or corrupt ({exc})", param=param
            ) from exc
    return _oriented_size(image)


def _png_size(data: bytes, param: str) -> tuple[int, int]:
    try:
        facts = verify_png(data)
    except StructureError as exc:
        raise InvalidMedia(
            f"{param}: image data is truncated or corrupt ({exc})", param=param
        ) from exc
    if facts.orientation in _SWAPPING_ORIENTATIONS:
        return facts.height, facts.width
    return facts.width, facts.height


def _ratio(value: float) -> str:
    """``2.5`` -> ``"2.5:1"``, ``0.4`` -> ``"1:2.5"``."""
    if value >= 1:
        return f"{value:.3g}:1"
    return f"1:{1 / value:.3g}"


def load_rgb(data: bytes, *, max_pixels: int = MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Decode an image (already checked by :func:`check_image`) for the engines.

    EXIF orientation is applied, so the array has the oriented size that :class:`MediaFacts`
    reports; the result is ``(height, width, 3)`` uint8 RGB. An alpha channel is dropped
    (transparent pixels keep whatever colour they store).

    Raises:
        InvalidMedia: the data is not a JPEG/PNG, is corrupt, or has more than ``max_pixels``
            pixels (``param`` is ``"image"``: callers should have checked the image first).
    """
    with _open(data, frozenset({"JPEG", "PNG"}), "image") as image:
        width, height = image.size
        if width * height > max_pixels:
            raise InvalidMedia(
                f"image: image is {width}x{height}, more than {max_pixels / 1_000_000:g} "
                "megapixels",
                param="image",
            )
        try:
            with _full_decode():
                return _rgb_array(image)
        except _DECODE_ERRORS as exc:
            raise InvalidMedia(
                f"image: image data is truncated or corrupt ({exc})", param="image"
            ) from exc


def _rgb_array(image: Image.Image) -> npt.NDArray[np.uint8]:
    image.load()
    oriented: Any = ImageOps.exif_transpose(image)
    if oriented.mode.startswith("I"):
        # 16-bit greyscale PNG: convert("RGB") would clip every value above 255 to white; keep
        # the top 8 bits instead.
        grey = (np.asarray(oriented, dtype=np.int64) >> 8).clip(0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    return np.asarray(oriented.convert("RGB"), dtype=np.uint8)


def rewrite_pixels(data: bytes, param: str) -> bytes:
    """The image of ``data`` (already checked by :func:`check_image`) written again from its
    decoded pixels, oriented, in its own format (PNG losslessly, JPEG at quality
    :data:`_JPEG_QUALITY`): nothing else the file carried survives, neither bytes after the
    image (a "polyglot" file) nor metadata.

    Raises:
        InvalidMedia: the data does not decode after all; ``param`` is set.
    """
    with _open(data, frozenset({"JPEG", "PNG"}), param) as image:
        fmt = "JPEG" if image.format in ("JPEG", "MPO") else "PNG"
        out = io.BytesIO()
        try:
            with _full_decode():
                image.load()
                oriented: Any = ImageOps.exif_transpose(image)
                if fmt == "JPEG":
                    if oriented.mode not in ("RGB", "L", "CMYK"):
                        oriented = oriented.convert("RGB")
                    oriented.save(out, "JPEG", quality=_JPEG_QUALITY)
                else:
                    kept = {
                        k: v for k, v in oriented.info.items() if k == "transparency"
                    }  # part of the pixels' meaning; every other chunk goes
                    oriented.save(out, "PNG", **kept)
        except _DECODE_ERRORS as exc:
            raise InvalidMedia(
                f"{param}: image data is truncated or corrupt ({exc})", param=param
            ) from exc
    return out.getvalue()
