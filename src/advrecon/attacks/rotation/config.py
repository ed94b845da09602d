"""The config section ``attacks.rotation`` and how its units group into angle sweeps."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import StrictBool, model_validator

from advrecon.attacks.contract import BatchGroup, UnitSpec
from advrecon.attacks.geometry import INTERPOLATIONS
from advrecon.attacks.objectives import SELECT_BY
from advrecon.attacks.rotation.grid import GRIDS, MAX_ANGLES
from advrecon.attacks.rotation.threat import COILS
from advrecon.boxes import Box
from advrecon.config_types import Budgets, Count, Positive, Section, choice, fail

__all__ = ["FIXED_RULE", "RotationAttackConfig", "rotation_batch_groups"]

#: Rule (unit ids, ``rule`` column) of the fixed-coil sweep; the paper's sweep is ``grid``.
FIXED_RULE = "fixed-coils"


class RotationAttackConfig(Section):
    """Adversarial rotation: grid search over ``[-theta_max, theta_max]``.

    Attributes:
        theta_max: Largest angles in degrees.
        step: Grid step in degrees.
        interpolation: ``paper`` (the paper's) or ``fourier``.
        select_by: Metric that picks the worst angle (``mse`` or ``ssim``).
        n_random: Random angles per ``theta_max`` as a baseline.
        grid: ``inclusive`` (default; the paper's text: ``-theta_max ... theta_max`` with both
            ends) or ``exclusive`` (the authors' code: ``arange(-theta_max, theta_max,
            step)[1:]``, both ends excluded); see :func:`advrecon.attacks.rotation.angle_grid`.
        identity_at_zero: ``paper`` interpolation: make angle 0 the exact identity (default
            false: resample at angle 0 as the authors' pipeline does).
        coils: ``rotate`` (default; the paper: the coil images turn) or ``fixed``: also the
            anatomy turning inside coils fixed in place (maps from the ACS band of the
            fully-sampled data, see ``docs/threat_models.md``), a second sweep (rule
            ``fixed-coils``) beside the paper's (rule ``grid``) so the report compares them.
            Left out of the config hash when default.
    """

    theta_max: Budgets
    step: Positive = 0.1
    interpolation: choice(INTERPOLATIONS) = "paper"
    select_by: choice(SELECT_BY) = "mse"
    n_random: Count = 1
    grid: choice(GRIDS) = "inclusive"
    identity_at_zero: StrictBool = False
    coils: choice(COILS) = "rotate"

    @classmethod
    def dump_view(cls, section: dict) -> dict:
        """The section's plain form: ``coils: rotate`` (the default, the paper's) is left out,
        so configs from before the key dump and hash alike."""
        return {k: v for k, v in section.items() if not (k == "coils" and v == "rotate")}

    @model_validator(mode="after")
    def _grid_size(self) -> RotationAttackConfig:
        """The angle grid over ``+-max(theta_max)`` holds at most the attack's ``MAX_ANGLES``."""
        top, step = max(self.theta_max), self.step
        n = 2 * int(math.floor(min(top / step, 1e18) + 1e-9)) + 1  # multiples of step in window
        if n > MAX_ANGLES:
            raise fail(
                f"a {step:g} deg grid over +-{top:g} deg has {n} angles, more than the maximum "
                f"of {MAX_ANGLES}; use a larger step",
                "step",
            )
        return self


def rotation_batch_groups(
    section: RotationAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One angle sweep per (model, slice) covering every target, box and ``theta_max``; with
    ``coils: fixed`` a second one with the anatomy turning inside fixed coils (rule
    ``fixed-coils``), beside the paper's (rule ``grid``) for the comparison in the report."""
    rules = ["grid"] + ([FIXED_RULE] if section.coils == "fixed" else [])
    return [
        BatchGroup(
            f"rotation-{rule}",
            tuple(
                UnitSpec(rule, target, float(th), bi, box)
                for target in targets
                for bi, box in boxes[target]
                for th in section.theta_max
            ),
        )
        for rule in rules
    ]
