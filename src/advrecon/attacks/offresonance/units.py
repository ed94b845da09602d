"""The experiment runner's entry: one :func:`offresonance_attack` call serving a batch's units."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import ItemScores, slice_items
from advrecon.attacks.offresonance.attack import offresonance_attack
from advrecon.attacks.offresonance.config import OffResonanceAttackConfig
from advrecon.attacks.offresonance.result import OffResonanceResult

__all__ = ["run_offresonance_units"]

#: Images of an off-resonance call (the shared ones).
_IMAGES = ("target", "clean", "adversarial", "control")


def run_offresonance_units(
    inp: SliceAttack, units: Sequence[Unit], options: OffResonanceAttackConfig, rule: str
) -> ItemScores:
    """Every bound (and box) of one (model, target, slice) in one :func:`offresonance_attack`.

    Items are ``max_hz x box`` (:func:`~advrecon.attacks.engine.slice_items`). Rows are read by
    :class:`~advrecon.attacks.engine.ItemScores`: a complete-image item is re-scored on the
    unit's box; its random baseline is then only known on the whole image, so those region
    columns are NaN. Saved arrays: the shared images and box, and the worst field map's
    Legendre coefficients (``offres_coeffs``, ``(K,)`` Hz; the basis is
    :func:`~advrecon.attacks.offresonance.fieldmap.basis` of the k-space grid and ``degree``).
    """
    items = slice_items(inp, units)
    result = offresonance_attack(
        inp.recon, items.kspace, inp.mask, inp.num_low_frequencies, items.boxes, items.budgets,
        bandwidth_hz_per_pixel=options.bandwidth_hz_per_pixel, degree=options.degree,
        segments=options.segments, interpolator=options.interpolator, steps=options.steps,
        step_size=options.step_size, objective=options.objective, n_random=options.n_random,
        padding=None if inp.padding is None else tuple(inp.padding), generator=inp.generator,
        chunk_size=inp.chunk_size, recon_size=inp.recon_size,
    )  # fmt: skip
    return ItemScores(
        items, result.to_rows(), {k: getattr(result, k) for k in _IMAGES},
        data_range=result.settings["data_range_convention"], extra_arrays=_arrays(result),
    )  # fmt: skip


def _arrays(result: OffResonanceResult):
    """``(i, unit) -> {"offres_coeffs": (K,) float32}`` of item ``i``."""
    coeffs = result.coeffs.detach().cpu().numpy().astype(np.float32)

    def arrays(i: int, unit: Unit) -> dict:
        return {"offres_coeffs": coeffs[i]}

    return arrays
