"""The shared per-slice pipeline every threat model runs through.

A threat model keeps its mathematics (parametrisation, feasible set and projection, action on
k-space, map back to the target frame) and its public ``*_attack`` function; what is the same
for all of them is written here once:

* :func:`slice_items` -- a batch of units on one slice as attack items: the budgets ascending,
  the boxes of the region target (or one complete-image item), the slice repeated per budget;
* :func:`per_item` -- a budget given as one number or one per slice, checked;
* :func:`item_seeds` / :func:`item_generators` -- two independent random streams per item
  (start, baseline) derived from the call's generator, so results do not depend on chunking;
* :func:`run_chunks` -- the model frozen for the whole call, items in chunks, parts joined;
* :func:`random_baseline` -- mean and worst metrics over random feasible points per item;
* :class:`ItemScores` -- the rows of a ``budget x box`` call, read unit by unit, with a
  complete-image item re-scored on each unit's box (its random baseline is only known on the
  whole image, so those region columns are NaN).

The search algorithms (PGD rules, APGD, restarts, random draws) are in
:mod:`advrecon.attacks.search`; the evaluation of clean / adversarial / baseline / control
images in :mod:`advrecon.attacks.evaluation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from advrecon.attacks._common import chunk_ranges, frozen, runs_on
from advrecon.attacks.contract import BatchGroup, SliceAttack, Unit, UnitSpec, box_array
from advrecon.attacks.evaluation import nan_columns, random_summary
from advrecon.attacks.objectives import box_metrics, region_metrics
from advrecon.attacks.results import METRICS
from advrecon.attacks.search import random_draws
from advrecon.boxes import Box
from advrecon.errors import AdvreconError

__all__ = [
    "IMAGE_KEYS",
    "ItemScores",
    "SliceItems",
    "item_generators",
    "item_seeds",
    "join_parts",
    "per_item",
    "per_target_groups",
    "random_baseline",
    "run_chunks",
    "seeded_pairs",
    "slice_items",
    "unit_images",
]

#: The images every threat model saves per unit (:func:`unit_images`).
IMAGE_KEYS = ("target", "clean", "adversarial", "control")


# --------------------------------------------------------------------------------------------
# from units to items
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SliceItems:
    """The items of one attack call on one slice: ``budgets x boxes``, budget-major.

    Attributes:
        budgets: Distinct unit budgets, ascending (config units).
        box_ids: Box indices of the region target, or ``[None]`` (one complete-image item).
        region: Whether the units target the region.
        boxes: Per slice copy (one per budget), its list of item boxes.
        kspace: ``(len(budgets), C, H, W)``: the slice repeated once per budget (a view).
    """

    budgets: list[float]
    box_ids: list[int | None]
    region: bool
    boxes: list[list[Box]]
    kspace: torch.Tensor

    def index(self, unit: Unit) -> int:
        """The item of ``unit``."""
        i = self.budgets.index(unit.budget) * len(self.box_ids)
        return i + (self.box_ids.index(unit.box_index) if self.region else 0)


def slice_items(inp: SliceAttack, units: Sequence[Unit]) -> SliceItems:
    """Every budget (and box) of a batch's units on the slice of ``inp``."""
    budgets = sorted({u.budget for u in units})
    region = units[0].target == "region"
    box_ids = sorted({u.box_index for u in units}) if region else [None]
    per_slice = [inp.boxes[b] for b in box_ids] if region else [Box.full(inp.recon_size)]
    kspace = inp.kspace[None].expand(len(budgets), *inp.kspace.shape)
    return SliceItems(budgets, box_ids, region, [list(per_slice) for _ in budgets], kspace)


