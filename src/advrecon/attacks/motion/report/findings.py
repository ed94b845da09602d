"""Statement about inter-shot rigid motion, checked on a run's results table.

``motion_worst_vs_random``: worst-case motion degrades region SSIM more than uniform random
motion at the same bound, for every ``theta_max > 0`` (paired per slice, three-way verdict).
"""

from __future__ import annotations

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.report.findings import UNKNOWN, worst_vs_random

__all__ = ["NAME", "findings"]

#: The threat model's name (``attack`` column).
NAME = "motion"


def findings(ctx: ReportContext) -> list[Finding]:
    """Worst-case inter-shot motion vs uniform random motion at the same bound."""
    f = Finding(
        "motion_worst_vs_random",
        "Worst-case motion degrades more than random motion at the same bound "
        "(region SSIM, every theta_max > 0).",
        UNKNOWN,
    )
    d = ctx.rows(NAME)
    d = d[(d["target"] == "region") & (d["budget"] > 0)]
    return [worst_vs_random(f, d, "{m} {a}x theta_max {b:g} deg")]
