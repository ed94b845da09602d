"""Missing features (false negatives): a small inserted feature the reconstruction loses.

After Cheng et al. (MIDL 2020, "Addressing the false negative problem of deep learning MRI
reconstruction models by adversarial attacks and robust training"). For each item (a slice
and a pathology box) a small feature ``F`` is added to the fully-sampled acquisition through the
fixed coil maps with the tissue's phase (:mod:`advrecon.attacks._features`), the k-space is
masked and reconstructed, and the feature's *shape* is optimised so that the reconstruction
shows as little of it as possible.

Parametrisation: the feature's pixel values ``q`` ``(n, s, s)`` on a ``disc`` or ``square`` of
``size`` pixels, placed in the centre of the box; ``F = sign * q`` (``polarity``: ``bright``
``+1`` or ``dark`` ``-1``). Feasible set: ``0 <= q <= c_max * mean(X in the box)`` on the shape
(the contrast bound is relative to the local tissue, ``contrast`` in percent) and
``sum(q) >= min_fill * c_max * mean * area``, so the feature cannot shrink to nothing (a
vanishing feature is trivially "not recovered"). Objective (minimised): the fraction of the
feature's energy recovered, ``rho = <f(M k_F) - f(M k), F> / ||F||^2``. Search: ``steps``
signed-gradient steps of ``step_size * c_max * mean`` from the uniform feature at full
contrast, each followed by the projection (clip, then the smallest uniform lift ``tau >= 0``
with ``sum(clip(q + tau)) >= floor``, found by bisection); the best iterate is kept. The search
is the feature's own: the generic :class:`~advrecon.attacks.search.ProjectedGradient` scores an
image alone, this objective also needs the feature.

Baseline: the optimised feature at ``n_random`` uniformly random positions inside the box
(``rand_feature_*`` = mean over the draws), and the uniform start (``feature_recovered_start``).
Visibility: ``feature_cnr`` = feature-weighted mean change of the reconstruction over the
thermal noise std of the magnitude image (:func:`advrecon.noise_level.estimate_noise_sigma`).
Zero contrast = no feature: the item's reconstruction is the clean one, bit for bit.
Metrics: ``clean_*`` the reconstruction without feature against ``X``; ``adv_*`` / ``rand_mean_*``
the reconstruction with the feature against the fully-sampled image with the same feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from pydantic import Field

from advrecon.attacks import _features as ft
from advrecon.attacks._common import (
    check_count,
    check_kspace_mask,
    check_padding,
    chunk_ranges,
    flatten_boxes,
    frozen,
    recon_size_of,
    runs_on,
    select_mask,
    select_nlf,
)
from advrecon.attacks.contract import BatchGroup, SliceAttack, UnitSpec
from advrecon.attacks.engine import unit_images
from advrecon.attacks.evaluation import evaluate, nan_columns
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.objectives import make_regions
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    Count,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    list_of,
)
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma

__all__ = [
    "FeatureInsertion",
    "FeatureResult",
    "feature_attack",
    "run_feature_units",
    "FeatureAttackConfig",
    "feature_batch_groups",
]

POLARITY = {"bright": 1.0, "dark": -1.0}


@dataclass(frozen=True)
class FeatureInsertion:
    """Feature insertion on ``n`` items (module docstring).

    Attributes:
        recon: Reconstructor; kspace: fully-sampled ``(n, C, H, W)``; mask, nlf: as for it;
        maps: ``(n, C, H, W)`` fixed coil maps; phase: ``(n, 1, H, W)`` object phase;
        shape: ``(s, s)`` 0/1 shape; pos: ``(n, 2)`` top-left (row, col), recon frame;
        bound: ``(n,)`` largest amplitude ``c_max * mean``; floor: ``(n,)`` least ``sum(q)``;
        sign: ``+1`` bright, ``-1`` dark; clean: ``(n, h, w)`` reconstruction without feature.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    maps: torch.Tensor
    phase: torch.Tensor
    shape: torch.Tensor
    pos: torch.Tensor
    bound: torch.Tensor
    floor: torch.Tensor
    sign: float
    clean: torch.Tensor

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items with a feature (contrast bound above zero)."""
        return self.bound > 0

    def take(self, idx: torch.Tensor) -> FeatureInsertion:
        """Items ``idx`` ``(p,)`` (repeats allowed)."""
        dev = self.kspace.device
        return replace(
            self, kspace=self.kspace[idx.to(dev)], maps=self.maps[idx.to(dev)],
            mask=self.mask if self.mask.shape[0] == 1 else self.mask[idx.to(dev)],
            nlf=select_nlf(self.nlf, idx.cpu()), phase=self.phase[idx.to(dev)],
            pos=self.pos[idx.cpu()], bound=self.bound[idx.to(dev)],
            floor=self.floor[idx.to(dev)], clean=self.clean[idx.to(dev)],
        )  # fmt: skip

    def at(self, pos: torch.Tensor) -> FeatureInsertion:
        """The same items with the feature at ``pos`` ``(n, 2)``."""
        return replace(self, pos=pos)

    def feature(self, q: torch.Tensor) -> torch.Tensor:
        """The signed feature image ``(n, h, w)`` of patch values ``q`` ``(n, s, s)``."""
        return self.sign * ft.place(q * self.shape, self.pos, self.clean.shape[-2:])

    def reconstruct(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f(M k_F) (n, h, w), F (n, h, w))``."""
        f = self.feature(q)
        k = ft.add_feature(self.kspace, self.maps, self.phase, f)
        return self.recon(k * self.mask, self.mask, self.nlf), f

    def target(self, q: torch.Tensor) -> torch.Tensor:
        """The fully-sampled image with the feature (RSS, crop) ``(n, h, w)``."""
        f = self.feature(q)
        k = ft.add_feature(self.kspace, self.maps, self.phase, f)
        return kspace_to_target(k, tuple(self.clean.shape[-2:]))

    def project(self, q: torch.Tensor) -> torch.Tensor:
        """Clip to ``[0, bound]`` on the shape, then lift to ``sum >= floor`` (bisection)."""
        b = self.bound.view(-1, 1, 1).to(q.dtype)

        def clip(tau: torch.Tensor) -> torch.Tensor:
            return torch.minimum(torch.clamp(q + tau, min=0.0), b) * self.shape

        lo = torch.zeros_like(b)
        hi = b.clone()
        short = clip(lo).sum((1, 2)) < self.floor.to(q.dtype)
        if not bool(short.any()):
            return clip(lo)
        for _ in range(40):  # tau in [0, bound]: clip(q + bound) = bound on the shape >= floor
            mid = (lo + hi) / 2
            ok = clip(mid).sum((1, 2)) >= self.floor.to(q.dtype)
            hi = torch.where(ok.view(-1, 1, 1), mid, hi)
            lo = torch.where(ok.view(-1, 1, 1), lo, mid)
        return clip(torch.where(short.view(-1, 1, 1), hi, torch.zeros_like(hi)))

    def start(self) -> torch.Tensor:
        """The uniform feature at full contrast ``(n, s, s)``."""
        return self.bound.view(-1, 1, 1).to(self.shape.dtype) * self.shape


