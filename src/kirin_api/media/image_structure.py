"""Proving an image is what its header says without holding its pixels.

A 190 KB PNG can declare 7000x7000 pixels of zeros: decoding it whole costs 150 MB, and forty
such submits at once cost gigabytes in the API process. So the API proves validity in bounded
memory instead:

- **PNG** (:func:`verify_png`): walk the chunks (every CRC checked, ``IHDR`` first, ``IDAT``
  contiguous, ``IEND`` reached), and inflate the image data in slices of
  :data:`_INFLATE_SLICE` bytes that are counted and thrown away: the stream must end exactly at
  the size the header implies (every pass of an interlaced image included) and every row must
  start with a valid filter type. That is everything a full decode would find wrong, but the
  memory is one slice, whatever the image size. Bytes after ``IEND`` are allowed (the image is
  what it is; :func:`kirin_api.media.images.rewrite_pixels` drops them later).
- **JPEG**: Pillow's *draft* mode decodes at 1/8 scale (the DCT does it for free), which reads
  every entropy-coded segment, so truncation and corruption still fail, for 1/64 of the memory.

The EXIF orientation of a PNG (an ``eXIf`` chunk, possibly after the pixel data) is read from
the chunk walk too.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from PIL import Image

__all__ = ["PngFacts", "StructureError", "verify_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_INFLATE_SLICE = 1 << 20
# Real encoders write a few thousand chunks at most (8 KB IDATs of a 10 MB file: 1280); a file
# of a million empty chunks would only cost us CPU.
_MAX_CHUNKS = 100_000
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
_DEPTHS = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}
# Adam7: (x start, y start, x step, y step) of each of the seven passes.
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_EXIF_ORIENTATION = 0x0112


class StructureError(ValueError):
    """The file is not a valid image of the kind it claims to be (message says why)."""


@dataclass(frozen=True)
class PngFacts:
    width: int
    height: int
    orientation: int | None
    end: int
    """Offset just past ``IEND``: anything after it is not part of the image."""


def _rows(width: int, height: int, interlaced: bool) -> list[tuple[int, int]]:
    """(rows, columns) of each pass (one pass unless interlaced); empty passes skipped."""
    if not interlaced:
        return [(height, width)]
    passes = []
    for x0, y0, dx, dy in _ADAM7:
        cols = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if cols and rows:
            passes.append((rows, cols))
    return passes


def verify_png(data: bytes) -> PngFacts:
    """Check ``data`` is a complete, valid PNG, in bounded memory (module docstring).

    Raises:
        StructureError: what is wrong, in a few words.
    """
    if not data.startswith(_SIGNATURE):
        raise StructureError("not a PNG signature")
    offset = len(_SIGNATURE)
    header: tuple[int, int, int, int, int] | None = None
    inflater = zlib.decompressobj()
    row_bytes: list[tuple[int, int]] = []  # (rows, bytes per row incl. the filter byte)
    produced = 0
    expected = 0
    orientation: int | None = None
    idat_state = "before"  # before -> inside -> after
    has_palette = False
    filter_check = _FilterCheck([])
    for _ in range(_MAX_CHUNKS):
        if offset + 12 > len(data):
            raise StructureError("truncated (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body_end = offset + 8 + length
        if length > 0x7FFFFFFF or body_end + 4 > len(data):
            raise StructureError("truncated chunk")
        body = data[offset + 8 : body_end]
        (crc,) = struct.unpack(">I", data[body_end : body_end + 4])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise StructureError(f"bad CRC in a {kind.decode('latin-1')!r} chunk")
        offset = body_end + 4
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise StructureError("first chunk is not IHDR")
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if width == 0 or height == 0 or colour not in _CHANNELS:
                raise StructureError("invalid IHDR")
            if depth not in _DEPTHS[colour] or interlace not in (0, 1):
                raise StructureError("invalid IHDR")
            header = (width, height, depth, colour, interlace)
            bits = _CHANNELS[colour] * depth
            row_bytes = [
                (r, 1 + (c * bits + 7) // 8) for r, c in _rows(width, height, interlace == 1)
            ]
            expected = sum(r * b for r, b in row_bytes)
            filter_check = _FilterCheck(row_bytes)
            continue
        if kind == b"PLTE":
            has_palette = True
        elif kind == b"IDAT":
            if idat_state == "after":
                raise StructureError("IDAT chunks are not contiguous")
            idat_state = "inside"
            produced = _inflate(inflater, body, produced, expected, filter_check)
        elif kind == b"eXIf":
            orientation = _orientation(body)
        elif kind == b"IEND":
            break
        if idat_state == "inside" and kind != b"IDAT":
            idat_state = "after"
    else:
        raise StructureError(f"more than {_MAX_CHUNKS} chunks")
    if header[3] == 3 and not has_palette:
        raise StructureError("palette image without a PLTE chunk")
    if idat_state == "before":
        raise StructureError("no image data")
    produced = _inflate(inflater, b"", produced, expected, filter_check, final=True)
    if not inflater.eof or produced != expected:
        raise StructureError(f"image data is truncated ({produced} of {expected} bytes)")
    return PngFacts(width=header[0], height=header[1], orientation=orientation, end=offset)


class _FilterCheck:
    """Every row of the inflated stream must start with a filter type 0-4."""

    def __init__(self, row_bytes: list[tuple[int, int]]) -> None:
        self._starts: list[tuple[int, int, int]] = []  # (first offset, row bytes, rows)
        at = 0
        for rows, size in row_bytes:
            self._starts.append((at, size, rows))
            at += rows * size

    def check(self, chunk: bytes, offset: int) -> None:
        end = offset + len(chunk)
        for first, size, rows in self._starts:
            last = first + size * rows
            if last <= offset or first >= end:
                continue
            # The first row start at or after ``offset`` within this pass.
            index = max(0, -(-(offset - first) // size))
            position = first + index * size
            while position < min(end, last):
                if chunk[position - offset] > 4:
                    raise StructureError("invalid row filter type")
                position += size


def _inflate(
    inflater: zlib._Decompress,
    data: bytes,
    produced: int,
    expected: int,
    filters: _FilterCheck,
    *,
    final: bool = False,
) -> int:
    """Feed ``data`` through the inflater a slice at a time; return the bytes produced so far."""
    pending = data
    while True:
        try:
            out = inflater.decompress(pending, _INFLATE_SLICE)
        except zlib.error as exc:
            raise StructureError(f"image data is corrupt ({exc})") from None
        if out:
            if produced + len(out) > expected:
                raise StructureError("more image data than the header says")
            filters.check(out, produced)
            produced += len(out)
        pending = inflater.unconsumed_tail
        if not pending and (not final or not out or inflater.eof):
            return produced


def _orientation(body: bytes) -> int | None:
    try:
        exif = Image.Exif()
        exif.load(body)
        value = exif.get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block is not worth refusing the image for
        return None
    return value if isinstance(value, int) else None
