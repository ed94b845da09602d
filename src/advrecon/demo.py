"""``advrecon demo``: the main job on the embedded synthetic data.

Generates the synthetic knee-like set if absent, writes its preview, runs the demo experiment
(``configs/demo.yaml``: the paper's study with the shipped demo weights), writes the report and
prints its path. Everything it does is reachable from Python: :func:`run_demo`.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path

from advrecon.errors import ConfigError

__all__ = ["register", "run_demo", "default_config_path"]


def default_config_path() -> Path:
    """The packaged ``advrecon/configs/demo.yaml`` (package data: found after a plain
    ``pip install`` as in a clone, whose ``configs/demo.yaml`` is a copy kept equal by a test)."""
    return Path(str(resources.files("advrecon") / "configs" / "demo.yaml"))


def run_demo(
    config_path: Path | None = None,
    output: str | None = None,
    max_units: int | None = None,
    progress: bool = True,
) -> Path:
    """Run the demo study end to end and return the path of the HTML report.

    Args:
        config_path: Experiment YAML (default :func:`default_config_path`).
        output: Output folder overriding the config's ``output``.
        max_units: Stop after about this many work units (partial run; no report then).
        progress: Show progress bars.

    Returns:
        Path of ``report.html`` (or of the run folder for a partial run).
    """
    from advrecon.data.preview import write_preview
    from advrecon.experiments.config import load_config
    from advrecon.experiments.runner import run_experiment
    from advrecon.experiments.source import ensure_synthetic
    from advrecon.report.html import make_report

    path = Path(config_path) if config_path else default_config_path()
    if not path.is_file():
        raise ConfigError(f"{path}: demo config not found (reinstall advrecon or pass --config)")
    config = load_config(path, check_paths=False).with_overrides(output=output)
    ensure_synthetic(config)
    config.check_paths()  # now that the data exists, check every path (weights included)
    root = Path(config.data.root)
    preview = root / "preview.png"
    if not preview.exists():
        write_preview(root, preview, max_slices=8)
    print(f"synthetic data: {root} (preview {preview})", flush=True)
    result = run_experiment(config, max_units=max_units, progress=progress)
    if not result.complete:
        print(f"partial run: {result.done_units}/{result.total_units} units in {result.run_dir}")
        return result.run_dir
    if result.summary:
        print(result.summary)
    return make_report(result.run_dir)


def _cmd_demo(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    report = run_demo(args.config, args.output, args.max_units, progress=not args.no_progress)
    minutes = (time.perf_counter() - start) / 60
    print(f"demo finished in {minutes:.1f} min")
    print(f"report: {report}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``advrecon`` command line."""
    p = subparsers.add_parser(
        "demo",
        help="synthetic data + demo weights -> attacks -> report (what `make demo` runs)",
        description=(
            "Generate the synthetic knee set if absent, run configs/demo.yaml with the shipped "
            "demo weights and write the HTML report."
        ),
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="experiment YAML (default: the packaged configs/demo.yaml)",
    )
    p.add_argument("--output", type=str, default=None, help="output folder (overrides config)")
    p.add_argument("--max-units", type=int, default=None, help="partial run (for testing)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)
