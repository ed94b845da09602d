"""Has a fixed-iteration classical reconstruction converged to its optimisation problem?

Two checks on one batch: the objective over the iterations (it should fall; FISTA and the
primal-dual method are not monotone, so compare the last value with the first and with the
long run's), and the relative difference between the fixed-iteration image and a run with
``factor`` times as many iterations. ``tests/test_classical.py`` and
``benchmarks/classical_grid.py`` call :func:`convergence_check`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.models.classical.reconstructors import ClassicalReconstructor

__all__ = ["Convergence", "convergence_check"]


@dataclass(frozen=True)
class Convergence:
    """Outcome of :func:`convergence_check` (all per item).

    Attributes:
        objective: ``(iterations + 1, B)`` objective of every iterate of the fixed run.
        long_objective: ``(B,)`` objective after ``factor x iterations``.
        relative_difference: ``(B,)`` ``||x_fixed - x_long|| / ||x_long||`` (complex images).
        relative_gap: ``(B,)`` ``(f_fixed - f_long) / f_long``.
    """

    objective: torch.Tensor
    long_objective: torch.Tensor
    relative_difference: torch.Tensor
    relative_gap: torch.Tensor


@torch.no_grad()
def convergence_check(
    recon: ClassicalReconstructor,
    masked_kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies: int | torch.Tensor | None = None,
    *,
    factor: int = 10,
) -> Convergence:
    """Run ``recon``'s solver for its iterations and for ``factor`` times as many.

    Args:
        recon: A classical reconstructor.
        masked_kspace: Complex ``(B, C, H, W)``.
        mask: ``(B or 1, 1, 1 or H, W)``.
        num_low_frequencies: ACS width (``None`` = from the mask).
        factor: Length of the reference run relative to ``recon.iterations``.

    Returns:
        A :class:`Convergence`.
    """
    op, y, _ = recon.problem(masked_kspace, mask, num_low_frequencies)
    history: list[torch.Tensor] = []
    x = recon.solve(op, y, recon.iterations, history)
    long_history: list[torch.Tensor] = []
    x_long = recon.solve(op, y, factor * recon.iterations, long_history)
    diff = (x - x_long).flatten(1).norm(dim=1) / x_long.flatten(1).norm(dim=1)
    f, f_long = history[-1], long_history[-1]
    return Convergence(torch.stack(history), f_long, diff, (f - f_long) / f_long)
