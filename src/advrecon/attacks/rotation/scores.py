"""The rotation attack's columns from its sweep: clean, worst angle and random angle.

The worst angle is the one with the largest region MSE (``select_by="mse"``, the paper), or the
smallest SSIM / PSNR; all metrics are reported at the selected angle. Baseline: a uniformly
random angle of the window, reported as the exact mean and median over the window's angles
(and, with ``n_random``, the mean SSIM of that many drawn angles). ``clean`` is the plain
reconstruction of the unrotated slice, the same as every other attack's ``clean``: with
``fourier`` or ``identity_at_zero=True`` it is the angle-0 entry of the sweep (no extra forward
pass); with the ``paper`` interpolation and ``identity_at_zero=False`` (the authors' behaviour)
the angle-0 entry is the reconstruction of resampled (slightly blurred) coil images, so
``clean`` takes one extra forward per slice (:func:`plain_clean`).
"""

from __future__ import annotations

import torch

from advrecon.attacks._common import chunk_ranges, select_mask, select_nlf
from advrecon.attacks.objectives import Regions, error_maps, reduce_maps
from advrecon.attacks.results import METRICS

__all__ = ["plain_clean", "random_draws", "window_metrics"]


def window_metrics(per_angle: dict, clean_at: dict, sel: torch.Tensor, window: torch.Tensor):
    """``clean_*``, ``adv_*`` (at ``sel``), ``rand_mean_*`` / ``rand_median_*`` (over each
    window) columns and ``evaluated_min_ssim`` (the lowest region SSIM of the window's grid
    angles: below ``adv_ssim`` when the angle is selected by another metric), ``(N, T)``
    float64 each."""
    N, T = sel.shape
    metrics: dict[str, torch.Tensor] = {}
    for key, curve in per_angle.items():
        metrics[f"clean_{key}"] = clean_at[key][:, None].expand(N, T).clone()
        metrics[f"adv_{key}"] = curve.gather(1, sel)
        mean, median = [], []
        for t in range(T):
            w = curve[:, window[t].to(curve.device)]
            mean.append(w.mean(1))
            median.append(torch.quantile(w, 0.5, dim=1))
        metrics[f"rand_mean_{key}"] = torch.stack(mean, 1)
        metrics[f"rand_median_{key}"] = torch.stack(median, 1)
        if key == "ssim":  # the lowest region SSIM of any grid angle of the window
            low = [curve[:, window[t].to(curve.device)].min(1).values for t in range(T)]
            metrics["evaluated_min_ssim"] = torch.stack(low, 1)
    return metrics


def plain_clean(
    recon, kspace, mask, nlf, clean_b, target_b, dr_b, regions: Regions, full: Regions, idx,
    chunk_size,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Unrotated reconstructions written into ``clean_b`` ``(B, h, w)``; their item metrics.

    Returns:
        Dict ``<metric>`` and ``<metric>_full`` of ``(N,)`` float64 (no validity mask: angle 0
        keeps every pixel in view).
    """
    out: dict[str, torch.Tensor] = {}
    rows = []
    for r in chunk_ranges(kspace.shape[0], chunk_size):
        bs = torch.arange(r.start, r.stop, device=kspace.device)
        m = select_mask(mask, bs.cpu())
        clean_b[bs] = recon(kspace[bs] * m, m, select_nlf(nlf, bs.cpu())).to(clean_b.dtype)
        maps = error_maps(clean_b[bs], target_b[bs], dr_b[bs])
        rows.append(
            (bs, reduce_maps(maps, regions, pairwise=True), reduce_maps(maps, full.take(r)))
        )
    for key in METRICS:
        region = torch.cat([rm[key] for _, rm, _ in rows], dim=1)  # (N, B)
        out[key] = region.gather(1, idx[:, None])[:, 0]
        out[key + "_full"] = torch.cat([fm[key] for _, _, fm in rows])[idx]
    return out


def random_draws(
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
