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
(:func:`advrecon.attacks.engine.run_chunks`); only ``z`` is differentiated.

Strength: ``search="apgd"`` (Auto-PGD) reaches a higher objective than PGD at equal cost, and
``converge={"tol": ..., "max_steps": ...}`` runs it until each item has converged: rounds of
``steps`` passes, each from the best point so far, until a round gains less than ``tol`` (with
``objective="ssim"``: region SSIM) or ``max_steps`` passes are spent; every row records the
``passes`` it spent and whether it ``converged``
(:class:`~advrecon.attacks.search.Converging`).

Baselines at the same per-coil norm: no perturbation (``clean``) and ``n_random`` random complex
Gaussian draws (mean and worst), plus the *control*: the same ``z`` added to the fully-sampled
k-space, RSS, crop, compared to ``X`` (how visible the perturbation itself is, paper Fig. 2).

The package, one concept a module:

* :mod:`~advrecon.attacks.noise.projection` -- float64 coil norms, per-coil scaling rounded
  down, the projection onto the balls and the reference rule's step;
* :mod:`~advrecon.attacks.noise.threat` -- :class:`KspaceNoise` (parametrisation, feasible set,
  action on k-space, random draws, control) and the differentiable objective;
* :mod:`~advrecon.attacks.noise.options` -- the checked options of a call and its search;
* :mod:`~advrecon.attacks.noise.batch` -- the items of a call and the threat model of a chunk;
* :mod:`~advrecon.attacks.noise.attack` -- :func:`noise_attack` (search, evaluation, result);
* :mod:`~advrecon.attacks.noise.result` -- :class:`NoiseAttackResult` and its rows;
* :mod:`~advrecon.attacks.noise.config` -- the config section ``attacks.noise`` and its batches;
* :mod:`~advrecon.attacks.noise.units` -- the experiment runner's entry;
* :mod:`~advrecon.attacks.noise.plugin` -- the plug-in declaration.
"""

from __future__ import annotations

from advrecon.attacks.noise.attack import noise_attack
from advrecon.attacks.noise.config import (
    DEFAULT_SEARCH,
    ETA_SCALE,
    ETA_WARN_PERCENT,
    TIGHT_RULE,
    ConvergeConfig,
    NoiseAttackConfig,
    TightnessConfig,
    noise_batch_groups,
)
from advrecon.attacks.noise.options import NoiseOptions, make_search
from advrecon.attacks.noise.projection import project_per_coil, reference_step
from advrecon.attacks.noise.result import NoiseAttackResult
from advrecon.attacks.noise.threat import RULES, KspaceNoise, perturbed_objective
from advrecon.attacks.noise.units import run_noise_units
from advrecon.attacks.objectives import OBJECTIVES

__all__ = [
    "DEFAULT_SEARCH",
    "ETA_SCALE",
    "ETA_WARN_PERCENT",
    "OBJECTIVES",
    "RULES",
    "TIGHT_RULE",
    "ConvergeConfig",
    "KspaceNoise",
    "NoiseAttackConfig",
    "NoiseAttackResult",
    "NoiseOptions",
    "TightnessConfig",
    "make_search",
    "noise_attack",
    "noise_batch_groups",
    "perturbed_objective",
    "project_per_coil",
    "reference_step",
    "run_noise_units",
]
