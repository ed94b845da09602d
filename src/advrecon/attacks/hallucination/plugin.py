"""The ``hallucination`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import ThreatModel
from advrecon.attacks.hallucination import (
    HallucinationAttackConfig,
    hallucination_batch_groups,
    run_hallucination_units,
)

__all__ = ["THREAT_MODEL"]

THREAT_MODEL = ThreatModel(
    name="hallucination",
    section=HallucinationAttackConfig,
    run=run_hallucination_units,
    batch_groups=hallucination_batch_groups,
    budget_column="eta_percent",
    budget_unit="percent of each coil's k-space norm (eta)",
    budget_symbol="%",
    unit_letter="t",
)
