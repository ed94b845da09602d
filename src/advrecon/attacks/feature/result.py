"""The result of a feature or hallucination attack call: images, feature, columns, rows."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.engine import join_parts
from advrecon.boxes import Box

__all__ = ["FeatureResult"]

IMAGES = ("target", "clean", "adversarial", "feature", "control")


@dataclass
class FeatureResult:
    """Items of one :func:`~advrecon.attacks.feature.feature_attack` (or
    :func:`~advrecon.attacks.hallucination.hallucination_attack`) call (``N`` items, tensors on
    the CPU).

    Attributes:
        target: ``(N, h, w)`` fully sampled with the optimised feature; clean: reconstruction
        without feature; adversarial: with the optimised feature; feature: ``F`` ``(N, h, w)``;
        control: fully sampled without feature; boxes, item_index, trace ``(N, steps + 1)``;
        columns: ``name -> (N,)`` row columns; settings: the call's options (every row);
        perturbation: the hallucination's ``z`` ``(N, C, H, W)`` (feature: ``None``).
    """

    target: torch.Tensor
    clean: torch.Tensor
    adversarial: torch.Tensor
    feature: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    item_index: torch.Tensor
    trace: torch.Tensor
    columns: dict[str, torch.Tensor]
    settings: dict
    perturbation: torch.Tensor | None = None

    @classmethod
    def from_parts(cls, parts: list[dict], items, index, settings: dict) -> FeatureResult:
        """Concatenate chunk results (``target``, ``clean``, ``adversarial``, ``feature``,
        ``control`` images, ``trace``, ``cols`` and the hallucination's ``z``) on the CPU."""
        joined = join_parts(parts, nested=("cols",))
        img = {k: joined[k].detach().float().cpu() for k in IMAGES}
        cols = {k: v.detach().cpu() for k, v in joined["cols"].items()}
        z = joined["z"].detach().cpu() if "z" in joined else None
        return cls(**img, boxes=list(items), item_index=index, trace=joined["trace"].cpu(),
                   columns=cols, settings=settings, perturbation=z)  # fmt: skip

    def to_rows(self) -> list[dict]:
        """One flat row per item."""
        rows = []
        for i, b in enumerate(self.boxes):
            row = {"item": i, "slice_index": int(self.item_index[i]), **self.settings}
            row.update(box_x=b.x, box_y=b.y, box_w=b.width, box_h=b.height, box_grown=False)
            for k, v in self.columns.items():
                x = v[i].item()
                row[k] = bool(x) if v.dtype == torch.bool else x
            rows.append(row)
        return rows
