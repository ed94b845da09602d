"""Adversarial rotation: exhaustive grid search over in-plane angles (Morshuis et al. 2022).

For each slice the complex coil images are rotated by every angle ``theta`` of a grid (step 0.1
degrees by default), transformed to k-space (``fft2c``), masked and reconstructed; the
reconstruction is rotated back by ``-theta`` and compared with the *unrotated* target ``X``
inside the region, excluding pixels that left the field of view
(:func:`~advrecon.attacks.geometry.validity_mask`).

The grid (``grid=``, :func:`angle_grid`):

* ``"inclusive"`` (default) -- what the paper's text says: ``theta`` from ``-theta_max`` to
  ``theta_max``, both ends included (``step * k`` for integers ``k``, plus ``+-theta_max``);
* ``"exclusive"`` -- what the authors' code does: ``arange(-theta_max, theta_max, step)[1:]``,
  i.e. both ends excluded (99 angles -4.9 ... 4.9 for ``theta_max = 5``, ``step = 0.1``).

One sweep serves every ``theta_max`` (Fig. 4a: worst case versus ``theta_max``; ``window[t]``
marks the angles of ``theta_max[t]``) and gives the whole per-angle curve (Fig. 4b); one sweep
per slice serves every box on that slice (each angle is reconstructed once, metrics are reduced
per box). (slice, angle) pairs are batched, at most ``chunk_size`` per forward (on a CPU one
pair per pass, ``_CPU_BLOCK``: wide batches only thrash its caches). What does not depend on
the angle is done once per sweep: each slice's rotation is prepared once
(:func:`~advrecon.attacks.geometry.prepare_rotation`: ``paper`` upsamples and pads the coil
images once, ``fourier`` pads them and does the first shear's row FFTs once; bit-identical to
rotating afresh) and the validity masks are computed once per grid. Issue 12's speed target
(the whole sweep 1.5x faster than an honest one-angle-at-a-time loop through the same pipeline)
is measured by ``benchmarks/attacks.py``.

The worst angle is the one with the largest region MSE (``select_by="mse"``, the paper), or the
smallest SSIM / PSNR; all metrics are reported at the selected angle. Baseline: a uniformly
random angle of the window, reported as the exact mean and median over the window's angles.
``clean`` is the plain reconstruction of the unrotated slice, the same as every other attack's
``clean``. With ``fourier`` or ``identity_at_zero=True`` it is the angle-0 entry of the sweep (no
extra forward pass); with the ``paper`` interpolation and ``identity_at_zero=False`` (the
authors' behaviour) the angle-0 entry is the reconstruction of resampled (slightly blurred)
coil images, rotated back by 0 through the same pipeline (``per_angle`` at angle 0 shows that
cost), so ``clean`` takes one extra forward per slice. ``control``: the fully-sampled target
pushed through the same rotation, RSS, crop and rotation back at the selected angle, no model --
what interpolation alone does to the target (the analogue of the noise attack's control).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import StrictBool, model_validator

from advrecon.attacks._common import (
    check_count,
    check_kspace_mask,
    chunk_ranges,
    flatten_boxes,
    frozen,
    recon_size_of,
    select_mask,
    select_nlf,
)
from advrecon.attacks.contract import BatchGroup, SliceAttack, UnitSpec
from advrecon.attacks.engine import unit_images
from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.attacks.geometry import (
    INTERPOLATIONS,
    PreparedRotation,
    prepare_rotation,
    rotate,
    validity_mask,
)
from advrecon.attacks.objectives import (
    SELECT_BY,
    Regions,
    error_maps,
    make_regions,
    reduce_maps,
    worst_index,
)
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.results import METRICS
from advrecon.attacks.rotation.result import RotationResult
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    Count,
    Positive,
    Section,
    choice,
    fail,
)
from advrecon.errors import AdvreconError
from advrecon.mri import center_crop, fft2c, ifft2c, kspace_to_target, rss
from advrecon.sensitivity import acs_sensitivity_maps, coil_combine

#: Most angles one rotation grid may hold (0.01 deg steps over +-500 deg; the paper: 0.1 deg
#: over +-5 deg); a finer or wider grid is an error, not hours of compute and an OOM.
MAX_ANGLES = 100_001

__all__ = [
    "COILS",
    "GRIDS",
    "angle_grid",
    "rotation_attack",
    "RotationAttackConfig",
    "rotation_batch_groups",
]

#: Angle grids: both ends of [-theta_max, theta_max] (the paper's text) or neither (the
#: authors' code, ``arange(-theta_max, theta_max, step)[1:]``).
GRIDS = ("inclusive", "exclusive")

#: What turns: the coil images (the paper: sensitivities turn with the patient) or the anatomy
#: inside fixed coils (a rigid knee coil; issue 13).
COILS = ("rotate", "fixed")

#: Rule (unit ids, ``rule`` column) of the fixed-coil sweep; the paper's sweep is ``grid``.
FIXED_RULE = "fixed-coils"

_TOL = 1e-9

#: (slice, angle) pairs per pass on a CPU, whatever ``chunk_size`` allows: a CPU gains nothing
#: from wide batches and loses its caches (demo models, 8 x 256 x 128, 1 thread: the models'
#: forward per slice was fastest at batch 1 (2: +10-20 %), and whole sweeps in passes of 16
#: took 1.5x (U-Net) to 3x (VarNet) as long as in passes of 1 or 2; benchmarks/attacks.py).
_CPU_BLOCK = 1

#: Largest grid of validity masks (angles x pixels) kept for a whole sweep (64 MB of bools);
#: finer grids compute each pass's masks.
_MAX_CACHED_MASK = 1 << 26


def _round(v: torch.Tensor) -> torch.Tensor:
    """Angles rounded to 1e-9 degrees, so that equal angles from different sums compare equal."""
    return torch.round(v * 1e9) / 1e9


def _check_grid_args(theta_max, step: float, grid: str) -> list[float]:
    try:
        tmaxes = [float(t) for t in theta_max]
    except TypeError:
        tmaxes = [float(theta_max)]  # a single number
    if not tmaxes:
        raise AdvreconError("theta_max must hold at least one angle")
    if any(not math.isfinite(t) or t < 0 for t in tmaxes):
        raise AdvreconError(f"theta_max must be finite and >= 0 degrees, got {tmaxes}")
    if not (math.isfinite(step) and step > 0):
        raise AdvreconError(f"the angle step must be > 0 degrees, got {step}")
    if grid not in GRIDS:
        raise AdvreconError(f"grid must be one of {GRIDS}, got {grid!r}")
    if 2 * math.floor(min(max(tmaxes) / step, 1e18) + 1e-9) + 1 > MAX_ANGLES:
        raise AdvreconError(
            f"theta_max {max(tmaxes)} with step {step} gives more than {MAX_ANGLES} angles; "
            "use a larger step"
        )
    return tmaxes


def _exclusive_angles(theta_max: float, step: float) -> torch.Tensor:
    """The authors' ``arange(-theta_max, theta_max, step)[1:]``, without float end effects.

    ``arange`` holds ``-theta_max + i * step`` for ``i = 0 ... n - 1`` with ``n`` the number of
    ``i`` with ``-theta_max + i * step < theta_max``; ``n`` is counted as
    ``ceil(2 theta_max / step - 1e-9)``, so a quotient that should be an integer but comes out a
    hair above it (float) does not add a spurious ``+theta_max``. ``[1:]`` drops
    ``-theta_max``. When that leaves nothing (``theta_max <= step / 2``, e.g. ``theta_max = 0``),
    the grid is the single angle 0 (no rotation) rather than empty.
    """
    n = math.ceil(2.0 * theta_max / step - _TOL)
    i = torch.arange(1, max(n, 1), dtype=torch.float64)
    angles = _round(-theta_max + i * step)
    return angles if angles.numel() else torch.zeros(1, dtype=torch.float64)


def angle_grid(
    theta_max: Sequence[float], step: float = 0.1, grid: str = "inclusive"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid of angles serving every ``theta_max`` in one sweep.

    ``grid="inclusive"`` (default; the paper's text, "from -theta_max to theta_max"): ``step * k``
    for integers ``k`` within the largest ``theta_max``, plus ``+-theta_max`` for every requested
    value (so that both ends of every window are included even when ``theta_max`` is not a
    multiple of ``step``); ``window[t]`` = the angles with ``|angle| <= theta_max[t]``.

    ``grid="exclusive"`` (the authors' code): for each ``theta_max`` its own
    ``arange(-theta_max, theta_max, step)[1:]`` (both ends excluded; see
    :func:`_exclusive_angles` for the float end effects and ``theta_max <= step / 2``); the grid
    is the union of these plus 0, and ``window[t]`` marks exactly the angles of ``theta_max[t]``.
    When ``theta_max`` is not a multiple of ``step`` those angles are offset from ``step * k``
    (``theta_max = 0.25``, ``step = 0.1``: -0.15, -0.05, 0.05, 0.15), as in the authors' code.
    (The authors round to 2 decimals; here angles are rounded to 1e-9 degrees only.)

    Args:
        theta_max: Maxima in degrees (each >= 0).
        step: Grid step in degrees (> 0).
        grid: ``"inclusive"`` or ``"exclusive"``.

    Returns:
        ``(angles (A,) float64 sorted, always containing 0, window (T, A) bool)``.

    Raises:
        AdvreconError: Bad ``theta_max``, ``step`` or ``grid``.
    """
    tmaxes = _check_grid_args(theta_max, step, grid)
    zero = torch.zeros(1, dtype=torch.float64)
    if grid == "exclusive":
        own = [_exclusive_angles(t, step) for t in tmaxes]
        angles = torch.unique(torch.cat([*own, zero]))  # sorted
        return angles, torch.stack([torch.isin(angles, o) for o in own])
    top = max(tmaxes)
    kmax = int(math.floor(top / step + _TOL))
    base = step * torch.arange(-kmax, kmax + 1, dtype=torch.float64)
    ends = torch.tensor([s * t for t in tmaxes for s in (-1.0, 1.0)], dtype=torch.float64)
    angles = torch.unique(_round(torch.cat([base, ends, zero])))  # sorted
    window = torch.stack([angles.abs() <= t + _TOL for t in tmaxes])
    return angles, window


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
        step: Grid step in degrees (0.1).
        interpolation: ``"paper"`` or ``"fourier"`` (:mod:`advrecon.attacks.geometry`).
        select_by: ``"mse"`` (paper), ``"ssim"`` or ``"psnr"``.
        data_range: ``"maxmin"`` or ``"max"`` of the whole target.
        n_random: Number of random grid angles drawn per item and ``theta_max`` for the
            ``rand_draw_ssim`` column (the exact expectation is always reported).
        generator: ``torch.Generator`` or int seed for those draws.
        chunk_size: Maximum (slice, angle) pairs per forward (``None``: all).
        recon_size: ``(h, w)`` if ``recon`` has no ``recon_size`` attribute.
        grid: ``"inclusive"`` (default, the paper's text: both ends of ``[-theta_max,
            theta_max]``) or ``"exclusive"`` (the authors' code: ``arange(-theta_max,
            theta_max, step)[1:]``); see :func:`angle_grid`.
        identity_at_zero: ``paper`` interpolation only: make angle 0 the exact identity
            (default ``False``: resample at angle 0 like the authors' pipeline; see
            :func:`~advrecon.attacks.geometry.rotate`).
        coils: ``"rotate"`` (default, the paper: the coil images turn, i.e. the sensitivities
            turn with the patient) or ``"fixed"`` (the anatomy turns inside fixed coils:
            :func:`_fixed_coil_maps` and
            :func:`~advrecon.attacks.fixed_coils.move_in_fixed_coils`).

    Returns:
        :class:`~advrecon.attacks.rotation.result.RotationResult`.

    Raises:
        AdvreconError: Bad k-space/mask, box, angle, step or option.
    """
    check_kspace_mask(kspace, mask)
    _check_options(interpolation, select_by, n_random, identity_at_zero)
    if coils not in COILS:
        raise AdvreconError(f"coils must be one of {COILS}, got {coils!r}")
    theta_max = [
        float(t) for t in ([theta_max] if isinstance(theta_max, (int, float)) else theta_max)
    ]
    angles, window = angle_grid(theta_max, step, grid)
    size = recon_size_of(recon, recon_size)
    items, item_index = flatten_boxes(boxes, kspace.shape[0])
    threat = Rotation(interpolation, max(theta_max), identity_at_zero, coils)
    sweep = _Sweep(
        recon, kspace, mask, num_low_frequencies, threat, item_index.to(kspace.device),
        make_regions(items, size, device=kspace.device), angles.to(kspace.device),
        window[theta_max.index(max(theta_max))].to(kspace.device), select_by, data_range, size,
    )  # fmt: skip
    with frozen(recon), torch.no_grad():
        per_angle, clean_b, adv, adv_valid = sweep.run(chunk_size)
        clean_at = {k: v[:, sweep.a0] for k, v in per_angle.items()}  # (N,) each
        if interpolation == "paper" and not identity_at_zero:
            clean_at = _plain_clean(recon, kspace, mask, num_low_frequencies, clean_b,
                                    sweep.target, sweep.data_range, sweep.regions, sweep.full,
                                    sweep.index, chunk_size)  # fmt: skip
    sel = worst_index(per_angle, select_by, window.to(kspace.device))  # (N, T)
    metrics = _window_metrics(per_angle, clean_at, sel, window)
    metrics["rand_draw_ssim"] = _random_draws(per_angle["ssim"], window, n_random, generator)
    control, control_metrics = _control(
        sweep.coil, sweep.maps, sweep.target, sweep.data_range, sweep.regions, sweep.full,
        sweep.index, sweep.angles, sel, theta_max.index(max(theta_max)), size, threat.kw,
        chunk_size,
    )  # fmt: skip
    metrics.update(control_metrics)
    return RotationResult(
        angles=angles, theta_max=theta_max, window=window, per_angle=per_angle,
        selected_index=sel, selected_angle=sweep.angles[sel], metrics=metrics, adversarial=adv,
        valid=adv_valid, clean=clean_b[sweep.index], target=sweep.target[sweep.index],
        boxes=list(sweep.regions.boxes), box_grown=list(sweep.regions.grown),
        item_index=item_index, interpolation=interpolation, select_by=select_by,
        step=float(step), n_random=int(n_random), data_range_convention=data_range,
        control=control, grid=grid, identity_at_zero=identity_at_zero, coils=coils,
    )  # fmt: skip


def _check_options(interpolation, select_by, n_random, identity_at_zero) -> None:
    """One-line errors for bad rotation options."""
    if interpolation not in INTERPOLATIONS:
        raise AdvreconError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    if select_by not in SELECT_BY:
        raise AdvreconError(f"select_by must be one of {SELECT_BY}, got {select_by!r}")
    check_count("n_random", n_random)
    if not isinstance(identity_at_zero, bool):
        raise AdvreconError(f"identity_at_zero must be true or false, got {identity_at_zero!r}")


@dataclass(frozen=True)
class Rotation:
    """The in-plane rotation threat model.

    Parametrisation: one angle ``theta`` (degrees) per (slice, item). Feasible set: the grid
    angles of a window ``|theta| <= theta_max`` (:func:`angle_grid`). Action on the acquisition:
    ``k -> fft2c(rotate(ifft2c(k), theta))`` (coil images rotated, then masked). Map of the
    output back to the target frame: ``rotate(output, -theta)`` plus the validity mask of the
    pixels that stayed in view (:func:`~advrecon.attacks.geometry.validity_mask`).
    """

    interpolation: str
    max_abs_deg: float
    identity_at_zero: bool
    coils: str = "rotate"

    @property
    def kw(self) -> dict:
        """Keyword arguments of :func:`~advrecon.attacks.geometry.rotate`."""
        return dict(
            method=self.interpolation,
            max_abs_deg=self.max_abs_deg,
            identity_at_zero=self.identity_at_zero,
        )

    def act(
        self, coil: torch.Tensor, slices: torch.Tensor, ang: torch.Tensor, maps=None
    ) -> torch.Tensor:
        """Rotated k-space ``(P, C, H, W)`` of ``coil[slices]`` ``(B, C, H, W)`` by ``ang``
        (``coils="fixed"``: ``maps`` ``(B, C, H, W)`` from :func:`_fixed_coil_maps`)."""
        return fft2c(_rotate_slices(coil, slices, ang, self.kw, maps))

    def to_target(self, image: torch.Tensor, ang: torch.Tensor):
        """``(image rotated by -ang (P, h, w), validity mask (P, h, w) bool)``."""
        size = tuple(image.shape[-2:])
        return rotate(image, -ang, **self.kw), validity_mask(size, ang, device=image.device)


class _Sweep:
    """The exhaustive grid search: every (slice, angle) pair reconstructed once, in chunks."""

    def __init__(self, recon, kspace, mask, nlf, threat, index, regions, angles, in_top,
                 select_by, data_range, size, block=None):  # fmt: skip
        self.recon, self.mask, self.nlf, self.threat = recon, mask, nlf, threat
        self.index, self.regions, self.angles, self.in_top = index, regions, angles, in_top
        self.select_by, self.size = select_by, size
        self.B, self.N, self.A = kspace.shape[0], len(regions), angles.numel()
        self.full = make_regions([Box.full(size)] * self.B, size, device=kspace.device)
        self.a0 = int((angles == 0).nonzero()[0, 0])
        self.target = kspace_to_target(kspace, size)
        self.data_range = data_range_of(self.target, data_range)
        self.coil = ifft2c(kspace)
        self.rdtype = kspace.real.dtype
        # what turns: the coil images, or (fixed coils) the object x = S^H c inside them
        self.maps = _fixed_coil_maps(kspace, mask, nlf) if threat.coils == "fixed" else None
        self.source = self.coil if self.maps is None else coil_combine(self.coil, self.maps)
        # shared by every chunk: the validity masks of the grid and, per slice, the
        # angle-independent part of its rotation (paper: the 2x upsampling)
        small = self.A * size[0] * size[1] <= _MAX_CACHED_MASK
        self.valid = validity_mask(size, angles, device=kspace.device) if small else None
        self.block = block if block is not None else _default_block(kspace.device)
        self._prepared: dict[int, PreparedRotation] = {}

    def run(self, chunk_size):
        """``(per_angle {metric: (N, A)}, clean_b (B, h, w), adv (N, h, w), valid (N, h, w))``.

        The adversarial image is the worst angle in the window of the largest ``theta_max``
        (first one on ties); ``clean_b`` holds the angle-0 entry of the sweep.
        """
        dev, N, A = self.coil.device, self.N, self.A
        keys = [m + suf for m in METRICS for suf in ("", "_full")]
        self.per_angle = {
            k: torch.full((N, A), torch.nan, dtype=torch.float64, device=dev) for k in keys
        }
        self.clean_b = torch.zeros((self.B, *self.size), dtype=self.rdtype, device=dev)
        self.adv = torch.zeros((N, *self.size), dtype=self.rdtype, device=dev)
        self.adv_valid = torch.ones((N, *self.size), dtype=torch.bool, device=dev)
        self.best = torch.full((N,), -torch.inf, dtype=torch.float64, device=dev)
        for r in chunk_ranges(self.B * A, _pairs_per_pass(chunk_size, self.block)):
            self._chunk(torch.arange(r.start, r.stop, device=dev))
        return self.per_angle, self.clean_b, self.adv, self.adv_valid

    def _kspace(self, bs: torch.Tensor, ang: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        """Masked k-space ``(P, C, H, W)`` of ``coil[bs]`` rotated by ``ang`` (``Rotation.act``).

        Each slice's angle-independent work is done once per sweep
        (:func:`~advrecon.attacks.geometry.prepare_rotation`, bit-identical to
        :func:`~advrecon.attacks.geometry.rotate`).
        """
        for s in [s for s in self._prepared if s < int(bs.min())]:
            del self._prepared[s]  # pairs are slice-major: this slice is done
        k = torch.empty((bs.numel(), *self.coil.shape[1:]), dtype=self.coil.dtype,
                        device=self.coil.device)  # fmt: skip
        for s in torch.unique(bs).tolist():
            if s not in self._prepared:
                self._prepared[s] = prepare_rotation(
                    self.source[s : s + 1], self.angles, **self.threat.kw
                )
            sel = (bs == s).nonzero(as_tuple=True)[0]
            rot = self._prepared[s](ang[sel], torch.zeros_like(sel))
            if self.maps is not None:  # the object turned: c + S (R x - x), x = S^H c
                c, m_s = self.coil[s : s + 1], self.maps[s : s + 1]
                rot = move_in_fixed_coils(c, m_s, lambda x, rot=rot: rot)
            k[sel] = fft2c(rot)
        return k * m

    def _chunk(self, p: torch.Tensor) -> None:
        """Reconstruct the pairs ``p`` (slice-major), record curves and the running worst."""
        bs, as_ = p // self.A, p % self.A
        ang = self.angles[as_]
        m = select_mask(self.mask, bs.cpu())
        out = self.recon(self._kspace(bs, ang, m), m, select_nlf(self.nlf, bs.cpu()))
        back = rotate(out, -ang, **self.threat.kw)  # Rotation.to_target, masks computed once
        valid = (
            self.valid[as_]
            if self.valid is not None
            else validity_mask(self.size, ang, device=ang.device)
        )
        maps = error_maps(back, self.target[bs], self.data_range[bs], valid)
        rm = reduce_maps(maps, self.regions, pairwise=True)  # (N, c)
        fm = reduce_maps(maps, self.full, pairwise=True)  # (B, c)
        own = self.index[:, None] == bs[None, :]
        ni, ci = own.nonzero(as_tuple=True)
        for key in METRICS:
            self.per_angle[key][ni, as_[ci]] = rm[key][ni, ci]
            self.per_angle[key + "_full"][ni, as_[ci]] = fm[key][self.index[ni], ci]
        at0 = (as_ == self.a0).nonzero(as_tuple=True)[0]
        self.clean_b[bs[at0]] = back[at0].to(self.rdtype)  # replaced later when 0 resamples
        score = rm[self.select_by] if self.select_by == "mse" else -rm[self.select_by]
        score = torch.nan_to_num(score, nan=-torch.inf)
        score = torch.where(
            own & self.in_top[as_][None, :], score, torch.full_like(score, -torch.inf)
        )
        cbest, carg = score.max(1), score.argmax(1)
        upd = cbest.values > self.best
        self.best = torch.where(upd, cbest.values, self.best)
        self.adv = torch.where(upd[:, None, None], back[carg].to(self.rdtype), self.adv)
        self.adv_valid = torch.where(upd[:, None, None], valid[carg], self.adv_valid)


def _default_block(device: torch.device) -> int | None:
    """Pairs per pass: a whole chunk on a GPU, ``_CPU_BLOCK`` on a CPU."""
    return None if device.type == "cuda" else _CPU_BLOCK


def _pairs_per_pass(chunk_size: int | None, block: int | None) -> int | None:
    """The smaller of the user's ``chunk_size`` (a memory cap) and the device's block."""
    if block is None:
        return chunk_size
    return block if chunk_size is None else min(int(chunk_size), block)


def _window_metrics(per_angle: dict, clean_at: dict, sel: torch.Tensor, window: torch.Tensor):
    """``clean_*``, ``adv_*`` (at ``sel``), ``rand_mean_*`` / ``rand_median_*`` (over each
    window) columns, ``(N, T)`` float64 each."""
    N, T = sel.shape
    metrics: dict[str, torch.Tensor] = {}
    for key, curve in per_angle.items():
        metrics[f"clean_{key}"] = clean_at[key][:, None].expand(N, T).clone()
        metrics[f"adv_{key}"] = curve.gather(1, sel)
        mean, median = [], []
        for t in range(T):
            w = curve[:, window[t].to(curve.device)]
            mean.append(w.mean(1))
            median.append(torch.quantile(w, 0.5, dim=1))
        metrics[f"rand_mean_{key}"] = torch.stack(mean, 1)
        metrics[f"rand_median_{key}"] = torch.stack(median, 1)
    return metrics


def _plain_clean(
    recon, kspace, mask, nlf, clean_b, target_b, dr_b, regions: Regions, full: Regions, idx,
    chunk_size,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Unrotated reconstructions written into ``clean_b`` ``(B, h, w)``; their item metrics.

    Returns:
        Dict ``<metric>`` and ``<metric>_full`` of ``(N,)`` float64 (no validity mask: angle 0
        keeps every pixel in view).
    """
    out: dict[str, torch.Tensor] = {}
    rows = []
    for r in chunk_ranges(kspace.shape[0], chunk_size):
        bs = torch.arange(r.start, r.stop, device=kspace.device)
        m = select_mask(mask, bs.cpu())
        clean_b[bs] = recon(kspace[bs] * m, m, select_nlf(nlf, bs.cpu())).to(clean_b.dtype)
        maps = error_maps(clean_b[bs], target_b[bs], dr_b[bs])
        rows.append(
            (bs, reduce_maps(maps, regions, pairwise=True), reduce_maps(maps, full.take(r)))
        )
    for key in METRICS:
        region = torch.cat([rm[key] for _, rm, _ in rows], dim=1)  # (N, B)
        out[key] = region.gather(1, idx[:, None])[:, 0]
        out[key + "_full"] = torch.cat([fm[key] for _, _, fm in rows])[idx]
    return out


