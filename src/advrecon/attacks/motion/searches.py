"""The search items of a motion attack and the searches and evaluation of one chunk of them.

Searches, all at the same bounds:

* worst-case motion: projected (sign-)gradient ascent over the ``3 (shots - 1)`` parameters
  (:class:`~advrecon.attacks.search.ProjectedGradient`, best iterate): from a uniform random
  start (or no motion), ``x <- clip(x + step_size * bound * sign(grad))``;
* random motion: ``n_random`` uniform draws in the box (mean and worst);
* worst single-shot motion: the same ascent with only one shot free, for every shot
  ``1 ... shots - 1`` (the worst one is picked by
  :func:`~advrecon.attacks.motion.attack.motion_attack`).

``control``: the fully-sampled moved k-space as a scanner shows it (RSS, crop; no model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from advrecon.attacks._common import flatten_boxes, recon_size_of, select_mask, select_nlf
from advrecon.attacks.engine import random_baseline
from advrecon.attacks.evaluation import evaluate, nan_columns
from advrecon.attacks.motion.acquisition import shot_index
from advrecon.attacks.motion.threat import RigidMotion
from advrecon.attacks.objectives import Regions, make_regions
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.search import ProjectedGradient
from advrecon.boxes import Box
from advrecon.models.varnet import num_low_frequencies_from_mask
from advrecon.mri import kspace_to_target
from advrecon.sensitivity import acs_sensitivity_maps

__all__ = ["SearchItems", "search_chunk", "search_items"]


@dataclass(frozen=True)
class SearchItems:
    """The ``N K`` search items of a call: each of the ``N`` items (slice, box) ``K`` times,
    once per kind of search (0: every shot but 0 free; ``k >= 1``: only shot ``k``),
    item-major.

    Attributes:
        recon, kspace, mask, nlf: The call's reconstructor and ``B`` slices.
        shots: ``(B or 1, W)`` shot of every column; maps: fixed-coil maps ``(B, C, H, W)`` or
            ``None``.
        index: ``(N,)`` slice of each item; sidx: ``(N K,)`` slice of each search item.
        bound: ``(N K, 1, 3)`` float64 bounds; free: ``(K, S, 1)`` float64 free shots per kind.
        target: ``(B, h, w)``; data_range: ``(B,)``; regions, full: the ``N`` item regions and
            whole-image regions; pad_deg: Fourier-rotation padding angle.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    shots: torch.Tensor
    maps: torch.Tensor | None
    index: torch.Tensor
    sidx: torch.Tensor
    bound: torch.Tensor
    free: torch.Tensor
    target: torch.Tensor
    data_range: torch.Tensor
    regions: Regions
    full: Regions
    pad_deg: float

    @property
    def n(self) -> int:
        """Number of search items (``N K``)."""
        return self.sidx.numel()

    @property
    def kinds(self) -> int:
        """``K``: searches per item."""
        return self.free.shape[0]

    def threat(self, r: range) -> RigidMotion:
        """The :class:`RigidMotion` of the search items ``r``."""
        js, K = torch.arange(r.start, r.stop), self.kinds
        s_of = self.sidx[js].to(self.kspace.device)
        items = (js // K).tolist()
        return RigidMotion(
            self.recon, self.kspace[s_of], select_mask(self.mask, s_of.cpu()),
            select_nlf(self.nlf, s_of.cpu()),
            self.shots if self.shots.shape[0] == 1 else self.shots[s_of],
            None if self.maps is None else self.maps[s_of], self.bound[js.to(self.kspace.device)],
            self.free[js % K].to(self.kspace.device), self.target[s_of],
            self.regions.take(items), self.full.take(items), self.data_range[s_of], self.pad_deg,
        )  # fmt: skip


def search_items(
    recon, kspace, mask, nlf, boxes, th: torch.Tensor, tt: torch.Tensor, opts, *,
    padding: Sequence[int] | None, pad_deg: float | None, recon_size: Sequence[int] | None,
) -> SearchItems:  # fmt: skip
    """The search items of a :func:`~advrecon.attacks.motion.motion_attack` call.

    Args:
        recon, kspace, mask, nlf, boxes: As for the attack; th, tt: ``(B,)`` bounds.
        opts: The checked :class:`~advrecon.attacks.motion.attack.MotionOptions`.
        padding, pad_deg, recon_size: As for the attack.
    """
    B, dev = kspace.shape[0], kspace.device
    size = recon_size_of(recon, recon_size)
    items, index = flatten_boxes(boxes, B)
    shot_of = shot_index(mask, opts.shots, opts.order, opts.centre, nlf, padding)
    maps = None
    if opts.coils == "fixed":
        n_low = num_low_frequencies_from_mask(mask, nlf).to(dev)
        full_mask = torch.ones((1, 1, 1, kspace.shape[-1]), device=dev)
        maps = acs_sensitivity_maps(kspace, full_mask, n_low.expand(B))
    target = kspace_to_target(kspace, size)
    dr = data_range_of(target, opts.data_range)
    regions = make_regions(items, size, device=dev)
    full = make_regions([Box.full(size)] * len(items), size, device=dev)
    K = opts.shots if opts.single_shot else 1  # 0: every shot free; s: shot s only
    free = torch.zeros((K, opts.shots, 1), dtype=torch.float64)
    free[0, 1:] = 1.0
    for k in range(1, K):
        free[k, k] = 1.0
    sidx = index.repeat_interleave(K)  # (N K,) slice of every search item
    bound = torch.stack([th, tt, tt], dim=1)[sidx][:, None].to(dev)  # (N K, 1, 3)
    pad = float(th.max()) if pad_deg is None else float(pad_deg)
    return SearchItems(recon, kspace, mask, nlf, shot_of, maps, index, sidx, bound, free,
                       target, dr, regions, full, pad)  # fmt: skip


def search_chunk(
    threat: RigidMotion, gens, search: ProjectedGradient, opts, chunk_size, slices: torch.Tensor
) -> dict:
    """Searches and evaluation of one chunk of search items.

    Args:
        threat: The chunk's threat model; gens: its (start, baseline) generator pairs.
        search: The ascent; opts: the checked options (``random_start``, ``n_random``).
        chunk_size: Largest batch of the random baseline; slices: slice of each item (the
            clean reconstruction is made once per distinct slice).

    Returns:
        ``delta``, ``adv``, ``clean``, ``control``, ``trace`` and ``metrics``.
    """
    uniq, inv = torch.unique(slices, return_inverse=True)
    first = torch.zeros(uniq.numel(), dtype=torch.long).scatter_(
        0, inv.flip(0), torch.arange(slices.numel() - 1, -1, -1)
    )  # an item of every distinct slice
    one = threat.take(first.to(threat.device))
    with torch.no_grad():
        clean = one.recon(one.kspace * one.mask, one.mask, one.nlf)[inv.to(threat.device)]
    z0 = threat.draw([g[0] for g in gens]) if opts.random_start else threat.still()
    delta, adv, trace, _ = search.run_active(threat, z0, clean)
    t, reg, full, dr = threat.target, threat.regions, threat.full, threat.data_range
    with torch.no_grad():
        metrics = evaluate({"clean": clean, "adv": adv}, t, reg, full, dr)
        control = threat.control(delta)
        metrics.update(evaluate({"control": control}, t, reg, full, dr))
        metrics.update(_baseline(threat, gens, opts.n_random, chunk_size))
    return dict(delta=delta, adv=adv, clean=clean, control=control, trace=trace, metrics=metrics)


def _baseline(threat: RigidMotion, gens: list, n_random: int, chunk_size) -> dict:
    """Mean and worst metrics over ``n_random`` uniform motions
    (:func:`~advrecon.attacks.engine.random_baseline` on the items with every shot free;
    NaN for the single-shot search items)."""
    out = nan_columns(("rand_mean", "rand_worst"), len(gens), threat.device)
    every = torch.nonzero(threat.free[:, 1:, 0].all(dim=1)).flatten()
    if n_random == 0 or every.numel() == 0:
        return out
    sub_gens = [gens[int(j)][1] for j in every]
    for k, v in random_baseline(threat.take(every), sub_gens, n_random, chunk_size).items():
        out[k][every] = v.to(out[k].dtype)
    return out
