"""Classical (non-learned) reconstructions under the same interface as the networks.

* :class:`SenseReconstructor` -- SENSE by conjugate gradients (``arch: sense``);
* :class:`CSTVReconstructor` -- compressed sensing, total variation, primal-dual (``cs_tv``);
* :class:`CSWaveletReconstructor` -- compressed sensing, L1-wavelet (ptwt), FISTA
  (``cs_wavelet``);

all with coil maps from the ACS lines and a fixed, unrolled number of iterations, so every
threat model differentiates through them. :func:`convergence_check` tests the iteration counts.
The names are imported on first use (PEP 562): the config schema reads
:mod:`~advrecon.models.classical.defaults` without importing the solvers (and ptwt).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "CLASSICAL_ARCHS": "defaults",
    "DEFAULT_ITERATIONS": "defaults",
    "DEFAULT_LAM": "defaults",
    "default_lam": "defaults",
    "CLASSICAL": "reconstructors",
    "ClassicalReconstructor": "reconstructors",
    "CSTVReconstructor": "reconstructors",
    "CSWaveletReconstructor": "reconstructors",
    "SenseReconstructor": "reconstructors",
    "build_classical": "reconstructors",
    "Convergence": "convergence",
    "convergence_check": "convergence",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import ``advrecon.models.classical.<module>`` when one of its names is first used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'advrecon.models.classical' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
