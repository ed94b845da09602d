"""Result of :func:`~advrecon.attacks.rotation.rotation_attack`.

:class:`RotationResult` rows (one per item and ``theta_max``):
    ``theta_max_deg``, ``angle_deg`` (selected worst angle), ``select_by`` ("mse", "ssim" or
    "psnr"), ``interpolation`` ("paper" or "fourier"), ``grid`` ("inclusive": both ends of
    ``[-theta_max, theta_max]``, the paper's text; "exclusive": the authors'
    ``arange(-theta_max, theta_max, step)[1:]``), ``identity_at_zero`` (angle 0 exact instead of
    resampled), ``step_deg``, ``num_angles`` (grid angles of the window of ``theta_max``);
    prefixes ``clean`` (the unrotated reconstruction, as for every attack; with ``paper`` and
    not ``identity_at_zero`` the sweep's angle 0 is resampled and differs), ``adv`` (selected
    angle), ``rand_mean`` / ``rand_median`` (uniformly random angle of the window: exact mean /
    median over its grid angles), ``control`` (the fully-sampled target rotated, RSS-combined,
    cropped and rotated back at the selected angle, no model: what the interpolation alone
    does); ``rand_draw_ssim`` (mean SSIM over ``n_random`` drawn angles, NaN when
    ``n_random=0``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from advrecon.attacks.results import box_columns
from advrecon.boxes import Box

__all__ = ["RotationResult"]


@dataclass
class RotationResult:
    """Result of :func:`advrecon.attacks.rotation.rotation_attack` for ``N`` items.

    Attributes:
        angles: ``(A,)`` float64 grid of angles in degrees (sorted, includes 0 and every
            ``+-theta_max``).
        theta_max: The requested maxima (degrees).
        window: ``(T, A)`` boolean, grid angles within each ``theta_max``.
        per_angle: Dict of ``(N, A)`` float64 curves: ``mse``, ``ssim``, ``psnr``, ``nmse`` in
            the region and ``*_full`` on the whole image.
        selected_index: ``(N, T)`` index into ``angles`` of the worst angle per ``theta_max``.
        selected_angle: ``(N, T)`` the same in degrees.
        metrics: Dict of ``(N, T)`` float64 tensors, keys as the row columns.
        adversarial: ``(N, h, w)`` reconstruction at the selected angle for the largest
            ``theta_max``, rotated back into the unrotated frame.
        window_adversarial: ``(T, N, h, w)`` the same for every ``theta_max`` (``None`` if not
            kept); ``window_control``: ``(T, N, h, w)`` the control of every ``theta_max``.
        valid: ``(N, h, w)`` boolean field-of-view mask belonging to ``adversarial``.
        clean: ``(N, h, w)`` reconstruction without rotation (no resampling).
        target: ``(N, h, w)`` RSS target.
        boxes, box_grown, item_index: As for :class:`NoiseAttackResult`.
        interpolation, select_by, step, n_random, data_range_convention: The settings used.
        control: ``(N, h, w)`` the target rotated, RSS-combined, cropped and rotated back at the
            selected angle of the largest ``theta_max`` (no model; ``None`` if not computed).
        grid, identity_at_zero, coils: The settings used (see :func:`~advrecon.attacks.rotation.
            angle_grid` and :func:`~advrecon.attacks.geometry.rotate`).
    """

    angles: torch.Tensor
    theta_max: list[float]
    window: torch.Tensor
    per_angle: dict[str, torch.Tensor]
    selected_index: torch.Tensor
    selected_angle: torch.Tensor
    metrics: dict[str, torch.Tensor]
    adversarial: torch.Tensor
    valid: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    interpolation: str
    select_by: str
    step: float
    n_random: int = 0
    data_range_convention: str = "maxmin"
    control: torch.Tensor | None = None
    grid: str = "inclusive"
    identity_at_zero: bool = False
    coils: str = "rotate"
    window_adversarial: torch.Tensor | None = None
    window_control: torch.Tensor | None = None
    extra: dict = field(default_factory=dict)

    @property
    def curves(self) -> torch.Tensor:
        """``(N, A)`` region SSIM per grid angle (``per_angle["ssim"]``, Fig. 4b)."""
        return self.per_angle["ssim"]

    def to_rows(self) -> list[dict]:
        """One flat dict per (item, theta_max) (columns in the module docstring)."""
        rows = []
        for i, box in enumerate(self.boxes):
            for t, tmax in enumerate(self.theta_max):
                row = {"item": i, "slice_index": int(self.item_index[i])}
                row.update(box_columns(box, self.box_grown[i]))
                row.update(
                    theta_max_deg=float(tmax),
                    angle_deg=float(self.selected_angle[i, t]),
                    select_by=self.select_by,
                    interpolation=self.interpolation,
                    grid=self.grid,
                    identity_at_zero=bool(self.identity_at_zero),
                    coils=self.coils,
                    step_deg=float(self.step),
                    num_angles=int(self.window[t].sum()),
                    n_random=int(self.n_random),
                    data_range_convention=self.data_range_convention,
                )
                for key, val in self.metrics.items():
                    row[key] = float(val[i, t])
                rows.append(row)
        return rows
