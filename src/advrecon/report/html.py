"""``advrecon report RUN_DIR``: tables, figures, panels, findings and one self-contained HTML.

Everything is made from the run folder's files (``results.csv``, ``rotation_curves.csv``,
``arrays/*.npz``, ``config.yaml``, ``manifest.json``): the report can be rebuilt at any time,
on another machine, without re-running anything. The report opens with done / total units; a
partial run is refused unless asked for, and then carries a PARTIAL RUN banner at the top (and
bottom) of the HTML and at the top of ``findings.md``. Output (default ``RUN_DIR/report``)::

    report.html     one file, images embedded as base64
    findings.md     the paper's statements with verdicts (quoted by the README)
    tables/*.csv    summary tables (mean, 95% CI, number of slices)
    figures/*.png|svg
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from advrecon.errors import AdvreconError
from advrecon.report import features, figures, findings, panels
from advrecon.report.progress import RunProgress, refuse_partial, run_progress
from advrecon.report.tables import GROUP, RunData, load_run, summarize
from advrecon.report.tightness import tightness_line, tightness_table

log = logging.getLogger(__name__)

__all__ = ["make_report", "summary_tables", "ReportOutputError"]


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
        ("feature_recovered", "feature_recovered"),
        ("feature_recovered_random_position", "rand_feature_recovered"),
        ("feature_cnr", "feature_cnr"),
        ("hallucination_recovered", "halluc_recovered"),
        ("hallucination_recovered_random_noise", "rand_halluc_recovered"),
        ("hallucination_cnr", "halluc_cnr"),
    ):
        if col in df.columns and df[col].notna().any():
            out[name] = summarize(df[df[col].notna()], col, by)
    tight = tightness_table(run.results)
    if not tight.empty:
        out["noise_tightness"] = tight
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
        if np.isfinite(lo) and np.isfinite(hi)
        else f"{m:.3f} (n={n})"
        for m, lo, hi, n in zip(t["mean"], t["ci_low"], t["ci_high"], t["n_slices"], strict=True)
    ]
    p = t.pivot_table(index=GROUP, columns="budget", values="value", aggfunc="first")
    p.columns = [f"{c:g}" for c in p.columns]
    return p.to_html(na_rep="-", border=0, classes="t")


_CSS = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:auto;padding:1em;
color:#222}table.t{border-collapse:collapse;font-size:12px}table.t td,table.t th{border:1px solid
#ccc;padding:2px 6px}pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:12px}
.holds{color:#070}.fails{color:#b00}.unknown{color:#777}h2{border-bottom:1px solid #ddd}
.partial{background:#b00;color:#fff;font-weight:bold;font-size:1.3em;padding:.6em;margin:.5em 0}
.progress{font-weight:bold}"""

_CAPTIONS = {
    "fig1a_noise_budget": "Fig. 1a - region SSIM vs eta (adversarial: markers o, random noise of "
    "the same norm: x), mean and 95% CI over slices; right: relative to eta = 0.",
    "fig1b_targeted_vs_complete": "Fig. 1b - region SSIM when the attack targets the box vs the "
    "complete image.",
    "fig4a_rotation_budget": "Fig. 4a - worst-case region SSIM vs theta_max (x: random angle).",
    "fig4b_rotation_example": "Fig. 4b - SSIM vs rotation angle for the worst example; dashed: "
    "selected angle.",
    "fig_rules": "PGD update rule: l2 vs reference.",
    "fig_motion_budget": "Inter-shot rigid motion - region (left) and whole-image (right) SSIM "
    "vs theta_max per shot: worst-case motion (o, 95% CI), random motion at the same bound (x), "
    "worst single-shot motion (s).",
    "fig_features": "Missing and hallucinated features - fraction of the feature's energy in "
    "the reconstruction vs the budget (o: worst case; x: the same feature at a random position / "
    "random noise of the same norm), mean and 95% CI over slices.",
}


def make_report(
    run_dir: str | Path, out: str | Path | None = None, allow_partial: bool = False
) -> Path:
    """Write the report of a run folder; return the HTML path.

    The report is built in a hidden folder inside ``out`` and moved into place at the end, so
    a failure leaves the previous report (or nothing) behind, never half of a new one. A
    partial run (see :mod:`advrecon.report.progress`) is refused unless ``allow_partial``; its
    report then opens with a PARTIAL RUN banner.

    Args:
        run_dir: Run folder of ``advrecon run``.
        out: Output folder (default ``run_dir/report``); created if missing.
        allow_partial: Report a run that is not complete (verdicts marked provisional).

    Raises:
        InputFileError: the run folder, its results table or a saved array is unreadable.
        PartialRunError: the run is partial and ``allow_partial`` is False (nothing written).
        ReportOutputError: ``out`` cannot be written (nothing new left there).
    """
    run = load_run(run_dir)
    prog = run_progress(run)
    if prog.partial and not allow_partial:
        raise refuse_partial(run, prog)
    out = Path(out) if out is not None else run.run_dir / "report"
    with _staging(out) as stage:
        _build(run, prog, stage)
    if prog.partial:
        log.warning("%s", prog.banner)
    return out / "report.html"


