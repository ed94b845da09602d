"""Which rows the SNR-shift report reads, and how adversarial and random noise are paired.

Both tables are in thermal units: the SNR shift's budget ``m`` and the noise attack's
``noise_to_thermal`` are the same quantity (noise RMS per coil over the acquired samples / that
coil's thermal sigma, mean over coils; :func:`advrecon.noise_level.noise_to_thermal_ratio`).
:func:`thermal_pairs` pairs, for every random level ``m > 0`` of a (model, acceleration), the
*strongest adversarial noise below it*: the largest noise-attack ``eta`` whose
``noise_to_thermal`` is below ``m`` on every slice (region target, the noise attack's headline
rule). Pandas only: no torch, no plotting.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from advrecon.report.stats import mean_ci, per_slice

__all__ = [
    "NAME",
    "NOISE",
    "Pair",
    "noise_rows",
    "primary",
    "region_rows",
    "slice_mean",
    "thermal_pairs",
]

#: The threat model's name (``attack`` column).
NAME = "snr"
#: The adversarial noise attack this plug-in is compared with (its ``attack`` name).
NOISE = "noise"
#: The noise attack's headline rule when it ran (its report's choice: ``l2``, else the first
#: rule by name) and the rule of its tightness check's extra rows (never headline rows).
NOISE_RULE, NOISE_CHECK_RULE = "l2", "tight"


def region_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The SNR shift's region rows (its headline rows)."""
    return df[(df["attack"] == NAME) & (df["target"] == "region")]


def primary(ctx) -> pd.DataFrame:
    """The ``primary`` report hook: :func:`region_rows` of the run's results."""
    return region_rows(ctx.results)


def noise_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The noise attack's headline region rows with a finite ``noise_to_thermal``: its rule
    every model ran (:data:`NOISE_RULE` when present, else the first by name; not the
    tightness check's). Read from the table, as the noise attack's own report does; a plug-in's
    report imports no other plug-in."""
    if "noise_to_thermal" not in df.columns or "rule" not in df.columns:
        return df.iloc[0:0]
    d = df[(df["attack"] == NOISE) & (df["target"] == "region")]
    rules = sorted(set(d["rule"].dropna()) - {NOISE_CHECK_RULE})
    if not rules:
        return d.iloc[0:0]
    rule = NOISE_RULE if NOISE_RULE in rules else rules[0]
    d = d[d["rule"] == rule]
    return d[d["noise_to_thermal"].notna()]


def slice_mean(d: pd.DataFrame, value: str) -> float:
    """Mean over slices of ``value`` (boxes of a slice averaged first; NaN without rows)."""
    return mean_ci(per_slice(d, value, [])[value])[0]


@dataclass(frozen=True)
class Pair:
    """The strongest adversarial noise below one random level, on one (model, acceleration).

    Attributes:
        model, acceleration: The group.
        m: Random level (thermal sigmas); eta: the noise attack's budget (percent), or NaN
            when no adversarial budget is below ``m``.
        level, level_max: Mean and largest ``noise_to_thermal`` of the adversarial rows.
        adv, rand: The noise-attack rows at ``eta`` and the SNR-shift rows at ``m``.
        same_support: Both measured noise over the same samples (``measured_only`` equal).
    """

    model: str
    acceleration: int
    m: float
    eta: float
    level: float
    level_max: float
    adv: pd.DataFrame
    rand: pd.DataFrame
    same_support: bool = True


def _same_support(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    if "measured_only" not in a.columns or "measured_only" not in b.columns:
        return True
    return set(a["measured_only"].dropna().astype(bool)) == set(
        b["measured_only"].dropna().astype(bool)
    )


def _pair(model, acc, m: float, noise: pd.DataFrame, rand: pd.DataFrame) -> Pair:
    """The largest eta whose noise_to_thermal is below ``m`` on every row (or none)."""
    top = noise.groupby("budget")["noise_to_thermal"].max()
    below = top[(top < m) & (top.index > 0)]
    if below.empty:
        return Pair(model, acc, m, float("nan"), float("nan"), float("nan"), noise.iloc[0:0], rand)
    eta = float(below.index.max())
    adv = noise[noise["budget"] == eta]
    level = slice_mean(adv, "noise_to_thermal")
    return Pair(model, acc, m, eta, level, float(top[eta]), adv, rand, _same_support(adv, rand))


def thermal_pairs(df: pd.DataFrame) -> list[Pair]:
    """One :class:`Pair` per (model, acceleration) with both attacks and per random ``m > 0``,
    in order of model, acceleration and ``m``."""
    snr, noise = region_rows(df), noise_rows(df)
    out = []
    keys = sorted(
        set(zip(snr["model"], snr["acceleration"].astype(int), strict=True))
        & set(zip(noise["model"], noise["acceleration"].astype(int), strict=True))
    )
    for model, acc in keys:
        s = snr[(snr["model"] == model) & (snr["acceleration"] == acc)]
        n = noise[(noise["model"] == model) & (noise["acceleration"] == acc)]
        for m in sorted(float(b) for b in s["budget"].unique() if b > 0):
            out.append(_pair(model, acc, m, n, s[s["budget"] == m]))
    return out
