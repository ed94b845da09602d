"""Statements about receiver drift, checked on a run's results table.

* ``drift_worst_vs_random``: worst-case gains degrade region SSIM more than uniform random gains
  at the same bounds, for every gain bound > 0 (paired per slice, three-way verdict);
* ``drift_calibrated_vs_unet`` (only where the table has a U-Net and an E2E-VarNet or SENSE at
  the same acceleration): the models that calibrate their coil maps from the ACS band lose
  more region SSIM (clean minus worst case) than the U-Net at the largest gain bound both
  share, paired per slice.
"""

from __future__ import annotations

import pandas as pd

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.report.findings import (
    CI,
    UNKNOWN,
    close,
    model_groups,
    paired,
    record,
    select,
    worst_vs_random,
)
from advrecon.report.stats import mean_ci

__all__ = ["CALIBRATED_ARCHS", "NAME", "UNET_ARCHS", "findings", "primary"]

#: The threat model's name (``attack`` column).
NAME = "drift"
#: Architectures that estimate coil sensitivities from the ACS band.
CALIBRATED_ARCHS = ("varnet", "sense")
#: Architectures that see the RSS image of the zero-filled k-space.
UNET_ARCHS = ("unet",)


def primary(ctx: ReportContext) -> pd.DataFrame:
    """The headline rows: the region target (one rule)."""
    d = ctx.rows(NAME)
    return d[d["target"] == "region"]


def _worst_vs_random(d: pd.DataFrame) -> Finding:
    """Worst-case vs uniform random gains at the same bound (region SSIM, budget > 0)."""
    f = Finding(
        "drift_worst_vs_random",
        "Worst-case receiver drift degrades more than random drift at the same bounds "
        "(region SSIM, every gain bound > 0).",
        UNKNOWN,
    )
    d = d[d["budget"] > 0]
    return worst_vs_random(f, d, "{m} {a}x gain {b:g}%")


def _pairs(d: pd.DataFrame, archs) -> list[tuple[str, str, int]]:
    """``(U-Net model, calibrated model, acceleration)`` pairs of ``d``."""
    kind = {m: archs.get(m, m) for m in d["model"].unique()}
    groups = model_groups(d)
    return [
        (u, c, a)
        for u, a in groups
        if kind[u] in UNET_ARCHS
        for c, a2 in groups
        if a2 == a and kind[c] in CALIBRATED_ARCHS
    ]


def calibrated_vs_unet(d: pd.DataFrame, archs) -> Finding | None:
    """ACS-calibrated models vs the U-Net: region SSIM drop at the largest shared gain bound
    (``None`` without such a pair)."""
    pairs = _pairs(d[d["budget"] > 0], archs)
    if not pairs:
        return None
    f = Finding(
        "drift_calibrated_vs_unet",
        "Models that calibrate coil maps from the ACS band (E2E-VarNet, SENSE) lose more region "
        "SSIM under worst-case receiver drift than the U-Net (largest shared gain bound).",
        UNKNOWN,
    )
    d = d.assign(drop=d["clean_ssim"] - d["adv_ssim"])
    cis: list[CI] = []
    for u, c, a in pairs:
        du, dc = select(d, u, a), select(d, c, a)
        shared = set(du["budget"]) & set(dc["budget"])
        if not shared or max(shared) <= 0:
            continue
        b = max(shared)
        diff = paired(dc[dc["budget"] == b], du[du["budget"] == b], "drop")
        record(f, cis, f"{c} vs {u} {a}x gain {b:g}%", mean_ci(diff), f"drop({c}) - drop({u}) ")
    return close(f, cis)


def findings(ctx: ReportContext) -> list[Finding]:
    """Worst case vs random drift, and (where both ran) calibrated models vs the U-Net."""
    d = ctx.rows(NAME)
    d = d[d["target"] == "region"]
    out = [_worst_vs_random(d)]
    other = calibrated_vs_unet(d, dict(ctx.archs))
    return out if other is None else [*out, other]
