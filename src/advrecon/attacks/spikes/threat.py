"""The k-space spike threat model: parametrisation, feasible set, action, greedy step, draws.

:class:`KspaceSpikes` is what the searches work on. Its parameter is a dense complex
perturbation ``delta`` ``(n, C, H, W)`` that is non-zero at no more than ``count`` k-space
*positions* ``(ky, kx)``; a position holds one complex value per coil (the same time point of
the readout in every receiver channel, each channel with its own coupling amplitude and phase).
Feasible set: at most ``count`` occupied positions, every coil's value ``|delta_j(p)| <= A``
(``A = a max|k|``, one number per item) and positions only on acquired samples (the mask's
columns inside the acquired padding). Action: ``k -> k + delta`` (a discharge adds to the
received signal), then the mask. Map back to the target frame: the identity.

A spike at offset ``(u, v)`` samples from the k-space centre with value ``s`` adds
``s / sqrt(H W) exp(2 pi i (u (y - H//2) / H + v (x - W//2) / W))`` to that coil's image
(``fft2c`` is orthonormal): a stripe pattern of spatial frequency ``(u / H, v / W)`` cycles per
pixel, the herringbone / corduroy artefact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_nlf
from advrecon.attacks.objectives import Regions, objective_value, region_metrics
from advrecon.mri import kspace_to_target

__all__ = ["FEASIBLE_RTOL", "KspaceSpikes", "acquired_support", "occupied", "unit_phase"]

#: Relative slack of :meth:`KspaceSpikes.feasible` on the amplitude bound (float32 rounding of
#: ``A exp(i phi)``, a few ulps).
FEASIBLE_RTOL = 1e-6


def acquired_support(mask: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Acquired samples: ``(B or 1, 1, 1 or H, W)`` float 0/1, the mask's samples in
    ``[left, right)`` (columns outside the acquired padding hold no measured data)."""
    cols = torch.zeros(mask.shape[-1], dtype=torch.bool, device=mask.device)
    cols[left:right] = True
    return ((mask > 0) & cols).to(torch.float32)


def occupied(delta: torch.Tensor) -> torch.Tensor:
    """``(n, 1, H, W)`` bool: positions where some coil of ``delta`` ``(n, C, H, W)`` is non-zero
    (NaN counts as occupied)."""
    return (delta != 0).any(dim=1, keepdim=True)


def unit_phase(g: torch.Tensor, fill: complex = 0.0) -> torch.Tensor:
    """``g / |g|`` elementwise (complex), ``fill`` where ``g = 0``."""
    mag = g.abs()
    safe = torch.where(mag > 0, mag, torch.ones_like(mag))
    return torch.where(mag > 0, g / safe, torch.full_like(g, fill))


