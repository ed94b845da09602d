"""The feature's own search: signed-gradient descent of the recovered fraction, best iterate.

From the uniform feature at full contrast (:meth:`FeatureInsertion.start`), ``steps`` signed
gradient steps of ``step_size * bound`` on the fraction of the feature's energy recovered,
``rho = <f(M k_F) - f(M k), F> / ||F||^2``, each followed by the projection
(:meth:`FeatureInsertion.ascent_step` on ``-rho``); the iterate with the lowest ``rho`` is kept.
The generic :class:`~advrecon.attacks.search.ProjectedGradient` scores an image alone, this
objective also needs the feature.
"""

from __future__ import annotations

import torch

from advrecon.attacks.feature.measures import recovered
from advrecon.attacks.feature.threat import FeatureInsertion

__all__ = ["descend", "descend_active"]


def descend_active(threat: FeatureInsertion, steps: int, step_size: float):
    """:func:`descend` on the items with a feature; the others (zero contrast) cost nothing:
    ``q = 0``, the clean reconstruction (bit for bit), a NaN trace.

    Returns:
        As :func:`descend`.
    """
    active = threat.active
    if bool(active.all()):
        return descend(threat, steps, step_size)
    n, dev = len(active), threat.clean.device
    q, img = threat.start(), threat.clean.clone()
    trace = torch.full((n, steps + 1), torch.nan, dtype=torch.float64, device=dev)
    best_step = torch.zeros(n, dtype=torch.long, device=dev)
    idx = torch.nonzero(active).flatten()
    if idx.numel():
        q[idx], img[idx], trace[idx], best_step[idx] = descend(
            threat.take(idx.cpu()), steps, step_size
        )
    return q, img, trace, best_step


def descend(threat: FeatureInsertion, steps: int, step_size: float):
    """Signed-gradient descent of the recovered fraction (module docstring).

    Returns:
        ``(q (n, s, s), image (n, h, w), trace (n, steps + 1) float64, best_step (n,) long)``:
        the best iterate, its reconstruction, ``rho`` of every iterate and the best one's step.
    """
    q = threat.start()
    n = q.shape[0]
    best = torch.full((n,), torch.inf, dtype=torch.float64, device=q.device)
    best_q, best_img = q.clone(), threat.clean.clone()
    trace = torch.zeros((n, steps + 1), dtype=torch.float64, device=q.device)
    best_step = torch.zeros(n, dtype=torch.long, device=q.device)
    for t in range(steps + 1):
        grad_on = t < steps
        with torch.set_grad_enabled(grad_on):
            qt = q.detach().requires_grad_(grad_on)
            img, f = threat.reconstruct(qt)
            rho = recovered(img - threat.clean, f)
            if grad_on:
                (g,) = torch.autograd.grad(rho.sum(), qt)
        val = rho.detach()
        trace[:, t] = val
        take = val < best
        best = torch.where(take, val, best)
        best_step = torch.where(take, t, best_step)
        best_q = torch.where(take[:, None, None], qt.detach(), best_q)
        best_img = torch.where(take[:, None, None], img.detach(), best_img)
        if grad_on:
            q = threat.ascent_step(qt.detach(), -g, step_size)
    return best_q, best_img, trace, best_step
