"""The threat-model plug-in contract: what a plug-in declares (types only).

A *threat model* is one plug-in: a :class:`ThreatModel` value that says

* its ``name`` (the config section ``attacks.<name>`` and the ``attack`` column),
* its config ``section`` (a pydantic model, frozen, unknown keys rejected),
* its budget: ``budget_column`` (the attack's own name for it), ``budget_unit`` (in words, for
  the schema), ``budget_symbol`` (``"%"``, ``" deg"``: how a number is printed) and the
  ``unit_letter`` of the unit id (``e`` for ``e002.500``),
* its result ``columns`` (merged into the results schema),
* its ``batch_groups`` (how the units of one (model, slice) group into attack calls) and ``run``
  (one attack call serving every unit of a batch, returning :class:`UnitScores`),
* its ``report`` hooks (:class:`ReportHooks`: figures, panels, findings, tables and sections,
  each a function of the run's results table and saved arrays).

This module imports no threat model and nothing downstream (experiments, report): every other
part of advrecon depends on it, never the reverse. The registry
(:mod:`advrecon.attacks.registry`) is the one-way list of plug-ins; the engine, the executor,
the schema and the report loop over it and never name an attack.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from advrecon.boxes import Box

__all__ = [
    "BatchGroup",
    "BatchGroups",
    "Column",
    "Finding",
    "ReportContext",
    "ReportHooks",
    "ReportSection",
    "SliceAttack",
    "ThreatModel",
    "Unit",
    "UnitScores",
    "UnitSpec",
    "box_array",
]


# --------------------------------------------------------------------------------------------
# the attack side: one batch of units on one slice
# --------------------------------------------------------------------------------------------
class Unit(Protocol):
    """What a threat model reads of one results-table unit."""

    target: str  # "region" or "image"
    budget: float  # in the config's units (eta in percent, theta_max in degrees)
    box_index: int  # index into the slice's boxes, -1 for the complete image
    box: Box  # the box the row is scored on


@dataclass(frozen=True)
class SliceAttack:
    """One slice and the machinery to attack it (the input of every ``ThreatModel.run``).

    Attributes:
        recon: Reconstructor ``(masked_kspace, mask, num_low_frequencies) -> (B, h, w)``.
        kspace: Fully-sampled complex k-space of the slice ``(C, H, W)``, on the device.
        mask: ``(1, 1, 1, W)`` undersampling mask, on the device.
        num_low_frequencies: Of the mask.
        boxes: The slice's pathology boxes (``unit.box_index`` indexes them).
        padding: Acquired columns ``(left, right)`` or ``None`` (all).
        recon_size: ``(h, w)``.
        generator: Random generator of the batch (seeded from the config seed and batch key).
        chunk_size: Largest batch per forward (``None``: all at once).
    """

    recon: Any
    kspace: Any
    mask: Any
    num_low_frequencies: Any
    boxes: Sequence[Box]
    padding: tuple[int, int] | None
    recon_size: tuple[int, int]
    generator: Any
    chunk_size: int | None


class UnitScores(Protocol):
    """A threat model's batch result, read unit by unit."""

    def row(self, unit: Unit) -> tuple[int, dict[str, Any]]:
        """``(item index, the unit's attack row)`` (attack columns, before the runner's renames)."""
        ...

    def arrays(self, i: int, unit: Unit) -> dict[str, Any]:
        """Arrays of item ``i`` for the qualitative panels (target, clean, adversarial, ...)."""
        ...

    def curves(self) -> list[dict[str, Any]]:
        """Per-budget-point curve rows (``target``, ``box_index``, ``angle``, metrics) or []."""
        ...


@dataclass(frozen=True)
class UnitSpec:
    """What a threat model says about one unit of a batch (the runner adds model and slice)."""

    rule: str
    target: str
    budget: float
    box_index: int
    box: Box


@dataclass(frozen=True)
class BatchGroup:
    """The units of one attack call on one (model, slice).

    Attributes:
        label: Middle part of the batch key (``noise-l2/region``, ``rotation-grid``): the key
            is ``<model@acc>/<label>/<file>/s<slice>``, and it seeds the batch.
        units: The units, in their fixed order.
    """

    label: str
    units: tuple[UnitSpec, ...]


#: ``batch_groups(section, model_name, targets, boxes) -> [BatchGroup]`` with ``boxes`` the
#: ``(box_index, box)`` pairs of each target on the slice (may be empty for ``region``).
BatchGroups = Callable[
    [Any, str, Sequence[str], dict[str, list[tuple[int, Box]]]], list[BatchGroup]
]


def box_array(box: Box) -> np.ndarray:
    """``(4,)`` int32 ``(x, y, width, height)`` of a box, as stored in the unit arrays."""
    return np.asarray(box.as_tuple(), dtype=np.int32)


