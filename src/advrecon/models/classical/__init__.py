"""Classical (non-learned) reconstructions under the same interface as the networks.

* :class:`SenseReconstructor` -- SENSE by conjugate gradients (``arch: sense``);
* :class:`CSTVReconstructor` -- compressed sensing, total variation, primal-dual (``cs_tv``);
* :class:`CSWaveletReconstructor` -- compressed sensing, L1-wavelet (ptwt), FISTA
  (``cs_wavelet``);

all with coil maps from the ACS lines and a fixed, unrolled number of iterations, so every
threat model differentiates through them. :func:`convergence_check` tests the iteration counts.
"""

from advrecon.models.classical.convergence import Convergence, convergence_check
from advrecon.models.classical.defaults import (
    CLASSICAL_ARCHS,
    DEFAULT_ITERATIONS,
    DEFAULT_LAM,
    default_lam,
)
from advrecon.models.classical.reconstructors import (
    CLASSICAL,
    ClassicalReconstructor,
    CSTVReconstructor,
    CSWaveletReconstructor,
    SenseReconstructor,
    build_classical,
)

__all__ = [
    "CLASSICAL",
    "CLASSICAL_ARCHS",
    "DEFAULT_ITERATIONS",
    "DEFAULT_LAM",
    "ClassicalReconstructor",
    "Convergence",
    "CSTVReconstructor",
    "CSWaveletReconstructor",
    "SenseReconstructor",
    "build_classical",
    "convergence_check",
    "default_lam",
]
