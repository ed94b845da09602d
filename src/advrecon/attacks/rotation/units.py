"""The experiment runner's entry: one angle sweep serving every unit of a batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from advrecon.attacks.contract import SliceAttack, Unit
from advrecon.attacks.engine import unit_images
from advrecon.attacks.results import METRICS
from advrecon.attacks.rotation.attack import rotation_attack
from advrecon.attacks.rotation.config import FIXED_RULE, RotationAttackConfig
from advrecon.attacks.rotation.result import RotationResult
from advrecon.boxes import Box

__all__ = ["RotationUnitScores", "run_rotation_units"]


@dataclass
class RotationUnitScores:
    """Rows of one angle sweep for the units of a batch (every target, box and ``theta_max``).

    Items of the sweep: every pathology box, plus ``Box.full`` (item ``full_i``) when the
    complete image is a target. Region rows are the attack's rows. Complete-image rows take the
    angle the whole-image item selects and read the unit box's per-angle curves at that angle
    (exact, no second sweep); ``rand_mean``/``rand_median`` are the box's curve averaged over
    the window; their region ``control_*`` columns are NaN (the control is computed at each
    item's own selected angle only). Saved images (adversarial, control) and angle are those
    of the unit's own ``theta_max`` (its window's worst angle).
    """

    result: RotationResult
    thetas: list[float]
    full_i: int | None

    def __post_init__(self) -> None:
        r = self.result
        self._rows = r.to_rows()  # item-major, then theta_max
        self._img = {k: getattr(r, k).detach().float().cpu() for k in ("target", "clean")}
        self._windows = {
            "adversarial": r.window_adversarial.detach().float().cpu(),
            "control": r.window_control.detach().float().cpu(),
        }  # (T, N, h, w) each
        self._curves = {k: v.detach().double().cpu() for k, v in r.per_angle.items()}

    def row(self, unit: Unit) -> tuple[int, dict]:
        """``(item, row)`` of a unit; complete-image rows read the box's curve (see class)."""
        j, T = self.thetas.index(unit.budget), len(self.thetas)
        if unit.target == "region":
            return unit.box_index, dict(self._rows[unit.box_index * T + j])
        i, r = self.full_i, self.result
        row = dict(self._rows[i * T + j])
        b = unit.box_index if unit.box_index >= 0 else i
        sel = int(r.selected_index[i, j])
        win = r.window[j].cpu()
        for m in METRICS:
            c = self._curves[m][b]
            row[f"clean_{m}"] = float(r.metrics[f"clean_{m}"][b, j])  # unrotated
            row[f"adv_{m}"] = float(c[sel])
            row[f"rand_mean_{m}"] = float(c[win].mean())
            row[f"rand_median_{m}"] = float(c[win].median())
            row[f"control_{m}"] = float("nan")  # computed at each item's own angle only
        row["rand_draw_ssim"] = float("nan")
        return i, row

    def arrays(self, i: int, unit: Unit) -> dict:
        """Images of item ``i`` at the worst angle of the unit's ``theta_max`` (``control`` =
        the target rotated and back) and that angle."""
        j = self.thetas.index(unit.budget)
        images = {**self._img, **{k: v[j] for k, v in self._windows.items()}}
        angle = np.float32(self.result.selected_angle[i, j])
        return {**unit_images(images, i, unit.box), "angle_deg": angle}

    def curves(self) -> list[dict]:
        """One row per (item, grid angle): ``target``, ``box_index``, ``angle`` and metrics
        (the paper's sweep only: a fixed-coil sweep's curves would share its curve ids)."""
        out = []
        if self.result.coils == "fixed":
            return out
        angles = self.result.angles.detach().double().cpu().tolist()
        for i in range(len(self.result.boxes)):
            for k, ang in enumerate(angles):
                c = {
                    "target": "image" if i == self.full_i else "region",
                    "box_index": -1 if i == self.full_i else i,
                    "angle": float(ang),
                }
                c.update({m: float(v[i, k]) for m, v in self._curves.items()})
                out.append(c)
        return out


def run_rotation_units(
    inp: SliceAttack, units: Sequence[Unit], options: RotationAttackConfig, rule: str
) -> RotationUnitScores:
    """One :func:`rotation_attack` sweep serving every unit (``options``: ``rotation`` section;
    ``rule``: ``grid``, the coil images turn, or ``fixed-coils``).

    The sweep's items are the slice's boxes (plus ``Box.full`` when the complete image is a
    target), not the ``budget x box`` items of :func:`~advrecon.attacks.engine.slice_items`:
    one sweep serves every ``theta_max``.
    """
    thetas = sorted({u.budget for u in units})
    want_full = any(u.target == "image" for u in units)
    items = list(inp.boxes) + ([Box.full(inp.recon_size)] if want_full else [])
    result = rotation_attack(
        inp.recon,
        inp.kspace[None],
        inp.mask,
        inp.num_low_frequencies,
        [items],
        thetas,
        step=options.step,
        interpolation=options.interpolation,
        select_by=options.select_by,
        n_random=options.n_random,
        generator=inp.generator,
        chunk_size=inp.chunk_size,
        recon_size=inp.recon_size,
        grid=options.grid,
        identity_at_zero=options.identity_at_zero,
        coils="fixed" if rule == FIXED_RULE else "rotate",
    )
    return RotationUnitScores(result, thetas, len(items) - 1 if want_full else None)
