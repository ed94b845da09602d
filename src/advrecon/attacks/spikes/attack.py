"""The spike attack: greedy worst-case spikes, random spikes and the control, batched over items.

:func:`spikes_attack` checks its options (:class:`SpikesOptions`), prepares what every item
needs once per call (:class:`SpikesCall`: targets, data ranges, ``max|k|``, thermal noise,
acquired samples, two seeds per item) and runs the items in chunks with the model frozen
(:func:`~advrecon.attacks.engine.run_chunks`): each chunk builds its
:class:`~advrecon.attacks.spikes.threat.KspaceSpikes`, runs
:class:`~advrecon.attacks.spikes.search.GreedySpikes` and scores the clean, adversarial,
random-spike and control images.
"""

from __future__ import annotations

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
    item_seeds,
    join_parts,
    per_item,
    random_baseline,
    run_chunks,
    seeded_pairs,
)
from advrecon.attacks.evaluation import evaluate
from advrecon.attacks.objectives import OBJECTIVES, Regions, make_regions
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.spikes.describe import acquired_mean_distance, describe, spike_table
from advrecon.attacks.spikes.result import SpikesResult
from advrecon.attacks.spikes.search import GreedySpikes
from advrecon.attacks.spikes.threat import KspaceSpikes, acquired_support
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma

__all__ = ["SpikesCall", "SpikesOptions", "spikes_attack"]


@dataclass(frozen=True)
class SpikesOptions:
    """The options of one :func:`spikes_attack` call (see its Args)."""

    count: int = 3
    refine_steps: int = 3
    step_size: float = 0.5
    objective: str = "mse"
    n_random: int = 4
    data_range: str = "maxmin"

    def checked(self) -> SpikesOptions:
        """The options with counts as ints.

        Raises:
            AdvreconError: a one-line message naming the bad option.
        """
        if self.objective not in OBJECTIVES:
            raise AdvreconError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if not self.step_size > 0:
            raise AdvreconError(f"step_size must be > 0, got {self.step_size}")
        return replace(
            self, count=check_count("count", self.count),
            refine_steps=check_count("refine_steps", self.refine_steps),
            n_random=check_count("n_random", self.n_random), step_size=float(self.step_size),
        )  # fmt: skip

    def search(self) -> GreedySpikes:
        """The greedy search of these options."""
        return GreedySpikes(self.count, self.refine_steps, self.step_size, self.objective)

    def settings(self) -> dict:
        """The options written into every row."""
        return dict(
            spike_count=self.count, spike_refine_steps=self.refine_steps,
            step_size=self.step_size, objective=self.objective, n_random=self.n_random,
            data_range_convention=self.data_range,
        )  # fmt: skip