@dataclass(frozen=True)
class KspaceSpikes:
    """At most ``count`` k-space spikes on ``n`` items (module docstring).

    Attributes:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (n, h, w)``.
        kspace: Fully-sampled ``(n, C, H, W)`` complex.
        mask: ``(1 or n, 1, 1 or H, W)`` real; nlf: ``num_low_frequencies``.
        support: ``(1 or n, 1, 1 or H, W)`` float 0/1 acquired samples
            (:func:`acquired_support`).
        bound: ``(n, 1, 1, 1)`` float64 amplitude bound ``A`` per item (absolute).
        count: Largest number of spike positions ``n_s``.
        target: ``(n, h, w)``; regions, full: item and whole-image regions; data_range: ``(n,)``.
        allowed: ``(n, 1, H, W)`` bool positions the ascent step may change (the greedy's
            chosen spikes during the phase refinement), or ``None``: every acquired sample.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    support: torch.Tensor
    bound: torch.Tensor
    count: int
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor
    allowed: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose feasible set is more than ``delta = 0``."""
        return (self.bound.flatten(1)[:, 0] > 0) & (self.count > 0)

    def take(self, idx: torch.Tensor) -> KspaceSpikes:
        """The items ``idx`` (a ``(p,)`` long tensor; repeats allowed)."""
        rows = idx.tolist()
        per = lambda t: t if t.shape[0] == 1 else t[idx]  # noqa: E731
        return replace(
            self, kspace=self.kspace[idx], mask=per(self.mask), nlf=select_nlf(self.nlf, idx),
            support=per(self.support), bound=self.bound[idx], target=self.target[idx],
            regions=self.regions.take(rows), full=self.full.take(rows),
            data_range=self.data_range[idx],
            allowed=None if self.allowed is None else self.allowed[idx],
        )  # fmt: skip

    def restricted(self, allowed: torch.Tensor) -> KspaceSpikes:
        """The same items with the ascent step limited to the positions ``allowed``
        ``(n, 1, H, W)`` bool (the feasible set is unchanged)."""
        return replace(self, allowed=allowed)

    def _free(self) -> torch.Tensor:
        """``(n, 1, H, W)`` bool: positions a step may place or move a spike on."""
        n, _, H, W = self.kspace.shape
        free = (self.support > 0).expand(n, 1, H, W)
        return free if self.allowed is None else free & self.allowed

    # ------------------------------------------------------------------ the feasible set
    def feasible(self, delta: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: at most ``count`` occupied positions, all on acquired samples, every
        value within the bound (relative :data:`FEASIBLE_RTOL`; NaN: infeasible)."""
        occ = occupied(delta)
        few = occ.flatten(1).sum(1) <= self.count
        off = (occ & (self.support == 0)).flatten(1).any(1)
        amp = delta.to(torch.complex128).abs()
        within = (amp <= self.bound * (1 + FEASIBLE_RTOL)).flatten(1).all(1)
        return few & ~off & within

    def project(self, delta: torch.Tensor) -> torch.Tensor:
        """The nearest feasible point (Euclidean): ``delta`` on the free positions, each
        value's modulus clamped to the bound, at the ``count`` positions where keeping the
        clamped values saves the most distance, ``sum_j |z_j|^2 - (|z_j| - A)_+^2`` (the
        energy when every value is within the bound). A feasible ``delta`` on the free
        positions comes back bit for bit."""
        z = torch.where(self._free(), delta, torch.zeros_like(delta))
        amp = z.to(torch.complex128).abs()
        over = (amp - self.bound).clamp_min(0.0)
        saved = (amp**2 - over**2).sum(1, keepdim=True)  # (n, 1, H, W)
        flat = saved.flatten(1)
        if self.count < flat.shape[1]:
            top = flat.topk(self.count, dim=1).indices
            keep = torch.zeros_like(flat, dtype=torch.bool).scatter(1, top, True)
            z = torch.where(keep.view_as(saved) & (saved > 0), z, torch.zeros_like(z))
            amp = torch.where(keep.view_as(saved) & (saved > 0), amp, torch.zeros_like(amp))
        scale = torch.where(amp > self.bound, self.bound / amp.clamp_min(1e-300), 1.0)
        return torch.where(amp > self.bound, z * scale.to(z.real.dtype), z)

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor, step_size, rule: str):
        """Move every free value by ``step_size * A`` along its own gradient direction (the
        complex analogue of a sign step), then :meth:`project` (``rule`` unused)."""
        g = torch.where(self._free(), torch.nan_to_num(grad), torch.zeros_like(grad))
        step = (step_size * self.bound).to(delta.real.dtype) * unit_phase(g)
        return self.project(delta + step)

    def add_spike(self, delta: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        """One greedy step: a full-amplitude spike at the free, not yet occupied position of
        largest first-order gain.

        For a spike ``s`` ``(C,)`` at position ``p`` the first-order gain is
        ``sum_j Re(conj(g_j(p)) s_j) <= A sum_j |g_j(p)|`` (``g`` = ``grad``, PyTorch's gradient
        of a real objective: the direction of steepest ascent), with equality for
        ``s_j = A g_j / |g_j|``. The position with the largest ``sum_j |g_j(p)|`` gets that
        spike (phase 0 where ``g_j = 0``; the first such position on ties). Items without a
        free position are returned unchanged.
        """
        g = torch.nan_to_num(grad)
        free = self._free() & ~occupied(delta)
        gain = g.to(torch.complex128).abs().sum(1, keepdim=True)
        gain = torch.where(free, gain, torch.full_like(gain, -math.inf))
        best = gain.flatten(1).argmax(1)
        onehot = torch.zeros_like(gain.flatten(1), dtype=torch.bool)
        onehot = onehot.scatter(1, best[:, None], True).view_as(free) & free
        spike = self.bound.to(delta.real.dtype) * unit_phase(g, fill=1.0)
        return torch.where(onehot, spike.to(delta.dtype), delta)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One random point per item: ``count`` distinct acquired positions (uniform), every
        coil at the full amplitude ``A`` with a uniform random phase."""
        n, C, H, W = self.kspace.shape
        free = self._free().reshape(n, H * W)
        out = torch.zeros((n, C, H * W), dtype=self.kspace.dtype, device=self.device)
        for j, g in enumerate(generators):
            cand = torch.nonzero(free[j]).flatten()
            m = min(self.count, cand.numel())
            u = torch.rand(cand.numel(), generator=g, device=g.device, dtype=torch.float64)
            pick = cand[u.topk(m).indices.to(self.device)]
            phi = torch.rand((C, m), generator=g, device=g.device, dtype=torch.float64)
            val = torch.polar(self.bound[j, 0].expand(C, m), 2 * math.pi * phi.to(self.device))
            out[j][:, pick] = val.to(out.dtype)
        return out.view(n, C, H, W)

    # ------------------------------------------------------------------ action and scores
    def reconstruct(self, delta: torch.Tensor) -> torch.Tensor:
        """``recon(M (k + delta))`` ``(n, h, w)``, already in the target frame."""
        return self.recon((self.kspace + delta) * self.mask, self.mask, self.nlf)

    def control(self, delta: torch.Tensor) -> torch.Tensor:
        """The fully-sampled ``k + delta`` as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.kspace + delta, tuple(self.target.shape[-2:]))

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions (``mse0`` set for mse_ssim)."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            floor = 1e-12 * self.data_range.to(torch.float64) ** 2
            mse0 = torch.maximum(met["mse"].detach(), floor + torch.finfo(torch.float64).tiny)
        return objective_value(objective, met, mse0), mse0
