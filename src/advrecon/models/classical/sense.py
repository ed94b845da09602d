"""SENSE by conjugate gradients on the regularised normal equations (Pruessmann et al. 2001).

Solves ``(A^H A + lam I) x = A^H y`` for ``A = M F S`` (:class:`advrecon.operators.MultiCoilMRI`),
i.e. minimises ``1/2 ||A x - y||^2 + lam/2 ||x||^2``, with a fixed number of CG iterations
started from ``x = 0``. Every step is differentiable, so autograd differentiates the unrolled
iterations with respect to ``y`` (and the maps). Items of a batch run in lock-step, each with its
own step lengths.
"""

from __future__ import annotations

import torch

from advrecon.models.classical._common import History, dot, safe_divide, sq_norm
from advrecon.operators import MultiCoilMRI

__all__ = ["sense_cg", "sense_objective"]


def sense_objective(op: MultiCoilMRI, y: torch.Tensor, x: torch.Tensor, lam: float) -> torch.Tensor:
    """``1/2 ||A x - y||^2 + lam/2 ||x||^2`` per item ``(B,)``."""
    return 0.5 * sq_norm(op.forward(x) - y) + 0.5 * lam * sq_norm(x)


def sense_cg(
    op: MultiCoilMRI, y: torch.Tensor, lam: float, iterations: int, history: History = None
) -> torch.Tensor:
    """Conjugate gradients on ``(A^H A + lam I) x = A^H y``.

    Args:
        op: The acquisition (maps ``(B, C, H, W)`` and mask).
        y: Masked k-space ``(B, C, H, W)``, complex.
        lam: Tikhonov weight ``>= 0``.
        iterations: CG steps.
        history: When a list, the objective ``(B,)`` of every iterate is appended (``x_0`` too).

    Returns:
        Complex image ``(B, 1, H, W)``.
    """
    b = op.adjoint(y)
    x = torch.zeros_like(b)
    r, p = b, b
    rr = sq_norm(r)
    if history is not None:
        history.append(sense_objective(op, y, x, lam).detach())
    for _ in range(iterations):
        ap = op.adjoint(op.forward(p)) + lam * p
        alpha = safe_divide(rr, dot(p, ap)).view(-1, 1, 1, 1)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = sq_norm(r)
        p = r + safe_divide(rr_new, rr).view(-1, 1, 1, 1) * p
        rr = rr_new
        if history is not None:
            history.append(sense_objective(op, y, x, lam).detach())
    return x
