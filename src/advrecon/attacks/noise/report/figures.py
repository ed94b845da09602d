"""Figures and panels of the noise threat model, made from the results table and saved arrays.

* Fig. 1a (``fig1a_noise_budget``): region SSIM (absolute and relative to ``eta = 0``) vs
  ``eta`` per model and acceleration, mean and 95% CI over slices, with the random-noise
  baseline of the same norm;
* Fig. 1b (``fig1b_targeted_vs_complete``): targeted (region) vs complete-image attack, region
  SSIM vs ``eta``;
* ``fig_rules``: ``l2`` vs ``reference`` PGD rule;
* panels (paper Fig. 2): worst and median region unit of the primary rule at the largest eta,
  the control being the fully-sampled image with the same noise added.

Functions return the written PNG paths (a figure the table has no rows for is left out).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from advrecon.attacks.contract import ReportContext
from advrecon.attacks.noise.report.rows import NAME, TIGHT_RULE, primary_rows, primary_rule
from advrecon.report.figures import band, colors, line, save, style, subplots
from advrecon.report.panels import worst_and_median
from advrecon.report.stats import add_relative, summarize

__all__ = [
    "fig_noise_budget",
    "fig_rules",
    "fig_targeted_vs_complete",
    "figures",
    "panels",
]


def fig_noise_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Fig. 1a: region SSIM vs eta (absolute, relative), adversarial and random baseline."""
    rule = primary_rule(df)
    d = primary_rows(df)
    if d.empty:
        return None
    d = add_relative(d)
    color = colors(list(d["model"].unique()))
    fig, axes = subplots(1, 2, figsize=(10, 4))
    by = ["model", "acceleration", "budget"]
    for ax, value, title in (
        (axes[0], "adv_ssim", "region SSIM"),
        (axes[1], "adv_ssim_rel", "region SSIM relative to eta = 0"),
    ):
        s = summarize(d, value, by)
        for (m, a), g in s.groupby(["model", "acceleration"]):
            band(ax, g, "budget", color[m], style(a), f"{m} {a}x adversarial")
        if value == "adv_ssim" and "rand_mean_ssim" in d.columns:
            r = summarize(d, "rand_mean_ssim", by)
            for (m, a), g in r.groupby(["model", "acceleration"]):
                line(ax, g, "budget", color[m], style(a), f"{m} {a}x random noise")
        ax.set_xlabel("eta (% of coil k-space norm)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SSIM (mean, 95% CI over slices)")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Adversarial k-space noise targeted at the annotated region (rule {rule})")
    return save(fig, out_dir, "fig1a_noise_budget")


def fig_targeted_vs_complete(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Fig. 1b: region SSIM under the targeted vs the complete-image attack."""
    rule = primary_rule(df)
    d = df[(df["attack"] == NAME) & (df["rule"] == rule)]
    if d["target"].nunique() < 2:
        return None
    s = summarize(d, "adv_ssim", ["model", "acceleration", "target", "budget"])
    keys = sorted({(m, a) for m, a in zip(s["model"], s["acceleration"], strict=True)})
    fig, axes = subplots(1, len(keys), figsize=(3.6 * len(keys), 3.6), squeeze=False)
    for ax, (m, a) in zip(axes[0], keys, strict=True):
        for target, color in (("region", "C3"), ("image", "C0")):
            g = s[(s["model"] == m) & (s["acceleration"] == a) & (s["target"] == target)]
            if not g.empty:
                label = "targeted (region)" if target == "region" else "complete image"
                band(ax, g, "budget", color, "-", label)
        ax.set_title(f"{m} {a}x")
        ax.set_xlabel("eta (%)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("region SSIM")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Targeted vs complete-image attack (SSIM inside the annotated box)")
    return save(fig, out_dir, "fig1b_targeted_vs_complete")


def fig_rules(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """``l2`` vs ``reference`` PGD rule: adversarial region SSIM vs eta."""
    d = df[(df["attack"] == NAME) & (df["target"] == "region") & (df["rule"] != TIGHT_RULE)]
    if d["rule"].nunique() < 2:
        return None
    both = d.groupby(["model", "acceleration"])["rule"].nunique()
    keys = [k for k, n in both.items() if n > 1]
    fig, axes = subplots(1, len(keys), figsize=(3.6 * len(keys), 3.6), squeeze=False)
    s = summarize(d, "adv_ssim", ["model", "acceleration", "rule", "budget"])
    for ax, (m, a) in zip(axes[0], keys, strict=True):
        for i, (rule, g) in enumerate(
            s[(s["model"] == m) & (s["acceleration"] == a)].groupby("rule")
        ):
            band(ax, g, "budget", f"C{i}", "-", f"rule {rule}")
        ax.set_title(f"{m} {a}x")
        ax.set_xlabel("eta (%)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("adversarial region SSIM (lower = stronger)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("PGD update rule: l2 vs reference")
    return save(fig, out_dir, "fig_rules")


def figures(ctx: ReportContext) -> dict[str, Path]:
    """Every noise figure the table supports: ``{name: png}``."""
    df, out = ctx.results, ctx.fig_dir
    made = {
        "fig1a_noise_budget": fig_noise_budget(df, out),
        "fig1b_targeted_vs_complete": fig_targeted_vs_complete(df, out),
        "fig_rules": fig_rules(df, out),
    }
    return {k: v for k, v in made.items() if v is not None}


def panels(ctx: ReportContext) -> dict[str, Path]:
    """Worst and median panel (region target, primary rule, largest eta)."""
    return worst_and_median(
        primary_rows(ctx.results),
        ctx.run_dir,
        ctx.fig_dir,
        f"panel_{NAME}",
        reference_title="fully sampled + same noise",
        budget_label=lambda row: f"eta {row['budget']:g}%",
    )
