"""How close the reported noise attack is to the worst case: the tightness check's gap.

With ``attacks.noise.tightness`` a run also attacks some region units with ``factor`` x the
cost (rows with rule ``tight``, :mod:`advrecon.attacks.noise`). For each such unit the *gap*
is the configured attack's region SSIM minus the lowest region SSIM either attack found
(``>= 0``; 0 = the stronger search found nothing lower). A small gap says the table's numbers
are close to what a 10x stronger attack reports; a large one says the robustness is
over-stated. Everything is read from ``results.csv`` (reproducible from the run folder). The
report shows it as a section (before the findings; its line also opens ``findings.md`` and the
run's printed summary) and as the table ``noise_tightness``.
"""

from __future__ import annotations

import pandas as pd

from advrecon.attacks.contract import ReportContext, ReportSection
from advrecon.attacks.noise.report.rows import NAME, TIGHT_RULE, primary_rule

__all__ = [
    "TIGHT_RULE",
    "sections",
    "tables",
    "tightness_line",
    "tightness_rows",
    "tightness_table",
]

_UNIT = ["model", "acceleration", "file", "slice", "box_index", "budget"]
_TITLE = "Attack tightness"
_GAP = (
    " Gap = reported region SSIM minus the lowest region SSIM found by either attack (rows "
    f"with rule `{TIGHT_RULE}`)."
)
_NOT_CHECKED = (
    "not checked in this run (add `attacks.noise.tightness` to re-attack some units with 10x "
    "the cost; `benchmarks/strength.py` measures it on the demo models)."
)
_COLUMNS = {"n": "units", "gap_mean": "mean gap", "gap_max": "max gap",
            "adv_ssim": "reported SSIM", "tight_ssim": "check's SSIM"}  # fmt: skip


def tightness_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per checked unit: ``adv_ssim`` (configured attack), ``tight_ssim``, ``gap``.

    Empty when the run has no check (no ``tight`` rows).
    """
    cols = [*_UNIT, "adv_ssim", "tight_ssim", "gap", "tight_steps", "tight_search"]
    if "rule" not in df.columns:
        return pd.DataFrame(columns=cols)
    d = df[(df["attack"] == NAME) & (df["target"] == "region")]
    tight = d[d["rule"] == TIGHT_RULE]
    if tight.empty:
        return pd.DataFrame(columns=cols)
    base = d[d["rule"] == primary_rule(d[d["rule"] != TIGHT_RULE])]
    t = tight[[*_UNIT, "adv_ssim", "steps", "search"]].rename(
        columns={"adv_ssim": "tight_ssim", "steps": "tight_steps", "search": "tight_search"}
    )
    m = base[[*_UNIT, "adv_ssim"]].merge(t, on=_UNIT)
    m["gap"] = m["adv_ssim"] - m[["adv_ssim", "tight_ssim"]].min(axis=1)
    return m[cols].reset_index(drop=True)


def tightness_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (model, acceleration, budget): items, mean / max gap, mean SSIM of both attacks."""
    r = tightness_rows(df)
    if r.empty:
        return pd.DataFrame()
    g = r.groupby(["model", "acceleration", "budget"])
    return g.agg(
        n=("gap", "size"),
        gap_mean=("gap", "mean"),
        gap_max=("gap", "max"),
        adv_ssim=("adv_ssim", "mean"),
        tight_ssim=("tight_ssim", "mean"),
    ).reset_index()


def _sentence(r: pd.DataFrame) -> str:
    steps = int(r["tight_steps"].iloc[0])
    search = str(r["tight_search"].iloc[0])
    etas = ", ".join(f"{e:g}" for e in sorted(r["budget"].unique()))
    return (
        f"on {len(r)} region units (eta {etas} %) a {search.upper()} attack with "
        f"{steps} steps per run found a region SSIM lower by {r['gap'].mean():.4f} on average "
        f"(max {r['gap'].max():.4f}) than the reported attack; the reported robustness is "
        "over-stated by about this much."
    )


def tightness_line(df: pd.DataFrame) -> str | None:
    """One sentence for the findings and the report header (``None`` without a check)."""
    r = tightness_rows(df)
    return None if r.empty else f"{_TITLE}: {_sentence(r)}"


def sections(ctx: ReportContext) -> list[ReportSection]:
    """The check's sentence and table, or a note that the run has none."""
    r = tightness_rows(ctx.results)
    if r.empty:
        return [ReportSection(_TITLE, _NOT_CHECKED)]
    table = tightness_table(ctx.results).rename(columns=_COLUMNS)
    return [ReportSection(_TITLE, _sentence(r) + _GAP, table)]


def tables(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """``noise_tightness`` (:func:`tightness_table`) when the run has the check."""
    t = tightness_table(ctx.results)
    return {} if t.empty else {"noise_tightness": t}
