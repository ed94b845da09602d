"""The ``drift`` plug-in's part of the report: its figure, panels, findings and headline rows.

``HOOKS`` is what :mod:`advrecon.attacks.drift.plugin` declares. Each hook names its function,
imported when the report calls it (pandas and matplotlib are not loaded with the registry):
:mod:`.figures` (``fig_drift_budget`` and the worst / median panels) and :mod:`.findings`
(worst-case vs random drift; ACS-calibrated models vs the U-Net; the headline rows).
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_drift_budget": "Receiver drift between calibration (ACS band) and scan - region SSIM "
    "(left) and its drop from the clean reconstruction (right) vs the gain bound per coil: "
    "worst-case gains (o, 95% CI over slices) and uniform random gains at the same bounds (x), "
    "one colour per model (4x solid, 8x dashed). E2E-VarNet and SENSE calibrate their coil "
    "maps from the undrifted band; the U-Net sees only the RSS image.",
}


HOOKS = ReportHooks(
    figures="advrecon.attacks.drift.report.figures:figures",
    panels="advrecon.attacks.drift.report.figures:panels",
    findings="advrecon.attacks.drift.report.findings:findings",
    primary="advrecon.attacks.drift.report.findings:primary",
    captions=CAPTIONS,
)