def _descend_active(threat: FeatureInsertion, steps: int, step_size: float):
    """:func:`_descend` on the items with a feature; the others (zero contrast) cost nothing:
    ``q = 0``, the clean reconstruction, a NaN trace."""
    active = threat.active
    if bool(active.all()):
        return _descend(threat, steps, step_size)
    n, dev = len(active), threat.clean.device
    q, img = threat.start(), threat.clean.clone()
    trace = torch.full((n, steps + 1), torch.nan, dtype=torch.float64, device=dev)
    best_step = torch.zeros(n, dtype=torch.long, device=dev)
    idx = torch.nonzero(active).flatten()
    if idx.numel():
        q[idx], img[idx], trace[idx], best_step[idx] = _descend(
            threat.take(idx.cpu()), steps, step_size
        )
    return q, img, trace, best_step


def _descend(threat: FeatureInsertion, steps: int, step_size: float):
    """Signed-gradient descent of the recovered fraction; ``(q, image, trace, best_step)``."""
    q = threat.start()
    n = q.shape[0]
    best = torch.full((n,), torch.inf, dtype=torch.float64, device=q.device)
    best_q, best_img = q.clone(), threat.clean.clone()
    trace = torch.zeros((n, steps + 1), dtype=torch.float64, device=q.device)
    best_step = torch.zeros(n, dtype=torch.long, device=q.device)
    for t in range(steps + 1):
        grad_on = t < steps
        with torch.set_grad_enabled(grad_on):
            qt = q.detach().requires_grad_(grad_on)
            img, f = threat.reconstruct(qt)
            rho = ft.recovered(img - threat.clean, f)
            if grad_on:
                (g,) = torch.autograd.grad(rho.sum(), qt)
        val = rho.detach()
        trace[:, t] = val
        take = val < best
        best = torch.where(take, val, best)
        best_step = torch.where(take, t, best_step)
        best_q = torch.where(take[:, None, None], qt.detach(), best_q)
        best_img = torch.where(take[:, None, None], img.detach(), best_img)
        if grad_on:
            step = step_size * threat.bound.view(-1, 1, 1) * torch.sign(torch.nan_to_num(g))
            q = threat.project(qt.detach() - step.to(q.dtype))
    return best_q, best_img, trace, best_step


