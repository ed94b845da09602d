"""The results schema, declared once: columns of ``results.csv`` / ``results.parquet``.

One row per work unit (model, acceleration, attack, rule, target, budget, slice, box). The
columns, in the order they are written:

1. :data:`KEY_COLUMNS` -- what identifies the unit (``budget`` is in the unit of
   :data:`BUDGET_UNITS` of its attack, each threat model's ``budget_unit``);
2. every other column sorted by name (metrics, attack settings, provenance);
3. ``time_*`` columns last.

Metric columns are ``<prefix>_<metric>`` (inside the unit's region) and
``<prefix>_<metric>_full`` (the whole reconstruction; for rotations minus the pixels that left
the field of view), with ``prefix`` in :data:`METRIC_PREFIXES` (those every threat model
writes; a threat model declares its own, e.g. its random baseline, in its ``columns``) and
``metric`` in :data:`METRIC_UNITS`. The region the attack actually used (after growth to the
SSIM window) is ``region_x/region_y/region_width/region_height/region_grown``; the unit's box
is ``box_x/box_y/box_width/box_height``.

:data:`COLUMNS` (also :func:`columns`) is the base columns declared here merged with every
registered threat model's ``columns`` (:class:`~advrecon.attacks.contract.ThreatModel`), read
from the registry on each access.

No column says the same thing twice: the attacks' own names for the budget (``eta`` as a
fraction, ``eta_percent``, ``theta_max``, ``theta_max_deg``) are dropped from the rows
(:data:`DROPPED_ATTACK_FIELDS`) in favour of ``budget``; run folders written before this schema
are read through :data:`OLD_NAMES` and :data:`OLD_BUDGET_NAMES` (:mod:`.compat`, re-exported
here; :func:`advrecon.report.tables.load_run`).
"""

from __future__ import annotations

from advrecon.attacks.contract import Column
from advrecon.attacks.registry import threat_models
from advrecon.experiments.compat import ARRAY_RENAMES, OLD_BUDGET_NAMES, OLD_NAMES
from advrecon.experiments.registry_views import RegistryView

__all__ = [
    "Column",
    "KEY_COLUMNS",
    "CURVE_COLUMNS",
    "CURVES",
    "PROVENANCE_COLUMNS",
    "BUDGET_UNITS",
    "METRIC_UNITS",
    "METRIC_PREFIXES",
    "COLUMNS",
    "DROPPED_ATTACK_FIELDS",
    "ARRAY_RENAMES",
    "ARRAY_KEYS",
    "OLD_NAMES",
    "OLD_BUDGET_NAMES",
    "column",
    "columns",
    "results_row",
    "dtype_of",
]


#: Columns that identify a unit (first columns of the results table, in this order).
KEY_COLUMNS = [
    "unit_id",
    "model",
    "acceleration",
    "attack",
    "rule",
    "target",
    "budget",
    "file",
    "slice",
    "box_index",
    "box_label",
    "box_x",
    "box_y",
    "box_width",
    "box_height",
]
#: Stem of the per-budget-point curve table (``<CURVES>.csv``; ``<CURVES>.rank{r}.csv`` on the
#: ranks of a distributed run): a threat model's :meth:`UnitScores.curves` rows.
CURVES = "rotation_curves"
#: Columns that identify a row of the curve table (first columns, in this order).
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
#: Provenance the run loop adds to every row.
PROVENANCE_COLUMNS = ["advrecon_version", "config_hash", "seed", "device_type"]

#: Unit of ``budget`` per attack (each registered threat model's ``budget_unit``).
BUDGET_UNITS = RegistryView(lambda: {n: t.budget_unit for n, t in threat_models().items()})
#: Metrics and their units.
METRIC_UNITS = {
    "ssim": "1 (structural similarity, 7x7 window)",
    "psnr": "dB",
    "nmse": "1 (||x - y||^2 / ||y||^2)",
    "mse": "image intensity squared",
}
#: Metric prefixes every threat model writes, and what they evaluate.
METRIC_PREFIXES = {
    "clean": "reconstruction without perturbation",
    "adv": "reconstruction under the attack",
    "control": "fully-sampled target under the same perturbation, no model",
    "rand_mean": "random perturbation of the same budget: mean over draws / the angle window",
}

