"""Durable, resumable tidy tables (CSV) and the run folder.

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
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from advrecon.errors import ConfigError, InputFileError

__all__ = [
    "TidyTable",
    "StoreWarning",
    "merge_tables",
    "order_columns",
    "atomic_write_text",
    "save_arrays",
    "load_arrays",
    "prepare_run_dir",
    "read_manifest",
    "update_manifest",
]


class StoreWarning(UserWarning):
    """A results file was repaired (truncated last line dropped)."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file + fsync + ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


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
        path: The CSV file (created on first append).
        key: Name of the key column (``unit_id``).
        first: Columns to put first when the header is created or widened.
    """

    def __init__(self, path: str | Path, key: str = "unit_id", first: Sequence[str] = ()) -> None:
        self.path = Path(path)
        self.key = key
        self.first = list(first) or [key]
        self._header: list[str] | None = None
        self._keys: set[str] | None = None

    # ---------------------------------------------------------------- reading
    def read(self, repair: bool = True) -> tuple[list[str], list[dict[str, str]]]:
        """Header and rows (as strings). A truncated last line is dropped (and repaired).

        Raises:
            InputFileError: the file is not a table of this kind (no key column).
        """
        if not self.path.exists():
            return [], []
        text = self.path.read_text()
        if not text:
            return [], []
        dropped = []
        if not text.endswith("\n"):
            cut = text.rfind("\n") + 1
            dropped.append(text[cut:])
            text = text[:cut]
        lines = list(csv.reader(io.StringIO(text)))
        if not lines:
            header, body = [], []
        else:
            header, body = lines[0], lines[1:]
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
                atomic_write_text(self.path, _encode(header, good, with_header=bool(header)))
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
            # create or widen: rewrite the whole file atomically
            old_header, old_rows = self.read(repair=False) if self.path.exists() else ([], [])
            header = order_columns([*old_header, *cols], self.first)
            atomic_write_text(self.path, _encode(header, [*old_rows, *new], with_header=True))
            self._header = header
        else:
            data = _encode(self._header, new, with_header=False)
            with open(self.path, "a", newline="") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        keys.update(seen)
        self._keys = keys
        return len(new)


def merge_tables(
    sources: Sequence[Path], dest: Path, key: str = "unit_id", first: Sequence[str] = ()
) -> int:
    """Merge tables into ``dest`` (atomic): union of columns, one row per key, sorted by key.

    ``dest`` itself may be among the sources; the first occurrence of a key wins.

    Returns:
        Number of rows in ``dest``.
    """
    header: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    for src in sources:
        h, rs = TidyTable(src, key).read()
        header.extend(h)
        for r in rs:
            rows.setdefault(r[key], r)
    if not rows and not Path(dest).exists():
        return 0
    header = order_columns(header or [key], first or [key])
    ordered = [rows[k] for k in sorted(rows)]
    atomic_write_text(Path(dest), _encode(header, ordered, with_header=True))
    return len(ordered)


# -------------------------------------------------------------------- arrays
def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Compressed ``.npz`` written atomically (images as float16 to keep runs small)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {}
    for k, v in arrays.items():
        a = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
        if a.dtype.kind == "f" and a.ndim >= 2:
            a = a.astype(np.float16)
        out[k] = a
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.npz")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **out)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """Arrays saved by :func:`save_arrays` (float16 images are returned as float32)."""
    with np.load(path) as z:
        return {k: (z[k].astype(np.float32) if z[k].dtype == np.float16 else z[k]) for k in z}


# -------------------------------------------------------------------- run folder
MANIFEST = "manifest.json"


def read_manifest(run_dir: Path) -> dict[str, Any]:
    p = Path(run_dir) / MANIFEST
    if not p.is_file():
        raise InputFileError(run_dir, "not an advrecon run folder (no manifest.json)")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(p, f"unreadable manifest ({exc})") from None


def update_manifest(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Add/replace fields of the manifest (atomic)."""
    m = read_manifest(run_dir)
    m.update(fields)
    atomic_write_text(Path(run_dir) / MANIFEST, json.dumps(m, indent=2, sort_keys=True) + "\n")
    return m


def prepare_run_dir(
    run_dir: Path, config_hash: str, config_yaml: str, manifest: dict[str, Any], create: bool
) -> Path:
    """Create the run folder (``config.yaml`` + ``manifest.json``) or check it belongs to us.

    Args:
        run_dir: The folder.
        config_hash: Full config hash.
        config_yaml: Text of the config to store.
        manifest: Initial manifest fields (written only when the folder is new).
        create: Create files if missing (rank 0); other ranks only check.

    Raises:
        ConfigError: the folder holds results of a different config.
    """
    run_dir = Path(run_dir)
    mpath = run_dir / MANIFEST
    if mpath.is_file():
        m = read_manifest(run_dir)
        if m.get("config_hash") != config_hash:
            raise ConfigError(
                f"{run_dir}: run folder was written by another config (hash "
                f"{str(m.get('config_hash'))[:10]}, this config {config_hash[:10]}); choose "
                "another --output or remove the folder"
            )
        return run_dir
    if run_dir.exists() and any(run_dir.glob("results*.csv")):
        raise ConfigError(f"{run_dir}: holds results but no manifest.json; refusing to mix runs")
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "arrays").mkdir(exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", config_yaml)
        body = {**manifest, "config_hash": config_hash}
        atomic_write_text(mpath, json.dumps(body, indent=2, sort_keys=True) + "\n")
    return run_dir
