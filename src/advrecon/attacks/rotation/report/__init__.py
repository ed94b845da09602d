"""The ``rotation`` plug-in's part of the report: figures, panels, findings, the curve table.

``HOOKS`` is what :mod:`advrecon.attacks.rotation.plugin` declares. Each hook names
its function, imported when the report calls it (pandas and matplotlib are not loaded with the
registry):

* :mod:`.figures`: Figs. 4a/4b (the latter from ``rotation_curves.csv``), the worst / median
  panels and the table ``rotation_curves_mean``;
* :mod:`.findings`: rotations vs noise, fixed vs turning coils;
* :mod:`.rows`: the headline rows (region target, the paper's sweep, not the fixed coils).
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig4a_rotation_budget": "Fig. 4a - worst-case region SSIM vs theta_max (x: random angle).",
    "fig4b_rotation_example": "Fig. 4b - SSIM vs rotation angle for the worst example; dashed: "
    "selected angle.",
}


HOOKS = ReportHooks(
    figures="advrecon.attacks.rotation.report.figures:figures",
    panels="advrecon.attacks.rotation.report.figures:panels",
    findings="advrecon.attacks.rotation.report.findings:findings",
    tables="advrecon.attacks.rotation.report.figures:tables",
    primary="advrecon.attacks.rotation.report.rows:primary",
    captions=CAPTIONS,
)
