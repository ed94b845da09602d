"""The ``rotation`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.results import metric_columns
from advrecon.attacks.rotation.config import RotationAttackConfig, rotation_batch_groups
from advrecon.attacks.rotation.report import HOOKS
from advrecon.attacks.rotation.units import run_rotation_units

__all__ = ["COLUMNS", "EXAMPLE", "THREAT_MODEL"]

#: Result columns of the rotation attack beyond the common ones.
COLUMNS: dict[str, Column] = {
    **metric_columns("rand_median", "random angle of the window: median over its grid angles"),
    "evaluated_min_ssim": Column(
        "float", "", "lowest region SSIM of any grid angle of the window (every angle evaluated)"
    ),
}

#: A small valid section, fast on a tiny slice: a 1 degree grid over +-2 degrees, ``fourier``
#: (angle 0 exact, so the window of ``theta_max`` 0 gives the clean image bit for bit).
EXAMPLE = {"theta_max": [0, 2], "step": 1.0, "interpolation": "fourier", "n_random": 1}

# The search is the exhaustive grid sweep (advrecon.attacks.rotation.sweep), not a search over
# draw / project / ascent_step iterates: no ``threat`` class is declared.
THREAT_MODEL = ThreatModel(
    name="rotation",
    description="rotation of the object: the worst angle of a grid over the window",
    section=RotationAttackConfig,
    run=run_rotation_units,
    batch_groups=rotation_batch_groups,
    budget_column="theta_max",
    budget_unit="degrees (theta_max: half-width of the angle window)",
    budget_symbol=" deg",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="t",
    threat=None,
    example=EXAMPLE,
)
