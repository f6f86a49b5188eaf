"""The coded sizes of an MP4/MOV's video tracks, read from its boxes by hand, before FFmpeg.

Opening a file with FFmpeg already decodes frames (to find stream parameters), so a 752 KB
16000x16000 MP4 costs a gigabyte before any side check could run. The sample descriptions
(``moov/trak/mdia/minf/stbl/stsd``) state every track's width and height in 16-bit fields; they
are read here with seeks and small reads only, so the side limits are enforced first.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

__all__ = ["video_track_sizes"]

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_MAX_BOXES = 10_000  # in the whole walk: a hostile file of tiny boxes cannot make it long
_VISUAL_ENTRY_MIN = 8 + 78  # header + the visual sample entry fields up to height


def _boxes(f: BinaryIO, start: int, end: int, budget: list[int]) -> list[tuple[bytes, int, int]]:
    """(type, body start, body end) of the boxes between ``start`` and ``end``; ``budget``
    holds how many more boxes the walk may read."""
    found: list[tuple[bytes, int, int]] = []
    offset = start
    while offset + 8 <= end and budget[0] > 0:
        budget[0] -= 1
        f.seek(offset)
        head = f.read(8)
        if len(head) < 8:
            break
        size, kind = struct.unpack(">I4s", head)
        body = offset + 8
        if size == 1:
            large = f.read(8)
            if len(large) < 8:
                break
            (size,) = struct.unpack(">Q", large)
            body += 8
        elif size == 0:
            size = end - offset
        if size < body - offset or offset + size > end:
            break
        found.append((kind, body, offset + size))
        offset += size
    return found


def video_track_sizes(f: BinaryIO, file_size: int) -> list[tuple[int, int]]:
    """(width, height) of every visual sample entry in the file's ``moov``; empty if none is
    found (the caller then relies on FFmpeg's own reading)."""
    sizes: list[tuple[int, int]] = []
    budget = [_MAX_BOXES]

    def walk(start: int, end: int, depth: int) -> None:
        for kind, body, box_end in _boxes(f, start, end, budget):
            if kind in _CONTAINERS and depth < 6:
                walk(body, box_end, depth + 1)
            elif kind == b"stsd":
                _entries(body, box_end)

    def _entries(body: int, end: int) -> None:
        # full box: version/flags (4) and entry count (4), then the sample entries.
        for _, entry, entry_end in _boxes(f, body + 8, end, budget):
            if entry_end - entry + 8 < _VISUAL_ENTRY_MIN:
                continue
            f.seek(entry + 24)  # reserved(6) + data_reference_index(2) + 16 bytes of pre-defined
            width, height = struct.unpack(">HH", f.read(4))
            sizes.append((width, height))

    walk(0, file_size, 0)
    return sizes
