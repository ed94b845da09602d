"""``advrecon train``: the command line over :func:`advrecon.training.train`.

Imports torch only when the command runs, so that building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from advrecon.errors import ConfigError

__all__ = ["register"]


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
    _add_robust_arguments(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug-rank-hashes", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=_cli)


def _add_robust_arguments(p: argparse.ArgumentParser) -> None:
    """The ``--robust*`` options (:class:`advrecon.training.recipe.RobustRecipe`)."""
    g = p.add_argument_group(
        "robust training", "harden the model (docs/robust_training.md); defaults per remedy"
    )
    g.add_argument(
        "--robust",
        default=None,
        metavar="{jitter,adversarial,fnaf}",
        help="remedy: Gaussian jitter, adversarial training or FNAF feature training",
    )
    g.add_argument(
        "--robust-eta",
        type=float,
        default=None,
        help="budget: percent of each coil's k-space norm (noise; default 1), degrees and "
        "pixels (motion), feature contrast in percent of the box mean (fnaf; default 25)",
    )
    g.add_argument(
        "--robust-threat",
        default=None,
        metavar="{noise,motion,...}",
        help="adversary's threat model (adversarial; default noise)",
    )
    g.add_argument(
        "--robust-steps", type=int, default=None, help="attack passes per training step (3)"
    )
    g.add_argument(
        "--robust-mix",
        type=float,
        default=None,
        help="weight of the clean loss in [0, 1] (default 0; fnaf 0.5)",
    )
    g.add_argument(
        "--robust-target",
        default="box",
        metavar="{box,image}",
        help="adversary's region: a random box per slice or the whole image (box)",
    )
    g.add_argument(
        "--robust-search", default="apgd", metavar="{apgd,pgd}", help="adversary's search (apgd)"
    )
    g.add_argument(
        "--robust-objective",
        default="mse",
        metavar="{mse,ssim}",
        help="adversary's objective in its region (mse)",
    )


def _robust_recipe(args: argparse.Namespace):
    """The :class:`RobustRecipe` of the ``--robust*`` options (``None`` without ``--robust``)."""
    from advrecon.training.recipe import RobustRecipe

    extra = [
        f"--robust-{k}"
        for k in ("eta", "threat", "steps", "mix")
        if getattr(args, f"robust_{k}") is not None
    ]
    if args.robust is None:
        if extra:
            raise ConfigError(f"{extra[0]} needs --robust jitter|adversarial|fnaf")
        return None
    return RobustRecipe.make(
        args.robust,
        eta=args.robust_eta,
        threat=args.robust_threat,
        steps=args.robust_steps,
        mix=args.robust_mix,
        target=args.robust_target,
        search=args.robust_search,
        objective=args.robust_objective,
    )


def _parse_model_args(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> kwargs (values parsed as JSON where they are JSON)."""
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
    """Run ``advrecon train``; rank 0 prints the path of the best checkpoint."""
    from advrecon.training.config import TrainConfig
    from advrecon.training.loop import train

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
        robust=_robust_recipe(args),
    )
    best = train(config)
    if int(os.environ.get("RANK", "0")) == 0:
        print(best)
    return 0
