"""Figure and panels of the receiver-drift threat model.

* ``fig_drift_budget``: region SSIM (left) and its drop from the clean reconstruction (right)
  vs the gain bound, worst-case gains (o, 95% CI over slices) vs uniform random gains at the
  same bounds (x); one colour per model, so that the U-Net (RSS input) and the models that
  calibrate from the ACS band (E2E-VarNet, SENSE) can be told apart;
* panels: worst and median region unit at the largest gain bound, the control being the fully
  sampled image under the same gains.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.drift.report.findings import NAME
from advrecon.report.figures import band, colors, line, save, style, subplots
from advrecon.report.panels import worst_and_median
from advrecon.report.stats import summarize

__all__ = ["fig_drift_budget", "figures", "panels"]


def _with_drops(d: pd.DataFrame) -> pd.DataFrame:
    """``d`` with ``adv_drop`` and ``rand_drop``: clean region SSIM minus worst / random."""
    return d.assign(
        adv_drop=d["clean_ssim"] - d["adv_ssim"], rand_drop=d["clean_ssim"] - d["rand_mean_ssim"]
    )


def fig_drift_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Region SSIM and its drop vs the gain bound: worst case and random, per model."""
    d = df[(df["attack"] == NAME) & (df["target"] == "region")]
    if d.empty:
        return None
    d = _with_drops(d)
    color = colors(list(d["model"].unique()))
    fig, axes = subplots(1, 2, figsize=(10, 4))
    by = ["model", "acceleration", "budget"]
    panels = ((axes[0], "adv_ssim", "rand_mean_ssim", "region SSIM"),
              (axes[1], "adv_drop", "rand_drop", "region SSIM drop from clean"))  # fmt: skip
    for ax, worst, rand, title in panels:
        for (m, a), g in summarize(d, worst, by).groupby(["model", "acceleration"]):
            band(ax, g, "budget", color[m], style(a), f"{m} {a}x worst gains")
        if d[rand].notna().any():
            for (m, a), g in summarize(d, rand, by).groupby(["model", "acceleration"]):
                line(ax, g, "budget", color[m], style(a), f"{m} {a}x random gains")
        ax.set_xlabel("gain bound ||g|-1| per coil (%; phase bound: see table)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean over slices (95% CI for the worst case)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Receiver drift between calibration and scan: worst case vs random gains")
    return save(fig, out_dir, "fig_drift_budget")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_drift_budget": png}`` (empty without region rows)."""
    png = fig_drift_budget(ctx.results, ctx.fig_dir)
    return {} if png is None else {"fig_drift_budget": png}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, largest gain bound)."""
    rows = ctx.rows(NAME)
    return worst_and_median(
        rows[rows["target"] == "region"],
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title="fully sampled, same gains",
        budget_label=lambda row: (
            f"gain {row['budget']:g}%, phase {row.get('drift_phase_max_deg', float('nan')):g} deg"
        ),
    )
