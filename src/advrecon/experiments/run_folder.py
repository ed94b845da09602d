"""The run folder's lifecycle: create or re-open it, find what is done, merge, close, discard.

A run folder ``<output>/<hash[:10]>`` holds ``config.yaml``, ``manifest.json`` (:mod:`.manifest`),
``run.lock`` (:mod:`.run_lock`), the results table ``results.csv`` (:mod:`.results_store`; on
the ranks of a distributed run ``results.rank{r}.csv`` until rank 0 merges them), the curves
table beside it and ``arrays/``. The steps, in the order a run takes them:

* :func:`finished` / :func:`mark_complete`: a re-opened finished run writes nothing;
* :func:`prepare_folder`: make (:func:`prepare_run_dir`), lock and vet (:func:`vet_parts`:
  repair torn tables, set damaged rank files aside) the folder, rank 0 first;
* :func:`done_units`: the units already in any table of the folder (resume);
* :func:`finish`: once every rank is done, merge the rank files (:func:`merge_parts`), write
  ``results.parquet`` and the final status;
* :func:`discard_if_empty`: a run that failed before any result leaves no folder it made.
"""

from __future__ import annotations

import os
import platform
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import torch
import yaml

from advrecon._version import __version__
from advrecon.errors import ConfigError, InputFileError, RunFolderBusyError, StorageError
from advrecon.experiments.config import ExperimentConfig
from advrecon.experiments.distributed import barrier, broadcast, together
from advrecon.experiments.interrupts import Interrupts
from advrecon.experiments.launch import Launch
from advrecon.experiments.manifest import MANIFEST, read_manifest, update_manifest, write_manifest
from advrecon.experiments.parquet import write_parquet
from advrecon.experiments.progress import progress_files
from advrecon.experiments.results_store import TidyTable, merge_tables, quarantine
from advrecon.experiments.run_lock import LOCK, RunLock
from advrecon.experiments.schema import CURVE_COLUMNS, CURVES, KEY_COLUMNS
from advrecon.files import atomic_write, os_errors

__all__ = [
    "discard_if_empty",
    "done_units",
    "finish",
    "finished",
    "mark_complete",
    "merge_parts",
    "prepare_folder",
    "prepare_run_dir",
    "vet_parts",
]

#: Files a launch makes before any result (removed again when it fails before one).
_RUN_FILES = ("config.yaml", MANIFEST, LOCK)


def prepare_run_dir(
    run_dir: Path, config_hash: str, config_yaml: str, manifest: dict[str, Any], create: bool
) -> Path:
    """Create the run folder (``config.yaml`` + ``manifest.json``) or check it belongs to us.

    Args:
        run_dir: The folder.
        config_hash: Full config hash.
        config_yaml: Text of the config to store.
        manifest: Initial manifest fields (written only when the folder is new).
        create: Create files if missing (rank 0); other ranks only check.

    Raises:
        ConfigError: the folder holds results of a different config.
        StorageError: the folder or its files cannot be created.
    """
    run_dir = Path(run_dir)
    mpath = run_dir / MANIFEST
    if mpath.is_file():
        m = read_manifest(run_dir)
        if m.get("config_hash") != config_hash:
            raise ConfigError(
                f"{run_dir}: run folder was written by another config (hash "
                f"{str(m.get('config_hash'))[:10]}, this config {config_hash[:10]}); choose "
                "another --output or remove the folder"
            )
        return run_dir
    if run_dir.exists() and any(run_dir.glob("results*.csv")):
        raise ConfigError(f"{run_dir}: holds results but no manifest.json; refusing to mix runs")
    if create:
        with os_errors("create run folder", run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "arrays").mkdir(exist_ok=True)
        atomic_write(run_dir / "config.yaml", config_yaml, "config")
        write_manifest(run_dir, {**manifest, "config_hash": config_hash})
    return run_dir


def _manifest_fields(config: ExperimentConfig) -> dict[str, Any]:
    """The fields a new run folder's manifest starts with."""
    return {
        "advrecon_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "name": config.name,
        "status": "running",
    }


def prepare_folder(run: Launch) -> str:
    """Make, lock and vet the run folder (rank 0 first, then the others). Returns the launch id."""
    config, info, run_dir = run.config, run.info, run.run_dir
    chash = config.hash()
    cfg_yaml = yaml.safe_dump(config.to_dict(), sort_keys=False)
    manifest = _manifest_fields(config)

    def setup_rank0() -> str:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)  # another config?
        with os_errors("create run folder", run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
        run.lock.acquire()  # before anything is written: a refused second run touches nothing
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=True)
        for p in run_dir.glob("run.rank*.lock"):  # a worker of an earlier launch still running?
            RunLock(p, run_dir).probe()
        vet_parts(run_dir)
        return f"{platform.node()}:{os.getpid()}:{time.time():.3f}"

    def setup_other() -> None:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)
        run.lock.acquire()

    launch = broadcast(info, together(info, setup_rank0 if run.rank0 else lambda: ""))
    if not run.rank0:
        together(info, setup_other)
    elif info.distributed:
        together(info, lambda: None)
    return launch