@dataclass
class FeatureResult:
    """Items of one :func:`feature_attack` call (``N`` items, tensors on the CPU).

    Attributes:
        target: ``(N, h, w)`` fully sampled with the optimised feature; clean: reconstruction
        without feature; adversarial: with the optimised feature; feature: ``F`` ``(N, h, w)``;
        control: fully sampled without feature; boxes, item_index, trace ``(N, steps + 1)``;
        columns: ``name -> (N,)`` row columns; perturbation: the hallucination's ``z``.
    """

    target: torch.Tensor
    clean: torch.Tensor
    adversarial: torch.Tensor
    feature: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    item_index: torch.Tensor
    trace: torch.Tensor
    columns: dict[str, torch.Tensor]
    settings: dict
    perturbation: torch.Tensor | None = None  # hallucination: z (N, C, H, W); feature: None

    @classmethod
    def from_parts(cls, parts: list[dict], items, index, settings: dict) -> FeatureResult:
        """Concatenate chunk results (``target``, ``clean``, ``adversarial``, ``feature``,
        ``control`` images, ``trace``, ``cols``) on the CPU."""
        keys = ("target", "clean", "adversarial", "feature", "control")
        img = {k: torch.cat([p[k].detach().float().cpu() for p in parts]) for k in keys}
        cols = {
            k: torch.cat([p["cols"][k].detach().cpu() for p in parts]) for k in parts[0]["cols"]
        }
        trace = torch.cat([p["trace"].cpu() for p in parts])
        z = torch.cat([p["z"].detach().cpu() for p in parts]) if "z" in parts[0] else None
        return cls(**img, boxes=list(items), item_index=index, trace=trace, columns=cols,
                   settings=settings, perturbation=z)  # fmt: skip

    def to_rows(self) -> list[dict]:
        """One flat row per item."""
        rows = []
        for i, b in enumerate(self.boxes):
            row = {"item": i, "slice_index": int(self.item_index[i]), **self.settings}
            row.update(box_x=b.x, box_y=b.y, box_w=b.width, box_h=b.height, box_grown=False)
            for k, v in self.columns.items():
                x = v[i].item()
                row[k] = bool(x) if v.dtype == torch.bool else x
            rows.append(row)
        return rows