# --------------------------------------------------------------------------------------------
# the results side: columns
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One results column: its type (``str``, ``int``, ``float``, ``bool``), unit and meaning."""

    dtype: str
    unit: str
    meaning: str


# --------------------------------------------------------------------------------------------
# the report side: what a plug-in adds to the report
# --------------------------------------------------------------------------------------------
@dataclass
class Finding:
    """One statement checked on a run's results table, and its verdict.

    Attributes:
        key: Short id.
        statement: The claim.
        verdict: ``holds`` / ``does not hold`` / ``not enough data``.
        evidence: One line per group with the numbers.
    """

    key: str
    statement: str
    verdict: str
    evidence: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReportContext:
    """What a report hook reads: the run's tables and where its arrays and figures are.

    Attributes:
        results: The typed results table (a pandas DataFrame, every threat model's rows).
        curves: The per-budget-point curve table (may be empty).
        run_dir: The run folder (``arrays/<unit>.npz`` for panels).
        fig_dir: Where figures and panels are written.
        archs: ``model name -> arch`` from the run's config.
    """

    results: Any
    curves: Any
    run_dir: Path
    fig_dir: Path
    archs: Mapping[str, str] = field(default_factory=dict)

    def rows(self, attack: str) -> Any:
        """The results rows of one threat model."""
        return self.results[self.results["attack"] == attack]


@dataclass(frozen=True)
class ReportSection:
    """A titled paragraph (and optional table) the report shows before its findings."""

    title: str
    text: str
    table: Any = None


#: A report hook: a function of the :class:`ReportContext`, or ``"module:function"`` naming one
#: (imported when the report calls it, so that loading the registry loads no plotting code).
Hook = Callable[[ReportContext], Any] | str


@dataclass(frozen=True)
class ReportHooks:
    """A plug-in's part of the report; every hook is optional, gets a :class:`ReportContext` and
    is a function or a ``"module:function"`` string (:data:`Hook`).

    Attributes:
        figures: ``ctx -> {name: png path}`` (name also the caption key).
        panels: ``ctx -> {title: png path}``: qualitative examples from the saved arrays.
        findings: ``ctx -> [Finding]``: statements with verdicts.
        tables: ``ctx -> {name: DataFrame}``: summary tables, written as ``tables/<name>.csv``
            (those with ``budget`` and ``mean`` columns are shown as pivots).
        sections: ``ctx -> [ReportSection]``: shown first (e.g. the attack's tightness).
        captions: Figure name -> caption.
        primary: ``ctx -> DataFrame``: the plug-in's headline rows (region target, the
            primary rule), used where the report compares threat models or model families.
    """

    figures: Hook | None = None
    panels: Hook | None = None
    findings: Hook | None = None
    tables: Hook | None = None
    sections: Hook | None = None
    captions: Mapping[str, str] = field(default_factory=dict)
    primary: Hook | None = None

    def declares(self, name: str) -> bool:
        """Whether the hook ``name`` (``figures``, ``findings``, ...) is declared."""
        return getattr(self, name) is not None

    def call(self, name: str, ctx: ReportContext) -> Any:
        """The hook ``name`` applied to ``ctx`` (``None`` when it is not declared)."""
        hook = getattr(self, name)
        if isinstance(hook, str):
            module, _, attr = hook.partition(":")
            hook = getattr(importlib.import_module(module), attr)
        return None if hook is None else hook(ctx)


# --------------------------------------------------------------------------------------------
# the plug-in
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThreatModel:
    """A threat-model plug-in (see the module docstring).

    Attributes:
        name: ``attacks.<name>`` in the config and ``attack`` in the results table.
        budget_column: The attack's own name for the unit's budget (the table says it once, in
            ``budget``; older run folders that wrote this column are read through it).
        run: ``run(slice_attack, units, options, rule) -> UnitScores``: one attack call serving
            every unit of a batch (``options`` = the validated config section).
        section: Pydantic model of the config section (build it on
            :class:`advrecon.config_types.Section`).
        batch_groups: How the units of one (model, slice) group into attack calls.
        budget_unit: The budget's unit in words (results schema).
        budget_symbol: Printed after a budget value (``"%"``, ``" deg"``).
        unit_letter: Letter before the budget in the unit id (``e`` in ``e002.500``).
        columns: Result columns the plug-in adds, name -> :class:`Column`.
        report: Report hooks.
        description: One line for listings.
        threat: The class holding the perturbation's mathematics (parametrisation, feasible set,
            action on k-space), or ``None``. Its instances have ``feasible(delta) -> (n,) bool``,
            and every iterate a search makes is an output of their ``draw``, ``project`` or
            ``ascent_step``: the contract test suite checks every one of them.
        example: A small valid config section (fast on a tiny slice): the contract test suite
            and the documentation run it.
    """

    name: str
    budget_column: str
    run: Callable[[SliceAttack, Sequence[Unit], Any, str], UnitScores]
    section: type
    batch_groups: BatchGroups
    budget_unit: str = ""
    budget_symbol: str = ""
    unit_letter: str = "t"
    columns: Mapping[str, Column] = field(default_factory=dict)
    report: ReportHooks = field(default_factory=ReportHooks)
    description: str = ""
    threat: type | None = None
    example: Mapping[str, Any] = field(default_factory=dict)
