"""The ``hallucination`` plug-in's part of the report: its figure, panel, findings and tables.

``HOOKS`` is what :mod:`advrecon.attacks.hallucination.plugin` declares. Each hook names
its function, imported when the report calls it (pandas and matplotlib are not loaded with the
registry):
:mod:`.figures` (``fig_hallucination``, the worst-case panel, the recovered-fraction and CNR
tables) and :mod:`.findings` (the feature appears / is visible); both build on
:mod:`advrecon.report.recovered`, shared with the feature plug-in.
"""

from __future__ import annotations

from advrecon.attacks.contract import ReportHooks

__all__ = ["CAPTIONS", "HOOKS"]

CAPTIONS = {
    "fig_hallucination": "Hallucinated features - fraction of the wanted feature's energy in the "
    "reconstruction vs eta (o: worst case; x: random noise of the same norm), mean and 95% CI "
    "over slices.",
}


HOOKS = ReportHooks(
    figures="advrecon.attacks.hallucination.report.figures:figures",
    panels="advrecon.attacks.hallucination.report.figures:panels",
    findings="advrecon.attacks.hallucination.report.findings:findings",
    tables="advrecon.attacks.hallucination.report.figures:tables",
    captions=CAPTIONS,
)
