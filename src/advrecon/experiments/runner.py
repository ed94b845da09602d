"""Run an experiment: config -> work units -> attack calls -> durable results table.

:func:`run_experiment` expands the config into unit batches (:mod:`.units`), skips the units
already in the run folder's ``results.csv``, shards the rest across ``torchrun`` ranks
(:mod:`.distributed`), executes each batch with one attack call and appends one tidy row per
unit (:mod:`.store`) in the columns of :mod:`.schema`. Arrays for the qualitative panels go to
``arrays/<unit>.npz`` and the per-angle rotation curves to ``rotation_curves.csv``; a completed
run also writes ``results.parquet`` (:mod:`.parquet`). Figures are made from these files only.

The three pieces that touch other packages are injectable, so the store/runner/sharding logic
can be tested on its own and adapted if an API shifts:

* ``source``: :class:`~.source.SliceSource` (``refs()`` and ``load(ref)``), default
  :class:`~.source.DatasetSource` over :class:`advrecon.data.fastmri.SliceDataset`;
* ``model_loader(model_config, recon_size, device) -> Reconstructor``, default
  :func:`~.loading.default_model_loader` over
  :func:`advrecon.models.checkpoints.load_reconstructor`;
* ``executor(batch, context) -> BatchOutput``, default
  :func:`advrecon.experiments.executor.execute_batch` (one executor for every threat model,
  dispatching through :mod:`advrecon.attacks.registry`; importable from here too).

The run loop (:func:`_run` and its steps) opens the data, skips a finished run, prepares and
locks the folder, executes this rank's batches (:func:`_execute`), then merges (:func:`_finish`).
``DatasetSource``, ``default_model_loader``, ``make_mask`` and ``summary_table`` are re-exported
here for compatibility; they live in :mod:`.source`, :mod:`.loading` and
:mod:`advrecon.report.summary`.
"""

from __future__ import annotations

import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
import yaml

from advrecon import __version__
from advrecon.errors import (
    AdvreconError,
    InputFileError,
    RunFolderBusyError,
    RunInterrupted,
    StorageError,
)
from advrecon.experiments.config import ExperimentConfig, ModelConfig
from advrecon.experiments.distributed import (
    DistInfo,
    agree,
    barrier,
    broadcast,
    init_distributed,
    shard,
    shutdown,
)
from advrecon.experiments.executor import execute_batch
from advrecon.experiments.loading import default_model_loader, make_mask
from advrecon.experiments.memory import ChunkPlanner
from advrecon.experiments.parquet import write_parquet
from advrecon.experiments.run_loop import (
    Interrupts,
    ModelEta,
    Progress,
    check_finite,
    progress_files,
)
from advrecon.experiments.schema import ARRAY_KEYS, ARRAY_RENAMES, CURVE_COLUMNS, KEY_COLUMNS
from advrecon.experiments.schema import results_row as _results_row
from advrecon.experiments.source import (
    DatasetSource,
    SliceSource,
    ensure_synthetic,
    select_slices,
)
from advrecon.experiments.store import (
    LOCK,
    MANIFEST,
    RunLock,
    TidyTable,
    merge_tables,
    os_errors,
    prepare_run_dir,
    quarantine,
    read_manifest,
    save_arrays,
    update_manifest,
)
from advrecon.experiments.units import SliceRef, UnitBatch, expand_units
from advrecon.report.summary import summary_table

