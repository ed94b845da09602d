"""The rotation attack's control: the fully-sampled target through the same rotation, no model.

At each item's selected angle the target's coil images are rotated (or, with fixed coils, the
anatomy inside them), RSS-combined, cropped and rotated back: what the interpolation alone does
to the target (the analogue of the noise attack's control).
"""

from __future__ import annotations

import torch

from advrecon.attacks._common import chunk_ranges
from advrecon.attacks.geometry import rotate, validity_mask
from advrecon.attacks.objectives import Regions, error_maps, reduce_maps
from advrecon.attacks.results import METRICS
from advrecon.attacks.rotation.threat import rotate_slices
from advrecon.mri import center_crop, rss

__all__ = ["rotation_control"]


def rotation_control(
    coil, sens, target_b, dr_b, regions: Regions, full: Regions, idx, angles, sel, size, rot,
    chunk_size,
):  # fmt: skip
    """Fully-sampled target through rotate -> RSS/crop -> rotate back at the selected angles.

    Every distinct (slice, selected angle) pair is transformed once (no model).

    Args:
        coil: ``(B, C, H, W)`` complex coil images; sens: fixed coil maps or ``None``.
        target_b, dr_b: ``(B, h, w)``, ``(B,)``.
        regions, full: ``N`` item regions, ``B`` whole-image regions.
        idx: ``(N,)`` slice of each item; angles: ``(A,)``; sel: ``(N, T)`` selected indices.
        size: ``(h, w)``; rot: keyword arguments of :func:`~advrecon.attacks.geometry.rotate`.
        chunk_size: Largest number of pairs per pass.

    Returns:
        ``(control (T, N, h, w), {"control_<metric>[_full]": (N, T) float64})``: the control
        image at each item's selected angle of each window, and its metrics.
    """
    N, T = sel.shape
    A = angles.numel()
    pair_key = (idx[:, None] * A + sel).reshape(-1)  # (N*T,) slice-major key of the pair
    uniq, inv = torch.unique(pair_key, return_inverse=True)
    out = {
        f"control_{m}{suf}": torch.full((N * T,), torch.nan, dtype=torch.float64, device=idx.device)
        for m in METRICS
        for suf in ("", "_full")
    }
    control = torch.zeros((T, N, *size), dtype=target_b.dtype, device=idx.device)
    pos = torch.arange(N * T, device=idx.device)
    for r in chunk_ranges(uniq.numel(), chunk_size):
        s, ang = uniq[r.start : r.stop] // A, angles[uniq[r.start : r.stop] % A]
        img = center_crop(rss(rotate_slices(coil, s, ang, rot, sens), dim=1), size)
        back = rotate(img, -ang, **rot)
        valid = validity_mask(size, ang, device=idx.device)
        maps = error_maps(back, target_b[s], dr_b[s], valid)
        rm = reduce_maps(maps, regions, pairwise=True)  # (N, c)
        fm = reduce_maps(maps, full, pairwise=True)  # (B, c)
        here = (inv >= r.start) & (inv < r.stop)
        p, c = pos[here], inv[here] - r.start
        n = p // T
        for m in METRICS:
            out[f"control_{m}"][p] = rm[m][n, c]
            out[f"control_{m}_full"][p] = fm[m][idx[n], c]
        control[p % T, n] = back[c].to(control.dtype)
    return control, {k: v.reshape(N, T) for k, v in out.items()}
