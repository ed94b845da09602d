"""The results store's former module: its names, importable from here as before.

The store is now three modules, one concept each: :mod:`.results_store` (tidy tables, merging,
quarantine, unit arrays), :mod:`.run_lock` (one run at a time) and :mod:`.manifest` (the run
folder's ``manifest.json``); the run folder's creation (``prepare_run_dir``) is in
:mod:`.run_folder`.
"""

from __future__ import annotations

from advrecon.experiments.manifest import MANIFEST, read_manifest, update_manifest
from advrecon.experiments.results_store import (
    StoreWarning,
    TidyTable,
    atomic_write,
    atomic_write_text,
    load_arrays,
    merge_tables,
    order_columns,
    os_errors,
    quarantine,
    save_arrays,
)
from advrecon.experiments.run_lock import LOCK, RunLock

__all__ = [
    "LOCK",
    "MANIFEST",
    "RunLock",
    "StoreWarning",
    "TidyTable",
    "atomic_write",
    "atomic_write_text",
    "load_arrays",
    "merge_tables",
    "order_columns",
    "os_errors",
    "quarantine",
    "read_manifest",
    "save_arrays",
    "update_manifest",
]
