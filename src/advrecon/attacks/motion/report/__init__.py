"""The ``motion`` plug-in's part of the report: its figure, panels and finding.

``HOOKS`` is what :mod:`advrecon.attacks.motion.plugin` declares. Each hook imports its module
when the report calls it (pandas and matplotlib are not loaded with the registry):
:mod:`.figures` (``fig_motion_budget`` and the worst / median panels) and :mod:`.findings`
(worst-case vs random motion). Its rows appear in the report's common summary tables.
"""

from __future__ import annotations

from typing import Any

from advrecon.attacks.contract import ReportContext, ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_motion_budget": "Inter-shot rigid motion - region (left) and whole-image (right) SSIM "
    "vs theta_max per shot: worst-case motion (o, 95% CI), random motion at the same bound (x), "
    "worst single-shot motion (s).",
}


def _figures(ctx: ReportContext) -> Any:
    from advrecon.attacks.motion.report.figures import figures

    return figures(ctx)


def _panels(ctx: ReportContext) -> Any:
    from advrecon.attacks.motion.report.figures import panels

    return panels(ctx)


def _findings(ctx: ReportContext) -> Any:
    from advrecon.attacks.motion.report.findings import findings

    return findings(ctx)


HOOKS = ReportHooks(figures=_figures, panels=_panels, findings=_findings, captions=CAPTIONS)
