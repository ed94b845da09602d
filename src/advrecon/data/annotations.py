"""fastMRI+ annotations: CSV -> boxes in the reconstruction frame.

The fastMRI+ CSV (Zhao et al., 2022) has one row per box with the columns
``file,slice,study_level,x,y,width,height,label``. Two things make it easy to misuse:

* **The boxes were drawn on up/down-flipped images.** A box's ``y`` counts rows from the bottom
  of the reconstruction, so in the reconstruction frame (what ``center_crop(rss(ifft2c(k)))``
  returns) its top row is ``y' = recon_height - y - height``. fastMRI's
  ``AnnotatedSliceDataset`` applies the same flip with ``recon_height = recon_size[0]``.
* **Study-level rows** (``study_level == "Yes"``) label a whole volume (e.g. ``artifact``) and
  have empty coordinates; they are volume labels, never boxes.

The published knee file also has a few quirks that are handled here, each with a warning naming
the file, slice and CSV line: a box with zero height (dropped), boxes that reach outside the
image (clipped; negative coordinates are always outside, the far edges only once the image size
is known) and labels with trailing spaces (stripped silently).

Rows are identified by their *CSV line number* (the header is line 1, the first data row
line 2); the returned table uses it as its index so that later messages can name it too.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from advrecon.boxes import Box
from advrecon.errors import InputFileError

__all__ = [
    "COLUMNS",
    "BOX_POLICIES",
    "AnnotationWarning",
    "AnnotationIndex",
    "Annotations",
    "load_annotations",
    "explain_no_boxes",
    "to_recon_frame",
    "apply_box_policy",
]

log = logging.getLogger(__name__)

COLUMNS = ("file", "slice", "study_level", "x", "y", "width", "height", "label")
BOX_POLICIES = ("all", "first")
_COORDS = ("x", "y", "width", "height")
_YES = {"yes", "true", "1"}
_NO = {"no", "false", "0", ""}

SizeSpec = int | Mapping[str, int] | None


class AnnotationWarning(UserWarning):
    """A fastMRI+ box was dropped or clipped while loading annotations."""


@dataclass(frozen=True)
class Annotations:
    """A fastMRI+ annotation table and what is known about it (returned by the loader).

    Attributes:
        table: One row per box or study-level label, indexed by CSV line number; columns
            :data:`COLUMNS` (see :func:`load_annotations`).
        in_recon_frame: ``True`` once the boxes are flipped into the reconstruction frame,
            ``False`` while they are in the (flipped) CSV frame.
        source: Name of the CSV, used in warnings.
        box_rows: Box rows per file in the CSV before anything was dropped.
    """

    table: pd.DataFrame
    in_recon_frame: bool = False
    source: str = "annotations"
    box_rows: Mapping[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        """Number of rows (boxes and study-level labels)."""
        return len(self.table)


def _as_annotations(table: Annotations | pd.DataFrame) -> Annotations:
    """``table`` as :class:`Annotations`; a bare DataFrame is taken to be in the CSV frame."""
    return table if isinstance(table, Annotations) else Annotations(table)


def _warn(source: str, line: object, file: str, slice_num: object, what: str) -> None:
    warnings.warn(
        f"{source} line {line} ({file} slice {slice_num}): {what}",
        AnnotationWarning,
        stacklevel=3,
    )


def _stem(file: str | Path) -> str:
    """``file1000001``, ``file1000001.h5`` and paths all name the same volume."""
    name = Path(str(file)).name
    return name[:-3] if name.endswith(".h5") else name


def _check_policy(box_policy: str) -> None:
    if box_policy not in BOX_POLICIES:
        raise ValueError(f"box_policy must be one of {BOX_POLICIES}, got {box_policy!r}")


def _read_csv(path: Path) -> pd.DataFrame:
    """Read and validate the CSV into the canonical typed table (CSV frame, nothing dropped)."""
    if not path.exists():
        raise InputFileError(path, "annotation file does not exist")
    if path.is_dir():
        raise InputFileError(path, "is a directory, not an annotation CSV file")
    try:
        with warnings.catch_warnings():
            # a row with more fields than the header must not be silently truncated
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=False)
    except pd.errors.ParserWarning:
        raise InputFileError(path, "has rows with more fields than the header") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(path, f"is not a readable CSV file ({reason})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise InputFileError(path, f"annotation CSV is missing column(s) {names}")

    lines = np.arange(len(raw)) + 2  # header is line 1
    text = {c: raw[c].astype(str).str.strip() for c in COLUMNS}

    def bad(i: int, column: str, problem: str) -> InputFileError:
        where = f"{text['file'].iloc[i] or '?'} slice {text['slice'].iloc[i] or '?'}"
        return InputFileError(path, f"line {lines[i]} column {column!r} ({where}) {problem}")

    level = text["study_level"].str.lower()
    unknown = ~level.isin(_YES | _NO)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        got = text["study_level"].iloc[i]
        raise bad(i, "study_level", f"must be 'Yes' or 'No' (got {got!r})")
    study = level.isin(_YES).to_numpy()

    empty_file = (text["file"] == "").to_numpy()
    if empty_file.any():
        raise bad(int(np.flatnonzero(empty_file)[0]), "file", "is empty")

    numbers: dict[str, np.ndarray] = {}
    for column in ("slice", *_COORDS):
        values = pd.to_numeric(text[column], errors="coerce").to_numpy(dtype=float, copy=True)
        # study-level rows carry no box; their coordinates (and possibly slice) are empty
        invalid = ~np.isfinite(values) & ~study
        if invalid.any():
            i = int(np.flatnonzero(invalid)[0])
            got = text[column].iloc[i]
            problem = "is empty" if got == "" else f"is not a number (got {got!r})"
            raise bad(i, column, problem)
        values[study & ~np.isfinite(values)] = np.nan
        # a negative size or slice cannot come from a drawing tool (x/y < 0 can: clipped later)
        negative = (values < 0) & ~study if column in ("slice", "width", "height") else invalid
        if negative.any():
            i = int(np.flatnonzero(negative)[0])
            raise bad(i, column, f"is negative (got {text[column].iloc[i]!r})")
        numbers[column] = values

    table = pd.DataFrame(
        {
            "file": text["file"].map(_stem).to_numpy(dtype=object),
            # int() truncation, as fastMRI's AnnotatedSliceDataset does
            "slice": pd.array(np.trunc(numbers["slice"]), dtype="Int64"),
            "study_level": study,
        },
        index=pd.Index(lines, name="line"),
    )
    for column in _COORDS:
        values = np.where(study, np.nan, np.trunc(numbers[column]))
        table[column] = pd.array(values, dtype="Int64")
    table["label"] = text["label"].to_numpy(dtype=object)
    return table


def _resolve(spec: SizeSpec, files: pd.Series) -> np.ndarray:
    """Per-row image size (float, NaN where unknown) from an int or a ``file -> size`` map."""
    if spec is None:
        return np.full(len(files), np.nan)
    if isinstance(spec, Mapping):
        sizes = {_stem(k): float(v) for k, v in spec.items()}
        return files.map(lambda f: sizes.get(f, np.nan)).to_numpy(dtype=float)
    return np.full(len(files), float(int(spec)))


def to_recon_frame(
    table: Annotations | pd.DataFrame,
    recon_height: SizeSpec,
    recon_width: SizeSpec = None,
    *,
    source: str | None = None,
) -> Annotations:
    """Convert a CSV-frame annotation table to the reconstruction frame.

    Applies the vertical flip ``y' = recon_height - y - height`` to every box row and then clips
    boxes that reach outside ``(recon_height, recon_width)`` (with an :class:`AnnotationWarning`
    per clipped or emptied box).

    Args:
        table: Annotations in the CSV frame as returned by ``load_annotations(path)`` (a bare
            DataFrame is taken to be in the CSV frame).
        recon_height: Reconstruction height ``h`` (rows): one int for every file, or a mapping
            ``file -> h``. With a mapping, rows (box and study-level) of files that are not in
            it are dropped: their frame is unknown.
        recon_width: Reconstruction width ``w`` (columns), int or mapping; optional, only used to
            clip boxes at the right edge.
        source: Name used in warnings (defaults to ``table.source``).

    Returns:
        New annotations with the same columns and ``in_recon_frame=True``.
    """
    loaded = _as_annotations(table)
    if loaded.in_recon_frame:
        raise ValueError("annotation table is already in the reconstruction frame")
    source = source or loaded.source
    out = loaded.table.copy()
    heights = _resolve(recon_height, out["file"])
    if isinstance(recon_height, Mapping):
        known = np.isfinite(heights)
        if not known.all():
            log.debug("dropping %d annotation rows of files without a recon height", (~known).sum())
        out, heights = out[known], heights[known]
    boxes = ~out["study_level"].to_numpy(dtype=bool)
    y = out["y"].to_numpy(dtype=float, na_value=np.nan)
    height = out["height"].to_numpy(dtype=float, na_value=np.nan)
    flipped = np.where(boxes, heights - y - height, np.nan)
    out["y"] = pd.array(flipped, dtype="Int64")
    out = _clip(out, heights, _resolve(recon_width, out["file"]), source)
    return replace(loaded, table=out, in_recon_frame=True, source=source)


def _clip(table: pd.DataFrame, heights: np.ndarray, widths: np.ndarray, source: str):
    """Clip boxes to ``[0, w) x [0, h)`` (negatives always; far edges where the size is known)."""
    boxes = ~table["study_level"].to_numpy(dtype=bool)
    coords = {c: table[c].to_numpy(dtype=float, na_value=np.nan) for c in _COORDS}
    x0, y0 = coords["x"], coords["y"]
    x1, y1 = x0 + coords["width"], y0 + coords["height"]
    nx0, ny0 = np.maximum(x0, 0), np.maximum(y0, 0)
    nx1 = np.where(np.isfinite(widths), np.minimum(x1, widths), x1)
    ny1 = np.where(np.isfinite(heights), np.minimum(y1, heights), y1)
    changed = boxes & ((nx0 != x0) | (ny0 != y0) | (nx1 != x1) | (ny1 != y1))
    if not changed.any():
        return table
    empty = changed & ((nx1 <= nx0) | (ny1 <= ny0))
    for i in np.flatnonzero(changed):
        row = table.iloc[i]
        size = []
        if np.isfinite(heights[i]):
            size.append(f"height {int(heights[i])}")
        if np.isfinite(widths[i]):
            size.append(f"width {int(widths[i])}")
        image = f"the image ({', '.join(size)})" if size else "the image"
        box = f"box (x={int(x0[i])}, y={int(y0[i])}, w={x1[i] - x0[i]:.0f}, h={y1[i] - y0[i]:.0f})"
        action = "lies entirely outside; dropped" if empty[i] else "was clipped"
        _warn(source, table.index[i], row["file"], row["slice"], f"{box} {action} to {image}")
    out = table.copy()
    out["x"] = pd.array(np.where(boxes, nx0, np.nan), dtype="Int64")
    out["y"] = pd.array(np.where(boxes, ny0, np.nan), dtype="Int64")
    out["width"] = pd.array(np.where(boxes, nx1 - nx0, np.nan), dtype="Int64")
    out["height"] = pd.array(np.where(boxes, ny1 - ny0, np.nan), dtype="Int64")
    return out[~empty]


def apply_box_policy(table: Annotations, box_policy: str = "all") -> Annotations:
    """Keep every box (``"all"``) or only the first box of each slice, in CSV order (``"first"``).

    Study-level rows are always kept.
    """
    _check_policy(box_policy)
    if box_policy == "all":
        return table
    rows = table.table
    boxes = ~rows["study_level"].astype(bool)
    first = rows[boxes].groupby(["file", "slice"], sort=False).cumcount() == 0
    keep = ~boxes
    keep[first.index[first.to_numpy()]] = True
    return replace(table, table=rows[keep.to_numpy()])


def _drop(table: pd.DataFrame, drop: np.ndarray, source: str, why) -> pd.DataFrame:
    """Drop rows ``drop`` (bool mask) with one :class:`AnnotationWarning` each (``why(i)``)."""
    for i in np.flatnonzero(drop):
        row = table.iloc[i]
        _warn(source, table.index[i], row["file"], row["slice"], why(i))
    return table[~drop]


def _drop_empty(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Drop boxes of zero width or height (the published knee file has one)."""
    w = table["width"].to_numpy(dtype=float, na_value=np.nan)
    h = table["height"].to_numpy(dtype=float, na_value=np.nan)
    empty = ~table["study_level"].to_numpy(dtype=bool) & ((w <= 0) | (h <= 0))
    why = lambda i: f"box is empty (width {int(w[i])}, height {int(h[i])}); dropped"  # noqa: E731
    return _drop(table, empty, source, why)


