"""Regularisation weights and iteration counts of the classical reconstructions.

The weights were chosen by the grid search of ``benchmarks/classical_grid.py`` on the
*training* split of the synthetic set (the files ``scripts/train_demo_weights.sh`` generates:
seed 0, file ids from 9000000), by mean SSIM in the 128x128 reconstruction frame, at each
acceleration with the paper's centre fractions (0.08 at 4x, 0.04 at 8x) and fastMRI's random
masks. ``lam`` is in the units of the normalised problem (k-space divided by the RMS of the
zero-filled coil-combined image; see :mod:`~advrecon.models.classical.reconstructors`).
Re-run the search with ``python benchmarks/classical_grid.py``.
"""

from __future__ import annotations

__all__ = ["CLASSICAL_ARCHS", "DEFAULT_LAM", "DEFAULT_ITERATIONS", "default_lam"]

#: The classical architectures (config ``arch``).
CLASSICAL_ARCHS = ("sense", "cs_tv", "cs_wavelet")

#: arch -> {acceleration: lam}, from the training-split grid search (mean SSIM, best marked
#: ``*`` by the script). Measured on a loaded 2-core machine, so on few slices:
#: ``sense`` on 4 slices (4 volumes; grid 0.003/0.01/0.03/0.1), ``cs_tv`` at 4x on 2 slices
#: (2 volumes; grid 0.001/0.01/0.03/0.1: SSIM 0.608/0.709/0.716/0.627); ``cs_tv`` at 8x and
#: ``cs_wavelet`` on 2 slices of one volume (grid 0.001...0.1; 8x SSIM is flat within 0.005
#: below 0.01, and the chosen 0.001 lies at the grid's lower end). Re-run the full grid with
#: ``python benchmarks/classical_grid.py`` before relying on these values.
DEFAULT_LAM: dict[str, dict[int, float]] = {
    "sense": {4: 0.01, 8: 0.03},
    "cs_tv": {4: 0.03, 8: 0.001},
    "cs_wavelet": {4: 0.01, 8: 0.001},
}

#: arch -> fixed iteration count (unrolled; the convergence check compares with 10x as many).
DEFAULT_ITERATIONS: dict[str, int] = {"sense": 10, "cs_tv": 50, "cs_wavelet": 30}


def default_lam(arch: str, acceleration: int) -> float:
    """The tabulated weight at ``acceleration``, or at the nearest tabulated one."""
    table = DEFAULT_LAM[arch]
    nearest = min(table, key=lambda a: (abs(a - acceleration), a))
    return table[nearest]
