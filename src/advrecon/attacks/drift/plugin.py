"""The ``drift`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.drift.config import DriftAttackConfig, drift_batch_groups
from advrecon.attacks.drift.report import HOOKS
from advrecon.attacks.drift.threat import ReceiverDrift
from advrecon.attacks.drift.units import run_drift_units
from advrecon.attacks.results import metric_columns

__all__ = ["COLUMNS", "EXAMPLE", "THREAT_MODEL"]

#: Result columns of the drift attack beyond the common ones.
COLUMNS: dict[str, Column] = {
    "drift_phase_max_deg": Column(
        "float", "deg", "phase bound |arg g_i| paired with the gain bound (budget)"
    ),
    "drift_worst_gain_percent": Column(
        "float", "%", "max over coils of ||g_i| - 1| of the worst-case gains"
    ),
    "drift_worst_phase_deg": Column(
        "float", "deg", "max over coils of |arg g_i| of the worst-case gains"
    ),
    **metric_columns("rand_worst", "uniform random drift at the same bounds, worst of n_random"),
}

#: A small valid section, fast on a tiny slice: bound 0 (no drift: the clean image exactly)
#: and one drifting bound, two ascent steps, one random drift.
EXAMPLE = {"gain_percent": [0, 5], "phase_deg": [0, 5], "steps": 2, "n_random": 1}

THREAT_MODEL = ThreatModel(
    name="drift",
    section=DriftAttackConfig,
    run=run_drift_units,
    batch_groups=drift_batch_groups,
    budget_column="gain_percent",
    budget_unit="percent (||g_i| - 1| per coil; the phase bound is drift_phase_max_deg)",
    budget_symbol="%",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="g",
    description="per-coil receiver gain drift between calibration (ACS band) and scan",
    threat=ReceiverDrift,
    example=EXAMPLE,
)
