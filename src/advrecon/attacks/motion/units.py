"""The experiment runner's entry: one :func:`motion_attack` call serving every unit of a batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import ItemScores, slice_items
from advrecon.attacks.motion.attack import motion_attack
from advrecon.attacks.motion.config import MotionAttackConfig
from advrecon.attacks.motion.result import MotionResult

__all__ = ["run_motion_units"]

#: Images of a motion call: the shared ones and the worst single-shot motion's.
_IMAGES = ("target", "clean", "adversarial", "control", "single")

#: Columns re-scored on the unit's box for a complete-image item.
_RESCORED = (("clean", "clean"), ("adv", "adversarial"), ("control", "control"),
             ("single", "single"))  # fmt: skip


def run_motion_units(
    inp: SliceAttack, units: Sequence[Unit], options: MotionAttackConfig, rule: str
) -> ItemScores:
    """Every bound (and box) of one (model, target, slice) in one :func:`motion_attack`.

    Items are ``theta_max x box`` (:func:`~advrecon.attacks.engine.slice_items`; the
    translation bound paired with each ``theta_max``, in pixels). Rows are read by
    :class:`~advrecon.attacks.engine.ItemScores`: a complete-image item is re-scored on the
    unit's box (the worst single-shot image too); its random baseline is then only known on
    the whole image, so those region columns are NaN. Saved arrays: the shared images and box,
    the worst single-shot image (``single``) and the worst motion (``motion``, ``(S, 3)``).
    """
    items = slice_items(inp, units)
    thetas = items.budgets
    t_px = [options.t_max_for(t) / options.pixel_size for t in thetas]
    result = motion_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes, thetas, t_px,
        shots=options.shots, order=options.order, centre=options.centre, coils=options.coils,
        steps=options.steps, step_size=options.step_size, objective=options.objective,
        random_start=options.random_start, n_random=options.n_random,
        single_shot=options.single_shot,
        padding=None if inp.padding is None else tuple(inp.padding),
        pad_deg=max(options.theta_max), generator=inp.generator, chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
    )  # fmt: skip
    return ItemScores(
        items, result.to_rows(), {k: getattr(result, k) for k in _IMAGES},
        data_range=result.settings["data_range_convention"], rescored=_RESCORED,
        extra_row={"motion_units": options.units}, extra_arrays=_motion_arrays(result),
    )  # fmt: skip


def _motion_arrays(result: MotionResult):
    """``(i, unit) -> {"single": (h, w), "motion": (S, 3) float32}`` of item ``i``."""
    single = result.single.detach().float().cpu()

    def arrays(i: int, unit: Unit) -> dict:
        motion = result.motion[i].detach().cpu().numpy().astype(np.float32)
        return {"single": single[i], "motion": motion}

    return arrays
