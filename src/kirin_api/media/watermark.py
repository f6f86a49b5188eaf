"""A visible watermark: semi-transparent "KIRIN" text in a corner of the frame.

The mark is rendered once per frame size with Pillow (white text with a dark outline so it reads on
light and dark pictures) into a premultiplied colour patch and an alpha mask; each frame then only
blends that small patch, vectorised with numpy integer maths, so watermarking costs a fraction of
a millisecond per 720p frame. A :class:`Watermark` is a frame transform, ready to be a
``VideoTarget.transform`` of :func:`kirin_api.media.encode.encode_mp4`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

__all__ = ["DEFAULT_TEXT", "Corner", "Watermark", "make_watermark"]

DEFAULT_TEXT = "KIRIN"
Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


@dataclass(frozen=True)
class Watermark:
    """A watermark prepared for one frame size; call it on a frame to get a marked copy."""

    width: int
    height: int
    x: int
    """Left edge of the patch in the frame."""
    y: int
    """Top edge of the patch in the frame."""
    color: npt.NDArray[np.uint16]
    """Premultiplied colour of the patch, (h, w, 3), values 0..255*255."""
    inverse_alpha: npt.NDArray[np.uint16]
    """255 - alpha, (h, w, 1)."""

    @property
    def box(self) -> tuple[int, int, int, int]:
        """The patch as (left, top, right, bottom) in frame pixels."""
        h, w = self.inverse_alpha.shape[:2]
        return (self.x, self.y, self.x + w, self.y + h)

    def apply(self, frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """A copy of ``frame`` (H, W, 3) uint8 with the mark blended in; ``frame`` is unchanged."""
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(
                f"watermark made for {self.width}x{self.height}, frame is {frame.shape}"
            )
        out = frame.copy()
        left, top, right, bottom = self.box
        region = out[top:bottom, left:right]
        # out = src * (1 - a) + colour * a, in integers: (src*(255-a) + colour*a + 127) // 255.
        blended = region.astype(np.uint16) * self.inverse_alpha
        blended += self.color
        blended += 127
        blended //= 255
        region[...] = blended
        return out

    __call__ = apply


def make_watermark(
    width: int,
    height: int,
    *,
    text: str = DEFAULT_TEXT,
    corner: Corner = "bottom-right",
    opacity: float = 0.6,
    relative_size: float = 0.06,
) -> Watermark:
    """Render ``text`` for frames of ``width`` x ``height``.

    Args:
        text: the mark's text.
        corner: where it sits; the margin is one text height's half.
        opacity: 0..1, the alpha of the text's body.
        relative_size: text height as a fraction of the frame's shorter side (so the mark looks
            the same on 16:9, 9:16 and 1:1 outputs).
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"bad frame size {width}x{height}")
    if not 0.0 < opacity <= 1.0:
        raise ValueError(f"opacity must be in (0, 1], got {opacity}")
    font_px = max(8, round(min(width, height) * relative_size))
    # Pillow's bundled font (no system font needed); sized in pixels.
    font = ImageFont.load_default(size=font_px)
    stroke = max(1, font_px // 12)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font, stroke_width=stroke)
    w, h = int(right - left) + 2, int(bottom - top) + 2
    w, h = min(w, width), min(h, height)
    image = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(image).text(
        (1 - left, 1 - top),
        text,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(20, 20, 20, 255),
    )
    rgba = np.asarray(image, dtype=np.uint16)
    alpha = (rgba[..., 3:4] * opacity + 0.5).astype(np.uint16)
    color = rgba[..., :3] * alpha
    margin = max(2, font_px // 2)
    x = margin if corner.endswith("left") else width - w - margin
    y = margin if corner.startswith("top") else height - h - margin
    x, y = max(0, x), max(0, y)
    return Watermark(
        width=width,
        height=height,
        x=x,
        y=y,
        color=np.ascontiguousarray(color),
        inverse_alpha=np.ascontiguousarray(255 - alpha),
    )
