"""Figure and panels of the k-space spike threat model.

* ``fig_spikes_budget``: left, region SSIM vs the amplitude bound: worst-case spikes (o, 95% CI
  over slices), random spikes of the same count and amplitude (x), the control (the
  fully-sampled image with the worst-case spikes, no model, ^); right, the mean distance of
  the worst-case spikes from the k-space centre (energy-weighted, o, 95% CI) and the mean
  distance of the acquired samples (x, a random spike's expectation);
* panels: worst and median region unit at the largest amplitude, the control being the
  fully-sampled image with the same spikes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.spikes.report.findings import NAME
from advrecon.report.figures import band, colors, line, save, style, subplots
from advrecon.report.panels import worst_and_median
from advrecon.report.stats import summarize

__all__ = ["fig_spikes_budget", "figures", "panels"]

_BY = ["model", "acceleration", "budget"]
#: ``(column, curve kind, marker, legend)`` of each panel.
_SSIM = (("adv_ssim", "band", "o", "worst spikes"), ("rand_mean_ssim", "line", "x", "random"),
         ("control_ssim", "line", "^", "control"))  # fmt: skip
_DIST = (("spike_mean_dist", "band", "o", "worst spikes (mean)"),
         ("spike_acquired_dist", "line", "x", "random (acquired mean)"))  # fmt: skip


def _curves(ax, d: pd.DataFrame, kinds, color: dict) -> None:
    """One curve per (model, acceleration) and kind; worst case with its 95% band."""
    for col, kind, marker, what in kinds:
        if col not in d.columns or d[col].isna().all():
            continue
        for (m, a), g in summarize(d, col, _BY).groupby(["model", "acceleration"]):
            draw = band if kind == "band" else line
            draw(ax, g, "budget", color[m], style(a), f"{m} {a}x {what}", marker=marker)


def fig_spikes_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Region SSIM and the spikes' distance from the k-space centre vs the amplitude bound."""
    d = df[(df["attack"] == NAME) & (df["target"] == "region")]
    if d.empty:
        return None
    color = colors(list(d["model"].unique()))
    fig, axes = subplots(1, 2, figsize=(10, 4))
    _curves(axes[0], d, _SSIM, color)
    _curves(axes[1], d[d["budget"] > 0], _DIST, color)
    count = sorted(d["spike_count"].dropna().unique()) if "spike_count" in d else []
    spikes = "/".join(f"{int(c)}" for c in count) or "?"
    axes[0].set_ylabel("region SSIM (mean, 95% CI over slices for the worst case)")
    axes[1].set_ylabel("distance from the k-space centre (samples)")
    budgets = sorted(float(b) for b in d["budget"].unique())
    positive = [b for b in budgets if b > 0]
    for ax, ticks in zip(axes, (budgets, positive), strict=True):
        if len(positive) > 1 and positive[-1] >= 20 * positive[0]:  # 0.1 ... 20 %: symlog
            ax.set_xscale("symlog", linthresh=positive[0])
        ax.set_xticks(ticks, [f"{b:g}" for b in ticks])
        ax.set_xlabel(f"amplitude bound per spike and coil (% of max|k|), {spikes} spikes")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("k-space spikes: worst case vs random spikes at the same amplitude and count")
    return save(fig, out_dir, "fig_spikes_budget")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_spikes_budget": png}`` (empty without region rows)."""
    png = fig_spikes_budget(ctx.results, ctx.fig_dir)
    return {} if png is None else {"fig_spikes_budget": png}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, largest amplitude)."""
    rows = ctx.rows(NAME)
    return worst_and_median(
        rows[rows["target"] == "region"],
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title="fully sampled + same spikes",
        budget_label=lambda row: f"amplitude {row['budget']:g}% of max|k|",
    )