_S, _I, _F, _B = "str", "int", "float", "bool"
#: Columns every row has (keys, regions, provenance, timing).
_BASE: dict[str, Column] = {
    "unit_id": Column(_S, "", "readable unit id (key of the table)"),
    "model": Column(_S, "", "model name of the config"),
    "acceleration": Column(_I, "x", "undersampling factor"),
    "attack": Column(_S, "", "threat model (the plug-in's name)"),
    "rule": Column(_S, "", "the threat model's rule (its update rule or search)"),
    "target": Column(_S, "", "region (pathology box) or image (complete image) attack"),
    "budget": Column(_F, "per attack: BUDGET_UNITS", "attack budget, in the threat model's unit"),
    "file": Column(_S, "", "volume file stem"),
    "slice": Column(_I, "", "slice index in the volume"),
    "box_index": Column(_I, "", "index of the unit's box in the slice (-1: none)"),
    "box_label": Column(_S, "", "fastMRI+ label of the unit's box"),
    "box_x": Column(_I, "px", "unit's box: left column (reconstruction frame)"),
    "box_y": Column(_I, "px", "unit's box: top row"),
    "box_width": Column(_I, "px", "unit's box: width"),
    "box_height": Column(_I, "px", "unit's box: height"),
    "region_x": Column(_I, "px", "region the attack used (after growth): left column"),
    "region_y": Column(_I, "px", "region the attack used: top row"),
    "region_width": Column(_I, "px", "region the attack used: width"),
    "region_height": Column(_I, "px", "region the attack used: height"),
    "region_grown": Column(_B, "", "the box was grown to the 7x7 SSIM window"),
    "data_range_convention": Column(_S, "", "SSIM/PSNR data range: maxmin or max"),
    "advrecon_version": Column(_S, "", "package version that computed the row"),
    "config_hash": Column(_S, "", "first 10 hex digits of the config hash"),
    "seed": Column(_I, "", "config seed"),
    "device_type": Column(_S, "", "cpu or cuda"),
    "batch_key": Column(_S, "", "id of the attack call the unit belongs to"),
    "batch_seed": Column(_I, "", "seed of that call's random generator"),
    "arrays_file": Column(_S, "", "npz file of the unit's images (arrays: all)"),
    "time_batch_s": Column(_F, "s", "wall time of the attack call"),
    "time_unit_s": Column(_F, "s", "time_batch_s / units of the call"),
}

#: Settings columns of the shipped threat models that their plug-ins do not declare (yet) in
#: their own ``columns``; a plug-in's declaration of the same name takes their place.
_SETTINGS: dict[str, Column] = {
    # noise attack
    "noise_to_thermal": Column(_F, "1", "||z_i|| / (sigma_i sqrt(n_i)) averaged over coils"),
    "objective": Column(_S, "", "noise objective (mse / ssim)"),
    "objective_clean": Column(_F, "", "objective at the first iterate"),
    "objective_adv": Column(_F, "", "objective at the returned iterate"),
    "best_step": Column(_I, "", "index of the returned iterate (0 = start)"),
    "search": Column(_S, "", "noise gradient search: pgd or apgd"),
    "restarts": Column(_I, "", "noise search runs per item (best kept); cost restarts x steps"),
    "steps": Column(_I, "", "PGD steps"),
    "step_size": Column(_F, "1", "step size relative to the budget"),
    "random_start": Column(_B, "", "PGD started from a random point of the ball"),
    "measured_only": Column(_B, "", "noise only on the acquired k-space columns"),
    "n_random": Column(_I, "", "random draws of the baseline"),
    # rotation attack
    "angle_deg": Column(_F, "deg", "selected worst angle"),
    "select_by": Column(_S, "", "metric that selects the worst angle"),
    "interpolation": Column(_S, "", "rotation interpolation: paper or fourier"),
    "grid": Column(_S, "", "angle grid: inclusive or exclusive"),
    "identity_at_zero": Column(_B, "", "angle 0 exact instead of resampled"),
    "coils": Column(_S, "", "rotation: coil images turn (rotate) or anatomy in fixed coils"),
    "step_deg": Column(_F, "deg", "angle grid step"),
    "num_angles": Column(_I, "", "grid angles in the window of budget"),
    "rand_draw_ssim": Column(_F, "1", "mean SSIM over n_random drawn angles"),
    # motion attack
    "motion_t_max_px": Column(_F, "px", "translation bound per shot and axis"),
    "motion_units": Column(_S, "", "units of the config's t_max: px or mm"),
    "motion_shots": Column(_I, "", "shots (shot 0: the still reference)"),
    "motion_order": Column(_S, "", "column order of the shots: interleaved or sequential"),
    "motion_centre": Column(_S, "", "centre band: in the reference shot or distributed"),
    "motion_coils": Column(_S, "", "coils move with the patient or stay fixed"),
    "motion_worst_angle_deg": Column(_F, "deg", "largest |theta_s| of the worst motion"),
    "motion_worst_shift_px": Column(_F, "px", "largest |t_s| component of the worst motion"),
    "single_shot": Column(_I, "", "shot moved by the worst single-shot motion (0: none)"),
    # missing features
    "feature_size_px": Column(_I, "px", "feature diameter (disc, blob) or side / length"),
    "feature_shape": Column(_S, "", "feature shape: disc, square, blob or line"),
    "polarity": Column(_S, "", "feature: bright or dark"),
    "min_fill": Column(_F, "1", "feature: least mass kept, fraction of the uniform feature's"),
}


