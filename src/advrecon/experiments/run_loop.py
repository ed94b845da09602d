"""The pieces of a run that keep it honest: signals, progress in the manifest, result checks.

* :class:`Interrupts`: SIGINT/SIGTERM stop the run (reported as
  :class:`~advrecon.errors.RunInterrupted`), but never in the middle of committing a batch
  (arrays, curves and rows are written as one step);
* :class:`Progress`: ``manifest.json`` keeps ``status`` / ``total_units`` / ``done_units`` /
  ``updated`` current while the run goes (a small atomic write at most every
  :data:`PROGRESS_INTERVAL_S` seconds; final states are always written). Status values:
  ``running``, ``complete``, ``partial`` (stopped by ``--max-units``), ``interrupted``
  (SIGINT/SIGTERM) and ``failed`` (an error; its message is in ``error``);
* :class:`ModelEta`: the progress bar's time left per model, from the units done per model
  and their measured time (models differ by orders of magnitude in cost per unit);
* :func:`check_finite`: a batch whose clean/adversarial SSIM or PSNR is NaN/Inf is refused, so
  such a row is never presented as a result.
"""

from __future__ import annotations

import json
import math
import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import Any

from advrecon.errors import AdvreconError, NonFiniteResultError
from advrecon.experiments.store import atomic_write, read_manifest, update_manifest

__all__ = [
    "Interrupts",
    "ModelEta",
    "Progress",
    "check_finite",
    "PROGRESS_INTERVAL_S",
    "progress_files",
]

#: Least seconds between two progress writes of the manifest.
PROGRESS_INTERVAL_S = 5.0
#: Metric columns that must be finite for a row to be committed.
_CHECKED = re.compile(r"^(clean|adv)_(ssim|psnr)")


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


def progress_files(run_dir: Path) -> list[Path]:
    """The per-rank progress files of a distributed run (``.progress.rank{r}.json``)."""
    return sorted(Path(run_dir).glob(".progress.rank*.json"))


class Progress:
    """Writes the run's state into ``manifest.json`` (rank 0) or a progress file (other ranks).

    Args:
        run_dir: The run folder.
        launch: Id of this launch (a ``failed`` status of the same launch is never overwritten
            by a later ``running``/``interrupted`` of another rank).
        rank: This process's rank.
        total: Units of the whole experiment.
        base_done: Units done before this launch started.
        interval: Least seconds between two progress writes.
    """

    def __init__(
        self,
        run_dir: Path,
        launch: str,
        rank: int,
        total: int,
        base_done: int,
        interval: float | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.launch = launch
        self.rank = rank
        self.total = total
        self.base_done = base_done
        self.interval = PROGRESS_INTERVAL_S if interval is None else interval
        self.executed = 0
        self._last = -math.inf

    def done(self) -> int:
        """Units done so far over all ranks (rank 0; other ranks count their own)."""
        others = 0
        if self.rank == 0:
            for p in progress_files(self.run_dir):
                with suppress(OSError, ValueError, TypeError, KeyError):
                    others += int(json.loads(p.read_text())["executed"])
        return min(self.total, self.base_done + self.executed + others)

    def start(self) -> None:
        """Mark the run ``running`` (rank 0)."""
        self.status("running", error=None)

    def advance(self, n: int) -> None:
        """Count ``n`` committed units; write the progress if the last write is old enough."""
        self.executed += n
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        if self.rank == 0:
            self.status("running")
        else:
            path = self.run_dir / f".progress.rank{self.rank}.json"
            atomic_write(path, json.dumps({"executed": self.executed}), "progress")

    def status(self, status: str, done: int | None = None, **fields: Any) -> None:
        """Write ``status`` with the current counts (rank 0, or any rank for ``failed``)."""
        if self.rank != 0 and status != "failed":
            return
        m = read_manifest(self.run_dir)
        if m.get("launch") == self.launch and (
            (m.get("status") == "failed" and status != "failed")  # keep the first rank's error
            or (m.get("status") == "complete" and status in ("interrupted", "failed"))
        ):
            return  # a stop after the last unit was merged changes nothing
        update_manifest(
            self.run_dir,
            status=status,
            total_units=self.total,
            done_units=self.done() if done is None else done,
            updated=time.strftime("%Y-%m-%dT%H:%M:%S"),
            launch=self.launch,
            **fields,
        )

    def final(self, status: str, **fields: Any) -> None:
        """Best-effort last status (``interrupted``/``failed``): never masks the real error."""
        with suppress(AdvreconError, OSError):
            self.status(status, **fields)


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h10m``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ModelEta:
    """Time left per model: its units left times its measured seconds per unit.

    A model with no unit done in this launch has no estimate yet (shown as ``?``); the total
    adds the known estimates and says ``+?`` while some are unknown.

    Args:
        left: ``model key -> units left`` (this process's share).
    """

    def __init__(self, left: dict[str, int]) -> None:
        self.left = dict(left)
        self.units: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def record(self, model: str, units: int, seconds: float) -> None:
        """``units`` of ``model`` were done in ``seconds``."""
        self.left[model] = max(0, self.left.get(model, 0) - units)
        self.units[model] = self.units.get(model, 0) + units
        self.seconds[model] = self.seconds.get(model, 0.0) + seconds

    def eta(self, model: str) -> float | None:
        """Seconds left for ``model`` (``None``: no unit of it measured yet)."""
        if self.left.get(model, 0) == 0:
            return 0.0
        if not self.units.get(model):
            return None
        return self.left[model] * self.seconds[model] / self.units[model]

    def describe(self, current: str) -> str:
        """``unet@4x 1m20s left; all 5m10s+?`` for the bar's postfix."""
        etas = {m: self.eta(m) for m in self.left}
        known = sum(v for v in etas.values() if v is not None)
        unknown = any(v is None for v in etas.values())
        now = etas.get(current)
        here = "?" if now is None else _duration(now)
        return f"{current} {here} left; all {_duration(known)}{'+?' if unknown else ''}"


def _finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return True  # not a number: not a metric


def check_finite(batch: Any, rows: dict[str, dict[str, Any]]) -> None:
    """Refuse a batch whose clean/adversarial SSIM or PSNR is NaN or infinite.

    Args:
        batch: The :class:`~advrecon.experiments.units.UnitBatch`.
        rows: ``unit_id -> row`` about to be committed.

    Raises:
        NonFiniteResultError: naming model, file, slice, attack and the columns.
    """
    units = {u.id: u for u in batch.units}
    for uid, row in rows.items():
        bad = sorted(k for k, v in row.items() if _CHECKED.match(k) and not _finite(v))
        if bad:
            u = units[uid]
            raise NonFiniteResultError(
                f"model {u.model} ({u.acceleration}x), file {u.file}, slice {u.slice}, attack "
                f"{u.attack}-{u.rule} on {u.target} at budget {u.budget:g}: non-finite "
                f"{', '.join(bad)}; the batch was not saved (check the data and the model)"
            )
