"""The report's one self-contained HTML page (images embedded as base64).

Top to bottom: PARTIAL RUN banner (if any), title, done / total units, the threat models'
sections (e.g. the attack's tightness), the findings with their verdicts, the figures with
their captions, the qualitative panels, the summary tables, the config and the provenance.
Text in backticks (``\\`attacks.noise.tightness\\```) is shown as code.
"""

from __future__ import annotations

import base64
import html
import json
import re
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
    """

    sections: Sequence[ReportSection]
    findings: Sequence[Finding]
    figures: Mapping[str, Path]
    captions: Mapping[str, str]
    panels: Mapping[str, Path]
    tables: Mapping[str, pd.DataFrame]
    budgets: Mapping[str, str]


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em;
color:#222}table.t{border-collapse:collapse;font-size:12px}table.t td,table.t th{border:1px solid
#ccc;padding:2px 6px}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px}
.holds{color:#070}.fails{color:#b00}.unknown{color:#777}h2{border-bottom:1px solid #ddd}
.partial{background:#b00;color:#fff;font-weight:bold;font-size:1.3em;padding:.6em;margin:.5em 0}
.progress{font-weight:bold}"""

_VERDICT_RULE = (
    "A statement holds when every group's 95% interval lies on the claimed side, does not hold "
    f"when some group's interval lies wholly on the other side (each with at least "
    f"{MIN_SLICES} slices), and is 'not enough data' otherwise (an interval that "
    f"includes zero, fewer than {MIN_SLICES} slices, or nothing comparable)."
)


def _text(s: str) -> str:
    """``s`` escaped for HTML, with `backticked` spans as ``<code>``."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(s))


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


def _pivot(t: pd.DataFrame) -> str:
    t = t.copy()
    t["value"] = [
        f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
        if np.isfinite(lo) and np.isfinite(hi)
        else f"{m:.3f} (n={n})"
        for m, lo, hi, n in zip(t["mean"], t["ci_low"], t["ci_high"], t["n_slices"], strict=True)
    ]
    p = t.pivot_table(index=GROUP, columns="budget", values="value", aggfunc="first")
    p.columns = [f"{c:g}" for c in p.columns]
    return p.to_html(na_rep="-", border=0, classes="t")


def _section(s: ReportSection) -> str:
    """A section with a table: heading, sentence, table; without: one bold-led paragraph."""
    if s.table is None:
        return f"<p><b>{html.escape(s.title)}:</b> {_text(s.text)}</p>"
    table = s.table.to_html(index=False, border=0, classes="t", float_format=lambda x: f"{x:.4f}")
    return f"<h2>{html.escape(s.title)}</h2><p>{_text(f'{s.title}: {s.text}')}</p>{table}"


def _findings(found: Sequence[Finding]) -> list[str]:
    h = ["<h2>Expected findings</h2>", f"<p>{html.escape(_VERDICT_RULE)}</p><ul>"]
    for f in found:
        cls = {"holds": "holds", "does not hold": "fails"}.get(f.verdict, "unknown")
        ev = "".join(f"<li>{html.escape(e)}</li>" for e in f.evidence)
        h.append(
            f"<li><b>{html.escape(f.statement)}</b> <span class='{cls}'>{f.verdict}</span>"
            f"<ul>{ev}</ul></li>"
        )
    h.append("</ul>")
    return h


def render(run: RunData, prog: RunProgress, parts: ReportParts) -> str:
    """The HTML page of a run's report (see the module docstring)."""
    n_slices = run.results[["file", "slice"]].drop_duplicates().shape[0]
    banner = f"<div class='partial'>{html.escape(prog.banner)}</div>" if prog.partial else ""
    h = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{'PARTIAL - ' if prog.partial else ''}advrecon report "
        f"{html.escape(run.run_dir.name)}</title><style>{_CSS}</style></head><body>",
        banner,
        f"<h1>Adversarial robustness report: {html.escape(str(run.config.get('name', '')))}"
        f"</h1><p class='progress'>{html.escape(prog.headline)}</p>"
        f"<p>Run folder <code>{html.escape(str(run.run_dir))}</code>; "
        f"{len(run.results)} result rows, {n_slices}"
        " slices. Made from <code>results.csv</code> and the saved arrays only.</p>",
        *(_section(s) for s in parts.sections),
        *_findings(parts.findings),
        "<h2>Figures</h2>",
    ]
    for name, path in parts.figures.items():
        h.append(f"<h3>{html.escape(parts.captions.get(name, name))}</h3>{_img(path)}")
    if parts.panels:
        h.append("<h2>Qualitative examples (worst and median case, largest budget)</h2>")
        for name, path in parts.panels.items():
            h.append(f"<h3>{html.escape(name)}</h3>{_img(path)}")
    units = "; ".join(f"{name}: {unit}" for name, unit in parts.budgets.items() if unit)
    units = html.escape(units or "in each threat model's unit")
    h.append(
        "<h2>Summary tables</h2><p>mean [95% CI] over slices (one slice: mean and n, no "
        f"interval); columns: budget ({units}).</p>"
    )
    for name, t in parts.tables.items():
        if {"budget", "mean"} <= set(t.columns):  # other tables are shown in their sections
            h.append(f"<h3>{html.escape(name)}</h3>{_pivot(t)}")
    h.append(f"<h2>Config</h2><pre>{html.escape(run.config_text)}</pre>")
    h.append(f"<h2>Provenance</h2><pre>{html.escape(json.dumps(run.manifest, indent=2))}</pre>")
    h.append(f"{banner}</body></html>")
    return "\n".join(h)
