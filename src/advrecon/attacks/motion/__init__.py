"""Inter-shot rigid motion: each shot of a multi-shot Cartesian scan sees a moved patient.

Model. The sampled phase-encode columns are split into ``shots`` groups (:func:`shot_index`:
``order`` interleaved or sequential; ``centre="reference"`` puts the ACS band in shot 0).
Shot 0 is the reference: it has no motion, so the image frame is the target's frame and no map
back is needed; shots ``1 ... shots - 1`` each get an in-plane rotation ``theta_s`` (degrees,
about the pixel-grid centre, counter-clockwise) followed by a translation
``t_s = (t_y, t_x)`` (pixels: rows, columns). Feasible set (a box): ``|theta_s| <= theta_max``
and ``|t_y|, |t_x| <= t_max`` *per axis*. k-space of shot ``s`` is the k-space of the moved
object: rotation = the exact three-shear Fourier rotation
(:func:`advrecon.attacks.geometry.rotate`, ``"fourier"``), translation = an exact linear phase
``exp(-2 pi i (f_y t_y + f_x t_x))`` -- both differentiable in the motion parameters.
``coils="move"`` (the paper's convention) moves the coil images, i.e. the coils move with the
patient; ``coils="fixed"`` moves the object inside fixed coils
(:func:`advrecon.attacks.fixed_coils.move_in_fixed_coils` with maps from the fully-sampled ACS
band, :func:`advrecon.sensitivity.acs_sensitivity_maps`). A shot without motion keeps its
k-space bit for bit, so a zero bound gives the clean reconstruction exactly.

Searches, all at the same bounds:

* worst-case motion: projected (sign-)gradient ascent over the ``3 (shots - 1)`` parameters
  (:class:`~advrecon.attacks.search.ProjectedGradient`, best iterate): from a uniform random
  start, ``x <- clip(x + step_size * bound * sign(grad))``;
* random motion: ``n_random`` uniform draws in the box (mean and worst);
* worst single-shot motion: the same ascent with only one shot free, for every shot
  ``1 ... shots - 1``; the shot whose result has the largest objective is reported
  (``single_*`` columns, ``single_shot``).

``control``: the fully-sampled moved k-space as a scanner shows it (RSS, crop; no model).

One module per concept: :mod:`~advrecon.attacks.motion.acquisition` (shots, translation, the
moved k-space), :mod:`~advrecon.attacks.motion.threat` (:class:`RigidMotion`),
:mod:`~advrecon.attacks.motion.searches` (the search items and the searches of a chunk),
:mod:`~advrecon.attacks.motion.attack` (:func:`motion_attack`),
:mod:`~advrecon.attacks.motion.result` (:class:`MotionResult`),
:mod:`~advrecon.attacks.motion.config` (the section ``attacks.motion`` and its batches) and
:mod:`~advrecon.attacks.motion.units` (the experiment runner's entry).
"""

from __future__ import annotations

from advrecon.attacks.motion.acquisition import (
    CENTRES,
    COILS,
    ORDERS,
    moved_kspace,
    shot_index,
    translate_kspace,
)
from advrecon.attacks.motion.attack import MotionOptions, motion_attack
from advrecon.attacks.motion.config import UNITS, MotionAttackConfig, motion_batch_groups
from advrecon.attacks.motion.result import MotionResult
from advrecon.attacks.motion.threat import RigidMotion
from advrecon.attacks.motion.units import run_motion_units

__all__ = [
    "CENTRES",
    "COILS",
    "ORDERS",
    "UNITS",
    "MotionAttackConfig",
    "MotionOptions",
    "MotionResult",
    "RigidMotion",
    "motion_attack",
    "motion_batch_groups",
    "moved_kspace",
    "run_motion_units",
    "shot_index",
    "translate_kspace",
]
