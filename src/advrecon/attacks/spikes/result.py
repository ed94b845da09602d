"""Result of :func:`~advrecon.attacks.spikes.spikes_attack` (:class:`SpikesResult`).

Rows (one per item): the box columns; ``spike_count`` (the largest number of spikes),
``spike_used`` (spikes in the returned perturbation), ``spike_max_amp_percent`` (largest
``|delta|`` in percent of ``max|k|``), ``spike_to_thermal`` (the same in units of the coil's
thermal noise std per sample), ``spike_dy`` / ``spike_dx`` / ``spike_dist`` (strongest spike's
offset and distance from the k-space centre, samples), ``spike_mean_dist`` (energy-weighted
mean distance of the spikes), ``spike_acquired_dist`` (mean distance of the acquired samples: a
random spike's expectation), ``spike_refine_steps``,
``objective_clean`` / ``objective_adv`` / ``best_step``, the call's settings and the metric
columns of the prefixes ``clean``, ``adv``, ``rand_mean``, ``rand_worst`` and ``control``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.results import box_columns
from advrecon.boxes import Box

__all__ = ["SpikesResult"]

#: Row column -> key of :attr:`SpikesResult.spikes` (float columns).
_FLOAT_COLUMNS = {
    "spike_max_amp_percent": "max_amp_percent",
    "spike_to_thermal": "to_thermal",
    "spike_dy": "dy",
    "spike_dx": "dx",
    "spike_dist": "dist",
    "spike_mean_dist": "mean_dist",
    "spike_acquired_dist": "acquired_dist",
}


@dataclass
class SpikesResult:
    """Result of :func:`~advrecon.attacks.spikes.spikes_attack` for ``N`` items (one per
    (slice, box)).

    Attributes:
        perturbation: ``(N, C, H, W)`` complex spikes ``delta`` (zero but at the spikes).
        table: ``(N, count, 3)`` float32 ``(dy, dx, amplitude %)`` per spike, strongest first
            (:func:`~advrecon.attacks.spikes.describe.spike_table`).
        adversarial, clean, target, control: ``(N, h, w)`` images.
        boxes, box_grown, item_index: Regions used, growth flags, slice of each item.
        trace: ``(N, count + refine_steps + 1)`` objective per evaluated point (greedy
            prefixes, then refinement steps); best_step: ``(N,)`` index of the returned one.
        metrics: ``(N,)`` float64 metric columns.
        spikes: ``(N,)`` descriptions (:func:`~advrecon.attacks.spikes.describe.describe` and
            ``acquired_dist``).
        amplitude: ``(N,)`` bounds as fractions of ``max|k|``; kmax: ``(N,)`` ``max|k|``.
        settings: Options of the call (written into every row).
    """

    perturbation: torch.Tensor
    table: torch.Tensor
    adversarial: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    trace: torch.Tensor
    best_step: torch.Tensor
    metrics: dict[str, torch.Tensor]
    spikes: dict[str, torch.Tensor]
    amplitude: torch.Tensor
    kmax: torch.Tensor
    settings: dict

    def to_rows(self) -> list[dict]:
        """One flat dict per item (columns in the module docstring)."""
        rows = []
        for i, box in enumerate(self.boxes):
            row = {"item": i, "slice_index": int(self.item_index[i])}
            row.update(box_columns(box, self.box_grown[i]))
            row.update(
                spike_used=int(self.spikes["used"][i]),
                **{c: float(self.spikes[k][i]) for c, k in _FLOAT_COLUMNS.items()},
                objective_clean=float(self.trace[i, 0]),
                objective_adv=float(self.trace[i, int(self.best_step[i])]),
                best_step=int(self.best_step[i]),
                **self.settings,
            )
            row.update({k: float(v[i]) for k, v in self.metrics.items()})
            rows.append(row)
        return rows
