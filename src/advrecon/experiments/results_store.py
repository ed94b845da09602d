"""The results store: durable, resumable tidy tables (CSV) and the unit arrays (``.npz``).

Durability rules (a run can be killed at any moment and started again):

* every batch of rows is appended as **one write** of complete lines, then ``flush`` +
  ``fsync``; a file is only ever created or widened (new columns) by writing a temporary file
  and ``os.replace`` -ing it, which is atomic;
* on load, a truncated last line (no trailing newline: the process died mid-write) is dropped
  with a warning and the file is repaired atomically; complete rows are never lost;
* rows whose key (``unit_id``) is already in the table are skipped on append, so re-running a
  batch never duplicates a unit. The set of done units is read from the table itself.

Values are written with ``repr``-exact floats, so a table written by one process equals the
table merged from several.

Every write goes through :func:`~advrecon.files.atomic_write` (whole files) or
:meth:`TidyTable.append` (rows); an :class:`OSError` there (full disk, read-only folder) becomes
one :class:`~advrecon.errors.StorageError` naming the operation and the path, and no temporary file
or half-written row is left behind. A damaged part file is set aside (:func:`quarantine`), never
deleted.
"""

from __future__ import annotations

import csv
import errno
import io
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from advrecon.errors import InputFileError, StorageError
from advrecon.files import atomic_write, atomic_write_text, os_errors

__all__ = [
    "TidyTable",
    "StoreWarning",
    "merge_tables",
    "order_columns",
    "atomic_write",
    "atomic_write_text",
    "os_errors",
    "quarantine",
    "save_arrays",
    "load_arrays",
]


class StoreWarning(UserWarning):
    """A results file was repaired (truncated last line dropped)."""


def _write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a write of 0 bytes means a full device)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "True" if v else "False"
    if isinstance(v, (np.integer,)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return "nan"
        return repr(v)
    if hasattr(v, "item") and callable(v.item):  # 0-d tensors / arrays
        return _fmt(v.item())
    # one line per row: a newline inside a value would look like a torn write
    return str(v).replace("\r", " ").replace("\n", " ")


def _encode(header: Sequence[str], rows: Iterable[dict[str, Any]], with_header: bool) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if with_header:
        w.writerow(header)
    for r in rows:
        w.writerow([_fmt(r.get(c)) for c in header])
    return buf.getvalue()


def order_columns(columns: Iterable[str], first: Sequence[str] = (), last_prefix: str = "time_"):
    """Deterministic column order: ``first`` (in order), the rest sorted, ``time_*`` last."""
    cols = list(dict.fromkeys(columns))
    head = [c for c in first if c in cols]
    rest = sorted(c for c in cols if c not in head and not c.startswith(last_prefix))
    tail = sorted(c for c in cols if c not in head and c.startswith(last_prefix))
    return head + rest + tail


class TidyTable:
    """An append-only CSV table keyed by one column.

    Args:
        path: The CSV file (created, header included, on first append).
        key: Name of the key column (``unit_id``).
        first: Columns to put first when the header is created or widened.
        what: What the table holds, for error messages (``results``, ``rotation curves``).
    """

    def __init__(
        self,
        path: str | Path,
        key: str = "unit_id",
        first: Sequence[str] = (),
        what: str = "results",
    ) -> None:
        self.path = Path(path)
        self.key = key
        self.first = list(first) or [key]
        self.what = what
        self._header: list[str] | None = None
        self._keys: set[str] | None = None

    # ---------------------------------------------------------------- reading
    def read(self, repair: bool = True) -> tuple[list[str], list[dict[str, str]]]:
        """Header and rows (as strings). A truncated last line is dropped (and repaired).

        Raises:
            InputFileError: the file is not a table of this kind (no key column).
            StorageError: the file cannot be read (or repaired).
        """
        with os_errors(f"read {self.what} from", self.path):
            text = self.path.read_text() if self.path.exists() else ""
        if not text:
            self._header, self._keys = None, set()
            return [], []
        dropped = []
        if not text.endswith("\n"):
            cut = text.rfind("\n") + 1
            dropped.append(text[cut:])
            text = text[:cut]
        lines = list(csv.reader(io.StringIO(text)))
        header, body = (lines[0], lines[1:]) if lines else ([], [])
        if header and self.key not in header:
            raise InputFileError(self.path, f"not a results table (no '{self.key}' column)")
        good = []
        for line in body:
            if len(line) != len(header):
                dropped.append(",".join(line))
                continue
            good.append(dict(zip(header, line, strict=True)))
        if dropped:
            warnings.warn(
                f"{self.path}: dropped {len(dropped)} incomplete row(s) left by an interrupted "
                "write; their units will be recomputed",
                StoreWarning,
                stacklevel=2,
            )
            if repair:
                atomic_write(
                    self.path, _encode(header, good, bool(header)), f"repaired {self.what}"
                )
        self._header = header or None
        self._keys = {r[self.key] for r in good}
        return header, good

    def keys(self) -> set[str]:
        """Keys already in the table (read from disk on first use)."""
        if self._keys is None:
            self.read()
        return set(self._keys or ())

    # ---------------------------------------------------------------- writing
    def append(self, rows: Sequence[dict[str, Any]]) -> int:
        """Append rows whose key is not in the table yet, as one durable write.

        Returns:
            Number of rows written.

        Raises:
            StorageError: the write failed; the file is left as it was (no partial row).
        """
        if self._keys is None:
            self.read()
        keys = self._keys if self._keys is not None else set()
        new, seen = [], set()
        for r in rows:
            k = _fmt(r[self.key])
            if k in keys or k in seen:
                continue
            seen.add(k)
            new.append(r)
        if not new:
            return 0
        cols = list(dict.fromkeys(c for r in new for c in r))
        if self._header is None or any(c not in self._header for c in cols):
            self._rewrite_with(new, cols)
        elif not self._append_lines(_encode(self._header, new, with_header=False).encode()):
            self._rewrite_with(new, cols)  # the file was removed under us: create it complete
        keys.update(seen)
        self._keys = keys
        return len(new)

    def _rewrite_with(self, new: list[dict[str, Any]], cols: list[str]) -> None:
        """Create or widen the table: the whole file, header included, written atomically."""
        old_header, old_rows = self.read(repair=False) if self.path.exists() else ([], [])
        header = order_columns([*old_header, *cols], self.first)
        atomic_write(self.path, _encode(header, [*old_rows, *new], with_header=True), self.what)
        self._header = header

    def _append_lines(self, data: bytes) -> bool:
        """One ``write`` + ``fsync`` of complete lines; ``False`` if the file does not exist.

        On failure the file is cut back to its previous length, so no partial row remains.
        """
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)  # never creates a headerless file
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError.from_os(f"write {self.what} to", self.path, exc) from None
        size = None
        try:
            size = os.fstat(fd).st_size
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException as exc:
            if size is not None:
                with suppress(OSError):
                    os.ftruncate(fd, size)
            if isinstance(exc, OSError):
                raise StorageError.from_os(f"write {self.what} to", self.path, exc) from None
            raise
        finally:
            os.close(fd)
        return True


