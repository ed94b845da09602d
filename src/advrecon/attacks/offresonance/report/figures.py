"""Figure and panels of the B0 off-resonance threat model.

* ``fig_offresonance_budget``: region and whole-image SSIM vs the bound ``max|df|`` (Hz), the
  worst-case field map (o, 95% CI over slices) vs random field maps at the same bound (x); a
  top axis gives the bound as a shift, ``max|df| / BW`` pixels, when the run has one bandwidth;
* panels: worst and median region unit at the largest bound, the control being the
  fully-sampled image under the same field map.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.offresonance.report.findings import NAME
from advrecon.report.figures import colors, kinds_by_budget, save, subplots
from advrecon.report.panels import worst_and_median

__all__ = ["fig_offresonance_budget", "figures", "panels"]

#: ``(column prefix, marker, alpha, legend)`` of the curves.
_KINDS = (("adv", "o", 1.0, "worst field map"), ("rand_mean", "x", 0.45, "random field map"))


def _pixel_axis(ax, d: pd.DataFrame) -> None:
    """A top axis in pixels of shift (``Hz / BW``) when the rows share one bandwidth."""
    col = "offres_bandwidth_hz_per_px"
    bw = d[col].dropna().unique() if col in d.columns else []
    if len(bw) == 1 and bw[0] > 0:
        top = ax.secondary_xaxis("top", functions=(lambda x: x / bw[0], lambda p: p * bw[0]))
        top.set_xlabel(f"max|df| / BW (pixels of shift; BW = {bw[0]:g} Hz/px)")


def fig_offresonance_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Region and whole-image SSIM vs max|df|: worst-case vs random field maps."""
    d = df[(df["attack"] == NAME) & (df["target"] == "region")]
    if d.empty:
        return None
    color = colors(list(d["model"].unique()))
    fig, axes = subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    for ax, suffix, title in ((axes[0], "", "region SSIM"), (axes[1], "_full", "whole-image SSIM")):
        kinds_by_budget(ax, d, suffix, _KINDS, color)
        ax.set_xlabel("bound max|df| (Hz)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        _pixel_axis(ax, d)
    axes[0].set_ylabel("SSIM (mean, 95% CI over slices for the worst case)")
    axes[0].legend(fontsize=7)
    fig.suptitle("B0 off-resonance: worst-case vs random field map at the same bound")
    return save(fig, out_dir, "fig_offresonance_budget")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_offresonance_budget": png}`` (empty without region rows)."""
    png = fig_offresonance_budget(ctx.results, ctx.fig_dir)
    return {} if png is None else {"fig_offresonance_budget": png}


def _budget_label(row: pd.Series) -> str:
    bw = row.get("offres_bandwidth_hz_per_px", float("nan"))
    return f"max|df| {row['budget']:g} Hz ({row['budget'] / bw:.2g} px)"


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, largest bound)."""
    rows = ctx.rows(NAME)
    return worst_and_median(
        rows[rows["target"] == "region"],
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title="fully sampled, same field map",
        budget_label=_budget_label,
    )
