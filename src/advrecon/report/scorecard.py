"""The scorecard: one headline score per (model, threat model), from the results table only.

For a threat model at its headline budget, each region unit (model, slice, box) gets

* ``clean``: its clean region SSIM;
* ``worst``: the lowest region SSIM of *everything* evaluated for it at that budget: every
  search's returned point (every rule, the tightness check's too), the worst random draw and
  every point a plug-in reports in ``evaluated_min_ssim`` (the rotation's grid angles).
  A headline therefore never shows a "worst case" that some evaluated point beats, whatever
  metric the search optimised;
* ``random``: the mean region SSIM of the random draws at the same budget;
* ``reported``: the lowest SSIM of the configured searches alone (not the tightness check),
  so that ``tightness = reported - min(reported, tight)`` says how far the protocol's attack is
  from the check at 10x its cost;
* ``random_worst``: the lowest SSIM of its random draws; ``random_beats_search`` is the share
  of units where a random draw beat the search (gradient masking, or a weak search).

Boxes are averaged per slice first, then the mean and its Student-t 95 % interval are taken
over slices (:mod:`advrecon.report.stats`). The verdict reads the interval of the paired drop
``clean - worst`` (:class:`~advrecon.experiments.protocol.Verdict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from advrecon.experiments.protocol import Verdict
from advrecon.report.stats import SLICE, mean_ci

__all__ = [
    "EVALUATED",
    "TIGHT_RULE",
    "UNIT",
    "headline_budgets",
    "score",
    "scorecard",
    "unit_scores",
]

#: The rule name of tightness-check rows (a check at a multiple of the search's cost).
TIGHT_RULE = "tight"
#: Columns that identify a region unit across rules.
UNIT = ["model", "acceleration", *SLICE, "box_index"]


#: Columns holding region SSIMs of evaluated points: the search's returned point, the worst
#: random draw, and the lowest of every point a plug-in evaluated (e.g. every grid angle).
EVALUATED = ("adv_ssim", "rand_worst_ssim", "evaluated_min_ssim")


def _worst_of(rows: pd.DataFrame) -> pd.Series:
    """Per row, the lowest region SSIM evaluated (:data:`EVALUATED`)."""
    cols = [c for c in EVALUATED if c in rows.columns]
    return rows[cols].min(axis=1, skipna=True)


def unit_scores(results: pd.DataFrame, attack: str, budget: float) -> pd.DataFrame:
    """One row per region unit of ``attack`` at ``budget``: ``UNIT`` + ``clean``, ``worst``,
    ``random``, ``reported``, ``tight`` (NaN without a check) and ``converged`` (NaN when the
    search records none)."""
    df = results[
        (results["attack"] == attack)
        & (results["target"] == "region")
        & np.isclose(results["budget"].astype(float), float(budget))
    ].copy()
    cols = [*UNIT, "clean", "worst", "random", "reported", "tight", "converged", "random_worst"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["_worst"] = _worst_of(df)
    tight = df["rule"].astype(str) == TIGHT_RULE
    searched = df[~tight]
    g = df.groupby(UNIT, dropna=False, sort=True)
    out = pd.DataFrame(
        {
            "clean": g["clean_ssim"].first(),
            "worst": g["_worst"].min(),
            "random": searched.groupby(UNIT, dropna=False, sort=True)["rand_mean_ssim"].mean()
            if "rand_mean_ssim" in df.columns
            else math.nan,
            "reported": searched.groupby(UNIT, dropna=False, sort=True)["adv_ssim"].min(),
            "random_worst": searched.groupby(UNIT, dropna=False, sort=True)["rand_worst_ssim"].min()
            if "rand_worst_ssim" in df.columns
            else math.nan,
            "tight": df[tight].groupby(UNIT, dropna=False, sort=True)["adv_ssim"].min()
            if tight.any()
            else math.nan,
            "converged": _converged(searched),
        }
    )
    return out.reset_index()[cols]


def _converged(rows: pd.DataFrame) -> Any:
    """Per unit, whether every configured search converged (NaN where none records it)."""
    if "converged" not in rows.columns or rows["converged"].isna().all():
        return math.nan
    flag = rows["converged"].map(_as_bool)
    return flag.groupby([rows[c] for c in UNIT], dropna=False, sort=True).min()


def _as_bool(v: Any) -> float:
    if isinstance(v, str):
        return {"true": 1.0, "false": 0.0}.get(v.strip().lower(), math.nan)
    return math.nan if pd.isna(v) else float(bool(v))


def _mean(values: np.ndarray) -> float:
    """Mean of the finite values (NaN when there are none)."""
    v = values[np.isfinite(values)]
    return float(v.mean()) if v.size else math.nan


def _slice_mean(units: pd.DataFrame, value: str) -> np.ndarray:
    """Per-slice means of ``value`` (boxes averaged first)."""
    return units.groupby(SLICE, sort=True)[value].mean().to_numpy(dtype=float)


def score(units: pd.DataFrame, verdict: Verdict) -> dict[str, Any]:
    """The headline of one (model, threat model) from its :func:`unit_scores` rows."""
    units = units.assign(drop=units["clean"] - units["worst"])
    worst, lo, hi, n = mean_ci(_slice_mean(units, "worst"))
    _, dlo, dhi, _ = mean_ci(_slice_mean(units, "drop"))
    gap = (units["reported"] - np.minimum(units["reported"], units["tight"])).astype(float)
    conv = units["converged"].astype(float)
    return {
        "clean": _num(_mean(_slice_mean(units, "clean"))),
        "worst_case": _num(worst),
        "ci95": [_num(lo), _num(hi)],
        "random": _num(_mean(_slice_mean(units, "random"))),
        "drop": _num(_mean(_slice_mean(units, "drop"))),
        "n": n,
        "tightness": _num(_mean(_slice_mean(units.assign(gap=gap), "gap")))
        if gap.notna().any()
        else None,
        "converged": _num(float(conv.mean())) if conv.notna().any() else None,
        "verdict": verdict.of(dlo, dhi) if n >= 2 else "inconclusive",
        "random_beats_search": _beats(units),
    }


def _beats(units: pd.DataFrame) -> float | None:
    """Share of units whose worst random draw is lower than the search's point: a sign of
    gradient masking or of a weak search when above zero (``None`` without random draws)."""
    both = units[["random_worst", "reported"]].astype(float).dropna()
    if both.empty:
        return None
    return _num(float((both["random_worst"] < both["reported"] - 1e-9).mean()))


def _num(x: Any) -> float | None:
    """A JSON number (NaN -> ``None``), rounded to 6 decimals."""
    x = float(x)
    return None if not math.isfinite(x) else round(x, 6)


def headline_budgets(results: pd.DataFrame) -> dict[str, float]:
    """Without a protocol: each threat model's largest region budget in the table."""
    region = results[results["target"] == "region"]
    return {str(a): float(g["budget"].max()) for a, g in region.groupby("attack", sort=False)}


