"""The ``feature`` plug-in's part of the report: its figure, panel, findings and tables.

``HOOKS`` is what :mod:`advrecon.attacks.feature.plugin` declares. Each hook names
its function, imported when the report calls it (pandas and matplotlib are not loaded with the
registry):
:mod:`.figures` (``fig_features``, the worst-case panel, the recovered-fraction and CNR tables)
and :mod:`.findings` (the feature is missing / stays visible); both build on
:mod:`advrecon.report.recovered`, shared with the hallucination plug-in.
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_features": "Missing features - fraction of the feature's energy in the reconstruction "
    "vs the contrast (o: worst case; x: the same feature at a random position), mean and 95% CI "
    "over slices.",
}


HOOKS = ReportHooks(
    figures="advrecon.attacks.feature.report.figures:figures",
    panels="advrecon.attacks.feature.report.figures:panels",
    findings="advrecon.attacks.feature.report.findings:findings",
    tables="advrecon.attacks.feature.report.figures:tables",
    captions=CAPTIONS,
)
