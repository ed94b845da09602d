"""The experiment runner's entry: one :func:`noise_attack` call per batch of units.

A batch holds every budget ``eta`` (and box) of one (model, rule, target, slice)
(:func:`~advrecon.attacks.noise.config.noise_batch_groups`). Its items are ``eta x box``
(:func:`~advrecon.attacks.engine.slice_items`): the region target has one item per pathology
box; the complete-image target one ``Box.full`` item per ``eta``, whose images are re-scored on
the unit's box (:class:`~advrecon.attacks.engine.ItemScores`); its random-noise baseline is only
known on the whole image, so those region columns are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import IMAGE_KEYS, ItemScores, SliceItems, slice_items
from advrecon.attacks.noise.attack import noise_attack
from advrecon.attacks.noise.config import ETA_SCALE, TIGHT_RULE, NoiseAttackConfig
from advrecon.attacks.noise.result import NoiseAttackResult

__all__ = ["run_noise_units"]


def _check_order(result: NoiseAttackResult, items: SliceItems) -> None:
    """The result's items are budget-major, as :meth:`SliceItems.index` reads them."""
    nb, B = len(items.box_ids), len(items.budgets)
    order = [int(i) for i in result.item_index]
    if len(result.boxes) != B * nb or order != [j for j in range(B) for _ in range(nb)]:
        raise RuntimeError("noise_attack returned items in an unexpected order")


def run_noise_units(
    inp: SliceAttack, units: Sequence[Unit], options: NoiseAttackConfig, rule: str
) -> ItemScores:
    """All budgets (and boxes) of one (model, rule, target, slice) in one :func:`noise_attack`.

    Args:
        inp: The slice and its machinery.
        units: The batch's units (one target).
        options: The config's ``noise`` section (budgets in percent, :data:`ETA_SCALE`).
        rule: ``l2``, ``reference`` or the tightness check's ``tight`` (``l2`` at its cost).

    Returns:
        The rows and arrays of the units.
    """
    items = slice_items(inp, units)
    result = noise_attack(
        inp.recon,
        items.kspace,
        inp.mask,
        inp.num_low_frequencies,
        items.boxes,
        torch.tensor([e * ETA_SCALE for e in items.budgets], dtype=torch.float64),
        steps=options.steps_for(rule),
        step_size=options.step_size,
        random_start=options.random_start,
        objective=options.objective,
        rule="l2" if rule == TIGHT_RULE else rule,
        search=options.search_for(rule),
        restarts=options.restarts,
        apgd_step=options.apgd_step_for(rule),
        converge=options.converge_for(rule),
        padding=None if inp.padding is None else tuple(inp.padding),
        measured_only=options.measured_only,
        n_random=options.n_random,
        generator=inp.generator,
        chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
    )
    _check_order(result, items)
    images = {k: getattr(result, k) for k in IMAGE_KEYS}
    return ItemScores(items, result.to_rows(), images, result.data_range_convention)
