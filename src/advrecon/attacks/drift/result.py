"""Result of :func:`~advrecon.attacks.drift.drift_attack` (:class:`DriftResult`).

Rows (one per item): the box columns, ``drift_phase_max_deg`` (the phase bound paired with the
item's gain bound), ``drift_worst_gain_percent`` (``max_i ||g_i| - 1|`` of the returned gains,
percent) and ``drift_worst_phase_deg`` (``max_i |arg g_i|``, degrees), ``objective_clean`` /
``objective_adv``, the call's settings and the metric columns of the prefixes ``clean``,
``adv``, ``rand_mean``, ``rand_worst`` and ``control``. The gain bound itself is the table's
``budget`` (percent).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.drift.acquisition import gains
from advrecon.boxes import Box

__all__ = ["DriftResult"]


@dataclass
class DriftResult:
    """Result of :func:`~advrecon.attacks.drift.drift_attack` for ``N`` items (one per
    (slice, box)).

    Attributes:
        drift: ``(N, C, 2)`` float64 worst drift ``(a, phi)`` per coil: ``a = 100 (|g| - 1)``
            (percent), ``phi = arg g`` (degrees).
        adversarial, clean, target, control: ``(N, h, w)`` images.
        boxes, box_grown, item_index: Regions used, growth flags, slice of each item.
        trace: ``(N, steps + 1)`` objective of the search per iterate.
        metrics: ``(N,)`` float64 columns ``<prefix>_<metric>[_full]``.
        gain_percent, phase_deg: ``(N,)`` float64 bounds (percent, degrees).
        settings: Options of the call (written into every row).
    """

    drift: torch.Tensor
    adversarial: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    trace: torch.Tensor
    metrics: dict[str, torch.Tensor]
    gain_percent: torch.Tensor
    phase_deg: torch.Tensor
    settings: dict

    @property
    def gains(self) -> torch.Tensor:
        """``(N, C)`` complex128 worst gains (:func:`~advrecon.attacks.drift.acquisition.gains`)."""
        return gains(self.drift)

    @property
    def worst_gain_percent(self) -> torch.Tensor:
        """``(N,)`` ``max_i ||g_i| - 1|`` in percent (``|a|``, as ``1 + a / 100 > 0``)."""
        return self.drift[..., 0].abs().amax(1)

    @property
    def worst_phase_deg(self) -> torch.Tensor:
        """``(N,)`` ``max_i |arg g_i|`` in degrees (``|phi|``, as ``|phi| <= 180``)."""
        return self.drift[..., 1].abs().amax(1)

    def to_rows(self) -> list[dict]:
        """One flat dict per item."""
        rows = []
        worst_g, worst_p = self.worst_gain_percent, self.worst_phase_deg
        for i, box in enumerate(self.boxes):
            row = {
                "item": i, "slice_index": int(self.item_index[i]), "box_x": int(box.x),
                "box_y": int(box.y), "box_w": int(box.width), "box_h": int(box.height),
                "box_label": box.label, "box_grown": bool(self.box_grown[i]),
                "drift_phase_max_deg": float(self.phase_deg[i]),
                "drift_worst_gain_percent": float(worst_g[i]),
                "drift_worst_phase_deg": float(worst_p[i]),
                "objective_clean": float(self.trace[i, 0]),
                "objective_adv": float(self.trace[i].max()),
                **self.settings,
            }  # fmt: skip
            row.update({k: float(v[i]) for k, v in self.metrics.items()})
            rows.append(row)
        return rows
