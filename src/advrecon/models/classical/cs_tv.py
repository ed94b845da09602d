"""Compressed sensing with a total-variation prior, by the primal-dual algorithm of Chambolle
and Pock (2011).

``min_x 1/2 ||A x - y||^2 + lam TV(x)``, ``TV(x) = sum_pixels |grad x|`` (isotropic, complex
differences, :mod:`~advrecon.models.classical.finite_differences`). Both terms are dualised
through ``K = [A; grad]`` with ``||K||^2 <= 1 + 8`` (unit-norm coil maps); the steps
``tau = 2``, ``sigma = 1 / (9 tau)`` satisfy ``tau sigma ||K||^2 <= 1`` (a large primal step:
on the normalised problems it reaches the 3000-iteration solution ~10x closer in 50 iterations
than ``tau = sigma = 1/3``):

* ``q <- (q + sigma (A xb - y)) / (1 + sigma)`` (prox of the data term's conjugate),
* ``p <- proj_{|p| <= lam}(p + sigma grad xb)`` (pixel-wise projection),
* ``x_new <- x - tau (A^H q - div p)``, ``xb <- 2 x_new - x``.

A fixed number of iterations from ``x_0 = A^H y``; differentiable almost everywhere.
"""

from __future__ import annotations

import torch

from advrecon.models.classical._common import History, sq_norm
from advrecon.models.classical.finite_differences import GRAD_NORM_SQ, div, grad
from advrecon.operators import MultiCoilMRI

__all__ = ["tv", "cs_tv_objective", "cs_tv_pdhg", "PRIMAL_STEP"]

#: Primal step ``tau``; the dual step follows from ``tau sigma (1 + ||grad||^2) = 1``.
PRIMAL_STEP = 2.0


def tv(x: torch.Tensor) -> torch.Tensor:
    """Isotropic total variation per item ``(B,)`` of complex ``(B, 1, H, W)``."""
    g = grad(x)
    return (g.abs() ** 2).sum(dim=1).sqrt().flatten(1).sum(dim=1)


def cs_tv_objective(op: MultiCoilMRI, y: torch.Tensor, x: torch.Tensor, lam: float) -> torch.Tensor:
    """``1/2 ||A x - y||^2 + lam TV(x)`` per item ``(B,)``."""
    return 0.5 * sq_norm(op.forward(x) - y) + lam * tv(x)


def _project(p: torch.Tensor, lam: float) -> torch.Tensor:
    """Pixel-wise projection of ``(B, 2, H, W)`` onto ``{|p| <= lam}``."""
    magnitude = (p.abs() ** 2).sum(dim=1, keepdim=True).sqrt()
    return p / torch.clamp(magnitude / max(lam, torch.finfo(magnitude.dtype).tiny), min=1.0)


def cs_tv_pdhg(
    op: MultiCoilMRI, y: torch.Tensor, lam: float, iterations: int, history: History = None
) -> torch.Tensor:
    """Chambolle-Pock iterations for the TV problem.

    Args:
        op: The acquisition (maps ``(B, C, H, W)`` and mask).
        y: Masked k-space ``(B, C, H, W)``, complex.
        lam: TV weight ``>= 0`` (in the units of ``y``).
        iterations: Primal-dual steps.
        history: When a list, the objective ``(B,)`` of every iterate is appended.

    Returns:
        Complex image ``(B, 1, H, W)``.
    """
    tau = PRIMAL_STEP
    sigma = 1.0 / (tau * (1.0 + GRAD_NORM_SQ))
    x = op.adjoint(y)
    xb, q, p = x, torch.zeros_like(y), torch.zeros_like(grad(x))
    if history is not None:
        history.append(cs_tv_objective(op, y, x, lam).detach())
    for _ in range(iterations):
        q = (q + sigma * (op.forward(xb) - y)) / (1 + sigma)
        p = _project(p + sigma * grad(xb), lam)
        x_new = x - tau * (op.adjoint(q) - div(p))
        xb, x = 2 * x_new - x, x_new
        if history is not None:
            history.append(cs_tv_objective(op, y, x, lam).detach())
    return x
