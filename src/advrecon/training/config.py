"""The settings of a training run (:class:`TrainConfig`) and their checks.

The tables of valid values live in the modules they belong to (architectures and presets in
:mod:`advrecon.models.presets`, paper center fractions in :mod:`advrecon.masks`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advrecon.errors import ConfigError
from advrecon.experiments.config import parse_device
from advrecon.masks import PAPER_MASKS as DEFAULT_CENTER_FRACTIONS
from advrecon.models.presets import ARCHITECTURES, PRESET_NAMES
from advrecon.training.recipe import RobustRecipe

__all__ = ["TrainConfig", "DEFAULT_CENTER_FRACTIONS", "DEFAULT_LR", "MASK_TYPES"]

#: Mask types of the training recipe (fastMRI trains with these two; the plain ``equispaced``
#: mask of :data:`advrecon.masks.MASK_TYPES` is an evaluation-time option only).
MASK_TYPES = ("random", "equispaced_fraction")
# fastMRI's defaults: VarNetModule lr 3e-4, UnetModule lr 1e-3
DEFAULT_LR = {"varnet": 3e-4, "unet": 1e-3}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on.

    Args:
        arch: ``"unet"`` or ``"varnet"``.
        train_dir: Directory of fastMRI-format multicoil ``.h5`` files.
        out_dir: Where ``best``/``last`` checkpoints and ``train_log.jsonl`` go.
        val_dir: Validation directory; without it no validation runs and ``best`` = ``last``.
        preset: Model size, a key of :data:`advrecon.models.presets.PRESETS` (``demo``,
            ``paper``, ``fastmri``).
        model_overrides: Constructor kwargs that replace the preset's (e.g. tiny test models).
        acceleration: Undersampling factor.
        center_fraction: Fraction of fully-sampled center columns; ``None`` = 0.08 for 4x,
            0.04 for 8x.
        mask_type: ``"random"`` or ``"equispaced_fraction"``.
        epochs: Total number of epochs (a resumed run continues up to this number).
        batch_size: Slices per forward pass and process.
        accumulate: Forward passes per optimizer step (gradient accumulation).
        lr: Adam learning rate; ``None`` = fastMRI's default (VarNet 3e-4, U-Net 1e-3).
        lr_step_size: Epochs between learning-rate decays (``StepLR``).
        lr_gamma: Decay factor.
        weight_decay: Adam weight decay.
        seed: Seed of weights, sampler order and masks.
        resume: ``last.safetensors`` (with its ``last.state.pt``) of an earlier run.
        init: Checkpoint whose weights initialise the network (warm start, e.g. an 8x model
            from the 4x one); optimizer, schedule and epoch start afresh. Same architecture and
            size required.
        max_steps_per_epoch: Cap on optimizer steps per epoch (quick runs); ``None`` = all.
        max_val_slices: Cap on validation slices (the first ones); ``None`` = all.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        num_workers: Data-loader worker processes.
        checkpointing: Activation checkpointing (less memory, ~30% more compute).
        export: Also write the final best checkpoint to this path (e.g. the shipped weights).
        progress: Show a tqdm bar (only on rank 0 and only when stderr is a terminal).
        debug_rank_hashes: Every rank writes ``rank<r>.sha256`` with the hash of its final
            weights (tests of DDP synchronisation).
        robust: Robust-training recipe (:class:`~advrecon.training.recipe.RobustRecipe`:
            jitter, adversarial or fnaf); ``None`` = standard training.
    """

    arch: str
    train_dir: Path
    out_dir: Path
    val_dir: Path | None = None
    preset: str = "demo"
    model_overrides: dict[str, Any] = field(default_factory=dict)
    acceleration: int = 4
    center_fraction: float | None = None
    mask_type: str = "random"
    epochs: int = 50
    batch_size: int = 1
    accumulate: int = 1
    lr: float | None = None
    lr_step_size: int = 40
    lr_gamma: float = 0.1
    weight_decay: float = 0.0
    seed: int = 0
    resume: Path | None = None
    init: Path | None = None
    max_steps_per_epoch: int | None = None
    max_val_slices: int | None = None
    device: str = "auto"
    num_workers: int = 0
    checkpointing: bool = False
    export: Path | None = None
    progress: bool = True
    debug_rank_hashes: bool = False
    robust: RobustRecipe | None = None

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ConfigError(
                f"arch: unknown architecture {self.arch!r}; choose one of {ARCHITECTURES}"
            )
        if self.preset not in PRESET_NAMES:
            raise ConfigError(
                f"preset: unknown preset {self.preset!r}; choose one of {PRESET_NAMES}"
            )
        if self.mask_type not in MASK_TYPES:
            raise ConfigError(
                f"mask_type: unknown mask type {self.mask_type!r}; choose one of {MASK_TYPES}"
            )
        for name in ("acceleration", "epochs", "batch_size", "accumulate", "lr_step_size"):
            _check_count(name, getattr(self, name), 1)
        for name in ("max_steps_per_epoch", "max_val_slices"):
            if getattr(self, name) is not None:
                _check_count(name, getattr(self, name), 1)
        _check_count("num_workers", self.num_workers, 0)
        if self.center_fraction is None and self.acceleration not in DEFAULT_CENTER_FRACTIONS:
            raise ConfigError(
                f"center_fraction: no default for acceleration {self.acceleration} "
                "(defaults exist for 4 and 8); pass a center fraction"
            )
        parse_device(self.device, "device", allow_auto=True)
        cf = self.resolved_center_fraction
        if not 0.0 < cf < 1.0:
            raise ConfigError(f"center_fraction: must lie in (0, 1), got {cf}")
        if self.init is not None and self.resume is not None:
            raise ConfigError("init: give either --init (warm start) or --resume, not both")
        if self.lr is not None:
            _check_number("lr", self.lr, positive=True)
        _check_number("lr_gamma", self.lr_gamma, positive=True)
        _check_number("weight_decay", self.weight_decay, positive=False)
        if self.robust is not None and not isinstance(self.robust, RobustRecipe):
            raise ConfigError(f"robust: expected a RobustRecipe, got {type(self.robust).__name__}")
        if self.robust is not None and self.robust.remedy == "adversarial":
            from advrecon.training.adversary import check_adversary

            check_adversary(self.robust.threat)

    @property
    def resolved_center_fraction(self) -> float:
        """The center fraction in use (the paper's default for the acceleration if unset)."""
        if self.center_fraction is not None:
            return float(self.center_fraction)
        return DEFAULT_CENTER_FRACTIONS[self.acceleration]

    @property
    def resolved_lr(self) -> float:
        """The learning rate in use (fastMRI's default for the architecture if unset)."""
        return float(self.lr) if self.lr is not None else DEFAULT_LR[self.arch]


def _check_count(name: str, value: Any, minimum: int) -> None:
    """``value`` is an integer >= ``minimum`` (not a bool, not a float that happens to be whole)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")


def _check_number(name: str, value: Any, positive: bool) -> None:
    """``value`` is a finite real number, > 0 (``positive``) or >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name}: must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ConfigError(f"{name}: must be a finite {kind} number, got {value}")