@dataclass(frozen=True)
class _Items:
    """How a chunk's items are scored: boxes, target ``X`` ``(n, h, w)``, box and whole-image
    regions, data range, thermal noise std of the image and mean box intensity (``(n,)``)."""

    boxes: list[Box]
    target: torch.Tensor
    regions: Any
    full: Any
    data_range: torch.Tensor
    sigma: torch.Tensor
    mean: torch.Tensor

    def take(self, js: torch.Tensor) -> _Items:
        rows, d = js.tolist(), js.to(self.target.device)
        return _Items(
            [self.boxes[j] for j in rows], self.target[d], self.regions.take(rows),
            self.full.take(rows), self.data_range[d], self.sigma[d], self.mean[d],
        )  # fmt: skip


def _chunk_attack(threat: FeatureInsertion, items: _Items, gens, opts) -> dict:
    """Search, baseline and evaluation of one chunk of items."""
    q, adv, trace, best_step = _descend_active(threat, opts["steps"], opts["step_size"])
    it = items
    with torch.no_grad():
        f = threat.feature(q)
        xf = threat.target(q)
        cols = evaluate({"clean": threat.clean}, it.target, it.regions, it.full, it.data_range)
        cols.update(evaluate({"adv": adv}, xf, it.regions, it.full, it.data_range))
        cols.update(ft.measures("feature", "", adv, threat.clean, f, it.sigma, it.mean))
        cols["feature_recovered_start"] = trace[:, 0]
        area = threat.bound.double() * threat.shape.sum()
        cols["feature_fill"] = q.double().sum((1, 2)) / area.clamp_min(1e-300)
        cols["best_step"] = best_step
        cols.update(_random_positions(threat, q, items, gens, opts))
        inactive = ~threat.active
        for k in [k for k in cols if "feature" in k]:  # no feature: nothing to measure
            cols[k] = torch.where(inactive.to(cols[k].device), torch.nan, cols[k].double())
    return dict(target=xf, adversarial=adv, feature=f, trace=trace, cols=cols)


