"""Hallucinated features (false positives): k-space noise that draws a feature into the box.

Within the paper's per-coil k-space budget (``||z_i|| <= eta ||k_i||``, zero off the acquired
columns: :class:`advrecon.attacks.noise.KspaceNoise`, imported unchanged, its projection and
``l2`` step), push the reconstruction towards a target that holds a feature absent from the
data -- a ``blob`` (disc) or a ``line`` of ``size`` pixels in the centre of the box, amplitude
``contrast`` (percent of the mean target intensity in the box) -- while the rest of the image
stays as it was. With ``r(z) = f(M(k + z))``, the clean reconstruction ``r0 = f(M k)``, the
feature ``F`` and its support ``S_f``, the objective (maximised) is

    ``-mean_{S_f} (r(z) - (r0 + F))^2 - mu * mean_{outside S_f} (r(z) - r0)^2``.

The reference is the *clean reconstruction* ``r0`` rather than the fully-sampled ``X``: the
attack is asked to add the feature, not to repair the model's own errors, and "the rest stays
unchanged" means unchanged from what the model showed without the attack. Search: the generic
:class:`~advrecon.attacks.search.ProjectedGradient` (rule ``l2``, best iterate), random start on
the coils' spheres.

Reported (``halluc_*``, :func:`advrecon.attacks._features.measures` with ``D = r - r0``): the
fraction of the wanted feature that appears (``<D, F> / ||F||^2``), its contrast (percent of the
box mean; ``halluc_gain`` = that contrast per percent of ``eta``), its contrast-to-noise ratio
against the thermal noise of the magnitude image, and ``halluc_rest_percent`` (RMS of ``D``
outside ``S_f``, percent of the box mean); ``rand_halluc_*`` the same for random noise of the
same per-coil norm (mean over ``n_random`` draws); ``noise_to_thermal`` as for the noise attack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from pydantic import StrictBool

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
from advrecon.attacks.evaluation import evaluate, nan_columns
from advrecon.attacks.feature import FeatureResult, FeatureUnitScores, boxes_that_fit
from advrecon.attacks.noise import ETA_SCALE, KspaceNoise
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.objectives import make_regions
from advrecon.attacks.search import ProjectedGradient, random_draws
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    Count,
    NonNegative,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    list_of,
)
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma, noise_to_thermal_ratio

__all__ = [
    "Hallucination",
    "hallucination_attack",
    "run_hallucination_units",
    "HallucinationAttackConfig",
    "hallucination_batch_groups",
]


@dataclass(frozen=True)
class Hallucination:
    """Per-coil k-space noise (``noise``) with the hallucination objective (module docstring).

    Attributes:
        noise: The :class:`KspaceNoise` of the items (parametrisation, feasible set, action).
        clean: ``(n, h, w)`` reconstruction without noise; feature: ``F`` ``(n, h, w)``;
        support: ``S_f`` ``(n, h, w)`` 0/1; mu: weight of the rest of the image.
    """

    noise: KspaceNoise
    clean: torch.Tensor
    feature: torch.Tensor
    support: torch.Tensor
    mu: float

    @property
    def device(self) -> torch.device:
        return self.noise.device

    @property
    def active(self) -> torch.Tensor:
        return self.noise.active

    def take(self, idx: torch.Tensor) -> Hallucination:
        return replace(
            self, noise=self.noise.take(idx), clean=self.clean[idx], feature=self.feature[idx],
            support=self.support[idx],
        )  # fmt: skip

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        return self.noise.reconstruct(z)

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)``; ``objective`` is ignored (there is one)."""
        d = (image - self.clean).double()
        s = self.support.double()
        inside = ((d - self.feature) ** 2 * s).flatten(1).sum(1) / s.flatten(1).sum(1)
        rest = (d**2 * (1 - s)).flatten(1).sum(1) / (1 - s).flatten(1).sum(1).clamp_min(1)
        return -(inside + self.mu * rest), mse0

    def ascent_step(self, z, grad, step_size: float, rule: str):
        return self.noise.ascent_step(z, grad, step_size, rule)

    def draw(self, generators):
        return self.noise.draw(generators)


def _rest_percent(img, clean, support, mean) -> torch.Tensor:
    """RMS of ``img - clean`` outside the feature, percent of the box mean ``(n,)``."""
    out = (1 - support).double()
    ms = (((img - clean).double() ** 2) * out).flatten(1).sum(1) / out.flatten(1).sum(1)
    return 100.0 * ms.sqrt() / mean.double()


def _columns(prefix, img, threat: Hallucination, sig, mean) -> dict[str, torch.Tensor]:
    cols = ft.measures("halluc", prefix, img, threat.clean, threat.feature, sig, mean)
    cols[f"{prefix}halluc_rest_percent"] = _rest_percent(img, threat.clean, threat.support, mean)
    return cols