__all__ = [
    "BatchContext",
    "BatchOutput",
    "SliceSource",
    "DatasetSource",
    "RunSummary",
    "run_experiment",
    "execute_batch",
    "default_model_loader",
    "make_mask",
    "summary_table",
    "ensure_synthetic",
    "select_slices",
    "CURVE_COLUMNS",
    "KEY_COLUMNS",
    "ARRAY_KEYS",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# contracts of the injectable pieces
# --------------------------------------------------------------------------------------------
@dataclass
class BatchContext:
    """Everything an executor needs for one batch.

    Attributes:
        config: The experiment.
        model: The frozen reconstructor (``None`` only with custom executors/loaders).
        sample: The slice (:class:`~advrecon.experiments.source.Slice`).
        mask: Undersampling mask ``(1, 1, 1, W)`` of this slice (same for every model/attack).
        num_low_frequencies: Of the mask.
        device: Torch device.
        generator: Random generator seeded with ``batch.seed``.
        chunk_size: Largest batch per forward pass (``None``: all at once).
    """

    config: ExperimentConfig
    model: Any
    sample: Any
    mask: torch.Tensor
    num_low_frequencies: Any
    device: torch.device
    generator: torch.Generator
    chunk_size: int | None


@dataclass
class BatchOutput:
    """What an executor returns.

    Attributes:
        rows: ``unit_id -> {metric: scalar}`` for every unit of the batch.
        arrays: ``unit_id -> {name: array}`` (``target``, ``clean``, ``adversarial``,
            ``control`` = fully-sampled image under the same perturbation, ``box``; older
            executors may call it ``reference``: it is saved as ``control``).
        curves: Tidy per-angle rows (rotation): the keys of :data:`CURVE_COLUMNS` but
            ``curve_id`` plus metrics.
    """

    rows: dict[str, dict[str, Any]]
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)


Executor = Callable[[UnitBatch, BatchContext], BatchOutput]
ModelLoader = Callable[[ModelConfig, tuple[int, int], str], Any]


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    """Outcome of :func:`run_experiment`.

    Attributes:
        run_dir: The run folder.
        total_units: Units of the whole experiment.
        done_units: Units in ``results.csv`` after this call (rank 0; others: their own count).
        executed_units: Units computed by this process in this call.
        complete: Whether every unit is done.
        summary: The one-screen summary table (rank 0), or ``""``.
        status: The manifest's status after this call (rank 0): ``complete`` or ``partial``.
        nothing_to_do: Every unit was already done; nothing was written.
    """

    run_dir: Path
    total_units: int
    done_units: int
    executed_units: int
    complete: bool
    summary: str = ""
    status: str = ""
    nothing_to_do: bool = False


def _curve_id(c: dict[str, Any]) -> str:
    box = "ball" if int(c["box_index"]) < 0 else f"b{int(c['box_index']):02d}"
    return (
        f"{c['model']}@{c['acceleration']}x/{c['target']}/{c['file']}/s{int(c['slice']):04d}/"
        f"{box}/a{float(c['angle']):+08.3f}"
    )


def _array_name(uid: str) -> str:
    return uid.replace("/", "~").replace("@", "_") + ".npz"


def run_experiment(
    config: ExperimentConfig,
    *,
    executor: Executor | None = None,
    source: SliceSource | None = None,
    model_loader: ModelLoader | None = None,
    max_units: int | None = None,
    progress: bool = True,
) -> RunSummary:
    """Run (or resume) an experiment in ``config.run_dir()``.

    The run folder is locked for the whole call (:class:`~.store.RunLock`); its manifest tracks
    the progress (``status``: running, complete, partial, interrupted, failed). A finished run
    re-opened writes nothing (it works in a read-only folder). SIGINT/SIGTERM stop the run
    between two batch commits.

    Args:
        config: The experiment.
        executor: Batch executor (default :func:`execute_batch`).
        source: Slice source (default :class:`DatasetSource`; synthetic data is generated first).
        model_loader: Model loader (default :func:`default_model_loader`).
        max_units: Stop this process after about this many units (whole batches; for partial
            runs and tests). ``None``: run everything.
        progress: Show a tqdm progress bar (rank 0).

    Returns:
        A :class:`RunSummary`.

    Raises:
        AdvreconError: bad data/weights paths, a run folder of another config or in use by
            another run, a failed write (:class:`~advrecon.errors.StorageError`), NaN metrics,
            SIGINT/SIGTERM (:class:`~advrecon.errors.RunInterrupted`), ...
    """
    executor = executor or execute_batch
    model_loader = model_loader or default_model_loader
    info: DistInfo = init_distributed(config.device)
    try:
        with Interrupts() as interrupts:
            return _run(
                config, info, executor, source, model_loader, max_units, progress, interrupts
            )
    finally:
        shutdown(info)


_RUN_FILES = ("config.yaml", MANIFEST, LOCK)


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


