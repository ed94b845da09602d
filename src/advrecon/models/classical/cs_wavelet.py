"""Compressed sensing with an L1-wavelet prior, by FISTA (Beck & Teboulle 2009).

Synthesis formulation over the coefficients ``c`` of a Parseval wavelet frame ``W``
(:mod:`~advrecon.models.classical.wavelets`):

``min_c 1/2 ||A W^H c - y||^2 + lam ||c_detail||_1``,  ``x = W^H c``,

where the approximation band is not penalised. ``||A W^H|| <= 1`` (unit-norm coil maps, unitary
FFT, Parseval frame), so the step is 1 and the proximal step is the complex soft threshold at
``lam``. A fixed number of iterations from ``c_0 = W A^H y``; differentiable throughout.
"""

from __future__ import annotations

import math

import torch

from advrecon.models.classical._common import History, sq_norm
from advrecon.models.classical.wavelets import analysis, synthesis
from advrecon.operators import MultiCoilMRI

__all__ = ["soft_threshold", "cs_wavelet_fista", "cs_wavelet_objective"]


def soft_threshold(z: torch.Tensor, t: float) -> torch.Tensor:
    """Complex soft threshold ``z * max(0, 1 - t / |z|)`` (0 stays 0, gradient finite)."""
    scale = torch.relu(1 - t / z.abs().clamp_min(torch.finfo(z.real.dtype).tiny))
    return z * scale


def cs_wavelet_objective(
    op: MultiCoilMRI, y: torch.Tensor, bands: list[torch.Tensor], lam: float, wavelet: str
) -> torch.Tensor:
    """``1/2 ||A W^H c - y||^2 + lam ||c_detail||_1`` per item ``(B,)``."""
    x = synthesis(bands, wavelet, tuple(y.shape[-2:]))
    l1 = sum(band.abs().flatten(1).sum(dim=1) for band in bands[1:])
    return 0.5 * sq_norm(op.forward(x) - y) + lam * l1


def cs_wavelet_fista(
    op: MultiCoilMRI,
    y: torch.Tensor,
    lam: float,
    iterations: int,
    *,
    wavelet: str = "db4",
    level: int = 3,
    history: History = None,
) -> torch.Tensor:
    """FISTA on the synthesis L1-wavelet problem.

    Args:
        op: The acquisition (maps ``(B, C, H, W)`` and mask).
        y: Masked k-space ``(B, C, H, W)``, complex.
        lam: L1 weight ``>= 0`` (in the units of ``y``).
        iterations: FISTA steps.
        wavelet: A PyWavelets name of an orthogonal wavelet (``haar``, ``db4``, ``sym4``...).
        level: Decomposition levels.
        history: When a list, the objective ``(B,)`` of every iterate is appended.

    Returns:
        Complex image ``(B, 1, H, W)``.
    """
    shape = tuple(y.shape[-2:])
    c = analysis(op.adjoint(y), wavelet, level)
    z, t = c, 1.0
    if history is not None:
        history.append(cs_wavelet_objective(op, y, c, lam, wavelet).detach())
    for _ in range(iterations):
        residual = op.forward(synthesis(z, wavelet, shape)) - y
        g = analysis(op.adjoint(residual), wavelet, level)
        steps = [zi - gi for zi, gi in zip(z, g, strict=True)]
        c_new = [steps[0], *(soft_threshold(s, lam) for s in steps[1:])]
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = [cn + (t - 1) / t_new * (cn - co) for cn, co in zip(c_new, c, strict=True)]
        c, t = c_new, t_new
        if history is not None:
            history.append(cs_wavelet_objective(op, y, c, lam, wavelet).detach())
    return synthesis(c, wavelet, shape)