def _random_positions(threat: FeatureInsertion, q, items: _Items, gens, opts) -> dict:
    """The optimised feature at ``n_random`` random positions per item (means over draws)."""
    n, n_random = len(items.boxes), opts["n_random"]
    names = ("rand_feature_recovered", "rand_feature_cnr", "rand_feature_contrast_percent")
    if n_random == 0:
        out = nan_columns(("rand_mean",), n, q.device)
        return {**out, **{k: torch.full((n,), torch.nan, dtype=torch.float64) for k in names}}
    vals: dict[str, list] = {}
    pairs = [j for j in range(n) for _ in range(n_random)]
    for r in chunk_ranges(len(pairs), opts["chunk_size"] or n):
        js = torch.tensor([pairs[p] for p in r], dtype=torch.long)
        sub_items = items.take(js)
        pos = ft.random_positions(sub_items.boxes, q.shape[-1], [gens[j] for j in js])
        sub = threat.take(js).at(pos)
        qs = q[js.to(q.device)]
        img, f = sub.reconstruct(qs)
        it = sub_items
        m = evaluate({"rand_mean": img}, sub.target(qs), it.regions, it.full, it.data_range)
        m.update(ft.measures("feature", "rand_", img, sub.clean, f, it.sigma, it.mean))
        for k, v in m.items():
            vals.setdefault(k, []).append(v.double())
    return {k: torch.cat(v).reshape(n, n_random).mean(1) for k, v in vals.items()}


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
    """Worst-shaped small feature inside each box (module docstring), batched over items.

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

    Raises:
        AdvreconError: bad option, negative contrast, or a feature larger than its box.
    """
    check_kspace_mask(kspace, mask)
    B, C, H, W = kspace.shape
    if shape not in ("disc", "square"):
        raise AdvreconError(f"shape must be 'disc' or 'square', got {shape!r}")
    if polarity not in POLARITY:
        raise AdvreconError(f"polarity must be one of {tuple(POLARITY)}, got {polarity!r}")
    if not 0.0 <= float(min_fill) <= 1.0:
        raise AdvreconError(f"min_fill must be in [0, 1], got {min_fill}")
    if not step_size > 0:
        raise AdvreconError(f"step_size must be > 0, got {step_size}")
    steps, n_random = check_count("steps", steps), check_count("n_random", n_random)
    c = torch.as_tensor(contrast, dtype=torch.float64).detach().cpu().reshape(-1)
    if c.numel() not in (1, B):
        raise AdvreconError(f"contrast must be a number or one per slice ({B}), got {c.numel()}")
    c = c.expand(B).clone()
    if not torch.isfinite(c).all() or (c < 0).any():
        raise AdvreconError(f"contrast must be finite and >= 0, got {c.tolist()}")
    size_hw = recon_size_of(recon, recon_size)
    left, right = check_padding(padding, W)
    items, index = flatten_boxes(boxes, B)
    for b in items:
        ft.check_fits(int(size), b)
    dev = kspace.device
    x = kspace_to_target(kspace, size_hw)
    dr = data_range_of(x, data_range)
    sig = ft.image_noise_std(estimate_noise_sigma(kspace, padding=(left, right)), W, right - left)
    seeds = ft.item_seeds(generator, len(items), 1)[:, 0]
    opts = dict(steps=steps, step_size=float(step_size), n_random=n_random, chunk_size=chunk_size)
    shape_t = ft.shape_mask(shape, int(size), kspace.real.dtype, dev)
    parts = []
    with frozen(recon):
        for r in chunk_ranges(len(items), chunk_size):
            idx = index[r.start : r.stop]
            d = idx.to(dev)
            bx = items[r.start : r.stop]
            m, nlf = select_mask(mask, idx), select_nlf(num_low_frequencies, idx)
            with torch.no_grad():
                clean = recon(kspace[d] * m, m, nlf)
            maps = ft.fixed_coil_maps(kspace[d], m, nlf)
            mean = ft.box_mean(x[d], bx).double()
            bound = (c[idx].to(dev) * mean).to(kspace.real.dtype)
            threat = FeatureInsertion(
                recon, kspace[d], m, nlf, maps, ft.object_phase(kspace[d], maps), shape_t,
                ft.centre_position(bx, int(size)), bound,
                float(min_fill) * bound * shape_t.sum(), POLARITY[polarity], clean,
            )  # fmt: skip
            gens = [torch.Generator(device=dev).manual_seed(int(seeds[i])) for i in r]
            scoring = _Items(
                list(bx), x[d], make_regions(bx, size_hw, device=dev),
                make_regions([Box.full(size_hw)] * len(bx), size_hw, device=dev), dr[d], sig[d],
                mean,
            )  # fmt: skip
            part = _chunk_attack(threat, scoring, gens, opts)
            part.update(clean=clean, control=x[d])
            parts.append(part)
    settings = dict(
        feature_size_px=int(size), feature_shape=shape, polarity=polarity,
        min_fill=float(min_fill), steps=steps, step_size=float(step_size), n_random=n_random,
        data_range_convention=data_range,
    )  # fmt: skip
    return FeatureResult.from_parts(parts, items, index, settings)


# --------------------------------------------------------------------------------------------
# experiment runner entry (advrecon.attacks.registry) and the config section attacks.feature
# --------------------------------------------------------------------------------------------
#: The config's contrast is in percent of the mean target intensity in the box.
CONTRAST_SCALE = 0.01


