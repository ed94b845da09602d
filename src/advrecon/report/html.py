"""``advrecon report RUN_DIR``: tables, figures, panels, findings and one self-contained HTML.

Everything is made from the run folder's files (``results.csv``, ``rotation_curves.csv``,
``arrays/*.npz``, ``config.yaml``, ``manifest.json``): the report can be rebuilt at any time,
on another machine, without re-running anything. Output (default ``RUN_DIR/report``)::

    report.html     one file, images embedded as base64
    findings.md     the paper's statements with verdicts (quoted by the README)
    tables/*.csv    summary tables (mean, 95% CI, number of slices)
    figures/*.png|svg
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path

import pandas as pd

from advrecon.report import figures, findings, panels
from advrecon.report.tables import GROUP, RunData, load_run, summarize

__all__ = ["make_report", "summary_tables"]


def summary_tables(run: RunData) -> dict[str, pd.DataFrame]:
    """Summary tables: region / whole-image SSIM (adversarial, clean, random) per group+budget."""
    df = run.results
    by = [*GROUP, "budget"]
    out = {}
    for name, col in (
        ("region_ssim_adversarial", "adv_ssim"),
        ("region_ssim_clean", "clean_ssim"),
        ("region_ssim_random", "rand_mean_ssim"),
        ("image_ssim_adversarial", "adv_ssim_full"),
    ):
        if col in df.columns and df[col].notna().any():
            out[name] = summarize(df[df[col].notna()], col, by)
    if not run.curves.empty:
        c = run.curves.copy()
        out["rotation_curves_mean"] = summarize(
            c.assign(attack="rotation"), "ssim", ["model", "acceleration", "target", "angle"]
        )
    return out


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" style="max-width:100%">'


def _pivot(t: pd.DataFrame) -> str:
    t = t.copy()
    t["value"] = [
        f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
        for m, lo, hi in zip(t["mean"], t["ci_low"], t["ci_high"], strict=True)
    ]
    p = t.pivot_table(index=GROUP, columns="budget", values="value", aggfunc="first")
    p.columns = [f"{c:g}" for c in p.columns]
    return p.to_html(na_rep="-", border=0, classes="t")


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em;
color:#222}table.t{border-collapse:collapse;font-size:12px}table.t td,table.t th{border:1px solid
#ccc;padding:2px 6px}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px}
.holds{color:#070}.fails{color:#b00}.unknown{color:#777}h2{border-bottom:1px solid #ddd}"""

_CAPTIONS = {
    "fig1a_noise_budget": "Fig. 1a - region SSIM vs eta (adversarial: markers o, random noise of "
    "the same norm: x), mean and 95% CI over slices; right: relative to eta = 0.",
    "fig1b_targeted_vs_complete": "Fig. 1b - region SSIM when the attack targets the box vs the "
    "complete image.",
    "fig4a_rotation_budget": "Fig. 4a - worst-case region SSIM vs theta_max (x: random angle).",
    "fig4b_rotation_example": "Fig. 4b - SSIM vs rotation angle for the worst example; dashed: "
    "selected angle.",
    "fig_rules": "PGD update rule: l2 vs reference.",
}


def make_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of a run folder; return the HTML path.

    Raises:
        InputFileError: the run folder or its results table is missing/empty.
    """
    run = load_run(run_dir)
    out = Path(out) if out is not None else run.run_dir / "report"
    fig_dir, tab_dir = out / "figures", out / "tables"
    tab_dir.mkdir(parents=True, exist_ok=True)
    tables = summary_tables(run)
    for name, t in tables.items():
        t.to_csv(tab_dir / f"{name}.csv", index=False)
    figs = figures.make_all(run.results, run.curves, fig_dir)
    pans = panels.make_panels(run.results, run.run_dir, fig_dir)
    archs = {m.get("name"): m.get("arch") for m in run.config.get("models", [])}
    found = findings.evaluate(run.results, archs)
    md = findings.to_markdown(found)
    _write(out / "findings.md", md)

    n_slices = run.results[["file", "slice"]].drop_duplicates().shape[0]
    h = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>advrecon report "
        f"{html.escape(run.run_dir.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Adversarial robustness report: {html.escape(str(run.config.get('name', '')))}"
        f"</h1><p>Run folder <code>{html.escape(str(run.run_dir))}</code>; "
        f"{len(run.results)} result rows, {n_slices}"
        " slices. Made from <code>results.csv</code> and the saved arrays only.</p>",
        "<h2>Expected findings</h2><ul>",
    ]
    for f in found:
        cls = {"holds": "holds", "does not hold": "fails"}.get(f.verdict, "unknown")
        ev = "".join(f"<li>{html.escape(e)}</li>" for e in f.evidence)
        h.append(
            f"<li><b>{html.escape(f.statement)}</b> <span class='{cls}'>{f.verdict}</span>"
            f"<ul>{ev}</ul></li>"
        )
    h.append("</ul><h2>Figures</h2>")
    for name, path in figs.items():
        h.append(f"<h3>{html.escape(_CAPTIONS.get(name, name))}</h3>{_img(path)}")
    if pans:
        h.append("<h2>Qualitative examples (worst and median case, largest budget)</h2>")
        for name, path in pans.items():
            h.append(f"<h3>{html.escape(name)}</h3>{_img(path)}")
    h.append(
        "<h2>Summary tables</h2><p>mean [95% CI] over slices; columns: budget "
        "(eta % or theta_max degrees).</p>"
    )
    for name, t in tables.items():
        if "budget" in t.columns:
            h.append(f"<h3>{html.escape(name)}</h3>{_pivot(t)}")
    h.append(f"<h2>Config</h2><pre>{html.escape(run.config_text)}</pre>")
    h.append(f"<h2>Provenance</h2><pre>{html.escape(json.dumps(run.manifest, indent=2))}</pre>")
    h.append("</body></html>")
    path = out / "report.html"
    _write(path, "\n".join(h))
    return path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
