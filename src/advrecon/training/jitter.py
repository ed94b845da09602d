"""Jittering (Krainovic, Soltanolkotabi & Heckel, NeurIPS 2023): Gaussian noise on the
measurements during training, at the level of the attack's ball.

Rule: for a budget ``eta`` (a fraction of each coil's k-space norm, the
:class:`~advrecon.attacks.noise.KspaceNoise` ball ``||z_i|| <= eta ||k_i||``), every measured
sample of coil ``i`` gets circular complex Gaussian noise of standard deviation

    ``sigma_i = eta ||k_i|| / sqrt(m)``,

``m`` the number of measured samples of a coil (acquired columns x rows). Then
``E ||n_i||^2 = m sigma_i^2 = (eta ||k_i||)^2``: the noise's root-mean-square per-coil norm is
the radius of the attack's ball (its norm concentrates there, relative spread
``1 / sqrt(2 m)``), so jitter at ``eta`` and the attack at ``eta`` perturb the measured data by
the same amount, the one at random, the other in the worst direction. Unmeasured samples stay
zero.
"""

from __future__ import annotations

import torch

from advrecon.attacks.noise.projection import coil_norm

__all__ = ["jitter_noise", "jitter_sigma", "measured_support"]


def measured_support(mask: torch.Tensor, acquired: torch.Tensor | None, shape) -> torch.Tensor:
    """``(B, 1, H, W)`` 0/1 float: the measured samples (mask x acquired columns).

    Args:
        mask: ``(B or 1, 1, 1 or H, W)`` real sampling mask.
        acquired: ``(B, 1, 1, W)`` 0/1 acquired columns, or ``None`` (all).
        shape: ``(B, C, H, W)`` of the k-space.
    """
    B, _, H, W = shape
    support = (mask > 0).to(torch.float32).expand(B, 1, H, W)
    if acquired is not None:
        support = support * acquired.to(support.device)
    return support


def jitter_sigma(kspace: torch.Tensor, support: torch.Tensor, eta: float) -> torch.Tensor:
    """``(B, C, 1, 1)`` float64 per-coil noise std ``eta ||k_i|| / sqrt(m)`` (module docstring).

    Args:
        kspace: Fully-sampled complex ``(B, C, H, W)`` (the budget's reference ``||k_i||``).
        support: ``(B, 1, H, W)`` measured samples (:func:`measured_support`).
        eta: Relative budget (a fraction, ``0.01`` = 1 %).
    """
    m = support.flatten(1).sum(1).to(torch.float64).clamp_min(1.0)  # (B,)
    return float(eta) * coil_norm(kspace) / m.sqrt().view(-1, 1, 1, 1)


def jitter_noise(
    kspace: torch.Tensor,
    support: torch.Tensor,
    eta: float,
    generators: list[torch.Generator],
) -> torch.Tensor:
    """Complex Gaussian noise ``(B, C, H, W)`` on the measured samples, std :func:`jitter_sigma`.

    Args:
        kspace: Fully-sampled complex ``(B, C, H, W)``.
        support: ``(B, 1, H, W)`` measured samples.
        eta: Relative budget (fraction).
        generators: One generator per slice (on ``kspace``'s device): its draws, in order.

    Returns:
        ``n`` with ``n = 0`` off the support and ``E ||n_i||^2 = (eta ||k_i||)^2``.
    """
    shape, dt, dev = kspace.shape[1:], kspace.dtype, kspace.device
    # torch's complex randn has E |n|^2 = 1 (real and imaginary parts each of variance 1/2)
    unit = torch.stack([torch.randn(shape, generator=g, dtype=dt, device=dev) for g in generators])
    sigma = jitter_sigma(kspace, support, eta).to(kspace.real.dtype)
    return unit * sigma * support.to(kspace.real.dtype)
