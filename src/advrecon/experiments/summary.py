"""The one-screen summary printed after a run: mean region SSIM per group and budget.

The table is followed by the text of every threat model's report sections
(:attr:`~advrecon.attacks.contract.ReportHooks.sections`, e.g. how tight an attack is), read
from the same results table. Everything comes from ``results.csv``: the summary of a run
folder is the same whenever it is made. A section that fails is left out with a warning: the
summary never fails a finished run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.registry import threat_models
from advrecon.experiments.schema import CURVES
from advrecon.experiments.units import REGION_SSIM

__all__ = ["summary_table", "REGION_SSIM"]

log = logging.getLogger(__name__)

#: Columns of one row of the summary table.
_GROUP = ["model", "acceleration", "attack", "rule", "target"]


def _budget_units(attacks: set[str]) -> str:
    """``% (noise) or deg (rotation, motion)``: the budget's unit of each attack in the table."""
    by_unit: dict[str, list[str]] = {}
    for name, threat in threat_models().items():
        unit = threat.budget_symbol.strip()
        if name in attacks and unit:
            by_unit.setdefault(unit, []).append(name)
    return " or ".join(f"{unit} ({', '.join(names)})" for unit, names in by_unit.items())


def _section_lines(df: Any, run_dir: Path, archs: Mapping[str, str]) -> list[str]:
    """The text of the report sections of the threat models that have rows in ``df``."""
    import pandas as pd

    curves_csv = run_dir / f"{CURVES}.csv"
    curves = pd.read_csv(curves_csv) if curves_csv.is_file() else pd.DataFrame()
    ctx = ReportContext(df, curves, run_dir, run_dir / "report" / "figures", dict(archs))
    present = set(df["attack"].astype(str))
    lines = []
    for name, threat in threat_models().items():
        if not threat.report.declares("sections") or name not in present:
            continue
        try:  # measured results (a section with a table), as findings.md opens with them
            sections = threat.report.call("sections", ctx) or ()
            lines += [f"{s.title}: {s.text}" for s in sections if s.table is not None]
        except Exception as exc:  # a plug-in's section must not fail a finished run
            log.warning("summary: the %s report sections failed (%s); left out", name, exc)
    return lines


def summary_table(results_csv: Path, archs: Mapping[str, str] | None = None) -> str:
    """Mean region SSIM (adversarial) per model/acceleration/attack/rule/target and budget.

    Args:
        results_csv: The run's results table.
        archs: ``model name -> arch`` (for the report sections; may be empty).

    Returns:
        The table and the report sections' text, or ``""`` when there is nothing to show.
    """
    import pandas as pd

    results_csv = Path(results_csv)
    if not results_csv.is_file():
        return ""
    df = pd.read_csv(results_csv)
    if df.empty or REGION_SSIM not in df.columns:
        return ""
    table = df.pivot_table(index=_GROUP, columns="budget", values=REGION_SSIM, aggfunc="mean")
    table.columns = [f"{c:g}" for c in table.columns]
    units = _budget_units(set(df["attack"].astype(str)))
    lines = _section_lines(df, results_csv.parent, archs or {})
    return "\n".join(
        [
            f"mean region SSIM under attack (columns: budget{', ' + units if units else ''})",
            table.to_string(float_format=lambda x: f"{x:.3f}", na_rep="-"),
            *lines,
        ]
    )
