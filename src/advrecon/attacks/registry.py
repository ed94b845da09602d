"""Threat-model registry: attack name -> how to attack one slice and score its table rows.

A *threat model* (one module each: :mod:`.noise`, :mod:`.rotation`) says how a perturbation is
parametrised, its feasible set and projection, how it acts on the acquisition and how the output
returns to the target frame. For the experiment runner each one also provides a
:class:`ThreatModel` entry here: ``run(slice_attack, units, options, rule)`` makes the one attack
call that serves every unit of a batch and returns a :class:`UnitScores` object that knows how
to read each unit's row, arrays and curves from its result (e.g. how a complete-image attack is
scored on a pathology box). The runner's one executor
(:func:`advrecon.experiments.executor.execute_batch`) only looks entries up here.

Each entry also carries its config section (a pydantic model, validated as
``attacks.<name>``) and how its units group into batches (:attr:`ThreatModel.batch_groups`), so
the experiment config and the unit expansion are generic: adding a threat model = one new module
(``run``, section, ``batch_groups``) + one entry in :func:`_entries` or a call of
:func:`register` (see ``docs/threat_models.md``). This module does not import the experiments
package: units are read by attribute (:class:`Unit`), options are the validated config section
of the same name (``config.attacks.<name>``), duck-typed.
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
    "BatchGroup",
    "SliceAttack",
    "ThreatModel",
    "Unit",
    "UnitScores",
    "UnitSpec",
    "box_array",
    "get_threat_model",
    "register",
    "threat_models",
    "unregister",
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
class UnitSpec:
    """What a threat model says about one unit of a batch (the runner adds model and slice)."""

    rule: str
    target: str
    budget: float
    box_index: int
    box: Box


@dataclass(frozen=True)
class BatchGroup:
    """The units of one attack call on one (model, slice).

    Attributes:
        label: Middle part of the batch key (``noise-l2/region``, ``rotation-grid``): the key
            is ``<model@acc>/<label>/<file>/s<slice>``, and it seeds the batch.
        units: The units, in their fixed order.
    """

    label: str
    units: tuple[UnitSpec, ...]


#: ``batch_groups(section, model_name, targets, boxes) -> [BatchGroup]`` with ``boxes`` the
#: ``(box_index, box)`` pairs of each target on the slice (may be empty for ``region``).
BatchGroups = Callable[
    [Any, str, Sequence[str], dict[str, list[tuple[int, Box]]]], list[BatchGroup]
]


@dataclass(frozen=True)
class ThreatModel:
    """A registry entry.

    Attributes:
        name: Attack name in the config (``attacks.<name>``) and the results table (``attack``).
        budget_column: Results column holding the unit's budget (config units).
        run: ``run(slice_attack, units, options, rule) -> UnitScores``: one attack call serving
            every unit of a batch (``options`` = the validated config section).
        section: Pydantic model of the config section ``attacks.<name>`` (frozen, unknown keys
            rejected: build it on :class:`advrecon.config_types.Section`).
        batch_groups: How the units of one (model, slice) group into attack calls (in order);
            groups without units are skipped.
    """

    name: str
    budget_column: str
    run: Callable[[SliceAttack, Sequence[Unit], Any, str], UnitScores]
    section: type
    batch_groups: BatchGroups


def box_array(box: Box) -> np.ndarray:
    """``(4,)`` int32 ``(x, y, width, height)`` of a box, as stored in the unit arrays."""
    return np.asarray(box.as_tuple(), dtype=np.int32)


def unit_images(images: dict[str, Any], i: int, box: Box) -> dict[str, Any]:
    """The arrays every threat model saves for a unit: item ``i``'s images and the unit's box.

    Args:
        images: ``target``, ``clean``, ``adversarial`` and ``control`` stacks ``(N, h, w)``.
        i: Item index.
        box: The unit's box.
    """
    keys = ("target", "clean", "adversarial", "control")
    return {**{k: images[k][i] for k in keys}, "box": box_array(box)}


def _entries() -> dict[str, ThreatModel]:
    from advrecon.attacks import feature, hallucination, motion, noise, rotation

    return {
        "noise": ThreatModel(
            "noise",
            "eta_percent",
            noise.run_noise_units,
            noise.NoiseAttackConfig,
            noise.noise_batch_groups,
        ),
        "rotation": ThreatModel(
            "rotation",
            "theta_max",
            rotation.run_rotation_units,
            rotation.RotationAttackConfig,
            rotation.rotation_batch_groups,
        ),
        "motion": ThreatModel(
            "motion",
            "theta_max",
            motion.run_motion_units,
            motion.MotionAttackConfig,
            motion.motion_batch_groups,
        ),
        "feature": ThreatModel(
            "feature",
            "contrast_percent",
            feature.run_feature_units,
            feature.FeatureAttackConfig,
            feature.feature_batch_groups,
        ),
        "hallucination": ThreatModel(
            "hallucination",
            "eta_percent",
            hallucination.run_hallucination_units,
            hallucination.HallucinationAttackConfig,
            hallucination.hallucination_batch_groups,
        ),
    }


#: name -> threat model, in registration order (the shipped ones filled on first use: their
#: modules import torch-heavy code lazily). Use :func:`threat_models` to read it.
THREAT_MODELS: dict[str, ThreatModel] = {}


def threat_models() -> dict[str, ThreatModel]:
    """Every registered threat model, shipped ones first (batches follow this order)."""
    if not THREAT_MODELS or "noise" not in THREAT_MODELS:
        extra = dict(THREAT_MODELS)
        THREAT_MODELS.clear()
        THREAT_MODELS.update(_entries())
        THREAT_MODELS.update(extra)
    return THREAT_MODELS


def register(model: ThreatModel) -> ThreatModel:
    """Add a threat model; its section is then ``attacks.<name>`` of experiment configs.

    Raises:
        AdvreconError: the name is taken.
    """
    if model.name in threat_models():
        raise AdvreconError(f"threat model {model.name!r} is already registered")
    THREAT_MODELS[model.name] = model
    return model


def unregister(name: str) -> None:
    """Remove a threat model added with :func:`register` (the shipped ones stay)."""
    if name in ("noise", "rotation", "motion", "feature", "hallucination"):
        raise AdvreconError(f"the shipped threat model {name!r} cannot be unregistered")
    threat_models().pop(name, None)


def get_threat_model(name: str) -> ThreatModel:
    """The registered threat model ``name``; one-line error naming the known ones."""
    threat_models()
    if name not in THREAT_MODELS:
        raise AdvreconError(
            f"unknown attack {name!r}: registered threat models are {sorted(THREAT_MODELS)}"
        )
    return THREAT_MODELS[name]
