"""Realistic adversarial perturbations of MRI reconstruction (Morshuis et al., MLMIR 2022).

* :func:`noise_attack` -- per-coil L2-bounded adversarial k-space noise (PGD).
* :func:`rotation_attack` -- worst-case in-plane rotation by exhaustive angle search.
* :func:`motion_attack` -- worst-case inter-shot rigid motion (issue 13).

Both take any reconstructor ``recon(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``,
the FULLY-sampled k-space, a mask and one region (Box) per slice, and return a result with
tensors for figures and ``.to_rows()`` for the results table (columns in
:mod:`advrecon.attacks.results`).
"""

from advrecon.attacks.geometry import rotate, validity_mask
from advrecon.attacks.motion import MotionResult, motion_attack
from advrecon.attacks.noise import noise_attack
from advrecon.attacks.results import NoiseAttackResult, RotationResult
from advrecon.attacks.rotation import angle_grid, rotation_attack

__all__ = [
    "MotionResult",
    "NoiseAttackResult",
    "RotationResult",
    "angle_grid",
    "motion_attack",
    "noise_attack",
    "rotate",
    "rotation_attack",
    "validity_mask",
]
