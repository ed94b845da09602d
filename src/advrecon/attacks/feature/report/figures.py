"""Figure, panel and tables of the missing-feature threat model.

* ``fig_features``: fraction of the feature's energy in the reconstruction vs the contrast,
  worst case (o) vs the same feature at a random position (x), mean and 95% CI over slices;
* ``panel_feature_worst``: target with the feature, clean and attacked reconstruction, their
  difference and the inserted feature, for the least recovered feature at the largest contrast;
* tables ``feature_recovered``, ``feature_recovered_random_position``, ``feature_cnr``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.feature.report.findings import BUDGET, NAME, PREFIX
from advrecon.report.recovered import recovered_figure, worst_panel
from advrecon.report.stats import GROUP, summarize

__all__ = ["TABLES", "figures", "panels", "tables"]

#: Summary table -> results column.
TABLES = {
    "feature_recovered": "feature_recovered",
    "feature_recovered_random_position": "rand_feature_recovered",
    "feature_cnr": "feature_cnr",
}


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_features": png}``."""
    models = list(ctx.results["model"].unique())  # colours as in the other figures of the run
    png = recovered_figure(
        ctx.rows(NAME), PREFIX, BUDGET, "random position", 1.0, ctx.fig_dir, "fig_features", models
    )
    return {} if png is None else {"fig_features": png}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """``{"panel_feature_worst": png}`` (the least recovered feature at the largest contrast)."""
    titles = ("fully sampled + feature", "recon without feature", "recon with feature", "inserted")
    return worst_panel(
        ctx.rows(NAME), ctx.run_dir, ctx.fig_dir, "panel_feature_worst", PREFIX, "feature",
        titles, least=True,
    )  # fmt: skip


def tables(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """Recovered fraction (worst, random position) and CNR per group and contrast."""
    rows = ctx.rows(NAME)
    return {
        name: summarize(rows[rows[col].notna()], col, [*GROUP, "budget"])
        for name, col in TABLES.items()
        if col in rows.columns and rows[col].notna().any()
    }
