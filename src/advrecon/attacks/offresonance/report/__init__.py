"""The ``offresonance`` plug-in's part of the report: its figure, panels and finding.

``HOOKS`` is what :mod:`advrecon.attacks.offresonance.plugin` declares. Each hook names its
function, imported when the report calls it (pandas and matplotlib are not loaded with the
registry): :mod:`.figures` (``fig_offresonance_budget`` and the worst / median panels) and
:mod:`.findings` (worst-case vs random field maps). Its rows appear in the report's common
summary tables.
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_offresonance_budget": "B0 off-resonance - region (left) and whole-image (right) SSIM "
    "vs the field-map bound max|df| (Hz; top axis: the shift it makes, max|df| / BW pixels): "
    "worst-case field map (o, 95% CI over slices) and random field maps at the same bound (x). "
    "No map back: the metrics include the geometric shift a scanner shows.",
}

HOOKS = ReportHooks(
    figures="advrecon.attacks.offresonance.report.figures:figures",
    panels="advrecon.attacks.offresonance.report.figures:panels",
    findings="advrecon.attacks.offresonance.report.findings:findings",
    captions=CAPTIONS,
)
