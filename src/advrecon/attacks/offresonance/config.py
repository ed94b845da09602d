"""The config section ``attacks.offresonance`` and how its units group into attack calls."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

from pydantic import model_validator

from advrecon.attacks.contract import BatchGroup
from advrecon.attacks.engine import per_target_groups
from advrecon.attacks.objectives import OBJECTIVES
from advrecon.attacks.offresonance.signal import INTERPOLATORS
from advrecon.boxes import Box
from advrecon.config_types import (
    Budgets,
    ConfigWarning,
    Count,
    Positive,
    PositiveInt,
    Section,
    Text,
    choice,
    fail,
    list_of,
)

__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_SEGMENTS",
    "MAX_DEGREE",
    "OffResonanceAttackConfig",
    "accurate_shift_px",
    "offresonance_batch_groups",
]

#: Readout bandwidth per pixel (Hz/pixel) when the config gives none: a typical value of a
#: knee turbo-spin-echo protocol at 1.5-3 T (fastMRI stores no bandwidth in what advrecon
#: reads of the header; set the protocol's value when it is known).
DEFAULT_BANDWIDTH = 200.0

#: Time segments by default: every sample's phase factor within 1.1e-4 of the exact one up to
#: a one-pixel shift (``max|df| = BW``), 1e-3 up to 1.25 px
#: (:func:`~advrecon.attacks.offresonance.signal.interpolation_error`,
#: ``benchmarks/offresonance_accuracy.py``).
DEFAULT_SEGMENTS = 8

#: Highest total degree of the field-map polynomial.
MAX_DEGREE = 4


def accurate_shift_px(segments: int) -> float:
    """Largest ``max|df| / BW`` (pixels) at which ``segments`` LS time segments keep every
    sample's phase factor within 1e-3 of the exact one
    (:func:`~advrecon.attacks.offresonance.signal.interpolation_error`): ``3 (L - 5) / 8``, a
    lower envelope of the measured limits (L = 6: 0.75 px, 7: 1.0, 8: 1.25, 10: 1.875,
    12: 2.625, 16: 4.125; ``benchmarks/offresonance_accuracy.py``)."""
    return 3 * (segments - 5) / 8


class OffResonanceAttackConfig(Section):
    """B0 off-resonance (:mod:`advrecon.attacks.offresonance`).

    Attributes:
        max_hz: Bounds on the field map, ``max |df|`` over the field of view in Hz (the budgets
            of the results table). A bound of ``BW`` Hz shifts by up to one pixel.
        bandwidth_hz_per_pixel: Readout bandwidth per pixel ``BW`` (Hz/pixel,
            :data:`DEFAULT_BANDWIDTH`): a constant ``df`` shifts the image by ``df / BW`` pixels
            along the readout (the rows).
        degree: Total degree of the Legendre field-map polynomial (0: a constant offset,
            2: second-order shim terms; at most :data:`MAX_DEGREE`).
        segments: Time segments ``L`` of the signal model (>= 1, :data:`DEFAULT_SEGMENTS`); a
            ``ConfigWarning`` when a bound exceeds :func:`accurate_shift_px`.
        interpolator: Time-segmentation interpolator: ``ls`` (least squares on ``[-B, B]``,
            the accurate one) or ``hanning``.
        steps, step_size, objective: Signed projected gradient ascent over the coefficients
            (step ``step_size * bound`` Hz per coefficient).
        n_random: Random field maps at the same bound (the baseline).
        models: Run on these config models only (``None``: all).
        targets: Run on these of the config's targets only (``None``: all).
    """

    max_hz: Budgets
    bandwidth_hz_per_pixel: Positive = DEFAULT_BANDWIDTH
    degree: Count = 2
    segments: PositiveInt = DEFAULT_SEGMENTS
    interpolator: choice(INTERPOLATORS) = "ls"
    steps: Count = 10
    step_size: Positive = 0.25
    objective: choice(OBJECTIVES) = "mse"
    n_random: Count = 2
    models: list_of(Text) | None = None
    targets: list_of(choice(("region", "image"))) | None = None

    @model_validator(mode="after")
    def _consistent(self) -> OffResonanceAttackConfig:
        if self.degree > MAX_DEGREE:
            raise fail(f"must be <= {MAX_DEGREE} (a smooth field map), got {self.degree}", "degree")
        shift = max(self.max_hz) / self.bandwidth_hz_per_pixel
        if self.interpolator == "ls" and shift > accurate_shift_px(self.segments):
            warnings.warn(
                f"attacks.offresonance.segments: {self.segments} time segments are accurate to "
                f"1e-3 up to {accurate_shift_px(self.segments):g} px; max_hz / "
                f"bandwidth_hz_per_pixel is {shift:g} px (use segments >= "
                f"{math.ceil(5 + 8 * shift / 3 - 1e-9)})",
                ConfigWarning,
                stacklevel=2,
            )
        return self


def offresonance_batch_groups(
    section: OffResonanceAttackConfig,
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
) -> list[BatchGroup]:
    """One batch per target of a (model, slice), holding every box x ``max_hz``."""
    return per_target_groups(
        "offresonance",
        "pgd",
        section.max_hz,
        model_name,
        targets,
        boxes,
        section.models,
        section.targets,
    )
