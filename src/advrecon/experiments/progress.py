"""How far a run is: its state in the manifest, and the progress bar's time left per model.

* :class:`Progress`: ``manifest.json`` keeps ``status`` / ``total_units`` / ``done_units`` /
  ``updated`` current while the run goes (a small atomic write at most every
  :data:`PROGRESS_INTERVAL_S` seconds; final states are always written). Status values:
  ``running``, ``complete``, ``partial`` (stopped by ``--max-units``), ``interrupted``
  (SIGINT/SIGTERM) and ``failed`` (an error; its message is in ``error``). Other torchrun ranks
  count their units in ``.progress.rank{r}.json`` (:func:`progress_files`);
* :class:`ModelEta`: the progress bar's time left per model, from the units done per model
  and their measured time (models differ by orders of magnitude in cost per unit).
"""

from __future__ import annotations

import json
import math
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from advrecon.errors import AdvreconError
from advrecon.experiments.manifest import read_manifest, update_manifest
from advrecon.files import atomic_write

__all__ = ["ModelEta", "Progress", "PROGRESS_INTERVAL_S", "progress_files"]

#: Least seconds between two progress writes of the manifest.
PROGRESS_INTERVAL_S = 5.0


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
