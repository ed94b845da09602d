"""The ``offresonance`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.offresonance.config import (
    OffResonanceAttackConfig,
    offresonance_batch_groups,
)
from advrecon.attacks.offresonance.report import HOOKS
from advrecon.attacks.offresonance.threat import OffResonance
from advrecon.attacks.offresonance.units import run_offresonance_units
from advrecon.attacks.results import metric_columns

__all__ = ["COLUMNS", "EXAMPLE", "THREAT_MODEL"]

#: Result columns of the off-resonance attack beyond the common ones (the search settings
#: ``objective``, ``steps``, ``step_size``, ``n_random``, ``objective_clean``,
#: ``objective_adv`` and ``best_step`` are the results schema's own).
COLUMNS: dict[str, Column] = {
    **metric_columns("rand_worst", "random field map at the same bound, worst of n_random"),
    "offres_max_shift_px": Column("float", "px", "off-resonance: the bound as a shift, budget/BW"),
    "offres_worst_max_hz": Column("float", "Hz", "off-resonance: max |df| of the worst field map"),
    "offres_worst_shift_px": Column(
        "float", "px", "off-resonance: largest shift of the worst field map, max |df| / BW"
    ),
    "offres_worst_mean_hz": Column(
        "float", "Hz", "off-resonance: mean df of the worst field map over the field of view"
    ),
    "offres_bandwidth_hz_per_px": Column(
        "float", "Hz/px", "off-resonance: readout bandwidth per pixel BW"
    ),
    "offres_degree": Column("int", "", "off-resonance: total degree of the field-map polynomial"),
    "offres_segments": Column("int", "", "off-resonance: time segments L of the signal model"),
    "offres_interpolator": Column("str", "", "off-resonance: time-segmentation interpolator"),
}

#: A small valid section, fast on a tiny slice: bound 0 (the clean image exactly) and one bound
#: of half a pixel, two ascent steps, one random field map.
EXAMPLE = {"max_hz": [0, 100], "bandwidth_hz_per_pixel": 200, "segments": 7, "steps": 2,
           "n_random": 1}  # fmt: skip

THREAT_MODEL = ThreatModel(
    name="offresonance",
    section=OffResonanceAttackConfig,
    run=run_offresonance_units,
    batch_groups=offresonance_batch_groups,
    budget_column="max_hz",
    budget_unit="Hz (max |df| of the B0 field map over the field of view)",
    budget_symbol=" Hz",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="b",
    description="B0 off-resonance: a smooth field map shifts and blurs along the readout",
    threat=OffResonance,
    example=EXAMPLE,
)
