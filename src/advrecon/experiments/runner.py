"""Run an experiment: config -> work units -> attack calls -> durable results table.

:func:`run_experiment` expands the config into unit batches (:mod:`.units`), skips the units
already in the run folder's ``results.csv``, shards the rest across ``torchrun`` ranks
(:mod:`.distributed`), executes each batch with one attack call and appends one tidy row per
unit (:mod:`.store`). Arrays for the qualitative panels go to ``arrays/<unit>.npz`` and the
per-angle rotation curves to ``rotation_curves.csv``; figures are made from these files only.

The three pieces that touch other packages are injectable, so the store/runner/sharding logic
can be tested on its own and adapted if an API shifts:

* ``source``: :class:`SliceSource` (``refs()`` and ``load(ref)``), default :class:`DatasetSource`
  over :class:`advrecon.data.fastmri.SliceDataset`;
* ``model_loader(model_config, recon_size, device) -> Reconstructor``, default
  :func:`default_model_loader` over :func:`advrecon.models.checkpoints.load_reconstructor`;
* ``executor(batch, context) -> BatchOutput``, default
  :func:`advrecon.experiments.executor.execute_batch` (one executor for every threat model,
  dispatching through :mod:`advrecon.attacks.registry`; importable from here too).
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
from typing import Any, Protocol, TypeVar

import torch
import yaml

from advrecon import __version__
from advrecon.errors import (
    AdvreconError,
    ConfigError,
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
from advrecon.experiments.run_loop import Interrupts, Progress, check_finite, progress_files
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
from advrecon.experiments.units import KEY_COLUMNS, REGION_SSIM, SliceRef, UnitBatch, expand_units

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
    "CURVE_COLUMNS",
]

log = logging.getLogger(__name__)

CURVE_COLUMNS = [
    "curve_id",
    "model",
    "acceleration",
    "target",
    "file",
    "slice",
    "box_index",
    "angle",
]
#: Unit-level arrays saved for the qualitative panels.
ARRAY_KEYS = ("target", "clean", "adversarial", "reference", "box")


# --------------------------------------------------------------------------------------------
# contracts of the injectable pieces
# --------------------------------------------------------------------------------------------
@dataclass
class BatchContext:
    """Everything an executor needs for one batch.

    Attributes:
        config: The experiment.
        model: The frozen reconstructor (``None`` only with custom executors/loaders).
        sample: The slice (:class:`advrecon.data.fastmri.SliceSample` or a test double).
        mask: Undersampling mask ``(1, 1, 1, W)`` of this slice (same for every model/attack).
        num_low_frequencies: Of the mask.
        device: Torch device.
        generator: Random generator seeded with ``batch.seed``.
        chunk_size: Largest batch per forward pass (``None``: all at once).
    """

    config: ExperimentConfig
    model: Any
    sample: Any
    mask: torch.Tensor | None
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
            ``reference`` = fully-sampled image under the same perturbation, ``box``).
        curves: Tidy per-angle rows (rotation): the keys of :data:`CURVE_COLUMNS` but
            ``curve_id`` plus metrics.
    """

    rows: dict[str, dict[str, Any]]
    arrays: dict[str, dict[str, Any]] = field(default_factory=dict)
    curves: list[dict[str, Any]] = field(default_factory=list)


class SliceSource(Protocol):
    def refs(self) -> list[SliceRef]: ...

    def load(self, ref: SliceRef) -> Any: ...


Executor = Callable[[UnitBatch, BatchContext], BatchOutput]
ModelLoader = Callable[[ModelConfig, tuple[int, int], str], Any]


