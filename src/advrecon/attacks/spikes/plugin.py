"""The ``spikes`` threat-model plug-in: what the registry, the runner and the report need."""

from __future__ import annotations

from advrecon.attacks.contract import Column, ThreatModel
from advrecon.attacks.results import metric_columns
from advrecon.attacks.spikes.config import SpikesAttackConfig, spikes_batch_groups
from advrecon.attacks.spikes.report import HOOKS
from advrecon.attacks.spikes.threat import KspaceSpikes
from advrecon.attacks.spikes.units import run_spikes_units

__all__ = ["COLUMNS", "EXAMPLE", "THREAT_MODEL"]

_SAMPLES = "samples"

#: Result columns of the spike attack beyond the common ones.
COLUMNS: dict[str, Column] = {
    "spike_count": Column("int", "", "largest number of spikes (k-space positions, all coils)"),
    "spike_used": Column("int", "", "spikes in the worst-case perturbation (occupied positions)"),
    "spike_refine_steps": Column("int", "", "projected steps on the chosen spikes' values"),
    "spike_max_amp_percent": Column(
        "float", "% of max|k|", "largest |spike value| of the worst case over spikes and coils"
    ),
    "spike_to_thermal": Column(
        "float", "1", "largest |spike value| / the coil's thermal noise std per k-space sample"
    ),
    "spike_dy": Column(
        "float",
        _SAMPLES,
        "strongest worst-case spike: row offset from the k-space centre "
        "(readout); NaN without a spike",
    ),  # fmt: skip
    "spike_dx": Column(
        "float",
        _SAMPLES,
        "strongest worst-case spike: column offset from the k-space centre "
        "(phase encode); NaN without a spike",
    ),  # fmt: skip
    "spike_dist": Column(
        "float",
        _SAMPLES,
        "strongest worst-case spike (equal ones: the nearest the centre): "
        "distance from the k-space centre; NaN without a spike",
    ),  # fmt: skip
    "spike_mean_dist": Column(
        "float",
        _SAMPLES,
        "worst-case spikes: mean distance from the k-space centre weighted "
        "by their coil-combined energy; NaN without a spike",
    ),  # fmt: skip
    "spike_acquired_dist": Column(
        "float",
        _SAMPLES,
        "mean distance of the acquired samples from the k-space centre "
        "(a random spike's expected distance)",
    ),  # fmt: skip
    **metric_columns(
        "rand_worst", "random spikes of the same count and amplitude, worst of n_random draws"
    ),
}

#: A small valid section, fast on a tiny slice: amplitude 0 (no spike: the clean image exactly)
#: and one positive amplitude, two spikes, one refinement step, one random draw.
EXAMPLE = {"amplitude": [0, 5], "count": 2, "refine_steps": 1, "n_random": 1}

THREAT_MODEL = ThreatModel(
    name="spikes",
    section=SpikesAttackConfig,
    run=run_spikes_units,
    batch_groups=spikes_batch_groups,
    budget_column="spike_amplitude_percent",
    budget_unit="percent of the slice's max|k| (bound on every spike value per coil)",
    budget_symbol="%",
    columns=COLUMNS,
    report=HOOKS,
    unit_letter="k",
    description="k-space spikes (herringbone artefact): greedy worst-case positions and phases",
    threat=KspaceSpikes,
    example=EXAMPLE,
)