class ReportOutputError(AdvreconError):
    """The report's output folder cannot be written (exit status 1, like other write faults)."""

    exit_code = 1

    def __init__(self, path: Path, exc: OSError | str) -> None:
        why = exc if isinstance(exc, str) else (exc.strerror or type(exc).__name__)
        super().__init__(f"{path}: cannot write the report there ({why}); choose another --out")


#: What a report consists of; exactly these entries of ``out`` are replaced.
_ENTRIES = ("figures", "tables", "findings.md", "report.html")


@contextmanager
def _staging(out: Path) -> Iterator[Path]:
    """A hidden folder inside ``out`` to build the report in, published on success."""
    if out.exists() and not out.is_dir():
        raise ReportOutputError(out, "it is not a folder")
    made = [d for d in (out, *out.parents) if not d.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".report-", dir=out))
    except OSError as exc:
        _remove_empty(made)
        raise ReportOutputError(out, exc) from None
    try:
        yield stage
        _publish(stage, out)
    except OSError as exc:
        raise ReportOutputError(out, exc) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(made)  # only if nothing was published


def _publish(stage: Path, out: Path) -> None:
    """Replace the report entries of ``out`` by those of ``stage`` (``report.html`` last)."""
    for name in _ENTRIES:
        new, dest = stage / name, out / name
        if dest.is_dir() and not dest.is_symlink():
            old = stage / f".old-{name}"
            os.replace(dest, old)  # same file system: a rename, then removed with the stage
        if new.exists():
            os.replace(new, dest)


def _remove_empty(dirs: list[Path]) -> None:
    """Remove the folders this call made (deepest first) if they are still empty."""
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            return


def _build(run: RunData, prog: RunProgress, out: Path) -> None:
    """Write tables, figures, panels, ``findings.md`` and ``report.html`` into ``out``."""
    fig_dir, tab_dir = out / "figures", out / "tables"
    tab_dir.mkdir(parents=True, exist_ok=True)
    tables = summary_tables(run)
    for name, t in tables.items():
        t.to_csv(tab_dir / f"{name}.csv", index=False)
    figs = figures.make_all(run.results, run.curves, fig_dir)
    fig_feat = features.fig_features(run.results, fig_dir)
    if fig_feat is not None:
        figs["fig_features"] = fig_feat
    pans = panels.make_panels(run.results, run.run_dir, fig_dir)
    pans.update(features.feature_panels(run.results, run.run_dir, fig_dir))
    models = run.config.get("models")
    archs = {
        m.get("name"): m.get("arch")
        for m in (models if isinstance(models, list) else [])
        if isinstance(m, dict)
    }
    found = findings.evaluate(run.results, archs) + features.feature_findings(run.results)
    preamble = [f"**{prog.banner}**"] if prog.partial else []
    tight = tightness_line(run.results)
    md = findings.to_markdown(
        found, preamble=[*preamble, prog.headline, *([tight] if tight else [])]
    )
    (out / "findings.md").write_text(md, encoding="utf-8")
    page = _html(run, prog, found, figs, pans, tables)
    (out / "report.html").write_text(page, encoding="utf-8")


def _html(run, prog, found, figs, pans, tables) -> str:
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
        _tightness_html(run.results, tables.get("noise_tightness")),
        "<h2>Expected findings</h2>",
        f"<p>{html.escape(_VERDICT_RULE)}</p><ul>",
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
        "<h2>Summary tables</h2><p>mean [95% CI] over slices (one slice: mean and n, no "
        "interval); columns: budget (eta %, theta_max degrees, feature contrast %).</p>"
    )
    for name, t in tables.items():
        if {"budget", "mean"} <= set(t.columns):  # the tightness table is shown above
            h.append(f"<h3>{html.escape(name)}</h3>{_pivot(t)}")
    h.append(f"<h2>Config</h2><pre>{html.escape(run.config_text)}</pre>")
    h.append(f"<h2>Provenance</h2><pre>{html.escape(json.dumps(run.manifest, indent=2))}</pre>")
    h.append(f"{banner}</body></html>")
    return "\n".join(h)


def _tightness_html(df: pd.DataFrame, table: pd.DataFrame | None) -> str:
    """The tightness check's sentence and table, or a note that the run has none."""
    line = tightness_line(df)
    if line is None:
        if not (df["attack"] == "noise").any():
            return ""
        return (
            "<p><b>Attack tightness:</b> not checked in this run (add "
            "<code>attacks.noise.tightness</code> to re-attack some units with 10x the cost; "
            "<code>benchmarks/strength.py</code> measures it on the demo models).</p>"
        )
    names = {"n": "units", "gap_mean": "mean gap", "gap_max": "max gap",
             "adv_ssim": "reported SSIM", "tight_ssim": "check's SSIM"}  # fmt: skip
    t = table.rename(columns=names)
    return (
        f"<h2>Attack tightness</h2><p>{html.escape(line)} Gap = reported region SSIM minus the "
        "lowest region SSIM found by either attack (rows with rule <code>tight</code>).</p>"
        + t.to_html(index=False, border=0, classes="t", float_format=lambda x: f"{x:.4f}")
    )


_VERDICT_RULE = (
    "A statement holds when every group's 95% interval lies on the claimed side, does not hold "
    f"when some group's interval lies wholly on the other side (each with at least "
    f"{findings.MIN_SLICES} slices), and is 'not enough data' otherwise (an interval that "
    f"includes zero, fewer than {findings.MIN_SLICES} slices, or nothing comparable)."
)
