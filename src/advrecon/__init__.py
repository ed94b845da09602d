"""advrecon: audit the worst-case behaviour of deep-learning MRI reconstruction.

Implements the realistic perturbation attacks of Morshuis et al., "Adversarial Robustness of MR
Image Reconstruction under Realistic Perturbations" (MLMIR 2022): per-coil bounded adversarial
k-space noise and adversarial rotations, targeted at fastMRI+ pathology boxes.
"""

from typing import Any

from advrecon._version import __version__
from advrecon.errors import AdvreconError

__all__ = ["AdvreconError", "__version__", "audit"]


def audit(*args: Any, **kwargs: Any) -> Any:
    """:func:`advrecon.experiments.audit.audit` (imported on first use: ``import advrecon``
    stays light)."""
    from advrecon.experiments.audit import audit as _audit

    return _audit(*args, **kwargs)
