"""Quantitative figures of the paper, made from the results tables only.

* Fig. 1a: region SSIM (absolute and relative to ``eta = 0``) vs ``eta`` per model and
  acceleration, mean and 95% CI over slices, with the random-noise baseline of the same norm;
* Fig. 1b: targeted (region) vs complete-image attack, region SSIM vs ``eta``;
* Fig. 4a: worst-case region SSIM vs ``theta_max`` with the random-angle baseline;
* Fig. 4b: region SSIM vs rotation angle for one example, worst angle marked;
* rules: ``l2`` vs ``reference`` PGD rule;
* motion (issue 13): region and whole-image SSIM vs ``theta_max`` per shot, worst-case vs
  random motion vs the worst single-shot motion.

Each figure is saved as PNG and SVG; functions return the written paths (or ``None`` when the
table has no rows for the figure).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advrecon.report.tables import add_relative, primary_rule, summarize  # noqa: E402

__all__ = [
    "save",
    "fig_noise_budget",
    "fig_targeted_vs_complete",
    "fig_rotation_budget",
    "fig_rotation_example",
    "fig_rules",
    "fig_motion_budget",
    "make_all",
]

_STYLE = {4: "-", 8: "--"}


def save(fig: plt.Figure, out_dir: Path, name: str) -> Path:
    """Save ``fig`` as ``name.png`` and ``name.svg``; return the PNG path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.svg", bbox_inches="tight")
    plt.close(fig)
    return png


def _colors(models: list[str]) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: cycle[i % len(cycle)] for i, m in enumerate(sorted(models))}


def _band(ax, s: pd.DataFrame, x: str, color, style, label, alpha=0.18, marker="o"):
    s = s.sort_values(x)
    ax.plot(s[x], s["mean"], style, color=color, marker=marker, ms=4, label=label)
    ax.fill_between(s[x], s["ci_low"], s["ci_high"], color=color, alpha=alpha, lw=0)


