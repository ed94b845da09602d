"""Inter-shot rigid motion: each shot of a multi-shot Cartesian scan sees a moved patient.

Model (issue 13). The sampled phase-encode columns (those the mask acquires inside
``[padding_left, padding_right)``; the others do not matter) are split into ``shots`` groups
(:func:`shot_index`):

* ``order="interleaved"``: the ``j``-th sampled column (left to right) goes to shot
  ``j % shots``; ``"sequential"``: contiguous blocks of (nearly) equal size;
* ``centre="reference"`` (default): the sampled columns of the fully-sampled centre band (the
  ``num_low_frequencies`` ACS band) are all acquired in shot 0, the reference shot that fixes
  contrast and position (as in a turbo-spin-echo knee scan where the centre is acquired at the
  effective echo time of the first shot); only the other columns are split by ``order``
  (shot 0 gets its share of them too). ``centre="distributed"``: the centre columns are split
  like every other column.

Shot 0 is the reference: it has no motion, so the image frame is the target's frame and no
map back is needed; shots ``1 ... shots - 1`` each get an in-plane rotation ``theta_s``
(degrees, about the pixel-grid centre, counter-clockwise) followed by a translation
``t_s = (t_y, t_x)`` (pixels: rows, columns). Feasible set (a box): ``|theta_s| <= theta_max``
and ``|t_y|, |t_x| <= t_max`` *per axis*. k-space of shot ``s`` is the k-space of the moved
object: rotation = the exact three-shear Fourier rotation
(:func:`advrecon.attacks.geometry.rotate`, ``"fourier"``), translation = an exact linear phase
``exp(-2 pi i (f_y t_y + f_x t_x))`` -- both differentiable in the motion parameters.
``coils="move"`` (the paper's convention) moves the coil images, i.e. the coils move with the
patient; ``coils="fixed"`` moves the object inside fixed coils
(:func:`advrecon.attacks.fixed_coils.move_in_fixed_coils` with maps from the fully-sampled ACS
band, :func:`advrecon.sensitivity.acs_sensitivity_maps`). A shot without motion keeps its
k-space bit for bit, so a zero bound gives the clean reconstruction exactly.

Searches, all at the same bounds:

* worst-case motion: projected (sign-)gradient ascent over the ``3 (shots - 1)`` parameters
  (:class:`~advrecon.attacks.search.ProjectedGradient`, best iterate): from a uniform random
  start, ``x <- clip(x + step_size * bound * sign(grad))``;
* random motion: ``n_random`` uniform draws in the box (mean and worst);
* worst single-shot motion: the same ascent with only one shot free, for every shot
  ``1 ... shots - 1``; the shot whose result has the largest objective is reported
  (``single_*`` columns, ``single_shot``).

``control``: the fully-sampled moved k-space as a scanner shows it (RSS, crop; no model).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from pydantic import StrictBool, model_validator

from advrecon.attacks._common import (
    check_count,
    check_kspace_mask,
    check_padding,
    chunk_ranges,
    flatten_boxes,
    frozen,
    recon_size_of,
    runs_on,
    select_mask,
    select_nlf,
)
from advrecon.attacks.contract import BatchGroup, SliceAttack, UnitSpec
from advrecon.attacks.engine import unit_images
from advrecon.attacks.evaluation import evaluate, nan_columns, random_summary
from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.attacks.geometry import rotate
from advrecon.attacks.objectives import (
    OBJECTIVES,
    Regions,
    box_metrics,
    make_regions,
    objective_value,
    region_metrics,
)
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.results import METRICS
from advrecon.attacks.search import ProjectedGradient, random_draws
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    Count,
    NonNegative,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    fail,
    list_of,
)
from advrecon.errors import AdvreconError
from advrecon.models.varnet import num_low_frequencies_from_mask
from advrecon.mri import fft2c, ifft2c, kspace_to_target
from advrecon.sensitivity import acs_sensitivity_maps

__all__ = [
    "CENTRES",
    "COILS",
    "ORDERS",
    "MotionAttackConfig",
    "MotionResult",
    "RigidMotion",
    "motion_attack",
    "motion_batch_groups",
    "moved_kspace",
    "run_motion_units",
    "shot_index",
    "translate_kspace",
]

ORDERS = ("interleaved", "sequential")
CENTRES = ("reference", "distributed")
COILS = ("move", "fixed")
UNITS = ("px", "mm")


# --------------------------------------------------------------------------------------------
# shots and the action on the acquisition
# --------------------------------------------------------------------------------------------
def shot_index(
    mask: torch.Tensor,
    shots: int,
    order: str = "interleaved",
    centre: str = "reference",
    num_low_frequencies=None,
    padding: Sequence[int] | None = None,
) -> torch.Tensor:
    """Shot of every phase-encode column (module docstring), ``-1`` where not acquired.

    Args:
        mask: ``(B or 1, 1, 1 or H, W)`` sampling mask.
        shots: Number of shots (>= 1).
        order: ``"interleaved"`` or ``"sequential"``.
        centre: ``"reference"`` (centre band in shot 0) or ``"distributed"``.
        num_low_frequencies: Centre band width (``int``, ``(B,)`` or ``None``: from the mask).
        padding: Acquired columns ``(left, right)``; ``None``: all.

    Returns:
        ``(B or 1, W)`` long.

    Raises:
        AdvreconError: a shot would get no column (more shots than sampled columns).
    """
    if order not in ORDERS or centre not in CENTRES:
        raise AdvreconError(f"order must be in {ORDERS} and centre in {CENTRES}")
    W = mask.shape[-1]
    left, right = check_padding(padding, W)
    cols = mask.reshape(mask.shape[0], -1, W)[:, 0] > 0  # (B, W)
    acq = torch.zeros(W, dtype=torch.bool, device=mask.device)
    acq[left:right] = True
    n_low = num_low_frequencies_from_mask(mask, num_low_frequencies).cpu()
    out = torch.full(cols.shape, -1, dtype=torch.long)
    for b in range(cols.shape[0]):
        sampled = (cols[b] & acq).cpu()
        n = int(n_low[min(b, n_low.numel() - 1)])
        pad = (W - n + 1) // 2
        band = torch.zeros(W, dtype=torch.bool)
        band[pad : pad + n] = True
        ref = sampled & band if centre == "reference" else torch.zeros_like(sampled)
        rest = torch.nonzero(sampled & ~ref).flatten()
        if rest.numel() < shots:
            where = "outside the centre band " if centre == "reference" else ""
            raise AdvreconError(
                f"shots (attacks.motion.shots) = {shots} is more than the {rest.numel()} "
                f"sampled phase-encode columns {where}of the mask: every shot needs a column"
            )
        j = torch.arange(rest.numel())
        shot = j % shots if order == "interleaved" else (j * shots) // rest.numel()
        out[b, rest] = shot
        out[b, ref] = 0
    return out.to(mask.device)


def translate_kspace(kspace: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Exact sub-pixel translation as a linear phase in centred k-space.

    Args:
        kspace: Complex ``(B, C, H, W)`` (``fft2c`` convention).
        shift: ``(B, 2)`` real ``(t_y, t_x)`` in pixels (rows, columns); whole pixels equal
            ``torch.roll`` of the image by ``(t_y, t_x)``.

    Returns:
        Complex ``(B, C, H, W)``; differentiable in ``shift``.
    """
    H, W = kspace.shape[-2:]
    fy = torch.fft.fftshift(torch.fft.fftfreq(H, device=kspace.device, dtype=torch.float64))
    fx = torch.fft.fftshift(torch.fft.fftfreq(W, device=kspace.device, dtype=torch.float64))
    s = shift.to(torch.float64)
    phase = fy[None, :, None] * s[:, 0, None, None] + fx[None, None, :] * s[:, 1, None, None]
    ramp = torch.polar(torch.ones_like(phase), -2.0 * math.pi * phase)
    return kspace * ramp[:, None].to(kspace.dtype)


