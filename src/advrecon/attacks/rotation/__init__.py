"""Adversarial rotation: exhaustive grid search over in-plane angles (Morshuis et al. 2022).

For each slice the complex coil images are rotated by every angle ``theta`` of a grid (step 0.1
degrees by default), transformed to k-space (``fft2c``), masked and reconstructed; the
reconstruction is rotated back by ``-theta`` and compared with the *unrotated* target ``X``
inside the region, excluding pixels that left the field of view
(:func:`~advrecon.attacks.geometry.validity_mask`).

One module per concept:

* :mod:`~advrecon.attacks.rotation.grid` -- the angle grid (:func:`angle_grid`: ``inclusive``,
  the paper's text, or ``exclusive``, the authors' code) and the window of each ``theta_max``;
* :mod:`~advrecon.attacks.rotation.threat` -- the threat model :class:`Rotation` (what turns:
  the coil images, or the anatomy inside fixed coils; the action on k-space; the map back);
* :mod:`~advrecon.attacks.rotation.sweep` -- the batched sweep (every (slice, angle) pair
  reconstructed once; one sweep serves every ``theta_max`` and every box of a slice);
* :mod:`~advrecon.attacks.rotation.scores` -- the worst angle's, clean and random-angle
  columns; :mod:`~advrecon.attacks.rotation.control` -- the model-free control;
* :mod:`~advrecon.attacks.rotation.attack` -- :func:`rotation_attack`, the public attack;
  :mod:`~advrecon.attacks.rotation.result` -- :class:`RotationResult`;
* :mod:`~advrecon.attacks.rotation.config` -- the config section ``attacks.rotation`` and its
  batches; :mod:`~advrecon.attacks.rotation.units` -- the experiment runner's entry (rows,
  arrays and per-angle curves of a batch).

The worst angle is the one with the largest region MSE (``select_by="mse"``, the paper), or the
smallest SSIM / PSNR; all metrics are reported at the selected angle. Baseline: a uniformly
random angle of the window, reported as the exact mean and median over the window's angles.
``clean`` is the plain reconstruction of the unrotated slice, the same as every other attack's
``clean``. With ``fourier`` or ``identity_at_zero=True`` it is the angle-0 entry of the sweep (no
extra forward pass); with the ``paper`` interpolation and ``identity_at_zero=False`` (the
authors' behaviour) the angle-0 entry is the reconstruction of resampled (slightly blurred)
coil images, rotated back by 0 through the same pipeline (``per_angle`` at angle 0 shows that
cost), so ``clean`` takes one extra forward per slice. ``control``: the fully-sampled target
pushed through the same rotation, RSS, crop and rotation back at the selected angle, no model --
what interpolation alone does to the target (the analogue of the noise attack's control).
"""

from __future__ import annotations

from advrecon.attacks.geometry import INTERPOLATIONS
from advrecon.attacks.objectives import SELECT_BY
from advrecon.attacks.rotation.attack import RotationOptions, rotation_attack
from advrecon.attacks.rotation.config import (
    FIXED_RULE,
    RotationAttackConfig,
    rotation_batch_groups,
)
from advrecon.attacks.rotation.grid import GRIDS, MAX_ANGLES, angle_grid
from advrecon.attacks.rotation.result import RotationResult
from advrecon.attacks.rotation.sweep import Sweep
from advrecon.attacks.rotation.sweep import _default_block as _default_block  # benchmarks
from advrecon.attacks.rotation.sweep import _pairs_per_pass as _pairs_per_pass  # benchmarks
from advrecon.attacks.rotation.threat import COILS, Rotation
from advrecon.attacks.rotation.units import RotationUnitScores, run_rotation_units

__all__ = [
    "COILS",
    "FIXED_RULE",
    "GRIDS",
    "INTERPOLATIONS",
    "MAX_ANGLES",
    "SELECT_BY",
    "Rotation",
    "RotationAttackConfig",
    "RotationOptions",
    "RotationResult",
    "RotationUnitScores",
    "Sweep",
    "angle_grid",
    "rotation_attack",
    "rotation_batch_groups",
    "run_rotation_units",
]
