"""Result of :func:`~advrecon.attacks.motion.motion_attack` (:class:`MotionResult`).

Rows (one per item): the box columns, ``theta_max`` and ``motion_t_max_px`` (the bounds),
``motion_worst_angle_deg`` / ``motion_worst_shift_px`` (largest rotation and shift of the worst
motion), ``single_shot`` (the shot of the worst single-shot motion, 0: none could move),
``objective_clean`` / ``objective_adv``, the call's settings and the metric columns of the
prefixes ``clean``, ``adv``, ``single``, ``rand_mean``, ``rand_worst`` and ``control``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.boxes import Box

__all__ = ["MotionResult"]


@dataclass
class MotionResult:
    """Result of :func:`~advrecon.attacks.motion.motion_attack` for ``N`` items (one per
    (slice, box)).

    Attributes:
        motion: ``(N, S, 3)`` worst motion ``(theta_deg, t_y, t_x)`` (pixels), shot 0 zero.
        single_motion: ``(N, S, 3)`` worst single-shot motion (one non-zero shot).
        single_shot: ``(N,)`` long, the shot that moves in ``single_motion`` (0: none).
        adversarial, single, clean, target, control: ``(N, h, w)`` images.
        boxes, box_grown, item_index: Regions used, growth flags, slice of each item.
        trace: ``(N, steps + 1)`` objective of the worst-case search per iterate.
        metrics: ``(N,)`` float64 columns ``<prefix>_<metric>[_full]`` for the prefixes
            ``clean``, ``adv``, ``single``, ``rand_mean``, ``rand_worst`` and ``control``.
        theta_max, t_max: ``(N,)`` bounds (degrees, pixels).
        settings: Options of the call (written into every row).
    """

    motion: torch.Tensor
    single_motion: torch.Tensor
    single_shot: torch.Tensor
    adversarial: torch.Tensor
    single: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    trace: torch.Tensor
    metrics: dict[str, torch.Tensor]
    theta_max: torch.Tensor
    t_max: torch.Tensor
    settings: dict

    def to_rows(self) -> list[dict]:
        """One flat dict per item."""
        rows = []
        for i, box in enumerate(self.boxes):
            m = self.motion[i, 1:]
            row = {
                "item": i, "slice_index": int(self.item_index[i]), "box_x": int(box.x),
                "box_y": int(box.y), "box_w": int(box.width), "box_h": int(box.height),
                "box_label": box.label, "box_grown": bool(self.box_grown[i]),
                "theta_max": float(self.theta_max[i]), "motion_t_max_px": float(self.t_max[i]),
                "motion_worst_angle_deg": float(m[:, 0].abs().max()) if m.numel() else 0.0,
                "motion_worst_shift_px": float(m[:, 1:].abs().max()) if m.numel() else 0.0,
                "single_shot": int(self.single_shot[i]),
                "objective_clean": float(self.trace[i, 0]),
                "objective_adv": float(self.trace[i].max()),
                **self.settings,
            }  # fmt: skip
            row.update({k: float(v[i]) for k, v in self.metrics.items()})
            rows.append(row)
        return rows
