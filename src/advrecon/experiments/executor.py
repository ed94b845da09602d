"""The one batch executor: a unit batch -> one attack call -> one row per unit.

:func:`execute_batch` looks the batch's attack up in the threat-model registry
(:mod:`advrecon.attacks.registry`), runs it once on the slice and reads every unit's row, arrays
and curves from the threat model's :class:`~advrecon.attacks.contract.UnitScores`. Everything
specific to a threat model (how a complete-image attack is scored on a pathology box, which
items one call serves) lives in the threat model's module; here only what is common: the
attack row's item box becomes the region columns (:data:`RENAME`; which attack fields are not
written at all is the results schema's business, :mod:`advrecon.experiments.schema`); the
unit's budget is its key column ``budget``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from advrecon.attacks.contract import SliceAttack
from advrecon.attacks.registry import get_threat_model
from advrecon.experiments.executor_types import BatchContext, BatchOutput

if TYPE_CHECKING:
    from advrecon.experiments.units import UnitBatch

__all__ = ["RENAME", "execute_batch", "unit_row"]

#: The attack's item box (the region actually used) -> region columns; the unit's own box is in
#: the key columns.
RENAME = {
    "box_x": "region_x",
    "box_y": "region_y",
    "box_w": "region_width",
    "box_h": "region_height",
    "box_grown": "region_grown",
}


def unit_row(row: dict[str, Any]) -> dict[str, Any]:
    """An attack row as a unit row (:data:`RENAME` applied)."""
    return {RENAME.get(k, k): v for k, v in row.items()}


def _slice_attack(batch: UnitBatch, ctx: BatchContext) -> SliceAttack:
    """The batch's slice as a threat model's input (k-space and mask moved to the device)."""
    sample = ctx.sample
    padding = getattr(sample, "padding", None)
    return SliceAttack(
        recon=ctx.model,
        kspace=sample.kspace.to(ctx.device),
        mask=ctx.mask.to(ctx.device),
        num_low_frequencies=ctx.num_low_frequencies,
        boxes=list(batch.ref.boxes),
        padding=None if padding is None else (int(padding[0]), int(padding[1])),
        recon_size=tuple(sample.recon_size),
        generator=ctx.generator,
        chunk_size=ctx.chunk_size,
    )


def execute_batch(batch: UnitBatch, ctx: BatchContext) -> BatchOutput:
    """Default executor: one call of the batch's threat model serves every unit.

    Returns:
        :class:`~advrecon.experiments.executor_types.BatchOutput` with one row and one array
        set per unit and the threat model's curve rows (keyed by model, acceleration, file,
        slice).
    """
    threat = get_threat_model(batch.kind)
    inp = _slice_attack(batch, ctx)
    scores = threat.run(inp, batch.units, getattr(ctx.config.attacks, threat.name), batch.rule)
    out = BatchOutput(rows={})
    for u in batch.units:
        i, row = scores.row(u)
        out.rows[u.id] = unit_row(row)  # the budget is the key column ``budget``
        out.arrays[u.id] = scores.arrays(i, u)
    for c in scores.curves():
        key = {"model": batch.model.name, "acceleration": batch.model.acceleration}
        key.update(target=c["target"], file=batch.ref.file, slice=batch.ref.slice)
        out.curves.append({**key, **{k: v for k, v in c.items() if k != "target"}})
    return out
