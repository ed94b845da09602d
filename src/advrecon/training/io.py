"""Files of a training run: checkpoint metadata, resume state, export, log, data checks.

Kept apart from the loop in :mod:`advrecon.training.loop`. Weights go through
:func:`advrecon.models.checkpoints.save_checkpoint` (safetensors + JSON metadata); optimizer,
scheduler and RNG state go to a ``*.state.pt`` holding tensors and plain containers only, read
back with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from advrecon.errors import InputFileError
from advrecon.files import atomic_write

if TYPE_CHECKING:
    from advrecon.training.config import TrainConfig

__all__ = [
    "STATE_SUFFIX",
    "LOG_NAME",
    "checkpoint_metadata",
    "read_resume",
    "save_state",
    "export_checkpoint",
    "log_epoch",
    "check_data_dir",
    "data_hash",
]

logger = logging.getLogger(__name__)

STATE_SUFFIX = ".state.pt"
#: Entries of the ``*.state.pt`` file that a resumed run reads.
_STATE_KEYS = ("optimizer", "scheduler", "epoch", "best_ssim", "rng")
LOG_NAME = "train_log.jsonl"


def checkpoint_metadata(
    config: TrainConfig,
    recon_size: tuple[int, int],
    num_coils: int,
    train_hash: str,
    record: dict[str, Any],
) -> dict[str, Any]:
    """Provenance stored in the checkpoint (``save_checkpoint`` adds architecture, kwargs,
    package version and date)."""
    val = {k[4:]: v for k, v in record.items() if k.startswith("val_")}
    robust = {"robust": config.robust.as_metadata()} if config.robust is not None else {}
    return {
        "preset": config.preset,
        "acceleration": config.acceleration,
        "center_fraction": config.resolved_center_fraction,
        "mask_type": config.mask_type,
        "recon_size": list(recon_size),
        "num_coils": num_coils,
        "training_data": {
            "train": str(Path(config.train_dir).resolve()),
            "train_hash": train_hash,
            "val": str(Path(config.val_dir).resolve()) if config.val_dir is not None else None,
        },
        "metrics": val,
        "training": {
            "epoch": record["epoch"],
            "train_loss": record["train_loss"],
            "loss": "1-ssim" if config.arch == "varnet" else "l1_normalised",
            "seed": config.seed,
            "lr": config.resolved_lr,
            "lr_step_size": config.lr_step_size,
            "lr_gamma": config.lr_gamma,
            "weight_decay": config.weight_decay,
            "batch_size": config.batch_size,
            "accumulate": config.accumulate,
            "model_overrides": dict(config.model_overrides),
            "init": str(config.init) if config.init is not None else None,
            "torch_version": torch.__version__,
            "train_seconds_per_epoch": record.get("train_seconds"),
        },
        **robust,
    }


def read_resume(config: TrainConfig) -> dict[str, Any]:
    """Weights and optimizer state of the checkpoint to resume from, checked against config."""
    from advrecon.models.checkpoints import (
        build_model,
        load_checkpoint,
        model_kwargs,
        safe_torch_load,
    )

    path = Path(config.resume)
    if not path.is_file():
        raise InputFileError(path, "resume checkpoint does not exist")
    state_path = path.with_name(path.name.split(".")[0] + STATE_SUFFIX)
    if not state_path.is_file():
        raise InputFileError(
            path, f"cannot resume: the training state file {state_path.name} is missing next to it"
        )
    model, meta = load_checkpoint(path)
    arch = meta.get("architecture")
    if arch != config.arch:
        raise InputFileError(
            path, f"is a {arch} checkpoint and cannot resume training of a {config.arch}"
        )
    with torch.device("meta"):
        wanted = model_kwargs(build_model(config.arch, config.preset, **config.model_overrides))
    if meta.get("model_kwargs") != wanted:
        raise InputFileError(
            path,
            f"holds a {arch} of size {meta.get('model_kwargs')}, not the requested preset "
            f"{config.preset!r} {wanted}",
        )
    for key, value in (
        ("acceleration", config.acceleration),
        ("center_fraction", config.resolved_center_fraction),
        ("mask_type", config.mask_type),
    ):
        if meta.get(key) != value:
            raise InputFileError(
                path, f"was trained with {key} {meta.get(key)!r}, not the requested {value!r}"
            )
    wanted_robust = config.robust.as_metadata() if config.robust is not None else None
    if meta.get("robust") != wanted_robust:
        raise InputFileError(
            path,
            f"was trained with robust recipe {meta.get('robust')!r}, not the requested "
            f"{wanted_robust!r}",
        )
    state = safe_torch_load(
        state_path, what="training state", hint="it was not written by advrecon train"
    )
    missing = [k for k in _STATE_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise InputFileError(
            state_path, f"is not an advrecon training state (missing {', '.join(missing)})"
        )
    return {"weights": model.state_dict(), "meta": meta, "state": state}


def save_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` of tensors and plain containers, atomically (a crash leaves the old one)."""
    atomic_write(path, lambda f: torch.save(state, f), "the training state")


def export_checkpoint(best: Path, target: Path) -> None:
    """Copy the best checkpoint (one self-describing safetensors file) to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, best.read_bytes(), "the exported checkpoint")
    logger.info("exported %s -> %s", best, target)


def log_epoch(out_dir: Path, record: dict[str, Any]) -> None:
    """Append one epoch's record to ``train_log.jsonl`` and log it on one line."""
    with open(out_dir / LOG_NAME, "a") as f:
        f.write(json.dumps(record) + "\n")
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()]
    logger.info("%s", " ".join(parts))


def check_data_dir(path: Path | None, role: str) -> list[Path]:
    """The ``.h5`` files of a data folder; :class:`InputFileError` if missing or empty."""
    path = Path(path) if path is not None else None
    if path is None or not path.exists():
        raise InputFileError(path, f"{role} data directory does not exist")
    if not path.is_dir():
        raise InputFileError(path, f"{role} data path is not a directory")
    files = sorted(path.glob("*.h5"))
    if not files:
        raise InputFileError(path, f"{role} data directory contains no .h5 files")
    return files


def data_hash(files: Sequence[Path]) -> str:
    """SHA-256 over the names and sizes of the training files (cheap provenance, no reads)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{f.stat().st_size}\n".encode())
    return h.hexdigest()