def fig_noise_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Fig. 1a: region SSIM vs eta (absolute, relative), adversarial and random baseline."""
    rule = primary_rule(df)
    d = df[(df["attack"] == "noise") & (df["target"] == "region") & (df["rule"] == rule)]
    if d.empty:
        return None
    d = add_relative(d)
    colors = _colors(list(d["model"].unique()))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    by = ["model", "acceleration", "budget"]
    for ax, value, title in (
        (axes[0], "adv_ssim", "region SSIM"),
        (axes[1], "adv_ssim_rel", "region SSIM relative to eta = 0"),
    ):
        s = summarize(d, value, by)
        for (m, a), g in s.groupby(["model", "acceleration"]):
            _band(ax, g, "budget", colors[m], _STYLE.get(a, ":"), f"{m} {a}x adversarial")
        if value == "adv_ssim" and "rand_mean_ssim" in d.columns:
            r = summarize(d, "rand_mean_ssim", by)
            for (m, a), g in r.groupby(["model", "acceleration"]):
                g = g.sort_values("budget")
                ax.plot(
                    g["budget"],
                    g["mean"],
                    _STYLE.get(a, ":"),
                    color=colors[m],
                    alpha=0.45,
                    marker="x",
                    ms=4,
                    label=f"{m} {a}x random noise",
                )
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
    d = df[(df["attack"] == "noise") & (df["rule"] == rule)]
    if d["target"].nunique() < 2:
        return None
    s = summarize(d, "adv_ssim", ["model", "acceleration", "target", "budget"])
    keys = sorted({(m, a) for m, a in zip(s["model"], s["acceleration"], strict=True)})
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.6), squeeze=False)
    for ax, (m, a) in zip(axes[0], keys, strict=True):
        for target, color in (("region", "C3"), ("image", "C0")):
            g = s[(s["model"] == m) & (s["acceleration"] == a) & (s["target"] == target)]
            if not g.empty:
                label = "targeted (region)" if target == "region" else "complete image"
                _band(ax, g, "budget", color, "-", label)
        ax.set_title(f"{m} {a}x")
        ax.set_xlabel("eta (%)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("region SSIM")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Targeted vs complete-image attack (SSIM inside the annotated box)")
    return save(fig, out_dir, "fig1b_targeted_vs_complete")


def fig_rotation_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Fig. 4a: worst-case region SSIM vs theta_max, with the random-angle baseline."""
    d = df[(df["attack"] == "rotation") & (df["target"] == "region") & (df["rule"] == "grid")]
    if d.empty:
        return None
    colors = _colors(list(d["model"].unique()))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    by = ["model", "acceleration", "budget"]
    for (m, a), g in summarize(d, "adv_ssim", by).groupby(["model", "acceleration"]):
        _band(ax, g, "budget", colors[m], _STYLE.get(a, ":"), f"{m} {a}x worst angle")
    if "rand_mean_ssim" in d.columns:
        for (m, a), g in summarize(d, "rand_mean_ssim", by).groupby(["model", "acceleration"]):
            g = g.sort_values("budget")
            ax.plot(
                g["budget"],
                g["mean"],
                _STYLE.get(a, ":"),
                color=colors[m],
                alpha=0.45,
                marker="x",
                ms=4,
                label=f"{m} {a}x random angle",
            )
    ax.set_xlabel("theta_max (degrees)")
    ax.set_ylabel("region SSIM (mean, 95% CI over slices)")
    ax.set_title("Adversarial rotation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, out_dir, "fig4a_rotation_budget")


def rotation_example(df: pd.DataFrame) -> pd.Series | None:
    """The region-target rotation row with the largest SSIM drop at the largest theta_max."""
    d = df[(df["attack"] == "rotation") & (df["target"] == "region") & (df["rule"] == "grid")]
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
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
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


def fig_rules(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """``l2`` vs ``reference`` PGD rule: adversarial region SSIM vs eta."""
    d = df[(df["attack"] == "noise") & (df["target"] == "region") & (df["rule"] != "tight")]
    if d["rule"].nunique() < 2:
        return None
    both = d.groupby(["model", "acceleration"])["rule"].nunique()
    keys = [k for k, n in both.items() if n > 1]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.6), squeeze=False)
    s = summarize(d, "adv_ssim", ["model", "acceleration", "rule", "budget"])
    for ax, (m, a) in zip(axes[0], keys, strict=True):
        for i, (rule, g) in enumerate(
            s[(s["model"] == m) & (s["acceleration"] == a)].groupby("rule")
        ):
            _band(ax, g, "budget", f"C{i}", "-", f"rule {rule}")
        ax.set_title(f"{m} {a}x")
        ax.set_xlabel("eta (%)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("adversarial region SSIM (lower = stronger)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("PGD update rule: l2 vs reference")
    return save(fig, out_dir, "fig_rules")


def fig_motion_budget(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Inter-shot motion: region and whole-image SSIM vs theta_max; worst, random, one shot."""
    d = df[(df["attack"] == "motion") & (df["target"] == "region")]
    if d.empty:
        return None
    colors = _colors(list(d["model"].unique()))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    by = ["model", "acceleration", "budget"]
    kinds = (("adv", "o", 1.0, "worst motion"), ("rand_mean", "x", 0.45, "random motion"),
             ("single", "s", 0.7, "worst single shot"))  # fmt: skip
    for ax, suffix, title in ((axes[0], "", "region SSIM"), (axes[1], "_full", "whole-image SSIM")):
        for prefix, marker, alpha, what in kinds:
            col = f"{prefix}_ssim{suffix}"
            if col not in d.columns or d[col].isna().all():
                continue
            for (m, a), g in summarize(d, col, by).groupby(["model", "acceleration"]):
                g = g.sort_values("budget")
                ax.plot(g["budget"], g["mean"], _STYLE.get(a, ":"), color=colors[m],
                        alpha=alpha, marker=marker, ms=4, label=f"{m} {a}x {what}")  # fmt: skip
                if prefix == "adv":
                    ax.fill_between(g["budget"], g["ci_low"], g["ci_high"], color=colors[m],
                                    alpha=0.15, lw=0)  # fmt: skip
        ax.set_xlabel("theta_max per shot (degrees; translation bound: see table)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("SSIM (mean, 95% CI over slices for the worst case)")
    axes[0].legend(fontsize=7)
    fig.suptitle("Inter-shot rigid motion: worst case vs random motion at the same bound")
    return save(fig, out_dir, "fig_motion_budget")


def make_all(df: pd.DataFrame, curves: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """Every figure the table supports: ``{name: png_path}``."""
    made = {
        "fig1a_noise_budget": fig_noise_budget(df, out_dir),
        "fig1b_targeted_vs_complete": fig_targeted_vs_complete(df, out_dir),
        "fig4a_rotation_budget": fig_rotation_budget(df, out_dir),
        "fig4b_rotation_example": fig_rotation_example(df, curves, out_dir),
        "fig_rules": fig_rules(df, out_dir),
        "fig_motion_budget": fig_motion_budget(df, out_dir),
    }
    return {k: v for k, v in made.items() if v is not None}