def per_item(value: Any, batch: int, name: str) -> torch.Tensor:
    """``(batch,)`` float64 budgets from one number or one number per slice, finite, >= 0.

    Raises:
        AdvreconError: not numbers, the wrong count, negative or not finite.
    """
    try:
        t = torch.as_tensor(value, dtype=torch.float64).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise AdvreconError(
            f"{name} must be a number or one number per slice, got {value!r}"
        ) from exc
    if t.numel() == 1:
        t = t.expand(batch).clone()
    if t.numel() != batch:
        raise AdvreconError(
            f"{name} must be a number or one number per slice ({batch}), got {t.numel()}"
        )
    if not torch.isfinite(t).all() or (t < 0).any():
        raise AdvreconError(f"{name} must be finite and >= 0, got {t.tolist()}")
    return t


def per_target_groups(
    name: str,
    rule: str,
    budgets: Sequence[float],
    model_name: str,
    targets: Sequence[str],
    boxes: dict[str, list[tuple[int, Box]]],
    models: Sequence[str] | None = None,
    only_targets: Sequence[str] | None = None,
) -> list[BatchGroup]:
    """The usual batch grouping: one attack call per target of a (model, slice), holding every
    box x budget (label ``<name>-<rule>/<target>``).

    Args:
        name, rule: The threat model's name and the units' rule.
        budgets: The section's budgets.
        model_name, targets, boxes: As a ``ThreatModel.batch_groups`` receives them.
        models: Run on these models only (``None``: all; a section's ``models`` key).
        only_targets: Of the config's targets, run these only (``None``: all).
    """
    if not runs_on(models, model_name):
        return []
    return [
        BatchGroup(
            f"{name}-{rule}/{t}",
            tuple(UnitSpec(rule, t, float(b), i, box) for i, box in boxes[t] for b in budgets),
        )
        for t in targets
        if only_targets is None or t in only_targets
    ]


# --------------------------------------------------------------------------------------------
# per-item random streams
# --------------------------------------------------------------------------------------------
def item_seeds(generator: torch.Generator | int | None, n: int) -> torch.Tensor:
    """``(n, 2)`` seeds (start stream, baseline stream) of ``n`` items, drawn from ``generator``
    (an int seeds a new CPU generator; ``None`` uses torch's global stream)."""
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    if generator is None:
        return torch.randint(0, 2**62, (n, 2))
    return torch.randint(0, 2**62, (n, 2), generator=generator, device=generator.device).cpu()


def seeded_pairs(seeds: torch.Tensor, rows: Sequence[int], device) -> list[tuple]:
    """``(start, baseline)`` generators on ``device`` of the items ``rows`` of ``seeds``."""
    return [
        tuple(torch.Generator(device=device).manual_seed(int(seeds[i, s])) for s in (0, 1))
        for i in rows
    ]


def item_generators(generator, n: int, device) -> list[tuple]:
    """Two generators (start, baseline) per item, seeded from ``generator``."""
    return seeded_pairs(item_seeds(generator, n), range(n), device)


# --------------------------------------------------------------------------------------------
# chunks
# --------------------------------------------------------------------------------------------
def run_chunks(recon, n: int, chunk_size: int | None, attack: Callable[[range], dict]) -> list:
    """``attack(items)`` for consecutive chunks of ``n`` items with ``recon`` frozen (eval
    mode, no parameter gradients; restored afterwards, also on error)."""
    with frozen(recon):
        return [attack(r) for r in chunk_ranges(n, chunk_size)]


def join_parts(parts: list[dict], nested: Sequence[str] = ("metrics",)) -> dict:
    """Concatenate per-chunk dicts of tensors along the item dimension (``nested`` keys hold
    dicts of tensors, joined key by key)."""
    out: dict[str, Any] = {}
    for k in parts[0]:
        if k in nested:
            out[k] = {c: torch.cat([p[k][c] for p in parts]) for c in parts[0][k]}
        else:
            out[k] = torch.cat([p[k] for p in parts])
    return out


