"""Statements about hallucinated features, checked on a run's results table.

At each (model, acceleration) group's largest eta, paired per slice, three-way verdict:

* ``hallucination_appears``: adversarial k-space noise draws more of the wanted feature into
  the box than random noise of the same norm (fraction of the wanted feature, adv - random);
* ``hallucination_visible``: the hallucinated feature is visible (contrast-to-noise ratio above
  the Rose criterion :data:`advrecon.report.recovered.ROSE`).
"""

from __future__ import annotations

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.report.recovered import ROSE, claim

__all__ = ["BUDGET", "NAME", "PREFIX", "findings"]

#: The threat model's name (``attack`` column) ...
NAME = "hallucination"
#: ... the prefix of its columns ...
PREFIX = "halluc"
#: ... and what its budget is.
BUDGET = "eta %"


def findings(ctx: ReportContext) -> list[Finding]:
    """The two statements above (none without a row with a budget above 0)."""
    rows = ctx.rows(NAME)
    made = [
        claim(
            rows, "hallucination_appears",
            "Hallucinations: adversarial k-space noise draws more of a feature into the box "
            "than random noise of the same norm (fraction of the wanted feature, adv - random).",
            lambda g: g["halluc_recovered"] - g["rand_halluc_recovered"],
            BUDGET,
        ),
        claim(
            rows, "hallucination_visible",
            f"Hallucinations: the hallucinated feature is visible (contrast-to-noise ratio "
            f"above {ROSE:g}; shown: CNR - {ROSE:g}).",
            lambda g: g["halluc_cnr"] - ROSE,
            BUDGET,
        ),
    ]  # fmt: skip
    return [f for f in made if f is not None]
