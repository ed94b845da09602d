"""Adversarial rotation: exhaustive grid search over in-plane angles (Morshuis et al. 2022).

For each slice the complex coil images are rotated by every angle ``theta`` of a grid over
``[-theta_max, theta_max]`` (step 0.1 degrees by default, both ends included), transformed to
k-space (``fft2c``), masked and reconstructed; the reconstruction is rotated back by ``-theta``
and compared with the *unrotated* target ``X`` inside the region, excluding pixels that left
the field of view (:func:`~advrecon.attacks.geometry.validity_mask`).

One sweep at the largest ``theta_max`` serves every smaller ``theta_max`` (Fig. 4a: worst case
versus ``theta_max``) and gives the whole per-angle curve (Fig. 4b); one sweep per slice serves
every box on that slice (each angle is reconstructed once, metrics are reduced per box).
(slice, angle) pairs are batched, at most ``chunk_size`` per forward.

The worst angle is the one with the largest region MSE (``select_by="mse"``, the paper), or the
smallest SSIM / PSNR; all metrics are reported at the selected angle. Baseline: a uniformly
random angle in ``[-theta_max, theta_max]``, reported as the exact mean and median over the grid
angles in the window. ``clean`` is the angle-0 entry of the sweep (rotation by 0 is the
identity), so it costs no extra forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from advrecon.attacks._common import (
    check_kspace_mask,
    chunk_ranges,
    flatten_boxes,
    frozen,
    recon_size_of,
    select_mask,
    select_nlf,
)
from advrecon.attacks.geometry import INTERPOLATIONS, rotate, validity_mask
from advrecon.attacks.objectives import (
    SELECT_BY,
    error_maps,
    make_regions,
    reduce_maps,
    worst_index,
)
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.results import METRICS, RotationResult
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import fft2c, ifft2c, kspace_to_target

__all__ = ["angle_grid", "rotation_attack"]

_TOL = 1e-9


def angle_grid(theta_max: Sequence[float], step: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid of angles covering ``[-max(theta_max), max(theta_max)]``.

    The grid is ``step * k`` for integers ``k`` within the largest ``theta_max``, plus
    ``+-theta_max`` for every requested value (so that both ends of every window are included
    even when ``theta_max`` is not a multiple of ``step``).

    Args:
        theta_max: Maxima in degrees (each >= 0).
        step: Grid step in degrees (> 0).

    Returns:
        ``(angles (A,) float64 sorted, window (T, A) bool)`` with ``window[t]`` the angles with
        ``|angle| <= theta_max[t]``.
    """
    try:
        tmaxes = [float(t) for t in theta_max]
    except TypeError:
        tmaxes = [float(theta_max)]  # a single number
    if not tmaxes:
        raise AdvreconError("theta_max must hold at least one angle")
    if any(not math.isfinite(t) or t < 0 for t in tmaxes):
        raise AdvreconError(f"theta_max must be finite and >= 0 degrees, got {tmaxes}")
    if not (math.isfinite(step) and step > 0):
        raise AdvreconError(f"the angle step must be > 0 degrees, got {step}")
    top = max(tmaxes)
    kmax = int(math.floor(top / step + _TOL))
    base = step * torch.arange(-kmax, kmax + 1, dtype=torch.float64)
    ends = torch.tensor([s * t for t in tmaxes for s in (-1.0, 1.0)], dtype=torch.float64)
    allv = torch.cat([base, ends, torch.zeros(1, dtype=torch.float64)])
    allv = torch.round(allv * 1e9) / 1e9
    angles = torch.unique(allv)  # sorted
    window = torch.stack([angles.abs() <= t + _TOL for t in tmaxes])
    return angles, window


