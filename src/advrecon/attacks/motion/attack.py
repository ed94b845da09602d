"""The motion attack: worst-case, random and worst single-shot motion at the same bounds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from advrecon.attacks._common import check_count, check_kspace_mask
from advrecon.attacks.engine import item_generators, join_parts, per_item, run_chunks
from advrecon.attacks.motion.acquisition import CENTRES, COILS, ORDERS
from advrecon.attacks.motion.result import MotionResult
from advrecon.attacks.motion.searches import SearchItems, search_chunk, search_items
from advrecon.attacks.objectives import OBJECTIVES
from advrecon.attacks.search import ProjectedGradient
from advrecon.errors import AdvreconError

__all__ = ["MotionOptions", "motion_attack"]


#: Why the ascent cannot start at no motion (a still shot's columns are the k-space's own values,
#: which do not depend on the motion parameters: there is no gradient to take the first step).
NO_ZERO_START = (
    "random_start=False is not supported with steps > 0: at no motion the k-space does not "
    "depend on the motion parameters, so the ascent has no gradient to start from (use a "
    "random start)"
)


@dataclass(frozen=True)
class MotionOptions:
    """The settings of one :func:`motion_attack` call.

    Attributes:
        shots, order, centre, coils: The acquisition model
            (:mod:`~advrecon.attacks.motion.acquisition`).
        steps, step_size: Sign-gradient ascent (step relative to the bound).
        objective: ``"mse"`` (default), ``"ssim"`` or ``"mse_ssim"`` in the region.
        random_start: Start the ascent at a uniform point of the box (else at no motion).
        n_random: Uniform random motions of the baseline (0: NaN columns).
        single_shot: Also search the worst motion of one shot at a time.
        data_range: ``"maxmin"`` or ``"max"``.
    """

    shots: int = 4
    order: str = "interleaved"
    centre: str = "reference"
    coils: str = "move"
    steps: int = 10
    step_size: float = 0.25
    objective: str = "mse"
    random_start: bool = True
    n_random: int = 2
    single_shot: bool = True
    data_range: str = "maxmin"

    def check(self) -> MotionOptions:
        """The options with counts as ints; one-line errors for bad ones."""
        if int(self.shots) != self.shots or self.shots < 2:
            raise AdvreconError(
                f"shots must be an integer >= 2 (shot 0 is the reference), got {self.shots}"
            )
        for name, allowed in (
            ("order", ORDERS), ("centre", CENTRES), ("coils", COILS), ("objective", OBJECTIVES),
        ):  # fmt: skip
            if getattr(self, name) not in allowed:
                raise AdvreconError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.step_size > 0:
            raise AdvreconError(f"step_size must be > 0, got {self.step_size}")
        steps, n_random = check_count("steps", self.steps), check_count("n_random", self.n_random)
        if steps and not self.random_start:
            raise AdvreconError(NO_ZERO_START)
        return replace(
            self, shots=int(self.shots), steps=steps, n_random=n_random,
            step_size=float(self.step_size), random_start=bool(self.random_start),
        )  # fmt: skip

    def settings(self) -> dict:
        """The options written into every row."""
        return dict(
            motion_shots=self.shots, motion_order=self.order, motion_centre=self.centre,
            motion_coils=self.coils, objective=self.objective, steps=self.steps,
            step_size=self.step_size, random_start=self.random_start, n_random=self.n_random,
            data_range_convention=self.data_range,
        )  # fmt: skip


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
    """Worst-case inter-shot rigid motion (:mod:`advrecon.attacks.motion`), batched over items.

    Args:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: FULLY-sampled complex ``(B, C, H, W)``.
        mask: ``(B or 1, 1, 1 or H, W)``; num_low_frequencies: as for the reconstructor.
        boxes: One Box or a list of Boxes per slice (each box one item).
        theta_max: Rotation bound per shot in degrees, a number or ``(B,)``.
        t_max: Translation bound per shot and axis in pixels, a number or ``(B,)``.
        shots, order, centre, coils, steps, step_size, objective, random_start, n_random,
            single_shot, data_range: The options (:class:`MotionOptions`).
        padding: Acquired columns ``(left, right)``; pad_deg: Fourier-rotation padding angle
            (default: the largest ``theta_max``; fix it to compare calls).
        generator: Seed or generator (one derived seed per search item: results do not depend
            on ``chunk_size``).
        chunk_size: Largest number of search items per forward; recon_size: ``(h, w)``.

    Returns:
        :class:`MotionResult` with one item per (slice, box).

    Raises:
        AdvreconError: bad bounds, options, boxes, or more shots than sampled columns.
    """
    check_kspace_mask(kspace, mask)
    opts = MotionOptions(shots, order, centre, coils, steps, step_size, objective, random_start,
                         n_random, single_shot, data_range).check()  # fmt: skip
    B = kspace.shape[0]
    th, tt = per_item(theta_max, B, "theta_max"), per_item(t_max, B, "t_max")
    space = search_items(recon, kspace, mask, num_low_frequencies, boxes, th, tt, opts,
                         padding=padding, pad_deg=pad_deg, recon_size=recon_size)  # fmt: skip
    search = ProjectedGradient(opts.steps, opts.step_size, "l2", opts.objective)
    gens = item_generators(generator, space.n, kspace.device)
    parts = run_chunks(
        recon, space.n, chunk_size,
        lambda r: search_chunk(space.threat(r), gens[r.start : r.stop], search, opts, chunk_size,
                               space.sidx[r.start : r.stop]),
    )  # fmt: skip
    return _assemble(join_parts(parts), space, th, tt, opts.settings())


def _assemble(joined: dict, space: SearchItems, th, tt, settings: dict) -> MotionResult:
    """Items from the search items (item-major, ``K`` kinds each): worst single shot picked
    (the single-shot search with the largest objective; shot 0: none could move)."""
    N, K, index = len(space.regions), space.kinds, space.index
    grid = {k: v.reshape(N, K, *v.shape[1:]) for k, v in joined.items() if k != "metrics"}
    best = grid["trace"].amax(dim=2)  # (N, K) objective of every search's result
    rows = torch.arange(N, device=best.device)
    shot = torch.zeros(N, dtype=torch.long, device=best.device)
    if K > 1:
        shot = 1 + best[:, 1:].argmax(dim=1)
        moves = grid["delta"][rows, shot].flatten(1).abs().amax(1) > 0
        shot = torch.where(moves, shot, torch.zeros_like(shot))  # 0: nothing could move
    metrics = {}
    for key, v in joined["metrics"].items():
        v = v.reshape(N, K)
        metrics[key] = v[:, 0]
        if key.startswith("adv_"):
            single = v[rows, shot] if K > 1 else torch.full_like(v[:, 0], torch.nan)
            metrics["single_" + key[4:]] = single
    idx = index.to(space.target.device)
    return MotionResult(
        motion=grid["delta"][:, 0], single_motion=grid["delta"][rows, shot],
        single_shot=shot, adversarial=grid["adv"][:, 0],
        single=grid["adv"][rows, shot], clean=grid["clean"][:, 0], target=space.target[idx],
        control=grid["control"][:, 0], boxes=list(space.regions.boxes),
        box_grown=list(space.regions.grown), item_index=index, trace=grid["trace"][:, 0],
        metrics=metrics, theta_max=th[index], t_max=tt[index], settings=settings,
    )  # fmt: skip
