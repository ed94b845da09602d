"""Attack results: tensors for figures plus ``.to_rows()`` for the tidy results table.

Row columns (all flat Python scalars).

Common to both attacks:
    ``item`` (index of the (slice, box) item), ``slice_index`` (index into the k-space batch),
    ``box_x``, ``box_y``, ``box_w``, ``box_h`` (the region actually used, i.e. after growth),
    ``box_label``, ``box_grown`` (True when the box was smaller than the 7x7 SSIM window and
    was grown symmetrically), ``data_range_convention`` ("maxmin" or "max").

Metric columns are ``<prefix>_<metric>`` and ``<prefix>_<metric>_full``: ``<metric>`` in
``ssim``, ``psnr`` (dB), ``nmse``, ``mse``; no suffix = inside the region, ``_full`` = the whole
reconstruction (for rotations: the whole image minus pixels that left the field of view).

:class:`NoiseAttackResult` rows (one per item):
    prefixes ``clean`` (no perturbation), ``adv`` (the attack), ``rand_mean`` / ``rand_worst``
    (random complex Gaussian noise of the same per-coil norm: mean / worst over ``n_random``
    draws, worst = lowest SSIM and PSNR, highest NMSE and MSE; NaN when ``n_random=0``),
    ``control`` (the same ``z`` added to the *fully-sampled* k-space, no model: how visible the
    perturbation itself is); plus ``eta``, ``noise_to_thermal`` (``||z_i|| / (sigma_i
    sqrt(n_i))`` averaged over coils, see :mod:`advrecon.noise_level`), ``rule``, ``search``,
    ``restarts``, ``objective``, ``steps``, ``step_size``, ``random_start``, ``measured_only``,
    ``n_random``,
    ``objective_clean`` (objective at the first iterate), ``objective_adv`` (at the returned
    iterate), ``best_step`` (index of the returned iterate, 0 = start).

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

from advrecon.boxes import Box

__all__ = ["NoiseAttackResult", "RotationResult", "METRICS"]

METRICS = ("ssim", "psnr", "nmse", "mse")


def _scalar(v):
    if torch.is_tensor(v):
        return v.item()
    return v


def _box_columns(box: Box, grown: bool) -> dict:
    return {
        "box_x": int(box.x),
        "box_y": int(box.y),
        "box_w": int(box.width),
        "box_h": int(box.height),
        "box_label": box.label,
        "box_grown": bool(grown),
    }


@dataclass
class NoiseAttackResult:
    """Result of :func:`advrecon.attacks.noise.noise_attack` for ``N`` items.

    Attributes:
        perturbation: ``(N, C, H, W)`` complex ``z`` (zero outside the acquired columns).
        adversarial: ``(N, h, w)`` reconstruction of ``M(k + z)``.
        clean: ``(N, h, w)`` reconstruction of ``M k``.
        target: ``(N, h, w)`` RSS target ``X``.
        control: ``(N, h, w)`` RSS of the fully-sampled ``k + z`` (the perturbation as a
            scanner would show it, no model; also available as ``reference``).
        boxes: Regions used (after growth).
        box_grown: Whether each box was grown.
        item_index: ``(N,)`` index of each item's slice in the input batch.
        trace: ``(N, steps + 1)`` objective at every iterate (0 = start).
        best_trace: ``(N, steps + 1)`` best objective so far (running maximum of ``trace``).
        best_step: ``(N,)`` index of the returned iterate.
        metrics: Dict of ``(N,)`` float64 tensors, keys as the row columns.
        eta: ``(N,)`` budgets.
        noise_to_thermal: ``(N,)`` perturbation norm in thermal-noise units.
        sigma: ``(N, C)`` estimated thermal noise std per coil.
        rule, objective, steps, step_size, random_start, measured_only, n_random,
        data_range_convention: The settings used.
    """

    perturbation: torch.Tensor
    adversarial: torch.Tensor
    clean: torch.Tensor
    target: torch.Tensor
    control: torch.Tensor
    boxes: list[Box]
    box_grown: list[bool]
    item_index: torch.Tensor
    trace: torch.Tensor
    best_trace: torch.Tensor
    best_step: torch.Tensor
    metrics: dict[str, torch.Tensor]
    eta: torch.Tensor
    noise_to_thermal: torch.Tensor
    sigma: torch.Tensor
    rule: str
    objective: str
    steps: int
    step_size: float
    random_start: bool
    measured_only: bool
    n_random: int
    data_range_convention: str = "maxmin"
    search: str = "pgd"
    restarts: int = 1

    @property
    def reference(self) -> torch.Tensor:
        """Alias of :attr:`control`."""
        return self.control

    def to_rows(self) -> list[dict]:
        """One flat dict per item (columns in the module docstring)."""
        rows = []
        for i, box in enumerate(self.boxes):
            row = {"item": i, "slice_index": int(self.item_index[i])}
            row.update(_box_columns(box, self.box_grown[i]))
            row.update(
                eta=float(self.eta[i]),
                noise_to_thermal=float(self.noise_to_thermal[i]),
                rule=self.rule,
                search=self.search,
                restarts=int(self.restarts),
                objective=self.objective,
                steps=int(self.steps),
                step_size=float(self.step_size),
                random_start=bool(self.random_start),
                measured_only=bool(self.measured_only),
                n_random=int(self.n_random),
                data_range_convention=self.data_range_convention,
                objective_clean=float(self.trace[i, 0]),
                objective_adv=float(self.trace[i, int(self.best_step[i])]),
                best_step=int(self.best_step[i]),
            )
            for key, val in self.metrics.items():
                row[key] = float(val[i])
            rows.append(row)
        return rows


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
                row.update(_box_columns(box, self.box_grown[i]))
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
