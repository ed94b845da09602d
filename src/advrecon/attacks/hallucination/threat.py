"""The hallucination threat model: per-coil k-space noise with the hallucination objective.

The perturbation, its feasible set and its action are those of
:class:`advrecon.attacks.noise.KspaceNoise` (``||z_i|| <= eta ||k_i||`` per coil, zero off the
acquired columns, ``M(k + z)``), which it wraps unchanged; only the objective differs. With
``r(z) = f(M(k + z))``, the clean reconstruction ``r0 = f(M k)``, the wanted feature ``F`` and
its support ``S_f``, the objective (maximised) is

    ``-mean_{S_f} (r(z) - (r0 + F))^2 - mu * mean_{outside S_f} (r(z) - r0)^2``.

The reference is the *clean reconstruction* ``r0`` rather than the fully-sampled ``X``: the
attack is asked to add the feature, not to repair the model's own errors, and "the rest stays
unchanged" means unchanged from what the model showed without the attack.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from advrecon.attacks.noise import KspaceNoise

__all__ = ["Hallucination"]


@dataclass(frozen=True)
class Hallucination:
    """Per-coil k-space noise (``noise``) with the hallucination objective (module docstring).

    Attributes:
        noise: The :class:`KspaceNoise` of the items (parametrisation, feasible set, action).
        clean: ``(n, h, w)`` reconstruction without noise; feature: ``F`` ``(n, h, w)``;
        support: ``S_f`` ``(n, h, w)`` 0/1; mu: weight of the rest of the image.
    """

    noise: KspaceNoise
    clean: torch.Tensor
    feature: torch.Tensor
    support: torch.Tensor
    mu: float

    @property
    def device(self) -> torch.device:
        return self.noise.device

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items whose feasible set is more than ``z = 0``."""
        return self.noise.active

    def take(self, idx: torch.Tensor) -> Hallucination:
        """Items ``idx`` ``(p,)`` (repeats allowed)."""
        return replace(
            self, noise=self.noise.take(idx), clean=self.clean[idx], feature=self.feature[idx],
            support=self.support[idx],
        )  # fmt: skip

    def reconstruct(self, z: torch.Tensor) -> torch.Tensor:
        """``f(M(k + z))`` ``(n, h, w)``."""
        return self.noise.reconstruct(z)

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)``; ``objective`` is ignored (there is one)."""
        d = (image - self.clean).double()
        s = self.support.double()
        inside = ((d - self.feature) ** 2 * s).flatten(1).sum(1) / s.flatten(1).sum(1)
        rest = (d**2 * (1 - s)).flatten(1).sum(1) / (1 - s).flatten(1).sum(1).clamp_min(1)
        return -(inside + self.mu * rest), mse0

    def feasible(self, z: torch.Tensor) -> torch.Tensor:
        """``(n,)`` bool: ``z`` ``(n, C, H, W)`` zero off the support and every coil in its
        ball ``||z_i|| <= budget_i`` (to the rounding of ``z``'s dtype: the projection scales
        each coil by a factor rounded down, then rounds every product)."""
        noise = self.noise
        off = (z != 0) & (noise.support == 0)
        norms = torch.linalg.vector_norm(z.to(torch.complex128), dim=(-2, -1))
        rtol = 4 * torch.finfo(z.real.dtype).eps
        within = norms <= noise.budget.flatten(1).double() * (1 + rtol)
        return ~off.flatten(1).any(1) & within.all(1)

    def ascent_step(self, z: torch.Tensor, grad: torch.Tensor, step_size, rule: str):
        """:meth:`KspaceNoise.ascent_step`."""
        return self.noise.ascent_step(z, grad, step_size, rule)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """:meth:`KspaceNoise.project`: ``z`` on the support, each coil in its ball."""
        return self.noise.project(z)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """:meth:`KspaceNoise.draw`: one random point per item on its coils' spheres."""
        return self.noise.draw(generators)
