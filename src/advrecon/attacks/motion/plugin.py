"""The ``motion`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.motion.config import MotionAttackConfig, motion_batch_groups
from advrecon.attacks.motion.report import HOOKS
from advrecon.attacks.motion.threat import RigidMotion
from advrecon.attacks.motion.units import run_motion_units
from advrecon.attacks.results import metric_columns

__all__ = ["COLUMNS", "EXAMPLE", "THREAT_MODEL"]

#: Result columns of the motion attack beyond the common ones.
COLUMNS: dict[str, Column] = {
    **metric_columns("single", "worst motion of a single shot (the worst shot) at the same bound"),
}

#: A small valid section, fast on a tiny slice: bound 0 (no motion: the clean image exactly)
#: and one moving bound, three shots, two ascent steps, one random motion.
EXAMPLE = {"theta_max": [0, 2], "t_max": [0, 1], "shots": 3, "steps": 2, "n_random": 1}

THREAT_MODEL = ThreatModel(
    name="motion",
    description="inter-shot rigid motion: per-shot rotation and shift within the bounds",
    section=MotionAttackConfig,
    run=run_motion_units,
    batch_groups=motion_batch_groups,
    budget_column="theta_max",
    budget_unit="degrees (theta_max per shot; the translation bound is motion_t_max_px)",
    budget_symbol=" deg",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="t",
    threat=RigidMotion,
    example=EXAMPLE,
)
