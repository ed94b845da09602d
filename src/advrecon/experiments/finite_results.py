"""Refuse a batch whose clean/adversarial SSIM or PSNR is NaN/Inf: never shown as a result."""

from __future__ import annotations

import math
import re
from typing import Any

from advrecon.errors import NonFiniteResultError

__all__ = ["check_finite"]

#: Metric columns that must be finite for a row to be committed.
_CHECKED = re.compile(r"^(clean|adv)_(ssim|psnr)")


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
