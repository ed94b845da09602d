"""One run at a time in a run folder: :class:`RunLock`, an advisory ``flock`` on ``run.lock``.

The lock file records who holds it (pid, host, since), so a second run is refused with a
message naming the holder; the lock goes with its holder however it exits, so a stale lock file
never blocks a later run.
"""

from __future__ import annotations

import json
import os
import socket
import time
from contextlib import suppress
from pathlib import Path

from advrecon.errors import RunFolderBusyError, StorageError
from advrecon.files import FILE_MODE as _FILE_MODE
from advrecon.files import os_errors

__all__ = ["LOCK", "RunLock"]

#: The lock file of rank 0 (other torchrun ranks lock ``run.rank{r}.lock``).
LOCK = "run.lock"


class RunLock:
    """Advisory, non-blocking ``flock`` on a lock file of a run folder (one run at a time).

    The holder writes ``{"pid", "host", "since"}`` into the file; a second process is refused
    with :class:`~advrecon.errors.RunFolderBusyError` naming them. The lock is released when the
    holder exits, however it exits (kill -9 included), so a stale lock file never blocks.
    ``flock`` works across hosts on NFS (Linux maps it to POSIX locks); other shared file
    systems may need their locking mount option.

    Args:
        path: The lock file (``RUN_DIR/run.lock``, or one per torchrun rank).
        folder: The run folder, for messages.
    """

    def __init__(self, path: Path, folder: Path) -> None:
        self.path = Path(path)
        self.folder = Path(folder)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> RunLock:
        """Take the lock and record this process in the lock file.

        Raises:
            RunFolderBusyError: another process holds it.
            StorageError: the lock file cannot be opened/written (e.g. read-only folder).
        """
        while self._fd is None:
            fd = self._try_lock()
            try:  # the holder we raced with may have removed the file after we opened it
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                self._fd = fd
            else:
                os.close(fd)
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        me["since"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        try:
            with os_errors("write lock file", self.path):
                os.ftruncate(self._fd, 0)
                os.pwrite(self._fd, (json.dumps(me) + "\n").encode(), 0)
        except StorageError:
            self.release()
            raise
        return self

    def _try_lock(self) -> int:
        import fcntl

        with os_errors("lock run folder", self.folder):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise RunFolderBusyError(
                f"run folder {self.folder} is in use by {holder}; wait for that run to finish "
                "(or stop it) and start again"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StorageError.from_os("lock run folder", self.folder, exc) from None
        return fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (OSError, ValueError):
            info = {}
        if not isinstance(info, dict) or "pid" not in info:
            return "another process (it has not recorded itself yet)"
        return f"pid {info['pid']} on host {info.get('host', '?')} since {info.get('since', '?')}"

    def probe(self) -> None:
        """Check nobody holds the lock, without keeping it (no-op if the file is missing)."""
        if self.path.exists():
            self.acquire()
            self.release()

    def release(self, remove: bool = False) -> None:
        """Release the lock (``remove``: delete the lock file first, while still holding it)."""
        if self._fd is None:
            return
        if remove:
            with suppress(OSError):
                os.unlink(self.path)
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
