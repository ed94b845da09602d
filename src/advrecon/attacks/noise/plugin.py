"""The ``noise`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.noise.config import NoiseAttackConfig, noise_batch_groups
from advrecon.attacks.noise.report import HOOKS
from advrecon.attacks.noise.threat import KspaceNoise
from advrecon.attacks.noise.units import run_noise_units
from advrecon.attacks.results import metric_columns

__all__ = ["COLUMNS", "THREAT_MODEL"]

#: Result columns of the noise attack beyond the common ones.
COLUMNS: dict[str, Column] = {
    **metric_columns(
        "rand_worst", "random noise of the same per-coil norm, worst of n_random draws"
    ),
    "passes": Column("int", "", "noise search: forward+backward passes spent on the unit"),
    "converged": Column("bool", "", "noise search met its converge rule (only with converge)"),
}

THREAT_MODEL = ThreatModel(
    name="noise",
    description="adversarial k-space noise: per-coil L2 ball of eta percent of the coil's norm",
    section=NoiseAttackConfig,
    run=run_noise_units,
    batch_groups=noise_batch_groups,
    budget_column="eta_percent",
    budget_unit="percent of each coil's k-space norm (eta)",
    budget_symbol="%",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="e",
    threat=KspaceNoise,
    example={"eta": [0, 1], "steps": 2, "n_random": 1, "search": "pgd"},
)
