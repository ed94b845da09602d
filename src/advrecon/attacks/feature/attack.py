"""The public missing-feature attack: options, per-call preparation, chunks of items.

:func:`feature_attack` checks its options (:class:`FeatureOptions`), prepares what every item
needs once per call (:class:`FeatureCall`: target, data range, image noise level, per-item
seeds), and runs the items in chunks with the model frozen (:func:`advrecon.attacks.engine.
run_chunks`): each chunk builds its :class:`FeatureInsertion` (fixed coil maps, object phase,
the feature in the centre of the box) and is searched and scored by
:func:`~advrecon.attacks.feature.chunk.attack_chunk`.
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
from advrecon.attacks.engine import per_item, run_chunks
from advrecon.attacks.feature.chunk import Scoring, attack_chunk
from advrecon.attacks.feature.insertion import fixed_coil_maps, object_phase
from advrecon.attacks.feature.measures import image_noise_std
from advrecon.attacks.feature.result import FeatureResult
from advrecon.attacks.feature.shapes import box_mean, centre_position, check_fits, shape_mask
from advrecon.attacks.feature.threat import POLARITY, FeatureInsertion
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.objectives import make_regions
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma

__all__ = ["FeatureCall", "FeatureOptions", "feature_attack"]


@dataclass(frozen=True)
class FeatureOptions:
    """The options of one :func:`feature_attack` call (see its Args)."""

    size: int
    shape: str
    polarity: str
    min_fill: float
    steps: int
    step_size: float
    n_random: int
    data_range: str
    chunk_size: int | None

    def checked(self) -> FeatureOptions:
        """The options normalised (ints, floats).

        Raises:
            AdvreconError: a one-line message naming the bad option.
        """
        if self.shape not in ("disc", "square"):
            raise AdvreconError(f"shape must be 'disc' or 'square', got {self.shape!r}")
        if self.polarity not in POLARITY:
            raise AdvreconError(f"polarity must be one of {tuple(POLARITY)}, got {self.polarity!r}")
        if not 0.0 <= float(self.min_fill) <= 1.0:
            raise AdvreconError(f"min_fill must be in [0, 1], got {self.min_fill}")
        if not self.step_size > 0:
            raise AdvreconError(f"step_size must be > 0, got {self.step_size}")
        return replace(
            self, size=int(self.size), min_fill=float(self.min_fill),
            steps=check_count("steps", self.steps), step_size=float(self.step_size),
            n_random=check_count("n_random", self.n_random),
        )  # fmt: skip

    def settings(self) -> dict:
        """The columns every row of the call carries."""
        return dict(
            feature_size_px=self.size, feature_shape=self.shape, polarity=self.polarity,
            min_fill=self.min_fill, steps=self.steps, step_size=self.step_size,
            n_random=self.n_random, data_range_convention=self.data_range,
        )  # fmt: skip


def position_seeds(generator: torch.Generator | int | None, n: int) -> torch.Tensor:
    """``(n,)`` per-item seeds of the random positions (one ``(n, 1)`` draw from ``generator``;
    an int seeds a new CPU generator, ``None`` uses torch's global stream), so results do not
    depend on ``chunk_size``."""
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    if generator is None:
        return torch.randint(0, 2**62, (n, 1))[:, 0]
    return torch.randint(0, 2**62, (n, 1), generator=generator, device=generator.device).cpu()[:, 0]


@dataclass(frozen=True)
class FeatureCall:
    """What the items of one call share (per slice ``B`` or per item ``N``).

    Attributes:
        recon, kspace, mask, nlf: As passed. contrast: ``(B,)`` float64 amplitude bounds.
        items: ``N`` boxes; index: ``(N,)`` slice of each. target: ``(B, h, w)`` ``X``.
        data_range: ``(B,)``. sigma: ``(B,)`` thermal noise std of the image.
        seeds: ``(N,)`` position seeds. shape: ``(s, s)`` 0/1 feature shape.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    contrast: torch.Tensor
    items: list[Box]
    index: torch.Tensor
    target: torch.Tensor
    data_range: torch.Tensor
    sigma: torch.Tensor
    seeds: torch.Tensor
    shape: torch.Tensor

    @classmethod
    def prepare(cls, recon, kspace, mask, nlf, boxes, contrast, opts: FeatureOptions, *,
                padding, generator, recon_size) -> FeatureCall:  # fmt: skip
        """Check the inputs and compute the per-call quantities (arguments of
        :func:`feature_attack`)."""
        B, C, H, W = kspace.shape
        c = per_item(contrast, B, "contrast")
        size_hw = recon_size_of(recon, recon_size)
        left, right = check_padding(padding, W)
        items, index = flatten_boxes(boxes, B)
        for b in items:
            check_fits(opts.size, b)
        x = kspace_to_target(kspace, size_hw)
        dr = data_range_of(x, opts.data_range)
        sigma_k = estimate_noise_sigma(kspace, padding=(left, right))
        sig = image_noise_std(sigma_k, W, right - left)
        seeds = position_seeds(generator, len(items))
        shape = shape_mask(opts.shape, opts.size, kspace.real.dtype, kspace.device)
        return cls(recon, kspace, mask, nlf, c, items, index, x, dr, sig, seeds, shape)

    def chunk(self, r: range, opts: FeatureOptions) -> dict:
        """Items ``r``: their threat model, searched and scored (``clean`` and ``control``
        added to :func:`~advrecon.attacks.feature.chunk.attack_chunk`'s output)."""
        kspace, dev, size_hw = self.kspace, self.kspace.device, tuple(self.target.shape[-2:])
        idx = self.index[r.start : r.stop]
        d, bx = idx.to(dev), self.items[r.start : r.stop]
        m, nlf = select_mask(self.mask, idx), select_nlf(self.nlf, idx)
        with torch.no_grad():
            clean = self.recon(kspace[d] * m, m, nlf)
        maps = fixed_coil_maps(kspace[d], m, nlf)
        mean = box_mean(self.target[d], bx).double()
        bound = (self.contrast[idx].to(dev) * mean).to(kspace.real.dtype)
        threat = FeatureInsertion(
            self.recon, kspace[d], m, nlf, maps, object_phase(kspace[d], maps), self.shape,
            centre_position(bx, opts.size), bound, opts.min_fill * bound * self.shape.sum(),
            POLARITY[opts.polarity], clean,
        )  # fmt: skip
        gens = [torch.Generator(device=dev).manual_seed(int(self.seeds[i])) for i in r]
        scoring = Scoring(
            list(bx), self.target[d], make_regions(bx, size_hw, device=dev),
            make_regions([Box.full(size_hw)] * len(bx), size_hw, device=dev),
            self.data_range[d], self.sigma[d], mean,
        )  # fmt: skip
        part = attack_chunk(threat, scoring, gens, opts)
        part.update(clean=clean, control=self.target[d])
        return part


def feature_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    contrast,
    *,
    size: int = 5,
    shape: str = "disc",
    polarity: str = "bright",
    min_fill: float = 0.5,
    steps: int = 10,
    step_size: float = 0.25,
    n_random: int = 2,
    padding: Sequence[int] | None = None,
    data_range: str = "maxmin",
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> FeatureResult:
    """Worst-shaped small feature inside each box (:mod:`advrecon.attacks.feature`), batched.

    Args:
        recon, kspace, mask, num_low_frequencies, boxes: As for
            :func:`advrecon.attacks.noise.noise_attack` (``kspace`` fully sampled
            ``(B, C, H, W)``; one box or a list of boxes per slice, each box one item).
        contrast: Largest feature amplitude as a fraction of the mean target intensity in the
            box, float or ``(B,)`` (``0``: no feature).
        size: Side of the feature's square / diameter of its disc, in pixels (must fit the box).
        shape: ``"disc"`` or ``"square"``.
        polarity: ``"bright"`` (adds intensity) or ``"dark"`` (removes it).
        min_fill: The feature keeps at least this fraction of the uniform feature's mass.
        steps, step_size: Signed-gradient steps (size relative to the amplitude bound).
        n_random: Random positions of the baseline (0: NaN columns).
        padding: Acquired columns ``(left, right)`` (noise level); ``None`` = all.
        data_range: ``"maxmin"`` or ``"max"``.
        generator: Seed or generator of the random positions (one derived seed per item).
        chunk_size: Largest number of items per forward.
        recon_size: ``(h, w)`` if ``recon`` has no ``recon_size``.

    Returns:
        :class:`~advrecon.attacks.feature.result.FeatureResult` (``N`` items).

    Raises:
        AdvreconError: bad option, negative contrast, or a feature larger than its box.
    """
    check_kspace_mask(kspace, mask)
    opts = FeatureOptions(
        size, shape, polarity, min_fill, steps, step_size, n_random, data_range, chunk_size
    ).checked()
    call = FeatureCall.prepare(
        recon, kspace, mask, num_low_frequencies, boxes, contrast, opts,
        padding=padding, generator=generator, recon_size=recon_size,
    )  # fmt: skip
    parts = run_chunks(recon, len(call.items), chunk_size, lambda r: call.chunk(r, opts))
    return FeatureResult.from_parts(parts, call.items, call.index, opts.settings())
