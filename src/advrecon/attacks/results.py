"""Attack results: tensors for figures plus ``.to_rows()`` for the tidy results table.

Row columns (all flat Python scalars).

Common to both attacks:
    ``item`` (index of the (slice, box) item), ``slice_index`` (index into the k-space batch),
    ``box_x``, ``box_y``, ``box_w``, ``box_h`` (the region actually used, i.e. after growth),
    ``box_label``, ``box_grown`` (True when the box was smaller than the 7x7 SSIM window and
    was grown symmetrically), ``data_range_convention`` ("maxmin" or "max").

Metric columns are ``<prefix>_<metric>`` and ``<prefix>_<metric>_full``: ``<metric>`` in
``ssim``, ``psnr`` (dB), ``nmse``, ``mse``; no suffix = inside the region, ``_full`` = the whole
reconstruction (for rotations: the whole image minus pixels that left the field of view).
"""

from __future__ import annotations

import torch

from advrecon.attacks.contract import Column
from advrecon.boxes import Box

__all__ = ["METRICS", "METRIC_UNITS", "box_columns", "metric_columns", "scalar"]

METRICS = ("ssim", "psnr", "nmse", "mse")

#: Metrics and their units.
METRIC_UNITS = {
    "ssim": "1 (structural similarity, 7x7 window)",
    "psnr": "dB",
    "nmse": "1 (||x - y||^2 / ||y||^2)",
    "mse": "image intensity squared",
}


def scalar(v):
    """A tensor's Python value, anything else as it is."""
    if torch.is_tensor(v):
        return v.item()
    return v


def box_columns(box: Box, grown: bool) -> dict:
    """The columns of the region an item used (after growth to the SSIM window)."""
    return {
        "box_x": int(box.x),
        "box_y": int(box.y),
        "box_w": int(box.width),
        "box_h": int(box.height),
        "box_label": box.label,
        "box_grown": bool(grown),
    }


def metric_columns(prefix: str, what: str) -> dict[str, Column]:
    """Declarations of ``<prefix>_<metric>`` (region) and ``<prefix>_<metric>_full``."""
    out = {}
    for m, unit in METRIC_UNITS.items():
        out[f"{prefix}_{m}"] = Column("float", unit, f"{m}, inside the region: {what}")
        out[f"{prefix}_{m}_full"] = Column("float", unit, f"{m}, whole image: {what}")
    return out
