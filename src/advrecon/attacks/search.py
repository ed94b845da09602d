"""Searches over a threat model's feasible set: projected gradient ascent and random draws.

A search knows nothing of k-space or angles: it asks the threat model (e.g.
:class:`advrecon.attacks.noise.KspaceNoise`) for

* ``reconstruct(delta)`` -- the model's output for the perturbed acquisition, in the target frame;
* ``objective_of(image, objective, mse0)`` -- the objective ``(n,)`` and the ``mse_ssim`` anchor;
* ``ascent_step(delta, grad, step_size, rule)`` -- one step, back in the feasible set;
* ``draw(generators)`` -- a random point of the feasible set, one per item;
* ``active`` / ``take(index)`` -- items that can move, and a subset of items.

The exhaustive angle grid is a search too; it lives with its threat model
(:func:`advrecon.attacks.rotation.rotation_attack`), since one sweep serves every window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advrecon.attacks._common import chunk_ranges

__all__ = ["ProjectedGradient", "random_draws"]


@dataclass(frozen=True)
class ProjectedGradient:
    """Projected gradient ascent (like a torchattacks attack: ``steps``, ``step_size``).

    Attributes:
        steps: Gradient steps (the objective is evaluated ``steps + 1`` times).
        step_size: Normalised step (the threat model scales it, e.g. by each coil's budget).
        rule: ``"l2"``: keep the best iterate per item; ``"reference"``: the last iterate.
        objective: ``"mse"``, ``"ssim"`` or ``"mse_ssim"``.
    """

    steps: int
    step_size: float
    rule: str
    objective: str

    def run(self, threat: Any, delta: torch.Tensor):
        """Ascend from ``delta`` ``(n, ...)``.

        Returns:
            ``(delta, image (n, h, w), trace (n, steps + 1) float64, best_step (n,) long)``.
        """
        n, dev = delta.shape[0], delta.device
        best_val = torch.full((n,), -torch.inf, dtype=torch.float64, device=dev)
        best_z, best_img = delta.clone(), None
        best_step = torch.zeros(n, dtype=torch.long, device=dev)
        trace = torch.zeros((n, self.steps + 1), dtype=torch.float64, device=dev)
        mse0, z = None, delta
        for t in range(self.steps + 1):
            need_grad = t < self.steps
            with torch.set_grad_enabled(need_grad):
                zt = z.detach().requires_grad_(need_grad)
                img = threat.reconstruct(zt)
                obj, mse0 = threat.objective_of(img, self.objective, mse0)
                if need_grad:
                    (grad,) = torch.autograd.grad(obj.sum(), zt)
            val, img = obj.detach(), img.detach()
            trace[:, t] = val
            best_img = img.clone() if best_img is None else best_img
            take = (val > best_val) if self.rule == "l2" else torch.ones_like(val, dtype=torch.bool)
            best_val = torch.where(take, val, best_val)
            best_step = torch.where(take, torch.full_like(best_step, t), best_step)
            best_z = torch.where(take.view(-1, *[1] * (z.ndim - 1)), zt.detach(), best_z)
            best_img = torch.where(take[:, None, None], img, best_img)
            if not need_grad:
                break
            z = threat.ascent_step(zt.detach(), grad, self.step_size, self.rule)
        return best_z, best_img, trace, best_step

    def run_active(self, threat: Any, delta: torch.Tensor, clean: torch.Tensor):
        """:meth:`run` on the items that can move (``threat.active``); the others cost nothing.

        An item with an empty feasible set (e.g. ``eta = 0``) keeps ``delta = 0``, its
        reconstruction is ``clean`` ``(n, h, w)`` (passed in) and its trace the constant clean
        objective, so no forward or gradient step is spent on it.
        """
        active = threat.active
        if bool(active.all()):
            return self.run(threat, delta)
        n, dev = delta.shape[0], delta.device
        z_out, img_out = torch.zeros_like(delta), clean.detach().clone()
        trace = torch.zeros((n, self.steps + 1), dtype=torch.float64, device=dev)
        best_step = torch.zeros(n, dtype=torch.long, device=dev)
        idle = torch.nonzero(~active).flatten()
        obj, _ = threat.take(idle).objective_of(clean[idle], self.objective)
        trace[idle] = obj.detach()[:, None].to(trace.dtype)
        idx = torch.nonzero(active).flatten()
        if idx.numel():
            zi, img, tr, bs = self.run(threat.take(idx), delta[idx])
            z_out[idx], img_out[idx], trace[idx], best_step[idx] = zi, img.to(img_out.dtype), tr, bs
        return z_out, img_out, trace, best_step


def random_draws(threat: Any, generators: list, n_random: int, chunk_size: int | None):
    """Reconstructions of ``n_random`` random feasible points per item, in chunks.

    Args:
        threat: The threat model of ``n`` items.
        generators: One ``torch.Generator`` per item (its draws, in order).
        n_random: Draws per item (> 0).
        chunk_size: Largest number of (item, draw) pairs per forward (``None``: ``n``).

    Yields:
        ``(items (p,) long, threat.take(items), images (p, h, w))`` per chunk; pairs are
        item-major (item 0's draws first).
    """
    n = len(generators)
    pairs = [j for j in range(n) for _ in range(n_random)]
    for pr in chunk_ranges(len(pairs), chunk_size or n):
        js = torch.tensor([pairs[p] for p in pr], dtype=torch.long, device=threat.device)
        sub = threat.take(js)
        z = sub.draw([generators[pairs[p]] for p in pr])
        yield js, sub, sub.reconstruct(z)
