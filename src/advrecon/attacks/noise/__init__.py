"""Adversarial k-space noise: per-coil L2-bounded PGD (Morshuis et al. 2022, Sec. 2.2).

For each item (a slice with a target region ``S``) find ``z`` maximising the objective of the
reconstruction ``f(M(k + z))`` against the fully-sampled RSS target ``X`` inside ``S``, subject to
``||z_i||_2 <= eta * ||k_i||_2`` for every coil ``i`` separately (``k_i`` the fully-sampled coil
k-space) and ``z = 0`` outside the acquired columns ``[padding_left, padding_right)``.

PGD as in the paper: a random start (each coil a complex Gaussian draw put on its unit sphere
and scaled by its budget ``B_i = eta ||k_i||``), ``steps`` (10) normalised-gradient steps of size
``step_size`` (0.5), re-projection per coil after every step. Two update rules:

* ``"l2"`` (default) -- standard L2 PGD: ``z_i <- P_i(z_i + step_size * B_i * g_i / ||g_i||)``
  per coil, the step relative to the coil's budget (like foolbox's ``rel_stepsize``), ``P_i``
  the projection onto the ball ``||z_i|| <= B_i``; the best iterate seen is returned (per item).
* ``"reference"`` -- exactly the rule of the authors' public code (norms of ``z`` and ``g``
  over all coils together)::

      d   = z / ||z|| + step_size * g / ||g||
      z_i = B_i * d_i / max(1, ||d_i||)          for every coil i

  i.e. each coil of the *normalised* iterate is projected onto the unit ball and only then
  scaled by its budget; the *last* iterate is returned (``trace`` still records every
  iterate). Because ``z / ||z||`` spreads a unit norm over all coils, a coil of ``d`` rarely
  reaches norm 1, so this rule uses only part of the nominal budget (about half on the demo
  models); it is kept to compare with the paper, not as a worst-case bound.

Norms are accumulated in float64 and projection factors rounded down, so ``||z_i|| <= B_i`` holds
to float32 rounding (relative 1e-7), also on fastMRI-size coils where a float32 norm drifts by
1e-5.

The model's parameters never require gradients during the attack: the model is put in eval
mode with ``requires_grad_(False)`` for the duration of the call and restored afterwards
(:func:`advrecon.attacks._common.frozen`); only ``z`` is differentiated.

Baselines at the same per-coil norm: no perturbation (``clean``) and ``n_random`` random complex
Gaussian draws (mean and worst), plus the *control*: the same ``z`` added to the fully-sampled
k-space, RSS, crop, compared to ``X`` (how visible the perturbation itself is, paper Fig. 2).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, ClassVar

import torch
from pydantic import AliasChoices, Field, StrictBool, StrictInt, model_validator

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
from advrecon.attacks.evaluation import evaluate, nan_columns, random_summary
from advrecon.attacks.noise.result import NoiseAttackResult
from advrecon.attacks.objectives import (
    OBJECTIVES,
    Regions,
    box_metrics,
    make_regions,
    objective_value,
    region_metrics,
)
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.results import METRICS
from advrecon.attacks.search import (
    APGD,
    APGD_STEP,
    SEARCHES,
    ProjectedGradient,
    best_of_restarts,
    random_draws,
)
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    ConfigWarning,
    Count,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    fail,
    list_of,
)
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma, noise_to_thermal_ratio

__all__ = [
    "RULES",
    "KspaceNoise",
    "noise_attack",
    "perturbed_objective",
    "project_per_coil",
    "make_search",
    "reference_step",
    "run_noise_units",
    "NoiseAttackConfig",
    "TightnessConfig",
    "DEFAULT_SEARCH",
    "TIGHT_RULE",
    "noise_batch_groups",
    "ETA_WARN_PERCENT",
]

RULES = ("l2", "reference")


def _sq_norm(x: torch.Tensor, dim: tuple[int, ...]) -> torch.Tensor:
    """Squared L2 norm over ``dim`` (negative dims of the complex tensor), summed in float64.

    Only a float32 temporary of ``x``'s size is made (no complex128 copy): the squares are
    exact to float32 rounding and the sum, where float32 drifts, is float64.
    """
    sq = torch.view_as_real(x.resolve_conj()).square()
    return sq.sum(dim=(*(d - 1 for d in dim), -1), dtype=torch.float64).unsqueeze(-1)


def _coil_norm(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, 1, 1)`` float64 L2 norm of every coil."""
    return _sq_norm(x, (-2, -1)).sqrt().unsqueeze(-1)


