"""Figure, panel and tables of the hallucination threat model.

* ``fig_hallucination``: fraction of the wanted feature's energy in the reconstruction vs eta,
  worst case (o) vs random noise of the same norm (x), mean and 95% CI over slices;
* ``panel_hallucination_worst``: target, clean and attacked reconstruction, their difference
  and the wanted feature, for the most hallucinated feature at the largest eta;
* tables ``hallucination_recovered``, ``hallucination_recovered_random_noise``,
  ``hallucination_cnr``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.hallucination.report.findings import BUDGET, NAME, PREFIX
from advrecon.report.recovered import recovered_figure, worst_panel
from advrecon.report.stats import GROUP, summarize

__all__ = ["TABLES", "figures", "panels", "tables"]

#: Summary table -> results column.
TABLES = {
    "hallucination_recovered": "halluc_recovered",
    "hallucination_recovered_random_noise": "rand_halluc_recovered",
    "hallucination_cnr": "halluc_cnr",
}
#: Key of the saved array holding the wanted feature.
FEATURE_ARRAY = "feature"


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_hallucination": png}``."""
    models = list(ctx.results["model"].unique())  # colours as in the other figures of the run
    png = recovered_figure(
        ctx.rows(NAME), PREFIX, BUDGET, "random noise, same norm", 0.0, ctx.fig_dir,
        "fig_hallucination", models,
    )  # fmt: skip
    return {} if png is None else {"fig_hallucination": png}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """``{"panel_hallucination_worst": png}`` (the most hallucinated feature, largest eta)."""
    titles = ("fully sampled", "recon without attack", "recon under attack", "wanted")
    return worst_panel(
        ctx.rows(NAME), ctx.run_dir, ctx.fig_dir, "panel_hallucination_worst", PREFIX,
        FEATURE_ARRAY, titles, least=False,
    )  # fmt: skip


def tables(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """Recovered fraction (adversarial, random noise) and CNR per group and eta."""
    rows = ctx.rows(NAME)
    return {
        name: summarize(rows[rows[col].notna()], col, [*GROUP, "budget"])
        for name, col in TABLES.items()
        if col in rows.columns and rows[col].notna().any()
    }
