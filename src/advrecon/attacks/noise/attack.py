"""The noise attack: threat model + search + evaluation, batched over items in chunks.

Per chunk of items (:func:`~advrecon.attacks.noise.batch.chunk_threat`): the best of the
restarts of the gradient search, then the clean / adversarial / random-baseline / control
metrics; the chunks are joined into a :class:`NoiseAttackResult`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

import torch

from advrecon.attacks._common import check_kspace_mask
from advrecon.attacks.engine import join_parts, random_baseline, run_chunks
from advrecon.attacks.evaluation import evaluate
from advrecon.attacks.noise.batch import NoiseBatch, chunk_threat, prepare_batch
from advrecon.attacks.noise.options import NoiseOptions
from advrecon.attacks.noise.result import NoiseAttackResult
from advrecon.attacks.noise.threat import KspaceNoise
from advrecon.attacks.search import APGD_STEP, Converge, best_of_restarts
from advrecon.noise_level import noise_to_thermal_ratio

__all__ = ["noise_attack"]


def _starts(threat: KspaceNoise, gens: list, opts: NoiseOptions) -> Iterator[torch.Tensor]:
    """Start points of the restarts: the first as ``random_start`` says, then random draws.

    Every start is an output of the threat model (``z = 0`` through ``project``, which returns
    it bit for bit). Every draw continues each item's start stream (``gens[j][0]``), so one
    restart is the single run and the random baseline's stream (``gens[j][1]``) is untouched.
    """
    first = [g[0] for g in gens]
    for r in range(opts.restarts):
        if r == 0 and not opts.random_start:
            yield threat.project(torch.zeros_like(threat.kspace))
        else:
            yield threat.draw(first)


def _attack_chunk(threat: KspaceNoise, gens: list, sigma, search, opts: NoiseOptions) -> dict:
    """Search (best of the restarts), then evaluate clean / adversarial / random / control.

    ``sigma``: ``(n, C)`` thermal noise per coil (for the noise-to-thermal ratio).
    """
    with torch.no_grad():
        clean = threat.recon(threat.kspace * threat.mask, threat.mask, threat.nlf)
    z, adv, trace, best_step, passes, converged = best_of_restarts(
        search, threat, _starts(threat, gens, opts), clean
    )
    with torch.no_grad():
        t, reg, full, dr = threat.target, threat.regions, threat.full, threat.data_range
        metrics = evaluate({"clean": clean, "adv": adv}, t, reg, full, dr)
        baseline = [g[1] for g in gens]
        metrics.update(random_baseline(threat, baseline, opts.n_random, opts.chunk_size))
        control = threat.control(z)
        metrics.update(evaluate({"control": control}, t, reg, full, dr))
        sup = threat.support.expand(len(gens), 1, *threat.support.shape[-2:])
        ratio = noise_to_thermal_ratio(z, sigma, sup)
    return dict(z=z, adv=adv, clean=clean, control=control, trace=trace, best_step=best_step,
                passes=passes, converged=converged, ratio=ratio, metrics=metrics)  # fmt: skip


def _attack_items(b: NoiseBatch, search, opts: NoiseOptions, r: range) -> dict:
    """:func:`_attack_chunk` on the items ``r`` of the call."""
    threat, gens = chunk_threat(b, r)
    sigma = b.sigma[b.index[r.start : r.stop].to(b.kspace.device)]
    return _attack_chunk(threat, gens, sigma, search, opts)


def _assemble(b: NoiseBatch, parts: list[dict], settings: dict) -> NoiseAttackResult:
    """Concatenate the chunks into a :class:`NoiseAttackResult` (``settings``: its options)."""
    dev, rdtype = b.kspace.device, b.kspace.real.dtype
    cat = join_parts(parts)
    return NoiseAttackResult(
        perturbation=cat["z"].to(b.kspace.dtype), adversarial=cat["adv"].to(rdtype),
        clean=cat["clean"].to(rdtype), target=b.target[b.index.to(dev)],
        control=cat["control"].to(rdtype), boxes=list(b.regions.boxes),
        box_grown=list(b.regions.grown), item_index=b.index, trace=cat["trace"],
        best_trace=torch.cummax(cat["trace"].nan_to_num(nan=-torch.inf), dim=1).values,
        best_step=cat["best_step"], passes=cat["passes"], converged=cat["converged"],
        metrics=cat["metrics"], eta=b.eta, noise_to_thermal=cat["ratio"].to(dev, torch.float64),
        sigma=b.sigma[b.index.to(dev)], **settings,
    )  # fmt: skip


def noise_attack(
    recon, kspace: torch.Tensor, mask: torch.Tensor, num_low_frequencies, boxes, eta, *,
    steps: int = 10, step_size: float = 0.5, random_start: bool = True, objective: str = "mse",
    rule: str = "l2", padding: Sequence[int] | None = None, measured_only: bool = False,
    n_random: int = 0, data_range: str = "maxmin",
    generator: torch.Generator | int | None = None, chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None, search: str = "pgd", restarts: int = 1,
    apgd_step: float = APGD_STEP, converge: Converge | dict | None = None,
) -> NoiseAttackResult:  # fmt: skip
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
            (:data:`~advrecon.attacks.noise.config.DEFAULT_SEARCH`).
        restarts: Runs per item (>= 1), the best kept; the first starts as ``random_start``
            says, the others from random feasible points. Cost: ``restarts x steps``.
        apgd_step: APGD's initial normalised step (:data:`~advrecon.attacks.search.APGD_STEP`;
            Croce & Hein's 2.0 was tuned for 100 iterations).
        converge: ``None`` (``steps`` passes per restart) or a stopping rule
            (:class:`~advrecon.attacks.search.Converge` or ``{"tol": ..., "max_steps": ...}``):
            the search runs in rounds of ``steps`` passes, each from the best point so far,
            until a round gains less than ``tol`` of the objective or ``max_steps`` passes are
            spent (:class:`~advrecon.attacks.search.Converging`), per restart. Needs rule
            ``"l2"`` and objective ``"mse"`` or ``"ssim"``. The result's ``passes`` and
            ``converged`` say what each item spent and whether it converged.

    Returns:
        :class:`~advrecon.attacks.noise.result.NoiseAttackResult` with ``N`` items.

    Raises:
        AdvreconError: Bad k-space/mask, box, eta, padding or option.
    """
    check_kspace_mask(kspace, mask)
    opts = NoiseOptions(
        steps=steps, step_size=step_size, random_start=random_start, objective=objective,
        rule=rule, padding=padding, measured_only=measured_only, n_random=n_random,
        data_range=data_range, generator=generator, chunk_size=chunk_size,
        recon_size=recon_size, search=search, restarts=restarts, apgd_step=apgd_step,
        converge=converge,
    ).checked()  # fmt: skip
    searcher = opts.searcher()
    b = prepare_batch(recon, kspace, mask, num_low_frequencies, boxes, eta, opts)
    parts = run_chunks(recon, len(b.index), chunk_size, partial(_attack_items, b, searcher, opts))
    return _assemble(b, parts, opts.settings())