T = TypeVar("T")


def _together(info: DistInfo, step: Callable[[], T]) -> T:
    """Run a set-up step on every rank; if any rank fails, every rank raises (no one waits)."""
    value: Any = None
    failure: BaseException | None = None
    try:
        value = step()
    except BaseException as exc:  # also bugs and Ctrl-C: the other ranks must not wait
        failure = exc
    errors = agree(info, None if failure is None else (str(failure) or type(failure).__name__))
    if failure is not None:
        raise failure
    if errors:
        raise AdvreconError(f"another process of this run failed: {errors[0]}")
    return value


def _open_source(config: ExperimentConfig, source: SliceSource | None) -> tuple[Any, list]:
    source = source if source is not None else DatasetSource(config)
    return source, source.refs()


def _finished(run_dir: Path, config_hash: str, ids: list[str]) -> bool:
    """Whether ``results.csv`` of this config already holds every unit (read only)."""
    if not (run_dir / MANIFEST).is_file():
        return False
    if read_manifest(run_dir).get("config_hash") != config_hash:
        return False  # prepare_run_dir explains
    if any(run_dir.glob("*.rank*.csv")):
        return False  # rank files not merged yet (a launch killed while merging)
    _, rows = TidyTable(run_dir / "results.csv").read(repair=False)
    return set(ids) <= {r["unit_id"] for r in rows}


def _mark_complete(run_dir: Path, total: int) -> None:
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


def _vet_parts(run_dir: Path) -> None:
    """Under the lock: repair torn tables, set damaged rank files aside, drop stale temp files."""
    stale = [*run_dir.glob(".*.tmp"), *(run_dir / "arrays").glob(".*.tmp")]
    for p in [*stale, *progress_files(run_dir)]:
        p.unlink(missing_ok=True)  # left by a process killed mid-write (nobody else writes now)
    for name, key in (("results", "unit_id"), ("rotation_curves", "curve_id")):
        TidyTable(run_dir / f"{name}.csv", key).read(repair=True)
        for p in sorted(run_dir.glob(f"{name}.rank*.csv")):
            try:
                TidyTable(p, key).read(repair=True)
            except InputFileError as exc:
                quarantine(p, exc.problem)


def _done_units(run_dir: Path, results: TidyTable, dist_run: bool) -> set[str]:
    """Units in this process's table, in ``results.csv`` and in every rank file."""
    done = set(results.keys())
    others = [run_dir / "results.csv"] if dist_run else []
    others += [p for p in sorted(run_dir.glob("results.rank*.csv")) if p != results.path]
    for p in others:  # units finished earlier or by other ranks / world sizes
        done |= {r["unit_id"] for r in TidyTable(p).read(repair=False)[1]}
    return done


def _merge_parts(run_dir: Path) -> int:
    """Rank 0, once every rank has finished: merge the rank files into the final tables."""
    final = run_dir / "results.csv"
    parts = sorted(run_dir.glob("results.rank*.csv"))
    cparts = sorted(run_dir.glob("rotation_curves.rank*.csv"))
    curves = run_dir / "rotation_curves.csv"
    # curves first: a kill between the two merges leaves results.csv incomplete, so the next
    # launch merges again (results.csv is the commit point, as for a batch)
    merge_tables(
        [curves, *cparts], curves, key="curve_id", first=CURVE_COLUMNS, what="rotation curves"
    )
    n_rows = merge_tables([final, *parts], final, first=KEY_COLUMNS)
    for p in [*parts, *cparts, *progress_files(run_dir)]:
        p.unlink(missing_ok=True)
    return n_rows


