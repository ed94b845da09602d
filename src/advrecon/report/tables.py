"""Summary tables from a run's tidy results (``results.csv``): means with 95% intervals.

Every statistic is computed over *slices*: the rows of a slice (one per box) are averaged
first, then the mean and a Student-t 95% confidence interval are taken over slices.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from advrecon.errors import InputFileError

log = logging.getLogger(__name__)

__all__ = [
    "RunData",
    "load_run",
    "mean_ci",
    "per_slice",
    "summarize",
    "add_relative",
    "primary_rule",
    "GROUP",
    "SLICE",
]

#: Columns that identify a curve of the figures.
GROUP = ["model", "acceleration", "attack", "rule", "target"]
#: Columns that identify a slice.
SLICE = ["file", "slice"]

# two-sided 95% Student-t quantiles for 1..30 degrees of freedom
_T975 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


@dataclass
class RunData:
    """Everything the report reads from a run folder.

    Attributes:
        run_dir: The run folder.
        results: ``results.csv``.
        curves: ``rotation_curves.csv`` (empty frame if absent).
        config: Parsed ``config.yaml`` (plain dict).
        config_text: Its text.
        manifest: ``manifest.json``.
    """

    run_dir: Path
    results: pd.DataFrame
    curves: pd.DataFrame
    config: dict[str, Any]
    config_text: str
    manifest: dict[str, Any]


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder written by ``advrecon run`` (the folder is only read, never changed).

    A last row truncated by a crash is skipped with a warning (``advrecon run`` recomputes it).

    Raises:
        InputFileError: the folder is not a run folder, or its ``results.csv`` (or another
            file of the run) is missing, empty, truncated or unreadable.
    """
    from advrecon.experiments.store import TidyTable

    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise InputFileError(run_dir, "run folder not found")
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "is not a folder (expected a run folder of `advrecon run`)")
    path = run_dir / "results.csv"
    if not path.is_file():
        if not (run_dir / "manifest.json").is_file():
            raise InputFileError(
                run_dir, "is not a run folder (no manifest.json and no results.csv)"
            )
        raise InputFileError(path, "no results table; run `advrecon run CONFIG` first")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            header, rows = TidyTable(path).read(repair=False)
    except UnicodeDecodeError:
        raise InputFileError(path, "is not a text CSV file") from None
    if not header:
        raise InputFileError(path, "results table is empty or truncated (no complete header)")
    if not rows:
        raise InputFileError(path, "results table is empty (no complete row)")
    for w in caught:  # e.g. a last row cut by a crash: report without it, say so on one line
        log.warning("%s", w.message)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([r[c] for c in header] for r in rows)
    buf.seek(0)
    results = pd.read_csv(buf)
    cpath = run_dir / "rotation_curves.csv"
    try:
        curves = pd.read_csv(cpath) if cpath.is_file() and cpath.stat().st_size else pd.DataFrame()
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError is a ValueError
        raise InputFileError(cpath, f"cannot be read as a CSV ({_first_line(exc)})") from None
    cfg_path = run_dir / "config.yaml"
    try:
        text = cfg_path.read_text() if cfg_path.is_file() else ""
        config = yaml.safe_load(text) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputFileError(cfg_path, f"is not valid YAML ({_first_line(exc)})") from None
    if not isinstance(config, dict):
        raise InputFileError(cfg_path, "is not a config mapping")
    mpath = run_dir / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text()) if mpath.is_file() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputFileError(mpath, f"is not valid JSON ({_first_line(exc)})") from None
    return RunData(run_dir, results, curves, config, text, manifest)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def mean_ci(values: Any) -> tuple[float, float, float, int]:
    """Mean and Student-t 95% interval of finite values: ``(mean, low, high, n)``.

    With one value the interval is ``(mean, mean)``; with none everything is NaN.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(v.mean())
    if n == 1:
        return m, m, m, 1
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    half = t * float(v.std(ddof=1)) / math.sqrt(n)
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


def primary_rule(df: pd.DataFrame) -> str | None:
    """The noise rule every model ran (``l2`` when present)."""
    noise = df[df["attack"] == "noise"]
    if noise.empty:
        return None
    rules = sorted(noise["rule"].unique())
    return "l2" if "l2" in rules else rules[0]
