"""The config section ``attacks.feature`` and how its units group into attack calls."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from advrecon.attacks._common import runs_on
from advrecon.attacks.contract import BatchGroup, UnitSpec
from advrecon.attacks.feature.shapes import check_fits
from advrecon.attacks.feature.threat import POLARITY
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    Count,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    list_of,
)
from advrecon.errors import AdvreconError, ConfigError

__all__ = ["CONTRAST_SCALE", "FeatureAttackConfig", "boxes_that_fit", "feature_batch_groups"]

#: The config's contrast is in percent of the mean target intensity in the box.
CONTRAST_SCALE = 0.01


class FeatureAttackConfig(Section):
    """Missing features: a small feature in the box, shaped to be reconstructed worst.

    Attributes:
        contrast: Amplitude bounds in percent of the mean target intensity in the box (the
            budgets; 0 = no feature).
        size: Feature diameter (disc) / side (square) in pixels; must fit inside every box.
        shape: ``disc`` or ``square``. polarity: ``bright`` or ``dark``.
        min_fill: Least fraction of the uniform feature's mass the optimised one keeps.
        steps, step_size: Signed-gradient search. n_random: random positions of the baseline.
        models: Run on these models only (``None``: every model).
        too_small: A box smaller than the feature is a config ``error`` or ``skip``-ped.
    """

    contrast: Budgets
    size: PositiveInt = 5
    shape: choice(("disc", "square")) = "disc"
    polarity: choice(tuple(POLARITY)) = "bright"
    min_fill: float = Field(0.5, ge=0.0, le=1.0, strict=True)
    steps: Count = 10
    step_size: Positive = 0.25
    n_random: Count = 2
    models: list_of(Text) | None = None
    too_small: choice(("error", "skip")) = "error"


def boxes_that_fit(section, boxes: Sequence[tuple[int, Box]], name: str) -> list:
    """The ``(index, box)`` pairs a ``section.size`` feature fits in.

    A smaller box is a config error naming ``attacks.<name>.size`` (before anything is run or
    written), unless ``section.too_small == "skip"``: then the box gets no unit of this attack.

    Raises:
        ConfigError: a box too small for the feature (and ``too_small == "error"``).
    """
    kept = []
    for bi, box in boxes:
        try:
            check_fits(section.size, box, key=f"attacks.{name}.size")
        except AdvreconError as exc:
            if section.too_small == "skip":
                continue
            raise ConfigError(f"{exc} (or set attacks.{name}.too_small: skip)") from None
        kept.append((bi, box))
    return kept


def feature_batch_groups(
    section: FeatureAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per (model, slice): every box x contrast; region target only (a feature in
    the box); a box smaller than the feature is a config error."""
    if "region" not in targets or not runs_on(section.models, model_name):
        return []
    units = tuple(
        UnitSpec("pgd", "region", float(c), bi, box)
        for bi, box in boxes_that_fit(section, boxes["region"], "feature")
        for c in section.contrast
    )
    return [BatchGroup("feature-pgd/region", units)]
