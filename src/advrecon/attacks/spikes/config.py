"""The config section ``attacks.spikes`` and how its units group into attack calls.

Budgets ``amplitude`` are in percent of the slice's ``max|k|`` (:data:`AMPLITUDE_SCALE`
converts to the fraction :func:`~advrecon.attacks.spikes.spikes_attack` takes); ``count`` is the
largest number of spikes at every budget. One batch per target of a (model, slice) holds every
box x amplitude.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from pydantic import model_validator

from advrecon.attacks.contract import BatchGroup
from advrecon.attacks.engine import per_target_groups
from advrecon.attacks.objectives import OBJECTIVES
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    ConfigWarning,
    Count,
    Positive,
    Section,
    Text,
    choice,
    fail,
    list_of,
)

__all__ = ["AMPLITUDE_SCALE", "AMPLITUDE_WARN_PERCENT", "RULE", "SpikesAttackConfig",
           "spikes_batch_groups"]  # fmt: skip

#: ``amplitude`` in the config is in percent of ``max|k|``; the attack takes a fraction.
AMPLITUDE_SCALE = 0.01
#: Amplitudes above this many percent of ``max|k|`` are allowed but warned about.
AMPLITUDE_WARN_PERCENT = 100.0
#: The rule of every spike unit (the search).
RULE = "greedy"


class SpikesAttackConfig(Section):
    """k-space spikes (:mod:`advrecon.attacks.spikes`).

    Attributes:
        amplitude: Bounds on every spike value per coil, percent of the slice's ``max|k|``
            (the budgets of the results table).
        count: Largest number of spikes (k-space positions, every coil) at every amplitude;
            >= 1 when an amplitude is > 0.
        refine_steps: Projected steps on the chosen spikes' values after the greedy placement
            (0: greedy only). Cost per item: ``count + refine_steps`` forward+backward passes.
        step_size: Refinement step, relative to the amplitude bound.
        objective: ``mse`` (default), ``ssim`` or ``mse_ssim`` in the region.
        n_random: Random-spike draws of the baseline (same count and amplitude, random
            acquired positions and phases).
        models: Run on these config models only (``None``: all).
        targets: Run on these of the config's targets only (``None``: all).
    """

    amplitude: Budgets
    count: Count = 3
    refine_steps: Count = 3
    step_size: Positive = 0.5
    objective: choice(OBJECTIVES) = "mse"
    n_random: Count = 4
    models: list_of(Text) | None = None
    targets: list_of(choice(("region", "image"))) | None = None

    @model_validator(mode="after")
    def _spikes_to_place(self) -> SpikesAttackConfig:
        """A positive amplitude needs at least one spike; huge amplitudes are warned about."""
        if self.count < 1 and any(a > 0 for a in self.amplitude):
            raise fail(f"must be >= 1 when an amplitude is > 0, got {self.count}", "count")
        for i, a in enumerate(self.amplitude):
            if a > AMPLITUDE_WARN_PERCENT:
                warnings.warn(
                    f"attacks.spikes.amplitude[{i}]: {a:g} % is above "
                    f"{AMPLITUDE_WARN_PERCENT:g} % of max|k| (amplitude is in percent)",
                    ConfigWarning,
                    stacklevel=2,
                )
        return self


def spikes_batch_groups(
    section: SpikesAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per target of a (model, slice), holding every box x amplitude."""
    return per_target_groups(
        "spikes",
        RULE,
        section.amplitude,
        model_name,
        targets,
        boxes,
        section.models,
        section.targets,
    )