def _rotate(x: torch.Tensor, theta: torch.Tensor, pad_deg: float) -> torch.Tensor:
    """Exact Fourier rotation, differentiable in ``theta`` (``rotate`` reads the largest angle
    as a float for its padding, which warns for a tensor that requires grad: harmless here,
    the padding is fixed by ``pad_deg``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Converting a tensor with requires_grad", UserWarning)
        return rotate(x, theta, "fourier", max_abs_deg=pad_deg)


def _move_object(obj: torch.Tensor, params: torch.Tensor, pad_deg: float) -> torch.Tensor:
    """Rotate then translate complex images ``(P, K, H, W)`` by ``params`` ``(P, 3)``."""
    rot = _rotate(obj, params[:, 0], pad_deg)
    return ifft2c(translate_kspace(fft2c(rot), params[:, 1:]))


def moved_kspace(
    kspace: torch.Tensor,
    params: torch.Tensor,
    shots: torch.Tensor,
    maps: torch.Tensor | None = None,
    pad_deg: float | None = None,
) -> torch.Tensor:
    """Fully-sampled k-space where every column comes from the object moved by its shot.

    Args:
        kspace: Complex ``(n, C, H, W)``, fully sampled.
        params: ``(n, S, 3)`` real ``(theta_deg, t_y, t_x)`` per shot (pixels).
        shots: ``(n or 1, W)`` long shot of every column (:func:`shot_index`; ``-1``: kept).
        maps: ``None``: the coils move with the object (coil images rotated and shifted);
            else ``(n, C, H, W)`` fixed sensitivity maps (the object moves inside them).
        pad_deg: Largest angle the Fourier rotation's padding allows for (default: the
            largest of ``params``); fix it for results independent of the batch.

    Returns:
        Complex ``(n, C, H, W)``: the columns of a shot without motion, and the columns of no
        shot, are ``kspace``'s own values bit for bit.
    """
    n, W = params.shape[0], kspace.shape[-1]
    still = (params == 0).all(dim=-1)  # (n, S)
    moving = torch.nonzero(~still)  # (P, 2) pairs (item, shot)
    if moving.numel() == 0:
        return kspace
    items, ss = moving[:, 0], moving[:, 1]
    p = params[items, ss]  # (P, 3)
    pad = float(params[..., 0].detach().abs().max()) if pad_deg is None else float(pad_deg)
    coil = ifft2c(kspace[items])
    if maps is None:
        rot = _rotate(coil, p[:, 0], pad)
        k_moved = translate_kspace(fft2c(rot), p[:, 1:])
    else:
        moved = move_in_fixed_coils(coil, maps[items], lambda x: _move_object(x, p, pad))
        k_moved = fft2c(moved)
    sh = shots if shots.shape[0] == n else shots.expand(n, W)
    sel = (sh[items] == ss[:, None])[:, None, None, :]  # (P, 1, 1, W): the pair's columns
    # every column belongs to one shot: summing the pairs' columns places each moved column
    hits = torch.zeros((n, 1, 1, W), dtype=kspace.real.dtype, device=kspace.device)
    replaced = hits.index_add(0, items, sel.to(hits.dtype)) > 0
    acc = torch.zeros_like(kspace).index_add(0, items, torch.where(sel, k_moved, 0))
    return torch.where(replaced, acc, kspace)


# --------------------------------------------------------------------------------------------
# the threat model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RigidMotion:
    """Inter-shot rigid motion on ``n`` items: the threat model the searches work on.

    Parametrisation: ``delta`` ``(n, S, 3)`` float64 ``(theta_deg, t_y, t_x)`` per shot.
    Feasible set: ``|delta| <= bound * free`` elementwise (a box; ``free`` zero for shot 0 and,
    in a single-shot search, for every shot but one). Action: :func:`moved_kspace`, then the
    mask. Back to the target frame: the identity (shot 0 does not move).

    Attributes:
        recon: Reconstructor; kspace: fully sampled ``(n, C, H, W)``; mask: ``(1 or n, 1, 1 or
        H, W)``; nlf: ``num_low_frequencies``; shots: ``(1 or n, W)`` shot of every column;
        maps: fixed-coil maps ``(n, C, H, W)`` or ``None`` (coils move); bound: ``(n, 1, 3)``
        float64 ``(theta_max, t_max, t_max)``; free: ``(n, S, 1)`` float64 0/1; target:
        ``(n, h, w)``; regions, full: item and whole-image regions; data_range: ``(n,)``;
        pad_deg: padding angle of the Fourier rotation (batch independence).
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    nlf: Any
    shots: torch.Tensor
    maps: torch.Tensor | None
    bound: torch.Tensor
    free: torch.Tensor
    target: torch.Tensor
    regions: Regions
    full: Regions
    data_range: torch.Tensor
    pad_deg: float

    @property
    def device(self) -> torch.device:
        return self.kspace.device

    @property
    def limit(self) -> torch.Tensor:
        """``(n, S, 3)`` float64 half-widths of the box."""
        return self.bound * self.free

    @property
    def active(self) -> torch.Tensor:
        """``(n,)`` items that can move at all."""
        return self.limit.flatten(1).amax(1) > 0

    def take(self, idx: torch.Tensor) -> RigidMotion:
        """The items ``idx`` (``(p,)`` long; repeats allowed)."""
        rows = idx.tolist()
        per = lambda t: t if t.shape[0] == 1 else t[idx]  # noqa: E731
        return replace(
            self, kspace=self.kspace[idx], mask=per(self.mask), nlf=select_nlf(self.nlf, idx),
            shots=per(self.shots), maps=None if self.maps is None else self.maps[idx],
            bound=self.bound[idx], free=self.free[idx], target=self.target[idx],
            regions=self.regions.take(rows), full=self.full.take(rows),
            data_range=self.data_range[idx],
        )  # fmt: skip

    def moved(self, delta: torch.Tensor) -> torch.Tensor:
        """Fully-sampled k-space ``(n, C, H, W)`` of the motion ``delta``."""
        return moved_kspace(self.kspace, delta, self.shots, self.maps, self.pad_deg)

    def reconstruct(self, delta: torch.Tensor) -> torch.Tensor:
        """``recon(M k(delta))`` ``(n, h, w)``, in the target frame."""
        return self.recon(self.moved(delta) * self.mask, self.mask, self.nlf)

    def objective_of(self, image: torch.Tensor, objective: str, mse0=None):
        """``(objective (n,), mse0)`` of ``image`` in the regions."""
        met = region_metrics(image, self.target, self.regions, self.data_range)
        if objective == "mse_ssim" and mse0 is None:
            floor = 1e-12 * self.data_range.to(torch.float64) ** 2
            mse0 = torch.maximum(met["mse"].detach(), floor + torch.finfo(torch.float64).tiny)
        return objective_value(objective, met, mse0), mse0

    def ascent_step(self, delta: torch.Tensor, grad: torch.Tensor, step_size: float, rule: str):
        """Signed step relative to the bound, then clipping to the box (``rule`` unused)."""
        lim = self.limit
        step = step_size * lim * torch.sign(torch.nan_to_num(grad))
        return torch.minimum(torch.maximum(delta + step, -lim), lim)

    def draw(self, generators: list[torch.Generator]) -> torch.Tensor:
        """One uniform point of the box per item."""
        S = self.free.shape[1]
        u = torch.stack(
            [
                torch.rand((S, 3), generator=g, dtype=torch.float64, device=g.device)
                for g in generators
            ]
        ).to(self.device)
        return (2 * u - 1) * self.limit

    def control(self, delta: torch.Tensor) -> torch.Tensor:
        """The fully-sampled moved k-space as a scanner shows it (RSS, crop; no model)."""
        return kspace_to_target(self.moved(delta), tuple(self.target.shape[-2:]))


