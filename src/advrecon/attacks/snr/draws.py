"""The random-only search: ``n_draws`` noise draws per item, the worst kept, all summarised.

There is no gradient search in this threat model: its "adversary" is the worst of ``n_draws``
random draws (lowest SSIM in the item's region, the first on a tie), and its random baseline is
the mean (and the per-metric worst) over the *same* draws. Every draw goes through
:meth:`~advrecon.attacks.snr.threat.ThermalNoise.reconstruct`; items with a zero budget draw
nothing: their draws are the clean reconstruction itself (bit for bit, no forward spent).

Draw ``d`` of an item is the ``d``-th ``randn`` of its generator, so the draws do not depend on
how the ``(item, draw)`` pairs are cut into forwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from advrecon.attacks._common import chunk_ranges
from advrecon.attacks.evaluation import random_summary
from advrecon.attacks.objectives import error_maps, reduce_maps
from advrecon.attacks.results import METRICS
from advrecon.attacks.snr.threat import ThermalNoise

__all__ = ["WorstDraw", "draw_pairs", "worst_of_draws"]


@dataclass
class WorstDraw:
    """The draws of ``n`` items, summarised.

    Attributes:
        z: ``(n, C, H, W)`` the worst draw of every item (zero for a zero budget).
        image: ``(n, h, w)`` its reconstruction.
        index: ``(n,)`` long, which draw it is (``-1``: zero budget, nothing drawn).
        summary: ``rand_mean_*`` / ``rand_worst_*`` ``(n,)`` columns over the draws.
    """

    z: torch.Tensor
    image: torch.Tensor
    index: torch.Tensor
    summary: dict[str, torch.Tensor]


def draw_pairs(
    threat: ThermalNoise, gens: list, n_draws: int, chunk_size: int | None
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(items (p,), draws (p,), z (p, C, H, W), images (p, h, w))`` per forward.

    Pairs are item-major (item 0's draws first) over the *active* items only, at most
    ``chunk_size`` pairs per forward (``None``: as many pairs as there are items).
    """
    active = torch.nonzero(threat.active).flatten().tolist()
    pairs = [(j, d) for j in active for d in range(n_draws)]
    for pr in chunk_ranges(len(pairs), chunk_size or max(len(threat.multiple), 1)):
        js = torch.tensor([pairs[p][0] for p in pr], dtype=torch.long, device=threat.device)
        ds = torch.tensor([pairs[p][1] for p in pr], dtype=torch.long, device=threat.device)
        sub = threat.take(js)
        z = sub.draw([gens[pairs[p][0]] for p in pr])
        yield js, ds, z, sub.reconstruct(z)


def _metrics(threat: ThermalNoise, image: torch.Tensor) -> dict:
    """Region and whole-image metrics ``(n,)`` of reconstructions ``(n, h, w)`` of the items
    (one SSIM map per image, reduced over both regions: as ``region_metrics`` twice)."""
    maps = error_maps(image, threat.target, threat.data_range)
    a, b = reduce_maps(maps, threat.regions), reduce_maps(maps, threat.full)
    return {**{m: a[m] for m in METRICS}, **{m + "_full": b[m] for m in METRICS}}


def worst_of_draws(
    threat: ThermalNoise, gens: list, n_draws: int, chunk_size: int | None, clean: torch.Tensor
) -> WorstDraw:
    """``n_draws`` draws per item (one generator per item): the worst and the summary.

    Args:
        threat: The items' threat model.
        gens: One ``torch.Generator`` per item (its draws, in order).
        n_draws: Draws per item (>= 1).
        chunk_size: Largest number of ``(item, draw)`` pairs per forward.
        clean: ``(n, h, w)`` clean reconstructions (the draws of a zero-budget item).

    Returns:
        :class:`WorstDraw`.
    """
    n = len(gens)
    worst_ssim = torch.full((n,), torch.inf, dtype=torch.float64, device=threat.device)
    z_out = torch.zeros_like(threat.kspace)
    img_out = clean.detach().clone()
    index = torch.full((n,), -1, dtype=torch.long, device=threat.device)
    # a zero-budget item's draws are its clean reconstruction; an active item's are overwritten
    table = {k: v[:, None].repeat(1, n_draws) for k, v in _metrics(threat, clean).items()}
    for js, ds, z, img in draw_pairs(threat, gens, n_draws, chunk_size):
        met = _metrics(threat.take(js), img)
        for k, v in met.items():
            table[k][js, ds] = v.to(table[k].dtype)
        for p in range(len(js)):  # in draw order: a tie keeps the earlier draw
            j = int(js[p])
            if index[j] < 0 or met["ssim"][p] < worst_ssim[j]:
                worst_ssim[j], index[j] = met["ssim"][p], ds[p]
                z_out[j], img_out[j] = z[p], img[p].to(img_out.dtype)
    draws = {k: [v.reshape(-1)] for k, v in table.items()}
    return WorstDraw(z_out, img_out, index, random_summary(draws, n, n_draws))
