"""Work units: one result row each, grouped into batches that share one attack call.

A *work unit* is one (model, acceleration, attack, rule, target, budget, slice, box). Its
``unit_id`` is a readable, sortable string, e.g.
``unet@4x/noise-l2/region/e002.500/file1000001/s0017/b00``; the results table is keyed by it.

A *batch* is the set of units computed by one attack call:

e.g. every budget (and every box of the region target) of one (model, rule, target, slice) in
one gradient attack call, or one angle sweep per (model, slice) covering every target, box and
budget. Each threat model says how its units group (``ThreatModel.batch_groups``,
:mod:`advrecon.attacks.contract`); this module only builds the units and batches from that,
for every configured ``attacks.<name>`` section in registry order.

Batches are ordered model-major, so a process loads one model at a time, and every batch has a
deterministic ``seed`` derived from the config seed and the batch key, so a unit's result does
not depend on which process (rank) computes it or in which order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from advrecon.attacks.contract import BatchGroup
from advrecon.attacks.registry import get_threat_model, threat_models
from advrecon.boxes import Box
from advrecon.experiments.config import ExperimentConfig, ModelConfig
from advrecon.experiments.schema import KEY_COLUMNS

__all__ = [
    "SliceRef",
    "WorkUnit",
    "UnitBatch",
    "expand_units",
    "unit_id",
    "KEY_COLUMNS",
    "REGION_SSIM",
    "CLEAN_SSIM",
    "RANDOM_SSIM",
]

#: Canonical metric columns the report reads (region = the unit's evaluation box).
CLEAN_SSIM = "clean_ssim"
REGION_SSIM = "adv_ssim"
RANDOM_SSIM = "rand_mean_ssim"


@dataclass(frozen=True)
class SliceRef:
    """A selected slice and its boxes (reconstruction frame), without the k-space.

    Attributes:
        file: File stem (``file1000001``).
        slice: Slice index in the volume.
        boxes: The fastMRI+ boxes of the slice (may be empty).
        recon_size: ``(h, w)`` of the reconstruction.
    """

    file: str
    slice: int
    boxes: tuple[Box, ...] = ()
    recon_size: tuple[int, int] = (320, 320)


@dataclass(frozen=True)
class WorkUnit:
    """One row of the results table (see the module docstring)."""

    model: str
    acceleration: int
    attack: str
    rule: str
    target: str
    budget: float
    file: str
    slice: int
    box_index: int
    box: Box

    @property
    def model_key(self) -> str:
        return f"{self.model}@{self.acceleration}x"

    @property
    def id(self) -> str:
        return unit_id(self)

    def key_columns(self) -> dict[str, object]:
        """The identifying columns of the unit's row."""
        return {
            "unit_id": self.id,
            "model": self.model,
            "acceleration": self.acceleration,
            "attack": self.attack,
            "rule": self.rule,
            "target": self.target,
            "budget": self.budget,
            "file": self.file,
            "slice": self.slice,
            "box_index": self.box_index,
            "box_label": self.box.label,
            "box_x": self.box.x,
            "box_y": self.box.y,
            "box_width": self.box.width,
            "box_height": self.box.height,
        }


def unit_id(u: WorkUnit) -> str:
    """Readable, sortable id: ``model@accx/attack-rule/target/LBBB.BBB/file/sSSSS/bNN``.

    ``L`` is the threat model's ``unit_letter`` (``e`` in ``e002.500``).
    """
    letter = get_threat_model(u.attack).unit_letter
    box = "ball" if u.box_index < 0 else f"b{u.box_index:02d}"
    return (
        f"{u.model_key}/{u.attack}-{u.rule}/{u.target}/{letter}{u.budget:07.3f}/"
        f"{u.file}/s{u.slice:04d}/{box}"
    )


@dataclass(frozen=True)
class UnitBatch:
    """Units computed by one attack call.

    Attributes:
        key: Batch id (``unet@4x/noise-l2/region/file1000001/s0017``).
        kind: The threat model (a registered name).
        model: The model config.
        ref: The slice.
        units: The units, in a fixed order.
        seed: Seed of the batch's random generator (depends on config seed and key only).
    """

    key: str
    kind: str
    model: ModelConfig
    ref: SliceRef
    units: tuple[WorkUnit, ...]
    seed: int

    @property
    def rule(self) -> str:
        return self.units[0].rule

    @property
    def target(self) -> str:
        return self.units[0].target

    def budgets(self) -> list[float]:
        """Distinct budgets of the batch, ascending."""
        return sorted({u.budget for u in self.units})


def _batch_seed(seed: int, key: str) -> int:
    return int(hashlib.sha256(f"{seed}/{key}".encode()).hexdigest()[:8], 16)


def _eval_boxes(ref: SliceRef) -> list[tuple[int, Box]]:
    """Boxes a complete-image attack is evaluated on: every box, or the whole image if none."""
    if ref.boxes:
        return list(enumerate(ref.boxes))
    return [(-1, Box.full(ref.recon_size))]


def expand_units(config: ExperimentConfig, refs: Sequence[SliceRef]) -> list[UnitBatch]:
    """All batches of work units of an experiment, in execution order.

    Args:
        config: The experiment.
        refs: The selected slices (with their boxes).

    Returns:
        Batches ordered model-major, then slice, then threat model (registry order), then the
        threat model's own group order.
        Region-target units need a box: slices without boxes only get complete-image units.
    """
    batches: list[UnitBatch] = []
    sections = config.attacks.configured()
    for m in config.models:
        for ref in refs:
            boxes = {"region": list(enumerate(ref.boxes)), "image": _eval_boxes(ref)}
            for name, section in sections.items():
                groups = threat_models()[name].batch_groups(section, m.name, config.targets, boxes)
                for group in groups:
                    if group.units:
                        batches.append(_batch(config.seed, m, ref, name, group))
    return batches


def _batch(
    seed: int, model: ModelConfig, ref: SliceRef, attack: str, group: BatchGroup
) -> UnitBatch:
    """The :class:`UnitBatch` of one threat model's group of units on (model, slice)."""
    key = f"{model.key}/{group.label}/{ref.file}/s{ref.slice:04d}"
    base = dict(model=model.name, acceleration=model.acceleration, file=ref.file, slice=ref.slice)
    units = tuple(
        WorkUnit(
            attack=attack,
            rule=u.rule,
            target=u.target,
            budget=u.budget,
            box_index=u.box_index,
            box=u.box,
            **base,
        )
        for u in group.units
    )
    return UnitBatch(key, attack, model, ref, units, _batch_seed(seed, key))
