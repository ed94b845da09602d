"""Figure and panels of the inter-shot rigid motion threat model.

* ``fig_motion_budget``: region and whole-image SSIM vs ``theta_max`` per shot, worst-case
  motion (o, 95% CI over slices) vs random motion at the same bound (x) vs the worst
  single-shot motion (s);
* panels: worst and median region unit at the largest ``theta_max``, the control being the
  fully-sampled image under the same motion.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.motion.report.findings import NAME
from advrecon.report.figures import colors, kinds_by_budget, save, subplots
from advrecon.report.panels import worst_and_median

__all__ = ["fig_motion_budget", "figures", "panels"]

#: ``(column prefix, marker, alpha, legend)`` of the curves.
_KINDS = (("adv", "o", 1.0, "worst motion"), ("rand_mean", "x", 0.45, "random motion"),
          ("single", "s", 0.7, "worst single shot"))  # fmt: skip


def fig_motion_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Inter-shot motion: region and whole-image SSIM vs theta_max; worst, random, one shot."""
    d = df[(df["attack"] == NAME) & (df["target"] == "region")]
    if d.empty:
        return None
    color = colors(list(d["model"].unique()))
    fig, axes = subplots(1, 2, figsize=(10, 4))
    for ax, suffix, title in ((axes[0], "", "region SSIM"), (axes[1], "_full", "whole-image SSIM")):
        kinds_by_budget(ax, d, suffix, _KINDS, color)
        ax.set_xlabel("theta_max per shot (degrees; translation bound: see table)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SSIM (mean, 95% CI over slices for the worst case)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Inter-shot rigid motion: worst case vs random motion at the same bound")
    return save(fig, out_dir, "fig_motion_budget")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_motion_budget": png}`` (empty without region rows)."""
    png = fig_motion_budget(ctx.results, ctx.fig_dir)
    return {} if png is None else {"fig_motion_budget": png}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, largest theta_max)."""
    rows = ctx.rows(NAME)
    return worst_and_median(
        rows[rows["target"] == "region"],
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title="fully sampled, same motion",
        budget_label=lambda row: f"theta_max {row['budget']:g} deg",
    )