@dataclass
class _Launch:
    """State of one launch of a run on this process (shared by the run-loop steps).

    Attributes:
        config: The experiment.
        info: This process's place in the (distributed) run.
        batches: Every batch of the experiment.
        all_ids: Every unit id of the experiment.
        lock: This process's lock of the run folder.
        results: This process's results table (``results.csv`` or a rank file).
        curves: This process's rotation-curve table.
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


def _new_launch(config: ExperimentConfig, info: DistInfo, batches: list[UnitBatch]) -> _Launch:
    """The tables, lock and folders of this process (nothing is written yet)."""
    run_dir = config.run_dir()
    part = f".rank{info.rank}" if info.distributed else ""
    return _Launch(
        config=config,
        info=info,
        batches=batches,
        all_ids=[u.id for b in batches for u in b.units],
        lock=RunLock(run_dir / (LOCK if info.rank == 0 else f"run.rank{info.rank}.lock"), run_dir),
        results=TidyTable(run_dir / f"results{part}.csv", first=KEY_COLUMNS),
        curves=TidyTable(
            run_dir / f"rotation_curves{part}.csv",
            key="curve_id",
            first=CURVE_COLUMNS,
            what="rotation curves",
        ),
        new_dirs=[d for d in (run_dir, *run_dir.parents) if not d.exists()],
    )


def _manifest(config: ExperimentConfig) -> dict[str, Any]:
    """The fields a new run folder's manifest starts with."""
    return {
        "advrecon_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "name": config.name,
        "status": "running",
    }


def _prepare_folder(run: _Launch) -> str:
    """Make, lock and vet the run folder (rank 0 first, then the others). Returns the launch id."""
    config, info, run_dir = run.config, run.info, run.run_dir
    chash = config.hash()
    cfg_yaml = yaml.safe_dump(config.to_dict(), sort_keys=False)
    manifest = _manifest(config)

    def setup_rank0() -> str:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)  # another config?
        with os_errors("create run folder", run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
        run.lock.acquire()  # before anything is written: a refused second run touches nothing
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=True)
        for p in run_dir.glob("run.rank*.lock"):  # a worker of an earlier launch still running?
            RunLock(p, run_dir).probe()
        _vet_parts(run_dir)
        return f"{platform.node()}:{os.getpid()}:{time.time():.3f}"

    def setup_other() -> None:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)
        run.lock.acquire()

    launch = broadcast(info, _together(info, setup_rank0 if run.rank0 else lambda: ""))
    if not run.rank0:
        _together(info, setup_other)
    elif info.distributed:
        _together(info, lambda: None)
    return launch


def _provenance(config: ExperimentConfig, info: DistInfo) -> dict[str, Any]:
    """Columns that say where every row comes from."""
    return {
        "advrecon_version": __version__,
        "config_hash": config.hash()[:10],
        "seed": config.seed,
        "device_type": torch.device(info.device).type,
    }


class _Models:
    """The model of the current batch: one in memory at a time (batches are model-major)."""

    def __init__(self, loader: ModelLoader, device: str) -> None:
        self.loader, self.device = loader, device
        self._key: tuple | None = None
        self._model: Any = None

    def get(self, batch: UnitBatch) -> Any:
        key = (batch.model.key, tuple(batch.ref.recon_size))
        if key != self._key:
            self._model = None  # free the previous one first
            self._model = self.loader(batch.model, tuple(batch.ref.recon_size), self.device)
            self._key = key
        return self._model


class _Slices:
    """The slice of the current batch: each slice is read once (batches are slice-grouped)."""

    def __init__(self, source: SliceSource) -> None:
        self.source = source
        self._key: tuple | None = None
        self._sample: Any = None

    def get(self, ref: SliceRef) -> Any:
        if self._key != (ref.file, ref.slice):
            self._sample = self.source.load(ref)
            self._key = (ref.file, ref.slice)
        return self._sample


def _context(run: _Launch, batch: UnitBatch, model: Any, sample: Any) -> BatchContext:
    """The executor's context of one batch (mask of the slice, generator of the batch)."""
    mask, nlf = make_mask(run.config, batch.model, sample)
    return BatchContext(
        run.config,
        model,
        sample,
        mask,
        nlf,
        torch.device(run.info.device),
        torch.Generator().manual_seed(batch.seed),
        run.config.chunk_size,
    )


