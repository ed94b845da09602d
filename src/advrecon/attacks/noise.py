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
from dataclasses import dataclass

import torch

from advrecon.attacks._common import (
    check_kspace_mask,
    check_padding,
    chunk_ranges,
    flatten_boxes,
    frozen,
    recon_size_of,
    select_mask,
    select_nlf,
)
from advrecon.attacks.objectives import (
    OBJECTIVES,
    Regions,
    box_metrics,
    make_regions,
    objective_value,
    region_metrics,
)
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.registry import SliceAttack, box_array
from advrecon.attacks.results import METRICS, NoiseAttackResult
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import kspace_to_target
from advrecon.noise_level import estimate_noise_sigma, noise_to_thermal_ratio

__all__ = ["RULES", "noise_attack", "perturbed_objective", "project_per_coil", "reference_step"]

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


def _metric_dict(prefix: str, region: dict, full: dict) -> dict:
    out = {}
    for m in METRICS:
        out[f"{prefix}_{m}"] = region[m].detach()
        out[f"{prefix}_{m}_full"] = full[m].detach()
    return out


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

    Returns:
        :class:`~advrecon.attacks.results.NoiseAttackResult` with ``N`` items.

    Raises:
        AdvreconError: Bad k-space/mask, box, eta, padding or option.
    """
    check_kspace_mask(kspace, mask)
    if objective not in OBJECTIVES:
        raise AdvreconError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if rule not in RULES:
        raise AdvreconError(f"rule must be one of {RULES}, got {rule!r}")
    if int(steps) != steps or steps < 0:
        raise AdvreconError(f"steps must be a non-negative integer, got {steps}")
    if not step_size > 0:
        raise AdvreconError(f"step_size must be > 0, got {step_size}")
    if int(n_random) != n_random or n_random < 0:
        raise AdvreconError(f"n_random must be a non-negative integer, got {n_random}")
    steps, n_random = int(steps), int(n_random)
    B, C, H, W = kspace.shape
    size = recon_size_of(recon, recon_size)
    left, right = check_padding(padding, W)
    items, item_index = flatten_boxes(boxes, B)
    N = len(items)
    device = kspace.device
    rdtype = kspace.real.dtype
    regions = make_regions(items, size, device=device)
    full = make_regions([Box.full(size)] * N, size, device=device)
    eta_b = _parse_eta(eta, B)
    eta_n = eta_b[item_index]

    target_b = kspace_to_target(kspace, size)
    dr_b = data_range_of(target_b, data_range)
    knorm_b = torch.linalg.vector_norm(kspace.to(torch.complex128), dim=(-2, -1))  # (B, C)
    zero = (knorm_b == 0).nonzero().tolist()
    if zero:
        warnings.warn(
            f"{len(zero)} coil(s) have zero k-space norm (slice, coil) {zero[:5]}: their "
            "perturbation budget is zero",
            RuntimeWarning,
            stacklevel=2,
        )
    sigma_b = estimate_noise_sigma(kspace, padding=(left, right))
    cols = torch.zeros(W, dtype=rdtype, device=device)
    cols[left:right] = 1.0
    cols = cols.reshape(1, 1, 1, W)
    seeds = _seeds(generator, N)

    z_all = torch.zeros((N, C, H, W), dtype=kspace.dtype, device=device)
    adv_all = torch.zeros((N, *size), dtype=rdtype, device=device)
    clean_all = torch.zeros_like(adv_all)
    control_all = torch.zeros_like(adv_all)
    trace = torch.zeros((N, steps + 1), dtype=torch.float64, device=device)
    best_step = torch.zeros(N, dtype=torch.long, device=device)
    ratio = torch.zeros(N, dtype=torch.float64, device=device)
    parts: dict[str, list[torch.Tensor]] = {}

    with frozen(recon):
        for r in chunk_ranges(N, chunk_size):
            sl = slice(r.start, r.stop)
            idx = item_index[sl]
            k = kspace[idx.to(device)]
            m = select_mask(mask, idx)
            nlf = select_nlf(num_low_frequencies, idx)
            target = target_b[idx.to(device)]
            dr = dr_b[idx.to(device)]
            reg, reg_full = regions.take(r), full.take(r)
            support = cols * (m > 0).to(rdtype) if measured_only else cols
            if float(support.sum()) == 0:
                raise AdvreconError(
                    "measured_only=True but the mask samples no column inside "
                    f"[{left}, {right}): the perturbation would be empty"
                )
            # float64 budgets B_i = eta ||k_i||: the constraint is checked against these.
            budget = (eta_n[sl].to(device)[:, None] * knorm_b[idx.to(device)]).reshape(-1, C, 1, 1)
            gens = []
            for i in r:
                g0 = torch.Generator(device=device).manual_seed(int(seeds[i, 0]))
                g1 = torch.Generator(device=device).manual_seed(int(seeds[i, 1]))
                gens.append((g0, g1))
            sup_items = support.expand(len(r), 1, *support.shape[-2:])
            if random_start:
                z = torch.stack(
                    [
                        _draw(gens[j][0], (C, H, W), kspace.dtype, device, sup_items[j], budget[j])
                        for j in range(len(r))
                    ]
                )
            else:
                z = torch.zeros_like(k)

            with torch.no_grad():
                clean = recon(k * m, m, nlf)
            z_best, adv, tr, bstep = _pgd_active(
                recon, k, m, nlf, z, support, budget, target, reg, dr, clean,
                objective=objective, steps=steps, step_size=step_size, rule=rule,
            )  # fmt: skip
            z_all[sl], adv_all[sl], trace[sl], best_step[sl] = z_best, adv, tr, bstep

            with torch.no_grad():
                clean_all[sl] = clean
                out = {}
                out.update(
                    _metric_dict(
                        "clean",
                        region_metrics(clean, target, reg, dr),
                        region_metrics(clean, target, reg_full, dr),
                    )
                )
                out.update(
                    _metric_dict(
                        "adv",
                        region_metrics(adv, target, reg, dr),
                        region_metrics(adv, target, reg_full, dr),
                    )
                )
                out.update(
                    _random_baseline(
                        recon, k, m, nlf, gens, support, budget, target, reg, reg_full, dr,
                        n_random=n_random, chunk_size=chunk_size,
                    )
                )  # fmt: skip
                ctrl = kspace_to_target(k + z_best, size)
                control_all[sl] = ctrl
                out.update(
                    _metric_dict(
                        "control",
                        region_metrics(ctrl, target, reg, dr),
                        region_metrics(ctrl, target, reg_full, dr),
                    )
                )
                ratio[sl] = noise_to_thermal_ratio(z_best, sigma_b[idx.to(device)], sup_items).to(
                    device
                )
            for key, val in out.items():
                parts.setdefault(key, []).append(val)

    metrics = {key: torch.cat(vals) for key, vals in parts.items()}
    best_trace = torch.cummax(trace, dim=1).values
    return NoiseAttackResult(
        perturbation=z_all,
        adversarial=adv_all,
        clean=clean_all,
        target=target_b[item_index.to(device)],
        control=control_all,
        boxes=list(regions.boxes),
        box_grown=list(regions.grown),
        item_index=item_index,
        trace=trace,
        best_trace=best_trace,
        best_step=best_step,
        metrics=metrics,
        eta=eta_n,
        noise_to_thermal=ratio,
        sigma=sigma_b[item_index.to(device)],
        rule=rule,
        objective=objective,
        steps=steps,
        step_size=float(step_size),
        random_start=bool(random_start),
        measured_only=bool(measured_only),
        n_random=n_random,
        data_range_convention=data_range,
    )


def _pgd_active(
    recon,
    k,
    m,
    nlf,
    z,
    support,
    budget,
    target,
    regions,
    dr,
    clean,
    *,
    objective,
    steps,
    step_size,
    rule,
):
    """:func:`_pgd` on the items with a non-zero budget; zero-budget items cost nothing.

    An item whose every coil has a zero budget (``eta = 0``) cannot move: its perturbation stays
    zero, its reconstruction is ``clean`` (the chunk's unperturbed reconstruction, passed in)
    and its trace is the constant clean objective, so no forward or gradient step is spent on
    it. This is what makes the ``eta = 0`` point of a sweep free.
    """
    kw = dict(objective=objective, step_size=step_size, rule=rule)
    active = budget.flatten(1).amax(1) > 0
    if bool(active.all()):
        return _pgd(recon, k, m, nlf, z, support, budget, target, regions, dr, steps=steps, **kw)
    n = k.shape[0]
    z_out = torch.zeros_like(z)
    img_out = clean.detach().clone()
    trace = torch.zeros((n, steps + 1), dtype=torch.float64, device=k.device)
    best_step = torch.zeros(n, dtype=torch.long, device=k.device)
    idle = torch.nonzero(~active).flatten()
    met = region_metrics(clean[idle], target[idle], regions.take(idle.tolist()), dr[idle])
    mse0 = _first_mse(met, dr[idle]) if objective == "mse_ssim" else None
    trace[idle] = objective_value(objective, met, mse0).detach()[:, None].to(trace.dtype)
    idx = torch.nonzero(active).flatten()
    if idx.numel():
        zi, img, tr, bs = _pgd(
            recon, k[idx], m if m.shape[0] == 1 else m[idx], select_nlf(nlf, idx), z[idx],
            support if support.shape[0] == 1 else support[idx], budget[idx], target[idx],
            regions.take(idx.tolist()), dr[idx], steps=steps, **kw,
        )  # fmt: skip
        z_out[idx], img_out[idx], trace[idx], best_step[idx] = zi, img.to(img_out.dtype), tr, bs
    return z_out, img_out, trace, best_step


def _pgd(
    recon, k, m, nlf, z, support, budget, target, regions, dr, *, objective, steps, step_size, rule
):
    """Run PGD on one chunk; returns ``(z, reconstruction, trace (n, steps+1), best_step)``."""
    n = k.shape[0]
    tiny = torch.finfo(torch.float64).tiny
    best_val = torch.full((n,), -torch.inf, dtype=torch.float64, device=k.device)
    best_z = z.clone()
    best_img = None
    best_step = torch.zeros(n, dtype=torch.long, device=k.device)
    trace = torch.zeros((n, steps + 1), dtype=torch.float64, device=k.device)
    mse0 = None
    for t in range(steps + 1):
        need_grad = t < steps
        with torch.set_grad_enabled(need_grad):
            zt = z.detach().requires_grad_(need_grad)
            obj, img, met = perturbed_objective(
                recon, k, m, nlf, zt, target, regions, dr, objective, mse0
            )
            if objective == "mse_ssim" and mse0 is None:
                mse0 = _first_mse(met, dr)
            if need_grad:
                (grad,) = torch.autograd.grad(obj.sum(), zt)
        val = obj.detach()
        trace[:, t] = val
        img = img.detach()
        if best_img is None:
            best_img = img.clone()
        take = (val > best_val) if rule == "l2" else torch.ones_like(val, dtype=torch.bool)
        best_val = torch.where(take, val, best_val)
        best_step = torch.where(take, torch.full_like(best_step, t), best_step)
        best_z = torch.where(take[:, None, None, None], zt.detach(), best_z)
        best_img = torch.where(take[:, None, None], img, best_img)
        if not need_grad:
            break
        g = torch.nan_to_num(grad) * support
        z = zt.detach()
        if rule == "l2":
            step = _scale_per_coil(g, step_size * budget / _coil_norm(g).clamp_min(tiny))
            z = project_per_coil(z + step, budget)
        else:
            z = reference_step(z, g, budget, step_size)
    return best_z, best_img, trace, best_step


def _random_baseline(
    recon, k, m, nlf, gens, support, budget, target, reg, reg_full, dr, *, n_random, chunk_size
) -> dict:
    """Mean and worst metrics over ``n_random`` random draws per item (NaN when 0)."""
    n = k.shape[0]
    if n_random == 0:
        nan = torch.full((n,), torch.nan, dtype=torch.float64, device=k.device)
        return {
            f"rand_{kind}_{m_}{suf}": nan.clone()
            for kind in ("mean", "worst")
            for m_ in METRICS
            for suf in ("", "_full")
        }
    C, H, W = k.shape[1:]
    pairs = [(j, r) for j in range(n) for r in range(n_random)]
    sup_items = support.expand(n, 1, *support.shape[-2:])
    vals: dict[str, list[torch.Tensor]] = {}
    for pr in chunk_ranges(len(pairs), chunk_size or n):
        js = torch.tensor([pairs[p][0] for p in pr], dtype=torch.long, device=k.device)
        z = torch.stack(
            [
                _draw(gens[pairs[p][0]][1], (C, H, W), k.dtype, k.device, sup_items[pairs[p][0]],
                      budget[pairs[p][0]])
                for p in pr
            ]
        )  # fmt: skip
        mj = m if m.shape[0] == 1 else m[js]
        nlf_j = select_nlf(nlf, js)
        img = recon((k[js] + z) * mj, mj, nlf_j)
        a = region_metrics(img, target[js], reg.take(js.tolist()), dr[js])
        b = region_metrics(img, target[js], reg_full.take(js.tolist()), dr[js])
        for key in METRICS:
            vals.setdefault(key, []).append(a[key])
            vals.setdefault(key + "_full", []).append(b[key])
    out = {}
    for key, v in vals.items():
        table = torch.cat(v).reshape(n, n_random)
        out[f"rand_mean_{key}"] = table.mean(1)
        lower_is_worse = key.startswith(("ssim", "psnr"))
        out[f"rand_worst_{key}"] = table.amin(1) if lower_is_worse else table.amax(1)
    return out


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
        """Target, clean, adversarial, ``reference`` (= the control) images and the box."""
        img = self._img
        return {
            "target": img["target"][i],
            "clean": img["clean"][i],
            "adversarial": img["adversarial"][i],
            "reference": img["control"][i],
            "box": box_array(unit.box),
        }

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
        steps=options.steps,
        step_size=options.step_size,
        random_start=options.random_start,
        objective=options.objective,
        rule=rule,
        padding=None if inp.padding is None else tuple(inp.padding),
        measured_only=options.measured_only,
        n_random=options.n_random,
        generator=inp.generator,
        chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
    )
    return NoiseUnitScores(result, etas, box_ids, region)