class FeatureAttackConfig(Section):
    """Missing features: a small feature in the box, shaped to be reconstructed worst.

    Attributes:
        contrast: Amplitude bounds in percent of the mean target intensity in the box (the
            budgets; 0 = no feature).
        size: Feature diameter (disc) / side (square) in pixels; must fit inside every box.
        shape: ``disc`` or ``square``. polarity: ``bright`` or ``dark``.
        min_fill: Least fraction of the uniform feature's mass the optimised one keeps.
        steps, step_size: Signed-gradient search. n_random: random positions of the baseline.
        models: Run on these models only (``None``: every model).
        too_small: A box smaller than the feature is a config ``error`` or ``skip``-ped.
    """

    contrast: Budgets
    size: PositiveInt = 5
    shape: choice(("disc", "square")) = "disc"
    polarity: choice(tuple(POLARITY)) = "bright"
    min_fill: float = Field(0.5, ge=0.0, le=1.0, strict=True)
    steps: Count = 10
    step_size: Positive = 0.25
    n_random: Count = 2
    models: list_of(Text) | None = None
    too_small: choice(("error", "skip")) = "error"


def boxes_that_fit(section, boxes, name: str) -> list:
    """The ``(index, box)`` pairs a ``section.size`` feature fits in.

    A smaller box is a config error naming ``attacks.<name>.size`` (before anything is run or
    written), unless ``section.too_small == "skip"``: then the box gets no unit of this attack.
    """
    from advrecon.errors import ConfigError

    kept = []
    for bi, box in boxes:
        try:
            ft.check_fits(section.size, box, key=f"attacks.{name}.size")
        except AdvreconError as exc:
            if section.too_small == "skip":
                continue
            raise ConfigError(f"{exc} (or set attacks.{name}.too_small: skip)") from None
        kept.append((bi, box))
    return kept


def feature_batch_groups(
    section: FeatureAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per (model, slice): every box x contrast; region target only (a feature in
    the box); a box smaller than the feature is a config error."""
    if "region" not in targets or not runs_on(section.models, model_name):
        return []
    units = tuple(
        UnitSpec("pgd", "region", float(c), bi, box)
        for bi, box in boxes_that_fit(section, boxes["region"], "feature")
        for c in section.contrast
    )
    return [BatchGroup("feature-pgd/region", units)]


@dataclass
class FeatureUnitScores:
    """Rows of one :func:`feature_attack` (or hallucination) call; items are ``budget x box``."""

    result: FeatureResult
    budgets: list[float]
    box_ids: list[int]

    def __post_init__(self) -> None:
        self._rows = self.result.to_rows()
        r = self.result
        self._img = dict(
            target=r.target, clean=r.clean, adversarial=r.adversarial, control=r.control
        )

    def row(self, unit) -> tuple[int, dict]:
        i = self.budgets.index(unit.budget) * len(self.box_ids) + self.box_ids.index(unit.box_index)
        return i, dict(self._rows[i])

    def arrays(self, i: int, unit) -> dict:
        """Target (with feature), clean, adversarial, control (without feature), the feature."""
        return {**unit_images(self._img, i, unit.box), "feature": self.result.feature[i]}

    def curves(self) -> list[dict]:
        return []


def run_feature_units(inp: SliceAttack, units, options: FeatureAttackConfig, rule: str):
    """Every contrast and box of one (model, slice) in one :func:`feature_attack`."""
    budgets = sorted({u.budget for u in units})
    box_ids = sorted({u.box_index for u in units})
    per_slice = [inp.boxes[b] for b in box_ids]
    kspace = inp.kspace[None].expand(len(budgets), *inp.kspace.shape)
    result = feature_attack(
        inp.recon, kspace, inp.mask, inp.num_low_frequencies,
        [list(per_slice) for _ in budgets],
        torch.tensor([c * CONTRAST_SCALE for c in budgets], dtype=torch.float64),
        size=options.size, shape=options.shape, polarity=options.polarity,
        min_fill=options.min_fill, steps=options.steps, step_size=options.step_size,
        n_random=options.n_random, padding=inp.padding, generator=inp.generator,
        chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    return FeatureUnitScores(result, budgets, box_ids)
