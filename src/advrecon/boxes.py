"""Rectangular regions (fastMRI+ boxes) in the reconstruction frame.

A :class:`Box` uses image coordinates of the *reconstruction frame*: ``x`` is the column and
``y`` the row of the top-left corner, ``width`` and ``height`` in pixels. fastMRI+ CSV boxes
are in an up/down-flipped frame; :mod:`advrecon.data.annotations` converts them before they
become ``Box`` objects, so everything downstream of the data layer uses this frame only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

__all__ = ["Box", "region_mask"]


@dataclass(frozen=True)
class Box:
    """Axis-aligned box in the reconstruction frame.

    Attributes:
        x: Left column (inclusive).
        y: Top row (inclusive).
        width: Number of columns (> 0 for a usable box).
        height: Number of rows (> 0 for a usable box).
        label: Pathology label (fastMRI+ name), or ``""``.
    """

    x: int
    y: int
    width: int
    height: int
    label: str = ""

    @classmethod
    def full(cls, shape: tuple[int, int], label: str = "complete image") -> Box:
        """The whole image ``(h, w)`` as a box (the "complete image" target)."""
        return cls(0, 0, int(shape[1]), int(shape[0]), label)

    @property
    def is_empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def inside(self, shape: tuple[int, int]) -> bool:
        """True when the box lies entirely inside an image of size ``(h, w)``."""
        h, w = shape
        return (
            self.x >= 0 and self.y >= 0 and self.x + self.width <= w and self.y + self.height <= h
        )

    def clip(self, shape: tuple[int, int]) -> Box:
        """Intersection with an image of size ``(h, w)`` (may become empty)."""
        h, w = shape
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + self.width, w), min(self.y + self.height, h)
        return replace(self, x=x0, y=y0, width=max(x1 - x0, 0), height=max(y1 - y0, 0))

    def grow(self, min_size: int, shape: tuple[int, int]) -> Box:
        """Grow symmetrically so that both sides are at least ``min_size`` (clamped to the image).

        Used for SSIM, whose 7x7 window needs at least 7 pixels on each side. The box is grown
        around its center and then shifted (not shrunk) to stay inside the image.
        """
        h, w = shape

        def _grow(start: int, size: int, limit: int) -> tuple[int, int]:
            if size >= min_size:
                return start, size
            new = min(min_size, limit)
            s = start - (new - size) // 2
            s = min(max(s, 0), limit - new)
            return s, new

        x, width = _grow(self.x, self.width, w)
        y, height = _grow(self.y, self.height, h)
        return replace(self, x=x, y=y, width=width, height=height)

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices to index an image ``img[..., rows, cols]``."""
        return slice(self.y, self.y + self.height), slice(self.x, self.x + self.width)

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.width, self.height)


def region_mask(boxes: list[Box], shape: tuple[int, int], device=None) -> torch.Tensor:
    """Binary masks ``S`` for a batch of boxes.

    Args:
        boxes: One box per batch item.
        shape: Image size ``(h, w)``.
        device: Torch device of the result.

    Returns:
        Float tensor ``(B, h, w)`` with ones inside each item's box.
    """
    out = torch.zeros((len(boxes), *shape), device=device)
    for i, b in enumerate(boxes):
        rows, cols = b.slices()
        out[i, rows, cols] = 1.0
    return out
