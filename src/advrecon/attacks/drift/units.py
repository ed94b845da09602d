"""The experiment runner's entry: one :func:`drift_attack` call serving every unit of a batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.drift.attack import drift_attack
from advrecon.attacks.drift.config import DriftAttackConfig
from advrecon.attacks.drift.result import DriftResult
from advrecon.attacks.engine import ItemScores, slice_items

__all__ = ["run_drift_units"]

#: Images of a drift call.
_IMAGES = ("target", "clean", "adversarial", "control")


def run_drift_units(
    inp: SliceAttack, units: Sequence[Unit], options: DriftAttackConfig, rule: str
) -> ItemScores:
    """Every gain bound (and box) of one (model, target, slice) in one :func:`drift_attack`.

    Items are ``gain_percent x box`` (:func:`~advrecon.attacks.engine.slice_items`; the phase
    bound paired with each ``gain_percent`` by
    :meth:`~advrecon.attacks.drift.config.DriftAttackConfig.phase_for`). Rows are read by
    :class:`~advrecon.attacks.engine.ItemScores` (a complete-image item re-scored on the unit's
    box). Saved arrays: the shared images and box, and the worst drift (``drift``, ``(C, 2)``:
    ``|g| - 1`` in percent and ``arg g`` in degrees per coil).
    """
    items = slice_items(inp, units)
    result = drift_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes,
        items.budgets, [options.phase_for(g) for g in items.budgets], steps=options.steps,
        step_size=options.step_size, objective=options.objective,
        random_start=options.random_start, n_random=options.n_random, generator=inp.generator,
        chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    return ItemScores(
        items, result.to_rows(), {k: getattr(result, k) for k in _IMAGES},
        data_range=result.settings["data_range_convention"], extra_arrays=_drift_arrays(result),
    )  # fmt: skip


def _drift_arrays(result: DriftResult):
    """``(i, unit) -> {"drift": (C, 2) float32}`` of item ``i``."""
    drift = result.drift.detach().cpu().numpy().astype(np.float32)

    def arrays(i: int, unit: Unit) -> dict:
        return {"drift": drift[i]}

    return arrays
