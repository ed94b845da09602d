"""Figures, panels and the curve table of the rotation threat model.

* Fig. 4a (``fig4a_rotation_budget``): worst-case region SSIM vs ``theta_max`` with the
  random-angle baseline, mean and 95% CI over slices;
* Fig. 4b (``fig4b_rotation_example``): region SSIM vs rotation angle for the example with the
  largest drop at the largest ``theta_max`` (from ``rotation_curves.csv``), worst angle marked;
* panels (paper Fig. 5): worst and median region unit at the largest ``theta_max``, the
  control being the fully-sampled image rotated by the selected angle and back (what
  interpolation alone does);
* the table ``rotation_curves_mean``: mean SSIM per target and angle over slices.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.rotation.report.rows import NAME, sweep_rows
from advrecon.report.figures import band, colors, line, save, style, subplots
from advrecon.report.panels import panel, worst_and_median
from advrecon.report.stats import summarize

__all__ = [
    "fig_rotation_budget",
    "fig_rotation_example",
    "figures",
    "panels",
    "reference_title",
    "rotation_example",
    "rotation_panel",
    "tables",
]


def fig_rotation_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Fig. 4a: worst-case region SSIM vs theta_max, with the random-angle baseline."""
    d = sweep_rows(df)
    if d.empty:
        return None
    color = colors(list(d["model"].unique()))
    fig, ax = subplots(figsize=(5.5, 4))
    by = ["model", "acceleration", "budget"]
    for (m, a), g in summarize(d, "adv_ssim", by).groupby(["model", "acceleration"]):
        band(ax, g, "budget", color[m], style(a), f"{m} {a}x worst angle")
    if "rand_mean_ssim" in d.columns:
        for (m, a), g in summarize(d, "rand_mean_ssim", by).groupby(["model", "acceleration"]):
            line(ax, g, "budget", color[m], style(a), f"{m} {a}x random angle")
    ax.set_xlabel("theta_max (degrees)")
    ax.set_ylabel("region SSIM (mean, 95% CI over slices)")
    ax.set_title("Adversarial rotation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, out_dir, "fig4a_rotation_budget")


def rotation_example(df: pd.DataFrame) -> pd.Series | None:
    """The region-target rotation row with the largest SSIM drop at the largest theta_max."""
    d = sweep_rows(df)
    if d.empty:
        return None
    d = d[d["budget"] == d["budget"].max()]
    return d.loc[(d["clean_ssim"] - d["adv_ssim"]).idxmax()]


def fig_rotation_example(df: pd.DataFrame, curves: pd.DataFrame, out_dir: Path) -> Path | None:
    """Fig. 4b: region SSIM vs angle for the worst example, selected angle marked."""
    row = rotation_example(df)
    if row is None or curves.empty:
        return None
    c = curves[
        (curves["model"] == row["model"])
        & (curves["acceleration"] == row["acceleration"])
        & (curves["file"] == row["file"])
        & (curves["slice"] == row["slice"])
        & (curves["target"] == "region")
        & (curves["box_index"] == row["box_index"])
    ]
    if c.empty:
        return None
    c = c.sort_values("angle")
    fig, ax = subplots(figsize=(5.5, 3.8))
    ax.plot(c["angle"], c["ssim"], "-", color="C0", label="region SSIM")
    if "ssim_full" in c.columns:
        ax.plot(c["angle"], c["ssim_full"], "-", color="C7", alpha=0.6, label="whole-image SSIM")
    if "angle_deg" in row and np.isfinite(row["angle_deg"]):
        ax.axvline(
            row["angle_deg"],
            color="C3",
            ls="--",
            label=f"selected worst angle {row['angle_deg']:.1f} deg",
        )
    tm = row["budget"]
    ax.axvspan(-tm, tm, color="C1", alpha=0.08, label=f"theta_max = {tm:g} deg")
    ax.set_xlabel("rotation angle (degrees)")
    ax.set_ylabel("SSIM")
    ax.set_title(
        f"{row['model']} {row['acceleration']}x, {row['file']} slice {row['slice']}, "
        f"box {row['box_index']} ({row.get('box_label', '')})",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, out_dir, "fig4b_rotation_example")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """Every rotation figure the tables support: ``{name: png}``."""
    made = {
        "fig4a_rotation_budget": fig_rotation_budget(ctx.results, ctx.fig_dir),
        "fig4b_rotation_example": fig_rotation_example(ctx.results, ctx.curves, ctx.fig_dir),
    }
    return {k: v for k, v in made.items() if v is not None}


def reference_title(row: pd.Series, a: dict[str, np.ndarray]) -> tuple[str, bool]:
    """Title of the control image and whether it is trivial (the unrotated target).

    Older runs stored the unrotated target as the control; rotating by a non-zero angle and
    back never returns the target bit for bit, so such a control is taken as not stored.
    """
    angle = a.get("angle_deg", row.get("angle_deg", np.nan))
    angle = float(np.asarray(angle, dtype=float).reshape(-1)[0])
    deg = f"{angle:+.1f} deg" if np.isfinite(angle) else "the selected angle"
    ref = a.get("control")
    trivial = ref is not None and angle != 0 and np.array_equal(ref, a["target"])
    return f"fully sampled, rotated {deg} and back", trivial


def _budget(row: pd.Series) -> str:
    angle = f", angle {row['angle_deg']:.1f} deg" if "angle_deg" in row else ""
    return f"theta_max {row['budget']:g} deg{angle}"


def rotation_panel(row: pd.Series, run_dir: Path, out_dir: Path, name: str) -> Path:
    """The qualitative panel of one rotation row (:func:`advrecon.report.panels.panel`)."""
    return panel(row, run_dir, out_dir, name, reference_title, _budget)


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, largest theta_max)."""
    rows = ctx.rows(NAME)
    return worst_and_median(
        rows[rows["target"] == "region"],
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title,
        _budget,
    )


def tables(ctx: ReportContext) -> dict[str, pd.DataFrame]:
    """``rotation_curves_mean``: mean SSIM per model, acceleration, target and angle."""
    if ctx.curves.empty:
        return {}
    c = ctx.curves.assign(attack=NAME)
    keys = ["model", "acceleration", "target", "angle"]
    return {"rotation_curves_mean": summarize(c, "ssim", keys)}
