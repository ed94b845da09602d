"""Where a run's slices come from: the slice source contract, the default source, selection.

A slice source has ``refs()`` (the selected :class:`~advrecon.experiments.units.SliceRef` s,
no k-space read) and ``load(ref)`` (the :class:`Slice` itself). The default,
:class:`DatasetSource`, reads a fastMRI(-format) folder through
:class:`advrecon.data.fastmri.SliceDataset`; :func:`ensure_synthetic` generates the synthetic
folder first when the config asks for synthetic data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import torch

from advrecon.errors import ConfigError, InputFileError
from advrecon.experiments.config import ExperimentConfig
from advrecon.experiments.units import SliceRef

__all__ = ["Slice", "SliceSource", "DatasetSource", "ensure_synthetic", "select_slices"]


class Slice(Protocol):
    """What a source's ``load`` returns (:class:`advrecon.data.fastmri.SliceSample` is one).

    Attributes:
        fname: File stem (seeds the per-volume mask).
        kspace: ``(C, H, W)`` complex64 fully-sampled k-space.
        padding: ``(left, right)`` zero-padded k-space columns, or ``None``.
        recon_size: ``(h, w)`` of the reconstruction.
    """

    fname: str
    kspace: torch.Tensor
    padding: Any
    recon_size: Any


class SliceSource(Protocol):
    """The slices of a run: ``refs()`` (selected, without k-space) and ``load(ref)``."""

    def refs(self) -> list[SliceRef]: ...

    def load(self, ref: SliceRef) -> Slice: ...


def select_slices(refs: list[SliceRef], config: ExperimentConfig) -> list[SliceRef]:
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
        self._refs = select_slices(refs, config)

    def refs(self) -> list[SliceRef]:
        """The selected slices, sorted by (file, slice)."""
        return list(self._refs)

    def load(self, ref: SliceRef) -> Slice:
        """The slice's sample (k-space read now; checked for zeros/NaN/Inf by the reader)."""
        return self.dataset[self._where[(ref.file, ref.slice)]]
