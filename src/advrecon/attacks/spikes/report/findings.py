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
from advrecon.report.findings import CI, UNKNOWN, close, model_groups, record, select
from advrecon.report.stats import mean_ci, per_slice

__all__ = ["NAME", "findings", "primary"]

#: The threat model's name (``attack`` column).
NAME = "spikes"


def primary(ctx: ReportContext) -> pd.DataFrame:
    """The headline rows (``primary`` hook): every spike row of the region target."""
    d = ctx.rows(NAME)
    return d[d["target"] == "region"]


def _paired(d: pd.DataFrame, f: Finding, high: str, low: str, what: str) -> Finding:
    """``high - low`` per slice for every (model, acceleration, amplitude > 0): ``f`` closed."""
    cis: list[CI] = []
    for m, a in model_groups(d):
        g = select(d, m, a)
        for b in sorted(g["budget"].unique()):
            gb = g[g["budget"] == b]
            diff = per_slice(gb.assign(x=gb[high] - gb[low]), "x", [])["x"]
            record(f, cis, f"{m} {a}x amplitude {b:g}%", mean_ci(diff), what)
    return close(f, cis)


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
    worst = _paired(d, worst, "rand_mean_ssim", "adv_ssim", "SSIM(random) - SSIM(worst) ")
    if {"spike_mean_dist", "spike_acquired_dist"} <= set(d.columns):
        what = "mean acquired distance - worst spikes' mean distance (samples) "
        centre = _paired(d, centre, "spike_acquired_dist", "spike_mean_dist", what)
    return [worst, centre]
