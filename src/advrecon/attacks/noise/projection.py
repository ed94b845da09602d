"""The per-coil L2 geometry of k-space noise: float64 norms, scaling, projection, steps.

Every norm is accumulated in float64 and every scale factor is rounded *down* to the
perturbation's precision, so ``||z_i|| <= B_i`` holds to the rounding of ``z``'s own dtype
(relative 1e-7 in float32), also on fastMRI-size coils where a float32 norm drifts by 1e-5.
"""

from __future__ import annotations

import torch

__all__ = [
    "coil_norm",
    "project_per_coil",
    "reference_step",
    "scale_per_coil",
    "sphere_draw",
    "sq_norm",
]


def sq_norm(x: torch.Tensor, dim: tuple[int, ...]) -> torch.Tensor:
    """Squared L2 norm over ``dim`` (negative dims of the complex tensor), summed in float64.

    Only a float32 temporary of ``x``'s size is made (no complex128 copy): the squares are
    exact to float32 rounding and the sum, where float32 drifts, is float64.

    Args:
        x: Complex tensor.
        dim: Negative dims of ``x`` to reduce.

    Returns:
        float64 tensor of ``x``'s shape with ``dim`` reduced (the last one kept as size 1).
    """
    sq = torch.view_as_real(x.resolve_conj()).square()
    return sq.sum(dim=(*(d - 1 for d in dim), -1), dtype=torch.float64).unsqueeze(-1)


def coil_norm(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, 1, 1)`` float64 L2 norm of every coil of ``x`` ``(B, C, H, W)``."""
    return sq_norm(x, (-2, -1)).sqrt().unsqueeze(-1)


def scale_per_coil(z: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``z_i * factor_i`` in ``z``'s precision with the factor rounded *down* from float64.

    Rounding the factor towards zero keeps ``||z_i * factor_i||`` at or below the float64 target
    up to the elementwise rounding of the product (relative 6e-8 in float32).

    Args:
        z: ``(B, C, H, W)`` complex.
        factor: float64, broadcastable to ``(B, C, 1, 1)``.
    """
    f = factor.to(z.real.dtype)
    f = torch.where(f.double() > factor, torch.nextafter(f, torch.zeros_like(f)), f)
    return z * f


def project_per_coil(z: torch.Tensor, budget: torch.Tensor) -> torch.Tensor:
    """Project every coil of ``z`` onto its ball ``||z_i|| <= budget_i``.

    Norms are accumulated in float64 and the scale is rounded down, so the constraint holds to
    the rounding of ``z``'s own dtype (a float32 norm of a 640x368 coil is off by up to 1e-5).
    A coil whose float64 norm is within its budget keeps its values (the scale is exactly 1).

    Args:
        z: ``(B, C, H, W)`` complex.
        budget: ``(B, C, 1, 1)`` real, non-negative (0 gives ``z_i = 0``).

    Returns:
        Projected ``z``.
    """
    tiny = torch.finfo(torch.float64).tiny
    scale = torch.clamp(budget.to(torch.float64) / coil_norm(z).clamp_min(tiny), max=1.0)
    return scale_per_coil(z, scale)


def reference_step(
    z: torch.Tensor, g: torch.Tensor, budget: torch.Tensor, step_size: float
) -> torch.Tensor:
    """One step of the authors' rule (``rule="reference"``).

    ``d = z / ||z|| + step_size * g / ||g||`` (norms over all coils of an item), then
    ``z_i = B_i * d_i / max(1, ||d_i||)`` for every coil: each coil of the normalised iterate is
    projected onto the *unit* ball and then scaled by its budget.

    Args:
        z: ``(B, C, H, W)`` complex current iterate.
        g: ``(B, C, H, W)`` complex gradient (already restricted to the support).
        budget: ``(B, C, 1, 1)`` real budgets ``B_i``.
        step_size: ``s``.

    Returns:
        The next iterate, ``(B, C, H, W)``.
    """
    tiny = torch.finfo(torch.float64).tiny
    zn = sq_norm(z, (-3, -2, -1)).sqrt().clamp_min(tiny)[..., None, None]
    gn = sq_norm(g, (-3, -2, -1)).sqrt().clamp_min(tiny)[..., None, None]
    d = scale_per_coil(z, 1.0 / zn) + scale_per_coil(g, step_size / gn)
    return scale_per_coil(d, budget.to(torch.float64) / coil_norm(d).clamp_min(1.0))


def sphere_draw(
    gen: torch.Generator, shape, dtype, device, support: torch.Tensor, budget: torch.Tensor
) -> torch.Tensor:
    """A complex Gaussian on ``support`` scaled per coil to norm ``budget``.

    Args:
        gen: The item's generator (one ``randn`` of ``shape`` is drawn from it).
        shape: ``(C, H, W)``.
        dtype, device: Of the draw (complex).
        support: ``(1, 1 or H, W)`` real 0/1.
        budget: ``(C, 1, 1)`` float64 coil budgets.

    Returns:
        ``(C, H, W)``: every coil on its sphere ``||z_i|| = budget_i`` (to rounding, from below).
    """
    u = torch.randn(shape, generator=gen, dtype=dtype, device=device) * support
    tiny = torch.finfo(torch.float64).tiny
    return scale_per_coil(u, budget.to(torch.float64) / coil_norm(u).clamp_min(tiny))