def finished(run_dir: Path, config_hash: str, ids: list[str]) -> bool:
    """Whether ``results.csv`` of this config already holds every unit (read only)."""
    if not (run_dir / MANIFEST).is_file():
        return False
    if read_manifest(run_dir).get("config_hash") != config_hash:
        return False  # prepare_run_dir explains
    if any(run_dir.glob("*.rank*.csv")):
        return False  # rank files not merged yet (a launch killed while merging)
    _, rows = TidyTable(run_dir / "results.csv").read(repair=False)
    return set(ids) <= {r["unit_id"] for r in rows}


def mark_complete(run_dir: Path, total: int) -> None:
    """Best effort: a finished run whose manifest missed its last update says ``complete``."""
    if read_manifest(run_dir).get("status") == "complete":
        return
    with suppress(StorageError, RunFolderBusyError), RunLock(run_dir / LOCK, run_dir):
        update_manifest(
            run_dir,
            status="complete",
            total_units=total,
            done_units=total,
            updated=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )


def vet_parts(run_dir: Path) -> None:
    """Under the lock: repair torn tables, set damaged rank files aside, drop stale temp files."""
    stale = [*run_dir.glob(".*.tmp"), *(run_dir / "arrays").glob(".*.tmp")]
    for p in [*stale, *progress_files(run_dir)]:
        p.unlink(missing_ok=True)  # left by a process killed mid-write (nobody else writes now)
    for name, key in (("results", "unit_id"), (CURVES, "curve_id")):
        TidyTable(run_dir / f"{name}.csv", key).read(repair=True)
        for p in sorted(run_dir.glob(f"{name}.rank*.csv")):
            try:
                TidyTable(p, key).read(repair=True)
            except InputFileError as exc:
                quarantine(p, exc.problem)


def done_units(run_dir: Path, results: TidyTable, dist_run: bool) -> set[str]:
    """Units in this process's table, in ``results.csv`` and in every rank file."""
    done = set(results.keys())
    others = [run_dir / "results.csv"] if dist_run else []
    others += [p for p in sorted(run_dir.glob("results.rank*.csv")) if p != results.path]
    for p in others:  # units finished earlier or by other ranks / world sizes
        done |= {r["unit_id"] for r in TidyTable(p).read(repair=False)[1]}
    return done


def merge_parts(run_dir: Path) -> int:
    """Rank 0, once every rank has finished: merge the rank files into the final tables."""
    final = run_dir / "results.csv"
    parts = sorted(run_dir.glob("results.rank*.csv"))
    cparts = sorted(run_dir.glob(f"{CURVES}.rank*.csv"))
    curves = run_dir / f"{CURVES}.csv"
    # curves first: a kill between the two merges leaves results.csv incomplete, so the next
    # launch merges again (results.csv is the commit point, as for a batch)
    merge_tables(
        [curves, *cparts], curves, key="curve_id", first=CURVE_COLUMNS, what="rotation curves"
    )
    n_rows = merge_tables([final, *parts], final, first=KEY_COLUMNS)
    for p in [*parts, *cparts, *progress_files(run_dir)]:
        p.unlink(missing_ok=True)
    return n_rows


def finish(run: Launch, interrupts: Interrupts) -> int:
    """Once every rank is done: merge the parts, write Parquet and the final status (rank 0)."""
    barrier(run.info)  # every rank has finished: only now are the parts merged

    def merge() -> int:
        n_rows = merge_parts(run.run_dir)
        status = "complete" if n_rows >= run.total else "partial"
        if status == "complete":
            write_parquet(run.run_dir / "results.csv")
        run.prog.status(status, done=n_rows)
        return n_rows

    with interrupts.commit():
        return together(run.info, merge if run.rank0 else lambda: 0)


def _discard_new_dirs(new_dirs: list[Path]) -> None:
    """Remove the folders (deepest first) made for a run that failed before any result."""
    if not new_dirs:
        return
    run_dir = new_dirs[0]
    arrays = run_dir / "arrays"
    if any(run_dir.glob("*.csv")) or (arrays.is_dir() and any(arrays.iterdir())):
        return
    with suppress(OSError):
        if arrays.is_dir():
            arrays.rmdir()
        own = [run_dir / n for n in _RUN_FILES]
        own += [*run_dir.glob("run.rank*.lock"), *progress_files(run_dir)]
        for p in own:
            p.unlink(missing_ok=True)
        for d in new_dirs:
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()


def discard_if_empty(run: Launch) -> None:
    """A run that failed before any result leaves no run folder it made behind (rank 0).

    Only the lock holder may clean up: a second run refused by the lock leaves the folder alone.
    """
    if run.rank0 and run.new_dirs and run.executed == 0 and run.lock.held:
        run.lock.release(remove=True)
        _discard_new_dirs(run.new_dirs)
