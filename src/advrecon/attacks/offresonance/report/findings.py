"""Statement about B0 off-resonance, checked on a run's results table.

``offresonance_worst_vs_random``: a worst-case field map degrades region SSIM more than random
field maps at the same bound ``max|df|``, for every bound > 0 (paired per slice, three-way
verdict of :func:`advrecon.report.findings.verdict`).
"""

from __future__ import annotations

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.report.findings import UNKNOWN, worst_vs_random

__all__ = ["NAME", "findings"]

#: The threat model's name (``attack`` column).
NAME = "offresonance"


def findings(ctx: ReportContext) -> list[Finding]:
    """Worst-case field map vs random field maps at the same bound."""
    f = Finding(
        "offresonance_worst_vs_random",
        "A worst-case B0 field map degrades more than random field maps at the same bound "
        "(region SSIM, every max|df| > 0).",
        UNKNOWN,
    )
    d = ctx.rows(NAME)
    d = d[(d["target"] == "region") & (d["budget"] > 0)]
    return [worst_vs_random(f, d, "{m} {a}x max|df| {b:g} Hz")]
