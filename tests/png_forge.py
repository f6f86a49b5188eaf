"""Hand-made PNG files for structure tests: Pillow cannot write interlaced PNGs, nor break one
in a chosen way."""

from __future__ import annotations

import struct
import zlib

_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def grey_png(
    width: int, height: int, *, interlaced: bool = False, filter_type: int = 0, cut: int = 0
) -> bytes:
    """An 8-bit greyscale PNG (pixel value x+y), optionally Adam7-interlaced; ``filter_type``
    is written as every row's filter byte; ``cut`` drops that many bytes of the inflated data."""
    raw = bytearray()
    passes = _ADAM7 if interlaced else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        xs = range(x0, width, dx)
        for y in range(y0, height, dy):
            if not xs:
                continue
            raw.append(filter_type)
            raw.extend((x + y) & 0xFF for x in xs)
    if cut:
        raw = raw[:-cut]
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1 if interlaced else 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )
