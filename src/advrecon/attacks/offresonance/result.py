"""Result of :func:`~advrecon.attacks.offresonance.offresonance_attack`.

Rows (one per item, :class:`OffResonanceResult`): the box columns, ``offres_max_shift_px``
(the bound as a shift, ``max_hz / BW``), ``offres_worst_max_hz`` / ``offres_worst_shift_px``
(the returned field map's ``max|df|`` and ``max|df| / BW``), ``offres_worst_mean_hz`` (its
mean over the field of view: the global shift part), the signal model
(``offres_bandwidth_hz_per_px``, ``offres_degree``, ``offres_segments``,
``offres_interpolator``), ``objective_clean`` / ``objective_adv``, ``best_step``, the search
settings and the metric columns of the prefixes ``clean``, ``adv``, ``rand_mean``,
``rand_worst`` and ``control``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.results import box_columns
from advrecon.boxes import Box

__all__ = ["OffResonanceResult"]


@dataclass
class OffResonanceResult:
    """Result of :func:`~advrecon.attacks.offresonance.offresonance_attack` for ``N`` items
    (one per (slice, box)).

    Attributes:
        coeffs: ``(N, K)`` float64 Legendre coefficients (Hz) of the worst field map.
        worst_max_hz, worst_mean_hz: ``(N,)`` its ``max|df|`` and mean over the grid (Hz).
        adversarial, clean, target, control: ``(N, h, w)`` images.
        boxes, box_grown, item_index: Regions used, growth flags, slice of each item.
        trace: ``(N, steps + 1)`` objective per iterate; best_step: ``(N,)`` returned iterate.
        metrics: ``(N,)`` float64 columns ``<prefix>_<metric>[_full]``.
        max_hz: ``(N,)`` bounds (Hz).
        settings: Options of the call (written into every row).
    """

    coeffs: torch.Tensor
    worst_max_hz: torch.Tensor
    worst_mean_hz: torch.Tensor
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
    max_hz: torch.Tensor
    settings: dict

    @property
    def bandwidth(self) -> float:
        """Readout bandwidth per pixel (Hz/pixel)."""
        return float(self.settings["offres_bandwidth_hz_per_px"])

    def to_rows(self) -> list[dict]:
        """One flat dict per item."""
        worst, mean, bw = self.worst_max_hz, self.worst_mean_hz, self.bandwidth
        rows = []
        for i, box in enumerate(self.boxes):
            row = {
                "item": i, "slice_index": int(self.item_index[i]),
                **box_columns(box, self.box_grown[i]),
                "offres_max_shift_px": float(self.max_hz[i]) / bw,
                "offres_worst_max_hz": float(worst[i]),
                "offres_worst_shift_px": float(worst[i]) / bw,
                "offres_worst_mean_hz": float(mean[i]),
                "objective_clean": float(self.trace[i, 0]),
                "objective_adv": float(self.trace[i, int(self.best_step[i])]),
                "best_step": int(self.best_step[i]),
                **self.settings,
            }  # fmt: skip
            row.update({k: float(v[i]) for k, v in self.metrics.items()})
            rows.append(row)
        return rows
