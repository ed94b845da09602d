"""The rotation attack's angle grid: every angle one sweep reconstructs, and each window's share.

Two grids (``grid=``, :func:`angle_grid`):

* ``"inclusive"`` (default) -- what the paper's text says: ``theta`` from ``-theta_max`` to
  ``theta_max``, both ends included (``step * k`` for integers ``k``, plus ``+-theta_max``);
* ``"exclusive"`` -- what the authors' code does: ``arange(-theta_max, theta_max, step)[1:]``,
  i.e. both ends excluded (99 angles -4.9 ... 4.9 for ``theta_max = 5``, ``step = 0.1``).

One grid serves every ``theta_max`` of a call: ``window[t]`` marks the angles of
``theta_max[t]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from advrecon.errors import AdvreconError

__all__ = ["GRIDS", "MAX_ANGLES", "angle_grid"]

#: Most angles one rotation grid may hold (0.01 deg steps over +-500 deg; the paper: 0.1 deg
#: over +-5 deg); a finer or wider grid is an error, not hours of compute and an OOM.
MAX_ANGLES = 100_001

#: Angle grids: both ends of [-theta_max, theta_max] (the paper's text) or neither (the
#: authors' code, ``arange(-theta_max, theta_max, step)[1:]``).
GRIDS = ("inclusive", "exclusive")

_TOL = 1e-9


def _round(v: torch.Tensor) -> torch.Tensor:
    """Angles rounded to 1e-9 degrees, so that equal angles from different sums compare equal."""
    return torch.round(v * 1e9) / 1e9


def _check_grid_args(theta_max, step: float, grid: str) -> list[float]:
    """``theta_max`` as a list of floats; one-line errors for bad maxima, step or grid."""
    try:
        tmaxes = [float(t) for t in theta_max]
    except TypeError:
        tmaxes = [float(theta_max)]  # a single number
    if not tmaxes:
        raise AdvreconError("theta_max must hold at least one angle")
    if any(not math.isfinite(t) or t < 0 for t in tmaxes):
        raise AdvreconError(f"theta_max must be finite and >= 0 degrees, got {tmaxes}")
    if not (math.isfinite(step) and step > 0):
        raise AdvreconError(f"the angle step must be > 0 degrees, got {step}")
    if grid not in GRIDS:
        raise AdvreconError(f"grid must be one of {GRIDS}, got {grid!r}")
    if 2 * math.floor(min(max(tmaxes) / step, 1e18) + 1e-9) + 1 > MAX_ANGLES:
        raise AdvreconError(
            f"theta_max {max(tmaxes)} with step {step} gives more than {MAX_ANGLES} angles; "
            "use a larger step"
        )
    return tmaxes


def _exclusive_angles(theta_max: float, step: float) -> torch.Tensor:
    """The authors' ``arange(-theta_max, theta_max, step)[1:]``, without float end effects.

    ``arange`` holds ``-theta_max + i * step`` for ``i = 0 ... n - 1`` with ``n`` the number of
    ``i`` with ``-theta_max + i * step < theta_max``; ``n`` is counted as
    ``ceil(2 theta_max / step - 1e-9)``, so a quotient that should be an integer but comes out a
    hair above it (float) does not add a spurious ``+theta_max``. ``[1:]`` drops
    ``-theta_max``. When that leaves nothing (``theta_max <= step / 2``, e.g. ``theta_max = 0``),
    the grid is the single angle 0 (no rotation) rather than empty.
    """
    n = math.ceil(2.0 * theta_max / step - _TOL)
    i = torch.arange(1, max(n, 1), dtype=torch.float64)
    angles = _round(-theta_max + i * step)
    return angles if angles.numel() else torch.zeros(1, dtype=torch.float64)


def angle_grid(
    theta_max: Sequence[float], step: float = 0.1, grid: str = "inclusive"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid of angles serving every ``theta_max`` in one sweep.

    ``grid="inclusive"`` (default; the paper's text, "from -theta_max to theta_max"): ``step * k``
    for integers ``k`` within the largest ``theta_max``, plus ``+-theta_max`` for every requested
    value (so that both ends of every window are included even when ``theta_max`` is not a
    multiple of ``step``); ``window[t]`` = the angles with ``|angle| <= theta_max[t]``.

    ``grid="exclusive"`` (the authors' code): for each ``theta_max`` its own
    ``arange(-theta_max, theta_max, step)[1:]`` (both ends excluded; see
    :func:`_exclusive_angles` for the float end effects and ``theta_max <= step / 2``); the grid
    is the union of these plus 0, and ``window[t]`` marks exactly the angles of ``theta_max[t]``.
    When ``theta_max`` is not a multiple of ``step`` those angles are offset from ``step * k``
    (``theta_max = 0.25``, ``step = 0.1``: -0.15, -0.05, 0.05, 0.15), as in the authors' code.
    (The authors round to 2 decimals; here angles are rounded to 1e-9 degrees only.)

    Args:
        theta_max: Maxima in degrees (each >= 0).
        step: Grid step in degrees (> 0).
        grid: ``"inclusive"`` or ``"exclusive"``.

    Returns:
        ``(angles (A,) float64 sorted, always containing 0, window (T, A) bool)``.

    Raises:
        AdvreconError: Bad ``theta_max``, ``step`` or ``grid``.
    """
    tmaxes = _check_grid_args(theta_max, step, grid)
    zero = torch.zeros(1, dtype=torch.float64)
    if grid == "exclusive":
        own = [_exclusive_angles(t, step) for t in tmaxes]
        angles = torch.unique(torch.cat([*own, zero]))  # sorted
        return angles, torch.stack([torch.isin(angles, o) for o in own])
    top = max(tmaxes)
    kmax = int(math.floor(top / step + _TOL))
    base = step * torch.arange(-kmax, kmax + 1, dtype=torch.float64)
    ends = torch.tensor([s * t for t in tmaxes for s in (-1.0, 1.0)], dtype=torch.float64)
    angles = torch.unique(_round(torch.cat([base, ends, zero])))  # sorted
    window = torch.stack([angles.abs() <= t + _TOL for t in tmaxes])
    return angles, window