def _rows(
    batch: UnitBatch, out: BatchOutput, done: set[str], extra: dict[str, Any], dt: float
) -> list[dict[str, Any]]:
    """The rows of a batch's units not done yet, in the schema (:func:`.schema.results_row`)."""
    rows = []
    timing = {
        "batch_key": batch.key,
        "batch_seed": batch.seed,
        "time_batch_s": dt,
        "time_unit_s": dt / len(batch.units),
    }
    for u in batch.units:
        if u.id in done:
            continue
        if u.id not in out.rows:
            raise RuntimeError(f"executor returned no row for unit {u.id}")
        rows.append(_results_row(u.key_columns(), out.rows[u.id], {**extra, **timing}))
    return rows


def _commit(run: _Launch, rows: list[dict[str, Any]], out: BatchOutput) -> int:
    """Write one batch: arrays, curves, then the rows (the commit point). Returns rows written."""
    for row in rows:
        uid = row["unit_id"]
        if run.config.arrays == "all" and uid in out.arrays:
            name = f"arrays/{_array_name(uid)}"
            arrays = {ARRAY_RENAMES.get(k, k): v for k, v in out.arrays[uid].items()}
            save_arrays(run.run_dir / name, arrays)
            row["arrays_file"] = name
    for c in out.curves:
        c["curve_id"] = _curve_id(c)
    run.curves.append(out.curves)
    return run.results.append(rows)


def _execute(
    run: _Launch,
    executor: Executor,
    source: SliceSource,
    model_loader: ModelLoader,
    done: set[str],
    opts: tuple[int | None, bool, Interrupts],
) -> None:
    """Execute and commit this process's pending batches (``opts``: max units, bar, signals)."""
    from tqdm.auto import tqdm

    max_units, progress, interrupts = opts
    mine = shard(run.batches, run.info)
    pending = [b for b in mine if any(u.id not in done for u in b.units)]
    name = run.config.name
    bar = tqdm(
        total=sum(len(b.units) for b in mine),
        initial=sum(u.id in done for b in mine for u in b.units),
        unit="unit",
        desc=f"{name} rank{run.info.rank}" if run.info.distributed else name,
        disable=not progress or not run.rank0,
        dynamic_ncols=True,
    )
    extra = _provenance(run.config, run.info)
    models, slices = _Models(model_loader, run.info.device), _Slices(source)
    planner = ChunkPlanner(run.config.chunk_size, run.config.memory_limit, run.info.device)
    left: dict[str, int] = {}
    for b in pending:
        left[b.model.key] = left.get(b.model.key, 0) + sum(u.id not in done for u in b.units)
    eta = ModelEta(left)
    try:
        for batch in pending:
            if max_units is not None and run.executed >= max_units:
                break
            ctx = _context(run, batch, models.get(batch), slices.get(batch.ref))
            t0 = time.perf_counter()
            out = planner.execute(executor, batch, ctx)
            dt = time.perf_counter() - t0
            rows = _rows(batch, out, done, extra, dt)
            check_finite(batch, {r["unit_id"]: r for r in rows})
            with interrupts.commit():  # the batch and its count: all or nothing
                n = _commit(run, rows, out)
                done.update(r["unit_id"] for r in rows)
                run.executed += n
                bar.update(n)
                run.prog.advance(n)
            eta.record(batch.model.key, n, dt)
            bar.set_postfix_str(eta.describe(batch.model.key), refresh=False)
    finally:
        bar.close()
        if not run.rank0:
            run.lock.release()


def _finish(run: _Launch, interrupts: Interrupts) -> int:
    """Once every rank is done: merge the parts, write Parquet and the final status (rank 0)."""
    barrier(run.info)  # every rank has finished: only now are the parts merged

    def finish() -> int:
        n_rows = _merge_parts(run.run_dir)
        status = "complete" if n_rows >= run.total else "partial"
        if status == "complete":
            write_parquet(run.run_dir / "results.csv")
        run.prog.status(status, done=n_rows)
        return n_rows

    with interrupts.commit():
        return _together(run.info, finish if run.rank0 else lambda: 0)


def _launch(run: _Launch, executor, source, model_loader, opts) -> int:
    """Prepare the folder, execute the pending batches, merge. Returns rows in the table."""
    launch = _prepare_folder(run)
    done = _together(run.info, lambda: _done_units(run.run_dir, run.results, run.info.distributed))
    base_done = len(done.intersection(run.all_ids))
    run.prog = Progress(run.run_dir, launch, run.info.rank, run.total, base_done)
    _together(run.info, run.prog.start)  # everyone has read the done set before anyone writes
    _execute(run, executor, source, model_loader, done, opts)
    return _finish(run, opts[2])


