"""Statements about k-space spikes, checked on a run's results table.

* ``spikes_worst_vs_random``: worst-case spikes lower region SSIM more than random spikes of the
  same count and amplitude at random acquired positions, at every amplitude > 0 (paired per
  slice, three-way verdict);
* ``spikes_near_centre``: the worst-case spikes lie nearer the k-space centre than random
  acquired samples do on average (``spike_acquired_dist - spike_mean_dist > 0``, the spikes'
  energy-weighted mean distance): "holds" says the attack prefers the centre, "does not hold"
  the periphery.
"""

from __future__ import annotations

import pandas as pd

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.report.findings import UNKNOWN, per_budget, worst_vs_random

__all__ = ["NAME", "findings", "primary"]

#: The threat model's name (``attack`` column).
NAME = "spikes"
#: Each group's label in the evidence.
LABEL = "{m} {a}x amplitude {b:g}%"


def primary(ctx: ReportContext) -> pd.DataFrame:
    """The headline rows (``primary`` hook): every spike row of the region target."""
    d = ctx.rows(NAME)
    return d[d["target"] == "region"]


def findings(ctx: ReportContext) -> list[Finding]:
    """Worst-case vs random spikes, and where the worst-case spike sits."""
    d = ctx.rows(NAME)
    d = d[(d["target"] == "region") & (d["budget"] > 0)]
    worst = Finding(
        "spikes_worst_vs_random",
        "Worst-case spikes lower region SSIM more than random spikes of the same count and "
        "amplitude (every amplitude > 0).",
        UNKNOWN,
    )
    centre = Finding(
        "spikes_near_centre",
        "Worst-case spikes lie nearer the k-space centre than random acquired samples "
        "(energy-weighted mean distance; does not hold: they prefer the periphery).",
        UNKNOWN,
    )
    if d.empty:
        return [worst, centre]
    worst = worst_vs_random(worst, d, LABEL)
    if {"spike_mean_dist", "spike_acquired_dist"} <= set(d.columns):
        what = "mean acquired distance - worst spikes' mean distance (samples) "
        centre = per_budget(centre, d, "spike_acquired_dist", "spike_mean_dist", LABEL, what)
    return [worst, centre]
