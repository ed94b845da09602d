"""Run an experiment: config -> work units -> attack calls -> durable results table.

:func:`run_experiment` expands the config into unit batches (:mod:`.units`), skips the units
already in the run folder's ``results.csv``, shards the rest across ``torchrun`` ranks
(:mod:`.distributed`), executes each batch with one attack call and appends one tidy row per
unit (:mod:`.batch_loop`, :mod:`.results_store`) in the columns of :mod:`.schema`. Arrays for
the qualitative panels go to ``arrays/<unit>.npz`` and the per-budget-point curves to the
curve table; a completed run also writes ``results.parquet`` (:mod:`.parquet`). Figures are
made from these files only.

The three pieces that touch other packages are injectable (:mod:`.executor_types`), so the
store/runner/sharding logic can be tested on its own and adapted if an API shifts:

* ``source``: :class:`~.source.SliceSource` (``refs()`` and ``load(ref)``), default
  :class:`~.source.DatasetSource` over :class:`advrecon.data.fastmri.SliceDataset`;
* ``model_loader(model_config, recon_size, device) -> Reconstructor``, default
  :func:`~.loading.default_model_loader` over
  :func:`advrecon.models.checkpoints.load_reconstructor`;
* ``executor(batch, context) -> BatchOutput``, default
  :func:`advrecon.experiments.executor.execute_batch` (one executor for every threat model,
  dispatching through :mod:`advrecon.attacks.registry`).

The run on this process (:func:`_run`) opens the data, skips a finished run, prepares and locks
the folder (:mod:`.run_folder`), executes this rank's batches (:mod:`.batch_loop`), then merges
(:func:`.run_folder.finish`). The executor contracts, ``DatasetSource``,
``default_model_loader``, ``make_mask`` and ``summary_table`` are importable from here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from advrecon.errors import RunInterrupted
from advrecon.experiments.batch_loop import execute_pending
from advrecon.experiments.config import ExperimentConfig
from advrecon.experiments.distributed import (
    DistInfo,
    broadcast,
    init_distributed,
    shutdown,
    together,
)
from advrecon.experiments.executor import execute_batch
from advrecon.experiments.executor_types import BatchContext, BatchOutput, Executor, ModelLoader
from advrecon.experiments.interrupts import Interrupts
from advrecon.experiments.launch import Launch, new_launch
from advrecon.experiments.loading import default_model_loader, make_mask
from advrecon.experiments.progress import Progress
from advrecon.experiments.run_folder import (
    discard_if_empty,
    done_units,
    finish,
    finished,
    mark_complete,
    prepare_folder,
)
from advrecon.experiments.schema import ARRAY_KEYS, CURVE_COLUMNS, KEY_COLUMNS
from advrecon.experiments.source import (
    DatasetSource,
    SliceSource,
    ensure_synthetic,
    select_slices,
)
from advrecon.experiments.summary import summary_table
from advrecon.experiments.units import SliceRef, UnitBatch, expand_units

__all__ = [
    "BatchContext",
    "BatchOutput",
    "SliceSource",
    "DatasetSource",
    "RunSummary",
    "run_experiment",
    "as_batches",
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

    The run folder is locked for the whole call (:class:`~.run_lock.RunLock`); its manifest
    tracks the progress (``status``: running, complete, partial, interrupted, failed). A
    finished run re-opened writes nothing (it works in a read-only folder). SIGINT/SIGTERM stop
    the run between two batch commits.

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


def _open_source(config: ExperimentConfig, source: SliceSource | None) -> tuple[SliceSource, list]:
    source = source if source is not None else DatasetSource(config)
    return source, source.refs()


def _launch(run: Launch, executor, source, model_loader, opts) -> int:
    """Prepare the folder, execute the pending batches, merge. Returns rows in the table."""
    launch = prepare_folder(run)
    done = together(run.info, lambda: done_units(run.run_dir, run.results, run.info.distributed))
    base_done = len(done.intersection(run.all_ids))
    run.prog = Progress(run.run_dir, launch, run.info.rank, run.total, base_done)
    together(run.info, run.prog.start)  # everyone has read the done set before anyone writes
    execute_pending(run, executor, source, model_loader, done, opts)
    return finish(run, opts[2])


def _failed(run: Launch, exc: BaseException) -> BaseException:
    """Record a stop or failure in the manifest, clean up an empty folder; the error to raise."""
    stopped = isinstance(exc, (RunInterrupted, KeyboardInterrupt))
    if run.prog is not None:
        extra = {} if stopped else {"error": str(exc) or type(exc).__name__}
        run.prog.final("interrupted" if stopped else "failed", **extra)
    discard_if_empty(run)
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
        together(info, lambda: ensure_synthetic(config))
    elif info.distributed:
        together(info, lambda: None)
    # Open the data (folder, annotation CSV, slice selection) before the run folder is made, so
    # that a bad input leaves no half-made run folder behind.
    source, refs = together(info, lambda: _open_source(config, source))
    run = new_launch(config, info, expand_units(config, refs))
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


def _already_finished(run: Launch) -> bool:
    """Whether ``results.csv`` holds every unit already (agreed by every rank)."""
    chash = run.config.hash()
    done = together(run.info, lambda: run.rank0 and finished(run.run_dir, chash, run.all_ids))
    return bool(broadcast(run.info, done))


def _summary_text(run: Launch) -> str:
    """The one-screen summary of the run folder's table (rank 0; ``""`` on the others)."""
    if not run.rank0:
        return ""
    archs = {m.name: m.arch for m in run.config.models}
    return summary_table(run.run_dir / "results.csv", archs)


def _nothing_to_do(run: Launch) -> RunSummary:
    """A finished run re-opened: write nothing (works in a read-only folder)."""
    if run.rank0:
        mark_complete(run.run_dir, run.total)
    total = run.total
    return RunSummary(
        run.run_dir, total, total, 0, True, _summary_text(run), "complete", nothing_to_do=True
    )


def _summary(run: Launch, n_rows: int) -> RunSummary:
    """The outcome of a launch (rank 0 reads the merged table)."""
    total, rank0 = run.total, run.rank0
    status = ("complete" if n_rows >= total else "partial") if rank0 else ""
    done_count = n_rows if rank0 else len(run.results.keys())
    return RunSummary(
        run.run_dir, total, done_count, run.executed, n_rows >= total, _summary_text(run), status
    )


def as_batches(config: ExperimentConfig, refs: Sequence[SliceRef]) -> list[UnitBatch]:
    """Shorthand for :func:`advrecon.experiments.units.expand_units`."""
    return expand_units(config, refs)
