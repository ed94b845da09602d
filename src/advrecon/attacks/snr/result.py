"""Result of :func:`~advrecon.attacks.snr.snr_attack` (:class:`SnrResult`) and its rows.

Rows (one per item): the box columns, ``noise_to_thermal`` (the reported draw's noise RMS per
coil over the support in units of that coil's thermal sigma, mean over coils: ``m`` up to
float32 rounding, by the noise attack's own function), ``snr_thermal_sigma`` (the thermal sigma,
mean over coils, k-space units), ``snr_n_draws``, ``snr_worst_draw`` (which draw is reported,
``-1``: zero budget), ``measured_only``, ``data_range_convention`` and the metric columns of the
prefixes ``clean``, ``adv`` (the worst draw), ``rand_mean`` (the mean over the draws),
``rand_worst`` (the worst over the draws, per metric: ``rand_worst_ssim == adv_ssim``) and
``control``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.results import box_columns
from advrecon.boxes import Box

__all__ = ["SnrResult"]


@dataclass
class SnrResult:
    """Result of :func:`~advrecon.attacks.snr.snr_attack` for ``N`` items (one per (slice, box)).

    Attributes:
        perturbation: ``(N, C, H, W)`` complex noise of the reported (worst) draw.
        adversarial: ``(N, h, w)`` reconstruction of ``M(k + z)`` for that draw.
        clean: ``(N, h, w)`` reconstruction of ``M k``.
        target: ``(N, h, w)`` RSS target.
        control: ``(N, h, w)`` RSS of the fully-sampled ``k + z`` (no model).
        boxes: Regions used (after growth); box_grown: whether each box was grown.
        item_index: ``(N,)`` slice of every item in the input batch.
        worst_draw: ``(N,)`` long index of the reported draw (``-1``: zero budget).
        metrics: ``(N,)`` float64 columns ``<prefix>_<metric>[_full]``.
        sigma_multiple: ``(N,)`` budgets ``m``.
        noise_to_thermal: ``(N,)`` measured RMS of ``perturbation`` in thermal sigmas.
        sigma: ``(N, C)`` thermal noise std per coil.
        n_draws, measured_only, data_range_convention: The settings used.
    """

    perturbation: torch.Tensor
    adversarial: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    worst_draw: torch.Tensor
    metrics: dict[str, torch.Tensor]
    sigma_multiple: torch.Tensor
    noise_to_thermal: torch.Tensor
    sigma: torch.Tensor
    n_draws: int
    measured_only: bool
    data_range_convention: str = "maxmin"

    def to_rows(self) -> list[dict]:
        """One flat dict per item (columns in the module docstring)."""
        rows = []
        for i, box in enumerate(self.boxes):
            row = {"item": i, "slice_index": int(self.item_index[i])}
            row.update(box_columns(box, self.box_grown[i]))
            row.update(
                noise_to_thermal=float(self.noise_to_thermal[i]),
                snr_thermal_sigma=float(self.sigma[i].double().mean()),
                snr_n_draws=int(self.n_draws),
                snr_worst_draw=int(self.worst_draw[i]),
                measured_only=bool(self.measured_only),
                data_range_convention=self.data_range_convention,
            )
            row.update({k: float(v[i]) for k, v in self.metrics.items()})
            rows.append(row)
        return rows
