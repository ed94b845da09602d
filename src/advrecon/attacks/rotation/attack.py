"""The rotation attack: the exhaustive angle sweep and the columns it reports.

For each slice the complex coil images are rotated by every angle ``theta`` of a grid
(:mod:`~advrecon.attacks.rotation.grid`), transformed to k-space (``fft2c``), masked and
reconstructed; the reconstruction is rotated back by ``-theta`` and compared with the
*unrotated* target inside the region, excluding pixels that left the field of view
(:class:`~advrecon.attacks.rotation.sweep.Sweep`). The worst angle of each window, the clean
and random-angle baselines (:mod:`~advrecon.attacks.rotation.scores`) and the model-free
control (:mod:`~advrecon.attacks.rotation.control`) come from that one sweep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from advrecon.attacks._common import (
    check_count,
    check_kspace_mask,
    flatten_boxes,
    frozen,
    recon_size_of,
)
from advrecon.attacks.geometry import INTERPOLATIONS
from advrecon.attacks.objectives import SELECT_BY, make_regions, worst_index
from advrecon.attacks.rotation.control import rotation_control
from advrecon.attacks.rotation.grid import angle_grid
from advrecon.attacks.rotation.result import RotationResult
from advrecon.attacks.rotation.scores import random_draws, window_metrics
from advrecon.attacks.rotation.sweep import Sweep
from advrecon.attacks.rotation.threat import COILS, Rotation
from advrecon.errors import AdvreconError

__all__ = ["RotationOptions", "rotation_attack"]


@dataclass(frozen=True)
class RotationOptions:
    """The settings of one :func:`rotation_attack` call.

    Attributes:
        step: Grid step in degrees (0.1).
        interpolation: ``"paper"`` or ``"fourier"`` (:mod:`advrecon.attacks.geometry`).
        select_by: ``"mse"`` (paper), ``"ssim"`` or ``"psnr"``.
        data_range: ``"maxmin"`` or ``"max"`` of the whole target.
        n_random: Number of random grid angles drawn per item and ``theta_max`` for the
            ``rand_draw_ssim`` column (the exact expectation is always reported).
        grid: ``"inclusive"`` (default, the paper's text: both ends of ``[-theta_max,
            theta_max]``) or ``"exclusive"`` (the authors' code: ``arange(-theta_max,
            theta_max, step)[1:]``); see :func:`~advrecon.attacks.rotation.grid.angle_grid`.
        identity_at_zero: ``paper`` interpolation only: make angle 0 the exact identity
            (default ``False``: resample at angle 0 like the authors' pipeline; see
            :func:`~advrecon.attacks.geometry.rotate`).
        coils: ``"rotate"`` (default, the paper: the coil images turn, i.e. the sensitivities
            turn with the patient) or ``"fixed"`` (the anatomy turns inside fixed coils:
            :func:`~advrecon.attacks.rotation.threat.fixed_coil_maps` and
            :func:`~advrecon.attacks.fixed_coils.move_in_fixed_coils`).
    """

    step: float = 0.1
    interpolation: str = "paper"
    select_by: str = "mse"
    data_range: str = "maxmin"
    n_random: int = 0
    grid: str = "inclusive"
    identity_at_zero: bool = False
    coils: str = "rotate"

    def check(self) -> RotationOptions:
        """One-line errors for bad options (the step and grid: :func:`angle_grid`)."""
        if self.interpolation not in INTERPOLATIONS:
            raise AdvreconError(
                f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}"
            )
        if self.select_by not in SELECT_BY:
            raise AdvreconError(f"select_by must be one of {SELECT_BY}, got {self.select_by!r}")
        check_count("n_random", self.n_random)
        if not isinstance(self.identity_at_zero, bool):
            raise AdvreconError(
                f"identity_at_zero must be true or false, got {self.identity_at_zero!r}"
            )
        if self.coils not in COILS:
            raise AdvreconError(f"coils must be one of {COILS}, got {self.coils!r}")
        return self

    @property
    def resampled_zero(self) -> bool:
        """Whether the sweep's angle 0 resamples (``paper`` without ``identity_at_zero``)."""
        return self.interpolation == "paper" and not self.identity_at_zero

    def threat(self, theta_max: list[float]) -> Rotation:
        """The threat model of a call with these maxima."""
        return Rotation(self.interpolation, max(theta_max), self.identity_at_zero, self.coils)


