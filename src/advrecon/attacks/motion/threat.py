"""The inter-shot rigid motion threat model the searches work on (:class:`RigidMotion`).

Shot 0 is the reference: it has no motion, so the image frame is the target's frame and no map
back is needed; shots ``1 ... shots - 1`` each get an in-plane rotation ``theta_s`` (degrees,
about the pixel-grid centre, counter-clockwise) followed by a translation
``t_s = (t_y, t_x)`` (pixels: rows, columns). Feasible set (a box): ``|theta_s| <= theta_max``
and ``|t_y|, |t_x| <= t_max`` *per axis*.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_nlf
from advrecon.attacks.motion.acquisition import moved_kspace
from advrecon.attacks.objectives import Regions, objective_value, region_metrics
from advrecon.mri import kspace_to_target

__all__ = ["RigidMotion"]


@dataclass(frozen=True)
class RigidMotion:
    """Inter-shot rigid motion on ``n`` items: the threat model the searches work on.

    Parametrisation: ``delta`` ``(n, S, 3)`` float64 ``(theta_deg, t_y, t_x)`` per shot.
    Feasible set: ``|delta| <= bound * free`` elementwise (a box; ``free`` zero for shot 0 and,
    in a single-shot search, for every shot but one). Action:
    :func:`~advrecon.attacks.motion.acquisition.moved_kspace`, then the mask. Back to the
    target frame: the identity (shot 0 does not move). Every iterate of a search is an output
    of :meth:`draw`, :meth:`project` or :meth:`ascent_step`, all in the box
    (:meth:`feasible`).

    Attributes:
        recon: Reconstructor; kspace: fully sampled ``(n, C, H, W)``; mask: ``(1 or n, 1, 1 or
        H, W)``; nlf: ``num_low_frequencies``; shots: ``(1 or n, W)`` shot of every column;
        maps: fixed-coil maps ``(n, C, H, W)`` or ``None`` (coils move); bound: ``(n, 1, 3)``
        float64 ``(theta_max, t_max, t_max)``; free: ``(n, S, 1)`` float64 0/1; target:
        ``(n, h, w)``; regions, full: item and whole-image regions; data_range: ``(n,)``;
        pad_deg: padding angle of the Fourier rotation (batch independence).
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    shots: torch.Tensor
    maps: torch.Tensor | None
    bound: torch.Tensor
    free: torch.Tensor
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor
    pad_deg: float

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def limit(self) -> torch.Tensor:
        """``(n, S, 3)`` float64 half-widths of the box."""
        return self.bound * self.free

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items that can move at all."""
        return self.limit.flatten(1).amax(1) > 0

    def feasible(self, delta: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: ``delta`` ``(n, S, 3)`` lies in the box (shot 0 and every shot that
        is not free still; the others within ``theta_max`` and ``t_max`` per axis)."""
        return (delta.abs() <= self.limit).flatten(1).all(1)

    def take(self, idx: torch.Tensor) -> RigidMotion:
        """The items ``idx`` (``(p,)`` long; repeats allowed)."""
        rows = idx.tolist()
        per = lambda t: t if t.shape[0] == 1 else t[idx]  # noqa: E731
        return replace(
            self, kspace=self.kspace[idx], mask=per(self.mask), nlf=select_nlf(self.nlf, idx),
            shots=per(self.shots), maps=None if self.maps is None else self.maps[idx],
            bound=self.bound[idx], free=self.free[idx], target=self.target[idx],
            regions=self.regions.take(rows), full=self.full.take(rows),
            data_range=self.data_range[idx],
        )  # fmt: skip

    def moved(self, delta: torch.Tensor) -> torch.Tensor:
        """Fully-sampled k-space ``(n, C, H, W)`` of the motion ``delta``."""
        return moved_kspace(self.kspace, delta, self.shots, self.maps, self.pad_deg)

    def reconstruct(self, delta: torch.Tensor) -> torch.Tensor:
        """``recon(M k(delta))`` ``(n, h, w)``, in the target frame."""
        return self.recon(self.moved(delta) * self.mask, self.mask, self.nlf)

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            floor = 1e-12 * self.data_range.to(torch.float64) ** 2
            mse0 = torch.maximum(met["mse"].detach(), floor + torch.finfo(torch.float64).tiny)
        return objective_value(objective, met, mse0), mse0

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """The nearest point of the box: ``delta`` clipped to ``[-limit, limit]``."""
        lim = self.limit
        return torch.minimum(torch.maximum(delta, -lim), lim)

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor, step_size: float, rule: str):
        """Signed step relative to the bound, then clipping to the box (``rule`` unused)."""
        lim = self.limit
        return self.project(delta + step_size * lim * torch.sign(torch.nan_to_num(grad)))

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One uniform point of the box per item."""
        S = self.free.shape[1]
        u = torch.stack(
            [
                torch.rand((S, 3), generator=g, dtype=torch.float64, device=g.device)
                for g in generators
            ]
        ).to(self.device)
        return (2 * u - 1) * self.limit

    def still(self) -> torch.Tensor:
        """``(n, S, 3)`` no motion, as a point of the box (:meth:`project` of zeros)."""
        return self.project(self.limit * 0)

    def control(self, delta: torch.Tensor) -> torch.Tensor:
        """The fully-sampled moved k-space as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.moved(delta), tuple(self.target.shape[-2:]))
