"""The items of one :func:`~advrecon.attacks.noise.noise_attack` call and their threat models.

:func:`prepare_batch` computes what every chunk shares (items, regions, targets, float64 coil
norms, thermal noise level, budgets, per-item seeds); :func:`chunk_threat` makes the
:class:`~advrecon.attacks.noise.threat.KspaceNoise` of a chunk of items and their random
streams. Each item's seeds are drawn once for the whole call, so results do not depend on
``chunk_size``.
"""

from __future__ import annotations

import warnings
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
from advrecon.attacks.engine import item_seeds, per_item, seeded_pairs
from advrecon.attacks.noise.options import NoiseOptions
from advrecon.attacks.noise.threat import KspaceNoise
from advrecon.attacks.objectives import Regions, make_regions
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma

__all__ = ["NoiseBatch", "chunk_threat", "prepare_batch"]


@dataclass(frozen=True)
class NoiseBatch:
    """Per-slice quantities of one call, indexed by items via ``index``.

    Attributes:
        recon, kspace ``(B, C, H, W)``, mask, nlf: The call's inputs.
        index: ``(N,)`` slice of every item.
        regions, full: ``N`` item and whole-image regions.
        target: ``(B, h, w)``; data_range: ``(B,)``.
        knorm: ``(B, C)`` float64 coil norms; sigma: ``(B, C)`` thermal noise per coil.
        cols: ``(1, 1, 1, W)`` acquired columns.
        eta: ``(N,)`` float64 relative budgets; seeds: ``(N, 2)`` (start, baseline) seeds.
        measured_only: Restrict ``z`` to the sampled columns; padding: ``(left, right)``.
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
    knorm: torch.Tensor
    sigma: torch.Tensor
    cols: torch.Tensor
    eta: torch.Tensor
    seeds: torch.Tensor
    measured_only: bool
    padding: tuple[int, int]


def _coil_norms(kspace: torch.Tensor) -> torch.Tensor:
    """``(B, C)`` float64 coil norms, with a warning for coils of zero norm (no budget)."""
    knorm = torch.linalg.vector_norm(kspace.to(torch.complex128), dim=(-2, -1))
    zero = (knorm == 0).nonzero().tolist()
    if zero:
        warnings.warn(
            f"{len(zero)} coil(s) have zero k-space norm (slice, coil) {zero[:5]}: their "
            "perturbation budget is zero",
            RuntimeWarning,
            stacklevel=4,
        )
    return knorm


def prepare_batch(recon, kspace, mask, nlf, boxes, eta, opts: NoiseOptions) -> NoiseBatch:
    """Items, regions, targets, coil norms, noise level and seeds of one call.

    Args:
        recon, kspace, mask, nlf, boxes, eta: As for ``noise_attack`` (``nlf`` =
            ``num_low_frequencies``).
        opts: Its options (``recon_size``, ``padding``, ``data_range``, ``generator``,
            ``measured_only`` are read).

    Raises:
        AdvreconError: Bad reconstruction size, padding, boxes, data range or eta.
    """
    B, C, H, W = kspace.shape
    size = recon_size_of(recon, opts.recon_size)
    left, right = check_padding(opts.padding, W)
    items, item_index = flatten_boxes(boxes, B)
    device = kspace.device
    target = kspace_to_target(kspace, size)
    knorm = _coil_norms(kspace)
    cols = torch.zeros(W, dtype=kspace.real.dtype, device=device)
    cols[left:right] = 1.0
    return NoiseBatch(
        recon, kspace, mask, nlf, item_index,
        regions=make_regions(items, size, device=device),
        full=make_regions([Box.full(size)] * len(items), size, device=device),
        target=target, data_range=data_range_of(target, opts.data_range), knorm=knorm,
        sigma=estimate_noise_sigma(kspace, padding=(left, right)), cols=cols.reshape(1, 1, 1, W),
        eta=per_item(eta, B, "eta")[item_index], seeds=item_seeds(opts.generator, len(items)),
        measured_only=bool(opts.measured_only), padding=(left, right),
    )  # fmt: skip


def chunk_threat(b: NoiseBatch, r: range) -> tuple[KspaceNoise, list]:
    """The threat model of items ``r`` and their ``(start, baseline)`` generator pairs.

    Raises:
        AdvreconError: ``measured_only`` with no sampled column inside the padding.
    """
    idx = b.index[r.start : r.stop].to(b.kspace.device)
    m = select_mask(b.mask, idx.cpu())
    support = b.cols * (m > 0).to(b.cols.dtype) if b.measured_only else b.cols
    if float(support.sum()) == 0:
        raise AdvreconError(
            "measured_only=True but the mask samples no column inside "
            f"[{b.padding[0]}, {b.padding[1]}): the perturbation would be empty"
        )
    C = b.kspace.shape[1]
    # float64 budgets B_i = eta ||k_i||: the constraint is checked against these.
    budget = (b.eta[r.start : r.stop].to(idx.device)[:, None] * b.knorm[idx]).reshape(-1, C, 1, 1)
    threat = KspaceNoise(
        b.recon, b.kspace[idx], m, select_nlf(b.nlf, idx.cpu()), support, budget, b.target[idx],
        b.regions.take(r), b.full.take(r), b.data_range[idx],
    )  # fmt: skip
    return threat, seeded_pairs(b.seeds, r, b.kspace.device)
