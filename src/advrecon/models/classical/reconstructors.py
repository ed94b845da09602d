"""SENSE, CS-TV and CS-L1-wavelet behind the :class:`~advrecon.models.Reconstructor` interface.

Each reconstruction

1. estimates coil maps from the ACS band of the masked k-space
   (:func:`advrecon.sensitivity.acs_sensitivity_maps`, differentiable);
2. normalises the k-space by ``s``, the RMS of the zero-filled coil-combined image ``A^H y``
   (per item; the weights ``lam`` are then independent of the data's scale);
3. runs its solver for a fixed number of iterations (unrolled: autograd differentiates through
   every iteration, the maps and ``s``);
4. returns ``s |x|``, the magnitude ``(B, H, W)``; :meth:`Reconstructor.forward` crops it to
   ``recon_size`` (the same frame and scale as :class:`~advrecon.models.ZeroFilled`'s RSS where
   the maps are accurate).

No parameters, no checkpoint; device-agnostic (everything follows the k-space's device).
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch

from advrecon.models.classical._common import History, sq_norm
from advrecon.models.classical.cs_tv import cs_tv_pdhg
from advrecon.models.classical.cs_wavelet import cs_wavelet_fista
from advrecon.models.classical.defaults import DEFAULT_ITERATIONS, default_lam
from advrecon.models.classical.sense import sense_cg
from advrecon.models.reconstructor import Reconstructor
from advrecon.operators import MultiCoilMRI
from advrecon.sensitivity import acs_sensitivity_maps

__all__ = [
    "ClassicalReconstructor",
    "SenseReconstructor",
    "CSTVReconstructor",
    "CSWaveletReconstructor",
    "CLASSICAL",
    "build_classical",
]


class ClassicalReconstructor(Reconstructor):
    """Base class: maps from the ACS lines, a normalised problem, a fixed-iteration solver.

    Args:
        lam: Regularisation weight ``>= 0``; ``None`` = the tabulated default at
            ``acceleration`` (:mod:`~advrecon.models.classical.defaults`).
        iterations: Solver iterations ``>= 1``; ``None`` = the tabulated default.
        recon_size: Output ``(h, w)``.
        acceleration: Picks the default ``lam``.
    """

    arch: ClassVar[str]

    def __init__(
        self,
        lam: float | None = None,
        iterations: int | None = None,
        recon_size: tuple[int, int] = (320, 320),
        acceleration: int = 4,
    ) -> None:
        super().__init__(recon_size)
        self.lam = default_lam(self.arch, acceleration) if lam is None else float(lam)
        self.iterations = DEFAULT_ITERATIONS[self.arch] if iterations is None else iterations
        if not (math.isfinite(self.lam) and self.lam >= 0):
            raise ValueError(f"{self.arch}: lam must be a finite number >= 0, got {lam!r}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"{self.arch}: iterations must be an integer >= 1, got {iterations!r}")
        self.label = f"{self.arch} (lam={self.lam:g}, {self.iterations} iterations)"

    def problem(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None,
    ) -> tuple[MultiCoilMRI, torch.Tensor, torch.Tensor]:
        """``(A, y / s, s)``: acquisition, normalised k-space and scale ``(B, 1, 1, 1)``."""
        maps = acs_sensitivity_maps(masked_kspace, mask, num_low_frequencies)
        op = MultiCoilMRI(maps, mask)
        h, w = masked_kspace.shape[-2:]
        rms = torch.sqrt(sq_norm(op.adjoint(masked_kspace)) / (h * w))
        scale = rms.clamp_min(torch.finfo(rms.dtype).tiny).view(-1, 1, 1, 1)
        return op, masked_kspace / scale, scale

    def solve(
        self, op: MultiCoilMRI, y: torch.Tensor, iterations: int, history: History = None
    ) -> torch.Tensor:
        """The solver on the normalised problem: complex image ``(B, 1, H, W)``."""
        raise NotImplementedError

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        op, y, scale = self.problem(masked_kspace, mask, num_low_frequencies)
        return (scale * self.solve(op, y, self.iterations)).abs()[:, 0]


class SenseReconstructor(ClassicalReconstructor):
    """SENSE: CG on ``(A^H A + lam I) x = A^H y`` (:func:`~.sense.sense_cg`)."""

    arch = "sense"

    def solve(self, op, y, iterations, history=None):
        return sense_cg(op, y, self.lam, iterations, history)


class CSTVReconstructor(ClassicalReconstructor):
    """CS-TV: Chambolle-Pock on ``1/2||Ax - y||^2 + lam TV(x)`` (:func:`~.cs_tv.cs_tv_pdhg`)."""

    arch = "cs_tv"

    def solve(self, op, y, iterations, history=None):
        return cs_tv_pdhg(op, y, self.lam, iterations, history)


class CSWaveletReconstructor(ClassicalReconstructor):
    """CS-L1-wavelet: FISTA, Daubechies-4, 3 levels (:func:`~.cs_wavelet.cs_wavelet_fista`)."""

    arch = "cs_wavelet"
    wavelet = "db4"
    level = 3

    def solve(self, op, y, iterations, history=None):
        return cs_wavelet_fista(
            op, y, self.lam, iterations, wavelet=self.wavelet, level=self.level, history=history
        )


#: config ``arch`` -> class
CLASSICAL: dict[str, type[ClassicalReconstructor]] = {
    c.arch: c for c in (SenseReconstructor, CSTVReconstructor, CSWaveletReconstructor)
}


def build_classical(
    arch: str,
    *,
    lam: float | None = None,
    iterations: int | None = None,
    recon_size: tuple[int, int] = (320, 320),
    acceleration: int = 4,
) -> ClassicalReconstructor:
    """The classical reconstructor named ``arch`` (``sense``, ``cs_tv``, ``cs_wavelet``)."""
    return CLASSICAL[arch](lam, iterations, recon_size, acceleration)