def _failed(run: _Launch, exc: BaseException) -> BaseException:
    """Record a stop or failure in the manifest, clean up an empty folder; the error to raise."""
    stopped = isinstance(exc, (RunInterrupted, KeyboardInterrupt))
    if run.prog is not None:
        extra = {} if stopped else {"error": str(exc) or type(exc).__name__}
        run.prog.final("interrupted" if stopped else "failed", **extra)
    _discard_if_empty(run.info, run.lock, run.new_dirs, run.executed)
    if not stopped:
        return exc
    saved = f"{run.prog.done()}/{run.total} units" if run.prog and run.rank0 else "the results"
    return RunInterrupted(
        f"{str(exc) or 'interrupted'}; {saved} are saved in {run.run_dir}; "
        "run the same command again to resume"
    )


def _run(
    config: ExperimentConfig,
    info: DistInfo,
    executor: Executor,
    source: SliceSource | None,
    model_loader: ModelLoader,
    max_units: int | None,
    progress: bool,
    interrupts: Interrupts | None = None,
) -> RunSummary:
    """The run on this process: open the data, skip a finished run, launch, summarise."""
    interrupts = interrupts or Interrupts()
    rank0 = info.rank == 0
    if rank0 and source is None and config.data.kind == "synthetic":
        _together(info, lambda: ensure_synthetic(config))
    elif info.distributed:
        _together(info, lambda: None)
    # Open the data (folder, annotation CSV, slice selection) before the run folder is made, so
    # that a bad input leaves no half-made run folder behind.
    source, refs = _together(info, lambda: _open_source(config, source))
    run = _new_launch(config, info, expand_units(config, refs))
    if _already_finished(run):
        return _nothing_to_do(run)
    try:
        n_rows = _launch(run, executor, source, model_loader, (max_units, progress, interrupts))
    except BaseException as exc:
        err = _failed(run, exc)
        if err is exc:
            raise
        raise err from None
    finally:
        run.lock.release()
    return _summary(run, n_rows)


def _already_finished(run: _Launch) -> bool:
    """Whether ``results.csv`` holds every unit already (agreed by every rank)."""
    chash = run.config.hash()
    finished = _together(run.info, lambda: run.rank0 and _finished(run.run_dir, chash, run.all_ids))
    return bool(broadcast(run.info, finished))


def _nothing_to_do(run: _Launch) -> RunSummary:
    """A finished run re-opened: write nothing (works in a read-only folder)."""
    if run.rank0:
        _mark_complete(run.run_dir, run.total)
    summary = summary_table(run.run_dir / "results.csv") if run.rank0 else ""
    total = run.total
    return RunSummary(run.run_dir, total, total, 0, True, summary, "complete", nothing_to_do=True)


def _summary(run: _Launch, n_rows: int) -> RunSummary:
    """The outcome of a launch (rank 0 reads the merged table)."""
    total, rank0 = run.total, run.rank0
    status = ("complete" if n_rows >= total else "partial") if rank0 else ""
    summary = summary_table(run.run_dir / "results.csv") if rank0 else ""
    done_count = n_rows if rank0 else len(run.results.keys())
    return RunSummary(
        run.run_dir, total, done_count, run.executed, n_rows >= total, summary, status
    )


def _discard_if_empty(info: DistInfo, lock: RunLock, new_dirs: list[Path], executed: int) -> None:
    """A run that failed before any result leaves no run folder it made behind (rank 0).

    Only the lock holder may clean up: a second run refused by the lock leaves the folder alone.
    """
    if info.rank == 0 and new_dirs and executed == 0 and lock.held:
        lock.release(remove=True)
        _discard_new_dirs(new_dirs)


def as_batches(config: ExperimentConfig, refs: Sequence[SliceRef]) -> list[UnitBatch]:
    """Shorthand for :func:`advrecon.experiments.units.expand_units`."""
    return expand_units(config, refs)
