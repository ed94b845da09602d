"""The receiver-drift threat model the searches work on (:class:`ReceiverDrift`).

Parameter ``delta`` ``(n, C, 2)`` float64 per item and coil, in the budget's units:
``a = 100 (|g| - 1)`` (percent) and ``phi = arg g`` (degrees). Feasible set (a box):
``|a| <= gain_percent`` and ``|phi| <= phase_deg`` per coil, the item's bounds; projection:
clamping. Action: the gains multiply the columns outside
the calibration band (:func:`~advrecon.attacks.drift.acquisition.drifted_kspace`), then the
mask. Map back: the identity (a gain moves nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_nlf
from advrecon.attacks.drift.acquisition import drifted_kspace, gains
from advrecon.attacks.objectives import Regions, objective_value, region_metrics
from advrecon.mri import kspace_to_target

__all__ = ["ReceiverDrift"]


@dataclass(frozen=True)
class ReceiverDrift:
    """Per-coil receiver gain drift between calibration and scan on ``n`` items.

    Every iterate of a search is an output of :meth:`draw`, :meth:`project` or
    :meth:`ascent_step`, all in the box (:meth:`feasible`).

    Attributes:
        recon: Reconstructor; kspace: fully sampled ``(n, C, H, W)``; mask: ``(1 or n, 1, 1 or
        H, W)``; nlf: ``num_low_frequencies``; drifting: ``(1 or n, W)`` bool, the columns
        outside the calibration band; bound: ``(n, 1, 2)`` float64 ``(gain percent, phase
        degrees)``; target: ``(n, h, w)``; regions, full: item and whole-image regions;
        data_range: ``(n,)``.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    drifting: torch.Tensor
    bound: torch.Tensor
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose box is more than the identity ``g = 1``."""
        return self.bound.flatten(1).amax(1) > 0

    def feasible(self, delta: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: every coil's ``|a| <= gain`` and ``|phi| <= phase`` (NaN: not)."""
        return (delta.abs() <= self.bound).flatten(1).all(1)

    def take(self, idx: torch.Tensor) -> ReceiverDrift:
        """The items ``idx`` (``(p,)`` long; repeats allowed)."""
        rows = idx.tolist()
        per = lambda t: t if t.shape[0] == 1 else t[idx]  # noqa: E731
        return replace(
            self, kspace=self.kspace[idx], mask=per(self.mask), nlf=select_nlf(self.nlf, idx),
            drifting=per(self.drifting), bound=self.bound[idx], target=self.target[idx],
            regions=self.regions.take(rows), full=self.full.take(rows),
            data_range=self.data_range[idx],
        )  # fmt: skip

    def drifted(self, delta: torch.Tensor) -> torch.Tensor:
        """Fully sampled k-space ``(n, C, H, W)`` under the gains of ``delta``."""
        return drifted_kspace(self.kspace, gains(delta), self.drifting)

    def reconstruct(self, delta: torch.Tensor) -> torch.Tensor:
        """``recon(M k(delta))`` ``(n, h, w)`` (already in the target frame)."""
        return self.recon(self.drifted(delta) * self.mask, self.mask, self.nlf)

    def control(self, delta: torch.Tensor) -> torch.Tensor:
        """The fully sampled drifted k-space as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.drifted(delta), tuple(self.target.shape[-2:]))

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions (``mse0`` set for mse_ssim)."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            floor = 1e-12 * self.data_range.to(torch.float64) ** 2
            mse0 = torch.maximum(met["mse"].detach(), floor + torch.finfo(torch.float64).tiny)
        return objective_value(objective, met, mse0), mse0

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """The nearest point of the box: ``delta`` clamped to ``[-bound, bound]``."""
        return torch.minimum(torch.maximum(delta, -self.bound), self.bound)

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor, step_size, rule: str):
        """Signed step relative to the bounds, then clamping (``rule`` unused)."""
        step = step_size * self.bound * torch.sign(torch.nan_to_num(grad))
        return self.project(delta + step)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One uniform point of the box per item ``(n, C, 2)``."""
        C = self.kspace.shape[1]
        u = torch.stack(
            [torch.rand((C, 2), generator=g, dtype=torch.float64, device=g.device)
             for g in generators]
        ).to(self.device)  # fmt: skip
        return (2 * u - 1) * self.bound

    def identity(self) -> torch.Tensor:
        """``(n, C, 2)`` no drift (``g = 1``), as a point of the box (:meth:`project` of 0)."""
        C = self.kspace.shape[1]
        return self.project(torch.zeros((self.bound.shape[0], C, 2), dtype=self.bound.dtype,
                                        device=self.device))  # fmt: skip