def _rotate_slices(
    coil: torch.Tensor, slices: torch.Tensor, ang: torch.Tensor, rot: dict, maps=None
) -> torch.Tensor:
    """``coil[slices]`` rotated by ``ang``, each distinct slice upsampled once.

    Args:
        coil: Complex coil images ``(B, C, H, W)``.
        slices: ``(P,)`` slice index per pair.
        ang: ``(P,)`` angles in degrees.
        rot: Keyword arguments of :func:`~advrecon.attacks.geometry.rotate`.
        maps: ``None`` (the coil images turn) or fixed coil maps ``(B, C, H, W)``: the object
            turns inside them (:func:`~advrecon.attacks.fixed_coils.move_in_fixed_coils`).

    Returns:
        ``(P, C, H, W)`` complex.
    """
    uniq, inv = torch.unique(slices, return_inverse=True)
    if maps is None:
        return rotate(coil[uniq], ang, index=inv, **rot)
    return move_in_fixed_coils(coil[slices], maps[slices], lambda x: rotate(x, ang, **rot))


def _fixed_coil_maps(kspace: torch.Tensor, mask: torch.Tensor, nlf) -> torch.Tensor:
    """Coil maps ``(B, C, H, W)`` for ``coils="fixed"``, estimated from the fully-sampled
    k-space's ACS band (:func:`advrecon.sensitivity.acs_sensitivity_maps`, Hann-tapered):
    the calibration width of the undersampling mask (``num_low_frequencies``, or fastMRI's
    rule on the mask when it is ``None``), i.e. the band a scanner would calibrate from."""
    return acs_sensitivity_maps(kspace, mask, nlf)


