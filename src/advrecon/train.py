"""Train U-Net and VarNet reconstructors with the fastMRI recipe (``advrecon train``).

Python API: :func:`train` with a :class:`TrainConfig`; command line: ``advrecon train`` (see
:func:`register`). Scales past one machine with ``torchrun --nproc_per_node=N -m advrecon
train ...`` (DDP: NCCL on GPUs, gloo on CPU; only rank 0 writes).

Recipe (fastMRI's ``VarNetModule`` / ``UnetModule``):

* random Cartesian masks (4x / center 0.08, 8x / center 0.04 by default; ``random`` or
  ``equispaced_fraction``), a new mask per sample and epoch in training, one fixed mask per
  volume in validation;
* VarNet sees the masked k-space and is trained with ``1 - SSIM`` (data range = volume max);
  U-Net sees the zero-filled RSS image (normalised by its reconstructor) and is trained with L1
  on the normalised image. Both run through their :class:`~advrecon.models.reconstructor.
  Reconstructor`, i.e. exactly the forward pass the attacks differentiate;
* Adam with a step decay (``StepLR``), gradient accumulation, validation SSIM / PSNR / NMSE
  every epoch next to the zero-filled baseline;
* ``best.safetensors`` (highest validation SSIM) and ``last.safetensors`` with metadata, plus
  ``last.state.pt`` (optimizer / scheduler / RNG state; tensors and plain containers only) for
  :attr:`TrainConfig.resume`.

Determinism: the seed fixes the initial weights (``torch.manual_seed``), the sampler order
(``DistributedSampler(seed=...)`` + ``set_epoch``) and every mask (seeds derived from
``(seed, epoch, file, slice)``), so a run resumed from ``last`` ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advrecon.errors import ConfigError, InputFileError
from advrecon.experiments.config import parse_device

if TYPE_CHECKING:  # torch and the training helpers are imported where used: a fast CLI start
    import torch

    from advrecon.train_steps import DistInfo

__all__ = ["TrainConfig", "train", "register", "DEFAULT_CENTER_FRACTIONS", "DEFAULT_LR"]

logger = logging.getLogger(__name__)

ARCHS = ("unet", "varnet")
PRESET_NAMES = ("demo", "paper", "fastmri")
MASK_TYPES = ("random", "equispaced_fraction")
DEFAULT_CENTER_FRACTIONS = {4: 0.08, 8: 0.04}
# fastMRI's defaults: VarNetModule lr 3e-4, UnetModule lr 1e-3
DEFAULT_LR = {"varnet": 3e-4, "unet": 1e-3}

BEST, LAST = "best.safetensors", "last.safetensors"


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

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ConfigError(f"arch: unknown architecture {self.arch!r}; choose one of {ARCHS}")
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

    @property
    def resolved_center_fraction(self) -> float:
        if self.center_fraction is not None:
            return float(self.center_fraction)
        return DEFAULT_CENTER_FRACTIONS[self.acceleration]

    @property
    def resolved_lr(self) -> float:
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


# -- public API -------------------------------------------------------------------------------


def train(config: TrainConfig) -> Path:
    """Train a reconstructor; returns the path of the best checkpoint.

    Under torchrun (``WORLD_SIZE > 1``) every process calls this; the process group is created
    from the environment, gradients and validation metrics are all-reduced, and only rank 0
    writes files. All ranks return the same path once rank 0 has written it.

    Args:
        config: The run.

    Returns:
        ``config.out_dir / "best.safetensors"``.

    Raises:
        AdvreconError: Missing or empty data directory, unreadable or mismatched resume
            checkpoint.
    """
    import torch

    from advrecon.train_io import check_data_dir, read_resume
    from advrecon.train_steps import setup_distributed

    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "output path exists and is not a directory (--out)")
    train_files = check_data_dir(config.train_dir, "training")
    if config.val_dir is not None:
        check_data_dir(config.val_dir, "validation")
    resume_state = read_resume(config) if config.resume is not None else None

    info, device = setup_distributed(config.device)
    try:
        return _run(config, info, device, train_files, resume_state)
    finally:
        if info.initialized_here:
            torch.distributed.destroy_process_group()


def _run(
    config: TrainConfig,
    info: DistInfo,
    device: torch.device,
    train_files: list[Path],
    resume_state: dict[str, Any] | None,
) -> Path:
    """The training loop proper (after the input checks and the process-group setup)."""
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    from advrecon.data.fastmri import SliceDataset
    from advrecon.masks import create_mask_for_mask_type
    from advrecon.models.checkpoints import save_checkpoint
    from advrecon.train_io import (
        STATE_SUFFIX,
        checkpoint_metadata,
        data_hash,
        export_checkpoint,
        log_epoch,
        save_state,
    )
    from advrecon.train_steps import barrier, shard, state_dict_hash, validate

    out_dir = Path(config.out_dir)
    torch.manual_seed(config.seed)

    train_set = SliceDataset(config.train_dir)
    val_set = SliceDataset(config.val_dir) if config.val_dir is not None else None
    if len(train_set) == 0:
        raise InputFileError(config.train_dir, "training data directory contains no slices")
    first = train_set[0]
    recon_size = (int(first.recon_size[0]), int(first.recon_size[1]))
    num_coils = int(first.kspace.shape[0])
    mask_func = create_mask_for_mask_type(
        config.mask_type, [config.resolved_center_fraction], [config.acceleration]
    )

    recon, net = _build(config, recon_size)
    if config.init is not None and resume_state is None:
        _warm_start(net, config)
    recon.to(device)
    # The output folder is made only once the data and the model are known to be good, so that
    # a bad input leaves nothing behind.
    if info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        if resume_state is None and (out_dir / LAST).exists():
            logger.warning("%s already holds a run; its checkpoints will be overwritten", out_dir)
    optimizer = torch.optim.Adam(
        recon.parameters(), lr=config.resolved_lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, config.lr_step_size, config.lr_gamma)
    start_epoch, best_ssim = 0, -math.inf
    if resume_state is not None:
        net.load_state_dict(resume_state["weights"])
        optimizer.load_state_dict(resume_state["state"]["optimizer"])
        scheduler.load_state_dict(resume_state["state"]["scheduler"])
        start_epoch = int(resume_state["state"]["epoch"])
        best_ssim = float(resume_state["state"]["best_ssim"])
        torch.set_rng_state(resume_state["state"]["rng"])
        logger.info("resuming %s from epoch %d", config.resume, start_epoch)

    model = recon
    if info.distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            recon, device_ids=[device.index] if device.type == "cuda" else None
        )

    sampler = DistributedSampler(
        train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=config.seed
    )
    loader = DataLoader(
        train_set,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.num_workers,
        collate_fn=_as_list,
        persistent_workers=False,
    )
    val_indices = list(range(len(val_set))) if val_set is not None else []
    if config.max_val_slices is not None:
        val_indices = val_indices[: config.max_val_slices]
    train_hash = data_hash(train_files)

    for epoch in range(start_epoch, config.epochs):
        sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        train_loss = _train_epoch(
            config, info, model, recon, loader, optimizer, mask_func, device, recon_size, epoch
        )
        scheduler.step()
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "lr": optimizer.param_groups[0]["lr"],
        }
        if val_set is not None:
            metrics = validate(
                recon,
                val_set,
                shard(val_indices, info),
                mask_func,
                device,
                recon_size,
                config.batch_size,
            )
            record.update({f"val_{k}": v for k, v in metrics.items()})
        record["seconds"] = round(time.perf_counter() - t0, 3)
        # best = highest validation SSIM; without validation the latest epoch
        is_best = val_set is None or record["val_ssim"] > best_ssim
        if is_best and val_set is not None:
            best_ssim = record["val_ssim"]
        if info.is_main:
            log_epoch(out_dir, record)
            meta = checkpoint_metadata(config, recon_size, num_coils, train_hash, record)
            save_state(
                out_dir / (Path(LAST).stem + STATE_SUFFIX),
                {
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch + 1,
                    "best_ssim": best_ssim,
                    "rng": torch.get_rng_state(),
                    "arch": config.arch,
                    "preset": config.preset,
                },
            )
            save_checkpoint(out_dir / LAST, net, meta)
            if is_best:
                save_checkpoint(out_dir / BEST, net, meta)
        barrier()

    if config.debug_rank_hashes:
        (out_dir / f"rank{info.rank}.sha256").write_text(state_dict_hash(net) + "\n")
    if info.is_main and config.export is not None:
        export_checkpoint(out_dir / BEST, Path(config.export))
    barrier()
    return out_dir / BEST


# -- training epoch ---------------------------------------------------------------------------


def _train_epoch(
    config, info, model, recon, loader, optimizer, mask_func, device, recon_size, epoch
) -> float:
    """One epoch of gradient steps; returns the mean training loss over all ranks."""
    import torch
    from tqdm.auto import tqdm

    from advrecon.train_steps import all_reduce_sum, batch_loss, make_batches, take, train_mask_seed

    recon.train()
    n_micro = len(loader)
    if config.max_steps_per_epoch is not None:
        n_micro = min(n_micro, config.max_steps_per_epoch * config.accumulate)
    show = config.progress and info.is_main and sys.stderr.isatty()
    bar = tqdm(
        total=n_micro, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not show, leave=False
    )
    loss_sum = torch.zeros(2, dtype=torch.float64, device=device)
    optimizer.zero_grad(set_to_none=True)
    for i, samples in enumerate(take(loader, n_micro)):
        window_start = (i // config.accumulate) * config.accumulate
        window = min(config.accumulate, n_micro - window_start)
        sync = i == window_start + window - 1  # last forward of this optimizer step
        seeds = [train_mask_seed(config.seed, epoch, s.fname, s.slice_num) for s in samples]
        batches = make_batches(samples, mask_func, seeds, device, recon_size)
        denom = len(samples) * window
        for j, b in enumerate(batches):
            last = sync and j == len(batches) - 1
            ctx = model.no_sync() if (info.distributed and not last) else contextlib.nullcontext()
            with ctx:
                loss = batch_loss(config.arch, model, b)
                (loss / denom).backward()
            loss_sum[0] += float(loss.detach())
            loss_sum[1] += b.size
        if sync:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        bar.update(1)
        bar.set_postfix(loss=f"{float(loss_sum[0] / max(float(loss_sum[1]), 1)):.4f}")
    bar.close()
    loss_sum = all_reduce_sum(loss_sum)
    return float(loss_sum[0] / max(float(loss_sum[1]), 1.0))


def _as_list(samples: list) -> list:
    """Collate function: keep the ``SliceSample`` objects (batched later, grouped by shape)."""
    return list(samples)


# -- models and checkpoints -------------------------------------------------------------------


def _build(config: TrainConfig, recon_size: tuple[int, int]):
    """The network (fastMRI state-dict keys) and its reconstructor wrapper."""
    from advrecon.models.checkpoints import build_model
    from advrecon.models.reconstructor import UnetReconstructor, VarNetReconstructor

    net = build_model(config.arch, config.preset, **config.model_overrides)
    wrapper = VarNetReconstructor if config.arch == "varnet" else UnetReconstructor
    if config.checkpointing:
        net.set_checkpointing(True)
    return wrapper(net, recon_size), net


def _warm_start(net: torch.nn.Module, config: TrainConfig) -> None:
    """Load the weights of ``config.init`` (an advrecon or fastMRI checkpoint) into ``net``."""
    from advrecon.models.checkpoints import load_checkpoint

    init, meta = load_checkpoint(config.init, arch=config.arch)
    try:
        net.load_state_dict(init.state_dict(), strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputFileError(
            config.init, f"cannot initialise a {config.arch} ({config.preset}) from it: {first}"
        ) from None
    logger.info("initialised weights from %s (%s)", config.init, meta.get("preset", "?"))


# -- command line -----------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``advrecon train`` to the CLI."""
    p = subparsers.add_parser(
        "train",
        help="train a U-Net or VarNet reconstructor (fastMRI recipe; DDP under torchrun)",
        description=(
            "Train a U-Net or VarNet on fastMRI-format multicoil data with random masks. "
            "Run under `torchrun --nproc_per_node=N -m advrecon train ...` for DDP."
        ),
    )
    p.add_argument("--arch", required=True, metavar="{unet,varnet}", help="architecture")
    p.add_argument(
        "--preset",
        default="demo",
        metavar="{demo,paper,fastmri}",
        help="model size (default: demo)",
    )
    p.add_argument("--train", required=True, type=Path, metavar="DIR", help="training .h5 files")
    p.add_argument("--val", type=Path, metavar="DIR", help="validation .h5 files")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument("--acceleration", type=int, default=4, help="undersampling factor (4)")
    p.add_argument(
        "--center-fraction",
        type=float,
        default=None,
        help="center fraction (default: 0.08 for 4x, 0.04 for 8x)",
    )
    p.add_argument(
        "--mask-type",
        default="random",
        metavar="{random,equispaced_fraction}",
        help="mask type (random)",
    )
    p.add_argument("--epochs", type=int, default=50, help="total epochs (50)")
    p.add_argument("--batch-size", type=int, default=1, help="slices per step and process (1)")
    p.add_argument(
        "--accumulate", type=int, default=1, help="forward passes per optimizer step (1)"
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate (default: 3e-4 VarNet, 1e-3 U-Net)",
    )
    p.add_argument("--lr-step-size", type=int, default=40, help="epochs per lr decay (40)")
    p.add_argument("--lr-gamma", type=float, default=0.1, help="lr decay factor (0.1)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="Adam weight decay (0)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, order and masks (0)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="CKPT",
        help="continue from a last.safetensors (needs last.state.pt beside it)",
    )
    p.add_argument(
        "--init",
        type=Path,
        metavar="CKPT",
        help="warm start: initialise the weights from this checkpoint (e.g. 8x from 4x)",
    )
    p.add_argument(
        "--max-steps-per-epoch", type=int, default=None, help="cap on optimizer steps per epoch"
    )
    p.add_argument("--max-val-slices", type=int, default=None, help="cap on validation slices")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (auto)")
    p.add_argument("--num-workers", type=int, default=0, help="data-loader workers (0)")
    p.add_argument(
        "--checkpointing",
        action="store_true",
        help="activation checkpointing (less memory, more compute)",
    )
    p.add_argument("--export", type=Path, metavar="PATH", help="also copy the best checkpoint here")
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset constructor argument (repeatable), e.g. chans=8",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug-rank-hashes", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_cli)


def _parse_model_args(items: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-arg: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _cli(args: argparse.Namespace) -> int:
    config = TrainConfig(
        arch=args.arch,
        preset=args.preset,
        train_dir=args.train,
        val_dir=args.val,
        out_dir=args.out,
        model_overrides=_parse_model_args(args.model_arg),
        acceleration=args.acceleration,
        center_fraction=args.center_fraction,
        mask_type=args.mask_type,
        epochs=args.epochs,
        batch_size=args.batch_size,
        accumulate=args.accumulate,
        lr=args.lr,
        lr_step_size=args.lr_step_size,
        lr_gamma=args.lr_gamma,
        weight_decay=args.weight_decay,
        seed=args.seed,
        resume=args.resume,
        init=args.init,
        max_steps_per_epoch=args.max_steps_per_epoch,
        max_val_slices=args.max_val_slices,
        device=args.device,
        num_workers=args.num_workers,
        checkpointing=args.checkpointing,
        export=args.export,
        progress=not args.no_progress,
        debug_rank_hashes=args.debug_rank_hashes,
    )
    best = train(config)
    if int(os.environ.get("RANK", "0")) == 0:
        print(best)
    return 0
