"""The experiment config's input sections: ``data``, ``slices`` and ``masks``.

* ``data``: where the slices come from (a fastMRI folder, or synthetic data generated on first
  use with the keys of :class:`advrecon.data.synthetic.SynthConfig`);
* ``slices``: which slices are attacked;
* ``masks``: the undersampling masks (fixed per volume, so every model and attack of a slice
  sees the same one).

Each is a frozen :class:`~advrecon.config_types.Section` (unknown keys rejected).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

from pydantic import (
    AfterValidator,
    BeforeValidator,
    StrictBool,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic import Strict as _Strict

from advrecon.config_types import Count, PositiveInt, Section, Text, choice, fail, list_of
from advrecon.errors import ConfigError
from advrecon.masks import MASK_TYPES as MASK_FUNCS

__all__ = ["DataConfig", "MASK_TYPES", "MaskConfig", "SliceSelection"]

#: Mask types (the table of :mod:`advrecon.masks`).
MASK_TYPES = tuple(MASK_FUNCS)


def _box_policies() -> tuple[str, ...]:
    from advrecon.data.annotations import BOX_POLICIES

    return tuple(BOX_POLICIES)


def _n_values(n: int) -> Callable[[tuple], tuple]:
    def check(v: tuple) -> tuple:
        if len(v) != n:
            raise fail(f"must be a list of {n} values, got {list(v)!r}")
        return v

    return check


def _strict_type(t: Any) -> Any:
    """A ``SynthConfig`` field type, strict, with ``tuple[int, int]`` as a list of 2 values."""
    args = get_args(t)
    if get_origin(t) in (Union, UnionType):
        return Union[tuple(_strict_type(a) for a in args)]  # noqa: UP007 (built at run time)
    if get_origin(t) is tuple:
        if Ellipsis in args:
            return tuple[_strict_type(args[0]), ...]
        return Annotated[tuple[_strict_type(args[0]), ...], AfterValidator(_n_values(len(args)))]
    return Annotated[t, _Strict()] if t in (int, float, str, bool) else t


@functools.cache
def _synthetic_keys() -> type[Section]:
    """A section whose keys are the ``SynthConfig`` fields, with their (strict) types."""
    from advrecon.data.synthetic import SynthConfig

    hints = get_type_hints(SynthConfig)
    keys = {f.name: (_strict_type(hints[f.name]), None) for f in fields(SynthConfig)}
    return create_model("SynthConfig", __base__=Section, **keys)


def _check_synthetic(synth: dict) -> None:
    """``data.synthetic`` keys are ``SynthConfig`` fields of the right type and pass its checks."""
    from advrecon.data.synthetic import SynthConfig

    _synthetic_keys().model_validate(synth)
    try:
        SynthConfig(**synth)
    except ConfigError as exc:
        raise fail(str(exc).removeprefix("synthetic data config: ")) from None


class DataConfig(Section):
    """Where the slices come from.

    Attributes:
        kind: ``"fastmri"`` (a folder of fastMRI multicoil ``.h5`` files) or ``"synthetic"``
            (a folder generated with :mod:`advrecon.data.synthetic` when absent).
        root: The folder of ``.h5`` files.
        annotations: fastMRI+ CSV; ``None`` for synthetic data means ``<root>/annotations.csv``.
        synthetic: Keyword arguments of ``SynthConfig`` (synthetic data only).
    """

    kind: choice(("fastmri", "synthetic")) = "fastmri"
    root: Text
    annotations: Text | None = None
    synthetic: dict[str, Any] = {}

    @field_validator("synthetic", mode="before")
    @classmethod
    def _synthetic(cls, v: Any, info: ValidationInfo) -> dict[str, Any]:
        v = v or {}
        if not isinstance(v, dict):
            raise fail("must be a mapping of SynthConfig fields")
        if v and info.data.get("kind", "synthetic") != "synthetic":
            raise fail("only allowed with data.kind: synthetic")
        _check_synthetic(v)
        return dict(v)

    def annotations_path(self) -> Path | None:
        if self.annotations is not None:
            return Path(self.annotations)
        if self.kind == "synthetic":
            return Path(self.root) / "annotations.csv"
        return None


def _slice_pair(item: Any) -> Any:
    """``"file:slice"`` or ``[file, slice]`` -> ``(file stem, slice)``."""
    problem = f"expected 'file:slice' or [file, slice], got {item!r}"
    if isinstance(item, str) and ":" in item:
        file, _, num = item.rpartition(":")
        try:
            item = [file, int(num)]
        except ValueError:
            raise fail(problem) from None
    if not isinstance(item, (list, tuple)) or len(item) != 2:
        raise fail(problem)
    return (Path(str(item[0])).stem, item[1])


class SliceSelection(Section):
    """Which slices are attacked.

    Attributes:
        annotated_only: Only slices with at least one fastMRI+ box.
        one_per_volume: At most one slice per volume (the first eligible one after sorting).
        max_slices: At most this many slices in total (``None``: all).
        select: Explicit ``(file, slice)`` pairs; overrides the other filters when given.
        box_policy: fastMRI+ box policy passed to the data layer (``"all"``, ...).
    """

    annotated_only: StrictBool = True
    one_per_volume: StrictBool = False
    max_slices: PositiveInt | None = None
    select: (
        list_of(Annotated[tuple[Text, Count], BeforeValidator(_slice_pair)], unique=False) | None
    ) = None
    box_policy: choice(_box_policies) = "all"


def _mask_seed(v: Any) -> Any:
    if v == "per_volume" or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise fail(f"must be 'per_volume' or an integer, got {v!r}")


class MaskConfig(Section):
    """Undersampling masks.

    Attributes:
        type: ``"random"``, ``"equispaced_fraction"`` or ``"equispaced"``.
        seed: ``"per_volume"``: the seed is derived from the file name as fastMRI does for its
            validation set (``tuple(map(ord, fname))``), so every model/attack sees the same
            mask for a slice; or an ``int`` shared by all slices.
    """

    type: choice(MASK_TYPES) = "equispaced_fraction"
    seed: Annotated[str | int, BeforeValidator(_mask_seed)] = "per_volume"
