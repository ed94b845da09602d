"""The feature-insertion threat model: a small feature's values, their feasible set, its action.

Parametrisation: the feature's pixel values ``q`` ``(n, s, s)`` on a 0/1 shape ``(s, s)``
placed at ``pos`` in the box; the feature image is ``F = sign * place(q * shape)`` (``sign``:
``+1`` bright, ``-1`` dark). Feasible set: ``0 <= q <= bound`` on the shape, ``q = 0`` off it,
and ``sum(q) >= floor``, so the feature cannot shrink to nothing (a vanishing feature is
trivially "not recovered"); ``bound = c_max * mean(X in the box)`` is relative to the local
tissue. Action on the acquisition: ``F`` added through fixed coil maps with the tissue's phase
(:mod:`advrecon.attacks.feature.insertion`), then masked and reconstructed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import select_nlf
from advrecon.attacks.feature.insertion import add_feature
from advrecon.attacks.feature.shapes import place
from advrecon.mri import kspace_to_target

__all__ = ["POLARITY", "FeatureInsertion"]

#: Sign of the feature of each polarity.
POLARITY = {"bright": 1.0, "dark": -1.0}

#: Bisection steps of the projection's lift (``tau`` to ``bound / 2**40``).
LIFT_STEPS = 40


@dataclass(frozen=True)
class FeatureInsertion:
    """Feature insertion on ``n`` items (module docstring).

    Attributes:
        recon: Reconstructor; kspace: fully-sampled ``(n, C, H, W)``; mask, nlf: as for it;
        maps: ``(n, C, H, W)`` fixed coil maps; phase: ``(n, 1, H, W)`` object phase;
        shape: ``(s, s)`` 0/1 shape; pos: ``(n, 2)`` top-left (row, col), recon frame;
        bound: ``(n,)`` largest amplitude ``c_max * mean``; floor: ``(n,)`` least ``sum(q)``;
        sign: ``+1`` bright, ``-1`` dark; clean: ``(n, h, w)`` reconstruction without feature.
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    maps: torch.Tensor
    phase: torch.Tensor
    shape: torch.Tensor
    pos: torch.Tensor
    bound: torch.Tensor
    floor: torch.Tensor
    sign: float
    clean: torch.Tensor

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items with a feature (contrast bound above zero)."""
        return self.bound > 0

    def take(self, idx: torch.Tensor) -> FeatureInsertion:
        """Items ``idx`` ``(p,)`` (repeats allowed)."""
        dev = self.kspace.device
        return replace(
            self, kspace=self.kspace[idx.to(dev)], maps=self.maps[idx.to(dev)],
            mask=self.mask if self.mask.shape[0] == 1 else self.mask[idx.to(dev)],
            nlf=select_nlf(self.nlf, idx.cpu()), phase=self.phase[idx.to(dev)],
            pos=self.pos[idx.cpu()], bound=self.bound[idx.to(dev)],
            floor=self.floor[idx.to(dev)], clean=self.clean[idx.to(dev)],
        )  # fmt: skip

    def at(self, pos: torch.Tensor) -> FeatureInsertion:
        """The same items with the feature at ``pos`` ``(n, 2)``."""
        return replace(self, pos=pos)

    def feature(self, q: torch.Tensor) -> torch.Tensor:
        """The signed feature image ``(n, h, w)`` of patch values ``q`` ``(n, s, s)``."""
        return self.sign * place(q * self.shape, self.pos, self.clean.shape[-2:])

    def reconstruct(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(f(M k_F) (n, h, w), F (n, h, w))``."""
        f = self.feature(q)
        k = add_feature(self.kspace, self.maps, self.phase, f)
        return self.recon(k * self.mask, self.mask, self.nlf), f

    def target(self, q: torch.Tensor) -> torch.Tensor:
        """The fully-sampled image with the feature (RSS, crop) ``(n, h, w)``."""
        f = self.feature(q)
        k = add_feature(self.kspace, self.maps, self.phase, f)
        return kspace_to_target(k, tuple(self.clean.shape[-2:]))

    def feasible(self, q: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: ``0 <= q <= bound`` on the shape, ``q = 0`` off it, ``sum(q) >= floor``.

        The mass holds to the rounding of a sum of ``area`` values in ``q``'s dtype (the
        projection compares sums in that dtype).
        """
        on = self.shape.bool()
        b = self.bound.view(-1, 1, 1).to(q.dtype)
        values = torch.where(on, (q >= 0) & (q <= b), q == 0).flatten(1).all(1)
        area = float(self.shape.sum())
        rtol = 2 * (area + 2) * torch.finfo(q.dtype).eps
        mass = q.double().sum((1, 2)) >= self.floor.double() * (1 - rtol)
        return values & mass

    def project(self, q: torch.Tensor) -> torch.Tensor:
        """Clip to ``[0, bound]`` on the shape, then lift to ``sum >= floor``: the smallest
        uniform ``tau >= 0`` with ``sum(clip(q + tau)) >= floor``, found by bisection.

        The bisection looks in ``[0, bound]``, enough when no value of ``q`` is below
        ``-(1 - min_fill) * bound`` (a step of ``step_size <= 1 - min_fill``); an item it leaves
        short is lifted again in ``[bound, bound - min(q)]`` (``clip(q + bound - min(q))`` is
        the full feature).
        """
        b = self.bound.view(-1, 1, 1).to(q.dtype)
        floor = self.floor.to(q.dtype)

        def clip(tau: torch.Tensor) -> torch.Tensor:
            return torch.minimum(torch.clamp(q + tau, min=0.0), b) * self.shape

        lo = torch.zeros_like(b)
        short = clip(lo).sum((1, 2)) < floor
        if not bool(short.any()):
            return clip(lo)
        hi = _lift(clip, floor, lo, b.clone())
        still = short & (clip(hi).sum((1, 2)) < floor)
        if bool(still.any()):
            low = torch.where(self.shape.bool(), q, torch.inf).amin((1, 2), keepdim=True)
            wide = _lift(clip, floor, hi, torch.maximum(b - low, hi))
            hi = torch.where(still.view(-1, 1, 1), wide, hi)
        return clip(torch.where(short.view(-1, 1, 1), hi, torch.zeros_like(hi)))

    def ascent_step(
        self, q: torch.Tensor, grad: torch.Tensor, step_size: float, rule: str = "sign"
    ):
        """One signed step up ``grad`` (the gradient of the attack's objective, ``-recovered``),
        ``step_size * bound`` per pixel, then :meth:`project` (``rule``: only ``"sign"``)."""
        step = step_size * self.bound.view(-1, 1, 1) * torch.sign(torch.nan_to_num(grad))
        return self.project(q + step.to(q.dtype))

    def start(self) -> torch.Tensor:
        """The uniform feature at full contrast ``(n, s, s)`` (projected: the lift never moves
        it, ``q = bound`` on the shape already is the largest feasible feature)."""
        return self.project(self.bound.view(-1, 1, 1).to(self.shape.dtype) * self.shape)


def _lift(clip, floor: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``hi`` after :data:`LIFT_STEPS` bisection steps of ``tau`` ``(n, 1, 1)`` in ``[lo, hi]``
    for ``sum(clip(tau)) >= floor`` (``hi`` only moves to a ``tau`` that reaches the floor)."""
    for _ in range(LIFT_STEPS):
        mid = (lo + hi) / 2
        ok = clip(mid).sum((1, 2)) >= floor
        hi = torch.where(ok.view(-1, 1, 1), mid, hi)
        lo = torch.where(ok.view(-1, 1, 1), lo, mid)
    return hi
