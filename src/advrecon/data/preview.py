"""Quick-look PNG of a fastMRI-format dataset with its fastMRI+ boxes (``advrecon data preview``).

Shows the fully-sampled RSS (``reconstruction_rss``, or computed from ``kspace`` when absent) in
the reconstruction frame, i.e. the arrays exactly as stored, with the CSV boxes converted back
from the fastMRI+ flipped frame (``y = recon_height - y_csv - height``) by the one annotation
loader that ``run`` uses. Annotated slices are
shown first, so the lesions of a dataset are visible at a glance.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from advrecon.boxes import Box
from advrecon.data.annotations import AnnotationIndex, load_annotations
from advrecon.data.fastmri import FastMRIVolume
from advrecon.errors import InputFileError
from advrecon.files import atomic_write, os_errors

__all__ = ["write_preview", "register_arguments", "run_from_args"]

Panel = tuple[int, FastMRIVolume, int, list[Box]]  # (priority, volume, slice, boxes)


def _volumes(data_dir: Path) -> list[FastMRIVolume]:
    """Open (and validate, as ``run`` does) every ``.h5`` file under ``data_dir``."""
    if not data_dir.exists():
        raise InputFileError(data_dir, "does not exist")
    files = [data_dir] if data_dir.is_file() else sorted(data_dir.rglob("*.h5"))
    if not files:
        raise InputFileError(data_dir, "contains no .h5 files")
    return [FastMRIVolume(f) for f in files]


def _indexes(
    volumes: list[FastMRIVolume], annotations_csv: Path | None
) -> dict[Path, AnnotationIndex | None]:
    """One :class:`AnnotationIndex` per volume (the shared loader, flip and checks of ``run``).

    Without ``annotations_csv`` each volume uses ``annotations.csv`` next to it, if any.
    """
    groups: dict[Path | None, list[FastMRIVolume]] = {}
    for v in volumes:
        csv = annotations_csv or v.path.parent / "annotations.csv"
        groups.setdefault(csv if annotations_csv or csv.is_file() else None, []).append(v)
    out: dict[Path, AnnotationIndex | None] = {}
    for csv, group in groups.items():
        index = None
        if csv is not None:
            table = load_annotations(
                csv,
                {v.fname: v.recon_size[0] for v in group},
                recon_width={v.fname: v.recon_size[1] for v in group},
                num_slices={v.fname: v.num_slices for v in group},
            )
            index = AnnotationIndex(table)
        out.update({v.path: index for v in group})
    return out


def _panels(volumes: list[FastMRIVolume], indexes: dict, max_slices: int) -> list[Panel]:
    """Annotated slices first (a new (file, label) before repeats), then a few plain ones."""
    annotated, plain = [], []
    seen_labels: set[tuple[str, str]] = set()
    for v in volumes:
        index = indexes[v.path]
        for s in range(v.num_slices):
            boxes = index.boxes(v.fname, s) if index is not None else []
            if boxes:
                new = {(v.fname, b.label) for b in boxes} - seen_labels
                annotated.append((0 if new else 1, v, s, boxes))
                seen_labels |= new
            else:
                plain.append((2, v, s, []))
    step = max(1, max(v.num_slices for v in volumes) // 2)
    panels = sorted(annotated, key=lambda p: p[0]) + plain[::step]
    return panels[: max(1, max_slices)]


def _save_atomically(fig, out_png: Path) -> None:
    """Write the figure as PNG to ``out_png`` atomically (:func:`advrecon.files.atomic_write`)."""
    with os_errors("create the folder of", out_png):
        out_png.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out_png, lambda f: fig.savefig(f, dpi=110, format="png"), "the preview")


def write_preview(
    data_dir: str | os.PathLike,
    out_png: str | os.PathLike,
    max_slices: int = 8,
    annotations_csv: str | os.PathLike | None = None,
) -> Path:
    """Write a PNG grid of fully-sampled RSS slices with their fastMRI+ boxes.

    Files, annotations and slices go through the same loader and checks as ``advrecon run``
    (:class:`~advrecon.data.fastmri.FastMRIVolume`,
    :func:`~advrecon.data.annotations.load_annotations` with its flip and row checks): every
    shown slice is read and checked, so a degenerate slice (NaN/Inf, all zero) is an error.

    Args:
        data_dir: Folder with ``file*.h5`` (searched recursively, e.g. ``train/`` and ``val/``)
            or one ``.h5`` file.
        out_png: Output image path (written atomically).
        max_slices: Number of panels; annotated slices (one per file and label first) come
            before unannotated ones.
        annotations_csv: fastMRI+ CSV; default: ``annotations.csv`` next to each file.

    Returns:
        The written PNG path.

    Raises:
        InputFileError: No ``.h5`` file, an unreadable or malformed file or CSV, a degenerate
            shown slice, or an unwritable ``out_png``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    volumes = _volumes(Path(data_dir))
    csv = Path(annotations_csv) if annotations_csv else None
    panels = _panels(volumes, _indexes(volumes, csv), max_slices)
    images = [v.image(s).numpy() for _, v, s, _ in panels]  # checks each shown slice

    ncol = min(4, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.4 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (_, v, s, boxes), img in zip(axes.flat, panels, images, strict=False):
        ax.imshow(img, cmap="gray", vmin=0, vmax=float(np.percentile(img, 99.5)) or 1.0)
        ax.set_title(f"{v.fname} slice {s}", fontsize=8)
        for b in boxes:
            rect = plt.Rectangle(
                (b.x - 0.5, b.y - 0.5), b.width, b.height, fill=False, edgecolor="red", lw=1.0
            )
            ax.add_patch(rect)
            ax.text(b.x - 0.5, b.y - 1.5, b.label, color="yellow", fontsize=5, va="bottom")
    fig.suptitle("fully-sampled RSS, reconstruction frame (fastMRI+ boxes un-flipped)", fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    try:
        _save_atomically(fig, out_png)
    finally:
        plt.close(fig)
    return out_png


def register_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``advrecon data preview DIR [--out PNG]``."""
    parser.add_argument(
        "dir", metavar="DIR", type=Path, help="folder of fastMRI .h5 files (or one file)"
    )
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default DIR/preview.png)")
    parser.add_argument("--max-slices", type=int, default=8, help="number of panels")
    parser.add_argument("--annotations", type=Path, default=None, help="fastMRI+ CSV")


def run_from_args(args: argparse.Namespace) -> Path:
    """``advrecon data preview``: write the PNG and return its path."""
    data_dir = Path(args.dir)
    out = args.out
    if out is None:
        out = (data_dir if data_dir.is_dir() else data_dir.parent) / "preview.png"
    return write_preview(data_dir, out, args.max_slices, args.annotations)
