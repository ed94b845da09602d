"""Statements about the SNR shift, checked on a run's results table.

Region target, paired per slice, three-way verdict (:func:`advrecon.report.findings.verdict`):

* ``snr_adversarial_vs_random``: adversarial noise hurts more than random noise of a larger
  thermal level -- for every random level ``m > 0``, the noise attack at the largest ``eta``
  whose ``noise_to_thermal`` is below ``m`` on every slice lowers region SSIM more than random
  noise at ``m`` (mean over its draws). Needs noise-attack rows of the same models.
* ``snr_falls``: region SSIM falls as random noise grows (per-slice slope of the mean over the
  draws against ``m`` is negative).

How much worse the worst draw is than the mean is shown (figure, table ``snr_thermal_units``),
not judged: no threshold would be more than a convention.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.attacks.snr.report.rows import region_rows, slice_mean, thermal_pairs
from advrecon.report.findings import (
    CI,
    UNKNOWN,
    close,
    fmt_ci,
    model_groups,
    paired,
    record,
    select,
    shift,
    tag,
)
from advrecon.report.stats import SLICE, mean_ci, per_slice

__all__ = ["findings"]


def _adversarial_vs_random(df: pd.DataFrame) -> Finding:
    f = Finding(
        "snr_adversarial_vs_random",
        "Adversarial noise hurts more than random noise of a larger thermal level (for every "
        "random level m: the noise attack at the largest eta whose noise_to_thermal is below m "
        "on every slice vs random noise at m, mean over draws; region SSIM, paired per slice).",
        UNKNOWN,
    )
    cis: list[CI] = []
    for p in thermal_pairs(df):
        label = f"{p.model} {p.acceleration}x, random m = {p.m:g} sigma"
        if p.eta != p.eta:  # NaN: no adversarial budget below m
            f.evidence.append(f"{label}: no adversarial budget below {p.m:g} sigma")
            continue
        if not p.same_support:
            f.evidence.append(
                f"{label}: not compared, measured_only differs (noise_to_thermal and m are "
                "then RMS over different samples)"
            )
            continue
        what = (
            f"adversarial eta = {p.eta:g} % at {p.level:.3g} sigma (max {p.level_max:.3g}), "
            f"region SSIM {slice_mean(p.adv, 'adv_ssim'):.4f} vs random "
            f"{slice_mean(p.rand, 'rand_mean_ssim'):.4f}; SSIM(random) - SSIM(adversarial) "
        )
        record(f, cis, label, mean_ci(paired(p.rand, p.adv, "rand_mean_ssim", "adv_ssim")), what)
    return close(f, cis)


def _slopes(d: pd.DataFrame) -> pd.Series:
    """Per-slice least-squares slope of the mean-over-draws region SSIM against ``m``."""
    s = per_slice(d, "rand_mean_ssim", ["budget"])
    out = [
        np.polyfit(g["budget"], g["rand_mean_ssim"], 1)[0]
        for _, g in s.groupby(SLICE)
        if g["budget"].nunique() >= 2
    ]
    return pd.Series(out, dtype=float)


def _falls(df: pd.DataFrame) -> Finding:
    f = Finding(
        "snr_falls",
        "Region SSIM falls as random noise grows (per-slice slope of the mean over the draws "
        "against m is negative).",
        UNKNOWN,
    )
    d = region_rows(df)
    cis: list[CI] = []
    for m, a in model_groups(d):
        slope = mean_ci(_slopes(select(d, m, a)))
        if slope[3] == 0:
            continue
        claim = shift(slope, 0.0, -1.0)  # positive when the slope is negative
        cis.append(claim)
        f.evidence.append(f"{m} {a}x: slope per sigma {fmt_ci(*slope)} ({tag(claim)})")
    return close(f, cis)


def findings(ctx: ReportContext) -> list[Finding]:
    """The SNR-shift statements (module docstring), in this order."""
    df = ctx.results
    return [_adversarial_vs_random(df), _falls(df)]
