"""One launch of a run on this process: its share of the run folder and what it has done.

A *launch* is one ``advrecon run`` (one process of it under torchrun) on a run folder: the
folder's lock it holds, the tables it appends to (``results.csv``, or ``results.rank{r}.csv``
on a rank of a distributed run, and the per-budget-point curves beside it), the folders it
creates, and its counts. Nothing is written when a :class:`Launch` is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from advrecon.experiments.config import ExperimentConfig
from advrecon.experiments.distributed import DistInfo
from advrecon.experiments.progress import Progress
from advrecon.experiments.results_store import TidyTable
from advrecon.experiments.run_lock import LOCK, RunLock
from advrecon.experiments.schema import CURVE_COLUMNS, CURVES, KEY_COLUMNS
from advrecon.experiments.units import UnitBatch

__all__ = ["Launch", "new_launch"]


@dataclass
class Launch:
    """State of one launch of a run on this process (shared by the run's steps).

    Attributes:
        config: The experiment.
        info: This process's place in the (distributed) run.
        batches: Every batch of the experiment.
        all_ids: Every unit id of the experiment.
        lock: This process's lock of the run folder.
        results: This process's results table (``results.csv`` or a rank file).
        curves: This process's curve table.
        new_dirs: Folders this launch creates (removed again if it fails before any result).
        prog: Progress writer (set once the run folder is ready).
        executed: Units computed by this process in this launch.
    """

    config: ExperimentConfig
    info: DistInfo
    batches: list[UnitBatch]
    all_ids: list[str]
    lock: RunLock
    results: TidyTable
    curves: TidyTable
    new_dirs: list[Path]
    prog: Progress | None = None
    executed: int = 0

    @property
    def run_dir(self) -> Path:
        return self.config.run_dir()

    @property
    def rank0(self) -> bool:
        return self.info.rank == 0

    @property
    def total(self) -> int:
        return len(self.all_ids)


def new_launch(config: ExperimentConfig, info: DistInfo, batches: list[UnitBatch]) -> Launch:
    """The tables, lock and folders of this process (nothing is written yet)."""
    run_dir = config.run_dir()
    part = f".rank{info.rank}" if info.distributed else ""
    return Launch(
        config=config,
        info=info,
        batches=batches,
        all_ids=[u.id for b in batches for u in b.units],
        lock=RunLock(run_dir / (LOCK if info.rank == 0 else f"run.rank{info.rank}.lock"), run_dir),
        results=TidyTable(run_dir / f"results{part}.csv", first=KEY_COLUMNS),
        curves=TidyTable(
            run_dir / f"{CURVES}{part}.csv",
            key="curve_id",
            first=CURVE_COLUMNS,
            what="rotation curves",
        ),
        new_dirs=[d for d in (run_dir, *run_dir.parents) if not d.exists()],
    )