def _scale_per_coil(z: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``z_i * factor_i`` in ``z``'s precision with the factor rounded *down* from float64.

    Rounding the factor towards zero keeps ``||z_i * factor_i||`` at or below the float64 target
    up to the elementwise rounding of the product (relative 6e-8 in float32).
    """
    f = factor.to(z.real.dtype)
    f = torch.where(f.double() > factor, torch.nextafter(f, torch.zeros_like(f)), f)
    return z * f


def project_per_coil(z: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """Project every coil of ``z`` onto its ball ``||z_i|| <= budget_i``.

    Norms are accumulated in float64 and the scale is rounded down, so the constraint holds to
    the rounding of ``z``'s own dtype (a float32 norm of a 640x368 coil is off by up to 1e-5).

    Args:
        z: ``(B, C, H, W)`` complex.
        budget: ``(B, C, 1, 1)`` real, non-negative (0 gives ``z_i = 0``).

    Returns:
        Projected ``z``.
    """
    tiny = torch.finfo(torch.float64).tiny
    scale = torch.clamp(budget.to(torch.float64) / _coil_norm(z).clamp_min(tiny), max=1.0)
    return _scale_per_coil(z, scale)


def reference_step(
    z: torch.Tensor, g: torch.Tensor, budget: torch.Tensor, step_size: float
) -> torch.Tensor:
    """One step of the authors' rule (``rule="reference"``).

    ``d = z / ||z|| + step_size * g / ||g||`` (norms over all coils of an item), then
    ``z_i = B_i * d_i / max(1, ||d_i||)`` for every coil: each coil of the normalised iterate is
    projected onto the *unit* ball and then scaled by its budget.

    Args:
        z: ``(B, C, H, W)`` complex current iterate.
        g: ``(B, C, H, W)`` complex gradient (already restricted to the support).
        budget: ``(B, C, 1, 1)`` real budgets ``B_i``.
        step_size: ``s``.

    Returns:
        The next iterate, ``(B, C, H, W)``.
    """
    tiny = torch.finfo(torch.float64).tiny
    zn = _sq_norm(z, (-3, -2, -1)).sqrt().clamp_min(tiny)[..., None, None]
    gn = _sq_norm(g, (-3, -2, -1)).sqrt().clamp_min(tiny)[..., None, None]
    d = _scale_per_coil(z, 1.0 / zn) + _scale_per_coil(g, step_size / gn)
    return _scale_per_coil(d, budget.to(torch.float64) / _coil_norm(d).clamp_min(1.0))


def perturbed_objective(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    z: torch.Tensor,
    target: torch.Tensor,
    regions: Regions,
    data_range: torch.Tensor,
    objective: str = "mse",
    mse0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Objective of ``recon(M(k + z))`` against ``target`` in the regions (differentiable in z).

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: Fully-sampled ``(B, C, H, W)`` complex.
        mask: ``(B or 1, 1, 1 or H, W)`` real.
        num_low_frequencies: As for the reconstructor.
        z: ``(B, C, H, W)`` complex perturbation.
        target: ``(B, h, w)``.
        regions: ``B`` regions (:func:`~advrecon.attacks.objectives.make_regions`).
        data_range: ``(B,)``.
        objective: ``"mse"``, ``"ssim"`` or ``"mse_ssim"``.
        mse0: ``(B,)`` first-iterate MSE for ``"mse_ssim"`` (default: this call's MSE,
            detached).

    Returns:
        ``(objective (B,), reconstruction (B, h, w), metrics dict)``.
    """
    image = recon((kspace + z) * mask, mask, num_low_frequencies)
    met = region_metrics(image, target, regions, data_range)
    if objective == "mse_ssim" and mse0 is None:
        mse0 = _first_mse(met, data_range)
    return objective_value(objective, met, mse0), image, met


def _first_mse(met: dict, data_range: torch.Tensor) -> torch.Tensor:
    """``MSE_0`` of the ``mse_ssim`` objective: the first iterate's MSE, detached, floored."""
    floor = 1e-12 * data_range.to(torch.float64) ** 2 + torch.finfo(torch.float64).tiny
    return torch.maximum(met["mse"].detach(), floor)


def _parse_eta(eta, batch: int) -> torch.Tensor:
    try:
        t = torch.as_tensor(eta, dtype=torch.float64).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise AdvreconError(f"eta must be a number or one number per slice, got {eta!r}") from exc
    if t.numel() == 1:
        t = t.expand(batch).clone()
    if t.numel() != batch:
        raise AdvreconError(
            f"eta must be a number or one number per slice ({batch}), got {t.numel()}"
        )
    if not torch.isfinite(t).all() or (t < 0).any():
        raise AdvreconError(f"eta must be finite and >= 0, got {t.tolist()}")
    return t


def _seeds(generator, n: int) -> torch.Tensor:
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    if generator is None:
        return torch.randint(0, 2**62, (n, 2))
    return torch.randint(0, 2**62, (n, 2), generator=generator, device=generator.device).cpu()


def _draw(gen: torch.Generator, shape, dtype, device, support, budget) -> torch.Tensor:
    """Complex Gaussian on ``support`` scaled per coil to norm ``budget`` (``(C, 1, 1)``)."""
    u = torch.randn(shape, generator=gen, dtype=dtype, device=device) * support
    tiny = torch.finfo(torch.float64).tiny
    return _scale_per_coil(u, budget.to(torch.float64) / _coil_norm(u).clamp_min(tiny))


# --------------------------------------------------------------------------------------------
# the threat model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KspaceNoise:
    """Per-coil L2 k-space noise on ``n`` items: the threat model the searches work on.

    Parametrisation: ``z`` ``(n, C, H, W)`` complex. Feasible set: ``||z_i|| <= budget_i`` per
    coil and ``z = 0`` off ``support``. Action on the acquisition: ``M(k + z)``. Map of the
    output back to the target frame: the identity.

    Attributes:
        recon: Reconstructor; kspace: fully-sampled ``(n, C, H, W)``; mask: ``(1 or n, 1, 1 or
        H, W)``; nlf: ``num_low_frequencies``; support: ``(1 or n, 1, 1 or H, W)`` real;
        budget: ``(n, C, 1, 1)`` float64 ``B_i``; target: ``(n, h, w)``; regions, full: ``n``
        item and whole-image regions; data_range: ``(n,)``.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    support: torch.Tensor
    budget: torch.Tensor
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose feasible set is more than ``z = 0``."""
        return self.budget.flatten(1).amax(1) > 0

    def take(self, idx: torch.Tensor) -> KspaceNoise:
        """The items ``idx`` (a ``(p,)`` long tensor; repeats allowed)."""
        rows = idx.tolist()
        return replace(
            self,
            kspace=self.kspace[idx],
            mask=self.mask if self.mask.shape[0] == 1 else self.mask[idx],
            nlf=select_nlf(self.nlf, idx),
            support=self.support if self.support.shape[0] == 1 else self.support[idx],
            budget=self.budget[idx],
            target=self.target[idx],
            regions=self.regions.take(rows),
            full=self.full.take(rows),
            data_range=self.data_range[idx],
        )

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """``recon(M(k + z))`` ``(n, h, w)``, already in the target frame."""
        return self.recon((self.kspace + z) * self.mask, self.mask, self.nlf)

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions (``mse0`` set for mse_ssim)."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            mse0 = _first_mse(met, self.data_range)
        return objective_value(objective, met, mse0), mse0

    def ascent_step(self, z: torch.Tensor, grad: torch.Tensor, step_size, rule: str):
        """One step of ``rule`` (module docstring) from ``z``, back in the feasible set.

        ``step_size``: a float, or for ``"l2"`` a float64 ``(n, 1, 1, 1)`` tensor (one per item).
        """
        g = torch.nan_to_num(grad) * self.support
        if rule == "reference":
            return reference_step(z, g, self.budget, step_size)
        tiny = torch.finfo(torch.float64).tiny
        step = _scale_per_coil(g, step_size * self.budget / _coil_norm(g).clamp_min(tiny))
        return project_per_coil(z + step, self.budget)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """The nearest feasible point: ``z`` on the support, each coil in its ball."""
        return project_per_coil(z * self.support, self.budget)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One random point per item on its coils' spheres (a Gaussian draw, rescaled)."""
        n, C, H, W = self.kspace.shape
        sup = self.support.expand(n, 1, *self.support.shape[-2:])
        dt, dev = self.kspace.dtype, self.device
        return torch.stack(
            [_draw(g, (C, H, W), dt, dev, sup[j], self.budget[j]) for j, g in enumerate(generators)]
        )

    def control(self, z: torch.Tensor) -> torch.Tensor:
        """The fully-sampled ``k + z`` as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.kspace + z, tuple(self.target.shape[-2:]))


# --------------------------------------------------------------------------------------------
# the attack: threat model + search + evaluation
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Batch:
    """Per-slice quantities of one :func:`noise_attack` call, indexed by items via ``index``."""

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    index: torch.Tensor  # (N,) slice of every item
    regions: Regions
    full: Regions
    target: torch.Tensor  # (B, h, w)
    data_range: torch.Tensor  # (B,)
    knorm: torch.Tensor  # (B, C) float64 coil norms
    sigma: torch.Tensor  # (B, C)
    cols: torch.Tensor  # (1, 1, 1, W) acquired columns
    eta: torch.Tensor  # (N,)
    seeds: torch.Tensor  # (N, 2)
    measured_only: bool
    padding: tuple[int, int]


def _check_options(objective, rule, steps, step_size, n_random) -> tuple[int, int]:
    """Raise one-line errors for bad options; ``(steps, n_random)`` as ints."""
    if objective not in OBJECTIVES:
        raise AdvreconError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if rule not in RULES:
        raise AdvreconError(f"rule must be one of {RULES}, got {rule!r}")
    steps = check_count("steps", steps)
    if not step_size > 0:
        raise AdvreconError(f"step_size must be > 0, got {step_size}")
    return steps, check_count("n_random", n_random)


def make_search(
    search: str, rule: str, steps: int, step_size: float, objective: str,
    apgd_step: float = APGD_STEP,
):  # fmt: skip
    """The gradient search of ``noise_attack``: PGD with ``rule`` and ``step_size``, or APGD
    (initial step ``apgd_step``, then its own).

    Raises:
        AdvreconError: unknown search, or APGD with the ``reference`` rule.
    """
    if search not in SEARCHES:
        raise AdvreconError(f"search must be one of {SEARCHES}, got {search!r}")
    if search == "pgd":
        return ProjectedGradient(steps, float(step_size), rule, objective)
    if rule != "l2":
        raise AdvreconError(
            "search 'apgd' adapts its own step and returns the best iterate: use rule 'l2' "
            f"with it (got rule {rule!r}; the reference rule is the authors' PGD)"
        )
    if not apgd_step > 0:
        raise AdvreconError(f"apgd_step must be > 0, got {apgd_step}")
    return APGD(steps, objective, step_size=float(apgd_step))


def _prepare(recon, kspace, mask, nlf, boxes, eta, opts: dict) -> _Batch:
    """Items, regions, targets, coil norms, noise level and seeds of one call."""
    B, C, H, W = kspace.shape
    size = recon_size_of(recon, opts["recon_size"])
    left, right = check_padding(opts["padding"], W)
    items, item_index = flatten_boxes(boxes, B)
    device = kspace.device
    target = kspace_to_target(kspace, size)
    knorm = torch.linalg.vector_norm(kspace.to(torch.complex128), dim=(-2, -1))  # (B, C)
    zero = (knorm == 0).nonzero().tolist()
    if zero:
        warnings.warn(
            f"{len(zero)} coil(s) have zero k-space norm (slice, coil) {zero[:5]}: their "
            "perturbation budget is zero",
            RuntimeWarning,
            stacklevel=3,
        )
    cols = torch.zeros(W, dtype=kspace.real.dtype, device=device)
    cols[left:right] = 1.0
    return _Batch(
        recon, kspace, mask, nlf, item_index,
        regions=make_regions(items, size, device=device),
        full=make_regions([Box.full(size)] * len(items), size, device=device),
        target=target, data_range=data_range_of(target, opts["data_range"]), knorm=knorm,
        sigma=estimate_noise_sigma(kspace, padding=(left, right)), cols=cols.reshape(1, 1, 1, W),
        eta=_parse_eta(eta, B)[item_index], seeds=_seeds(opts["generator"], len(items)),
        measured_only=bool(opts["measured_only"]), padding=(left, right),
    )  # fmt: skip


def _chunk(b: _Batch, r: range) -> tuple[KspaceNoise, list]:
    """The threat model of items ``r`` and their ``(start, baseline)`` generator pairs."""
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
    dev = b.kspace.device
    gens = [
        tuple(torch.Generator(device=dev).manual_seed(int(b.seeds[i, s])) for s in (0, 1))
        for i in r
    ]
    return threat, gens


def _starts(threat: KspaceNoise, gens, opts: dict):
    """Start points of the restarts: the first as ``random_start`` says, then random draws.

    Every draw continues each item's start stream (``gens[j][0]``), so one restart is the
    single run and the random baseline's stream (``gens[j][1]``) is untouched.
    """
    first = [g[0] for g in gens]
    for r in range(opts["restarts"]):
        if r == 0 and not opts["random_start"]:
            yield torch.zeros_like(threat.kspace)
        else:
            yield threat.draw(first)


def _attack_chunk(threat: KspaceNoise, gens, sigma, search, opts: dict) -> dict:
    """Search (best of the restarts), then evaluate clean / adversarial / random / control.

    ``sigma``: ``(n, C)`` thermal noise per coil (for the noise-to-thermal ratio).
    """
    with torch.no_grad():
        clean = threat.recon(threat.kspace * threat.mask, threat.mask, threat.nlf)
    z, adv, trace, best_step = best_of_restarts(search, threat, _starts(threat, gens, opts), clean)
    with torch.no_grad():
        t, reg, full, dr = threat.target, threat.regions, threat.full, threat.data_range
        metrics = evaluate({"clean": clean, "adv": adv}, t, reg, full, dr)
        metrics.update(_random_baseline(threat, [g[1] for g in gens], opts))
        control = threat.control(z)
        metrics.update(evaluate({"control": control}, t, reg, full, dr))
        sup = threat.support.expand(len(gens), 1, *threat.support.shape[-2:])
        ratio = noise_to_thermal_ratio(z, sigma, sup)
    return dict(z=z, adv=adv, clean=clean, control=control, trace=trace, best_step=best_step,
                ratio=ratio, metrics=metrics)  # fmt: skip


def _random_baseline(threat: KspaceNoise, gens: list, opts: dict) -> dict:
    """Mean and worst metrics over ``n_random`` random draws per item (NaN when 0)."""
    n, n_random = len(gens), opts["n_random"]
    if n_random == 0:
        return nan_columns(("rand_mean", "rand_worst"), n, threat.device)
    vals: dict[str, list[torch.Tensor]] = {}
    for _, sub, img in random_draws(threat, gens, n_random, opts["chunk_size"]):
        a = region_metrics(img, sub.target, sub.regions, sub.data_range)
        b = region_metrics(img, sub.target, sub.full, sub.data_range)
        for key in METRICS:
            vals.setdefault(key, []).append(a[key])
            vals.setdefault(key + "_full", []).append(b[key])
    return random_summary(vals, n, n_random)


def _assemble(b: _Batch, parts: list[dict], settings: dict) -> NoiseAttackResult:
    """Concatenate the chunks into a :class:`NoiseAttackResult` (``settings``: its options)."""
    dev, rdtype = b.kspace.device, b.kspace.real.dtype
    cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0] if k != "metrics"}
    metrics = {k: torch.cat([p["metrics"][k] for p in parts]) for k in parts[0]["metrics"]}
    return NoiseAttackResult(
        perturbation=cat["z"].to(b.kspace.dtype), adversarial=cat["adv"].to(rdtype),
        clean=cat["clean"].to(rdtype), target=b.target[b.index.to(dev)],
        control=cat["control"].to(rdtype), boxes=list(b.regions.boxes),
        box_grown=list(b.regions.grown), item_index=b.index, trace=cat["trace"],
        best_trace=torch.cummax(cat["trace"], dim=1).values, best_step=cat["best_step"],
        metrics=metrics, eta=b.eta, noise_to_thermal=cat["ratio"].to(dev, torch.float64),
        sigma=b.sigma[b.index.to(dev)], **settings,
    )  # fmt: skip


def noise_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    eta,
    *,
    steps: int = 10,
    step_size: float = 0.5,
    random_start: bool = True,
    objective: str = "mse",
    rule: str = "l2",
    padding: Sequence[int] | None = None,
    measured_only: bool = False,
    n_random: int = 0,
    data_range: str = "maxmin",
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
    search: str = "pgd",
    restarts: int = 1,
    apgd_step: float = APGD_STEP,
) -> NoiseAttackResult:
    """Per-coil L2-bounded adversarial k-space noise (PGD), batched over items.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``,
            differentiable in ``masked_kspace`` (frozen for the duration of the call).
        kspace: FULLY-sampled complex k-space ``(B, C, H, W)``; the mask is applied here.
        mask: Real ``(B or 1, 1, 1 or H, W)`` undersampling mask.
        num_low_frequencies: ``int``, ``None`` or ``(B,)`` tensor, passed to ``recon``.
        boxes: One :class:`~advrecon.boxes.Box` per slice, or a list of boxes per slice (each
            box is one item with its own perturbation); ``Box.full(recon_size)`` targets the
            complete image.
        eta: Relative per-coil budget, float or ``(B,)`` (one per slice).
        steps: Gradient steps (the objective is evaluated ``steps + 1`` times).
        step_size: Normalised step (relative to each coil's budget for ``rule="l2"``).
        random_start: Start on each coil's sphere (else at ``z = 0``).
        objective: ``"mse"`` (paper), ``"ssim"`` or ``"mse_ssim"``.
        rule: ``"l2"`` (best iterate) or ``"reference"`` (paper code, last iterate).
        padding: Acquired columns ``(padding_left, padding_right)``; ``None`` = all.
        measured_only: Restrict ``z`` to the sampled columns (``z`` multiplied by the mask).
        n_random: Number of random-noise baseline draws (0: no baseline, NaN columns).
        data_range: ``"maxmin"`` or ``"max"`` of the whole target (SSIM/PSNR).
        generator: ``torch.Generator`` or int seed for the random start and baseline draws;
            each item gets its own derived seed, so results do not depend on ``chunk_size``.
        chunk_size: Maximum number of items per model forward (``None``: all).
        recon_size: ``(h, w)`` if ``recon`` has no ``recon_size`` attribute.
        search: ``"pgd"`` (projected gradient with ``rule`` and ``step_size``) or ``"apgd"``
            (:class:`~advrecon.attacks.search.APGD`: momentum, adaptive step, best iterate;
            ``rule`` must be ``"l2"``, ``step_size`` is not used). Both cost ``steps``
            forward+backward passes per restart. The default stays ``"pgd"`` so that existing
            scripts keep their numbers; the config's default is APGD
            (:data:`DEFAULT_SEARCH`).
        restarts: Runs per item (>= 1), the best kept; the first starts as ``random_start``
            says, the others from random feasible points. Cost: ``restarts x steps``.
        apgd_step: APGD's initial normalised step (:data:`~advrecon.attacks.search.APGD_STEP`;
            Croce & Hein's 2.0 was tuned for 100 iterations).

    Returns:
        :class:`~advrecon.attacks.noise.result.NoiseAttackResult` with ``N`` items.

    Raises:
        AdvreconError: Bad k-space/mask, box, eta, padding or option.
    """
    check_kspace_mask(kspace, mask)
    steps, n_random = _check_options(objective, rule, steps, step_size, n_random)
    if check_count("restarts", restarts) < 1:
        raise AdvreconError(f"restarts must be at least 1 (runs per item), got {restarts}")
    searcher = make_search(search, rule, steps, step_size, objective, apgd_step)
    opts = dict(
        recon_size=recon_size, padding=padding, data_range=data_range, generator=generator,
        measured_only=measured_only, random_start=random_start, n_random=n_random,
        chunk_size=chunk_size, restarts=int(restarts),
    )  # fmt: skip
    b = _prepare(recon, kspace, mask, num_low_frequencies, boxes, eta, opts)
    with frozen(recon):
        parts = []
        for r in chunk_ranges(len(b.index), chunk_size):
            threat, gens = _chunk(b, r)
            sigma = b.sigma[b.index[r.start : r.stop].to(kspace.device)]
            parts.append(_attack_chunk(threat, gens, sigma, searcher, opts))
    settings = dict(
        rule=rule, objective=objective, steps=steps,
        step_size=float(apgd_step if search == "apgd" else step_size),
        random_start=bool(random_start), measured_only=bool(measured_only), n_random=n_random,
        data_range_convention=data_range, search=search, restarts=int(restarts),
    )  # fmt: skip
    return _assemble(b, parts, settings)


# --------------------------------------------------------------------------------------------
# experiment runner entry (advrecon.attacks.registry)
# --------------------------------------------------------------------------------------------
#: eta in the config is in percent of each coil's k-space norm; the attack takes a fraction.
ETA_SCALE = 0.01


@dataclass
class NoiseUnitScores:
    """Rows of one :func:`noise_attack` call for the units of a batch.

    Items are ``eta x box``: region target, one item per pathology box in ``box_ids``;
    complete-image target, one ``Box.full`` item per ``eta`` whose images are re-scored on the
    unit's box with :func:`~advrecon.attacks.objectives.box_metrics` (the attack's metric
    conventions); its random-noise baseline is only known on the whole image, so those region
    columns are NaN.
    """

    result: NoiseAttackResult
    etas: list[float]
    box_ids: list[int | None]
    region: bool

    def __post_init__(self) -> None:
        self._rows = self.result.to_rows()
        nb, B = len(self.box_ids), len(self.etas)
        order = [int(i) for i in self.result.item_index]
        if len(self._rows) != B * nb or order != [j for j in range(B) for _ in range(nb)]:
            raise RuntimeError("noise_attack returned items in an unexpected order")
        self._img = {
            k: getattr(self.result, k).detach().float().cpu()
            for k in ("target", "clean", "adversarial", "control")
        }

    def row(self, unit) -> tuple[int, dict]:
        """``(item, row)`` of a unit; complete-image items re-scored on ``unit.box``."""
        i = self.etas.index(unit.budget) * len(self.box_ids)
        i += self.box_ids.index(unit.box_index) if self.region else 0
        row = dict(self._rows[i])
        if not self.region:
            t = self._img["target"][i : i + 1]
            for prefix, key in (("clean", "clean"), ("adv", "adversarial"), ("control", "control")):
                img = self._img[key][i : i + 1]
                met = box_metrics(img, t, [unit.box], self.result.data_range_convention)
                row.update({f"{prefix}_{m}": float(met[m][0]) for m in METRICS})
            for prefix in ("rand_mean", "rand_worst"):
                row.update({f"{prefix}_{m}": float("nan") for m in METRICS})
        return i, row

    def arrays(self, i: int, unit) -> dict:
        """Target, clean, adversarial and control images and the box."""
        return unit_images(self._img, i, unit.box)

    def curves(self) -> list[dict]:
        """No per-angle curves for noise."""
        return []


def run_noise_units(inp: SliceAttack, units, options, rule: str) -> NoiseUnitScores:
    """All budgets (and boxes) of one (model, rule, target, slice) in one :func:`noise_attack`.

    The k-space batch holds one copy of the slice per ``eta`` (``options``: the config's
    ``noise`` section; budgets in percent, :data:`ETA_SCALE`).
    """
    etas = sorted({u.budget for u in units})
    region = units[0].target == "region"
    box_ids = sorted({u.box_index for u in units}) if region else [None]
    per_slice = [inp.boxes[b] for b in box_ids] if region else [Box.full(inp.recon_size)]
    kspace = inp.kspace[None].expand(len(etas), *inp.kspace.shape)
    result = noise_attack(
        inp.recon,
        kspace,
        inp.mask,
        inp.num_low_frequencies,
        [list(per_slice) for _ in etas],
        torch.tensor([e * ETA_SCALE for e in etas], dtype=torch.float64),
        steps=options.steps_for(rule),
        step_size=options.step_size,
        random_start=options.random_start,
        objective=options.objective,
        rule="l2" if rule == TIGHT_RULE else rule,
        search=options.search_for(rule),
        restarts=options.restarts,
        apgd_step=options.apgd_step_for(rule),
        padding=None if inp.padding is None else tuple(inp.padding),
        measured_only=options.measured_only,
        n_random=options.n_random,
        generator=inp.generator,
        chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
    )
    return NoiseUnitScores(result, etas, box_ids, region)


# --------------------------------------------------------------------------------------------
# experiment runner: the config section ``attacks.noise`` and its batches
# --------------------------------------------------------------------------------------------
#: Budgets above this many percent of a coil's norm are allowed but warned about.
ETA_WARN_PERCENT = 100.0


#: The config's default gradient search (``attacks.noise.search``): APGD. At the default cost of
#: 10 forward+backward passes it reaches a higher value of the attack's objective than ``l2``
#: PGD on most items (``benchmarks/strength.py``, ``benchmarks/apgd_tuning.py``, README). A
#: config without ``search`` therefore hashes differently from before (when PGD was the
#: default); ``search: pgd`` keeps the old hash and numbers.
DEFAULT_SEARCH = "apgd"
#: The rule name of the tightness check's units (``attacks.noise.tightness``).
TIGHT_RULE = "tight"


class TightnessConfig(Section):
    """A tightness check: the region units at ``eta`` re-attacked with ``factor`` x the cost.

    The check's units are extra rows of the results table with rule ``tight``: the same
    (model, slice, box, eta) attacked with ``search`` at ``factor x steps`` steps (same
    restarts), so that the report can show how far the configured attack is from the lowest
    region SSIM found at ``factor`` x its cost (``advrecon.report.tightness``).

    Attributes:
        eta: Budgets in percent (each must be one of the noise attack's ``eta``).
        models: Model names checked (``None``: all models).
        factor: Cost multiple (>= 2; 10 in the README's figures).
        search: Search of the check (``apgd``: the strongest at 100 passes in the benchmark).
        apgd_step: Initial normalised step of an ``apgd`` check: Croce & Hein's 2.0 (``2
            eps``), which at 100 passes beat the 10-pass default 1.0 on training slices
            (lower region SSIM on 81 % vs 72 % of 36 U-Net items, ``benchmarks/apgd_tuning.py``).
    """

    eta: Budgets
    models: list_of(Text) | None = None
    factor: Annotated[StrictInt, Field(ge=2)] = 10
    search: choice(SEARCHES) = "apgd"
    apgd_step: Positive = 2.0


class NoiseAttackConfig(Section):
    """Adversarial k-space noise (per-coil L2 ball of radius ``eta`` % of the coil's norm).

    Attributes:
        eta: Budgets in percent.
        steps, step_size, random_start, objective, measured_only: PGD settings.
        rules: Update rules (``l2``: per-coil normalised-gradient PGD, best iterate, the
            default; ``reference``: exactly the authors' public code, last iterate, which uses
            only part of the budget, see :mod:`advrecon.attacks.noise`). The first rule runs
            on every model, the others only on the
            models in ``rules_on`` (``None``: all models). ``rule`` is accepted as a synonym.
        n_random: Random-noise baselines of the same norm per budget.
        image_eta: Budgets for the complete-image target (``None``: ``eta``). The
            complete-image attack is a comparison with the targeted one; a study that only
            needs it at the largest budget saves a third of the noise attacks' cost.
        search: Gradient search of the ``l2`` rule: ``pgd`` or ``apgd`` (default
            :data:`DEFAULT_SEARCH`); the ``reference`` rule is always the authors' PGD.
        apgd_step: APGD's initial normalised step with ``search: apgd``
            (:data:`~advrecon.attacks.search.APGD_STEP`; the tightness check has its own).
        restarts: Runs per item, best kept (cost ``restarts x steps`` passes).
        tightness: Optional :class:`TightnessConfig` (``None``: no check).
    """

    #: Values under which a key does not enter the config hash: the results of the code before
    #: the key existed (PGD, one run, no check), so older run folders keep their hash.
    HASH_NEUTRAL: ClassVar[dict[str, Any]] = {
        "search": "pgd", "restarts": 1, "tightness": None, "apgd_step": 2.0,
    }  # fmt: skip

    eta: Budgets
    steps: Count = 10
    step_size: Positive = 0.5
    random_start: StrictBool = True
    objective: choice(OBJECTIVES) = "mse"
    rules: list_of(choice(RULES)) = Field(("l2",), validation_alias=AliasChoices("rules", "rule"))
    rules_on: list_of(Text, unique=False) | None = None
    measured_only: StrictBool = False
    n_random: Count = 1
    image_eta: Budgets | None = None
    search: choice(SEARCHES) = DEFAULT_SEARCH
    apgd_step: Positive = APGD_STEP
    restarts: PositiveInt = 1
    tightness: TightnessConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_rules_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "rule" in data and "rules" in data:
            raise fail("give 'rule' or 'rules', not both")
        return data

    @model_validator(mode="after")
    def _warn_large_budgets(self) -> NoiseAttackConfig:
        """Budgets above :data:`ETA_WARN_PERCENT` are valid but usually a unit mistake."""
        for key in ("eta", "image_eta"):
            for i, e in enumerate(getattr(self, key) or ()):
                if e > ETA_WARN_PERCENT:
                    warnings.warn(
                        f"attacks.noise.{key}[{i}]: {e:g} % is above {ETA_WARN_PERCENT:g} % of "
                        "each coil's k-space norm (eta is in percent: 2.5 means 2.5 %)",
                        ConfigWarning,
                        stacklevel=2,
                    )
        return self

    @model_validator(mode="after")
    def _tight_eta_is_run(self) -> NoiseAttackConfig:
        """The check compares with the configured attack, so its budgets must be run too."""
        for i, e in enumerate(self.tightness.eta if self.tightness else ()):
            if e not in self.eta:
                raise fail(f"{e:g} is not one of eta {list(self.eta)}", f"tightness.eta[{i}]")
        return self

    @classmethod
    def hash_view(cls, section: dict) -> dict:
        """The section as it enters the config hash: ``apgd_step`` only where APGD runs, and
        the tightness check's ``apgd_step`` only where it is not the 2.0 of the older code."""
        if section.get("search", DEFAULT_SEARCH) != "apgd":
            section.pop("apgd_step", None)
        tight = section.get("tightness")
        if isinstance(tight, dict) and tight.get("apgd_step") == 2.0:
            del tight["apgd_step"]
        return section

    def search_for(self, rule: str) -> str:
        """The search of a rule's units (``reference``: the authors' PGD)."""
        if rule == TIGHT_RULE:
            return self.tightness.search
        return self.search if rule == "l2" else "pgd"

    def apgd_step_for(self, rule: str) -> float:
        """APGD's initial step for a rule's units (the tightness check: its own)."""
        return self.tightness.apgd_step if rule == TIGHT_RULE else self.apgd_step

    def steps_for(self, rule: str) -> int:
        """Steps of a rule's units (the tightness check: ``factor`` x ``steps``)."""
        return self.steps * self.tightness.factor if rule == TIGHT_RULE else self.steps

    def eta_for(self, target: str) -> tuple[float, ...]:
        """Budgets of the ``target`` (``"region"`` or ``"image"``)."""
        return self.image_eta if target == "image" and self.image_eta is not None else self.eta

    def rules_for(self, model_name: str) -> tuple[str, ...]:
        if self.rules_on is None or model_name in self.rules_on:
            return self.rules
        return self.rules[:1]


def noise_batch_groups(
    section: NoiseAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per (rule, target) of a (model, slice), holding every box x budget ``eta``."""
    return [
        BatchGroup(
            f"noise-{rule}/{target}",
            tuple(
                UnitSpec(rule, target, float(eta), bi, box)
                for bi, box in boxes[target]
                for eta in section.eta_for(target)
            ),
        )
        for rule in section.rules_for(model_name)
        for target in targets
    ] + _tight_groups(section, model_name, targets, boxes)


def _tight_groups(section: NoiseAttackConfig, model_name: str, targets, boxes) -> list[BatchGroup]:
    """The tightness check's batch (region target, its budgets) on the checked models."""
    tight = section.tightness
    if tight is None or "region" not in targets:
        return []
    if not runs_on(tight.models, model_name):
        return []
    units = tuple(
        UnitSpec(TIGHT_RULE, "region", float(eta), bi, box)
        for bi, box in boxes["region"]
        for eta in tight.eta
    )
    return [BatchGroup(f"noise-{TIGHT_RULE}/region", units)]
