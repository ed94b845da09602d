"""The experiment runner's entry: every contrast and box of one (model, slice) in one call."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import ItemScores, slice_items
from advrecon.attacks.feature.attack import feature_attack
from advrecon.attacks.feature.config import CONTRAST_SCALE, FeatureAttackConfig
from advrecon.attacks.feature.result import FeatureResult

__all__ = ["feature_scores", "run_feature_units"]


def feature_scores(items, result: FeatureResult) -> ItemScores:
    """The rows of a feature (or hallucination) call on ``items`` (:class:`~advrecon.attacks.
    engine.SliceItems`); each unit's arrays add the feature ``F`` ``(h, w)``."""
    images = dict(
        target=result.target, clean=result.clean, adversarial=result.adversarial,
        control=result.control,
    )  # fmt: skip
    return ItemScores(
        items, result.to_rows(), images,
        extra_arrays=lambda i, unit: {"feature": result.feature[i]},
    )  # fmt: skip


def run_feature_units(
    inp: SliceAttack, units: Sequence[Unit], options: FeatureAttackConfig, rule: str
) -> ItemScores:
    """Every contrast and box of one (model, slice) in one :func:`feature_attack`."""
    items = slice_items(inp, units)
    result = feature_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes,
        torch.tensor([c * CONTRAST_SCALE for c in items.budgets], dtype=torch.float64),
        size=options.size, shape=options.shape, polarity=options.polarity,
        min_fill=options.min_fill, steps=options.steps, step_size=options.step_size,
        n_random=options.n_random, padding=inp.padding, generator=inp.generator,
        chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    return feature_scores(items, result)