def rotation_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    theta_max: Sequence[float],
    *,
    step: float = 0.1,
    interpolation: str = "paper",
    select_by: str = "mse",
    data_range: str = "maxmin",
    n_random: int = 0,
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> RotationResult:
    """Worst-case rotation angle by exhaustive search, batched over slices and angles.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``
            (frozen for the duration of the call; no gradients are computed).
        kspace: FULLY-sampled complex k-space ``(B, C, H, W)``.
        mask: Real ``(B or 1, 1, 1 or H, W)``; the same mask is applied at every angle.
        num_low_frequencies: ``int``, ``None`` or ``(B,)`` tensor.
        boxes: One Box per slice, or a list of Boxes per slice (all served by one sweep).
        theta_max: List of maxima in degrees; one row per item and ``theta_max``.
        step: Grid step in degrees (0.1).
        interpolation: ``"paper"`` or ``"fourier"`` (:mod:`advrecon.attacks.geometry`).
        select_by: ``"mse"`` (paper), ``"ssim"`` or ``"psnr"``.
        data_range: ``"maxmin"`` or ``"max"`` of the whole target.
        n_random: Number of random grid angles drawn per item and ``theta_max`` for the
            ``rand_draw_ssim`` column (the exact expectation is always reported).
        generator: ``torch.Generator`` or int seed for those draws.
        chunk_size: Maximum (slice, angle) pairs per forward (``None``: all).
        recon_size: ``(h, w)`` if ``recon`` has no ``recon_size`` attribute.

    Returns:
        :class:`~advrecon.attacks.results.RotationResult`.

    Raises:
        AdvreconError: Bad k-space/mask, box, angle, step or option.
    """
    check_kspace_mask(kspace, mask)
    if interpolation not in INTERPOLATIONS:
        raise AdvreconError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if select_by not in SELECT_BY:
        raise AdvreconError(f"select_by must be one of {SELECT_BY}, got {select_by!r}")
    if int(n_random) != n_random or n_random < 0:
        raise AdvreconError(f"n_random must be a non-negative integer, got {n_random}")
    if isinstance(theta_max, (int, float)):
        theta_max = [theta_max]
    theta_max = [float(t) for t in theta_max]
    angles, window = angle_grid(theta_max, step)
    B = kspace.shape[0]
    size = recon_size_of(recon, recon_size)
    items, item_index = flatten_boxes(boxes, B)
    N, A, T = len(items), angles.numel(), len(theta_max)
    device = kspace.device
    regions = make_regions(items, size, device=device)
    full = make_regions([Box.full(size)] * B, size, device=device)
    top = max(theta_max)
    a0 = int((angles == 0).nonzero()[0, 0])
    idx_dev = item_index.to(device)

    target_b = kspace_to_target(kspace, size)
    dr_b = data_range_of(target_b, data_range)
    coil = ifft2c(kspace)
    rdtype = kspace.real.dtype
    keys = [m + suf for m in METRICS for suf in ("", "_full")]
    per_angle = {k: torch.full((N, A), torch.nan, dtype=torch.float64, device=device) for k in keys}
    clean_b = torch.zeros((B, *size), dtype=rdtype, device=device)
    adv = torch.zeros((N, *size), dtype=rdtype, device=device)
    adv_valid = torch.ones((N, *size), dtype=torch.bool, device=device)
    best = torch.full((N,), -torch.inf, dtype=torch.float64, device=device)
    angles_dev = angles.to(device)

    with frozen(recon), torch.no_grad():
        for r in chunk_ranges(B * A, chunk_size):
            p = torch.arange(r.start, r.stop, device=device)
            bs, as_ = p // A, p % A
            ang = angles_dev[as_]
            rotated = rotate(coil[bs], ang, interpolation, max_abs_deg=top)
            m = select_mask(mask, bs.cpu())
            nlf = select_nlf(num_low_frequencies, bs.cpu())
            out = recon(fft2c(rotated) * m, m, nlf)
            back = rotate(out, -ang, interpolation, max_abs_deg=top)
            valid = validity_mask(size, ang, device=device)
            maps = error_maps(back, target_b[bs], dr_b[bs], valid)
            rm = reduce_maps(maps, regions, pairwise=True)  # (N, c)
            fm = reduce_maps(maps, full, pairwise=True)  # (B, c)
            own = idx_dev[:, None] == bs[None, :]
            ni, ci = own.nonzero(as_tuple=True)
            for key in METRICS:
                per_angle[key][ni, as_[ci]] = rm[key][ni, ci]
                per_angle[key + "_full"][ni, as_[ci]] = fm[key][idx_dev[ni], ci]
            at0 = (as_ == a0).nonzero(as_tuple=True)[0]
            clean_b[bs[at0]] = out[at0]
            # Worst angle over the whole grid (= largest theta_max), first one on ties.
            score = rm[select_by] if select_by == "mse" else -rm[select_by]
            score = torch.nan_to_num(score, nan=-torch.inf)
            score = torch.where(own, score, torch.full_like(score, -torch.inf))
            cbest, carg = score.max(1), score.argmax(1)
            upd = cbest.values > best
            best = torch.where(upd, cbest.values, best)
            adv = torch.where(upd[:, None, None], back[carg].to(rdtype), adv)
            adv_valid = torch.where(upd[:, None, None], valid[carg], adv_valid)

    sel = worst_index(per_angle, select_by, window.to(device))  # (N, T)
    metrics: dict[str, torch.Tensor] = {}
    for key in keys:
        curve = per_angle[key]
        metrics[f"clean_{key}"] = curve[:, a0 : a0 + 1].expand(N, T).clone()
        metrics[f"adv_{key}"] = curve.gather(1, sel)
        mean, median = [], []
        for t in range(T):
            w = curve[:, window[t].to(device)]
            mean.append(w.mean(1))
            median.append(torch.quantile(w, 0.5, dim=1))
        metrics[f"rand_mean_{key}"] = torch.stack(mean, 1)
        metrics[f"rand_median_{key}"] = torch.stack(median, 1)
    metrics["rand_draw_ssim"] = _random_draws(per_angle["ssim"], window, n_random, generator)

    return RotationResult(
        angles=angles,
        theta_max=theta_max,
        window=window,
        per_angle=per_angle,
        selected_index=sel,
        selected_angle=angles_dev[sel],
        metrics=metrics,
        adversarial=adv,
        valid=adv_valid,
        clean=clean_b[idx_dev],
        target=target_b[idx_dev],
        boxes=list(regions.boxes),
        box_grown=list(regions.grown),
        item_index=item_index,
        interpolation=interpolation,
        select_by=select_by,
        step=float(step),
        n_random=int(n_random),
        data_range_convention=data_range,
    )


def _random_draws(
    ssim: torch.Tensor, window: torch.Tensor, n_random: int, generator
) -> torch.Tensor:
    """Mean SSIM over ``n_random`` uniformly drawn grid angles per item and window."""
    N, T = ssim.shape[0], window.shape[0]
    if n_random == 0:
        return torch.full((N, T), torch.nan, dtype=torch.float64, device=ssim.device)
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    cols = []
    for t in range(T):
        allowed = window[t].nonzero(as_tuple=True)[0]
        pick = torch.randint(0, allowed.numel(), (N, n_random), generator=generator)
        cols.append(ssim.gather(1, allowed[pick].to(ssim.device)).mean(1))
    return torch.stack(cols, 1)
