"""The experiment runner's entry: every eta and box of one (model, slice) in one call."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import ItemScores, slice_items
from advrecon.attacks.feature.units import feature_scores
from advrecon.attacks.hallucination.attack import hallucination_attack
from advrecon.attacks.hallucination.config import CONTRAST_SCALE, HallucinationAttackConfig
from advrecon.attacks.noise import ETA_SCALE

__all__ = ["run_hallucination_units"]


def run_hallucination_units(
    inp: SliceAttack, units: Sequence[Unit], options: HallucinationAttackConfig, rule: str
) -> ItemScores:
    """Every eta and box of one (model, slice) in one :func:`hallucination_attack`."""
    items = slice_items(inp, units)
    result = hallucination_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes,
        torch.tensor([e * ETA_SCALE for e in items.budgets], dtype=torch.float64),
        contrast=options.contrast * CONTRAST_SCALE, shape=options.shape, size=options.size,
        mu=options.mu, steps=options.steps, step_size=options.step_size,
        random_start=options.random_start, n_random=options.n_random, padding=inp.padding,
        generator=inp.generator, chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    return feature_scores(items, result)
