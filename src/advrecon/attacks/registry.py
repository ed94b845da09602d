"""Threat-model registry: attack name -> how to attack one slice and score its table rows.

A *threat model* (one module each: :mod:`.noise`, :mod:`.rotation`) says how a perturbation is
parametrised, its feasible set and projection, how it acts on the acquisition and how the output
returns to the target frame. For the experiment runner each one also provides a
:class:`ThreatModel` entry here: ``run(slice_attack, units, options, rule)`` makes the one attack
call that serves every unit of a batch and returns a :class:`UnitScores` object that knows how
to read each unit's row, arrays and curves from its result (e.g. how a complete-image attack is
scored on a pathology box). The runner's one executor
(:func:`advrecon.experiments.executor.execute_batch`) only looks entries up here.

Adding a threat model = one new module with its ``run`` function + one entry in
:data:`THREAT_MODELS` (see ``docs/threat_models.md``). This module does not import the
experiments package: units are read by attribute (:class:`Unit`), options are the config
section of the same name (``config.<name>``), duck-typed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from advrecon.boxes import Box
from advrecon.errors import AdvreconError

__all__ = [
    "THREAT_MODELS",
    "SliceAttack",
    "ThreatModel",
    "Unit",
    "UnitScores",
    "box_array",
    "get_threat_model",
]


class Unit(Protocol):
    """What a threat model reads of one results-table unit."""

    target: str  # "region" or "image"
    budget: float  # in the config's units (eta in percent, theta_max in degrees)
    box_index: int  # index into the slice's boxes, -1 for the complete image
    box: Box  # the box the row is scored on


@dataclass(frozen=True)
class SliceAttack:
    """One slice and the machinery to attack it (the input of every ``ThreatModel.run``).

    Attributes:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: Fully-sampled complex k-space of the slice ``(C, H, W)``, on the device.
        mask: ``(1, 1, 1, W)`` undersampling mask, on the device.
        num_low_frequencies: Of the mask.
        boxes: The slice's pathology boxes (``unit.box_index`` indexes them).
        padding: Acquired columns ``(left, right)`` or ``None`` (all).
        recon_size: ``(h, w)``.
        generator: Random generator of the batch.
        chunk_size: Largest batch per forward (``None``: all at once).
    """

    recon: Any
    kspace: torch.Tensor
    mask: torch.Tensor
    num_low_frequencies: Any
    boxes: Sequence[Box]
    padding: tuple[int, int] | None
    recon_size: tuple[int, int]
    generator: torch.Generator
    chunk_size: int | None


class UnitScores(Protocol):
    """A threat model's batch result, read unit by unit."""

    def row(self, unit: Unit) -> tuple[int, dict[str, Any]]:
        """``(item index, the unit's attack row)`` (attack columns, before the runner's renames)."""
        ...

    def arrays(self, i: int, unit: Unit) -> dict[str, Any]:
        """Arrays of item ``i`` for the qualitative panels (target, clean, adversarial, ...)."""
        ...

    def curves(self) -> list[dict[str, Any]]:
        """Per-budget-point curve rows (``target``, ``box_index``, ``angle``, metrics) or []."""
        ...


@dataclass(frozen=True)
class ThreatModel:
    """A registry entry.

    Attributes:
        name: Attack name in the config and the results table (``attack`` column).
        budget_column: Results column holding the unit's budget (config units).
        run: ``run(slice_attack, units, options, rule) -> UnitScores``: one attack call serving
            every unit of a batch (``options`` = the config section ``config.<name>``).
    """

    name: str
    budget_column: str
    run: Callable[[SliceAttack, Sequence[Unit], Any, str], UnitScores]


def box_array(box: Box) -> np.ndarray:
    """``(4,)`` int32 ``(x, y, width, height)`` of a box, as stored in the unit arrays."""
    return np.asarray(box.as_tuple(), dtype=np.int32)


def _entries() -> dict[str, ThreatModel]:
    from advrecon.attacks.noise import run_noise_units
    from advrecon.attacks.rotation import run_rotation_units

    return {
        "noise": ThreatModel("noise", "eta_percent", run_noise_units),
        "rotation": ThreatModel("rotation", "theta_max", run_rotation_units),
    }


#: name -> threat model (filled on first use; modules import torch-heavy code lazily).
THREAT_MODELS: dict[str, ThreatModel] = {}


def get_threat_model(name: str) -> ThreatModel:
    """The registered threat model ``name``; one-line error naming the known ones."""
    if not THREAT_MODELS:
        THREAT_MODELS.update(_entries())
    if name not in THREAT_MODELS:
        raise AdvreconError(
            f"unknown attack {name!r}: registered threat models are {sorted(THREAT_MODELS)}"
        )
    return THREAT_MODELS[name]