def _control(
    coil, sens, target_b, dr_b, regions: Regions, full: Regions, idx, angles, sel, t_top, size, rot,
    chunk_size,
):  # fmt: skip
    """Fully-sampled target through rotate -> RSS/crop -> rotate back at the selected angles.

    Every distinct (slice, selected angle) pair is transformed once (no model).

    Args:
        coil: ``(B, C, H, W)`` complex coil images; sens: fixed coil maps or ``None``.
        target_b, dr_b: ``(B, h, w)``, ``(B,)``.
        regions, full: ``N`` item regions, ``B`` whole-image regions.
        idx: ``(N,)`` slice of each item; angles: ``(A,)``; sel: ``(N, T)`` selected indices.
        t_top: Index of the largest ``theta_max`` (whose control image is returned).

    Returns:
        ``(control (N, h, w), {"control_<metric>[_full]": (N, T) float64})``.
    """
    N, T = sel.shape
    A = angles.numel()
    pair_key = (idx[:, None] * A + sel).reshape(-1)  # (N*T,) slice-major key of the pair
    uniq, inv = torch.unique(pair_key, return_inverse=True)
    out = {
        f"control_{m}{suf}": torch.full((N * T,), torch.nan, dtype=torch.float64, device=idx.device)
        for m in METRICS
        for suf in ("", "_full")
    }
    control = torch.zeros((N, *size), dtype=target_b.dtype, device=idx.device)
    pos = torch.arange(N * T, device=idx.device)
    for r in chunk_ranges(uniq.numel(), chunk_size):
        s, ang = uniq[r.start : r.stop] // A, angles[uniq[r.start : r.stop] % A]
        img = center_crop(rss(_rotate_slices(coil, s, ang, rot, sens), dim=1), size)
        back = rotate(img, -ang, **rot)
        valid = validity_mask(size, ang, device=idx.device)
        maps = error_maps(back, target_b[s], dr_b[s], valid)
        rm = reduce_maps(maps, regions, pairwise=True)  # (N, c)
        fm = reduce_maps(maps, full, pairwise=True)  # (B, c)
        here = (inv >= r.start) & (inv < r.stop)
        p, c = pos[here], inv[here] - r.start
        n = p // T
        for m in METRICS:
            out[f"control_{m}"][p] = rm[m][n, c]
            out[f"control_{m}_full"][p] = fm[m][idx[n], c]
        tops = here & (pos % T == t_top)
        control[pos[tops] // T] = back[inv[tops] - r.start].to(control.dtype)
    return control, {k: v.reshape(N, T) for k, v in out.items()}


def _random_draws(
    ssim: torch.Tensor, window: torch.Tensor, n_random: int, generator
) -> torch.Tensor:
    """Mean SSIM over ``n_random`` uniformly drawn grid angles per item and window."""
    N, T = ssim.shape[0], window.shape[0]
    if n_random == 0:
        return torch.full((N, T), torch.nan, dtype=torch.float64, device=ssim.device)
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    cols = []
    for t in range(T):
        allowed = window[t].nonzero(as_tuple=True)[0]
        pick = torch.randint(0, allowed.numel(), (N, n_random), generator=generator)
        cols.append(ssim.gather(1, allowed[pick].to(ssim.device)).mean(1))
    return torch.stack(cols, 1)


# --------------------------------------------------------------------------------------------
# experiment runner entry (advrecon.attacks.registry)
# --------------------------------------------------------------------------------------------
@dataclass
class RotationUnitScores:
    """Rows of one angle sweep for the units of a batch (every target, box and ``theta_max``).

    Items of the sweep: every pathology box, plus ``Box.full`` (item ``full_i``) when the
    complete image is a target. Region rows are the attack's rows. Complete-image rows take the
    angle the whole-image item selects and read the unit box's per-angle curves at that angle
    (exact, no second sweep); ``rand_mean``/``rand_median`` are the box's curve averaged over
    the window; their region ``control_*`` columns are NaN (the control is computed at each
    item's own selected angle only). Saved images are those of the largest ``theta_max``.
    """

    result: RotationResult
    thetas: list[float]
    full_i: int | None

    def __post_init__(self) -> None:
        r = self.result
        self._rows = r.to_rows()  # item-major, then theta_max
        self._img = {
            k: getattr(r, k).detach().float().cpu()
            for k in ("target", "clean", "adversarial", "control")
        }
        self._curves = {k: v.detach().double().cpu() for k, v in r.per_angle.items()}

    def row(self, unit) -> tuple[int, dict]:
        """``(item, row)`` of a unit; complete-image rows read the box's curve (see class)."""
        j, T = self.thetas.index(unit.budget), len(self.thetas)
        if unit.target == "region":
            return unit.box_index, dict(self._rows[unit.box_index * T + j])
        i, r = self.full_i, self.result
        row = dict(self._rows[i * T + j])
        b = unit.box_index if unit.box_index >= 0 else i
        sel = int(r.selected_index[i, j])
        win = r.window[j].cpu()
        for m in METRICS:
            c = self._curves[m][b]
            row[f"clean_{m}"] = float(r.metrics[f"clean_{m}"][b, j])  # unrotated
            row[f"adv_{m}"] = float(c[sel])
            row[f"rand_mean_{m}"] = float(c[win].mean())
            row[f"rand_median_{m}"] = float(c[win].median())
            row[f"control_{m}"] = float("nan")  # computed at each item's own angle only
        row["rand_draw_ssim"] = float("nan")
        return i, row

    def arrays(self, i: int, unit) -> dict:
        """Images of item ``i`` (``control`` = the target rotated and back) and the angle."""
        angle = np.float32(self.result.selected_angle[i, -1])
        return {**unit_images(self._img, i, unit.box), "angle_deg": angle}

    def curves(self) -> list[dict]:
        """One row per (item, grid angle): ``target``, ``box_index``, ``angle`` and metrics
        (the paper's sweep only: a fixed-coil sweep's curves would share its curve ids)."""
        out = []
        if self.result.coils == "fixed":
            return out
        angles = self.result.angles.detach().double().cpu().tolist()
        for i in range(len(self.result.boxes)):
            for k, ang in enumerate(angles):
                c = {
                    "target": "image" if i == self.full_i else "region",
                    "box_index": -1 if i == self.full_i else i,
                    "angle": float(ang),
                }
                c.update({m: float(v[i, k]) for m, v in self._curves.items()})
                out.append(c)
        return out


def run_rotation_units(inp: SliceAttack, units, options, rule: str) -> RotationUnitScores:
    """One :func:`rotation_attack` sweep serving every unit (``options``: ``rotation`` section;
    ``rule``: ``grid``, the coil images turn, or ``fixed-coils``)."""
    thetas = sorted({u.budget for u in units})
    want_full = any(u.target == "image" for u in units)
    items = list(inp.boxes) + ([Box.full(inp.recon_size)] if want_full else [])
    result = rotation_attack(
        inp.recon,
        inp.kspace[None],
        inp.mask,
        inp.num_low_frequencies,
        [items],
        thetas,
        step=options.step,
        interpolation=options.interpolation,
        select_by=options.select_by,
        n_random=options.n_random,
        generator=inp.generator,
        chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
        grid=options.grid,
        identity_at_zero=options.identity_at_zero,
        coils="fixed" if rule == FIXED_RULE else "rotate",
    )
    return RotationUnitScores(result, thetas, len(items) - 1 if want_full else None)


# --------------------------------------------------------------------------------------------
# experiment runner: the config section ``attacks.rotation`` and its batches
# --------------------------------------------------------------------------------------------
class RotationAttackConfig(Section):
    """Adversarial rotation: grid search over ``[-theta_max, theta_max]``.

    Attributes:
        theta_max: Largest angles in degrees.
        step: Grid step in degrees.
        interpolation: ``paper`` (the paper's) or ``fourier``.
        select_by: Metric that picks the worst angle (``mse`` or ``ssim``).
        n_random: Random angles per ``theta_max`` as a baseline.
        grid: ``inclusive`` (default; the paper's text: ``-theta_max ... theta_max`` with both
            ends) or ``exclusive`` (the authors' code: ``arange(-theta_max, theta_max,
            step)[1:]``, both ends excluded); see :func:`advrecon.attacks.rotation.angle_grid`.
        identity_at_zero: ``paper`` interpolation: make angle 0 the exact identity (default
            false: resample at angle 0 as the authors' pipeline does).
        coils: ``rotate`` (default; the paper: the coil images turn) or ``fixed``: also the
            anatomy turning inside coils fixed in place (maps from the ACS band of the
            fully-sampled data, see ``docs/threat_models.md``), a second sweep (rule
            ``fixed-coils``) beside the paper's (rule ``grid``) so the report compares them.
            Left out of the config hash when default.
    """

    theta_max: Budgets
    step: Positive = 0.1
    interpolation: choice(INTERPOLATIONS) = "paper"
    select_by: choice(SELECT_BY) = "mse"
    n_random: Count = 1
    grid: choice(GRIDS) = "inclusive"
    identity_at_zero: StrictBool = False
    coils: choice(COILS) = "rotate"

    @classmethod
    def dump_view(cls, section: dict) -> dict:
        """The section's plain form: ``coils: rotate`` (the default, the paper's) is left out,
        so configs from before the key dump and hash alike."""
        return {k: v for k, v in section.items() if not (k == "coils" and v == "rotate")}

    @model_validator(mode="after")
    def _grid_size(self) -> RotationAttackConfig:
        """The angle grid over ``+-max(theta_max)`` holds at most the attack's ``MAX_ANGLES``."""
        top, step = max(self.theta_max), self.step
        n = 2 * int(math.floor(min(top / step, 1e18) + 1e-9)) + 1  # multiples of step in window
        if n > MAX_ANGLES:
            raise fail(
                f"a {step:g} deg grid over +-{top:g} deg has {n} angles, more than the maximum "
                f"of {MAX_ANGLES}; use a larger step",
                "step",
            )
        return self


def rotation_batch_groups(
    section: RotationAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One angle sweep per (model, slice) covering every target, box and ``theta_max``; with
    ``coils: fixed`` a second one with the anatomy turning inside fixed coils (rule
    ``fixed-coils``), beside the paper's (rule ``grid``) for the comparison in the report."""
    rules = ["grid"] + ([FIXED_RULE] if section.coils == "fixed" else [])
    return [
        BatchGroup(
            f"rotation-{rule}",
            tuple(
                UnitSpec(rule, target, float(th), bi, box)
                for target in targets
                for bi, box in boxes[target]
                for th in section.theta_max
            ),
        )
        for rule in rules
    ]