def _maxima(theta_max) -> list[float]:
    """``theta_max`` (a number or a sequence) as a list of floats."""
    return [float(t) for t in ([theta_max] if isinstance(theta_max, (int, float)) else theta_max)]


def rotation_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    theta_max: Sequence[float],
    *,
    step: float = 0.1,
    interpolation: str = "paper",
    select_by: str = "mse",
    data_range: str = "maxmin",
    n_random: int = 0,
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
    grid: str = "inclusive",
    identity_at_zero: bool = False,
    coils: str = "rotate",
) -> RotationResult:
    """Worst-case rotation angle by exhaustive search, batched over slices and angles.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``
            (frozen for the duration of the call; no gradients are computed).
        kspace: FULLY-sampled complex k-space ``(B, C, H, W)``.
        mask: Real ``(B or 1, 1, 1 or H, W)``; the same mask is applied at every angle.
        num_low_frequencies: ``int``, ``None`` or ``(B,)`` tensor.
        boxes: One Box per slice, or a list of Boxes per slice (all served by one sweep).
        theta_max: List of maxima in degrees; one row per item and ``theta_max``.
        step, interpolation, select_by, data_range, n_random, grid, identity_at_zero, coils:
            The options (:class:`RotationOptions`).
        generator: ``torch.Generator`` or int seed for the ``n_random`` draws.
        chunk_size: Maximum (slice, angle) pairs per forward (``None``: all).
        recon_size: ``(h, w)`` if ``recon`` has no ``recon_size`` attribute.

    Returns:
        :class:`~advrecon.attacks.rotation.result.RotationResult`.

    Raises:
        AdvreconError: Bad k-space/mask, box, angle, step or option.
    """
    check_kspace_mask(kspace, mask)
    opts = RotationOptions(step, interpolation, select_by, data_range, n_random, grid,
                           identity_at_zero, coils).check()  # fmt: skip
    theta_max = _maxima(theta_max)
    angles, window = angle_grid(theta_max, step, grid)
    size = recon_size_of(recon, recon_size)
    items, item_index = flatten_boxes(boxes, kspace.shape[0])
    threat, top = opts.threat(theta_max), theta_max.index(max(theta_max))
    dev = kspace.device
    sweep = Sweep(
        recon, kspace, mask, num_low_frequencies, threat, item_index.to(dev),
        make_regions(items, size, device=dev), angles.to(dev), window.to(dev), select_by,
        data_range, size,
    )  # fmt: skip
    with frozen(recon), torch.no_grad():
        per_angle, clean_b, adv, adv_valid = sweep.run(chunk_size)
        clean_at = sweep.clean_metrics(kspace, chunk_size, opts.resampled_zero)
    sel = worst_index(per_angle, select_by, window.to(dev))  # (N, T)
    metrics = window_metrics(per_angle, clean_at, sel, window)
    metrics["rand_draw_ssim"] = random_draws(per_angle["ssim"], window, n_random, generator)
    control, control_metrics = rotation_control(
        sweep.coil, sweep.maps, sweep.target, sweep.data_range, sweep.regions, sweep.full,
        sweep.index, sweep.angles, sel, size, threat.kw, chunk_size,
    )  # fmt: skip
    metrics.update(control_metrics)
    return RotationResult(
        angles=angles, theta_max=theta_max, window=window, per_angle=per_angle,
        selected_index=sel, selected_angle=sweep.angles[sel], metrics=metrics,
        adversarial=adv[top], valid=adv_valid[top], clean=clean_b[sweep.index],
        target=sweep.target[sweep.index],
        boxes=list(sweep.regions.boxes), box_grown=list(sweep.regions.grown),
        item_index=item_index, interpolation=interpolation, select_by=select_by,
        step=float(step), n_random=int(n_random), data_range_convention=data_range,
        control=control[top], grid=grid, identity_at_zero=identity_at_zero, coils=coils,
        window_adversarial=adv, window_control=control,
    )  # fmt: skip
