"""Statistics over slices: means with Student-t 95% intervals, per-slice averages, summaries.

Every statistic is computed over *slices*: the rows of a slice (one per box) are averaged
first, then the mean and a Student-t 95% confidence interval (``scipy.stats.t``) are taken
over slices; a group of one slice has a mean but no interval. This module reads nothing and
imports nothing of advrecon: the report's helpers and the plug-ins' report hooks build on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["GROUP", "SLICE", "add_relative", "mean_ci", "per_slice", "summarize"]

#: Columns that identify a curve of the figures.
GROUP = ["model", "acceleration", "attack", "rule", "target"]
#: Columns that identify a slice.
SLICE = ["file", "slice"]


def mean_ci(values: Any, level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and Student-t confidence interval of the finite values: ``(mean, low, high, n)``.

    The interval is ``mean +- t_{(1+level)/2, n-1} * s / sqrt(n)`` with the quantile from
    :func:`scipy.stats.t.ppf` (no table, no normal fallback). With fewer than two values there
    is no interval: ``low`` and ``high`` are NaN (with none, the mean is NaN too).

    Args:
        values: 1-D array-like of floats; NaN/inf are dropped.
        level: Coverage of the two-sided interval.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(v.mean())
    if n == 1:
        return m, math.nan, math.nan, 1
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    return m, m - half, m + half, n


def per_slice(df: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    """Mean of ``value`` over the boxes of each slice: columns ``by + SLICE + [value]``."""
    if value not in df.columns:
        return pd.DataFrame(columns=[*by, *SLICE, value])
    return df.groupby([*by, *SLICE], dropna=False, sort=True)[value].mean().reset_index()


def summarize(df: pd.DataFrame, value: str, by: list[str]) -> pd.DataFrame:
    """Per-group mean, 95% CI and number of slices of ``value`` (averaged per slice first)."""
    s = per_slice(df, value, by)
    rows = []
    for key, g in s.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        m, lo, hi, n = mean_ci(g[value])
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "mean": m,
                "ci_low": lo,
                "ci_high": hi,
                "n_slices": n,
            }
        )
    return pd.DataFrame(rows, columns=[*by, "mean", "ci_low", "ci_high", "n_slices"])


def add_relative(df: pd.DataFrame, value: str = "adv_ssim") -> pd.DataFrame:
    """Add ``<value>_rel``: ``value`` divided by the same unit's value at budget 0.

    Units without a budget-0 row fall back to ``clean_ssim`` as the reference.
    """
    df = df.copy()
    keys = [*GROUP, *SLICE, "box_index"]
    base = df[df["budget"] == 0].set_index(keys)[value]
    base = base[~base.index.duplicated()]
    ref = pd.Series(base.reindex(pd.MultiIndex.from_frame(df[keys])).to_numpy(), index=df.index)
    if "clean_ssim" in df.columns:
        ref = ref.fillna(df["clean_ssim"])
    df[f"{value}_rel"] = df[value] / ref
    return df
