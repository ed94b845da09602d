"""One evaluation routine for every threat model: clean / adversarial / baseline / control.

Every image is scored by :func:`advrecon.attacks.objectives.region_metrics` in the item's
region and on the whole reconstruction (``_full``), with the target's data range; the columns
are ``<prefix>_<metric>[_full]`` (:mod:`advrecon.attacks.results`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from advrecon.attacks.objectives import Regions, region_metrics
from advrecon.attacks.results import METRICS

__all__ = ["evaluate", "metric_columns", "nan_columns", "random_summary"]


def metric_columns(prefix: str, region: dict, full: dict) -> dict[str, torch.Tensor]:
    """``{prefix}_{metric}`` (region) and ``{prefix}_{metric}_full`` columns, detached."""
    out = {}
    for m in METRICS:
        out[f"{prefix}_{m}"] = region[m].detach()
        out[f"{prefix}_{m}_full"] = full[m].detach()
    return out


def evaluate(
    images: dict[str, torch.Tensor],
    target: torch.Tensor,
    regions: Regions,
    full: Regions,
    data_range: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """Metric columns of every image in the target frame.

    Args:
        images: ``prefix -> (n, h, w)`` image, e.g. ``clean``, ``adv``, ``control``.
        target: ``(n, h, w)``; regions, full: ``n`` item regions and whole-image regions;
        data_range: ``(n,)``.

    Returns:
        Dict of ``(n,)`` float64 columns, prefixes in the order of ``images``.
    """
    out: dict[str, torch.Tensor] = {}
    for prefix, img in images.items():
        region = region_metrics(img, target, regions, data_range)
        out.update(metric_columns(prefix, region, region_metrics(img, target, full, data_range)))
    return out


def nan_columns(prefixes: Iterable[str], n: int, device) -> dict[str, torch.Tensor]:
    """NaN ``(n,)`` columns for baselines that were not computed."""
    nan = torch.full((n,), torch.nan, dtype=torch.float64, device=device)
    return {f"{p}_{m}{s}": nan.clone() for p in prefixes for m in METRICS for s in ("", "_full")}


def random_summary(draws: dict[str, list[torch.Tensor]], n: int, n_random: int) -> dict:
    """``rand_mean_*`` and ``rand_worst_*`` over ``n_random`` draws per item.

    Args:
        draws: ``<metric>[_full] -> [chunk values]``, item-major ``(n * n_random,)`` together.

    Returns:
        Dict of ``(n,)`` columns; worst = lowest SSIM / PSNR, highest NMSE / MSE.
    """
    out = {}
    for key, v in draws.items():
        table = torch.cat(v).reshape(n, n_random)
        out[f"rand_mean_{key}"] = table.mean(1)
        lower_is_worse = key.startswith(("ssim", "psnr"))
        out[f"rand_worst_{key}"] = table.amin(1) if lower_is_worse else table.amax(1)
    return out
