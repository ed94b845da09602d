"""The k-space noise threat model: parametrisation, feasible set, action, random draws.

:class:`KspaceNoise` is what the searches (:mod:`advrecon.attacks.search`) work on: ``z``
``(n, C, H, W)`` complex, feasible when every coil is in its ball ``||z_i|| <= B_i`` and ``z`` is
zero off the support; acting on the acquisition as ``M(k + z)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_nlf
from advrecon.attacks.noise.projection import (
    coil_norm,
    project_per_coil,
    reference_step,
    scale_per_coil,
    sphere_draw,
)
from advrecon.attacks.objectives import Regions, objective_value, region_metrics
from advrecon.mri import kspace_to_target

__all__ = ["FEASIBLE_RTOL", "RULES", "KspaceNoise", "first_mse", "perturbed_objective"]

#: Update rules of the projected gradient (module docstring of :mod:`advrecon.attacks.noise`).
RULES = ("l2", "reference")

#: Relative slack of :meth:`KspaceNoise.feasible` on each coil's budget (float32 rounding).
FEASIBLE_RTOL = 1e-6


def first_mse(met: dict, data_range: torch.Tensor) -> torch.Tensor:
    """``MSE_0`` of the ``mse_ssim`` objective: the first iterate's MSE, detached, floored."""
    floor = 1e-12 * data_range.to(torch.float64) ** 2 + torch.finfo(torch.float64).tiny
    return torch.maximum(met["mse"].detach(), floor)


def perturbed_objective(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    z: torch.Tensor,
    target: torch.Tensor,
    regions: Regions,
    data_range: torch.Tensor,
    objective: str = "mse",
    mse0: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Objective of ``recon(M(k + z))`` against ``target`` in the regions (differentiable in z).

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: Fully-sampled ``(B, C, H, W)`` complex.
        mask: ``(B or 1, 1, 1 or H, W)`` real.
        num_low_frequencies: As for the reconstructor.
        z: ``(B, C, H, W)`` complex perturbation.
        target: ``(B, h, w)``.
        regions: ``B`` regions (:func:`~advrecon.attacks.objectives.make_regions`).
        data_range: ``(B,)``.
        objective: ``"mse"``, ``"ssim"`` or ``"mse_ssim"``.
        mse0: ``(B,)`` first-iterate MSE for ``"mse_ssim"`` (default: this call's MSE,
            detached).

    Returns:
        ``(objective (B,), reconstruction (B, h, w), metrics dict)``.
    """
    image = recon((kspace + z) * mask, mask, num_low_frequencies)
    met = region_metrics(image, target, regions, data_range)
    if objective == "mse_ssim" and mse0 is None:
        mse0 = first_mse(met, data_range)
    return objective_value(objective, met, mse0), image, met


@dataclass(frozen=True)
class KspaceNoise:
    """Per-coil L2 k-space noise on ``n`` items: the threat model the searches work on.

    Parametrisation: ``z`` ``(n, C, H, W)`` complex. Feasible set: ``||z_i|| <= budget_i`` per
    coil and ``z = 0`` off ``support``. Action on the acquisition: ``M(k + z)``. Map of the
    output back to the target frame: the identity.

    Attributes:
        recon: Reconstructor; kspace: fully-sampled ``(n, C, H, W)``; mask: ``(1 or n, 1, 1 or
        H, W)``; nlf: ``num_low_frequencies``; support: ``(1 or n, 1, 1 or H, W)`` real;
        budget: ``(n, C, 1, 1)`` float64 ``B_i``; target: ``(n, h, w)``; regions, full: ``n``
        item and whole-image regions; data_range: ``(n,)``.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    support: torch.Tensor
    budget: torch.Tensor
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose feasible set is more than ``z = 0``."""
        return self.budget.flatten(1).amax(1) > 0

    def take(self, idx: torch.Tensor) -> KspaceNoise:
        """The items ``idx`` (a ``(p,)`` long tensor; repeats allowed)."""
        rows = idx.tolist()
        return replace(
            self,
            kspace=self.kspace[idx],
            mask=self.mask if self.mask.shape[0] == 1 else self.mask[idx],
            nlf=select_nlf(self.nlf, idx),
            support=self.support if self.support.shape[0] == 1 else self.support[idx],
            budget=self.budget[idx],
            target=self.target[idx],
            regions=self.regions.take(rows),
            full=self.full.take(rows),
            data_range=self.data_range[idx],
        )

    def feasible(self, z: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: every coil within its budget (relative :data:`FEASIBLE_RTOL`, the
        float32 rounding of a projection) and ``z`` zero off the support (NaN: infeasible)."""
        within = (coil_norm(z) <= self.budget * (1 + FEASIBLE_RTOL)).flatten(1).all(1)
        outside = ((z != 0) & (self.support == 0)).flatten(1).any(1)
        return within & ~outside

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """``recon(M(k + z))`` ``(n, h, w)``, already in the target frame."""
        return self.recon((self.kspace + z) * self.mask, self.mask, self.nlf)

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions (``mse0`` set for mse_ssim)."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            mse0 = first_mse(met, self.data_range)
        return objective_value(objective, met, mse0), mse0

    def ascent_step(self, z: torch.Tensor, grad: torch.Tensor, step_size, rule: str):
        """One step of ``rule`` (:mod:`advrecon.attacks.noise`) from ``z``, back in the feasible
        set.

        ``step_size``: a float, or for ``"l2"`` a float64 ``(n, 1, 1, 1)`` tensor (one per item).
        """
        g = torch.nan_to_num(grad) * self.support
        if rule == "reference":
            return reference_step(z, g, self.budget, step_size)
        tiny = torch.finfo(torch.float64).tiny
        step = scale_per_coil(g, step_size * self.budget / coil_norm(g).clamp_min(tiny))
        return project_per_coil(z + step, self.budget)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """The nearest feasible point: ``z`` on the support, each coil in its ball.

        A coil already zero off the support and within its budget in float64 comes back with
        the same values (``z = 0`` bit for bit).
        """
        return project_per_coil(z * self.support, self.budget)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One random point per item on its coils' spheres (a Gaussian draw, rescaled)."""
        n, C, H, W = self.kspace.shape
        sup = self.support.expand(n, 1, *self.support.shape[-2:])
        dt, dev = self.kspace.dtype, self.device
        return torch.stack(
            [
                sphere_draw(g, (C, H, W), dt, dev, sup[j], self.budget[j])
                for j, g in enumerate(generators)
            ]
        )

    def control(self, z: torch.Tensor) -> torch.Tensor:
        """The fully-sampled ``k + z`` as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.kspace + z, tuple(self.target.shape[-2:]))