def scorecard(
    results: pd.DataFrame,
    headline: Mapping[str, float] | None = None,
    verdict: Verdict | None = None,
    order: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Headline scores of every (model@acceleration, threat model) with region rows.

    Args:
        results: ``results.csv`` as a DataFrame.
        headline: Threat model -> budget (default :func:`headline_budgets`).
        verdict: Thresholds (default :class:`Verdict`).
        order: Threat-model order (default: the headline's).

    Returns:
        One dict per (model, threat model): ``model`` (``name@Nx``), ``name``, ``budget`` and
        the keys of :func:`score`.
    """
    if results.empty or "target" not in results.columns:
        return []
    headline = dict(headline or headline_budgets(results))
    verdict = verdict or Verdict()
    rows = []
    for name in order or list(headline):
        if name not in headline:
            continue
        units = unit_scores(results, name, headline[name])
        for (model, acc), u in units.groupby(["model", "acceleration"], sort=True):
            rows.append(
                {"model": f"{model}@{int(acc)}x", "name": name, "budget": headline[name]}
                | score(u, verdict)
            )
    return sorted(rows, key=lambda r: r["model"])  # stable: threat models keep their order


def sentences(rows: list[dict[str, Any]]) -> list[str]:
    """A few plain sentences per model: where it breaks most, and where it holds."""
    out = []
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r)
    for model, rs in by_model.items():
        scored = [r for r in rs if r["drop"] is not None]
        if not scored:
            continue
        worst = max(scored, key=lambda r: r["drop"])
        text = (
            f"{model}: the largest loss is under `{worst['name']}` "
            f"at {worst['budget_label']}: region SSIM {worst['clean']:.3f} clean, "
            f"{worst['worst_case']:.3f} in the worst case"
        )
        if worst["random"] is not None:
            text += f" ({worst['random']:.3f} under random perturbations of the same size)"
        groups = {v: [r["name"] for r in rs if r["verdict"] == v] for v in ("vulnerable", "robust")}
        text += "."
        if groups["vulnerable"]:
            text += f" Vulnerable to {_names(groups['vulnerable'])}."
        if groups["robust"]:
            text += f" Robust to {_names(groups['robust'])}."
        rest = [r["name"] for r in rs if r["verdict"] == "inconclusive"]
        if rest:
            text += f" Inconclusive: {_names(rest)}."
        out.append(text)
    return out


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def tradeoff_figure(rows: list[dict[str, Any]], out_dir: Any) -> Any:
    """Clean vs worst-case region SSIM, one point per model, one panel per threat model.

    The robustness-accuracy trade-off of the models of a run (e.g. a standard model and its
    hardened variants): up is more robust, right is better clean quality. ``None`` when fewer
    than two models are scored.

    Returns:
        The PNG path, or ``None``.
    """
    from advrecon.report.figures import colors, save, subplots

    models = sorted({r["model"] for r in rows})
    names = list(dict.fromkeys(r["name"] for r in rows))
    if len(models) < 2 or not names:
        return None
    color = colors(models)
    cols = min(len(names), 3)
    fig, axes = subplots(
        -(-len(names) // cols), cols, figsize=(4.2 * cols, 3.6 * -(-len(names) // cols)),
        squeeze=False,
    )  # fmt: skip
    for ax, name in zip(axes.flat, names, strict=False):
        for r in (r for r in rows if r["name"] == name and r["worst_case"] is not None):
            lo, hi = r["ci95"]
            err = None if lo is None else [[r["worst_case"] - lo], [hi - r["worst_case"]]]
            ax.errorbar(r["clean"], r["worst_case"], yerr=err, fmt="o", color=color[r["model"]],
                        capsize=3, label=r["model"])  # fmt: skip
        first = next(r for r in rows if r["name"] == name)
        ax.set_title(f"{name} at {first.get('budget_label', format(first['budget'], 'g'))}")
        ax.set_xlabel("clean region SSIM")
        ax.set_ylabel("worst-case region SSIM")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, out_dir, "tradeoff_clean_vs_worst")
