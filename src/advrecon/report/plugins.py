"""The threat-model plug-ins' parts of the report: one loop over the registry.

For every registered threat model with rows in the results table (in the registry's order) the
report calls its :class:`~advrecon.attacks.contract.ReportHooks` with one
:class:`~advrecon.attacks.contract.ReportContext`; a plug-in that declares no hook gets the
generic part (:mod:`advrecon.report.generic`). After the plug-ins' findings come the statements
that compare model families across every plug-in's headline rows (``primary``). This module is
the report's one link to the registry (:mod:`advrecon.attacks.registry`); the helpers it calls
and the plug-ins' hooks never import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import (
    Finding,
    ReportContext,
    ReportHooks,
    ReportSection,
    ThreatModel,
)
from advrecon.attacks.registry import threat_models
from advrecon.report.findings import classical_vs_networks
from advrecon.report.generic import generic_hooks, has_hooks
from advrecon.report.stats import GROUP, summarize

__all__ = [
    "active",
    "budget_label",
    "scored",
    "titles",
    "captions",
    "context",
    "evaluate",
    "figures",
    "panels",
    "sections",
    "summary_tables",
]

#: Summary tables over every threat model's rows: name -> results column.
GENERIC_TABLES = {
    "region_ssim_adversarial": "adv_ssim",
    "region_ssim_clean": "clean_ssim",
    "region_ssim_random": "rand_mean_ssim",
    "image_ssim_adversarial": "adv_ssim_full",
}


def active(results: pd.DataFrame) -> list[tuple[ThreatModel, ReportHooks]]:
    """``(threat model, its hooks or the generic ones)`` of every plug-in with rows."""
    present = set(results["attack"]) if "attack" in results.columns else set()
    return [
        (tm, tm.report if has_hooks(tm.report) else generic_hooks(tm))
        for tm in threat_models().values()
        if tm.name in present
    ]


def context(
    results: pd.DataFrame,
    curves: pd.DataFrame | None = None,
    run_dir: str | Path = ".",
    fig_dir: str | Path = ".",
    archs: Mapping[str, str] | None = None,
) -> ReportContext:
    """The :class:`ReportContext` every hook gets (curves empty and folders ``.`` by default)."""
    return ReportContext(
        results=results,
        curves=pd.DataFrame() if curves is None else curves,
        run_dir=Path(run_dir),
        fig_dir=Path(fig_dir),
        archs=dict(archs or {}),
    )


def evaluate(
    results: pd.DataFrame, archs: Mapping[str, str] | None = None, ctx: ReportContext | None = None
) -> list[Finding]:
    """Every statement on a results table: each plug-in's findings, then the cross-model ones.

    Args:
        results: ``results.csv`` as a DataFrame.
        archs: ``model name -> arch`` (from the run's config); names are used when missing.
            The classical-vs-networks statement is added when a classical arch ran.
        ctx: The report's context (default: made from ``results`` and ``archs``).
    """
    ctx = ctx or context(results, archs=archs)
    found: list[Finding] = []
    primaries = []
    for tm, hooks in active(ctx.results):
        if hooks.declares("findings"):
            found += hooks.call("findings", ctx)
        if hooks.declares("primary"):
            primaries.append((tm.name, tm.budget_symbol, hooks.call("primary", ctx)))
    classical = classical_vs_networks(ctx.results, primaries, dict(ctx.archs))
    return found + ([classical] if classical is not None else [])


def sections(ctx: ReportContext) -> list[ReportSection]:
    """Every plug-in's sections (shown before the findings)."""
    out: list[ReportSection] = []
    for _, hooks in active(ctx.results):
        if hooks.declares("sections"):
            out += hooks.call("sections", ctx)
    return out


def _merged(ctx: ReportContext, hook: str) -> dict:
    out: dict = {}
    for _, hooks in active(ctx.results):
        if hooks.declares(hook):
            out.update(hooks.call(hook, ctx))
    return out


def figures(ctx: ReportContext) -> dict[str, Path]:
    """Every plug-in's figures: ``{name: png}``."""
    return _merged(ctx, "figures")


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Every plug-in's qualitative panels: ``{title: png}``."""
    return _merged(ctx, "panels")


def captions(ctx: ReportContext) -> dict[str, str]:
    """Figure name -> caption, from every plug-in with rows."""
    out: dict[str, str] = {}
    for _, hooks in active(ctx.results):
        out.update(hooks.captions)
    return out


def summary_tables(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """Region / whole-image SSIM per group and budget over every row, then each plug-in's."""
    df = ctx.results
    out = {}
    for name, col in GENERIC_TABLES.items():
        if col in df.columns and df[col].notna().any():
            out[name] = summarize(df[df[col].notna()], col, [*GROUP, "budget"])
    return out | _merged(ctx, "tables")


def titles() -> dict[str, str]:
    """Threat model -> its one-line description (its name when it has none)."""
    return {name: tm.description or name for name, tm in threat_models().items()}


def budget_label(name: str, budget: float) -> str:
    """A budget as people read it: ``1%``, ``5 deg`` (the plug-in's symbol; bare if unknown)."""
    tm = threat_models().get(name)
    return f"{budget:g}{tm.budget_symbol if tm is not None else ''}"


def scored(results: pd.DataFrame, headline=None, verdict=None) -> list[dict]:
    """The scorecard rows (:func:`advrecon.report.scorecard.scorecard`) in the registry's order,
    each with the threat model's ``description`` and its ``budget_label``.

    Args:
        results: ``results.csv`` as a DataFrame.
        headline: Threat model -> budget (an audit's protocol; default: the largest budgets).
        verdict: Thresholds (:class:`~advrecon.experiments.protocol.Verdict`; default ones).
    """
    from advrecon.report.scorecard import headline_budgets, scorecard

    headline = headline or headline_budgets(results)
    names = titles()
    rows = scorecard(results, headline, verdict, [n for n in names if n in headline])
    for r in rows:
        r["description"] = names[r["name"]]
        r["budget_label"] = budget_label(r["name"], r["budget"])
    return rows
