"""The loop over this process's batches: execute each, check it, commit it as one step.

For every pending batch of this rank (:func:`~.distributed.shard`), in order: load its model
(one in memory at a time: batches are model-major) and its slice (each read once), build the
executor's :class:`~.executor_types.BatchContext` (the slice's mask, a generator seeded with
the batch seed), run the executor through the :class:`~.memory.ChunkPlanner` (a chunk size
that fits), refuse non-finite metrics, then commit: the unit arrays, the curve rows and last
the result rows (the commit point), signals deferred (:meth:`~.interrupts.Interrupts.commit`).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from advrecon._version import __version__
from advrecon.experiments.compat import ARRAY_RENAMES
from advrecon.experiments.distributed import DistInfo, shard
from advrecon.experiments.executor_types import BatchContext, BatchOutput, Executor, ModelLoader
from advrecon.experiments.finite_results import check_finite
from advrecon.experiments.interrupts import Interrupts
from advrecon.experiments.launch import Launch
from advrecon.experiments.loading import make_mask
from advrecon.experiments.memory import ChunkPlanner
from advrecon.experiments.progress import ModelEta
from advrecon.experiments.results_store import save_arrays
from advrecon.experiments.schema import results_row
from advrecon.experiments.source import SliceSource
from advrecon.experiments.units import SliceRef, UnitBatch

__all__ = ["execute_pending", "provenance"]


def provenance(config: Any, info: DistInfo) -> dict[str, Any]:
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


def _context(run: Launch, batch: UnitBatch, model: Any, sample: Any) -> BatchContext:
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
        rows.append(results_row(u.key_columns(), out.rows[u.id], {**extra, **timing}))
    return rows


def _curve_id(c: dict[str, Any]) -> str:
    box = "ball" if int(c["box_index"]) < 0 else f"b{int(c['box_index']):02d}"
    return (
        f"{c['model']}@{c['acceleration']}x/{c['target']}/{c['file']}/s{int(c['slice']):04d}/"
        f"{box}/a{float(c['angle']):+08.3f}"
    )


def _array_name(uid: str) -> str:
    return uid.replace("/", "~").replace("@", "_") + ".npz"


def _commit(run: Launch, rows: list[dict[str, Any]], out: BatchOutput) -> int:
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


def _model_eta(pending: list[UnitBatch], done: set[str]) -> ModelEta:
    """Time left per model, from the units of each model still to do."""
    left: dict[str, int] = {}
    for b in pending:
        left[b.model.key] = left.get(b.model.key, 0) + sum(u.id not in done for u in b.units)
    return ModelEta(left)


def execute_pending(
    run: Launch,
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
    extra = provenance(run.config, run.info)
    models, slices = _Models(model_loader, run.info.device), _Slices(source)
    planner = ChunkPlanner(run.config.chunk_size, run.config.memory_limit, run.info.device)
    eta = _model_eta(pending, done)
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
