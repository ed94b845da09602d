"""Statements about missing features, checked on a run's results table.

At each (model, acceleration) group's largest contrast, paired per slice, three-way verdict:

* ``feature_missing``: the worst-shaped feature in the box is recovered less than the same
  feature at a random position (fraction of its energy in the reconstruction, random - worst);
* ``feature_visible``: it stays visible (contrast-to-noise ratio above the Rose criterion
  :data:`advrecon.report.recovered.ROSE`).
"""

from __future__ import annotations

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.report.recovered import ROSE, claim

__all__ = ["BUDGET", "NAME", "PREFIX", "findings"]

#: The threat model's name (``attack`` column) and the prefix of its columns.
NAME = PREFIX = "feature"
#: What its budget is.
BUDGET = "contrast % of box mean"


def findings(ctx: ReportContext) -> list[Finding]:
    """The two statements above (none without a row with a budget above 0)."""
    rows = ctx.rows(NAME)
    made = [
        claim(
            rows, "feature_missing",
            "Missing features: the worst-shaped feature in the box is recovered less than the "
            "same feature at a random position (fraction of its energy, random - worst).",
            lambda g: g["rand_feature_recovered"] - g["feature_recovered"],
            BUDGET,
        ),
        claim(
            rows, "feature_visible",
            f"Missing features: the worst-shaped feature stays visible (contrast-to-noise "
            f"ratio above {ROSE:g}; shown: CNR - {ROSE:g}).",
            lambda g: g["feature_cnr"] - ROSE,
            BUDGET,
        ),
    ]  # fmt: skip
    return [f for f in made if f is not None]
