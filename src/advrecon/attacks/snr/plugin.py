"""The ``snr`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.results import metric_columns
from advrecon.attacks.snr.config import SnrAttackConfig, snr_batch_groups
from advrecon.attacks.snr.report import HOOKS
from advrecon.attacks.snr.threat import ThermalNoise
from advrecon.attacks.snr.units import run_snr_units

__all__ = ["COLUMNS", "EXAMPLE", "THREAT_MODEL"]

#: Result columns of the SNR shift beyond the common ones. ``noise_to_thermal`` (the reported
#: draw's noise RMS in thermal sigmas, by the noise attack's own function) and
#: ``measured_only`` are the noise attack's columns, written with the same meaning.
COLUMNS: dict[str, Column] = {
    "snr_thermal_sigma": Column(
        "float", "k-space intensity",
        "estimated thermal noise std per k-space sample (complex), mean over coils",
    ),
    "snr_n_draws": Column("int", "", "noise draws per unit (worst: adv_*, mean: rand_mean_*)"),
    "snr_worst_draw": Column("int", "", "index of the reported (worst) draw; -1: zero budget"),
    **metric_columns("rand_worst", "random noise draws at the same level, worst per metric"),
}  # fmt: skip

#: A small valid section, fast on a tiny slice: no noise (the clean image exactly) and one
#: thermal level, two draws.
EXAMPLE = {"sigma_multiple": [0, 1], "n_draws": 2}

THREAT_MODEL = ThreatModel(
    name="snr",
    section=SnrAttackConfig,
    run=run_snr_units,
    batch_groups=snr_batch_groups,
    budget_column="sigma_multiple",
    budget_unit="thermal sigmas (noise RMS per coil over the acquired samples / that coil's "
    "thermal noise sigma; the noise attack's noise_to_thermal unit)",
    budget_symbol=" sigma",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="m",
    threat=ThermalNoise,
    example=EXAMPLE,
    description="SNR shift: random complex Gaussian k-space noise at m thermal sigmas "
    "(worst and mean of n_draws draws)",
)
