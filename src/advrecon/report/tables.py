"""A run folder as the report reads it: results table, curves, config and manifest.

:func:`load_run` reads and checks what ``advrecon run`` wrote (the folder is only read). The
statistics over slices (:func:`mean_ci`, :func:`summarize`, ...) live in
:mod:`advrecon.report.stats` and are re-exported here.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from advrecon.errors import InputFileError
from advrecon.report.stats import GROUP, SLICE, add_relative, mean_ci, per_slice, summarize

log = logging.getLogger(__name__)

__all__ = [
    "RunData",
    "load_run",
    "mean_ci",
    "per_slice",
    "summarize",
    "add_relative",
    "GROUP",
    "SLICE",
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
    from advrecon.experiments.results_store import TidyTable

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
    results = _checked(_upgrade(pd.read_csv(buf)), path, RESULT_COLUMNS, RESULT_NUMERIC)
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
    if not curves.empty:
        curves = _checked(curves, cpath, CURVE_COLUMNS, CURVE_COLUMNS[4:])
    return RunData(run_dir, results, curves, config, text, manifest)


#: Columns of ``results.csv`` the report reads (all must be present) ...
RESULT_COLUMNS = (*GROUP, "budget", *SLICE, "box_index", "adv_ssim", "clean_ssim")
#: ... and those of them that must be numbers (metrics may be empty: NaN).
RESULT_NUMERIC = ("acceleration", "budget", "slice", "box_index", "adv_ssim", "clean_ssim")
#: Columns of ``rotation_curves.csv`` the report reads; from ``acceleration`` on, numbers.
CURVE_COLUMNS = ("model", "target", "file", "acceleration", "slice", "box_index", "angle", "ssim")
_MAY_BE_EMPTY = {"adv_ssim", "clean_ssim", "ssim"}


def _upgrade(df: pd.DataFrame) -> pd.DataFrame:
    """A results table of an older run in today's names (:mod:`advrecon.experiments.schema`).

    Renames :data:`~advrecon.experiments.schema.OLD_NAMES`; fills a missing ``budget`` from the
    older budget columns (``eta_percent`` for noise, ``theta_max_deg``/``theta_max`` for
    rotation) and drops those synonyms. A table with none of them lacks ``budget``, which
    :func:`_checked` reports.
    """
    from advrecon.experiments.schema import DROPPED_ATTACK_FIELDS, OLD_BUDGET_NAMES, OLD_NAMES

    df = df.rename(columns={o: n for o, n in OLD_NAMES.items() if n not in df.columns})
    olds = [c for c in OLD_BUDGET_NAMES if c in df.columns]
    if "budget" not in df.columns and olds and "attack" in df.columns:
        budget = pd.Series(np.nan, index=df.index)
        for c in olds:
            take = (df["attack"] == OLD_BUDGET_NAMES[c]) & budget.isna()
            budget[take] = pd.to_numeric(df.loc[take, c], errors="coerce")
        df.insert(int(df.columns.get_loc("attack")) + 1, "budget", budget)
    stale = [c for c in (*DROPPED_ATTACK_FIELDS, *OLD_NAMES) if c in df.columns]
    return df.drop(columns=stale)


def _checked(df: pd.DataFrame, path: Path, columns: tuple, numeric: tuple) -> pd.DataFrame:
    """``df`` with ``numeric`` columns as numbers, or one clear error naming the column/row."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputFileError(path, f"lacks the column(s) {', '.join(missing)} the report needs")
    df = df.copy()
    for c in numeric:
        v = pd.to_numeric(df[c], errors="coerce")
        bad = v.isna() & (df[c].notna() | (c not in _MAY_BE_EMPTY))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            x = df[c].iloc[i]
            what = "is empty" if pd.isna(x) else f"'{x}' is not a number"
            raise InputFileError(path, f"column {c}, data row {i + 1}: {what}")
        df[c] = v
    return df


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