# --------------------------------------------------------------------------------------------
# the attack: threat model + searches + evaluation
# --------------------------------------------------------------------------------------------
@dataclass
class MotionResult:
    """Result of :func:`motion_attack` for ``N`` items (one per (slice, box)).

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


def _per_slice(value, batch: int, name: str) -> torch.Tensor:
    try:
        t = torch.as_tensor(value, dtype=torch.float64).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise AdvreconError(f"{name} must be a number or one number per slice") from exc
    t = t.expand(batch).clone() if t.numel() == 1 else t
    if t.numel() != batch or not torch.isfinite(t).all() or (t < 0).any():
        raise AdvreconError(
            f"{name} must be finite and >= 0, one number or one per slice ({batch}), got "
            f"{t.tolist()}"
        )
    return t


def _generators(generator, n: int, device) -> list[tuple[torch.Generator, torch.Generator]]:
    """Two generators (start, baseline) per search item, seeded from ``generator``."""
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    if generator is None:
        seeds = torch.randint(0, 2**62, (n, 2))
    else:
        seeds = torch.randint(0, 2**62, (n, 2), generator=generator, device=generator.device)
    seeds = seeds.cpu()
    return [
        tuple(torch.Generator(device=device).manual_seed(int(seeds[i, s])) for s in (0, 1))
        for i in range(n)
    ]


def _check_options(shots, order, centre, coils, objective, steps, step_size, n_random):
    if int(shots) != shots or shots < 2:
        raise AdvreconError(f"shots must be an integer >= 2 (shot 0 is the reference), got {shots}")
    for name, v, allowed in (
        ("order", order, ORDERS), ("centre", centre, CENTRES), ("coils", coils, COILS),
        ("objective", objective, OBJECTIVES),
    ):  # fmt: skip
        if v not in allowed:
            raise AdvreconError(f"{name} must be one of {allowed}, got {v!r}")
    if not step_size > 0:
        raise AdvreconError(f"step_size must be > 0, got {step_size}")
    return int(shots), check_count("steps", steps), check_count("n_random", n_random)


def _search_chunk(
    threat: RigidMotion, gens, search: ProjectedGradient, opts: dict, slices: torch.Tensor
) -> dict:
    """Searches and evaluation of one chunk of search items (``slices``: slice of each item;
    the clean reconstruction is made once per distinct slice)."""
    uniq, inv = torch.unique(slices, return_inverse=True)
    first = torch.zeros(uniq.numel(), dtype=torch.long).scatter_(
        0, inv.flip(0), torch.arange(slices.numel() - 1, -1, -1)
    )  # an item of every distinct slice
    one = threat.take(first.to(threat.device))
    with torch.no_grad():
        clean = one.recon(one.kspace * one.mask, one.mask, one.nlf)[inv.to(threat.device)]
    z0 = threat.draw([g[0] for g in gens]) if opts["random_start"] else threat.limit * 0
    delta, adv, trace, _ = search.run_active(threat, z0, clean)
    t, reg, full, dr = threat.target, threat.regions, threat.full, threat.data_range
    with torch.no_grad():
        metrics = evaluate({"clean": clean, "adv": adv}, t, reg, full, dr)
        control = threat.control(delta)
        metrics.update(evaluate({"control": control}, t, reg, full, dr))
        metrics.update(_random_baseline(threat, gens, opts))
    return dict(delta=delta, adv=adv, clean=clean, control=control, trace=trace, metrics=metrics)


def _random_baseline(threat: RigidMotion, gens: list, opts: dict) -> dict:
    """Mean and worst metrics over ``n_random`` uniform motions (items with every shot free)."""
    n, n_random = len(gens), opts["n_random"]
    out = nan_columns(("rand_mean", "rand_worst"), n, threat.device)
    every = torch.nonzero(threat.free[:, 1:, 0].all(dim=1)).flatten()
    if n_random == 0 or every.numel() == 0:
        return out
    sub = threat.take(every)
    vals: dict[str, list[torch.Tensor]] = {}
    sub_gens = [gens[int(j)][1] for j in every]
    for _, part, img in random_draws(sub, sub_gens, n_random, opts["chunk_size"]):
        a = region_metrics(img, part.target, part.regions, part.data_range)
        b = region_metrics(img, part.target, part.full, part.data_range)
        for key in METRICS:
            vals.setdefault(key, []).append(a[key])
            vals.setdefault(key + "_full", []).append(b[key])
    for k, v in random_summary(vals, every.numel(), n_random).items():
        out[k][every] = v.to(out[k].dtype)
    return out


def motion_attack(
    recon,
    kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies,
    boxes,
    theta_max,
    t_max,
    *,
    shots: int = 4,
    order: str = "interleaved",
    centre: str = "reference",
    coils: str = "move",
    steps: int = 10,
    step_size: float = 0.25,
    objective: str = "mse",
    random_start: bool = True,
    n_random: int = 2,
    single_shot: bool = True,
    padding: Sequence[int] | None = None,
    pad_deg: float | None = None,
    data_range: str = "maxmin",
    generator: torch.Generator | int | None = None,
    chunk_size: int | None = None,
    recon_size: Sequence[int] | None = None,
) -> MotionResult:
    """Worst-case inter-shot rigid motion (module docstring), batched over items.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: FULLY-sampled complex ``(B, C, H, W)``.
        mask: ``(B or 1, 1, 1 or H, W)``; num_low_frequencies: as for the reconstructor.
        boxes: One Box or a list of Boxes per slice (each box one item).
        theta_max: Rotation bound per shot in degrees, a number or ``(B,)``.
        t_max: Translation bound per shot and axis in pixels, a number or ``(B,)``.
        shots, order, centre, coils: The acquisition model (module docstring).
        steps, step_size: Sign-gradient ascent (step relative to the bound).
        objective: ``"mse"`` (default), ``"ssim"`` or ``"mse_ssim"`` in the region.
        random_start: Start the ascent at a uniform point of the box (else at no motion).
        n_random: Uniform random motions of the baseline (0: NaN columns).
        single_shot: Also search the worst motion of one shot at a time.
        padding: Acquired columns ``(left, right)``; pad_deg: Fourier-rotation padding angle
            (default: the largest ``theta_max``; fix it to compare calls).
        data_range: ``"maxmin"`` or ``"max"``; generator: seed or generator (one derived seed
            per search item: results do not depend on ``chunk_size``).
        chunk_size: Largest number of search items per forward; recon_size: ``(h, w)``.

    Returns:
        :class:`MotionResult` with one item per (slice, box).

    Raises:
        AdvreconError: bad bounds, options, boxes, or more shots than sampled columns.
    """
    check_kspace_mask(kspace, mask)
    shots, steps, n_random = _check_options(
        shots, order, centre, coils, objective, steps, step_size, n_random
    )
    B, dev = kspace.shape[0], kspace.device
    th, tt = _per_slice(theta_max, B, "theta_max"), _per_slice(t_max, B, "t_max")
    size = recon_size_of(recon, recon_size)
    items, index = flatten_boxes(boxes, B)
    shot_of = shot_index(mask, shots, order, centre, num_low_frequencies, padding)
    maps = None
    if coils == "fixed":
        n_low = num_low_frequencies_from_mask(mask, num_low_frequencies).to(dev)
        full_mask = torch.ones((1, 1, 1, kspace.shape[-1]), device=dev)
        maps = acs_sensitivity_maps(kspace, full_mask, n_low.expand(B))
    target = kspace_to_target(kspace, size)
    dr = data_range_of(target, data_range)
    regions = make_regions(items, size, device=dev)
    full = make_regions([Box.full(size)] * len(items), size, device=dev)
    kinds = list(range(shots)) if single_shot else [0]  # 0: every shot free; s: shot s only
    K, N = len(kinds), len(items)
    free = torch.zeros((K, shots, 1), dtype=torch.float64)
    free[0, 1:] = 1.0
    for k in range(1, K):
        free[k, k] = 1.0
    sidx = index.repeat_interleave(K)  # (N K,) slice of every search item
    bound = torch.stack([th, tt, tt], dim=1)[sidx][:, None].to(dev)  # (N K, 1, 3)
    pad = float(th.max()) if pad_deg is None else float(pad_deg)
    search = ProjectedGradient(steps, float(step_size), "l2", objective)
    opts = dict(random_start=bool(random_start), n_random=n_random, chunk_size=chunk_size)
    gens = _generators(generator, N * K, dev)
    parts = []
    with frozen(recon):
        for r in chunk_ranges(N * K, chunk_size):
            js = torch.arange(r.start, r.stop)
            s_of = sidx[js].to(dev)
            threat = RigidMotion(
                recon, kspace[s_of], select_mask(mask, s_of.cpu()),
                select_nlf(num_low_frequencies, s_of.cpu()),
                shot_of if shot_of.shape[0] == 1 else shot_of[s_of],
                None if maps is None else maps[s_of], bound[js.to(dev)],
                free[js % K].to(dev), target[s_of], regions.take((js // K).tolist()),
                full.take((js // K).tolist()), dr[s_of], pad,
            )  # fmt: skip
            parts.append(_search_chunk(threat, gens[r.start : r.stop], search, opts, sidx[js]))
    return _assemble(parts, N, K, index, target, regions, th, tt, dict(
        motion_shots=shots, motion_order=order, motion_centre=centre, motion_coils=coils,
        objective=objective, steps=steps, step_size=float(step_size),
        random_start=bool(random_start), n_random=n_random, data_range_convention=data_range,
    ))  # fmt: skip


def _assemble(parts, N, K, index, target, regions, th, tt, settings) -> MotionResult:
    """Items from the search items (item-major, ``K`` kinds each): worst single shot picked."""
    cat = {k: torch.cat([p[k] for p in parts]) for k in parts[0] if k != "metrics"}
    met = {k: torch.cat([p["metrics"][k] for p in parts]) for k in parts[0]["metrics"]}
    grid = {k: v.reshape(N, K, *v.shape[1:]) for k, v in cat.items()}
    best = grid["trace"].amax(dim=2)  # (N, K) objective of every search's result
    rows = torch.arange(N, device=best.device)
    shot = torch.zeros(N, dtype=torch.long, device=best.device)
    if K > 1:
        shot = 1 + best[:, 1:].argmax(dim=1)
        moves = grid["delta"][rows, shot].flatten(1).abs().amax(1) > 0
        shot = torch.where(moves, shot, torch.zeros_like(shot))  # 0: nothing could move
    metrics = {}
    for key, v in met.items():
        v = v.reshape(N, K)
        if not key.startswith("adv_"):
            metrics[key] = v[:, 0]
            continue
        metrics[key] = v[:, 0]
        single = v[rows, shot] if K > 1 else torch.full_like(v[:, 0], torch.nan)
        metrics["single_" + key[4:]] = single
    idx = index.to(target.device)
    return MotionResult(
        motion=grid["delta"][:, 0], single_motion=grid["delta"][rows, shot],
        single_shot=shot, adversarial=grid["adv"][:, 0],
        single=grid["adv"][rows, shot], clean=grid["clean"][:, 0], target=target[idx],
        control=grid["control"][:, 0], boxes=list(regions.boxes), box_grown=list(regions.grown),
        item_index=index, trace=grid["trace"][:, 0], metrics=metrics, theta_max=th[index],
        t_max=tt[index], settings=settings,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# experiment runner entry (advrecon.attacks.registry)
# --------------------------------------------------------------------------------------------
@dataclass
class MotionUnitScores:
    """Rows of one :func:`motion_attack` call for the units of a batch.

    Items are ``theta_max x box`` (region target: one item per pathology box in ``box_ids``;
    complete-image target: one ``Box.full`` item per bound, re-scored on the unit's box with
    :func:`~advrecon.attacks.objectives.box_metrics`; its random baseline is then only known
    on the whole image, so those region columns are NaN, as for the noise attack).
    """

    result: MotionResult
    thetas: list[float]
    box_ids: list[int | None]
    region: bool
    extra: dict

    def __post_init__(self) -> None:
        self._rows = self.result.to_rows()
        self._img = {
            k: getattr(self.result, k).detach().float().cpu()
            for k in ("target", "clean", "adversarial", "control", "single")
        }

    def row(self, unit) -> tuple[int, dict]:
        """``(item, row)`` of a unit; complete-image items re-scored on ``unit.box``."""
        i = self.thetas.index(unit.budget) * len(self.box_ids)
        i += self.box_ids.index(unit.box_index) if self.region else 0
        row = {**self._rows[i], **self.extra}
        if not self.region:
            t = self._img["target"][i : i + 1]
            pairs = (("clean", "clean"), ("adv", "adversarial"), ("control", "control"),
                     ("single", "single"))  # fmt: skip
            for prefix, key in pairs:
                conv = self.result.settings["data_range_convention"]
                met = box_metrics(self._img[key][i : i + 1], t, [unit.box], conv)
                row.update({f"{prefix}_{m}": float(met[m][0]) for m in METRICS})
            for prefix in ("rand_mean", "rand_worst"):
                row.update({f"{prefix}_{m}": float("nan") for m in METRICS})
        return i, row

    def arrays(self, i: int, unit) -> dict:
        """Target, clean, worst-motion, control and worst single-shot images, box, motion."""
        out = unit_images(self._img, i, unit.box)
        out["single"] = self._img["single"][i]
        out["motion"] = self.result.motion[i].detach().cpu().numpy().astype(np.float32)
        return out

    def curves(self) -> list[dict]:
        """No curves."""
        return []


def run_motion_units(inp: SliceAttack, units, options, rule: str) -> MotionUnitScores:
    """Every bound (and box) of one (model, target, slice) in one :func:`motion_attack`."""
    thetas = sorted({u.budget for u in units})
    region = units[0].target == "region"
    box_ids = sorted({u.box_index for u in units}) if region else [None]
    per_slice = [inp.boxes[b] for b in box_ids] if region else [Box.full(inp.recon_size)]
    t_px = [options.t_max_for(t) / options.pixel_size for t in thetas]
    kspace = inp.kspace[None].expand(len(thetas), *inp.kspace.shape)
    result = motion_attack(
        inp.recon, kspace, inp.mask, inp.num_low_frequencies,
        [list(per_slice) for _ in thetas], thetas, t_px,
        shots=options.shots, order=options.order, centre=options.centre, coils=options.coils,
        steps=options.steps, step_size=options.step_size, objective=options.objective,
        random_start=options.random_start, n_random=options.n_random,
        single_shot=options.single_shot,
        padding=None if inp.padding is None else tuple(inp.padding),
        pad_deg=max(options.theta_max), generator=inp.generator, chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
    )  # fmt: skip
    return MotionUnitScores(result, thetas, box_ids, region, {"motion_units": options.units})


# --------------------------------------------------------------------------------------------
# experiment runner: the config section ``attacks.motion`` and its batches
# --------------------------------------------------------------------------------------------
class MotionAttackConfig(Section):
    """Inter-shot rigid motion (:mod:`advrecon.attacks.motion`).

    Attributes:
        theta_max: Rotation bounds per shot in degrees (the budgets of the results table).
        t_max: Translation bound per shot and axis, one number for every ``theta_max`` or one
            per ``theta_max`` (paired), in ``units``.
        units: ``px`` (default) or ``mm`` (then ``pixel_mm``, the reconstruction pixel size in
            mm, is required: the header's field of view is not read yet).
        shots, order, centre, coils: The acquisition model.
        steps, step_size, objective, random_start: The sign-gradient ascent.
        n_random: Uniform random motions per bound (the baseline).
        single_shot: Also search the worst motion of one shot at a time.
        models: Run on these config models only (``None``: all).
        targets: Run on these of the config's targets only (``None``: all), e.g. ``[region]``
            to keep a demo short.
    """

    theta_max: Budgets
    t_max: list_of(NonNegative, unique=False)
    units: choice(UNITS) = "px"
    pixel_mm: Positive | None = None
    shots: PositiveInt = 4
    order: choice(ORDERS) = "interleaved"
    centre: choice(CENTRES) = "reference"
    coils: choice(COILS) = "move"
    steps: Count = 10
    step_size: Positive = 0.25
    objective: choice(OBJECTIVES) = "mse"
    random_start: StrictBool = True
    n_random: Count = 2
    single_shot: StrictBool = True
    models: list_of(Text) | None = None
    targets: list_of(choice(("region", "image"))) | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MotionAttackConfig:
        if self.shots < 2:
            raise fail(f"must be >= 2 (shot 0 is the still reference), got {self.shots}", "shots")
        if len(self.t_max) not in (1, len(self.theta_max)):
            raise fail(
                f"give one value or one per theta_max ({len(self.theta_max)}), got "
                f"{len(self.t_max)}",
                "t_max",
            )
        if self.units == "mm" and self.pixel_mm is None:
            raise fail("units: mm needs the pixel size in mm", "pixel_mm")
        return self

    @property
    def pixel_size(self) -> float:
        """Size of one pixel in ``units`` (1 for ``px``)."""
        return 1.0 if self.units == "px" else float(self.pixel_mm)

    def t_max_for(self, theta_max: float) -> float:
        """Translation bound (``units``) paired with ``theta_max``."""
        if len(self.t_max) == 1:
            return self.t_max[0]
        return self.t_max[self.theta_max.index(theta_max)]


def motion_batch_groups(
    section: MotionAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per target of a (model, slice), holding every box x ``theta_max``."""
    if not runs_on(section.models, model_name):
        return []
    return [
        BatchGroup(
            f"motion-pgd/{target}",
            tuple(
                UnitSpec("pgd", target, float(th), bi, box)
                for bi, box in boxes[target]
                for th in section.theta_max
            ),
        )
        for target in targets
        if section.targets is None or target in section.targets
    ]
