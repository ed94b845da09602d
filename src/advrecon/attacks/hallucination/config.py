"""The config section ``attacks.hallucination`` and how its units group into attack calls."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import StrictBool

from advrecon.attacks._common import runs_on
from advrecon.attacks.contract import BatchGroup, UnitSpec
from advrecon.attacks.feature.config import boxes_that_fit
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
    list_of,
)

__all__ = ["CONTRAST_SCALE", "HallucinationAttackConfig", "hallucination_batch_groups"]

#: The config's wanted contrast is in percent of the mean target intensity in the box.
CONTRAST_SCALE = 0.01


class HallucinationAttackConfig(Section):
    """Hallucinated features: per-coil k-space noise that draws a feature into the box.

    Attributes:
        eta: Budgets in percent of each coil's k-space norm (as ``attacks.noise.eta``).
        contrast: Wanted feature amplitude, percent of the mean target intensity in the box.
        shape: ``blob`` or ``line``; size: pixels (must fit inside every box).
        mu: Weight of "the rest of the image stays unchanged".
        steps, step_size, random_start: PGD. n_random: random-noise draws of the baseline.
        models: Run on these models only (``None``: every model).
        too_small: A box smaller than the feature is a config ``error`` or ``skip``-ped.
    """

    eta: Budgets
    contrast: Positive = 50.0
    shape: choice(("blob", "line")) = "blob"
    size: PositiveInt = 5
    mu: NonNegative = 1.0
    steps: Count = 10
    step_size: Positive = 0.5
    random_start: StrictBool = True
    n_random: Count = 2
    models: list_of(Text) | None = None
    too_small: choice(("error", "skip")) = "error"


def hallucination_batch_groups(
    section: HallucinationAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per (model, slice): every box x eta; region target only; a box smaller than
    the feature is a config error."""
    if "region" not in targets or not runs_on(section.models, model_name):
        return []
    units = tuple(
        UnitSpec("l2", "region", float(e), bi, box)
        for bi, box in boxes_that_fit(section, boxes["region"], "hallucination")
        for e in section.eta
    )
    return [BatchGroup("hallucination-l2/region", units)]