# --------------------------------------------------------------------------------------------
# default data source and model loader
# --------------------------------------------------------------------------------------------
def _select(refs: list[SliceRef], config: ExperimentConfig) -> list[SliceRef]:
    """Apply ``one_per_volume`` (the middle eligible slice) and ``max_slices``."""
    sel = config.slices
    refs = sorted(refs, key=lambda r: (r.file, r.slice))
    if sel.select is None and sel.one_per_volume:
        by_file: dict[str, list[SliceRef]] = {}
        for r in refs:
            by_file.setdefault(r.file, []).append(r)
        refs = [rs[len(rs) // 2] for rs in by_file.values()]
    if sel.select is None and sel.max_slices is not None:
        refs = refs[: sel.max_slices]
    return refs


def ensure_synthetic(config: ExperimentConfig) -> None:
    """Generate the synthetic data folder if it holds no ``.h5`` files (the generator is atomic)."""
    root = Path(config.data.root)
    if root.is_dir() and any(root.glob("*.h5")):
        return
    from advrecon.data import synthetic

    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.data.synthetic.items()}
    try:
        synth = synthetic.SynthConfig(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"data.synthetic: {exc}") from None
    synthetic.generate_dataset(root, synth)


class DatasetSource:
    """Slices of a fastMRI(-format) folder through :class:`advrecon.data.fastmri.SliceDataset`.

    Args:
        config: The experiment (``data`` and ``slices`` sections).
    """

    def __init__(self, config: ExperimentConfig) -> None:
        from advrecon.data.fastmri import SliceDataset

        self.config = config
        ann = config.data.annotations_path()
        if ann is not None and not ann.is_file():
            if config.data.annotations is not None or config.slices.annotated_only:
                raise InputFileError(ann, "annotation CSV not found (config key data.annotations)")
            ann = None
        sel = config.slices
        slices = None
        if sel.select is not None:
            slices = {}
            for f, s in sel.select:
                slices.setdefault(f, []).append(s)
        self.dataset = SliceDataset(
            config.data.root,
            annotations=ann,
            annotated_only=sel.annotated_only and sel.select is None,
            box_policy=sel.box_policy,
            slices=slices,
        )
        self._where = {}
        refs = []
        for idx, (v, i) in enumerate(self.dataset.samples):
            vol = self.dataset.volumes[v]
            boxes = self.dataset.annotations.boxes(vol.fname, i) if self.dataset.annotations else []
            ref = SliceRef(vol.fname, int(i), tuple(boxes), tuple(vol.recon_size))
            self._where[(ref.file, ref.slice)] = idx
            refs.append(ref)
        if sel.select is not None:
            missing = [f"{f}:{s}" for f, s in sel.select if (f, s) not in self._where]
            if missing:
                raise InputFileError(
                    config.data.root,
                    "selected slice(s) not found: "
                    + ", ".join(missing)
                    + " (config key slices.select)",
                )
        if not refs:
            what = "no slices selected"
            if ann is not None and sel.annotated_only:
                from advrecon.data.annotations import explain_no_boxes

                what = explain_no_boxes(ann, self.dataset.annotations, self.dataset.volumes)
            raise InputFileError(config.data.root, what)
        # Headers and geometry are checked when the volumes are opened; the k-space of a slice
        # (all zero, NaN, Inf) when it is loaded for its first unit, which then stops the run
        # with an error naming file and slice: no slice is read twice, and no NaN row written.
        self._refs = _select(refs, config)

    def refs(self) -> list[SliceRef]:
        return list(self._refs)

    def load(self, ref: SliceRef) -> Any:
        return self.dataset[self._where[(ref.file, ref.slice)]]


def default_model_loader(m: ModelConfig, recon_size: tuple[int, int], device: str) -> Any:
    """Reconstructor for a model entry (checkpoint, shipped demo weights or ``module:callable``)."""
    from advrecon.models import checkpoints
    from advrecon.models.reconstructor import ZeroFilled

    if m.arch == "zero_filled":
        return ZeroFilled(recon_size).to(device).freeze()
    if m.shipped:
        spec: Any = checkpoints.shipped_weights(m.arch, m.acceleration)
    elif m.checkpoint is not None:
        spec = Path(m.checkpoint)
        if not spec.exists():
            raise InputFileError(spec, "checkpoint not found; edit the config to point at it")
    else:
        spec = m.spec
    arch = m.arch if m.arch in ("unet", "varnet") else None
    recon = checkpoints.load_reconstructor(
        spec, recon_size, device=device, arch=arch, preset=m.preset
    )
    recon.label = f"{m.key} ({spec})"  # a misbehaving model's errors name the config entry
    return recon.freeze()


def make_mask(config: ExperimentConfig, m: ModelConfig, sample: Any) -> tuple[torch.Tensor, Any]:
    """The slice's mask: fixed per volume, so every model/attack sees the same one.

    With ``masks.seed: per_volume`` the seed is ``tuple(map(ord, fname))`` as in fastMRI's
    validation data; an ``int`` seed is shared by all slices.

    Returns:
        ``(mask (1, 1, 1, W) float32, num_low_frequencies)``.
    """
    from advrecon.masks import create_mask_for_mask_type

    func = create_mask_for_mask_type(config.masks.type, [m.center_fraction], [m.acceleration])
    kspace = sample.kspace
    shape = (1, *kspace.shape[-3:])
    if config.masks.seed == "per_volume":
        seed: Any = [tuple(map(ord, sample.fname))]
    else:
        seed = int(config.masks.seed)
    padding = getattr(sample, "padding", None)
    mask, nlf = func(shape, seed=seed, padding=tuple(padding) if padding is not None else None)
    return mask.reshape(1, 1, 1, -1).float(), nlf


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


def summary_table(results_csv: Path) -> str:
    """Mean region SSIM (adversarial) per model/acceleration/attack/rule/target and budget."""
    import pandas as pd

    if not Path(results_csv).is_file():
        return ""
    df = pd.read_csv(results_csv)
    if df.empty or REGION_SSIM not in df.columns:
        return ""
    keys = ["model", "acceleration", "attack", "rule", "target"]
    table = df.pivot_table(index=keys, columns="budget", values=REGION_SSIM, aggfunc="mean")
    table.columns = [f"{c:g}" for c in table.columns]
    return (
        "mean region SSIM under attack (columns: budget, eta % or theta_max deg)\n"
        + table.to_string(float_format=lambda x: f"{x:.3f}", na_rep="-")
    )


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
    from tqdm.auto import tqdm

    executor = executor or execute_batch
    model_loader = model_loader or default_model_loader
    info: DistInfo = init_distributed(config.device)
    try:
        with Interrupts() as interrupts:
            return _run(
                config, info, executor, source, model_loader, max_units, progress, tqdm, interrupts
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


def _commit(run_dir: Path, config: ExperimentConfig, rows, out, results, curves) -> int:
    """Write one batch: arrays, curves, then the rows (the commit point). Returns rows written."""
    for row in rows:
        uid = row["unit_id"]
        if config.arrays == "all" and uid in out.arrays:
            name = f"arrays/{_array_name(uid)}"
            save_arrays(run_dir / name, out.arrays[uid])
            row["arrays_file"] = name
    for c in out.curves:
        c["curve_id"] = _curve_id(c)
    curves.append(out.curves)
    return results.append(rows)


def _run(
    config, info, executor, source, model_loader, max_units, progress, tqdm, interrupts=None
) -> RunSummary:
    interrupts = interrupts or Interrupts()
    run_dir = config.run_dir()
    chash = config.hash()
    cfg_yaml = yaml.safe_dump(config.to_dict(), sort_keys=False)
    manifest = {
        "advrecon_version": __version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "name": config.name,
        "status": "running",
    }
    rank0 = info.rank == 0
    if rank0 and source is None and config.data.kind == "synthetic":
        _together(info, lambda: ensure_synthetic(config))
    elif info.distributed:
        _together(info, lambda: None)
    # Open the data (folder, annotation CSV, slice selection) before the run folder is made, so
    # that a bad input leaves no half-made run folder behind.
    source, refs = _together(info, lambda: _open_source(config, source))
    batches = expand_units(config, refs)
    all_ids = [u.id for b in batches for u in b.units]
    total = len(all_ids)
    finished = _together(info, lambda: rank0 and _finished(run_dir, chash, all_ids))
    if broadcast(info, finished):  # nothing to do: write nothing (works in a read-only folder)
        if rank0:
            _mark_complete(run_dir, total)
        summary = summary_table(run_dir / "results.csv") if rank0 else ""
        return RunSummary(run_dir, total, total, 0, True, summary, "complete", nothing_to_do=True)

    new_dirs = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    lock = RunLock(run_dir / (LOCK if rank0 else f"run.rank{info.rank}.lock"), run_dir)
    dist_run = info.distributed
    part = f".rank{info.rank}" if dist_run else ""
    results = TidyTable(run_dir / f"results{part}.csv", first=KEY_COLUMNS)
    curves = TidyTable(
        run_dir / f"rotation_curves{part}.csv",
        key="curve_id",
        first=CURVE_COLUMNS,
        what="rotation curves",
    )
    prog: Progress | None = None
    executed = 0

    def setup_rank0() -> str:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)  # another config?
        with os_errors("create run folder", run_dir):
            run_dir.mkdir(parents=True, exist_ok=True)
        lock.acquire()  # before anything is written: a refused second run touches nothing
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=True)
        for p in run_dir.glob("run.rank*.lock"):  # a worker of an earlier launch still running?
            RunLock(p, run_dir).probe()
        _vet_parts(run_dir)
        return f"{platform.node()}:{os.getpid()}:{time.time():.3f}"

    def setup_other() -> None:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)
        lock.acquire()

    try:
        launch = broadcast(info, _together(info, setup_rank0 if rank0 else lambda: ""))
        if not rank0:
            _together(info, setup_other)
        elif dist_run:
            _together(info, lambda: None)
        done = _together(info, lambda: _done_units(run_dir, results, dist_run))
        base_done = len(done.intersection(all_ids))
        prog = Progress(run_dir, launch, info.rank, total, base_done)
        _together(info, prog.start)  # everyone has read the done set before anyone writes

        mine = shard(batches, info)
        my_total = sum(len(b.units) for b in mine)
        my_done = sum(u.id in done for b in mine for u in b.units)
        pending = [b for b in mine if any(u.id not in done for u in b.units)]
        bar = tqdm(
            total=my_total,
            initial=my_done,
            unit="unit",
            desc=f"{config.name} rank{info.rank}" if dist_run else config.name,
            disable=not progress or not rank0,
            dynamic_ncols=True,
        )
        provenance = {
            "advrecon_version": __version__,
            "config_hash": chash[:10],
            "seed": config.seed,
            "device_type": torch.device(info.device).type,
        }
        models: dict[tuple, Any] = {}
        sample_cache: tuple[Any, Any] = (None, None)
        try:
            for batch in pending:
                if max_units is not None and executed >= max_units:
                    break
                ref = batch.ref
                if sample_cache[0] != (ref.file, ref.slice):
                    sample_cache = ((ref.file, ref.slice), source.load(ref))
                sample = sample_cache[1]
                mkey = (batch.model.key, tuple(ref.recon_size))
                if mkey not in models:
                    models.clear()  # one model in memory at a time
                    models[mkey] = model_loader(batch.model, tuple(ref.recon_size), info.device)
                mask, nlf = (
                    make_mask(config, batch.model, sample)
                    if hasattr(sample, "kspace")
                    else (None, None)
                )
                gen = torch.Generator().manual_seed(batch.seed)
                ctx = BatchContext(
                    config,
                    models[mkey],
                    sample,
                    mask,
                    nlf,
                    torch.device(info.device),
                    gen,
                    config.chunk_size,
                )
                t0 = time.perf_counter()
                out = executor(batch, ctx)
                dt = time.perf_counter() - t0
                rows = []
                for u in batch.units:
                    if u.id in done:
                        continue
                    if u.id not in out.rows:
                        raise RuntimeError(f"executor returned no row for unit {u.id}")
                    row = {
                        **u.key_columns(),
                        **out.rows[u.id],
                        **provenance,
                        "batch_key": batch.key,
                        "batch_seed": batch.seed,
                        "time_batch_s": dt,
                        "time_unit_s": dt / len(batch.units),
                    }
                    row.update(u.key_columns())  # executors cannot overwrite the identity
                    rows.append(row)
                check_finite(batch, {r["unit_id"]: r for r in rows})
                with interrupts.commit():  # the batch and its count: all or nothing
                    n = _commit(run_dir, config, rows, out, results, curves)
                    done.update(r["unit_id"] for r in rows)
                    executed += n
                    bar.update(n)
                    prog.advance(n)
        finally:
            bar.close()
            if not rank0:
                lock.release()

        barrier(info)  # every rank has finished: only now are the parts merged

        def finish() -> int:
            n_rows = _merge_parts(run_dir)
            status = "complete" if n_rows >= total else "partial"
            prog.status(status, done=n_rows)
            return n_rows

        with interrupts.commit():
            n_rows = _together(info, finish if rank0 else lambda: 0)
    except (RunInterrupted, KeyboardInterrupt) as exc:
        if prog is not None:
            prog.final("interrupted")
        _discard_if_empty(info, lock, new_dirs, executed)
        saved = f"{prog.done()}/{total} units" if prog is not None and rank0 else "the results"
        raise RunInterrupted(
            f"{str(exc) or 'interrupted'}; {saved} are saved in {run_dir}; "
            "run the same command again to resume"
        ) from None
    except BaseException as exc:
        if prog is not None:
            prog.final("failed", error=str(exc) or type(exc).__name__)
        _discard_if_empty(info, lock, new_dirs, executed)
        raise
    finally:
        lock.release()

    status = ("complete" if n_rows >= total else "partial") if rank0 else ""
    summary = summary_table(run_dir / "results.csv") if rank0 else ""
    done_count = n_rows if rank0 else len(results.keys())
    return RunSummary(run_dir, total, done_count, executed, n_rows >= total, summary, status)


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
