"""The config section ``attacks.snr`` and how its units group into attack calls.

Budgets ``sigma_multiple`` are ``m``: the added noise's RMS per coil over the acquired k-space
samples in units of that coil's thermal noise sigma (the unit of the noise attack's
``noise_to_thermal``). One batch per (target) of a (model, slice) holds every box x budget.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from pydantic import StrictBool, model_validator

from advrecon.attacks.contract import BatchGroup
from advrecon.attacks.engine import per_target_groups
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    ConfigWarning,
    PositiveInt,
    Section,
    Text,
    choice,
    list_of,
)

__all__ = ["RULE", "SIGMA_WARN", "SnrAttackConfig", "snr_batch_groups"]

#: The rule of every unit: random draws, the worst kept (there is no gradient search).
RULE = "random"
#: Budgets above this many thermal sigmas are allowed but warned about (a unit mistake?).
SIGMA_WARN = 100.0


class SnrAttackConfig(Section):
    """An SNR shift: complex Gaussian k-space noise at ``m`` thermal sigmas (random only).

    Attributes:
        sigma_multiple: Budgets ``m`` (noise RMS per coil over the acquired samples / that
            coil's thermal sigma, estimated from the image background). ``m = 1`` doubles the
            noise variance of the acquisition: the SNR falls by ``sqrt(1 + m^2)``.
        n_draws: Noise draws per unit: the worst (lowest region SSIM) is the ``adv_*`` row, the
            mean over the same draws the ``rand_mean_*`` columns.
        measured_only: Noise on the sampled columns only (default: on every acquired column of
            the fully-sampled k-space, as a scanner records it; the model input is the same
            either way, only the RMS's normalisation and the control differ).
        models: Run on these config models only (``None``: all).
        targets: Run on these of the config's targets only (``None``: all).
    """

    sigma_multiple: Budgets
    n_draws: PositiveInt = 4
    measured_only: StrictBool = False
    models: list_of(Text) | None = None
    targets: list_of(choice(("region", "image"))) | None = None

    @model_validator(mode="after")
    def _warn_large_budgets(self) -> SnrAttackConfig:
        """Budgets above :data:`SIGMA_WARN` are valid but usually a unit mistake."""
        for i, m in enumerate(self.sigma_multiple):
            if m > SIGMA_WARN:
                warnings.warn(
                    f"attacks.snr.sigma_multiple[{i}]: {m:g} is above {SIGMA_WARN:g} thermal "
                    "sigmas (the budget is a multiple of the thermal noise, not a percentage)",
                    ConfigWarning,
                    stacklevel=2,
                )
        return self


def snr_batch_groups(
    section: SnrAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per target of a (model, slice), holding every box x ``sigma_multiple``."""
    return per_target_groups(
        "snr",
        RULE,
        section.sigma_multiple,
        model_name,
        targets,
        boxes,
        section.models,
        section.targets,
    )