def _random(threat: Hallucination, gens, opts, sig, mean) -> dict:
    """Random noise of the same per-coil norm: mean over ``n_random`` draws per item."""
    n, n_random = len(gens), opts["n_random"]
    if n_random == 0:
        out = nan_columns(("rand_mean",), n, threat.device)
        names = [
            f"rand_halluc_{k}" for k in ("recovered", "cnr", "contrast_percent", "rest_percent")
        ]
        return {**out, **{k: torch.full((n,), torch.nan, dtype=torch.float64) for k in names}}
    vals: dict[str, list] = {}
    for js, sub, img in random_draws(threat, gens, n_random, opts["chunk_size"]):
        n_ = sub.noise
        m = evaluate({"rand_mean": img}, n_.target, n_.regions, n_.full, n_.data_range)
        m.update(_columns("rand_", img, sub, sig[js], mean[js]))
        for k, v in m.items():
            vals.setdefault(k, []).append(v.double())
    return {k: torch.cat(v).reshape(n, n_random).mean(1) for k, v in vals.items()}


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
    """Per-coil L2 k-space noise that makes a feature appear in each box (module docstring).

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
        :class:`~advrecon.attacks.feature.FeatureResult` (``target`` = ``X``, ``control`` =
        the fully-sampled image with the same noise, ``feature`` = the wanted ``F``).
    """
    check_kspace_mask(kspace, mask)
    B, C, H, W = kspace.shape
    if shape not in ("blob", "line"):
        raise AdvreconError(f"shape must be 'blob' or 'line', got {shape!r}")
    if not (contrast > 0 and mu >= 0 and step_size > 0):
        raise AdvreconError(
            f"need contrast > 0, mu >= 0 and step_size > 0, got {contrast}, {mu}, {step_size}"
        )
    steps, n_random = check_count("steps", steps), check_count("n_random", n_random)
    eta_t = torch.as_tensor(eta, dtype=torch.float64).detach().cpu().reshape(-1)
    if eta_t.numel() not in (1, B):
        raise AdvreconError(f"eta must be a number or one per slice ({B}), got {eta_t.numel()}")
    eta_t = eta_t.expand(B).clone()
    if not torch.isfinite(eta_t).all() or (eta_t < 0).any():
        raise AdvreconError(f"eta must be finite and >= 0, got {eta_t.tolist()}")
    size_hw = recon_size_of(recon, recon_size)
    left, right = check_padding(padding, W)
    items, index = flatten_boxes(boxes, B)
    for b in items:
        ft.check_fits(int(size), b)
    dev = kspace.device
    x = kspace_to_target(kspace, size_hw)
    dr = data_range_of(x, data_range)
    sigma_k = estimate_noise_sigma(kspace, padding=(left, right))
    sig = ft.image_noise_std(sigma_k, W, right - left)
    knorm = torch.linalg.vector_norm(kspace.to(torch.complex128), dim=(-2, -1))
    cols = torch.zeros((1, 1, 1, W), dtype=kspace.real.dtype, device=dev)
    cols[..., left:right] = 1.0
    seeds = ft.item_seeds(generator, len(items), 2)
    shape_t = ft.shape_mask(shape, int(size), kspace.real.dtype, dev)
    search = ProjectedGradient(steps, float(step_size), "l2", "mse")
    opts = dict(n_random=n_random, chunk_size=chunk_size, random_start=random_start)
    parts = []
    with frozen(recon):
        for r in chunk_ranges(len(items), chunk_size):
            idx = index[r.start : r.stop]
            d, bx = idx.to(dev), items[r.start : r.stop]
            m, nlf = select_mask(mask, idx), select_nlf(num_low_frequencies, idx)
            budget = (eta_t[idx].to(dev)[:, None] * knorm[d]).reshape(-1, C, 1, 1)
            regions = make_regions(bx, size_hw, device=dev)
            full = make_regions([Box.full(size_hw)] * len(bx), size_hw, device=dev)
            noise = KspaceNoise(recon, kspace[d], m, nlf, cols, budget, x[d], regions, full, dr[d])
            mean = ft.box_mean(x[d], bx).double()
            support = ft.place(
                shape_t.expand(len(bx), -1, -1), ft.centre_position(bx, size), size_hw
            )
            with torch.no_grad():
                clean = noise.reconstruct(torch.zeros_like(noise.kspace))
            feature = support * (float(contrast) * mean.to(support.dtype))[:, None, None]
            threat = Hallucination(noise, clean, feature, support, float(mu))
            gens = [
                tuple(torch.Generator(device=dev).manual_seed(int(seeds[i, s])) for s in (0, 1))
                for i in r
            ]
            part = _attack_chunk(threat, search, gens, opts, sig[d], mean, sigma_k[d])
            e = 100 * eta_t[idx].to(dev)
            gain = part["cols"]["halluc_contrast_percent"] / e.clamp_min(1e-300)
            part["cols"]["halluc_gain"] = torch.where(e > 0, gain, torch.nan)
            parts.append(part)
    settings = dict(
        feature_size_px=int(size), feature_shape=shape, halluc_contrast_target=100.0 * contrast,
        mu=float(mu), steps=steps, step_size=float(step_size), random_start=bool(random_start),
        n_random=n_random, data_range_convention=data_range,
    )  # fmt: skip
    return FeatureResult.from_parts(parts, items, index, settings)


