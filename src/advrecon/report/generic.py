"""The report of a threat model that brings no report hooks of its own.

A plug-in whose :class:`~advrecon.attacks.contract.ReportHooks` are all empty (e.g. an external
one) still shows up in the report, from the columns every threat model writes (``adv_ssim``,
``clean_ssim``, optionally ``rand_mean_ssim``):

* a figure ``fig_<name>_budget``: region SSIM vs the budget (in the plug-in's ``budget_unit``)
  per model, one panel per acceleration, worst case with its 95% interval over slices (o), the
  clean reconstruction (dashed) and the random baseline (x) where the run has one;
* a finding ``<name>_below_baseline``: the attack lowers region SSIM below the random baseline
  (or, without one, below the clean reconstruction) at each group's largest budget, paired per
  slice, in the usual three-way verdict;
* a summary table ``<name>_region_ssim`` (mean, 95% CI and slices per group and budget);
* its headline rows (``primary``: the region target) for the cross-model statements.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext, ReportHooks, ThreatModel
from advrecon.report.findings import CI, UNKNOWN, Finding, close, model_groups, record, select
from advrecon.report.stats import GROUP, mean_ci, per_slice, summarize

__all__ = ["generic_hooks", "has_hooks"]


def has_hooks(hooks: ReportHooks) -> bool:
    """Whether a plug-in declares any report hook of its own."""
    parts = ("figures", "panels", "findings", "tables", "sections", "primary")
    return any(hooks.declares(p) for p in parts)


def _region(ctx: ReportContext, name: str) -> pd.DataFrame:
    d = ctx.rows(name)
    return d[d["target"] == "region"]


def _has(d: pd.DataFrame, col: str) -> bool:
    return col in d.columns and bool(d[col].notna().any())


def _figure(ctx: ReportContext, tm: ThreatModel) -> dict[str, Path]:
    from advrecon.report.figures import band, colors, line, save, subplots  # matplotlib here

    d = _region(ctx, tm.name)
    if d.empty:
        return {}
    accs = sorted(int(a) for a in d["acceleration"].unique())
    color = colors(list(d["model"].unique()))
    fig, axes = subplots(1, len(accs), figsize=(5.2 * len(accs), 3.8), squeeze=False)
    by = ["model", "acceleration", "budget"]
    for ax, acc in zip(axes[0], accs, strict=True):
        g = d[d["acceleration"] == acc]
        for m, s in summarize(g, "adv_ssim", by).groupby("model"):
            band(ax, s, "budget", color[m], "-", f"{m} worst case")
        for m, s in summarize(g, "clean_ssim", by).groupby("model"):
            line(ax, s, "budget", color[m], "--", f"{m} clean", alpha=0.6, marker="")
        if _has(g, "rand_mean_ssim"):
            for m, s in summarize(g, "rand_mean_ssim", by).groupby("model"):
                line(ax, s, "budget", color[m], ":", f"{m} random")
        ax.set_title(f"{acc}x", fontsize=9)
        ax.set_xlabel(f"{tm.budget_column} ({tm.budget_unit})" if tm.budget_unit else "budget")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("region SSIM (mean, 95% CI over slices)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{tm.name}: worst case vs budget")
    return {f"fig_{tm.name}_budget": save(fig, ctx.fig_dir, f"fig_{tm.name}_budget")}


def _finding(ctx: ReportContext, tm: ThreatModel) -> list[Finding]:
    d = _region(ctx, tm.name)
    d = d[d["budget"] > 0]
    base, what, short = (
        ("rand_mean_ssim", "the random baseline", "random")
        if _has(d, "rand_mean_ssim")
        else ("clean_ssim", "the clean reconstruction", "clean")
    )
    f = Finding(
        f"{tm.name}_below_baseline",
        f"The {tm.name} attack lowers region SSIM below {what} at the largest budget.",
        UNKNOWN,
    )
    cis: list[CI] = []
    for m, a in model_groups(d):
        g = select(d, m, a)
        g = g[g["budget"] == g["budget"].max()]
        diff = per_slice(g.assign(x=g[base] - g["adv_ssim"]), "x", [])["x"]
        label = f"{m} {a}x {tm.name} {g['budget'].max():g}{tm.budget_symbol}"
        record(f, cis, label, mean_ci(diff), f"SSIM({short}) - SSIM(attack) ")
    return [close(f, cis)]


def _table(ctx: ReportContext, tm: ThreatModel) -> dict[str, pd.DataFrame]:
    d = _region(ctx, tm.name)
    if d.empty:
        return {}
    return {f"{tm.name}_region_ssim": summarize(d, "adv_ssim", [*GROUP, "budget"])}


def generic_hooks(tm: ThreatModel) -> ReportHooks:
    """Report hooks for ``tm`` made from the columns every threat model writes."""
    caption = (
        f"{tm.name} - region SSIM vs {tm.budget_column or 'the budget'}: worst case (o, 95% CI "
        "over slices), clean reconstruction (dashed), random baseline (x) where the run has one."
    )
    return ReportHooks(
        figures=lambda ctx: _figure(ctx, tm),
        findings=lambda ctx: _finding(ctx, tm),
        tables=lambda ctx: _table(ctx, tm),
        primary=lambda ctx: _region(ctx, tm.name),
        captions={f"fig_{tm.name}_budget": caption},
    )
