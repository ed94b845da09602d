"""The experiment runner's entry: one :func:`snr_attack` call serving every unit of a batch."""

from __future__ import annotations

from collections.abc import Sequence

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import IMAGE_KEYS, ItemScores, slice_items
from advrecon.attacks.snr.attack import snr_attack
from advrecon.attacks.snr.config import SnrAttackConfig

__all__ = ["run_snr_units"]


def run_snr_units(
    inp: SliceAttack, units: Sequence[Unit], options: SnrAttackConfig, rule: str
) -> ItemScores:
    """Every budget ``m`` (and box) of one (model, target, slice) in one :func:`snr_attack`.

    Items are ``m x box`` (:func:`~advrecon.attacks.engine.slice_items`, budget-major). Every
    budget of a box scales the same ``n_draws`` noise realisations (``draw_keys`` = the box):
    common random numbers, so the curve over ``m`` is not blurred by new draws at each budget.
    Rows are read by :class:`~advrecon.attacks.engine.ItemScores`: a complete-image item (the
    worst draw chosen by whole-image SSIM) is re-scored on each unit's box; its random summary
    is then only known on the whole image, so those region columns are NaN.
    """
    items = slice_items(inp, units)
    k = len(items.box_ids)
    result = snr_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes, items.budgets,
        n_draws=options.n_draws, measured_only=options.measured_only,
        padding=None if inp.padding is None else tuple(inp.padding), generator=inp.generator,
        draw_keys=[i % k for i in range(k * len(items.budgets))], chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
    )  # fmt: skip
    images = {key: getattr(result, key) for key in IMAGE_KEYS}
    return ItemScores(items, result.to_rows(), images, result.data_range_convention)
