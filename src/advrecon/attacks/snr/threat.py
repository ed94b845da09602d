"""The SNR-shift threat model: added complex Gaussian noise at ``m`` times the thermal level.

:class:`ThermalNoise` holds the mathematics of ``n`` items. Parameter: ``z`` ``(n, C, H, W)``
complex, zero off the support ``Omega`` (the acquired columns ``[padding_left,
padding_right)``, or only the measured ones with ``measured_only``). The budget is a multiple
``m`` of each coil's thermal noise level ``sigma_i`` (:func:`advrecon.noise_level.
estimate_noise_sigma`, the complex standard deviation of one k-space sample), as a root mean
square over the ``n_Omega`` samples of the support::

    rms_i(z) = ||z_i||_2 / sqrt(n_Omega)          feasible:  rms_i(z) <= m sigma_i (1 + 1e-6)

which is the unit of the noise attack's ``noise_to_thermal`` (``||z_i|| / (sigma_i
sqrt(n_i))``, the same function computes both), so the two tables compare directly.

Random draws (:meth:`ThermalNoise.draw`) are a complex Gaussian on the support *rescaled* per
coil so that ``rms_i(z) = m sigma_i`` exactly (to float32 rounding, from below): a point of the
sphere, like the noise attack's random baseline. Rescaling removes the chi-square spread of the
norm of a plain Gaussian draw (relative ``1 / (2 sqrt(n_Omega))``, 0.1 % on a fastMRI knee
coil), so that a budget means the same noise power on every draw and compares with the
adversarial per-coil L2 balls; the direction is uniform on the sphere, as for white noise.
The 1e-6 slack of :meth:`ThermalNoise.feasible` is the float32 rounding of the rescaling.

Action on the acquisition: ``M (k + z)``; back to the target frame: the identity. The control
adds the same ``z`` to the fully-sampled k-space (RSS, crop; no model).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_nlf
from advrecon.attacks.noise.projection import coil_norm, sphere_draw
from advrecon.attacks.objectives import Regions
from advrecon.mri import kspace_to_target

__all__ = ["FEASIBLE_RTOL", "ThermalNoise"]

#: Relative slack of :meth:`ThermalNoise.feasible` on ``m sigma_i`` (float32 rounding).
FEASIBLE_RTOL = 1e-6


@dataclass(frozen=True)
class ThermalNoise:
    """Gaussian k-space noise at ``m`` thermal sigmas on ``n`` items (module docstring).

    Attributes:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (n, h, w)``.
        kspace: Fully-sampled complex ``(n, C, H, W)``.
        mask: ``(1 or n, 1, 1 or H, W)`` undersampling mask.
        nlf: ``num_low_frequencies`` of the mask.
        support: ``(1 or n, 1, 1 or H, W)`` real 0/1, the samples ``z`` may occupy.
        sigma: ``(n, C)`` float64 thermal noise std per coil (complex, per k-space sample).
        multiple: ``(n,)`` float64 budget ``m`` in units of ``sigma``.
        target: ``(n, h, w)`` RSS target.
        regions, full: ``n`` item and whole-image regions.
        data_range: ``(n,)``.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    support: torch.Tensor
    sigma: torch.Tensor
    multiple: torch.Tensor
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def n_support(self) -> torch.Tensor:
        """``(n,)`` float64 number of k-space samples in each item's support (per coil)."""
        n, _, H, W = self.kspace.shape
        sup = self.support.to(torch.float64).expand(-1, 1, H, W)
        return sup.sum(dim=(1, 2, 3)).expand(n)

    @property
    def budget(self) -> torch.Tensor:
        """``(n, C, 1, 1)`` float64 L2 radius ``m sigma_i sqrt(n_Omega)`` of every coil."""
        radius = self.multiple[:, None] * self.sigma * self.n_support.sqrt()[:, None]
        return radius[..., None, None]

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose feasible set is more than ``z = 0`` (``m > 0``, some
        ``sigma_i > 0``)."""
        return self.budget.flatten(1).amax(1) > 0

    def take(self, idx: torch.Tensor) -> ThermalNoise:
        """The items ``idx`` (a ``(p,)`` long tensor; repeats allowed)."""
        rows = idx.tolist()
        per = lambda t: t if t.shape[0] == 1 else t[idx]  # noqa: E731
        return replace(
            self, kspace=self.kspace[idx], mask=per(self.mask), nlf=select_nlf(self.nlf, idx),
            support=per(self.support), sigma=self.sigma[idx], multiple=self.multiple[idx],
            target=self.target[idx], regions=self.regions.take(rows),
            full=self.full.take(rows), data_range=self.data_range[idx],
        )  # fmt: skip

    def rms(self, z: torch.Tensor) -> torch.Tensor:
        """``(n, C)`` float64 root mean square of every coil of ``z`` over the support."""
        return coil_norm(z)[..., 0, 0] / self.n_support.sqrt()[:, None]

    def feasible(self, z: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: every coil's RMS within ``m sigma_i (1 + FEASIBLE_RTOL)`` and ``z``
        zero off the support (NaN: infeasible)."""
        within = (coil_norm(z) <= self.budget * (1 + FEASIBLE_RTOL)).flatten(1).all(1)
        outside = ((z != 0) & (self.support == 0)).flatten(1).any(1)
        return within & ~outside

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One point per item: a complex Gaussian on the support, each coil rescaled to RMS
        ``m sigma_i`` (one ``randn`` of ``(C, H, W)`` from the item's generator)."""
        n, C, H, W = self.kspace.shape
        sup = self.support.expand(n, 1, *self.support.shape[-2:])
        budget = self.budget
        return torch.stack(
            [
                sphere_draw(g, (C, H, W), self.kspace.dtype, self.device, sup[j], budget[j])
                for j, g in enumerate(generators)
            ]
        )

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """``recon(M(k + z))`` ``(n, h, w)``, already in the target frame."""
        return self.recon((self.kspace + z) * self.mask, self.mask, self.nlf)

    def clean(self) -> torch.Tensor:
        """``recon(M k)`` ``(n, h, w)``: no noise added (not a point of the search)."""
        return self.recon(self.kspace * self.mask, self.mask, self.nlf)

    def control(self, z: torch.Tensor) -> torch.Tensor:
        """The fully-sampled ``k + z`` as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.kspace + z, tuple(self.target.shape[-2:]))
