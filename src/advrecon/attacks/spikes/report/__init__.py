"""The ``spikes`` plug-in's part of the report: its figure, panels and findings.

``HOOKS`` is what :mod:`advrecon.attacks.spikes.plugin` declares. Each hook names its function,
imported when the report calls it (pandas and matplotlib are not loaded with the registry):
:mod:`.figures` (``fig_spikes_budget`` and the worst / median panels) and :mod:`.findings`
(worst-case vs random spikes; where the worst-case spikes sit in k-space; the headline
rows, region target, for the statements across threat models).
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_spikes_budget": "k-space spikes - left: region SSIM vs the amplitude bound (percent of "
    "max|k|, the same number of spikes): worst-case spikes (o, 95% CI), random spikes at random "
    "acquired positions (x), the fully-sampled image with the worst-case spikes and no model "
    "(^); right: mean distance of the worst-case spikes from the k-space centre (energy-weighted, "
    "o, 95% CI) and the mean distance of the acquired samples, a random spike's expectation (x).",
}

HOOKS = ReportHooks(
    figures="advrecon.attacks.spikes.report.figures:figures",
    panels="advrecon.attacks.spikes.report.figures:panels",
    findings="advrecon.attacks.spikes.report.findings:findings",
    primary="advrecon.attacks.spikes.report.findings:primary",
    captions=CAPTIONS,
)
