"""Forward differences and their adjoint, the pair behind total variation.

``grad x = (x[i+1, j] - x[i, j], x[i, j+1] - x[i, j])`` with a zero difference on the last
row/column (Neumann boundary, Chambolle 2004), and ``div = -grad^H`` so that
``<grad x, p> = -<x, div p>`` exactly (``tests/test_classical.py`` checks it). ``||grad||^2 <= 8``.

Shapes: complex images ``(B, 1, H, W)``, gradients ``(B, 2, H, W)`` (vertical, horizontal).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["grad", "div", "GRAD_NORM_SQ"]

#: Upper bound of ``||grad||^2`` (step sizes of the primal-dual solver use it).
GRAD_NORM_SQ = 8.0


def grad(x: torch.Tensor) -> torch.Tensor:
    """Forward differences ``(B, 1, H, W) -> (B, 2, H, W)``, zero at the far edges."""
    dv = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    dh = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    return torch.cat([dv, dh], dim=1)


def div(p: torch.Tensor) -> torch.Tensor:
    """Divergence ``(B, 2, H, W) -> (B, 1, H, W)``, the negative adjoint of :func:`grad`."""
    pv, ph = p[:, :1], p[:, 1:]
    # d/dx of a field that is zero beyond the last row: backward differences with the
    # first row kept and the (always zero) last row's value dropped
    dv = torch.cat([pv[..., :1, :], pv[..., 1:-1, :] - pv[..., :-2, :], -pv[..., -2:-1, :]], -2)
    dh = torch.cat([ph[..., :1], ph[..., 1:-1] - ph[..., :-2], -ph[..., -2:-1]], -1)
    return dv + dh
