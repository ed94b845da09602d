"""SIGINT/SIGTERM stop a run, but never in the middle of committing a batch.

:class:`Interrupts` turns the signals into ``KeyboardInterrupt`` (reported by the run as
:class:`~advrecon.errors.RunInterrupted`) and defers them while a batch's arrays, curves and rows
are written as one step (:meth:`Interrupts.commit`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

__all__ = ["Interrupts"]


class Interrupts:
    """Context manager: SIGINT/SIGTERM stop the run (deferred while in :meth:`commit`).

    The handler raises ``KeyboardInterrupt("stopped by SIGTERM")``, which the run reports as
    :class:`~advrecon.errors.RunInterrupted`; later signals are ignored while it stops.

    Handlers are installed only in the main thread (Python allows no other); the previous
    handlers are restored on exit.
    """

    def __init__(self) -> None:
        self._old: dict[int, Any] = {}
        self._committing = False
        self._stopping = False
        self._pending: str | None = None

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            return  # already stopping: let the last status be written
        name = signal.Signals(signum).name
        if self._committing:
            self._pending = name
            return
        self._stop(name)

    def _stop(self, name: str) -> None:
        # KeyboardInterrupt, not an Exception: library code that catches ``Exception`` (tqdm
        # does, around its monitor thread) must not swallow the stop. The run turns it into
        # RunInterrupted.
        self._stopping = True
        raise KeyboardInterrupt(f"stopped by {name}")

    @contextmanager
    def commit(self) -> Iterator[None]:
        """Defer signals until the block (one batch's writes) is done."""
        self._committing = True
        try:
            yield
        finally:
            self._committing = False
        if self._pending is not None:
            self._stop(self._pending)
