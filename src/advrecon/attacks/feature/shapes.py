"""A small feature's shape and where it sits: 0/1 shape masks, placement inside a box.

A feature is a real patch ``q`` ``(n, s, s)`` (amplitude, image intensity units) on a shape mask
``(s, s)`` placed with its top-left corner at ``pos = (row, col)`` in the reconstruction frame
``(h, w)``. Shared by the missing-feature (:mod:`advrecon.attacks.feature`) and hallucination
(:mod:`advrecon.attacks.hallucination`) threat models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from advrecon.boxes import Box
from advrecon.errors import AdvreconError

__all__ = [
    "SHAPES",
    "box_mean",
    "centre_position",
    "check_fits",
    "place",
    "random_positions",
    "shape_mask",
]

SHAPES = ("disc", "square", "blob", "line")


def shape_mask(shape: str, size: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """``(size, size)`` 0/1 mask of a shape.

    ``disc`` / ``blob``: pixels whose centre is within ``size / 2`` of the patch centre;
    ``square``: every pixel; ``line``: a horizontal line of ``size`` pixels, 2 pixels thick
    (1 when ``size < 3``), in the middle rows.

    Raises:
        AdvreconError: unknown shape or ``size < 1``.
    """
    if shape not in SHAPES:
        raise AdvreconError(f"feature shape must be one of {SHAPES}, got {shape!r}")
    if size < 1:
        raise AdvreconError(f"feature size must be >= 1 pixel, got {size}")
    r = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    if shape in ("disc", "blob"):
        m = (r[:, None] ** 2 + r[None, :] ** 2) <= (size / 2) ** 2
    elif shape == "square":
        m = torch.ones(size, size, dtype=torch.bool, device=device)
    else:
        m = torch.zeros(size, size, dtype=torch.bool, device=device)
        rows = [size // 2] if size < 3 else [(size - 1) // 2, (size - 1) // 2 + 1]
        m[rows, :] = True
    return m.to(dtype)


def check_fits(size: int, box: Box, key: str = "size") -> None:
    """A one-line error naming ``key`` when a ``size`` feature does not fit inside ``box``."""
    if size > box.width or size > box.height:
        raise AdvreconError(
            f"{key}: a {size} px feature does not fit inside box {box.as_tuple()} "
            f"('{box.label}', {box.width} x {box.height} px); choose a smaller size"
        )


def centre_position(boxes: Sequence[Box], size: int) -> torch.Tensor:
    """``(n, 2)`` long top-left ``(row, col)`` of a ``size`` patch centred in each box."""
    return torch.tensor(
        [[b.y + (b.height - size) // 2, b.x + (b.width - size) // 2] for b in boxes],
        dtype=torch.long,
    )


def random_positions(boxes: Sequence[Box], size: int, generators: Sequence) -> torch.Tensor:
    """``(n, 2)`` uniformly random top-left positions keeping the patch inside each box
    (one draw of two uniforms from each box's generator)."""
    out = []
    for b, g in zip(boxes, generators, strict=True):
        u = torch.rand(2, generator=g, dtype=torch.float64, device=g.device).cpu()
        row = b.y + int(u[0] * (b.height - size + 1))
        col = b.x + int(u[1] * (b.width - size + 1))
        out.append([min(row, b.y + b.height - size), min(col, b.x + b.width - size)])
    return torch.tensor(out, dtype=torch.long)


def place(q: torch.Tensor, pos: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Patches ``q`` ``(n, s, s)`` at ``pos`` ``(n, 2)`` in zero images ``(n, H, W)``.

    Differentiable in ``q`` (an ``index_put`` of its values); the patch must lie inside.
    """
    n, s = q.shape[0], q.shape[-1]
    ar = torch.arange(s, device=q.device)
    pos = pos.to(q.device)
    rows = (pos[:, 0, None, None] + ar[None, :, None]).expand(n, s, s)
    cols = (pos[:, 1, None, None] + ar[None, None, :]).expand(n, s, s)
    items = torch.arange(n, device=q.device)[:, None, None].expand(n, s, s)
    out = q.new_zeros((n, int(shape[0]), int(shape[1])))
    return out.index_put((items, rows, cols), q)


def box_mean(target: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
    """``(n,)`` mean intensity of each target ``(n, h, w)`` inside its box."""
    return torch.stack([target[i][b.slices()].mean() for i, b in enumerate(boxes)])
