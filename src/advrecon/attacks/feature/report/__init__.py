"""The ``feature`` plug-in's part of the report: its figure, panel, findings and tables.

``HOOKS`` is what :mod:`advrecon.attacks.feature.plugin` declares. Each hook imports its module
when the report calls it (pandas and matplotlib are not loaded with the registry):
:mod:`.figures` (``fig_features``, the worst-case panel, the recovered-fraction and CNR tables)
and :mod:`.findings` (the feature is missing / stays visible); both build on
:mod:`advrecon.report.recovered`, shared with the hallucination plug-in.
"""

from __future__ import annotations

from typing import Any

from advrecon.attacks.contract import ReportContext, ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_features": "Missing features - fraction of the feature's energy in the reconstruction "
    "vs the contrast (o: worst case; x: the same feature at a random position), mean and 95% CI "
    "over slices.",
}


def _figures(ctx: ReportContext) -> Any:
    from advrecon.attacks.feature.report.figures import figures

    return figures(ctx)


def _panels(ctx: ReportContext) -> Any:
    from advrecon.attacks.feature.report.figures import panels

    return panels(ctx)


def _findings(ctx: ReportContext) -> Any:
    from advrecon.attacks.feature.report.findings import findings

    return findings(ctx)


def _tables(ctx: ReportContext) -> Any:
    from advrecon.attacks.feature.report.figures import tables

    return tables(ctx)


HOOKS = ReportHooks(
    figures=_figures, panels=_panels, findings=_findings, tables=_tables, captions=CAPTIONS
)
