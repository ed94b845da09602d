"""The ``motion`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import ThreatModel
from advrecon.attacks.motion import MotionAttackConfig, motion_batch_groups, run_motion_units

__all__ = ["THREAT_MODEL"]

THREAT_MODEL = ThreatModel(
    name="motion",
    section=MotionAttackConfig,
    run=run_motion_units,
    batch_groups=motion_batch_groups,
    budget_column="theta_max",
    budget_unit="degrees (theta_max per shot; the translation bound is motion_t_max_px)",
    budget_symbol=" deg",
    unit_letter="t",
)
