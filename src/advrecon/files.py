"""Atomic file writes: the one helper every module uses to create or replace a file.

A file is written to a temporary file in the same folder (mode as ``open(path, "w")`` would
give, not ``mkstemp``'s 0600), flushed, fsynced and renamed over the destination
(``os.replace`` is atomic on one file system), then the folder is fsynced. A crash or a full
disk leaves the old file or none, never half of one; an :class:`OSError` becomes one
:class:`~advrecon.errors.StorageError` naming the operation and the path.

Low level on purpose (no torch, no numpy): data, models, training and experiments all use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from advrecon.errors import StorageError

__all__ = ["atomic_write", "atomic_write_text", "os_errors", "process_umask", "FILE_MODE"]


def process_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Mode of new files (what ``open(path, "w")`` would give); ``mkstemp`` alone gives 0600.
FILE_MODE = 0o666 & ~process_umask()


@contextmanager
def os_errors(operation: str, path: object) -> Iterator[None]:
    """Turn an :class:`OSError` inside the block into :class:`StorageError` (operation, path)."""
    try:
        yield
    except OSError as exc:
        raise StorageError.from_os(operation, path, exc) from None


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: not every file system lets a folder be fsynced)."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(
    path: str | Path, data: str | bytes | Callable[[BinaryIO], None], what: str = ""
) -> None:
    """Create or replace ``path`` atomically: temporary file in the same folder, fsync, rename.

    Args:
        path: Destination (its folder must exist).
        data: Text (UTF-8), bytes, or a function writing to the open binary file.
        what: What is written, for the error message (default: the file name).

    Raises:
        StorageError: the write failed (``cannot write {what} to {path}: {reason}``); the
            destination is unchanged and the temporary file is removed.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        with os_errors(f"write {what or path.name} to", path):
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), FILE_MODE)
                if callable(data):
                    data(f)
                else:
                    f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        fsync_dir(path.parent)
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)


def atomic_write_text(path: str | Path, text: str, what: str = "") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, text, what)
