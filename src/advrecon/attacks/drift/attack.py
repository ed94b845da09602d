"""The drift attack: worst-case and random receiver drift at the same bounds, batched.

:func:`drift_attack` checks its options (:class:`DriftOptions`), prepares what the items share
once per call (:class:`DriftCall`: targets, data ranges, calibration bands, bounds, regions),
and runs the items in chunks with the model frozen
(:func:`advrecon.attacks.engine.run_chunks`): each chunk builds its
:class:`~advrecon.attacks.drift.threat.ReceiverDrift`, searches it with the shipped
:class:`~advrecon.attacks.search.ProjectedGradient` (sign step relative to the bounds, best
iterate) and scores the clean, worst-case, random (:func:`~advrecon.attacks.engine.random_baseline`)
and control images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import (
    check_count,
    check_kspace_mask,
    flatten_boxes,
    recon_size_of,
    select_mask,
    select_nlf,
)
from advrecon.attacks.drift.acquisition import acs_band
from advrecon.attacks.drift.result import DriftResult
from advrecon.attacks.drift.threat import ReceiverDrift
from advrecon.attacks.engine import (
    item_generators,
    join_parts,
    per_item,
    random_baseline,
    run_chunks,
)
from advrecon.attacks.evaluation import evaluate
from advrecon.attacks.objectives import OBJECTIVES, Regions, make_regions
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.search import ProjectedGradient
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target

__all__ = ["MAX_GAIN_PERCENT", "MAX_PHASE_DEG", "DriftCall", "DriftOptions", "drift_attack"]

#: Largest magnitude bound: at 100 % a coil's gain may reach 0 (the coil switched off).
MAX_GAIN_PERCENT = 100.0
#: Largest phase bound: 180 degrees already allows every phase.
MAX_PHASE_DEG = 180.0


@dataclass(frozen=True)
class DriftOptions:
    """The settings of one :func:`drift_attack` call.

    Attributes:
        steps, step_size: Sign-gradient ascent (step relative to each bound).
        objective: ``"mse"`` (default), ``"ssim"`` or ``"mse_ssim"`` in the region.
        random_start: Start at a uniform point of the box (else at ``g = 1``).
        n_random: Uniform random drifts of the baseline (0: NaN columns).
        data_range: ``"maxmin"`` or ``"max"``.
    """

    steps: int = 10
    step_size: float = 0.25
    objective: str = "mse"
    random_start: bool = True
    n_random: int = 2
    data_range: str = "maxmin"

    def check(self) -> DriftOptions:
        """The options with counts as ints; one-line errors for bad ones."""
        if self.objective not in OBJECTIVES:
            raise AdvreconError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if not self.step_size > 0:
            raise AdvreconError(f"step_size must be > 0, got {self.step_size}")
        return replace(
            self, steps=check_count("steps", self.steps),
            n_random=check_count("n_random", self.n_random), step_size=float(self.step_size),
            random_start=bool(self.random_start),
        )  # fmt: skip

    def settings(self) -> dict:
        """The options written into every row."""
        return dict(
            objective=self.objective, steps=self.steps, step_size=self.step_size,
            random_start=self.random_start, n_random=self.n_random,
            data_range_convention=self.data_range,
        )  # fmt: skip


def _bounds(gain_percent, phase_deg, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B,)`` float64 bounds, checked: ``0 <= gain < 100`` percent, ``0 <= phase <= 180``."""
    g, p = per_item(gain_percent, batch, "gain_percent"), per_item(phase_deg, batch, "phase_deg")
    if (g >= MAX_GAIN_PERCENT).any():
        raise AdvreconError(
            f"gain_percent must be < {MAX_GAIN_PERCENT:g} (a coil's gain would reach 0), "
            f"got {g.tolist()}"
        )
    if (p > MAX_PHASE_DEG).any():
        raise AdvreconError(f"phase_deg must be <= {MAX_PHASE_DEG:g}, got {p.tolist()}")
    return g, p


@dataclass(frozen=True)
class DriftCall:
    """What the items of one :func:`drift_attack` call share.

    Attributes:
        recon, kspace, mask, nlf: As passed (``kspace`` ``(B, C, H, W)``).
        drifting: ``(B or 1, W)`` bool, the columns outside each slice's calibration band.
        index: ``(N,)`` slice of each item; bound: ``(N, 1, 2)`` float64 (percent, degrees).
        target: ``(B, h, w)``; data_range: ``(B,)``; regions, full: the ``N`` item regions and
            whole-image regions.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    drifting: torch.Tensor
    index: torch.Tensor
    bound: torch.Tensor
    target: torch.Tensor
    data_range: torch.Tensor
    regions: Regions
    full: Regions

    @classmethod
    def prepare(cls, recon, kspace, mask, nlf, boxes, gain, phase, convention: str, recon_size):
        """The call's shared quantities (``gain``, ``phase``: ``(B,)`` checked bounds)."""
        B, dev = kspace.shape[0], kspace.device
        size = recon_size_of(recon, recon_size)
        items, index = flatten_boxes(boxes, B)
        drifting = ~acs_band(mask, nlf, kspace.shape[-1]).to(dev)
        target = kspace_to_target(kspace, size)
        bound = torch.stack([gain, phase], dim=1)[index][:, None].to(dev)
        return cls(
            recon, kspace, mask, nlf, drifting, index, bound, target,
            data_range_of(target, convention), make_regions(items, size, device=dev),
            make_regions([Box.full(size)] * len(items), size, device=dev),
        )  # fmt: skip

    def threat(self, r: range) -> ReceiverDrift:
        """The :class:`ReceiverDrift` of the items ``r``."""
        idx = self.index[r.start : r.stop]
        d = idx.to(self.kspace.device)
        drifting = self.drifting if self.drifting.shape[0] == 1 else self.drifting[d]
        rows = list(r)
        return ReceiverDrift(
            self.recon, self.kspace[d], select_mask(self.mask, idx), select_nlf(self.nlf, idx),
            drifting, self.bound[r.start : r.stop], self.target[d], self.regions.take(rows),
            self.full.take(rows), self.data_range[d],
        )  # fmt: skip


