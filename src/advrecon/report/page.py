"""The report's one self-contained HTML page (images embedded as base64).

Top to bottom: PARTIAL RUN banner (if any), title, done / total units, the scorecard (model x
threat model: clean, worst case, random, verdict, and a few plain sentences), the threat models'
sections (e.g. the attack's tightness), the findings with their verdicts, the figures with
their captions, the qualitative panels, the summary tables, the config and the provenance.
Text in backticks (``\\`attacks.noise.tightness\\```) is shown as code. The layout is the
Jinja2 template ``templates/report.html.j2``; this module only gathers what it shows.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from advrecon.attacks.contract import Finding, ReportSection
from advrecon.report.findings import MIN_SLICES
from advrecon.report.progress import RunProgress
from advrecon.report.stats import GROUP
from advrecon.report.tables import RunData

__all__ = ["ReportParts", "render"]


@dataclass(frozen=True)
class ReportParts:
    """What the threat models' report hooks made for one run (:mod:`advrecon.report.plugins`).

    Attributes:
        sections: Shown first (e.g. the attack's tightness).
        findings: Statements with verdicts.
        figures: Figure name -> PNG; ``captions``: figure name -> caption.
        panels: Panel title -> PNG.
        tables: Summary table name -> table (pivoted when it has ``budget`` and ``mean``).
        budgets: Threat model -> its budget's unit in words (for the tables' columns).
        scorecard: The scorecard's rows (:func:`advrecon.report.scorecard.scorecard`), shown
            first, with its plain ``sentences``.
        audit: An audit's ``audit.json`` (protocol, model identity with its training recipe,
            data), shown above the scorecard; ``None`` for other runs.
    """

    sections: Sequence[ReportSection]
    findings: Sequence[Finding]
    figures: Mapping[str, Path]
    captions: Mapping[str, str]
    panels: Mapping[str, Path]
    tables: Mapping[str, pd.DataFrame]
    budgets: Mapping[str, str]
    scorecard: Sequence[dict] = ()
    sentences: Sequence[str] = ()
    audit: dict | None = None


SCORECARD_NOTE = (
    "Region SSIM, mean over slices, at each threat model's headline budget (an audit: the "
    "protocol's). Worst case: the lowest SSIM of everything evaluated there (every search, "
    "grid angle, restart and random draw). Random: mean over random perturbations of the same "
    "budget. Verdict from the 95% interval of the drop clean - worst case: robust below 0.02, "
    "vulnerable above 0.05 (an audit: the protocol's thresholds), inconclusive otherwise."
)

_VERDICT_RULE = (
    "A statement holds when every group's 95% interval lies on the claimed side, does not hold "
    f"when some group's interval lies wholly on the other side (each with at least "
    f"{MIN_SLICES} slices), and is 'not enough data' otherwise (an interval that "
    f"includes zero, fewer than {MIN_SLICES} slices, or nothing comparable)."
)


def _b64(path: Path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode()


def _cells(t: pd.DataFrame, index: bool = False) -> dict:
    """A table as the template shows it: ``{"columns": [...], "rows": [[str, ...], ...]}``."""
    if index:
        t = t.reset_index()
    fmt = [(lambda v: f"{v:.4f}") if pd.api.types.is_float_dtype(t[c]) else str for c in t.columns]
    rows = [
        [
            "-" if (isinstance(v, float) and np.isnan(v)) else f(v)
            for f, v in zip(fmt, r, strict=True)
        ]
        for r in t.itertuples(index=False)
    ]
    return {"columns": [str(c) for c in t.columns], "rows": rows}


def _pivot(t: pd.DataFrame) -> dict:
    t = t.copy()
    t["value"] = [
        f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
        if np.isfinite(lo) and np.isfinite(hi)
        else f"{m:.3f} (n={n})"
        for m, lo, hi, n in zip(t["mean"], t["ci_low"], t["ci_high"], t["n_slices"], strict=True)
    ]
    p = t.pivot_table(index=GROUP, columns="budget", values="value", aggfunc="first")
    p.columns = [f"{c:g}" for c in p.columns]
    return _cells(p, index=True)


def _finding(f: Finding) -> dict:
    cls = {"holds": "holds", "does not hold": "fails"}.get(f.verdict, "unknown")
    return {"statement": f.statement, "verdict": f.verdict, "cls": cls, "evidence": f.evidence}


def render(run: RunData, prog: RunProgress, parts: ReportParts) -> str:
    """The HTML page of a run's report (see the module docstring; ``templates/report.html.j2``)."""
    from advrecon.report.templates import render as fill

    units = "; ".join(f"{name}: {unit}" for name, unit in parts.budgets.items() if unit)
    return fill(
        "report.html.j2",
        partial=prog.partial, banner=prog.banner, headline=prog.headline,
        run_name=run.run_dir.name, title=str(run.config.get("name", "")),
        run_dir=str(run.run_dir), n_rows=len(run.results),
        n_slices=run.results[["file", "slice"]].drop_duplicates().shape[0],
        scorecard=list(parts.scorecard), sentences=list(parts.sentences),
        scorecard_note=SCORECARD_NOTE, audit=parts.audit,
        sections=[
            {"title": x.title, "text": x.text,
             "table": None if x.table is None else _cells(x.table)}
            for x in parts.sections
        ],
        verdict_rule=_VERDICT_RULE, findings=[_finding(f) for f in parts.findings],
        figures=[{"caption": parts.captions.get(n, n), "data": _b64(p)}
                 for n, p in parts.figures.items()],
        panels=[{"caption": n, "data": _b64(p)} for n, p in parts.panels.items()],
        units=units or "in each threat model's unit",
        summary_tables=[(n, _pivot(t)) for n, t in parts.tables.items()
                        if {"budget", "mean"} <= set(t.columns)],
        config_text=run.config_text, provenance=json.dumps(run.manifest, indent=2),
    )  # fmt: skip
