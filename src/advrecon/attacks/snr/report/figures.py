"""Figure and panels of the SNR shift, made from the results table and saved arrays.

* ``fig_snr_budget``: region SSIM against ``m`` (thermal sigmas) per model and acceleration:
  the worst of the draws (o, 95% CI over slices) and their mean (x); with noise-attack rows in
  the table a second panel puts both on one thermal axis (symmetric log): the random curves and
  the adversarial noise at its mean ``noise_to_thermal`` (squares, one per ``eta``);
* panels: worst and median region unit at the largest ``m``, the control being the
  fully-sampled image with the same noise added.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.snr.report.rows import NAME, noise_rows, region_rows
from advrecon.report.figures import band, colors, line, save, style, subplots
from advrecon.report.panels import worst_and_median
from advrecon.report.stats import per_slice, summarize

__all__ = ["fig_snr_budget", "figures", "panels"]

_BY = ["model", "acceleration", "budget"]


def _random_curves(ax, d: pd.DataFrame, color: dict) -> None:
    """Worst draw (band) and mean over draws (line) against ``m``."""
    for (m, a), g in summarize(d, "adv_ssim", _BY).groupby(["model", "acceleration"]):
        band(ax, g, "budget", color[m], style(a), f"{m} {a}x random, worst draw")
    for (m, a), g in summarize(d, "rand_mean_ssim", _BY).groupby(["model", "acceleration"]):
        line(ax, g, "budget", color[m], style(a), f"{m} {a}x random, mean over draws")


def _adversarial_points(ax, noise: pd.DataFrame, color: dict) -> None:
    """The noise attack's region SSIM at its mean ``noise_to_thermal`` (one point per eta)."""
    for (m, a), g in noise.groupby(["model", "acceleration"]):
        lv = per_slice(g, "noise_to_thermal", ["budget"]).groupby("budget")["noise_to_thermal"]
        s = summarize(g, "adv_ssim", ["budget"]).set_index("budget")
        s["level"] = lv.mean()
        s = s.sort_values("level")
        ax.plot(s["level"], s["mean"], style(a), color=color[m], marker="s", ms=5, alpha=0.8,
                label=f"{m} {a}x adversarial noise (noise attack)")  # fmt: skip


def fig_snr_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Region SSIM vs ``m``: worst and mean of the draws; adversarial noise on the same axis."""
    d = region_rows(df)
    if d.empty:
        return None
    noise = noise_rows(df)
    noise = noise[noise["model"].isin(set(d["model"]))]
    color = colors(list(d["model"].unique()))
    cols = 2 if not noise.empty else 1
    fig, axes = subplots(1, cols, figsize=(5.5 * cols, 4), squeeze=False)
    ax = axes[0][0]
    _random_curves(ax, d, color)
    ax.set_xlabel("m: added noise RMS (thermal sigmas)")
    ax.set_ylabel("region SSIM (mean, 95% CI over slices)")
    ax.set_title("random thermal noise: worst draw (o) and mean (x)")
    if cols == 2:
        ax2 = axes[0][1]
        _random_curves(ax2, d, color)
        _adversarial_points(ax2, noise, color)
        ax2.set_xscale("symlog", linthresh=0.01)
        ax2.set_xlabel("noise RMS in thermal sigmas (m, or noise_to_thermal)")
        ax2.set_title("adversarial (squares) vs random noise, same units")
    for a in axes[0]:
        a.grid(alpha=0.3)
        a.legend(fontsize=6)
    fig.suptitle("SNR shift: region SSIM under added thermal noise")
    return save(fig, out_dir, "fig_snr_budget")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """``{"fig_snr_budget": png}`` (empty without region rows)."""
    png = fig_snr_budget(ctx.results, ctx.fig_dir)
    return {} if png is None else {"fig_snr_budget": png}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, largest ``m``)."""
    return worst_and_median(
        region_rows(ctx.results),
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title="fully sampled + same noise",
        budget_label=lambda row: f"m {row['budget']:g} sigma (worst draw)",
    )
