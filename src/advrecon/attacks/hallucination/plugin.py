"""The ``hallucination`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.feature.plugin import feature_columns
from advrecon.attacks.hallucination.config import (
    HallucinationAttackConfig,
    hallucination_batch_groups,
)
from advrecon.attacks.hallucination.report import HOOKS
from advrecon.attacks.hallucination.threat import Hallucination
from advrecon.attacks.hallucination.units import run_hallucination_units

__all__ = ["COLUMNS", "THREAT_MODEL"]


#: Result columns of the hallucination attack.
COLUMNS: dict[str, Column] = {
    **feature_columns(
        "halluc", "hallucinated feature (adversarial noise)", "random noise of the same norm"
    ),
    **{
        f"{p}halluc_rest_percent": Column(
            "float", "%", f"RMS change outside the feature, % of the box mean ({p or 'adv'})"
        )
        for p in ("", "rand_")
    },
    "mu": Column("float", "1", "hallucination: weight of the rest of the image"),
    "halluc_contrast_target": Column("float", "%", "wanted feature amplitude, % of the box mean"),
    "halluc_gain": Column("float", "1", "hallucinated contrast (% of box mean) per % of eta"),
}

THREAT_MODEL = ThreatModel(
    name="hallucination",
    description="hallucinated features: k-space noise that draws a blob into the box",
    section=HallucinationAttackConfig,
    run=run_hallucination_units,
    batch_groups=hallucination_batch_groups,
    budget_column="eta_percent",
    budget_unit="percent of each coil's k-space norm (eta)",
    budget_symbol="%",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="t",
    threat=Hallucination,
    example={"eta": [0, 1], "size": 3, "steps": 2, "n_random": 1},
)
