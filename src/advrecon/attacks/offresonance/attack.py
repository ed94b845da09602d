"""The off-resonance attack: worst-case and random field maps at the same bound, and the control."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import (
    check_count,
    check_kspace_mask,
    check_padding,
    flatten_boxes,
    recon_size_of,
    select_mask,
    select_nlf,
)
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
from advrecon.attacks.offresonance.config import DEFAULT_BANDWIDTH, DEFAULT_SEGMENTS, MAX_DEGREE
from advrecon.attacks.offresonance.fieldmap import basis, field_map
from advrecon.attacks.offresonance.result import OffResonanceResult
from advrecon.attacks.offresonance.signal import INTERPOLATORS
from advrecon.attacks.offresonance.threat import OffResonance
from advrecon.attacks.search import ProjectedGradient
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target

__all__ = ["OffResonanceOptions", "offresonance_attack"]


@dataclass(frozen=True)
class OffResonanceOptions:
    """The settings of one :func:`offresonance_attack` call.

    Attributes:
        bandwidth: Readout bandwidth per pixel (Hz/pixel).
        degree: Total degree of the field-map polynomial; segments: time segments ``L``;
            interpolator: ``"ls"`` or ``"hanning"``.
        steps, step_size, objective: Signed projected gradient ascent (step relative to the
            bound, best iterate kept).
        n_random: Random field maps of the baseline (0: NaN columns).
        data_range: ``"maxmin"`` or ``"max"``.
    """

    bandwidth: float = DEFAULT_BANDWIDTH
    degree: int = 2
    segments: int = DEFAULT_SEGMENTS
    interpolator: str = "ls"
    steps: int = 10
    step_size: float = 0.25
    objective: str = "mse"
    n_random: int = 2
    data_range: str = "maxmin"

    def check(self) -> OffResonanceOptions:
        """The options with counts as ints; one-line errors for bad ones."""
        if not (math.isfinite(self.bandwidth) and self.bandwidth > 0):
            raise AdvreconError(
                f"bandwidth_hz_per_pixel must be a finite number > 0, got {self.bandwidth}"
            )
        degree = check_count("degree", self.degree)
        if degree > MAX_DEGREE:
            raise AdvreconError(f"degree must be <= {MAX_DEGREE}, got {degree}")
        if int(self.segments) != self.segments or self.segments < 1:
            raise AdvreconError(f"segments must be an integer >= 1, got {self.segments}")
        for name, allowed in (("interpolator", INTERPOLATORS), ("objective", OBJECTIVES)):
            if getattr(self, name) not in allowed:
                raise AdvreconError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.step_size > 0:
            raise AdvreconError(f"step_size must be > 0, got {self.step_size}")
        return replace(
            self, bandwidth=float(self.bandwidth), degree=degree, segments=int(self.segments),
            steps=check_count("steps", self.steps), step_size=float(self.step_size),
            n_random=check_count("n_random", self.n_random),
        )  # fmt: skip

    def settings(self) -> dict:
        """The options written into every row."""
        return dict(
            offres_bandwidth_hz_per_px=self.bandwidth, offres_degree=self.degree,
            offres_segments=self.segments, offres_interpolator=self.interpolator,
            objective=self.objective, steps=self.steps, step_size=self.step_size,
            n_random=self.n_random, data_range_convention=self.data_range,
        )  # fmt: skip


def offresonance_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    max_hz,
    *,
    bandwidth_hz_per_pixel: float = DEFAULT_BANDWIDTH,
    degree: int = 2,
    segments: int = DEFAULT_SEGMENTS,
    interpolator: str = "ls",
    steps: int = 10,
    step_size: float = 0.25,
    objective: str = "mse",
    n_random: int = 2,
    data_range: str = "maxmin",
    padding: Sequence[int] | None = None,
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> OffResonanceResult:
    """Worst-case B0 off-resonance (:mod:`advrecon.attacks.offresonance`), batched over items.

    Per item (slice, box): projected signed-gradient ascent over the field map's Legendre
    coefficients from a random field map on the bound, ``n_random`` random field maps at the
    same bound (the baseline) and the control (the fully-sampled distorted k-space, RSS, crop).

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: FULLY-sampled complex ``(B, C, H, W)``, readout along ``H``.
        mask: ``(B or 1, 1, 1 or H, W)``; num_low_frequencies: as for the reconstructor.
        boxes: One Box or a list of Boxes per slice (each box one item).
        max_hz: Bound on ``max|df|`` (Hz), a number or ``(B,)``.
        bandwidth_hz_per_pixel, degree, segments, interpolator, steps, step_size, objective,
            n_random, data_range: The options (:class:`OffResonanceOptions`).
        padding: Acquired columns ``(left, right)`` (``None``: all); the others (fastMRI's
            zero padding) are never acquired and keep their values.
        generator: Seed or generator (one derived seed pair per item: results do not depend on
            ``chunk_size``).
        chunk_size: Largest number of items per forward; recon_size: ``(h, w)``.

    Returns:
        :class:`~advrecon.attacks.offresonance.result.OffResonanceResult`, one item per box.

    Raises:
        AdvreconError: bad bounds, options or boxes.
    """
    check_kspace_mask(kspace, mask)
    opts = OffResonanceOptions(bandwidth_hz_per_pixel, degree, segments, interpolator, steps,
                               step_size, objective, n_random, data_range).check()  # fmt: skip
    bounds = per_item(max_hz, kspace.shape[0], "max_hz").to(kspace.device)
    items = _Items.of(recon, kspace, mask, num_low_frequencies, boxes, bounds, opts, recon_size,
                      padding)  # fmt: skip
    search = ProjectedGradient(opts.steps, opts.step_size, "l2", opts.objective)
    gens = item_generators(generator, items.n, kspace.device)
    parts = run_chunks(
        recon, items.n, chunk_size,
        lambda r: _chunk(items.threat(r), gens[r.start : r.stop], search, opts.n_random,
                         chunk_size, items.index[r.start : r.stop]),
    )  # fmt: skip
    joined = join_parts(parts)
    field = field_map(joined["delta"], items.phi)
    idx = items.index.to(kspace.device)
    return OffResonanceResult(
        coeffs=joined["delta"], worst_max_hz=field.abs().flatten(1).amax(1),
        worst_mean_hz=field.flatten(1).mean(1), adversarial=joined["adv"],
        clean=joined["clean"], target=items.target[idx], control=joined["control"],
        boxes=list(items.regions.boxes), box_grown=list(items.regions.grown),
        item_index=items.index, trace=joined["trace"], best_step=joined["best_step"],
        metrics=joined["metrics"], max_hz=bounds[idx], settings=opts.settings(),
    )  # fmt: skip


@dataclass(frozen=True)
class _Items:
    """The ``N`` items (slice, box) of a call and the :class:`OffResonance` of a range of them.

    Attributes:
        recon, kspace, mask, nlf: The call's reconstructor and ``B`` slices.
        index: ``(N,)`` slice of each item; bounds: ``(B,)`` Hz; opts: the checked options.
        phi: ``(K, H, W)`` basis; columns: ``(W,)`` bool acquired columns or ``None`` (all);
        target: ``(B, h, w)``; data_range: ``(B,)``; regions, full: the ``N`` item regions and
        whole-image regions.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    index: torch.Tensor
    bounds: torch.Tensor
    opts: OffResonanceOptions
    phi: torch.Tensor
    columns: torch.Tensor | None
    target: torch.Tensor
    data_range: torch.Tensor
    regions: Regions
    full: Regions

    @property
    def n(self) -> int:
        return self.index.numel()

    @classmethod
    def of(cls, recon, kspace, mask, nlf, boxes, bounds, opts, recon_size, padding) -> _Items:
        """The items of an :func:`offresonance_attack` call (its arguments, checked)."""
        dev, size = kspace.device, recon_size_of(recon, recon_size)
        items, index = flatten_boxes(boxes, kspace.shape[0])
        target = kspace_to_target(kspace, size)
        left, right = check_padding(padding, kspace.shape[-1])
        cols = torch.arange(kspace.shape[-1], device=dev)
        columns = None if right - left == cols.numel() else (cols >= left) & (cols < right)
        return cls(
            recon, kspace, mask, nlf, index, bounds, opts,
            basis(tuple(kspace.shape[-2:]), opts.degree, device=dev), columns, target,
            data_range_of(target, opts.data_range), make_regions(items, size, device=dev),
            make_regions([Box.full(size)] * len(items), size, device=dev),
        )  # fmt: skip

    def threat(self, r: range) -> OffResonance:
        """The :class:`OffResonance` of the items ``r``."""
        s, o = self.index[r.start : r.stop].to(self.kspace.device), self.opts
        return OffResonance(
            self.recon, self.kspace[s], select_mask(self.mask, s), select_nlf(self.nlf, s),
            self.phi, self.bounds[s], o.bandwidth, o.segments, o.interpolator, self.columns,
            self.target[s],
            self.regions.take(r), self.full.take(r), self.data_range[s],
        )  # fmt: skip


