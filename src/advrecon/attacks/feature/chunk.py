"""One chunk of feature items: the search, the random-position baseline and every column.

Metrics: ``clean_*`` the reconstruction without feature against ``X``; ``adv_*`` /
``rand_mean_*`` the reconstruction with the feature against the fully-sampled image with the
same feature. Baseline: the optimised feature at ``n_random`` uniformly random positions inside
the box (``rand_feature_*`` = mean over the draws), and the uniform start
(``feature_recovered_start``). An item without feature (zero contrast) has NaN feature columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from advrecon.attacks._common import chunk_ranges
from advrecon.attacks.evaluation import evaluate, nan_columns
from advrecon.attacks.feature.descent import descend_active
from advrecon.attacks.feature.measures import measures
from advrecon.attacks.feature.shapes import random_positions
from advrecon.attacks.feature.threat import FeatureInsertion
from advrecon.boxes import Box

__all__ = ["Scoring", "attack_chunk", "random_position_baseline"]

RANDOM_COLUMNS = ("rand_feature_recovered", "rand_feature_cnr", "rand_feature_contrast_percent")


@dataclass(frozen=True)
class Scoring:
    """How a chunk's items are scored: boxes, target ``X`` ``(n, h, w)``, box and whole-image
    regions, data range, thermal noise std of the image and mean box intensity (``(n,)``)."""

    boxes: list[Box]
    target: torch.Tensor
    regions: Any
    full: Any
    data_range: torch.Tensor
    sigma: torch.Tensor
    mean: torch.Tensor

    def take(self, js: torch.Tensor) -> Scoring:
        """Items ``js`` ``(p,)`` (repeats allowed)."""
        rows, d = js.tolist(), js.to(self.target.device)
        return Scoring(
            [self.boxes[j] for j in rows], self.target[d], self.regions.take(rows),
            self.full.take(rows), self.data_range[d], self.sigma[d], self.mean[d],
        )  # fmt: skip


def attack_chunk(threat: FeatureInsertion, items: Scoring, gens: list, opts) -> dict:
    """Search, baseline and evaluation of one chunk of items.

    Args:
        threat: The chunk's threat model; items: how they are scored.
        gens: One generator per item (its random positions).
        opts: :class:`~advrecon.attacks.feature.attack.FeatureOptions`.

    Returns:
        ``target``, ``adversarial``, ``feature`` ``(n, h, w)``, ``trace`` and ``cols``.
    """
    q, adv, trace, best_step = descend_active(threat, opts.steps, opts.step_size)
    it = items
    with torch.no_grad():
        f = threat.feature(q)
        xf = threat.target(q)
        cols = evaluate({"clean": threat.clean}, it.target, it.regions, it.full, it.data_range)
        cols.update(evaluate({"adv": adv}, xf, it.regions, it.full, it.data_range))
        cols.update(measures("feature", "", adv, threat.clean, f, it.sigma, it.mean))
        cols["feature_recovered_start"] = trace[:, 0]
        area = threat.bound.double() * threat.shape.sum()
        cols["feature_fill"] = q.double().sum((1, 2)) / area.clamp_min(1e-300)
        cols["best_step"] = best_step
        cols.update(random_position_baseline(threat, q, items, gens, opts))
        inactive = ~threat.active
        for k in [k for k in cols if "feature" in k]:  # no feature: nothing to measure
            cols[k] = torch.where(inactive.to(cols[k].device), torch.nan, cols[k].double())
    return dict(target=xf, adversarial=adv, feature=f, trace=trace, cols=cols)


def random_position_baseline(
    threat: FeatureInsertion, q: torch.Tensor, items: Scoring, gens: list, opts
) -> dict:
    """The optimised feature ``q`` ``(n, s, s)`` at ``opts.n_random`` random positions per item
    (means over the draws; NaN columns for no draws)."""
    n, n_random = len(items.boxes), opts.n_random
    if n_random == 0:
        out = nan_columns(("rand_mean",), n, q.device)
        nan = {k: torch.full((n,), torch.nan, dtype=torch.float64) for k in RANDOM_COLUMNS}
        return {**out, **nan}
    vals: dict[str, list] = {}
    pairs = [j for j in range(n) for _ in range(n_random)]
    for r in chunk_ranges(len(pairs), opts.chunk_size or n):
        js = torch.tensor([pairs[p] for p in r], dtype=torch.long)
        it = items.take(js)
        pos = random_positions(it.boxes, q.shape[-1], [gens[j] for j in js])
        sub = threat.take(js).at(pos)
        qs = q[js.to(q.device)]
        img, f = sub.reconstruct(qs)
        m = evaluate({"rand_mean": img}, sub.target(qs), it.regions, it.full, it.data_range)
        m.update(measures("feature", "rand_", img, sub.clean, f, it.sigma, it.mean))
        for k, v in m.items():
            vals.setdefault(k, []).append(v.double())
    return {k: torch.cat(v).reshape(n, n_random).mean(1) for k, v in vals.items()}
