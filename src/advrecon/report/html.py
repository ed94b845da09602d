"""``advrecon report RUN_DIR``: tables, figures, panels, findings and one self-contained HTML.

Everything is made from the run folder's files (``results.csv``, ``rotation_curves.csv``,
``arrays/*.npz``, ``config.yaml``, ``manifest.json``): the report can be rebuilt at any time,
on another machine, without re-running anything. The report opens with done / total units; a
partial run is refused unless asked for, and then carries a PARTIAL RUN banner at the top (and
bottom) of the HTML and at the top of ``findings.md``. Output (default ``RUN_DIR/report``)::

    report.html     one file, images embedded as base64
    findings.md     the paper's statements with verdicts (quoted by docs/benchmarks.md)
    tables/*.csv    summary tables (mean, 95% CI, number of slices)
    figures/*.png|svg

What is in it comes from the registered threat models' report hooks, called in the registry's
order for those with rows in the table (:mod:`advrecon.report.plugins`); the page's layout is
:mod:`advrecon.report.page`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.errors import AdvreconError
from advrecon.report import findings, page, plugins
from advrecon.report.progress import RunProgress, refuse_partial, run_progress
from advrecon.report.tables import RunData, load_run

log = logging.getLogger(__name__)

__all__ = ["make_report", "summary_tables", "ReportOutputError"]


def run_archs(config: dict[str, Any]) -> dict[str, str]:
    """``model name -> arch`` from a run's config (models without both are left out)."""
    models = config.get("models")
    return {
        m.get("name"): m.get("arch")
        for m in (models if isinstance(models, list) else [])
        if isinstance(m, dict)
    }


def run_context(run: RunData, fig_dir: Path) -> ReportContext:
    """What every report hook of ``run`` gets (:class:`ReportContext`)."""
    return plugins.context(run.results, run.curves, run.run_dir, fig_dir, run_archs(run.config))


def summary_tables(run: RunData) -> dict[str, pd.DataFrame]:
    """Summary tables: region / whole-image SSIM (adversarial, clean, random) per group and
    budget over every row, then each threat model's own (e.g. the noise tightness)."""
    return plugins.summary_tables(run_context(run, run.run_dir / "report" / "figures"))


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


TRADEOFF_CAPTION = (
    "Clean vs worst-case region SSIM at each threat model's headline budget, one point per "
    "model (bars: 95% interval over slices); up is more robust, right is better clean quality"
)


def scorecard_figure(rows: list[dict[str, Any]], fig_dir: Path) -> Path | None:
    """The trade-off figure of the scorecard rows (``None`` with fewer than two models)."""
    from advrecon.report.scorecard import tradeoff_figure

    return tradeoff_figure(rows, fig_dir)


def _scorecard(run: RunData) -> dict[str, Any]:
    """The scorecard rows and sentences: an audit's protocol budgets and thresholds, else each
    threat model's largest region budget and the default thresholds."""
    from advrecon.experiments.protocol import Verdict
    from advrecon.report import scorecard

    meta_path = run.run_dir / "audit.json"
    headline, verdict, audit = None, None, None
    if meta_path.is_file():
        audit = json.loads(meta_path.read_text(encoding="utf-8"))
        proto = audit["protocol"]
        headline, verdict = proto["headline"], Verdict(**proto["verdict"])
    rows = plugins.scored(run.results, headline, verdict)
    return {"scorecard": rows, "sentences": scorecard.sentences(rows), "audit": audit}


def _build(run: RunData, prog: RunProgress, out: Path) -> None:
    """Write tables, figures, panels, ``findings.md`` and ``report.html`` into ``out``."""
    fig_dir, tab_dir = out / "figures", out / "tables"
    tab_dir.mkdir(parents=True, exist_ok=True)
    ctx = run_context(run, fig_dir)
    tables = plugins.summary_tables(ctx)
    for name, t in tables.items():
        t.to_csv(tab_dir / f"{name}.csv", index=False)
    card = _scorecard(run)
    figs = plugins.figures(ctx)
    tradeoff = scorecard_figure(card["scorecard"], fig_dir)
    if tradeoff is not None:
        figs = {"tradeoff_clean_vs_worst": tradeoff, **figs}
    parts = page.ReportParts(
        figures=figs,
        panels=plugins.panels(ctx),
        findings=plugins.evaluate(run.results, ctx=ctx),
        sections=plugins.sections(ctx),
        captions={"tradeoff_clean_vs_worst": TRADEOFF_CAPTION, **plugins.captions(ctx)},
        tables=tables,
        budgets={tm.name: tm.budget_unit for tm, _ in plugins.active(run.results)},
        **card,
    )
    preamble = [f"**{prog.banner}**"] if prog.partial else []
    md = findings.to_markdown(
        list(parts.findings),
        preamble=[*preamble, prog.headline],
        scorecard=parts.scorecard,
        sentences=parts.sentences,
        scorecard_note=page.SCORECARD_NOTE,
        details=findings.section_lines(parts.sections),
    )
    (out / "findings.md").write_text(md, encoding="utf-8")
    (out / "report.html").write_text(page.render(run, prog, parts), encoding="utf-8")
