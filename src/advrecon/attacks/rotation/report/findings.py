"""Statements about adversarial rotations, checked on a run's results table.

* ``rotation_vs_noise``: rotations hurt less than adversarial k-space noise (region SSIM drop
  from the clean reconstruction at each attack's largest budget, paired per slice; the noise
  rows are those of the region target under the rule every model ran);
* ``fixed_coils`` (only for runs with ``coils: fixed``): turning the anatomy inside fixed coils
  hurts less than turning the coil images (the paper's model), at the largest theta_max.
"""

from __future__ import annotations

import pandas as pd

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.attacks.rotation.report.rows import FIXED_COILS_RULE, sweep_rows
from advrecon.report.findings import CI, UNKNOWN, close, model_groups, paired, record, select
from advrecon.report.stats import mean_ci

__all__ = ["NOISE", "findings"]

#: The threat model rotations are compared with (``attack`` column) ...
NOISE = "noise"
#: ... and the rule of its rows every model ran (the first one otherwise).
NOISE_RULE = "l2"


def _noise_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Region rows of the noise attack under the rule every model ran."""
    noise = df[(df["attack"] == NOISE) & (df["target"] == "region")]
    rules = sorted(df.loc[df["attack"] == NOISE, "rule"].unique())
    rule = NOISE_RULE if NOISE_RULE in rules or not rules else rules[0]
    return noise[noise["rule"] == rule]


def _rotation_vs_noise(df: pd.DataFrame) -> Finding:
    f = Finding(
        "rotation_vs_noise",
        "Rotations hurt less than adversarial noise (largest "
        "budgets, region SSIM drop from the clean reconstruction).",
        UNKNOWN,
    )
    noise = _noise_rows(df)
    rot = sweep_rows(df)
    cis: list[CI] = []
    for m, a in model_groups(noise):
        n, r = select(noise, m, a), select(rot, m, a)
        if n.empty or r.empty:
            continue
        n = n[n["budget"] == n["budget"].max()].assign(drop=lambda x: x.clean_ssim - x.adv_ssim)
        r = r[r["budget"] == r["budget"].max()].assign(drop=lambda x: x.clean_ssim - x.adv_ssim)
        what = f"drop(noise eta {n['budget'].max():g}%) - drop(rotation {r['budget'].max():g} deg) "
        record(f, cis, f"{m} {a}x", mean_ci(paired(n, r, "drop")), what)
    return close(f, cis)


def _fixed_coils(df: pd.DataFrame) -> list[Finding]:
    """Fixed coils versus turning coils, only for runs with ``coils: fixed``."""
    fixed, paper = sweep_rows(df, FIXED_COILS_RULE), sweep_rows(df)
    if fixed.empty:
        return []
    f = Finding(
        "fixed_coils",
        "Turning the anatomy inside fixed coils hurts less than turning the coil images "
        "(the paper's model; worst angle of the largest theta_max, region SSIM).",
        UNKNOWN,
    )
    cis: list[CI] = []
    for m, a in model_groups(fixed):
        x, p = select(fixed, m, a), select(paper, m, a)
        top = x["budget"].max()
        x, p = x[x["budget"] == top], p[p["budget"] == top]
        what = (
            f"theta_max {top:g} deg, mean |worst angle| fixed {x['angle_deg'].abs().mean():.2f} "
            f"vs turning {p['angle_deg'].abs().mean():.2f} deg; SSIM(fixed) - SSIM(turning) "
        )
        record(f, cis, f"{m} {a}x", mean_ci(paired(x, p, "adv_ssim")), what)
    return [close(f, cis)]


def findings(ctx: ReportContext) -> list[Finding]:
    """The rotation statements (see the module docstring), in this order."""
    return [_rotation_vs_noise(ctx.results), *_fixed_coils(ctx.results)]
