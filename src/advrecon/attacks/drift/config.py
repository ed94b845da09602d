"""The config section ``attacks.drift`` and how its units group into attack calls.

Budgets are the magnitude bounds ``gain_percent`` (``||g_i| - 1| <= gain_percent / 100``, the
results table's ``budget``); the phase bound ``phase_deg`` (degrees) is one value for every
budget or one per budget (paired), as motion's ``t_max`` with ``theta_max``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import StrictBool, model_validator

from advrecon.attacks.contract import BatchGroup
from advrecon.attacks.drift.attack import MAX_GAIN_PERCENT, MAX_PHASE_DEG
from advrecon.attacks.engine import per_target_groups
from advrecon.attacks.objectives import OBJECTIVES
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    Count,
    NonNegative,
    Positive,
    Section,
    Text,
    choice,
    fail,
    list_of,
)

__all__ = ["DriftAttackConfig", "drift_batch_groups"]


class DriftAttackConfig(Section):
    """Receiver drift between calibration and scan (:mod:`advrecon.attacks.drift`).

    Attributes:
        gain_percent: Magnitude bounds in percent, ``||g_i| - 1| <= gain_percent / 100`` per
            coil (the budgets of the results table), each ``< 100``.
        phase_deg: Phase bound ``|arg g_i| <= phase_deg`` per coil in degrees (``<= 180``):
            one value, the bound at every ``gain_percent > 0`` (``gain_percent: 0`` stays the
            clean reference: no drift at all), or one value per ``gain_percent``, paired (then
            a non-zero phase at ``gain_percent: 0`` is a phase-only drift in the budget-0 row).
        steps, step_size, objective, random_start: The sign-gradient ascent (step relative to
            each bound; random start: a uniform point of the box).
        n_random: Uniform random drifts per bound (the baseline).
        models: Run on these config models only (``None``: all).
        targets: Run on these of the config's targets only (``None``: all).
    """

    gain_percent: Budgets
    phase_deg: list_of(NonNegative, unique=False)
    steps: Count = 10
    step_size: Positive = 0.25
    objective: choice(OBJECTIVES) = "mse"
    random_start: StrictBool = True
    n_random: Count = 2
    models: list_of(Text) | None = None
    targets: list_of(choice(("region", "image"))) | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DriftAttackConfig:
        for i, g in enumerate(self.gain_percent):
            if g >= MAX_GAIN_PERCENT:
                raise fail(
                    f"must be < {MAX_GAIN_PERCENT:g} (percent; at {MAX_GAIN_PERCENT:g} a coil's "
                    f"gain may reach 0), got {g:g}",
                    f"gain_percent[{i}]",
                )
        for i, p in enumerate(self.phase_deg):
            if p > MAX_PHASE_DEG:
                raise fail(
                    f"must be <= {MAX_PHASE_DEG:g} (degrees; {MAX_PHASE_DEG:g} allows every "
                    f"phase), got {p:g}",
                    f"phase_deg[{i}]",
                )
        if len(self.phase_deg) not in (1, len(self.gain_percent)):
            raise fail(
                f"give one value or one per gain_percent ({len(self.gain_percent)}), got "
                f"{len(self.phase_deg)}",
                "phase_deg",
            )
        return self

    def phase_for(self, gain_percent: float) -> float:
        """Phase bound (degrees) paired with ``gain_percent`` (a single value: 0 at 0)."""
        if len(self.phase_deg) == 1:
            return self.phase_deg[0] if gain_percent > 0 else 0.0
        return self.phase_deg[self.gain_percent.index(gain_percent)]


def drift_batch_groups(
    section: DriftAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per target of a (model, slice), holding every box x ``gain_percent``."""
    return per_target_groups(
        "drift",
        "pgd",
        section.gain_percent,
        model_name,
        targets,
        boxes,
        section.models,
        section.targets,
    )
