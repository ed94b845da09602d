"""The gradient-guided greedy spike search, with an optional phase refinement.

Greedy (``count`` rounds): from ``delta = 0``, compute the gradient of the region objective with
respect to the perturbation, add a full-amplitude spike at the acquired, unoccupied position
of largest first-order gain with its per-coil phases aligned to the gradient
(:meth:`~advrecon.attacks.spikes.threat.KspaceSpikes.add_spike`), recompute, repeat. Every
prefix of the greedy sequence (0, 1, ..., ``count`` spikes) is feasible and evaluated.

Refinement (``refine_steps`` rounds, optional): projected steps on the values of the chosen
positions only, started from the best greedy prefix: every value moves by ``step_size * A``
along its own gradient direction and its modulus is clamped to ``A``
(:meth:`~advrecon.attacks.spikes.threat.KspaceSpikes.ascent_step` on the threat model
restricted to the chosen positions). This mainly turns the phases (a perpendicular step of
``0.5 A`` turns a phase by about 27 degrees) and may lower an amplitude where that helps.

The best evaluated point is returned (ties keep the earlier one). Cost per item:
``count + refine_steps`` forward+backward passes and one forward pass (the same accounting as
:class:`~advrecon.attacks.search.ProjectedGradient` with ``steps = count + refine_steps``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advrecon.attacks.search import run_active
from advrecon.attacks.spikes.threat import occupied

__all__ = ["GreedySpikes"]


@dataclass
class _Best:
    """The best evaluated point of every item so far (value, point, image, gradient, index)."""

    val: torch.Tensor
    z: torch.Tensor
    img: torch.Tensor | None = None
    grad: torch.Tensor | None = None
    step: torch.Tensor | None = None

    def update(self, t: int, val, z, img, grad) -> None:
        """Keep ``(z, img, grad)`` of the items whose ``val`` beats the best so far."""
        take = val > self.val
        shape = (-1, *[1] * (z.ndim - 1))
        self.val = torch.where(take, val, self.val)
        self.z = torch.where(take.view(shape), z, self.z)
        old_img, old_grad = (img, grad) if self.img is None else (self.img, self.grad)
        self.img = torch.where(take[:, None, None], img, old_img)
        if grad is not None:
            self.grad = torch.where(take.view(shape), grad, grad if old_grad is None else old_grad)
        fill = torch.full_like(take, t, dtype=torch.long)
        self.step = fill if self.step is None else torch.where(take, fill, self.step)


@dataclass(frozen=True)
class GreedySpikes:
    """Greedy spike placement then phase refinement (module docstring).

    Attributes:
        count: Spikes placed (the threat model's ``count``).
        refine_steps: Projected steps on the chosen spikes' values (0: none).
        step_size: Refinement step, relative to the amplitude bound ``A``.
        objective: ``"mse"``, ``"ssim"`` or ``"mse_ssim"`` in the region.
    """

    count: int
    refine_steps: int
    step_size: float
    objective: str

    @property
    def steps(self) -> int:
        """Forward+backward passes per item (the trace has ``steps + 1`` entries)."""
        return self.count + self.refine_steps

    def _evaluate(self, threat: Any, z: torch.Tensor, mse0, need_grad: bool):
        """``(value (n,) float64, image, gradient or None, mse0)`` at ``z``."""
        with torch.set_grad_enabled(need_grad):
            zt = z.detach().requires_grad_(need_grad)
            img = threat.reconstruct(zt)
            obj, mse0 = threat.objective_of(img, self.objective, mse0)
            grad = torch.autograd.grad(obj.sum(), zt)[0] if need_grad else None
        return obj.detach().to(torch.float64), img.detach(), grad, mse0

    def run(self, threat: Any, delta: torch.Tensor):
        """Search from ``delta`` ``(n, C, H, W)`` (normally zero).

        Returns:
            ``(delta, image (n, h, w), trace (n, steps + 1) float64, best_step (n,) long)``:
            trace entries ``0 ... count`` are the greedy prefixes, the rest the refinement.
        """
        n, dev = delta.shape[0], delta.device
        trace = torch.zeros((n, self.steps + 1), dtype=torch.float64, device=dev)
        best = _Best(torch.full((n,), -torch.inf, dtype=torch.float64, device=dev), delta)
        z, mse0 = delta, None
        for t in range(self.count + 1):
            need_grad = t < self.count or self.refine_steps > 0
            val, img, grad, mse0 = self._evaluate(threat, z, mse0, need_grad)
            trace[:, t] = val
            best.update(t, val, z, img, grad)
            if t < self.count:
                z = threat.add_spike(z, grad)
        if self.refine_steps > 0:
            sub = threat.restricted(occupied(z))  # every greedy position may be refined
            z, grad = best.z, best.grad
            for r in range(1, self.refine_steps + 1):
                z = sub.ascent_step(z, grad, self.step_size, "l2")
                val, img, grad, mse0 = self._evaluate(threat, z, mse0, r < self.refine_steps)
                trace[:, self.count + r] = val
                best.update(self.count + r, val, z, img, None)
        return best.z, best.img, trace, best.step

    def run_active(self, threat: Any, delta: torch.Tensor, clean: torch.Tensor):
        """:func:`~advrecon.attacks.search.run_active` with this search (items with a zero
        bound keep ``delta = 0`` and the clean image, at no cost)."""
        return run_active(self, threat, delta, clean)
