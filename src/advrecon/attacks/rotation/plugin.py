"""The ``rotation`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.results import metric_columns
from advrecon.attacks.rotation import (
    RotationAttackConfig,
    rotation_batch_groups,
    run_rotation_units,
)
from advrecon.attacks.rotation.report import HOOKS

__all__ = ["COLUMNS", "THREAT_MODEL"]

#: Result columns of the rotation attack beyond the common ones.
COLUMNS: dict[str, Column] = {
    **metric_columns("rand_median", "random angle of the window: median over its grid angles"),
}

THREAT_MODEL = ThreatModel(
    name="rotation",
    section=RotationAttackConfig,
    run=run_rotation_units,
    batch_groups=rotation_batch_groups,
    budget_column="theta_max",
    budget_unit="degrees (theta_max: half-width of the angle window)",
    budget_symbol=" deg",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="t",
)
