"""Searches over a threat model's feasible set: projected gradient ascent, APGD, random draws.

A search knows nothing of k-space or angles: it asks the threat model (e.g.
:class:`advrecon.attacks.noise.KspaceNoise`) for

* ``reconstruct(delta)`` -- the model's output for the perturbed acquisition, in the target frame;
* ``objective_of(image, objective, mse0)`` -- the objective ``(n,)`` and the ``mse_ssim`` anchor;
* ``ascent_step(delta, grad, step_size, rule)`` -- one step, back in the feasible set
  (``step_size`` a float or an ``(n,)`` tensor, one per item);
* ``project(delta)`` -- the nearest point of the feasible set (APGD's momentum point);
* ``draw(generators)`` -- a random point of the feasible set, one per item;
* ``active`` / ``take(index)`` -- items that can move, and a subset of items.

:class:`Converging` runs a search in rounds until each item has converged (a documented
stopping rule with a cap), dropping the items that stopped.

The exhaustive angle grid is a search too; it lives with its threat model
(:func:`advrecon.attacks.rotation.rotation_attack`), since one sweep serves every window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import torch

from advrecon.attacks._common import chunk_ranges

__all__ = [
    "APGD",
    "APGD_STEP",
    "SEARCHES",
    "Converge",
    "Converging",
    "ProjectedGradient",
    "apgd_checkpoints",
    "autoattack_checkpoints",
    "best_of_restarts",
    "random_draws",
    "returned_value",
]

#: Gradient searches selectable in a config (``attacks.noise.search``).
SEARCHES = ("pgd", "apgd")

#: APGD's initial normalised step (in units of each coil's budget). Croce & Hein's L2 version
#: starts at ``2 * eps``, tuned for 100 iterations; at the default cost of 10 passes 1.0
#: reached a higher objective than ``l2`` PGD on 95-97 % of 57 training-slice items of the
#: four demo models and 2.0 on 90-94 % (``benchmarks/apgd_tuning.py``, docs/benchmarks.md).
APGD_STEP = 1.0


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
        """:func:`run_active` with this search."""
        return run_active(self, threat, delta, clean)


def apgd_checkpoints(steps: int) -> list[int]:
    """APGD's checkpoints ``w_j = ceil(p_j * steps)`` (Croce & Hein 2020, Sec. 3.2).

    ``p_0 = 0``, ``p_1 = 0.22``, ``p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)``; the
    checkpoints are the distinct ``w_j <= steps`` (100 steps: 0, 22, 41, 57, 70, 80, 87, 93, 99).
    The ``p_j`` are kept in hundredths (integers) so that no float rounding moves a ceiling.
    """
    p = [0, 22]  # hundredths
    while p[-1] + max(p[-1] - p[-2] - 3, 6) <= 100:
        p.append(p[-1] + max(p[-1] - p[-2] - 3, 6))
    return sorted({-(-q * steps // 100) for q in p})


def autoattack_checkpoints(steps: int) -> list[int]:
    """Checkpoints of the AutoAttack reference code for ``steps`` iterations.

    First check after ``max(int(0.22 steps), 1)`` steps; each later gap shrinks by
    ``max(int(0.03 steps), 1)`` down to ``max(int(0.06 steps), 1)``. For short runs this
    checks more often than :func:`apgd_checkpoints` (10 steps: 0, 2, 3, 4, ..., 10).
    """
    gap, decr, least = (
        max(int(0.22 * steps), 1),
        max(int(0.03 * steps), 1),
        max(int(0.06 * steps), 1),
    )
    out, t = [0], 0
    while t + gap <= steps:
        t += gap
        out.append(t)
        gap = max(gap - decr, least)
    return out


@dataclass(frozen=True)
class APGD:
    """Auto-PGD (Croce & Hein, ICML 2020, Algorithm 1) on the threat model's feasible set.

    Per item: a step size ``eta`` (normalised like PGD's: relative to each coil's budget; the
    paper's APGD-L2 starts at ``2.0 = 2 eps``, this one at :data:`APGD_STEP`), momentum
    ``alpha = 0.75``::

        z_{k+1} = P(x_k + eta * step(grad f(x_k)))                # threat.ascent_step, l2
        x_{k+1} = P(x_k + alpha (z_{k+1} - x_k) + (1 - alpha)(x_k - x_{k-1}))   # x_1 = z_1

    At every checkpoint ``w_j`` (:func:`apgd_checkpoints`) ``eta`` is halved when (1) fewer
    than ``rho = 0.75`` of the steps since ``w_{j-1}`` increased the objective, or (2) neither
    ``eta`` (not halved at ``w_{j-1}``) nor the best value changed since ``w_{j-1}``; the next
    step then restarts from the best point (its stored gradient, no momentum), so no evaluation
    is spent on it. The best iterate is returned. Cost: exactly ``steps`` forward+backward
    passes and one forward, as :class:`ProjectedGradient`.

    Attributes:
        steps: Gradient steps (the objective is evaluated ``steps + 1`` times).
        objective: ``"mse"``, ``"ssim"`` or ``"mse_ssim"``.
        step_size: Initial normalised step (:data:`APGD_STEP`; the paper's 2.0 = ``2 eps``).
        alpha: Momentum (0.75).
        rho: Fraction of successful steps below which the step is halved (0.75).
        schedule: Checkpoints: ``"paper"`` (:func:`apgd_checkpoints`) or ``"autoattack"``
            (:func:`autoattack_checkpoints`, the reference code's, denser for short runs).
    """

    steps: int
    objective: str
    step_size: float = APGD_STEP
    alpha: float = 0.75
    rho: float = 0.75
    schedule: str = "paper"

    def run(self, threat: Any, delta: torch.Tensor):
        """Ascend from ``delta`` ``(n, ...)``; same returns as :meth:`ProjectedGradient.run`."""
        n, dev = delta.shape[0], delta.device
        f64 = dict(dtype=torch.float64, device=dev)
        shape = (-1, *[1] * (delta.ndim - 1))
        eta = torch.full((n,), float(self.step_size), **f64)
        best_val = torch.full((n,), -torch.inf, **f64)
        best_step = torch.zeros(n, dtype=torch.long, device=dev)
        trace = torch.zeros((n, self.steps + 1), **f64)
        when = autoattack_checkpoints if self.schedule == "autoattack" else apgd_checkpoints
        checks = set(when(self.steps)) - {0}
        last_check, n_up = 0, torch.zeros(n, **f64)
        halved, best_then = torch.zeros(n, dtype=torch.bool, device=dev), best_val
        x, x_prev, mse0 = delta, delta, None
        best_z, best_img, best_grad = delta.clone(), None, torch.zeros_like(delta)
        for t in range(self.steps + 1):
            need_grad = t < self.steps
            with torch.set_grad_enabled(need_grad):
                xt = x.detach().requires_grad_(need_grad)
                img = threat.reconstruct(xt)
                obj, mse0 = threat.objective_of(img, self.objective, mse0)
                grad = torch.autograd.grad(obj.sum(), xt)[0] if need_grad else None
            val, img = obj.detach().to(torch.float64), img.detach()
            trace[:, t] = val
            if t > 0:
                n_up += (val > trace[:, t - 1]).to(torch.float64)
            best_img = img.clone() if best_img is None else best_img
            take = val > best_val
            best_val = torch.where(take, val, best_val)
            best_step = torch.where(take, torch.full_like(best_step, t), best_step)
            best_z = torch.where(take.view(shape), xt.detach(), best_z)
            best_img = torch.where(take[:, None, None], img, best_img)
            if t == 0:
                best_then = best_val.clone()  # f_max at w_0
            if not need_grad:
                break
            best_grad = torch.where(take.view(shape), grad, best_grad)
            x, g, back = xt.detach(), grad, torch.zeros_like(take)
            if t in checks:
                few = n_up < self.rho * (t - last_check)
                stalled = ~halved & (best_val == best_then)  # eta and f_max both unchanged
                back = few | stalled
                eta = torch.where(back, eta / 2, eta)
                x, g = (
                    torch.where(back.view(shape), best_z, x),
                    torch.where(back.view(shape), best_grad, g),
                )
                x_prev = torch.where(back.view(shape), best_z, x_prev)
                last_check, n_up = t, torch.zeros_like(n_up)
                halved, best_then = back, best_val.clone()
            z = threat.ascent_step(x, g, eta.view(shape), "l2")
            a = 1.0 if t == 0 else self.alpha
            x, x_prev = threat.project(x + a * (z - x) + (1 - a) * (x - x_prev)), x
        return best_z, best_img, trace, best_step

    def run_active(self, threat: Any, delta: torch.Tensor, clean: torch.Tensor):
        """:func:`run_active` with this search."""
        return run_active(self, threat, delta, clean)


def run_active(search: Any, threat: Any, delta: torch.Tensor, clean: torch.Tensor):
    """``search.run`` on the items that can move (``threat.active``); the others cost nothing.

    An item with an empty feasible set (e.g. ``eta = 0``) keeps ``delta = 0``, its
    reconstruction is ``clean`` ``(n, h, w)`` (passed in) and its trace the constant clean
    objective, so no forward or gradient step is spent on it. With a :class:`Converging` search
    the returns also hold ``passes`` (0 for such an item) and ``converged`` (True).
    """
    active = threat.active
    if bool(active.all()):
        return search.run(threat, delta)
    n, dev = delta.shape[0], delta.device
    z_out, img_out = torch.zeros_like(delta), clean.detach().clone()
    trace = torch.zeros((n, search.steps + 1), dtype=torch.float64, device=dev)
    outs = [z_out, img_out, trace, torch.zeros(n, dtype=torch.long, device=dev)]
    if isinstance(search, Converging):
        outs += [torch.zeros(n, dtype=torch.long, device=dev), torch.ones_like(active)]
    idle = torch.nonzero(~active).flatten()
    obj, _ = threat.take(idle).objective_of(clean[idle], search.objective)
    trace[idle] = obj.detach()[:, None].to(trace.dtype)
    idx = torch.nonzero(active).flatten()
    if idx.numel():
        for out, got in zip(outs, search.run(threat.take(idx), delta[idx]), strict=True):
            out[idx] = got.to(out.dtype)
    return tuple(outs)


def returned_value(trace: torch.Tensor, best_step: torch.Tensor) -> torch.Tensor:
    """``(n,)`` objective of the returned iterate (``trace`` at ``best_step``)."""
    return trace.gather(1, best_step[:, None])[:, 0]


def best_of_restarts(search: Any, threat: Any, starts: Iterable[torch.Tensor], clean):
    """Best of ``search`` run from each start (per item, by the returned iterate's objective).

    ``starts`` yields the start points ``(n, ...)`` (e.g. the first one, then random feasible
    draws continuing the same per-item streams); each run costs ``search.steps``
    forward+backward passes (a :class:`Converging` search: what its rule spent). Ties keep the
    earlier run, so one start equals a single run and more starts never return a lower
    objective.

    Returns:
        ``(delta, image, trace, best_step)`` as :meth:`ProjectedGradient.run` (of each item's
        chosen run), ``passes`` ``(n,)`` long: forward+backward passes spent on the item over
        all runs, and ``converged`` ``(n,)`` bool: the chosen run met :class:`Converging`'s
        rule (False for a search without one).
    """
    best = None
    for z0 in starts:
        out = list(run_active(search, threat, z0, clean))
        if len(out) == 4:
            active = threat.active.to(out[3].device)
            out += [search.steps * active.long(), torch.zeros_like(active)]
        if best is None:
            best = out
            continue
        better = returned_value(out[2], out[3]) > returned_value(best[2], best[3])
        spent = best[4] + out[4]
        for i, (new, old) in enumerate(zip(out, best, strict=True)):
            best[i] = torch.where(better.view(-1, *[1] * (new.ndim - 1)), new, old)
        best[4] = spent
    if best is None:
        raise ValueError("best_of_restarts needs at least one start")
    return tuple(best)


@dataclass(frozen=True)
class Converge:
    """The stopping rule of :class:`Converging` (a config's ``converge: {tol, max_steps}``).

    Attributes:
        tol: Least gain of the best objective per round for an item to go on (> 0; in the
            objective's units: region SSIM with ``objective="ssim"``).
        max_steps: Cap on the forward+backward passes per item and run (>= the round's steps).
    """

    tol: float
    max_steps: int


@dataclass(frozen=True)
class Converging:
    """``search`` in rounds of ``search.steps`` passes until each item has converged, capped.

    Per item: the first round starts from ``delta``, each next one from the best point found so
    far with a fresh search (APGD: its initial step and checkpoint schedule again). An item
    stops after the first round whose gain of the best objective (over the best before the
    round; first round: over the start's objective) is below ``tol``: it has *converged*; or
    when ``max_steps`` passes are spent (converged only if that last round gained less than
    ``tol``; the last round is shortened to the passes left). Stopped items leave the batch:
    they cost nothing more and keep their result. A round of ``k`` passes costs ``k``
    forward+backward passes and one forward, as the search alone.

    Attributes:
        search: :class:`APGD` or :class:`ProjectedGradient` (rule ``l2``: best iterate); its
            ``steps`` are the passes of one round.
        tol, max_steps: The rule (:class:`Converge`).
    """

    search: Any
    tol: float
    max_steps: int

    @property
    def steps(self) -> int:
        """The cap: the trace has ``max_steps + 1`` columns."""
        return self.max_steps

    @property
    def objective(self) -> str:
        return self.search.objective

    def run(self, threat: Any, delta: torch.Tensor):
        """Rounds of the search from ``delta`` ``(n, ...)``.

        Returns:
            ``(delta, image (n, h, w), trace (n, max_steps + 1) float64, best_step (n,) long,
            passes (n,) long, converged (n,) bool)``: ``trace[:, 0]`` is the start's objective
            and the columns ``s + 1 .. s + k`` a round's iterates after ``s`` spent passes
            (NaN after an item's last pass); ``best_step`` indexes it.
        """
        n, dev = delta.shape[0], delta.device
        trace = torch.full((n, self.max_steps + 1), torch.nan, dtype=torch.float64, device=dev)
        best_z, best_img = delta.clone(), None
        best_val = torch.zeros(n, dtype=torch.float64, device=dev)
        best_step, passes = (torch.zeros(n, dtype=torch.long, device=dev) for _ in range(2))
        converged = torch.zeros(n, dtype=torch.bool, device=dev)
        live, spent = torch.arange(n, device=dev), 0
        while live.numel() and spent < self.max_steps:
            k = min(self.search.steps, self.max_steps - spent)
            sub = threat if live.numel() == n else threat.take(live)
            z, img, tr, bs = replace(self.search, steps=k).run(sub, best_z[live])
            val = returned_value(tr, bs)
            if best_img is None:  # first round: every item, from its start
                best_img = torch.zeros((n, *img.shape[1:]), dtype=img.dtype, device=dev)
                trace[:, 0], before, take = tr[:, 0], tr[:, 0], torch.ones_like(converged)
            else:  # a later round's step 0 is the best point again: only a new iterate counts
                before = best_val[live]
                take = (bs > 0) & (val > before)
            trace[live, spent + 1 : spent + k + 1] = tr[:, 1:]
            rows = live[take]
            best_z[rows], best_img[rows] = z[take].to(best_z.dtype), img[take].to(best_img.dtype)
            best_val[rows] = val[take]
            best_step[rows] = spent + bs[take]
            done = best_val[live] - before < self.tol
            passes[live] += k
            converged[live] = done
            live, spent = live[~done], spent + k
        return best_z, best_img, trace, best_step, passes, converged

    def run_active(self, threat: Any, delta: torch.Tensor, clean: torch.Tensor):
        """:func:`run_active` with this search."""
        return run_active(self, threat, delta, clean)


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