def _drop_duplicates(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """Drop repeated box rows (same file, slice, box and label): they would count twice."""
    boxes = ~table["study_level"].to_numpy(dtype=bool)
    keys = ["file", "slice", *_COORDS, "label"]
    repeated = boxes & table[keys].duplicated().to_numpy()
    first = table[boxes].reset_index().drop_duplicates(keys).set_index(keys)["line"]

    def why(i: int) -> str:
        original = first.loc[tuple(table.iloc[i][keys])]
        return f"box repeats line {original}; dropped"

    return _drop(table, repeated, source, why)


def _drop_missing_slices(table: pd.DataFrame, num_slices: SizeSpec, source: str):
    """Drop boxes on slices the volume does not have (where its slice count is known)."""
    counts = _resolve(num_slices, table["file"])
    slices = table["slice"].to_numpy(dtype=float, na_value=np.nan)
    boxes = ~table["study_level"].to_numpy(dtype=bool)
    outside = boxes & np.isfinite(counts) & (slices >= counts)
    why = lambda i: (  # noqa: E731
        f"column 'slice' is outside the volume ({int(counts[i])} slices, 0 to "
        f"{int(counts[i]) - 1}); dropped"
    )
    return _drop(table, outside, source, why)


def load_annotations(
    path: str | Path,
    recon_height: SizeSpec = None,
    box_policy: str = "all",
    *,
    recon_width: SizeSpec = None,
    num_slices: SizeSpec = None,
) -> Annotations:
    """Load a fastMRI+ annotation CSV (one row per box, plus study-level rows).

    Args:
        path: The published fastMRI+ CSV (``file,slice,study_level,x,y,width,height,label``).
        recon_height: Reconstruction height ``h`` as one int or a mapping ``file -> h``
            (``HeaderInfo.recon_shape[0]``). When given, boxes are converted to the
            reconstruction frame with ``y' = recon_height - y - height`` and clipped at the bottom
            edge; with a mapping, rows of files not in it are dropped. When ``None`` the boxes
            stay in the CSV (flipped) frame.
        box_policy: ``"all"`` keeps every box of a slice, ``"first"`` only the first one.
        recon_width: Reconstruction width ``w`` (int or mapping), to clip at the right edge.
        num_slices: Slices per volume (int or mapping ``file -> slices``), to drop boxes on
            slices a volume does not have.

    Returns:
        :class:`Annotations` whose ``table`` is a DataFrame indexed by CSV line number with
        columns ``file`` (str, volume stem),
        ``slice`` (Int64), ``study_level`` (bool), ``x, y, width, height`` (Int64, ``<NA>`` on
        study-level rows) and ``label`` (str, whitespace stripped). Each of these is dropped
        with an :class:`AnnotationWarning` naming the CSV, line, volume and slice: empty boxes,
        repeated boxes, boxes on a slice the volume does not have, boxes entirely outside the
        image; boxes reaching outside the image are clipped (also with a warning).
        ``in_recon_frame`` says which frame the boxes are in; ``box_rows`` counts the box rows
        of each file in the CSV before anything was dropped.

    Raises:
        InputFileError: The file is missing or unreadable, lacks columns, or has a non-numeric
            or empty coordinate or a negative slice, width or height (the message names the
            line, column, volume and slice).
    """
    _check_policy(box_policy)
    path = Path(path)
    table = _read_csv(path)
    source = str(path)
    counts = table.loc[~table["study_level"], "file"].value_counts()
    table = _drop_empty(table, source)
    table = _drop_duplicates(table, source)
    table = _drop_missing_slices(table, num_slices, source)
    loaded = Annotations(table, source=source, box_rows=counts.to_dict())
    if recon_height is not None:
        loaded = to_recon_frame(loaded, recon_height, recon_width)
    else:
        unknown = np.full(len(table), np.nan)
        clipped = _clip(table, unknown, _resolve(recon_width, table["file"]), source)
        loaded = replace(loaded, table=clipped)
    return apply_box_policy(loaded, box_policy)


def explain_no_boxes(csv: str | Path, index: AnnotationIndex | None, volumes: list) -> str:
    """Why an annotation CSV yields no box for a folder of volumes (an error sentence).

    Args:
        csv: The CSV path.
        index: The index built from it (``None`` if none was built).
        volumes: The volumes (with ``fname``) of the data folder.
    """
    names = [v.fname for v in volumes]
    rows = {} if index is None else index.box_rows
    ours = sum(int(rows.get(n, 0)) for n in names)
    if ours == 0:
        example = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        return (
            f"annotation CSV {csv} has no box rows for any of the {len(names)} file(s) in the "
            f"data folder ({example}); check that the CSV belongs to this data"
        )
    return (
        f"annotation CSV {csv} has {ours} box row(s) for the files in the data folder but "
        "none is usable (each was dropped: see the warnings above)"
    )


class AnnotationIndex:
    """Per-slice lookup of fastMRI+ boxes and per-volume study-level labels.

    Args:
        table: Annotations from :func:`load_annotations` (or a bare DataFrame of the same
            columns).
        in_recon_frame: Whether the boxes are in the reconstruction frame; defaults to
            ``table.in_recon_frame`` (``False`` for a bare DataFrame).

    Volume names may be given as ``file1000001``, ``file1000001.h5`` or a path.
    """

    def __init__(
        self, table: Annotations | pd.DataFrame, *, in_recon_frame: bool | None = None
    ) -> None:
        loaded = _as_annotations(table)
        table = loaded.table
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise ValueError(f"annotation table is missing column(s) {missing}")
        if in_recon_frame is None:
            in_recon_frame = loaded.in_recon_frame
        self.table = table
        self.in_recon_frame = bool(in_recon_frame)
        #: Box rows per file in the CSV before anything was dropped (for error messages).
        self.box_rows: Mapping[str, int] = dict(loaded.box_rows)
        self._boxes: dict[tuple[str, int], list[Box]] = {}
        self._study: dict[str, list[str]] = {}
        for row in table.itertuples(index=False):
            if row.study_level:
                labels = self._study.setdefault(row.file, [])
                if row.label not in labels:
                    labels.append(row.label)
            else:
                box = Box(int(row.x), int(row.y), int(row.width), int(row.height), row.label)
                self._boxes.setdefault((row.file, int(row.slice)), []).append(box)
        self._slices: dict[str, list[int]] = {}
        for file, slice_num in sorted(self._boxes):
            self._slices.setdefault(file, []).append(slice_num)

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        recon_height: SizeSpec = None,
        box_policy: str = "all",
        *,
        recon_width: SizeSpec = None,
    ) -> AnnotationIndex:
        """:func:`load_annotations` followed by indexing."""
        return cls(load_annotations(path, recon_height, box_policy, recon_width=recon_width))

    def boxes(self, file: str | Path, slice_num: int) -> list[Box]:
        """Boxes of one slice in CSV order (empty list if none)."""
        return list(self._boxes.get((_stem(file), int(slice_num)), []))

    def study_labels(self, file: str | Path) -> list[str]:
        """Study-level (whole-volume) labels of a volume, e.g. ``["artifact"]``."""
        return list(self._study.get(_stem(file), []))

    def slices(self, file: str | Path) -> list[int]:
        """Sorted slice indices of a volume that have at least one box."""
        return list(self._slices.get(_stem(file), []))

    @property
    def files(self) -> list[str]:
        """Sorted volume names with at least one box or study-level label."""
        return sorted(set(self._slices) | set(self._study))

    def __len__(self) -> int:
        """Number of boxes."""
        return sum(len(b) for b in self._boxes.values())

    def __repr__(self) -> str:
        frame = "recon" if self.in_recon_frame else "csv"
        return f"AnnotationIndex({len(self)} boxes, {len(self.files)} files, frame={frame})"
