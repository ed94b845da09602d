"""The B0 off-resonance threat model the searches work on (:class:`OffResonance`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_mask, select_nlf
from advrecon.attacks.objectives import Regions, objective_value, region_metrics
from advrecon.attacks.offresonance.fieldmap import TOLERANCE, draw, field_map, max_abs, project
from advrecon.attacks.offresonance.signal import offresonance_kspace
from advrecon.mri import kspace_to_target

__all__ = ["OffResonance"]


@dataclass(frozen=True)
class OffResonance:
    """B0 off-resonance on ``n`` items: the threat model the searches work on.

    Parametrisation: ``delta`` ``(n, K)`` float64, the field map's Legendre coefficients in Hz
    (:mod:`~advrecon.attacks.offresonance.fieldmap`). Feasible set: ``max|df| <= bound`` over
    the ``(H, W)`` grid (up to float64 rounding, :data:`~.fieldmap.TOLERANCE`). Action: the
    time-segmented signal (:func:`~advrecon.attacks.offresonance.signal.offresonance_kspace`,
    the LS interpolator fitted on ``[-bound, bound]``) on the acquired columns (fastMRI's
    zero-padded columns are never acquired and keep their values), then the mask. Back to the target
    frame: the identity -- a scanner shows the distorted image, so region metrics include the
    geometric shift. Every iterate of a search is an output of :meth:`draw`, :meth:`project`
    or :meth:`ascent_step`, all feasible (:meth:`feasible`).

    Attributes:
        recon: Reconstructor; kspace: fully sampled ``(n, C, H, W)``; mask: ``(1 or n, 1, 1 or
        H, W)``; nlf: ``num_low_frequencies``; phi: ``(K, H, W)`` float64 basis; bound: ``(n,)``
        float64 Hz; bandwidth: readout bandwidth per pixel (Hz/pixel); segments: ``L``;
        interpolator: ``"ls"`` or ``"hanning"``; columns: ``(W,)`` bool acquired columns or
        ``None`` (all); target: ``(n, h, w)``; regions, full: item and
        whole-image regions; data_range: ``(n,)``.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    phi: torch.Tensor
    bound: torch.Tensor
    bandwidth: float
    segments: int
    interpolator: str
    columns: torch.Tensor | None
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose field map can be non-zero."""
        return self.bound > 0

    def take(self, idx: torch.Tensor) -> OffResonance:
        """The items ``idx`` (``(p,)`` long; repeats allowed)."""
        rows = idx.tolist()
        return replace(
            self, kspace=self.kspace[idx], mask=select_mask(self.mask, idx),
            nlf=select_nlf(self.nlf, idx), bound=self.bound[idx], target=self.target[idx],
            regions=self.regions.take(rows), full=self.full.take(rows),
            data_range=self.data_range[idx],
        )  # fmt: skip

    def field(self, delta: torch.Tensor) -> torch.Tensor:
        """``(n, H, W)`` float64 field maps (Hz) of the coefficients ``delta``."""
        return field_map(delta, self.phi)

    def acquired(self, delta: torch.Tensor) -> torch.Tensor:
        """Fully-sampled k-space ``(n, C, H, W)`` under the field maps of ``delta``."""
        out = offresonance_kspace(
            self.kspace, self.field(delta), self.bandwidth, self.segments, self.interpolator,
            self.bound,
        )  # fmt: skip
        return out if self.columns is None else torch.where(self.columns, out, self.kspace)

    def reconstruct(self, delta: torch.Tensor) -> torch.Tensor:
        """``recon(M k(delta))`` ``(n, h, w)``: the target frame is the image frame."""
        return self.recon(self.acquired(delta) * self.mask, self.mask, self.nlf)

    def control(self, delta: torch.Tensor) -> torch.Tensor:
        """The fully-sampled distorted k-space as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.acquired(delta), tuple(self.target.shape[-2:]))

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            floor = 1e-12 * self.data_range.to(torch.float64) ** 2
            mse0 = torch.maximum(met["mse"].detach(), floor + torch.finfo(torch.float64).tiny)
        return objective_value(objective, met, mse0), mse0

    def feasible(self, delta: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: finite coefficients with ``max|df| <= bound`` (float64 rounding)."""
        m = max_abs(delta, self.phi)
        ok = m <= self.bound * (1 + TOLERANCE)
        return ok & torch.isfinite(delta).all(dim=1)

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """Scaled into the feasible set (:func:`~.fieldmap.project`: radial, not Euclidean)."""
        return project(delta, self.phi, self.bound)

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor, step_size, rule: str):
        """Signed step of ``step_size * bound`` Hz per coefficient, then :meth:`project`
        (``rule`` unused; ``step_size`` a float or ``(n, 1)``)."""
        step = step_size * self.bound[:, None] * torch.sign(torch.nan_to_num(grad))
        return self.project(delta + step)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One random field map per item on the boundary ``max|df| = bound``
        (:func:`~.fieldmap.draw`)."""
        return draw(generators, self.phi, self.bound)
