"""The public hallucination attack: options, per-call preparation, chunks of items.

:func:`hallucination_attack` checks its options (:class:`HallucinationOptions`), prepares what
every item needs once per call (:class:`HallucinationCall`: target, data range, noise levels,
coil norms, acquired columns, two seeds per item), and runs the items in chunks with the model
frozen (:func:`advrecon.attacks.engine.run_chunks`): each chunk builds its
:class:`Hallucination` (the noise threat model, the clean reconstruction, the wanted feature in
the centre of the box) and is searched and scored by
:func:`~advrecon.attacks.hallucination.chunk.attack_chunk`.
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
from advrecon.attacks.engine import item_seeds, per_item, run_chunks, seeded_pairs
from advrecon.attacks.feature.measures import image_noise_std
from advrecon.attacks.feature.result import FeatureResult
from advrecon.attacks.feature.shapes import box_mean, centre_position, check_fits, place, shape_mask
from advrecon.attacks.hallucination.chunk import Levels, attack_chunk
from advrecon.attacks.hallucination.threat import Hallucination
from advrecon.attacks.noise import KspaceNoise
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.objectives import make_regions
from advrecon.attacks.search import ProjectedGradient
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma

__all__ = ["HallucinationCall", "HallucinationOptions", "hallucination_attack"]


@dataclass(frozen=True)
class HallucinationOptions:
    """The options of one :func:`hallucination_attack` call (see its Args)."""

    contrast: float
    shape: str
    size: int
    mu: float
    steps: int
    step_size: float
    random_start: bool
    n_random: int
    data_range: str
    chunk_size: int | None

    def checked(self) -> HallucinationOptions:
        """The options normalised (ints, floats).

        Raises:
            AdvreconError: a one-line message naming the bad option.
        """
        if self.shape not in ("blob", "line"):
            raise AdvreconError(f"shape must be 'blob' or 'line', got {self.shape!r}")
        if not (self.contrast > 0 and self.mu >= 0 and self.step_size > 0):
            raise AdvreconError(
                "need contrast > 0, mu >= 0 and step_size > 0, "
                f"got {self.contrast}, {self.mu}, {self.step_size}"
            )
        return replace(
            self, steps=check_count("steps", self.steps),
            n_random=check_count("n_random", self.n_random),
        )  # fmt: skip

    def settings(self) -> dict:
        """The columns every row of the call carries."""
        return dict(
            feature_size_px=int(self.size), feature_shape=self.shape,
            halluc_contrast_target=100.0 * self.contrast, mu=float(self.mu), steps=self.steps,
            step_size=float(self.step_size), random_start=bool(self.random_start),
            n_random=self.n_random, data_range_convention=self.data_range,
        )  # fmt: skip


@dataclass(frozen=True)
class HallucinationCall:
    """What the items of one call share (per slice ``B`` or per item ``N``).

    Attributes:
        recon, kspace, mask, nlf: As passed. eta: ``(B,)`` float64 relative budgets.
        items: ``N`` boxes; index: ``(N,)`` slice of each. target: ``(B, h, w)`` ``X``.
        data_range: ``(B,)``. sigma_k: ``(B, C)`` k-space noise std; sigma_img: ``(B,)``
        image noise std. knorm: ``(B, C)`` complex128 coil norms ``||k_i||``. columns:
        ``(1, 1, 1, W)`` acquired columns. seeds: ``(N, 2)``. shape: ``(s, s)`` feature shape.
        search: the gradient search.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    eta: torch.Tensor
    items: list[Box]
    index: torch.Tensor
    target: torch.Tensor
    data_range: torch.Tensor
    sigma_k: torch.Tensor
    sigma_img: torch.Tensor
    knorm: torch.Tensor
    columns: torch.Tensor
    seeds: torch.Tensor
    shape: torch.Tensor
    search: ProjectedGradient

    @classmethod
    def prepare(cls, recon, kspace, mask, nlf, boxes, eta, opts: HallucinationOptions, *,
                padding, generator, recon_size) -> HallucinationCall:  # fmt: skip
        """Check the inputs and compute the per-call quantities (arguments of
        :func:`hallucination_attack`)."""
        B, C, H, W = kspace.shape
        eta_t = per_item(eta, B, "eta")
        size_hw = recon_size_of(recon, recon_size)
        left, right = check_padding(padding, W)
        items, index = flatten_boxes(boxes, B)
        for b in items:
            check_fits(int(opts.size), b)
        x = kspace_to_target(kspace, size_hw)
        dr = data_range_of(x, opts.data_range)
        sigma_k = estimate_noise_sigma(kspace, padding=(left, right))
        sig = image_noise_std(sigma_k, W, right - left)
        knorm = torch.linalg.vector_norm(kspace.to(torch.complex128), dim=(-2, -1))
        cols = torch.zeros((1, 1, 1, W), dtype=kspace.real.dtype, device=kspace.device)
        cols[..., left:right] = 1.0
        seeds = item_seeds(generator, len(items))
        shape = shape_mask(opts.shape, int(opts.size), kspace.real.dtype, kspace.device)
        search = ProjectedGradient(opts.steps, float(opts.step_size), "l2", "mse")
        return cls(recon, kspace, mask, nlf, eta_t, items, index, x, dr, sigma_k, sig, knorm,
                   cols, seeds, shape, search)  # fmt: skip

    def chunk(self, r: range, opts: HallucinationOptions) -> dict:
        """Items ``r``: their threat model, searched and scored, with ``halluc_gain``."""
        kspace, dev, size_hw = self.kspace, self.kspace.device, tuple(self.target.shape[-2:])
        idx = self.index[r.start : r.stop]
        d, bx = idx.to(dev), self.items[r.start : r.stop]
        m, nlf = select_mask(self.mask, idx), select_nlf(self.nlf, idx)
        budget = (self.eta[idx].to(dev)[:, None] * self.knorm[d]).reshape(-1, kspace.shape[1], 1, 1)
        regions = make_regions(bx, size_hw, device=dev)
        full = make_regions([Box.full(size_hw)] * len(bx), size_hw, device=dev)
        noise = KspaceNoise(
            self.recon, kspace[d], m, nlf, self.columns, budget, self.target[d], regions, full,
            self.data_range[d],
        )  # fmt: skip
        mean = box_mean(self.target[d], bx).double()
        pos = centre_position(bx, opts.size)
        support = place(self.shape.expand(len(bx), -1, -1), pos, size_hw)
        with torch.no_grad():
            clean = noise.reconstruct(torch.zeros_like(noise.kspace))
        feature = support * (float(opts.contrast) * mean.to(support.dtype))[:, None, None]
        threat = Hallucination(noise, clean, feature, support, float(opts.mu))
        gens = seeded_pairs(self.seeds, r, dev)
        part = attack_chunk(
            threat, self.search, gens, opts, Levels(self.sigma_img[d], mean, self.sigma_k[d])
        )
        e = 100 * self.eta[idx].to(dev)
        gain = part["cols"]["halluc_contrast_percent"] / e.clamp_min(1e-300)
        part["cols"]["halluc_gain"] = torch.where(e > 0, gain, torch.nan)
        return part


