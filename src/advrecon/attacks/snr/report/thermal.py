"""Adversarial noise in thermal units: the report section and table ``snr_thermal_units``.

For every model and acceleration that ran both the noise attack and the SNR shift, the section
says, in one sentence, where the adversarial noise sits on the thermal scale and what random
noise of a larger level does (:func:`pair_sentence`, the largest random level that has an
adversarial budget below it, :func:`~advrecon.attacks.snr.report.rows.thermal_pairs`); the
table lists every level of both: the adversarial noise at its mean ``noise_to_thermal`` and the
random noise at ``m`` (mean over its draws, and the worst draw).
"""

from __future__ import annotations

import pandas as pd

from advrecon.attacks.contract import ReportContext, ReportSection
from advrecon.attacks.snr.report.rows import (
    NAME,
    Pair,
    noise_rows,
    region_rows,
    slice_mean,
    thermal_pairs,
)
from advrecon.report.stats import mean_ci, per_slice

__all__ = ["TITLE", "headline_pairs", "pair_sentence", "sections", "tables", "thermal_table"]

TITLE = "Adversarial noise in thermal units"
_NONE = (
    "This run has no region rows of the noise attack (attacks.noise) on the models of the SNR "
    "shift, so the adversarial noise cannot be put on the thermal scale here; the SNR shift's "
    "random levels are in its figure and the summary tables."
)
_HOW = (
    " Thermal units: noise RMS per coil over the acquired k-space samples divided by that "
    "coil's thermal sigma (estimated from the image background), mean over coils; for the "
    "noise attack its noise_to_thermal column, for random noise the budget m (its draws are "
    "rescaled to exactly m sigma). Random region SSIM: mean over the draws (worst draw in "
    "brackets). Means over slices."
)


def _draws(d: pd.DataFrame) -> str:
    n = d["snr_n_draws"].dropna() if "snr_n_draws" in d.columns else pd.Series(dtype=float)
    return f"{int(n.iloc[0])} draws" if len(n) else "the draws"


def pair_sentence(p: Pair) -> str:
    """``"unet 4x: the adversarial noise at eta = 2 % is 0.31 sigma ... lowers it to B."``"""
    a = slice_mean(p.adv, "adv_ssim")
    b, w = slice_mean(p.rand, "rand_mean_ssim"), slice_mean(p.rand, "adv_ssim")
    ca, cw = slice_mean(p.adv, "control_ssim"), slice_mean(p.rand, "control_ssim")
    verb = "more" if a < b else "less"
    return (
        f"{p.model} {p.acceleration}x: the adversarial noise at eta = {p.eta:g} % is "
        f"{p.level:.3g} sigma (mean noise_to_thermal; at most {p.level_max:.3g}) and lowers "
        f"region SSIM to {a:.4f}; random noise at m = {p.m:g} sigma lowers it to {b:.4f} (mean "
        f"over {_draws(p.rand)}; worst draw {w:.4f}): adversarial noise of a "
        f"{p.m / p.level:.3g}x smaller thermal level hurts {verb}. Without a model (the "
        f"fully-sampled image with the same noise) the region SSIM is {ca:.4f} (adversarial) "
        f"and {cw:.4f} (random, worst draw)."
    )


def headline_pairs(df: pd.DataFrame) -> list[Pair]:
    """Per (model, acceleration): the pair of the largest ``m`` that has an adversarial
    budget below it, on the same support."""
    best: dict[tuple, Pair] = {}
    for p in thermal_pairs(df):
        if p.eta == p.eta and p.same_support:  # not NaN
            best[(p.model, p.acceleration)] = p  # ascending m: the last one stays
    return list(best.values())


def _summary(d: pd.DataFrame, value: str, by: list[str], control: bool) -> pd.DataFrame:
    """Mean and CI over slices of ``value``, the mean ``noise_to_thermal`` and (``control``)
    the control's region SSIM, per group ``by``."""
    rows = []
    for key, g in per_slice(d, value, by).groupby(by):
        m, lo, hi, n = mean_ci(g[value])
        rows.append({**dict(zip(by, key, strict=True)), "region_ssim": m, "ci_low": lo,
                     "ci_high": hi, "n_slices": n})  # fmt: skip
    out = pd.DataFrame(rows)
    for col, name, keep in (
        ("noise_to_thermal", "thermal_level", True),
        ("control_ssim", "control_region_ssim", control),
    ):
        mean = per_slice(d, col, by).groupby(by)[col].mean().rename(name).reset_index()
        out = out.merge(mean, on=by) if keep else out.assign(**{name: float("nan")})
    return out


def thermal_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every level of both attacks on the thermal scale, per (model, acceleration).

    Columns: ``model``, ``acceleration``, ``noise`` (what was added), ``budget`` (eta in
    percent or ``m``), ``thermal_level`` (mean ``noise_to_thermal``, sigma), ``region_ssim``
    (mean over slices), ``ci_low``, ``ci_high``, ``n_slices``, ``control_region_ssim`` (the
    fully-sampled image with the same noise, no model; of the reported draw for random noise,
    NaN on the mean-over-draws rows).
    """
    by = ["model", "acceleration", "budget"]
    parts = []
    for d, value, what, control in (
        (noise_rows(df), "adv_ssim", "adversarial (noise attack)", True),
        (region_rows(df), "rand_mean_ssim", "random, mean over draws", False),
        (region_rows(df), "adv_ssim", "random, worst draw", True),
    ):
        if not d.empty:
            parts.append(_summary(d, value, by, control).assign(noise=what))
    if not parts:
        return pd.DataFrame()
    cols = ["model", "acceleration", "noise", "budget", "thermal_level", "region_ssim",
            "ci_low", "ci_high", "n_slices", "control_region_ssim"]  # fmt: skip
    t = pd.concat(parts, ignore_index=True)[cols]
    return t.sort_values(["model", "acceleration", "thermal_level", "noise"]).reset_index(drop=True)


def sections(ctx: ReportContext) -> list[ReportSection]:
    """The thermal-units sentences and table, or a note that the run has no noise rows."""
    df = ctx.results
    if noise_rows(df).empty or region_rows(df).empty:
        return [ReportSection(TITLE, _NONE)]
    pairs = headline_pairs(df)
    text = " ".join(pair_sentence(p) for p in pairs) or (
        "No adversarial budget of the noise attack is below a random level of the SNR shift "
        "on the same support (compare the thermal_level column)."
    )
    return [ReportSection(TITLE, text + _HOW, thermal_table(df))]


def tables(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """``snr_thermal_units`` (:func:`thermal_table`) when the run has SNR-shift rows."""
    t = thermal_table(ctx.results)
    has = not t.empty and (t["noise"] != "adversarial (noise attack)").any()
    return {f"{NAME}_thermal_units": t} if has else {}
