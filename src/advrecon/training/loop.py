"""Train U-Net and VarNet reconstructors with the fastMRI recipe (``advrecon train``).

Python API: :func:`train` with a :class:`~advrecon.training.config.TrainConfig`; command line:
``advrecon train`` (:mod:`advrecon.training.commands`). Scales past one machine with
``torchrun --nproc_per_node=N -m advrecon train ...`` (DDP: NCCL on GPUs, gloo on CPU; only
rank 0 writes).

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
* robust training (:attr:`TrainConfig.robust`, :mod:`advrecon.training.robust`): jitter,
  adversarial or fnaf; the perturbation is searched on the unwrapped model, frozen, and the
  weight update sees the clean and perturbed slices in one forward pass;
* ``best.safetensors`` (highest validation SSIM) and ``last.safetensors`` with metadata, plus
  ``last.state.pt`` (optimizer / scheduler / RNG state; tensors and plain containers only) for
  :attr:`TrainConfig.resume`.

Determinism: the seed fixes the initial weights (``torch.manual_seed``), the sampler order
(``DistributedSampler(seed=...)`` + ``set_epoch``) and every mask (seeds derived from
``(seed, epoch, file, slice)``), so a run resumed from ``last`` ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from advrecon.errors import InputFileError
from advrecon.experiments.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    init_distributed,
    shard,
    shutdown,
)
from advrecon.training.config import TrainConfig
from advrecon.training.io import (
    STATE_SUFFIX,
    check_data_dir,
    checkpoint_metadata,
    data_hash,
    export_checkpoint,
    log_epoch,
    read_resume,
    save_state,
)
from advrecon.training.robust import robust_loss, robust_seed
from advrecon.training.steps import (
    batch_loss,
    make_batches,
    state_dict_hash,
    take,
    train_mask_seed,
    validate,
)

__all__ = ["train", "BEST", "LAST"]

logger = logging.getLogger(__name__)

BEST, LAST = "best.safetensors", "last.safetensors"


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
    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise InputFileError(out, "output path exists and is not a directory (--out)")
    train_files = check_data_dir(config.train_dir, "training")
    if config.val_dir is not None:
        check_data_dir(config.val_dir, "validation")
    resume_state = read_resume(config) if config.resume is not None else None

    info = init_distributed(_pick_device(config.device))
    try:
        return _run(config, info, torch.device(info.device), train_files, resume_state)
    finally:
        shutdown(info)


def _pick_device(name: str) -> str:
    """The device to train on: ``auto`` = CUDA when available, else CPU; bare ``cuda`` = GPU 0.

    Under torchrun :func:`~advrecon.experiments.distributed.init_distributed` then moves a CUDA
    process to ``cuda:LOCAL_RANK``.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = "cuda:0"
    if name.startswith("cuda"):
        torch.cuda.set_device(torch.device(name))
    return name


def _run(
    config: TrainConfig,
    info: DistInfo,
    device: torch.device,
    train_files: list[Path],
    resume_state: dict[str, Any] | None,
) -> Path:
    """The training loop proper (after the input checks and the process-group setup)."""
    from advrecon.data.fastmri import SliceDataset
    from advrecon.masks import create_mask_for_mask_type
    from advrecon.models.checkpoints import save_checkpoint

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
        train_seconds = round(time.perf_counter() - t0, 3)
        scheduler.step()
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "lr": optimizer.param_groups[0]["lr"],
            "train_seconds": train_seconds,
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
        barrier(info)

    if config.debug_rank_hashes:
        (out_dir / f"rank{info.rank}.sha256").write_text(state_dict_hash(net) + "\n")
    if info.is_main and config.export is not None:
        export_checkpoint(out_dir / BEST, Path(config.export))
    barrier(info)
    return out_dir / BEST


# -- training epoch ---------------------------------------------------------------------------


def _train_epoch(
    config, info, model, recon, loader, optimizer, mask_func, device, recon_size, epoch
) -> float:
    """One epoch of gradient steps; returns the mean training loss over all ranks."""
    from tqdm.auto import tqdm

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
        robust_seeds = _robust_seeds(config, epoch, samples, batches)
        for j, b in enumerate(batches):
            last = sync and j == len(batches) - 1
            ctx = model.no_sync() if (info.distributed and not last) else contextlib.nullcontext()
            with ctx:
                if config.robust is None:
                    loss = batch_loss(config.arch, model, b)
                else:
                    rs = robust_seeds[j]
                    loss = robust_loss(config.arch, model, recon, b, config.robust, rs)
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


def _robust_seeds(config: TrainConfig, epoch: int, samples: list, batches: list) -> list:
    """Per batch, the robust-training seeds of its slices (batches group slices by shape, in
    order of first appearance, as :func:`~advrecon.training.steps.make_batches`)."""
    if config.robust is None:
        return [None] * len(batches)
    groups: dict[tuple[int, ...], list[int]] = {}
    for s in samples:
        seed = robust_seed(config.seed, epoch, s.fname, s.slice_num)
        groups.setdefault(tuple(s.kspace.shape), []).append(seed)
    return list(groups.values())


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
