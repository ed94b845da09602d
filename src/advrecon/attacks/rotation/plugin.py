"""The ``rotation`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import ThreatModel
from advrecon.attacks.rotation import (
    RotationAttackConfig,
    rotation_batch_groups,
    run_rotation_units,
)

__all__ = ["THREAT_MODEL"]

THREAT_MODEL = ThreatModel(
    name="rotation",
    section=RotationAttackConfig,
    run=run_rotation_units,
    batch_groups=rotation_batch_groups,
    budget_column="theta_max",
    budget_unit="degrees (theta_max: half-width of the angle window)",
    budget_symbol=" deg",
    unit_letter="t",
)
