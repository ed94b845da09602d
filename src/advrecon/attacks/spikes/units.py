"""The experiment runner's entry: one :func:`spikes_attack` call serving every unit of a batch."""

from __future__ import annotations

from collections.abc import Sequence

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import IMAGE_KEYS, ItemScores, slice_items
from advrecon.attacks.spikes.attack import spikes_attack
from advrecon.attacks.spikes.config import AMPLITUDE_SCALE, SpikesAttackConfig
from advrecon.attacks.spikes.result import SpikesResult

__all__ = ["run_spikes_units"]


def run_spikes_units(
    inp: SliceAttack, units: Sequence[Unit], options: SpikesAttackConfig, rule: str
) -> ItemScores:
    """Every amplitude (and box) of one (model, target, slice) in one :func:`spikes_attack`.

    Items are ``amplitude x box`` (:func:`~advrecon.attacks.engine.slice_items`). Rows are read
    by :class:`~advrecon.attacks.engine.ItemScores`: a complete-image item is re-scored on the
    unit's box; its random baseline is then only known on the whole image, so those region
    columns are NaN. Saved arrays: the shared images and box, and ``spikes`` ``(count, 3)``
    ``(dy, dx, amplitude %)`` per spike, strongest first.
    """
    items = slice_items(inp, units)
    result = spikes_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes,
        [a * AMPLITUDE_SCALE for a in items.budgets], count=options.count,
        refine_steps=options.refine_steps, step_size=options.step_size,
        objective=options.objective, n_random=options.n_random,
        padding=None if inp.padding is None else tuple(inp.padding), generator=inp.generator,
        chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    images = {k: getattr(result, k) for k in IMAGE_KEYS}
    return ItemScores(
        items, result.to_rows(), images, data_range=result.settings["data_range_convention"],
        extra_arrays=_spike_arrays(result),
    )  # fmt: skip


def _spike_arrays(result: SpikesResult):
    """``(i, unit) -> {"spikes": (count, 3) float32}`` of item ``i``."""
    table = result.table.detach().cpu().numpy()

    def arrays(i: int, unit: Unit) -> dict:
        return {"spikes": table[i]}

    return arrays