# --------------------------------------------------------------------------------------------
# the random baseline
# --------------------------------------------------------------------------------------------
def random_baseline(threat: Any, gens: list, n_random: int, chunk_size: int | None) -> dict:
    """Mean and worst metrics over ``n_random`` random feasible points per item.

    Args:
        threat: The threat model of the items (``take``, ``draw``, ``reconstruct``, ``target``,
            ``regions``, ``full``, ``data_range``, ``device``).
        gens: One generator per item (its baseline stream).
        n_random: Draws per item (0: NaN columns).
        chunk_size: Largest number of (item, draw) pairs per forward.

    Returns:
        ``rand_mean_*`` and ``rand_worst_*`` columns, ``(n,)`` each.
    """
    n = len(gens)
    if n_random == 0:
        return nan_columns(("rand_mean", "rand_worst"), n, threat.device)
    vals: dict[str, list[torch.Tensor]] = {}
    for _, sub, img in random_draws(threat, gens, n_random, chunk_size):
        a = region_metrics(img, sub.target, sub.regions, sub.data_range)
        b = region_metrics(img, sub.target, sub.full, sub.data_range)
        for key in METRICS:
            vals.setdefault(key, []).append(a[key])
            vals.setdefault(key + "_full", []).append(b[key])
    return random_summary(vals, n, n_random)


# --------------------------------------------------------------------------------------------
# from items back to unit rows
# --------------------------------------------------------------------------------------------
def unit_images(images: dict[str, Any], i: int, box: Box) -> dict[str, Any]:
    """The arrays every threat model saves for a unit: item ``i``'s images and the unit's box.

    Args:
        images: ``target``, ``clean``, ``adversarial`` and ``control`` stacks ``(N, h, w)``.
        i: Item index.
        box: The unit's box.
    """
    return {**{k: images[k][i] for k in IMAGE_KEYS}, "box": box_array(box)}


@dataclass
class ItemScores:
    """Rows of one ``budget x box`` attack call (:class:`SliceItems`), read unit by unit.

    Attributes:
        items: The call's items.
        rows: One attack row per item (the result's ``to_rows()``).
        images: ``name -> (N, h, w)`` stacks; at least :data:`IMAGE_KEYS`.
        data_range: The data-range convention of the metrics (re-scoring).
        rescored: ``(column prefix, image name)`` pairs re-scored on the unit's box for a
            complete-image item.
        extra_row: Columns added to every row.
        extra_arrays: ``(i, unit) -> {name: array}`` saved beside :func:`unit_images`.
        curve_rows: Curve rows of the call (most threat models: none).
    """

    items: SliceItems
    rows: list[dict]
    images: dict[str, Any]
    data_range: str = "maxmin"
    rescored: tuple[tuple[str, str], ...] = (
        ("clean", "clean"), ("adv", "adversarial"), ("control", "control"),
    )  # fmt: skip
    extra_row: dict = field(default_factory=dict)
    extra_arrays: Callable[[int, Unit], dict] | None = None
    curve_rows: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.images = {k: v.detach().float().cpu() for k, v in self.images.items()}

    def row(self, unit: Unit) -> tuple[int, dict]:
        """``(item, row)`` of a unit; complete-image items re-scored on ``unit.box``."""
        i = self.items.index(unit)
        row = {**self.rows[i], **self.extra_row}
        if not self.items.region:
            t = self.images["target"][i : i + 1]
            for prefix, key in self.rescored:
                img = self.images[key][i : i + 1]
                met = box_metrics(img, t, [unit.box], self.data_range)
                row.update({f"{prefix}_{m}": float(met[m][0]) for m in METRICS})
            for prefix in ("rand_mean", "rand_worst"):
                row.update({f"{prefix}_{m}": float("nan") for m in METRICS})
        return i, row

    def arrays(self, i: int, unit: Unit) -> dict:
        """The unit's images and box (and the threat model's extra arrays)."""
        out = unit_images(self.images, i, unit.box)
        if self.extra_arrays is not None:
            out.update(self.extra_arrays(i, unit))
        return out

    def curves(self) -> list[dict]:
        return list(self.curve_rows)
