"""The ``noise`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import ThreatModel
from advrecon.attacks.noise import NoiseAttackConfig, noise_batch_groups, run_noise_units

__all__ = ["THREAT_MODEL"]

THREAT_MODEL = ThreatModel(
    name="noise",
    section=NoiseAttackConfig,
    run=run_noise_units,
    batch_groups=noise_batch_groups,
    budget_column="eta_percent",
    budget_unit="percent of each coil's k-space norm (eta)",
    budget_symbol="%",
    unit_letter="e",
)