def merge_tables(
    sources: Sequence[Path],
    dest: Path,
    key: str = "unit_id",
    first: Sequence[str] = (),
    what: str = "results",
) -> int:
    """Merge tables into ``dest`` (atomic): union of columns, one row per key, sorted by key.

    ``dest`` itself may be among the sources; the first occurrence of a key wins.

    Returns:
        Number of rows in ``dest``.
    """
    header: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    for src in sources:
        h, rs = TidyTable(src, key, what=what).read()
        header.extend(h)
        for r in rs:
            rows.setdefault(r[key], r)
    if not rows and not Path(dest).exists():
        return 0
    header = order_columns(header or [key], first or [key])
    ordered = [rows[k] for k in sorted(rows)]
    atomic_write(Path(dest), _encode(header, ordered, with_header=True), what)
    return len(ordered)


def quarantine(path: Path, problem: str) -> Path:
    """Move a damaged part file aside (``NAME.bad``) with a warning, so it never blocks a run.

    Returns:
        The new path.
    """
    bad = Path(path).with_name(Path(path).name + ".bad")
    with os_errors("move aside", path):
        os.replace(path, bad)
    warnings.warn(
        f"{path}: {problem}; moved to {bad.name}, its units will be recomputed",
        StoreWarning,
        stacklevel=2,
    )
    return bad


# -------------------------------------------------------------------- arrays
def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed ``.npz`` written atomically (images as float16 to keep runs small)."""
    path = Path(path)
    with os_errors("create folder", path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, v in arrays.items():
        a = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
        if a.dtype.kind == "f" and a.ndim >= 2:
            a = a.astype(np.float16)
        out[k] = a
    atomic_write(path, lambda f: np.savez_compressed(f, **out), "arrays")


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays saved by :func:`save_arrays` (float16 images are returned as float32)."""
    with np.load(path) as z:
        return {k: (z[k].astype(np.float32) if z[k].dtype == np.float16 else z[k]) for k in z}
