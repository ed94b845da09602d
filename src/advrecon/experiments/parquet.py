"""``results.parquet``: the finished results table with the schema's dtypes.

``results.csv`` stays the durable, resumable store (one append per batch); when a run
completes, the table is also written as Parquet beside it, each column typed as
:data:`advrecon.experiments.schema.COLUMNS` declares it (``int`` -> nullable ``Int64``,
``float`` -> ``float64``, ``bool`` -> nullable ``boolean``, ``str`` -> ``string``; an empty CSV
cell is a null). Floats are parsed by Python's ``float`` so that every value equals the CSV's
exactly. Columns a custom executor adds are numbers when every cell is one, else strings.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from advrecon.experiments.results_store import TidyTable, atomic_write
from advrecon.experiments.schema import dtype_of

__all__ = ["write_parquet", "typed_frame"]


def _floats(cells: list[str]) -> list[float]:
    return [math.nan if c == "" else float(c) for c in cells]


def _column(name: str, cells: list[str]) -> pd.Series:
    """One CSV column (strings) as the declared dtype (a value that does not fit: strings)."""
    kind = dtype_of(name)
    try:
        if kind == "bool":
            if any(c not in ("True", "False", "") for c in cells):
                raise ValueError(name)
            vals = [None if c == "" else c == "True" for c in cells]
            return pd.Series(vals, name=name, dtype="boolean")
        if kind == "int":
            return pd.Series([None if c == "" else int(c) for c in cells], name=name, dtype="Int64")
        if kind in ("float", None):
            return pd.Series(_floats(cells), name=name, dtype="float64")
    except ValueError:
        pass
    return pd.Series([None if c == "" else c for c in cells], name=name, dtype="string")


def typed_frame(results_csv: Path) -> pd.DataFrame:
    """``results.csv`` as a frame with the schema's dtypes (column order kept).

    Args:
        results_csv: The table (read only, never repaired).
    """
    header, rows = TidyTable(results_csv).read(repair=False)
    cols = [_column(c, [r.get(c, "") for r in rows]) for c in header]
    return pd.concat(cols, axis=1) if cols else pd.DataFrame()


def write_parquet(results_csv: Path) -> Path:
    """Write ``results.parquet`` beside ``results_csv`` (atomic). Returns its path."""
    df = typed_frame(results_csv)
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow", index=False)
    out = Path(results_csv).with_suffix(".parquet")
    atomic_write(out, buf.getvalue(), "results (Parquet)")
    return out
