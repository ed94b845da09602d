"""Realistic adversarial perturbations of MRI reconstruction (Morshuis et al., MLMIR 2022).

* :func:`noise_attack` -- per-coil L2-bounded adversarial k-space noise (PGD / APGD).
* :func:`rotation_attack` -- worst-case in-plane rotation by exhaustive angle search.
* :func:`motion_attack` -- worst-case inter-shot rigid motion.
* :func:`feature_attack` -- missing features: a small feature in the box reconstructed worst.
* :func:`hallucination_attack` -- k-space noise that draws a feature into the box.

Each takes any reconstructor ``recon(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``,
the FULLY-sampled k-space, a mask and one region (Box) per slice, and returns a result with
tensors for figures and ``.to_rows()`` for the results table. Every threat model is a plug-in
(:mod:`advrecon.attacks.contract`, :mod:`advrecon.attacks.registry`). Names are imported on
first use, so ``import advrecon.attacks`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "noise_attack": "advrecon.attacks.noise",
    "NoiseAttackResult": "advrecon.attacks.noise",
    "rotation_attack": "advrecon.attacks.rotation",
    "angle_grid": "advrecon.attacks.rotation",
    "RotationResult": "advrecon.attacks.rotation",
    "motion_attack": "advrecon.attacks.motion",
    "MotionResult": "advrecon.attacks.motion",
    "feature_attack": "advrecon.attacks.feature",
    "hallucination_attack": "advrecon.attacks.hallucination",
    "rotate": "advrecon.attacks.geometry",
    "validity_mask": "advrecon.attacks.geometry",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'advrecon.attacks' has no attribute {name!r}")