def _metric_columns() -> dict[str, Column]:
    out = {}
    for p, what in METRIC_PREFIXES.items():
        for m, unit in METRIC_UNITS.items():
            out[f"{p}_{m}"] = Column(_F, unit, f"{m}, inside the region: {what}")
            out[f"{p}_{m}_full"] = Column(_F, unit, f"{m}, whole image: {what}")
    return out


_DECLARED_HERE: dict[str, Column] = {**_BASE, **_metric_columns()}


def columns() -> dict[str, Column]:
    """Every declared column of ``results.csv``: name -> :class:`Column`.

    The base columns (keys, regions, provenance, timing, the common metrics) and every
    registered threat model's ``columns``, in registry order; a base column is never redeclared.
    """
    out = dict(_DECLARED_HERE)
    plugins: dict[str, Column] = {}
    for threat in threat_models().values():
        for name, col in threat.columns.items():
            if name not in out:
                plugins.setdefault(name, col)
    settings = {k: v for k, v in _SETTINGS.items() if k not in plugins}
    return {**out, **settings, **plugins}


#: Every declared column of ``results.csv`` (a mapping over :func:`columns`).
COLUMNS = RegistryView(columns)

#: Fields of an executor's rows that are not written: per-item bookkeeping of the attack and
#: the attacks' own names for the budget (``budget`` says it once).
DROPPED_ATTACK_FIELDS = (
    "item",
    "slice_index",
    "eta",
    "eta_percent",
    "theta_max",
    "theta_max_deg",
    "contrast_percent",
)
#: Unit-level arrays saved for the qualitative panels.
ARRAY_KEYS = ("target", "clean", "adversarial", "control", "box")


def column(name: str) -> Column | None:
    """The declaration of ``name`` (``None``: an extra column of a custom executor)."""
    return columns().get(name)


def dtype_of(name: str) -> str | None:
    """Declared type of a column (``str``/``int``/``float``/``bool``) or ``None``."""
    c = columns().get(name)
    return None if c is None else c.dtype


def results_row(key: dict, attack_row: dict, extra: dict) -> dict:
    """Assemble one results row: key columns, the executor's fields (synonyms dropped), extras.

    Args:
        key: :meth:`~advrecon.experiments.units.WorkUnit.key_columns` of the unit.
        attack_row: The executor's row for the unit.
        extra: Provenance and timing columns.

    Returns:
        The row; the key columns win over anything an executor returns.
    """
    kept = {k: v for k, v in attack_row.items() if k not in DROPPED_ATTACK_FIELDS}
    return {**key, **kept, **extra, **key}
