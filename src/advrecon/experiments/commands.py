"""``advrecon run CONFIG``: run or resume an experiment (also under ``torchrun``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["register", "cmd_run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` to the ``advrecon`` command line."""
    p = subparsers.add_parser(
        "run",
        help="run or resume an experiment from a YAML config",
        description=(
            "Run (or resume) the attacks of an experiment config. Results go to "
            "<output>/<config-hash> as a tidy results.csv; killing the run and starting it again "
            "computes only the missing units. Under torchrun the work is sharded across ranks. "
            "A run folder is used by one run at a time; its manifest.json shows the progress."
        ),
    )
    p.add_argument(
        "config", type=Path, help="experiment YAML (or a run folder: resume with its config.yaml)"
    )
    p.add_argument("--output", type=str, default=None, help="output folder (overrides config)")
    p.add_argument("--device", type=str, default=None, help="cpu, cuda, cuda:1 ...")
    p.add_argument(
        "--chunk-size",
        type=_chunk_size,
        default=None,
        help="largest batch per forward pass, or 'auto' (measured; see --memory-limit)",
    )
    p.add_argument(
        "--memory-limit",
        default=None,
        help="with --chunk-size auto: memory a run may use ('8GiB') or a fraction (0.5)",
    )
    p.add_argument(
        "--max-units",
        type=int,
        default=None,
        help="stop after about N units (whole batches); resume later",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)


def _chunk_size(text: str) -> int | str:
    """``--chunk-size``: an integer or ``auto``."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'auto', got {text!r}") from None


def cmd_run(args: argparse.Namespace) -> int:
    from advrecon.errors import ConfigError
    from advrecon.experiments.config import load_config
    from advrecon.experiments.runner import run_experiment

    path = Path(args.config)
    output = args.output
    if path.is_dir() and (path / "config.yaml").is_file():
        output = output or str(path.parent)  # resume a run folder in place
        path = path / "config.yaml"
    if args.chunk_size is not None and args.chunk_size != "auto" and args.chunk_size < 1:
        raise ConfigError("--chunk-size: must be >= 1")
    if args.max_units is not None and args.max_units < 1:
        raise ConfigError("--max-units: must be >= 1")
    config = load_config(path, device=args.device).with_overrides(
        output=output, device=args.device, chunk_size=args.chunk_size
    )
    if args.memory_limit is not None:
        from advrecon.experiments.memory import parse_memory

        try:
            parse_memory(args.memory_limit)
        except ValueError as exc:
            raise ConfigError(f"--memory-limit: {exc}") from None
        if config.chunk_size != "auto":
            raise ConfigError("--memory-limit: only used with chunk_size auto (--chunk-size auto)")
        config = config.with_overrides(memory_limit=args.memory_limit)
    result = run_experiment(config, max_units=args.max_units, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        if result.summary:
            print(result.summary)
        state = result.status or ("complete" if result.complete else "partial")
        done = f"{result.done_units}/{result.total_units} units done"
        if result.nothing_to_do:
            print(f"nothing to do, {done}; results: {result.run_dir / 'results.csv'}")
        else:
            print(f"{done} ({state}); results: {result.run_dir / 'results.csv'}")
        if result.complete:
            print(f"make the report with: advrecon report {result.run_dir}")
    return 0
