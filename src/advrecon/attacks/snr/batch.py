"""The items of one :func:`~advrecon.attacks.snr.snr_attack` call and their threat models.

:func:`prepare_batch` computes what every chunk shares (items, regions, targets, the thermal
noise level, budgets, per-item seeds); :func:`chunk_threat` makes the
:class:`~advrecon.attacks.snr.threat.ThermalNoise` of a chunk of items and their generators.
Each item's seed is drawn once for the whole call, so results do not depend on ``chunk_size``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from advrecon.attacks._common import (
    check_padding,
    flatten_boxes,
    recon_size_of,
    select_mask,
    select_nlf,
)
from advrecon.attacks.engine import item_seeds, per_item
from advrecon.attacks.objectives import Regions, make_regions
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.snr.threat import ThermalNoise
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma

__all__ = ["SnrBatch", "chunk_threat", "item_keys", "prepare_batch", "thermal_sigma"]


@dataclass(frozen=True)
class SnrBatch:
    """Per-slice quantities of one call, indexed by items via ``index``.

    Attributes:
        recon, kspace ``(B, C, H, W)``, mask, nlf: The call's inputs.
        index: ``(N,)`` slice of every item.
        regions, full: ``N`` item and whole-image regions.
        target: ``(B, h, w)``; data_range: ``(B,)``.
        sigma: ``(B, C)`` float64 thermal noise per coil.
        cols: ``(1, 1, 1, W)`` acquired columns.
        multiple: ``(N,)`` float64 budgets ``m``; seeds: ``(N,)`` int64 draw seeds.
        measured_only: Noise on the sampled columns only; padding: ``(left, right)``.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    index: torch.Tensor
    regions: Regions
    full: Regions
    target: torch.Tensor
    data_range: torch.Tensor
    sigma: torch.Tensor
    cols: torch.Tensor
    multiple: torch.Tensor
    seeds: torch.Tensor
    measured_only: bool
    padding: tuple[int, int]


def thermal_sigma(kspace: torch.Tensor, padding: tuple[int, int], sigma=None) -> torch.Tensor:
    """``(B, C)`` float64 thermal noise per coil: ``sigma`` checked, else estimated.

    The estimate is :func:`advrecon.noise_level.estimate_noise_sigma` on the fully-sampled
    k-space (background corners of the coil images, corrected for zero-padded columns), the
    same as the noise attack's ``noise_to_thermal``. Coils with ``sigma = 0`` (noise-free
    synthetic data) get no noise; a warning says so.

    Raises:
        AdvreconError: A given ``sigma`` of the wrong shape, negative or not finite.
    """
    B, C = kspace.shape[:2]
    if sigma is None:
        s = estimate_noise_sigma(kspace, padding=padding).to(torch.float64)
    else:
        s = torch.as_tensor(sigma, dtype=torch.float64, device=kspace.device)
        if s.shape != (B, C) or not torch.isfinite(s).all() or (s < 0).any():
            raise AdvreconError(
                f"sigma must be a finite, non-negative (slices, coils) = ({B}, {C}) tensor, "
                f"got shape {tuple(s.shape)}"
            )
    zero = (s == 0).nonzero().tolist()
    if zero:
        warnings.warn(
            f"{len(zero)} coil(s) have zero thermal noise (slice, coil) {zero[:5]}: no noise is "
            "added to them",
            RuntimeWarning,
            stacklevel=3,
        )
    return s


def item_keys(draw_keys: Sequence[int] | None, n: int) -> list[int]:
    """The draw key of every item (``None``: each its own), as ranks ``0, 1, ...`` in order of
    first appearance.

    Raises:
        AdvreconError: Not one key per item.
    """
    keys = list(range(n)) if draw_keys is None else [int(k) for k in draw_keys]
    if len(keys) != n:
        raise AdvreconError(f"draw_keys must give one key per item ({n}), got {len(keys)}")
    rank: dict[int, int] = {}
    return [rank.setdefault(k, len(rank)) for k in keys]


def prepare_batch(recon, kspace, mask, nlf, boxes, multiple, opts) -> SnrBatch:
    """Items, regions, targets, thermal noise, budgets and seeds of one call.

    Args:
        recon, kspace, mask, nlf, boxes, multiple: As for ``snr_attack`` (``nlf`` =
            ``num_low_frequencies``, ``multiple`` = ``sigma_multiple``).
        opts: Its :class:`~advrecon.attacks.snr.attack.SnrOptions`.

    Raises:
        AdvreconError: Bad reconstruction size, padding, boxes, data range, budget or sigma.
    """
    B, C, H, W = kspace.shape
    size = recon_size_of(recon, opts.recon_size)
    left, right = check_padding(opts.padding, W)
    items, item_index = flatten_boxes(boxes, B)
    device = kspace.device
    target = kspace_to_target(kspace, size)
    cols = torch.zeros(W, dtype=kspace.real.dtype, device=device)
    cols[left:right] = 1.0
    ranks = item_keys(opts.draw_keys, len(items))
    seeds = item_seeds(opts.generator, max(ranks, default=-1) + 1)[:, 0]
    return SnrBatch(
        recon, kspace, mask, nlf, item_index,
        regions=make_regions(items, size, device=device),
        full=make_regions([Box.full(size)] * len(items), size, device=device),
        target=target, data_range=data_range_of(target, opts.data_range),
        sigma=thermal_sigma(kspace, (left, right), opts.sigma), cols=cols.reshape(1, 1, 1, W),
        multiple=per_item(multiple, B, "sigma_multiple")[item_index].to(device),
        seeds=seeds[ranks], measured_only=bool(opts.measured_only), padding=(left, right),
    )  # fmt: skip


def chunk_threat(b: SnrBatch, r: range) -> tuple[ThermalNoise, list[torch.Generator]]:
    """The threat model of items ``r`` and one generator per item (its draws).

    Raises:
        AdvreconError: ``measured_only`` with no sampled column inside the padding.
    """
    idx = b.index[r.start : r.stop]
    m = select_mask(b.mask, idx)
    support = b.cols * (m > 0).to(b.cols.dtype) if b.measured_only else b.cols
    if float(support.sum()) == 0:
        raise AdvreconError(
            "measured_only=True but the mask samples no column inside "
            f"[{b.padding[0]}, {b.padding[1]}): the noise would be empty"
        )
    dev = b.kspace.device
    i = idx.to(dev)
    threat = ThermalNoise(
        b.recon, b.kspace[i], m, select_nlf(b.nlf, idx), support, b.sigma[i],
        b.multiple[r.start : r.stop], b.target[i], b.regions.take(r), b.full.take(r),
        b.data_range[i],
    )  # fmt: skip
    gens = [torch.Generator(device=dev).manual_seed(int(b.seeds[j])) for j in r]
    return threat, gens