def hallucination_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    eta,
    *,
    contrast: float = 0.5,
    shape: str = "blob",
    size: int = 5,
    mu: float = 1.0,
    steps: int = 10,
    step_size: float = 0.5,
    random_start: bool = True,
    n_random: int = 2,
    padding: Sequence[int] | None = None,
    data_range: str = "maxmin",
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> FeatureResult:
    """Per-coil L2 k-space noise that makes a feature appear in each box
    (:mod:`advrecon.attacks.hallucination`).

    Args:
        recon, kspace, mask, num_low_frequencies, boxes, padding, data_range, chunk_size,
            recon_size: As for :func:`advrecon.attacks.noise.noise_attack`.
        eta: Relative per-coil budget (fraction), float or ``(B,)``.
        contrast: Wanted feature amplitude as a fraction of the mean target intensity in the box.
        shape: ``"blob"`` (disc) or ``"line"`` (horizontal, 2 px thick); size: in pixels.
        mu: Weight of "the rest stays unchanged".
        steps, step_size, random_start: PGD (rule ``l2``, steps relative to each coil's budget).
        n_random: Random-noise draws of the baseline.
        generator: Seed / generator (two derived seeds per item: start, baseline).

    Returns:
        :class:`~advrecon.attacks.feature.result.FeatureResult` (``target`` = ``X``,
        ``control`` = the fully-sampled image with the same noise, ``feature`` = the wanted
        ``F``, ``perturbation`` = ``z``).
    """
    check_kspace_mask(kspace, mask)
    opts = HallucinationOptions(
        contrast, shape, size, mu, steps, step_size, random_start, n_random, data_range,
        chunk_size,
    ).checked()  # fmt: skip
    call = HallucinationCall.prepare(
        recon, kspace, mask, num_low_frequencies, boxes, eta, opts,
        padding=padding, generator=generator, recon_size=recon_size,
    )  # fmt: skip
    parts = run_chunks(recon, len(call.items), chunk_size, lambda r: call.chunk(r, opts))
    return FeatureResult.from_parts(parts, call.items, call.index, opts.settings())