def _clean(threat: OffResonance, slices: torch.Tensor) -> torch.Tensor:
    """``(n, h, w)`` clean reconstructions, one forward per distinct slice of the chunk."""
    uniq, inv = torch.unique(slices, return_inverse=True)
    first = torch.zeros(uniq.numel(), dtype=torch.long).scatter_(
        0, inv.flip(0), torch.arange(slices.numel() - 1, -1, -1)
    )  # an item of every distinct slice
    one = threat.take(first.to(threat.device))
    with torch.no_grad():
        return one.recon(one.kspace * one.mask, one.mask, one.nlf)[inv.to(threat.device)]


def _chunk(
    threat: OffResonance, gens, search: ProjectedGradient, n_random: int, chunk_size,
    slices: torch.Tensor,
) -> dict:  # fmt: skip
    """Search, baseline, control and evaluation of one chunk of items.

    Returns:
        ``delta``, ``adv``, ``clean``, ``control``, ``trace``, ``best_step`` and ``metrics``.
    """
    clean = _clean(threat, slices)
    z0 = threat.draw([g[0] for g in gens])
    delta, adv, trace, best_step = search.run_active(threat, z0, clean)
    t, reg, full, dr = threat.target, threat.regions, threat.full, threat.data_range
    with torch.no_grad():
        metrics = evaluate({"clean": clean, "adv": adv}, t, reg, full, dr)
        control = threat.control(delta)
        metrics.update(evaluate({"control": control}, t, reg, full, dr))
        metrics.update(random_baseline(threat, [g[1] for g in gens], n_random, chunk_size))
    return dict(delta=delta, adv=adv, clean=clean, control=control, trace=trace,
                best_step=best_step, metrics=metrics)  # fmt: skip
