"""advrecon: audit the worst-case behaviour of deep-learning MRI reconstruction.

Implements the realistic perturbation attacks of Morshuis et al., "Adversarial Robustness of MR
Image Reconstruction under Realistic Perturbations" (MLMIR 2022): per-coil bounded adversarial
k-space noise and adversarial rotations, targeted at fastMRI+ pathology boxes.
"""

from advrecon.errors import AdvreconError

__version__ = "0.1.0"

__all__ = ["AdvreconError", "__version__"]
