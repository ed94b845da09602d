"""Quick-look PNG of a fastMRI-format dataset with its fastMRI+ boxes (``advrecon data preview``).

Shows the fully-sampled RSS (``reconstruction_rss``, or computed from ``kspace`` when absent) in
the reconstruction frame, i.e. the arrays exactly as stored, with the CSV boxes converted back
from the fastMRI+ flipped frame (``y = recon_height - y_csv - height``). Annotated slices are
shown first, so the lesions of a dataset are visible at a glance.
"""

from __future__ import annotations

import argparse
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch

from advrecon.errors import InputFileError
from advrecon.mri import kspace_to_target

__all__ = ["write_preview", "register_arguments", "run_from_args"]

_NS = {"m": "http://www.ismrm.org/ISMRMRD"}


def _recon_size(f: h5py.File, path: Path) -> tuple[int, int]:
    if "reconstruction_rss" in f:
        return tuple(f["reconstruction_rss"].shape[-2:])
    try:
        root = ET.fromstring(f["ismrmrd_header"][()])
        node = root.find(".//m:encoding//m:reconSpace//m:matrixSize", _NS)
        return int(node.find("m:x", _NS).text), int(node.find("m:y", _NS).text)
    except (KeyError, AttributeError, ET.ParseError, ValueError) as exc:
        raise InputFileError(path, "has no reconstruction_rss and no readable reconSpace") from exc


def _read_slice(path: Path, index: int) -> np.ndarray:
    with h5py.File(path, "r") as f:
        if "reconstruction_rss" in f:
            return np.asarray(f["reconstruction_rss"][index], dtype=np.float32)
        size = _recon_size(f, path)
        k = torch.from_numpy(np.asarray(f["kspace"][index : index + 1]).astype(np.complex64))
        return kspace_to_target(k, size)[0].numpy()


def _boxes_for(
    ann: pd.DataFrame | None, stem: str, index: int, height: int
) -> list[tuple[int, int, int, int, str]]:
    if ann is None:
        return []
    rows = ann[(ann["file"] == stem) & (ann["slice"] == index)]
    rows = rows[rows["study_level"].astype(str).str.lower() != "yes"].dropna(subset=["width"])
    out = []
    for r in rows.itertuples():
        w, h = int(r.width), int(r.height)
        out.append((int(r.x), height - int(r.y) - h, w, h, str(r.label)))
    return out


def write_preview(
    data_dir: str | os.PathLike,
    out_png: str | os.PathLike,
    max_slices: int = 8,
    annotations_csv: str | os.PathLike | None = None,
) -> Path:
    """Write a PNG grid of fully-sampled RSS slices with their fastMRI+ boxes.

    Args:
        data_dir: Folder with ``file*.h5`` (searched recursively, e.g. ``train/`` and ``val/``)
            or one ``.h5`` file.
        out_png: Output image path.
        max_slices: Number of panels; annotated slices (one per file and label first) come
            before unannotated ones.
        annotations_csv: fastMRI+ CSV; default: ``annotations.csv`` next to each file.

    Returns:
        The written PNG path.

    Raises:
        InputFileError: No ``.h5`` file, or an unreadable file or CSV.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise InputFileError(data_dir, "does not exist")
    files = [data_dir] if data_dir.is_file() else sorted(data_dir.rglob("*.h5"))
    if not files:
        raise InputFileError(data_dir, "contains no .h5 files")
    csv_cache: dict[Path, pd.DataFrame | None] = {}

    def annotations(path: Path) -> pd.DataFrame | None:
        csv = Path(annotations_csv) if annotations_csv else path.parent / "annotations.csv"
        if csv not in csv_cache:
            try:
                csv_cache[csv] = pd.read_csv(csv) if csv.is_file() else None
            except (OSError, ValueError, pd.errors.ParserError) as exc:
                raise InputFileError(csv, f"cannot be read as a CSV ({exc})") from exc
        return csv_cache[csv]

    # candidate panels: (priority, file, slice)
    annotated, plain = [], []
    seen_labels: set[tuple[str, str]] = set()
    for path in files:
        try:
            with h5py.File(path, "r") as f:
                if "kspace" not in f and "reconstruction_rss" not in f:
                    raise InputFileError(
                        path, "has neither a 'kspace' nor a 'reconstruction_rss' dataset"
                    )
                num = f["kspace"].shape[0] if "kspace" in f else f["reconstruction_rss"].shape[0]
                height = _recon_size(f, path)[0]
        except (OSError, KeyError) as exc:
            raise InputFileError(path, f"is not a readable fastMRI file ({exc})") from exc
        ann = annotations(path)
        for s in range(num):
            boxes = _boxes_for(ann, path.stem, s, height)
            if boxes:
                new = {(path.stem, b[4]) for b in boxes} - seen_labels
                annotated.append((0 if new else 1, path, s, boxes))
                seen_labels |= new
            else:
                plain.append((2, path, s, []))
    panels = sorted(annotated, key=lambda p: p[0]) + plain[:: max(1, num // 2)]
    panels = panels[: max(1, max_slices)]

    ncol = min(4, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.4 * nrow), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (_, path, s, boxes) in zip(axes.flat, panels, strict=False):
        img = _read_slice(path, s)
        ax.imshow(img, cmap="gray", vmin=0, vmax=float(np.percentile(img, 99.5)) or 1.0)
        ax.set_title(f"{path.stem} slice {s}", fontsize=8)
        for x, y, w, h, label in boxes:
            ax.add_patch(
                plt.Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="red", lw=1.0)
            )
            ax.text(x - 0.5, y - 1.5, label, color="yellow", fontsize=5, va="bottom")
    fig.suptitle("fully-sampled RSS, reconstruction frame (fastMRI+ boxes un-flipped)", fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
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