def _clean(threat: ReceiverDrift, slices: torch.Tensor) -> torch.Tensor:
    """Clean reconstructions ``(n, h, w)``, one forward per distinct slice of the chunk."""
    uniq, inv = torch.unique(slices, return_inverse=True)
    first = torch.zeros(uniq.numel(), dtype=torch.long).scatter_(
        0, inv.flip(0), torch.arange(slices.numel() - 1, -1, -1)
    )  # an item of every distinct slice
    one = threat.take(first.to(threat.device))
    with torch.no_grad():
        return one.recon(one.kspace * one.mask, one.mask, one.nlf)[inv.to(threat.device)]


def _chunk(call: DriftCall, r: range, gens: list, search, opts: DriftOptions, chunk_size):
    """Search and score the items ``r`` (``gens``: their (start, baseline) generators)."""
    threat = call.threat(r)
    clean = _clean(threat, call.index[r.start : r.stop])
    z0 = threat.draw([g[0] for g in gens]) if opts.random_start else threat.identity()
    delta, adv, trace, _ = search.run_active(threat, z0, clean)
    t, reg, full, dr = threat.target, threat.regions, threat.full, threat.data_range
    with torch.no_grad():
        control = threat.control(delta)
        metrics = evaluate({"clean": clean, "adv": adv, "control": control}, t, reg, full, dr)
        metrics.update(random_baseline(threat, [g[1] for g in gens], opts.n_random, chunk_size))
    return dict(delta=delta, adv=adv, clean=clean, control=control, trace=trace, metrics=metrics)


def drift_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    gain_percent,
    phase_deg,
    *,
    steps: int = 10,
    step_size: float = 0.25,
    objective: str = "mse",
    random_start: bool = True,
    n_random: int = 2,
    data_range: str = "maxmin",
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> DriftResult:
    """Worst-case receiver drift between calibration and scan (:mod:`advrecon.attacks.drift`).

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``,
            differentiable in ``masked_kspace`` (frozen for the call).
        kspace: FULLY sampled complex ``(B, C, H, W)``; the mask is applied here.
        mask: ``(B or 1, 1, 1 or H, W)``; num_low_frequencies: as for the reconstructor (also
            the calibration band's width; ``None``: fastMRI's rule on the mask).
        boxes: One Box or a list of Boxes per slice (each box one item).
        gain_percent: Magnitude bound ``||g_i| - 1| <= gain_percent / 100``, a number or
            ``(B,)``, ``0 <= gain_percent < 100``.
        phase_deg: Phase bound ``|arg g_i| <= phase_deg`` (degrees), a number or ``(B,)``,
            ``0 <= phase_deg <= 180``.
        steps, step_size, objective, random_start, n_random, data_range: The options
            (:class:`DriftOptions`).
        generator: Seed or generator (two derived seeds per item: results do not depend on
            ``chunk_size``).
        chunk_size: Largest number of items per forward; recon_size: ``(h, w)``.

    Returns:
        :class:`~advrecon.attacks.drift.result.DriftResult` with one item per (slice, box).

    Raises:
        AdvreconError: bad k-space / mask, bounds, boxes or options.
    """
    check_kspace_mask(kspace, mask)
    opts = DriftOptions(steps, step_size, objective, random_start, n_random, data_range).check()
    gain, phase = _bounds(gain_percent, phase_deg, kspace.shape[0])
    call = DriftCall.prepare(recon, kspace, mask, num_low_frequencies, boxes, gain, phase,
                             opts.data_range, recon_size)  # fmt: skip
    search = ProjectedGradient(opts.steps, opts.step_size, "l2", opts.objective)
    gens = item_generators(generator, len(call.index), kspace.device)
    parts = run_chunks(
        recon, len(call.index), chunk_size,
        lambda r: _chunk(call, r, gens[r.start : r.stop], search, opts, chunk_size),
    )  # fmt: skip
    cat = join_parts(parts)
    idx = call.index.to(kspace.device)
    return DriftResult(
        drift=cat["delta"], adversarial=cat["adv"], clean=cat["clean"], target=call.target[idx],
        control=cat["control"], boxes=list(call.regions.boxes),
        box_grown=list(call.regions.grown), item_index=call.index, trace=cat["trace"],
        metrics=cat["metrics"], gain_percent=gain[call.index], phase_deg=phase[call.index],
        settings=opts.settings(),
    )  # fmt: skip
