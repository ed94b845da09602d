"""The ``motion`` plug-in's part of the report: its figure, panels and finding.

``HOOKS`` is what :mod:`advrecon.attacks.motion.plugin` declares. Each hook names
its function, imported when the report calls it (pandas and matplotlib are not loaded with the
registry):
:mod:`.figures` (``fig_motion_budget`` and the worst / median panels) and :mod:`.findings`
(worst-case vs random motion). Its rows appear in the report's common summary tables.
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_motion_budget": "Inter-shot rigid motion - region (left) and whole-image (right) SSIM "
    "vs theta_max per shot: worst-case motion (o, 95% CI), random motion at the same bound (x), "
    "worst single-shot motion (s).",
}


HOOKS = ReportHooks(
    figures="advrecon.attacks.motion.report.figures:figures",
    panels="advrecon.attacks.motion.report.figures:panels",
    findings="advrecon.attacks.motion.report.findings:findings",
    captions=CAPTIONS,
)