@dataclass(frozen=True)
class SpikesCall:
    """What the items of one call share (per slice ``B`` or per item ``N``).

    Attributes:
        recon, kspace ``(B, C, H, W)``, mask, nlf: As passed.
        amplitude: ``(B,)`` float64 bounds (fractions of ``max|k|``); kmax: ``(B,)`` float64.
        items: ``N`` boxes; index: ``(N,)`` slice of each; regions, full: their regions.
        target: ``(B, h, w)``; data_range: ``(B,)``; sigma: ``(B, C)`` thermal noise.
        support: ``(1 or B, 1, 1 or H, W)`` acquired samples; acquired_dist: ``(1 or B,)``.
        seeds: ``(N, 2)`` (search, baseline) seeds.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    amplitude: torch.Tensor
    kmax: torch.Tensor
    items: list[Box]
    index: torch.Tensor
    regions: Regions
    full: Regions
    target: torch.Tensor
    data_range: torch.Tensor
    sigma: torch.Tensor
    support: torch.Tensor
    acquired_dist: torch.Tensor
    seeds: torch.Tensor

    @classmethod
    def prepare(cls, recon, kspace, mask, nlf, boxes, amplitude, opts: SpikesOptions, *,
                padding, generator, recon_size) -> SpikesCall:  # fmt: skip
        """Check the inputs and compute the per-call quantities (:func:`spikes_attack`'s
        arguments)."""
        B, _, H, W = kspace.shape
        amp = per_item(amplitude, B, "amplitude")
        if opts.count < 1 and bool((amp > 0).any()):
            raise AdvreconError(f"count must be >= 1 when an amplitude is > 0, got {opts.count}")
        size = recon_size_of(recon, recon_size)
        left, right = check_padding(padding, W)
        items, index = flatten_boxes(boxes, B)
        dev = kspace.device
        target = kspace_to_target(kspace, size)
        kmax = kspace.detach().to(torch.complex128).abs().flatten(1).amax(1)
        support = acquired_support(mask, left, right)
        return cls(
            recon, kspace, mask, nlf, amp.to(dev), kmax, items, index,
            make_regions(items, size, device=dev),
            make_regions([Box.full(size)] * len(items), size, device=dev), target,
            data_range_of(target, opts.data_range),
            estimate_noise_sigma(kspace, padding=(left, right)), support,
            acquired_mean_distance(support, (H, W)), item_seeds(generator, len(items)),
        )  # fmt: skip

    def threat(self, r: range, count: int) -> KspaceSpikes:
        """The :class:`KspaceSpikes` of the items ``r``."""
        idx = self.index[r.start : r.stop]
        d = idx.to(self.kspace.device)
        per = lambda t: t if t.shape[0] == 1 else t[d]  # noqa: E731
        bound = (self.amplitude[d] * self.kmax[d]).reshape(-1, 1, 1, 1)
        return KspaceSpikes(
            self.recon, self.kspace[d], select_mask(self.mask, idx), select_nlf(self.nlf, idx),
            per(self.support), bound, count, self.target[d], self.regions.take(r),
            self.full.take(r), self.data_range[d],
        )  # fmt: skip

    def _clean(self, idx: torch.Tensor) -> torch.Tensor:
        """``(p, h, w)`` clean reconstructions of the slices ``idx``, one forward per distinct
        slice. Slices that are one tensor repeated (a batch dimension of stride 0, as the
        runner passes one slice per budget) with one mask count as one slice."""
        same = self.kspace.stride(0) == 0 and self.mask.shape[0] == 1
        same = same and not (torch.is_tensor(self.nlf) and self.nlf.numel() > 1)
        uniq, inv = torch.unique(torch.zeros_like(idx) if same else idx, return_inverse=True)
        dev = self.kspace.device
        with torch.no_grad():
            m, nlf = select_mask(self.mask, uniq), select_nlf(self.nlf, uniq)
            return self.recon(self.kspace[uniq.to(dev)] * m, m, nlf)[inv.to(dev)]

    def chunk(self, r: range, opts: SpikesOptions, chunk_size: int | None) -> dict:
        """Items ``r``: searched, scored, described (``chunk_size``: the random baseline's
        largest batch)."""
        threat = self.threat(r, opts.count)
        idx = self.index[r.start : r.stop]
        gens = seeded_pairs(self.seeds, r, self.kspace.device)
        clean = self._clean(idx)
        start = torch.zeros_like(threat.kspace)
        delta, adv, trace, best_step = opts.search().run_active(threat, start, clean)
        with torch.no_grad():
            control = threat.control(delta)
            images = {"clean": clean, "adv": adv, "control": control}
            metrics = evaluate(images, threat.target, threat.regions, threat.full,
                               threat.data_range)  # fmt: skip
            metrics.update(_random_spikes(threat, gens, opts.n_random, chunk_size, metrics))
        d = idx.to(self.kspace.device)
        spikes = describe(delta, self.kmax[d], self.sigma[d])
        dist = self.acquired_dist
        spikes["acquired_dist"] = (dist if dist.shape[0] == 1 else dist[d]).expand(len(r)).clone()
        return dict(
            delta=delta, table=spike_table(delta, self.kmax[d], opts.count), adv=adv,
            clean=clean, control=control, trace=trace, best_step=best_step, metrics=metrics,
            spikes=spikes,
        )  # fmt: skip


def _random_spikes(threat: KspaceSpikes, gens: list, n_random: int, chunk_size, metrics) -> dict:
    """``rand_mean_*`` / ``rand_worst_*`` columns: the random-spike baseline
    (:func:`~advrecon.attacks.engine.random_baseline`, ``gens``: the items' generator pairs) of
    the items that can move. An item with a zero bound would draw ``delta = 0`` every time, so
    its columns are its ``clean_*`` ``metrics``, at no cost; ``n_random = 0``: NaN columns."""
    if n_random == 0:
        return random_baseline(threat, gens, 0, chunk_size)
    out = {
        prefix + key[len("clean") :]: v.clone()
        for prefix in ("rand_mean", "rand_worst")
        for key, v in metrics.items()
        if key.startswith("clean_")
    }
    active = threat.active.nonzero().flatten()
    if active.numel():
        sub = [gens[j][1] for j in active.tolist()]
        for key, v in random_baseline(threat.take(active), sub, n_random, chunk_size).items():
            out[key][active] = v.to(out[key].dtype)
    return out


def spikes_attack(
    recon, kspace: torch.Tensor, mask: torch.Tensor, num_low_frequencies, boxes, amplitude, *,
    count: int = 3, refine_steps: int = 3, step_size: float = 0.5, objective: str = "mse",
    n_random: int = 4, padding: Sequence[int] | None = None, data_range: str = "maxmin",
    generator: torch.Generator | int | None = None, chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> SpikesResult:  # fmt: skip
    """Worst-case k-space spikes (:mod:`advrecon.attacks.spikes`), batched over items.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``,
            differentiable in ``masked_kspace`` (frozen for the duration of the call).
        kspace: FULLY-sampled complex ``(B, C, H, W)``; the mask is applied here.
        mask: ``(B or 1, 1, 1 or H, W)``; num_low_frequencies: as for the reconstructor.
        boxes: One Box or a list of Boxes per slice (each box one item with its own spikes);
            ``Box.full(recon_size)`` targets the complete image.
        amplitude: Bound on every spike value ``|delta_j(p)|`` as a fraction of the slice's
            ``max|k|`` (over all coils and samples), a number or ``(B,)``.
        count: Largest number of spike positions (>= 1 when an amplitude is > 0).
        refine_steps, step_size: Phase refinement of the chosen spikes (step relative to the
            bound); 0 steps: greedy only.
        objective: ``"mse"`` (default), ``"ssim"`` or ``"mse_ssim"`` in the region.
        n_random: Random-spike baseline draws (``count`` random acquired positions, random
            phases, full amplitude); 0: NaN columns.
        padding: Acquired columns ``(left, right)``; ``None``: all.
        data_range: ``"maxmin"`` or ``"max"``.
        generator: Seed or generator (two derived seeds per item: results do not depend on
            ``chunk_size``).
        chunk_size: Largest number of items per forward; recon_size: ``(h, w)``.

    Returns:
        :class:`SpikesResult` with one item per (slice, box). Cost per item:
        ``count + refine_steps`` forward+backward passes, one forward, ``n_random`` forwards.

    Raises:
        AdvreconError: bad k-space / mask, boxes, amplitudes, padding or options.
    """
    check_kspace_mask(kspace, mask)
    opts = SpikesOptions(count, refine_steps, step_size, objective, n_random, data_range).checked()
    call = SpikesCall.prepare(
        recon, kspace, mask, num_low_frequencies, boxes, amplitude, opts,
        padding=padding, generator=generator, recon_size=recon_size,
    )  # fmt: skip
    parts = run_chunks(
        recon, len(call.items), chunk_size, lambda r: call.chunk(r, opts, chunk_size)
    )
    cat = join_parts(parts, nested=("metrics", "spikes"))
    idx = call.index.to(kspace.device)
    return SpikesResult(
        perturbation=cat["delta"], table=cat["table"], adversarial=cat["adv"],
        clean=cat["clean"], target=call.target[idx], control=cat["control"],
        boxes=list(call.regions.boxes), box_grown=list(call.regions.grown),
        item_index=call.index, trace=cat["trace"], best_step=cat["best_step"],
        metrics=cat["metrics"], spikes=cat["spikes"], amplitude=call.amplitude[idx],
        kmax=call.kmax[idx], settings=opts.settings(),
    )  # fmt: skip
