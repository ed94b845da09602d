"""How much of a run the report rests on: done / total units, and whether the run is partial.

``done`` counts the distinct ``unit_id`` of ``results.csv`` (what the report is made from);
``total`` is the manifest's ``total_units`` (written when the run starts and updated while it
goes). A run is *complete* only when the total is known and every unit has a row; anything else
(still running, interrupted, stopped by ``--max-units``, failed, or an old folder whose manifest
never got a total) is *partial*: its verdicts are provisional and the report says so up front.
The total cannot be recomputed from ``config.yaml`` alone (it depends on the slices and boxes of
the data), so an unknown total is shown as such and the run counts as partial.
"""

from __future__ import annotations

from dataclasses import dataclass

from advrecon.errors import AdvreconError
from advrecon.report.tables import RunData

__all__ = ["RunProgress", "run_progress", "refuse_partial", "PartialRunError"]


class PartialRunError(AdvreconError):
    """The report of a partial run was asked for without ``--allow-partial``."""


@dataclass(frozen=True)
class RunProgress:
    """Progress of a run folder.

    Attributes:
        done: Distinct units in ``results.csv``.
        total: Units of the whole experiment (``None`` when the manifest has no total).
        status: The manifest's ``status`` (``running``, ``complete``, ``partial``,
            ``interrupted``, ``failed``; ``unknown`` when missing).
        updated: The manifest's ``updated`` time stamp (``""`` when missing).
    """

    done: int
    total: int | None
    status: str
    updated: str = ""

    @property
    def partial(self) -> bool:
        """True unless the total is known and every unit has a row."""
        return self.total is None or self.done < self.total

    @property
    def fraction(self) -> str:
        """``"12 / 96"`` or ``"12 / unknown total"``."""
        return f"{self.done} / {self.total if self.total is not None else 'unknown total'}"

    @property
    def headline(self) -> str:
        """One line for the top of the report, e.g. ``"Units done: 96 / 96 (run complete)"``."""
        when = f", manifest updated {self.updated}" if self.updated else ""
        return f"Units done: {self.fraction} (run status: {self.status}{when})"

    @property
    def reason(self) -> str:
        """Why the run counts as partial (``""`` for a complete run)."""
        if not self.partial:
            return ""
        if self.total is None:
            return "manifest.json records no valid total_units, so the run may not have finished"
        if self.status == "complete":
            return "the manifest says complete but results.csv lacks units"
        return f"run status: {self.status}"

    @property
    def banner(self) -> str:
        """The partial-run warning (``""`` for a complete run)."""
        if not self.partial:
            return ""
        return f"PARTIAL RUN: {self.fraction} units — verdicts are provisional ({self.reason})."


def run_progress(run: RunData) -> RunProgress:
    """Done / total units and status of ``run`` (see the module docstring)."""
    m = run.manifest if isinstance(run.manifest, dict) else {}
    total = m.get("total_units")
    valid = isinstance(total, int) and not isinstance(total, bool) and total >= 0
    res = run.results
    done = int(res["unit_id"].nunique()) if "unit_id" in res.columns else len(res)
    status = m.get("status")
    return RunProgress(
        done=done,
        total=total if valid else None,
        status=status if isinstance(status, str) and status else "unknown",
        updated=str(m.get("updated") or ""),
    )


def refuse_partial(run: RunData, progress: RunProgress) -> PartialRunError:
    """The one-sentence error for a partial run reported without ``allow_partial``."""
    return PartialRunError(
        f"{run.run_dir}: partial run ({progress.fraction} units; {progress.reason}), so its "
        f"verdicts would be provisional; finish it with `advrecon run {run.run_dir}` or pass "
        "--allow-partial (Python: allow_partial=True) to write the report marked PARTIAL RUN"
    )