def _attack_chunk(threat: Hallucination, search, gens, opts, sig, mean, sigma_k) -> dict:
    """Search, then evaluate clean / adversarial / random / control on one chunk of items."""
    noise, clean = threat.noise, threat.clean
    if opts["random_start"]:
        z0 = threat.draw([g[0] for g in gens])
    else:
        z0 = torch.zeros_like(noise.kspace)
    z, adv, trace, _ = search.run_active(threat, z0, clean)
    with torch.no_grad():
        x, reg, full, dr = noise.target, noise.regions, noise.full, noise.data_range
        res = evaluate({"clean": clean, "adv": adv}, x, reg, full, dr)
        control = noise.control(z)
        res.update(evaluate({"control": control}, x, reg, full, dr))
        res.update(_columns("", adv, threat, sig, mean))
        res.update(_random(threat, [g[1] for g in gens], opts, sig, mean))
        res["noise_to_thermal"] = noise_to_thermal_ratio(z, sigma_k, noise.support)
        res["objective_clean"], res["objective_adv"] = trace[:, 0], trace.amax(1)
    return dict(target=x, clean=clean, adversarial=adv, feature=threat.feature, control=control,
                trace=trace, cols=res, z=z)  # fmt: skip


# --------------------------------------------------------------------------------------------
# experiment runner entry (advrecon.attacks.registry) and the config section
# --------------------------------------------------------------------------------------------
class HallucinationAttackConfig(Section):
    """Hallucinated features: per-coil k-space noise that draws a feature into the box.

    Attributes:
        eta: Budgets in percent of each coil's k-space norm (as ``attacks.noise.eta``).
        contrast: Wanted feature amplitude, percent of the mean target intensity in the box.
        shape: ``blob`` or ``line``; size: pixels (must fit inside every box).
        mu: Weight of "the rest of the image stays unchanged".
        steps, step_size, random_start: PGD. n_random: random-noise draws of the baseline.
        models: Run on these models only (``None``: every model).
        too_small: A box smaller than the feature is a config ``error`` or ``skip``-ped.
    """

    eta: Budgets
    contrast: Positive = 50.0
    shape: choice(("blob", "line")) = "blob"
    size: PositiveInt = 5
    mu: NonNegative = 1.0
    steps: Count = 10
    step_size: Positive = 0.5
    random_start: StrictBool = True
    n_random: Count = 2
    models: list_of(Text) | None = None
    too_small: choice(("error", "skip")) = "error"


def hallucination_batch_groups(section, model_name, targets, boxes) -> list[BatchGroup]:
    """One batch per (model, slice): every box x eta; region target only."""
    if "region" not in targets or not runs_on(section.models, model_name):
        return []
    units = tuple(
        UnitSpec("l2", "region", float(e), bi, box)
        for bi, box in boxes_that_fit(section, boxes["region"], "hallucination")
        for e in section.eta
    )
    return [BatchGroup("hallucination-l2/region", units)]


def run_hallucination_units(inp: SliceAttack, units, options, rule: str):
    """Every eta and box of one (model, slice) in one :func:`hallucination_attack`."""
    budgets = sorted({u.budget for u in units})
    box_ids = sorted({u.box_index for u in units})
    per_slice = [inp.boxes[b] for b in box_ids]
    kspace = inp.kspace[None].expand(len(budgets), *inp.kspace.shape)
    result = hallucination_attack(
        inp.recon, kspace, inp.mask, inp.num_low_frequencies,
        [list(per_slice) for _ in budgets],
        torch.tensor([e * ETA_SCALE for e in budgets], dtype=torch.float64),
        contrast=options.contrast * 0.01, shape=options.shape, size=options.size, mu=options.mu,
        steps=options.steps, step_size=options.step_size, random_start=options.random_start,
        n_random=options.n_random, padding=inp.padding, generator=inp.generator,
        chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    return FeatureUnitScores(result, budgets, box_ids)
