"""The config section ``attacks.motion`` and how its units group into attack calls."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import StrictBool, model_validator

from advrecon.attacks.contract import BatchGroup
from advrecon.attacks.engine import per_target_groups
from advrecon.attacks.motion.acquisition import CENTRES, COILS, ORDERS
from advrecon.attacks.objectives import OBJECTIVES
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
    fail,
    list_of,
)

__all__ = ["UNITS", "MotionAttackConfig", "motion_batch_groups"]

#: Units of ``t_max``.
UNITS = ("px", "mm")


class MotionAttackConfig(Section):
    """Inter-shot rigid motion (:mod:`advrecon.attacks.motion`).

    Attributes:
        theta_max: Rotation bounds per shot in degrees (the budgets of the results table).
        t_max: Translation bound per shot and axis, one number for every ``theta_max`` or one
            per ``theta_max`` (paired), in ``units``.
        units: ``px`` (default) or ``mm`` (then ``pixel_mm``, the reconstruction pixel size in
            mm, is required: the header's field of view is not read yet).
        shots, order, centre, coils: The acquisition model.
        steps, step_size, objective, random_start: The sign-gradient ascent.
        n_random: Uniform random motions per bound (the baseline).
        single_shot: Also search the worst motion of one shot at a time.
        models: Run on these config models only (``None``: all).
        targets: Run on these of the config's targets only (``None``: all), e.g. ``[region]``
            to keep a demo short.
    """

    theta_max: Budgets
    t_max: list_of(NonNegative, unique=False)
    units: choice(UNITS) = "px"
    pixel_mm: Positive | None = None
    shots: PositiveInt = 4
    order: choice(ORDERS) = "interleaved"
    centre: choice(CENTRES) = "reference"
    coils: choice(COILS) = "move"
    steps: Count = 10
    step_size: Positive = 0.25
    objective: choice(OBJECTIVES) = "mse"
    random_start: StrictBool = True
    n_random: Count = 2
    single_shot: StrictBool = True
    models: list_of(Text) | None = None
    targets: list_of(choice(("region", "image"))) | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MotionAttackConfig:
        if self.shots < 2:
            raise fail(f"must be >= 2 (shot 0 is the still reference), got {self.shots}", "shots")
        if len(self.t_max) not in (1, len(self.theta_max)):
            raise fail(
                f"give one value or one per theta_max ({len(self.theta_max)}), got "
                f"{len(self.t_max)}",
                "t_max",
            )
        if self.units == "mm" and self.pixel_mm is None:
            raise fail("units: mm needs the pixel size in mm", "pixel_mm")
        if self.steps and not self.random_start:
            raise fail(
                "false needs steps: 0 (at no motion the k-space does not depend on the motion, "
                "so the ascent has no gradient to start from)",
                "random_start",
            )
        return self

    @property
    def pixel_size(self) -> float:
        """Size of one pixel in ``units`` (1 for ``px``)."""
        return 1.0 if self.units == "px" else float(self.pixel_mm)

    def t_max_for(self, theta_max: float) -> float:
        """Translation bound (``units``) paired with ``theta_max``."""
        if len(self.t_max) == 1:
            return self.t_max[0]
        return self.t_max[self.theta_max.index(theta_max)]


def motion_batch_groups(
    section: MotionAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per target of a (model, slice), holding every box x ``theta_max``."""
    return per_target_groups(
        "motion",
        "pgd",
        section.theta_max,
        model_name,
        targets,
        boxes,
        section.models,
        section.targets,
    )
