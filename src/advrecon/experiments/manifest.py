"""The run folder's ``manifest.json``: which config wrote it and how far the run got.

Fields: the config hash (a run folder belongs to one config), package and library versions,
``status`` (``running``, ``complete``, ``partial``, ``interrupted``, ``failed``),
``total_units`` / ``done_units`` / ``updated`` and the launch id. Every update replaces the
whole file atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from advrecon.errors import InputFileError
from advrecon.files import atomic_write, os_errors

__all__ = ["MANIFEST", "read_manifest", "update_manifest", "write_manifest"]

#: File name of the manifest in a run folder.
MANIFEST = "manifest.json"


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The run folder's ``manifest.json``.

    Raises:
        InputFileError: no manifest, or not JSON.
        StorageError: the file cannot be read.
    """
    p = Path(run_dir) / MANIFEST
    if not p.is_file():
        raise InputFileError(run_dir, "not an advrecon run folder (no manifest.json)")
    try:
        with os_errors("read manifest from", p):
            return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise InputFileError(p, f"unreadable manifest ({exc})") from None


def update_manifest(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Add/replace fields of the manifest (atomic)."""
    m = read_manifest(run_dir)
    m.update(fields)
    write_manifest(run_dir, m)
    return m


def write_manifest(run_dir: Path, fields: dict[str, Any]) -> None:
    """Create or replace the manifest with ``fields`` (atomic; keys sorted)."""
    body = json.dumps(fields, indent=2, sort_keys=True) + "\n"
    atomic_write(Path(run_dir) / MANIFEST, body, MANIFEST)
