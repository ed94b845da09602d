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
* ``executor(batch, context) -> BatchOutput``, default :func:`execute_batch`, which calls
  :func:`execute_noise_batch` / :func:`execute_rotation_batch` (the only code that calls
  :mod:`advrecon.attacks`).
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import yaml

from advrecon import __version__
from advrecon.boxes import Box
from advrecon.errors import AdvreconError, ConfigError, InputFileError
from advrecon.experiments.config import ExperimentConfig, ModelConfig
from advrecon.experiments.distributed import DistInfo, barrier, init_distributed, shard, shutdown
from advrecon.experiments.store import (
    MANIFEST,
    TidyTable,
    merge_tables,
    prepare_run_dir,
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
    "execute_noise_batch",
    "execute_rotation_batch",
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
            what = (
                f"annotation CSV {ann} matches no slice of a file in the data folder"
                if ann is not None and sel.annotated_only
                else "no slices selected"
            )
            raise InputFileError(config.data.root, what)
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
# attack executors (the only code that calls advrecon.attacks)
# --------------------------------------------------------------------------------------------
def _region_metrics(
    pred: torch.Tensor, target: torch.Tensor, boxes: list[Box], prefix: str
) -> list[dict[str, float]]:
    """Region SSIM/PSNR/NMSE/MSE of ``pred`` vs ``target`` ``(B, h, w)`` (attack conventions)."""
    from advrecon import metrics

    dr = metrics.data_range(target)
    ssim_r, _ = metrics.region_ssim(pred, target, boxes, dr)
    psnr_r = metrics.psnr(pred, target, dr, boxes=boxes)
    nmse_r = metrics.nmse(pred, target, boxes=boxes)
    mse_r = metrics.mse(pred, target, boxes=boxes)
    return [
        {
            f"{prefix}_ssim": float(ssim_r[i]),
            f"{prefix}_psnr": float(psnr_r[i]),
            f"{prefix}_nmse": float(nmse_r[i]),
            f"{prefix}_mse": float(mse_r[i]),
        }
        for i in range(pred.shape[0])
    ]


_REGION_METRICS = ("ssim", "psnr", "nmse", "mse")
#: Attack row fields that describe the attack's item, not the unit (renamed or dropped).
_RENAME = {
    "box_x": "region_x",
    "box_y": "region_y",
    "box_w": "region_width",
    "box_h": "region_height",
    "box_grown": "region_grown",
}
_DROP = ("item", "slice_index", "box_label")


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k in _DROP:
            continue
        out[_RENAME.get(k, k)] = v
    return out


def _box_array(box: Box) -> np.ndarray:
    return np.asarray(box.as_tuple(), dtype=np.int32)


#: eta in the config is in percent of each coil's k-space norm; the attack takes a fraction.
ETA_SCALE = 0.01


def execute_noise_batch(batch: UnitBatch, ctx: BatchContext) -> BatchOutput:
    """All budgets (and boxes) of one (model, rule, target, slice) in one ``noise_attack`` call.

    The k-space batch holds one copy of the slice per ``eta``. Region target: every pathology
    box of the slice is an item with its own perturbation (items ``eta x box``). Complete-image
    target: one item per ``eta`` attacking ``Box.full``; its images are then evaluated on every
    pathology box (``clean_*``/``adv_*``/``control_*`` region columns recomputed here with the
    attack's metric conventions; the random-noise baseline of that attack is only known on the
    whole image, so its region columns are NaN).
    """
    from advrecon.attacks.noise import noise_attack

    cfg = ctx.config.noise
    sample = ctx.sample
    recon_size = tuple(sample.recon_size)
    etas = batch.budgets()
    region = batch.target == "region"
    box_ids = sorted({u.box_index for u in batch.units}) if region else [None]
    per_slice = [batch.ref.boxes[b] for b in box_ids] if region else [Box.full(recon_size)]
    B = len(etas)
    kspace = sample.kspace.to(ctx.device)[None].expand(B, *sample.kspace.shape)
    eta = torch.tensor([e * ETA_SCALE for e in etas], dtype=torch.float64)
    result = noise_attack(
        ctx.model,
        kspace,
        ctx.mask.to(ctx.device),
        ctx.num_low_frequencies,
        [list(per_slice) for _ in etas],
        eta,
        steps=cfg.steps,
        step_size=cfg.step_size,
        random_start=cfg.random_start,
        objective=cfg.objective,
        rule=batch.rule,
        padding=tuple(sample.padding),
        measured_only=cfg.measured_only,
        n_random=cfg.n_random,
        generator=ctx.generator,
        chunk_size=ctx.chunk_size,
        recon_size=recon_size,
    )
    rows = result.to_rows()
    nb = len(box_ids)
    if len(rows) != B * nb or [int(i) for i in result.item_index] != [
        j for j in range(B) for _ in range(nb)
    ]:
        raise RuntimeError("noise_attack returned items in an unexpected order")
    target = result.target.detach().float().cpu()
    clean = result.clean.detach().float().cpu()
    adv = result.adversarial.detach().float().cpu()
    control = result.control.detach().float().cpu()
    out = BatchOutput(rows={})
    for u in batch.units:
        i = etas.index(u.budget) * nb + (box_ids.index(u.box_index) if region else 0)
        row = _clean_row(rows[i])
        if not region:  # evaluate the complete-image attack on the unit's box
            t, box = target[i : i + 1], [u.box]
            for prefix, img in (("clean", clean), ("adv", adv), ("control", control)):
                row.update(_region_metrics(img[i : i + 1], t, box, prefix)[0])
            for prefix in ("rand_mean", "rand_worst"):
                row.update({f"{prefix}_{m}": float("nan") for m in _REGION_METRICS})
        row["eta_percent"] = u.budget
        out.rows[u.id] = row
        out.arrays[u.id] = {
            "target": target[i],
            "clean": clean[i],
            "adversarial": adv[i],
            "reference": control[i],
            "box": _box_array(u.box),
        }
    return out


def execute_rotation_batch(batch: UnitBatch, ctx: BatchContext) -> BatchOutput:
    """One angle sweep per (model, slice) covering every target, box and ``theta_max``.

    Items of the sweep: every pathology box, plus ``Box.full`` when the complete image is a
    target. Region-target rows are the attack's rows. Complete-image rows take the angle the
    whole-image item selects and read the unit box's per-angle curves at that angle (exact, no
    second sweep); ``rand_mean``/``rand_median`` are the box's curve averaged over the window.
    Per-angle curves go to ``rotation_curves.csv``; saved images are those of the largest
    ``theta_max`` (what the attack returns).
    """
    from advrecon.attacks.rotation import rotation_attack

    cfg = ctx.config.rotation
    sample = ctx.sample
    recon_size = tuple(sample.recon_size)
    thetas = batch.budgets()
    boxes = list(batch.ref.boxes)
    want_full = any(u.target == "image" for u in batch.units)
    items = boxes + ([Box.full(recon_size)] if want_full else [])
    full_i = len(items) - 1 if want_full else None
    kspace = sample.kspace.to(ctx.device)[None]
    result = rotation_attack(
        ctx.model,
        kspace,
        ctx.mask.to(ctx.device),
        ctx.num_low_frequencies,
        [items],
        thetas,
        step=cfg.step,
        interpolation=cfg.interpolation,
        select_by=cfg.select_by,
        n_random=cfg.n_random,
        generator=ctx.generator,
        chunk_size=ctx.chunk_size,
        recon_size=recon_size,
    )
    rows = result.to_rows()  # item-major, then theta_max
    T = len(thetas)
    angles = result.angles.detach().double().cpu()
    zero = int(torch.argmin(angles.abs()))
    target = result.target.detach().float().cpu()
    clean = result.clean.detach().float().cpu()
    adv = result.adversarial.detach().float().cpu()
    curves = {k: v.detach().double().cpu() for k, v in result.per_angle.items()}
    out = BatchOutput(rows={})
    for u in batch.units:
        j = thetas.index(u.budget)
        if u.target == "region":
            i = u.box_index
            row = _clean_row(rows[i * T + j])
        else:
            i = full_i
            row = _clean_row(rows[full_i * T + j])
            b = u.box_index if u.box_index >= 0 else full_i
            sel = int(result.selected_index[full_i, j])
            win = result.window[j].cpu()
            for m in _REGION_METRICS:
                c = curves[m][b]
                row[f"clean_{m}"] = float(c[zero])
                row[f"adv_{m}"] = float(c[sel])
                row[f"rand_mean_{m}"] = float(c[win].mean())
                row[f"rand_median_{m}"] = float(c[win].median())
            row["rand_draw_ssim"] = float("nan")
        row["theta_max"] = u.budget
        out.rows[u.id] = row
        out.arrays[u.id] = {
            "target": target[i],
            "clean": clean[i],
            "adversarial": adv[i],
            "reference": target[i],
            "box": _box_array(u.box),
            "angle_deg": np.float32(result.selected_angle[i, -1]),
        }
    for i in range(len(items)):
        t = "image" if i == full_i else "region"
        for k, ang in enumerate(angles.tolist()):
            c = {
                "model": batch.model.name,
                "acceleration": batch.model.acceleration,
                "target": t,
                "file": batch.ref.file,
                "slice": batch.ref.slice,
                "box_index": -1 if i == full_i else i,
                "angle": float(ang),
            }
            c.update({m: float(v[i, k]) for m, v in curves.items()})
            out.curves.append(c)
    return out


def execute_batch(batch: UnitBatch, ctx: BatchContext) -> BatchOutput:
    """Default executor: dispatch on the attack kind."""
    if batch.kind == "noise":
        return execute_noise_batch(batch, ctx)
    if batch.kind == "rotation":
        return execute_rotation_batch(batch, ctx)
    raise ValueError(f"unknown attack kind {batch.kind!r}")


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
    """

    run_dir: Path
    total_units: int
    done_units: int
    executed_units: int
    complete: bool
    summary: str = ""


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
        AdvreconError: bad data/weights paths, a run folder of another config, ...
    """
    from tqdm.auto import tqdm

    executor = executor or execute_batch
    model_loader = model_loader or default_model_loader
    info: DistInfo = init_distributed(config.device)
    try:
        return _run(config, info, executor, source, model_loader, max_units, progress, tqdm)
    finally:
        shutdown(info)


def _discard_new_dirs(new_dirs: list[Path]) -> None:
    """Remove the folders (deepest first) made for a run that failed before any result."""
    if not new_dirs:
        return
    run_dir = new_dirs[0]
    arrays = run_dir / "arrays"
    if any(run_dir.glob("*.csv")) or (arrays.is_dir() and any(arrays.iterdir())):
        return
    if arrays.is_dir():
        arrays.rmdir()
    for name in ("config.yaml", MANIFEST):
        (run_dir / name).unlink(missing_ok=True)
    for d in new_dirs:
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()


def _run(config, info, executor, source, model_loader, max_units, progress, tqdm) -> RunSummary:
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
    if info.rank == 0 and source is None and config.data.kind == "synthetic":
        ensure_synthetic(config)
    barrier(info)
    # Open the data (folder, annotation CSV, slice selection) before the run folder is made, so
    # that a bad input leaves no half-made run folder behind.
    source = source if source is not None else DatasetSource(config)
    refs = source.refs()
    batches = expand_units(config, refs)
    total = sum(len(b.units) for b in batches)
    new_dirs = [d for d in (run_dir, *run_dir.parents) if not d.exists()]
    if info.rank == 0:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=True)
    barrier(info)
    if info.rank != 0:
        prepare_run_dir(run_dir, chash, cfg_yaml, manifest, create=False)

    dist_run = info.distributed
    part = f".rank{info.rank}" if dist_run else ""
    results = TidyTable(run_dir / f"results{part}.csv", first=KEY_COLUMNS)
    curves = TidyTable(run_dir / f"rotation_curves{part}.csv", key="curve_id", first=CURVE_COLUMNS)
    done = set(results.keys())
    others = [run_dir / "results.csv"] if dist_run else []
    others += [p for p in run_dir.glob("results.rank*.csv") if p != results.path]
    for p in others:  # units finished earlier or by other ranks / world sizes
        done |= {r["unit_id"] for r in TidyTable(p).read(repair=False)[1]}
    barrier(info)  # everyone has read the done set before anyone writes

    mine = shard(batches, info)
    my_total = sum(len(b.units) for b in mine)
    my_done = sum(u.id in done for b in mine for u in b.units)
    pending = [b for b in mine if any(u.id not in done for u in b.units)]
    bar = tqdm(
        total=my_total,
        initial=my_done,
        unit="unit",
        desc=f"{config.name} rank{info.rank}" if dist_run else config.name,
        disable=not progress or info.rank != 0,
        dynamic_ncols=True,
    )
    provenance = {
        "advrecon_version": __version__,
        "config_hash": chash[:10],
        "seed": config.seed,
        "device_type": torch.device(info.device).type,
    }
    executed = 0
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
                if config.arrays == "all" and u.id in out.arrays:
                    name = f"arrays/{_array_name(u.id)}"
                    save_arrays(run_dir / name, out.arrays[u.id])
                    row["arrays_file"] = name
                rows.append(row)
            for c in out.curves:
                c["curve_id"] = _curve_id(c)
            curves.append(out.curves)
            n = results.append(rows)  # the commit point of the batch
            done.update(r["unit_id"] for r in rows)
            executed += n
            bar.update(n)
    except AdvreconError:
        # A user mistake found only now (e.g. an unreadable checkpoint): do not leave behind
        # the empty run folder this call made.
        if info.rank == 0 and not dist_run and executed == 0:
            _discard_new_dirs(new_dirs)
        raise
    finally:
        bar.close()

    barrier(info)
    summary = ""
    complete = False
    final = run_dir / "results.csv"
    if info.rank == 0:
        parts = sorted(run_dir.glob("results.rank*.csv"))
        n_rows = merge_tables([final, *parts], final, first=KEY_COLUMNS)
        cparts = sorted(run_dir.glob("rotation_curves.rank*.csv"))
        merge_tables(
            [run_dir / "rotation_curves.csv", *cparts],
            run_dir / "rotation_curves.csv",
            key="curve_id",
            first=CURVE_COLUMNS,
        )
        for p in [*parts, *cparts]:
            p.unlink()
        complete = n_rows >= total
        update_manifest(
            run_dir,
            status="complete" if complete else "partial",
            total_units=total,
            done_units=n_rows,
            updated=time.strftime("%Y-%m-%dT%H:%M:%S"),
        )
        summary = summary_table(final)
        done_count = n_rows
    else:
        done_count = len(results.keys())
    barrier(info)
    return RunSummary(run_dir, total, done_count, executed, complete, summary)


def as_batches(config: ExperimentConfig, refs: Sequence[SliceRef]) -> list[UnitBatch]:
    """Shorthand for :func:`advrecon.experiments.units.expand_units`."""
    return expand_units(config, refs)
