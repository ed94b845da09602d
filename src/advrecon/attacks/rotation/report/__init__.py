"""The ``rotation`` plug-in's part of the report: figures, panels, findings, the curve table.

``HOOKS`` is what :mod:`advrecon.attacks.rotation.plugin` declares. Each hook imports its
module when the report calls it (pandas and matplotlib are not loaded with the registry):

* :mod:`.figures`: Figs. 4a/4b (the latter from ``rotation_curves.csv``), the worst / median
  panels and the table ``rotation_curves_mean``;
* :mod:`.findings`: rotations vs noise, fixed vs turning coils;
* :mod:`.rows`: the headline rows (region target, the paper's sweep, not the fixed coils).
"""

from __future__ import annotations

from typing import Any

from advrecon.attacks.contract import ReportContext, ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig4a_rotation_budget": "Fig. 4a - worst-case region SSIM vs theta_max (x: random angle).",
    "fig4b_rotation_example": "Fig. 4b - SSIM vs rotation angle for the worst example; dashed: "
    "selected angle.",
}


def _figures(ctx: ReportContext) -> Any:
    from advrecon.attacks.rotation.report.figures import figures

    return figures(ctx)


def _panels(ctx: ReportContext) -> Any:
    from advrecon.attacks.rotation.report.figures import panels

    return panels(ctx)


def _findings(ctx: ReportContext) -> Any:
    from advrecon.attacks.rotation.report.findings import findings

    return findings(ctx)


def _tables(ctx: ReportContext) -> Any:
    from advrecon.attacks.rotation.report.figures import tables

    return tables(ctx)


def _primary(ctx: ReportContext) -> Any:
    from advrecon.attacks.rotation.report.rows import primary_rows

    return primary_rows(ctx.results)


HOOKS = ReportHooks(
    figures=_figures,
    panels=_panels,
    findings=_findings,
    tables=_tables,
    captions=CAPTIONS,
    primary=_primary,
)
