"""Report pieces of threat models that put a feature into the box (a missing or a wanted one).

Such a threat model reports, per unit, the fraction of the feature's energy found in the
reconstruction (``<prefix>_recovered``), the same for its baseline (``rand_<prefix>_recovered``)
and the feature's contrast-to-noise ratio (``<prefix>_cnr``), and saves the feature beside the
images. From ``results.csv`` and the saved arrays only, this module makes:

* findings in :mod:`advrecon.report.findings`' three-way verdict at each group's largest budget,
  paired per slice (:func:`claim`), with the Rose criterion :data:`ROSE` for visibility;
* a figure of the recovered fraction vs the budget, attack (o) vs baseline (x), mean and 95% CI
  over slices (:func:`recovered_figure`);
* the worst-case panel: target, clean and attacked reconstruction, their difference and the
  feature, box zoomed (:func:`worst_panel`).

The plug-ins' report hooks say which columns, labels and orders are theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advrecon.experiments.results_store import load_arrays  # noqa: E402
from advrecon.report.figures import colors, save  # noqa: E402
from advrecon.report.findings import CI, UNKNOWN, Finding, close, record  # noqa: E402
from advrecon.report.stats import mean_ci, per_slice, summarize  # noqa: E402

__all__ = ["ROSE", "claim", "largest", "recovered_figure", "worst_panel"]

#: Rose criterion: a feature is taken as visible when its contrast-to-noise ratio exceeds this.
ROSE = 3.0


def largest(rows: pd.DataFrame) -> list[tuple[str, int, pd.DataFrame]]:
    """``(model, acceleration, rows at that group's largest non-zero budget)`` per group."""
    d = rows[rows["budget"] > 0]
    out = []
    for (m, a), g in d.groupby(["model", "acceleration"], sort=True):
        out.append((m, int(a), g[g["budget"] == g["budget"].max()]))
    return out


def claim(
    rows: pd.DataFrame,
    key: str,
    statement: str,
    quantity: Callable[[pd.DataFrame], pd.Series],
    budget_label: str,
) -> Finding | None:
    """A finding whose per-slice ``quantity(rows) -> Series`` is positive when it holds.

    Args:
        rows: One threat model's rows.
        key, statement: Of the finding.
        quantity: Per-row quantity, averaged per slice; claim: > 0.
        budget_label: What the budget is, for the evidence lines (``"eta %"``).

    Returns:
        The finding, or ``None`` when the threat model has no row with a budget above 0.
    """
    groups = largest(rows)
    if not groups:
        return None
    f = Finding(key, statement, UNKNOWN)
    cis: list[CI] = []
    for m, a, g in groups:
        vals = per_slice(g.assign(_q=quantity(g)), "_q", [])["_q"]
        label = f"{m} {a}x {budget_label} {g['budget'].max():g}"
        record(f, cis, label, mean_ci(vals))
    return close(f, cis)


def recovered_figure(
    rows: pd.DataFrame,
    prefix: str,
    budget_label: str,
    baseline: str,
    level: float,
    out_dir: Path,
    name: str,
    models: list[str] | None = None,
) -> Path | None:
    """Recovered fraction vs budget, attack (o) and baseline (x), per model and acceleration.

    Args:
        rows: One threat model's rows.
        prefix: Its columns' prefix (``<prefix>_recovered``, ``rand_<prefix>_recovered``).
        budget_label: The x-axis label.
        baseline: What the baseline is (title: ``x <baseline>``).
        level: Where a grey line is drawn (1: all of it recovered; 0: nothing appears).
        out_dir, name: Where the figure is written.
        models: The models the colours are drawn for (default: those of ``rows``).
    """
    if rows.empty:
        return None
    attack = str(rows["attack"].iloc[0])
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    color = colors(list(rows["model"].unique()) if models is None else list(models))
    for col, marker, what in ((f"{prefix}_recovered", "o", "attack"),
                              (f"rand_{prefix}_recovered", "x", "baseline")):  # fmt: skip
        if col not in rows.columns:
            continue
        s = summarize(rows[rows[col].notna()], col, ["model", "acceleration", "budget"])
        for (m, a), g in s.groupby(["model", "acceleration"]):
            g = g.sort_values("budget")
            style = "-" if int(a) == 4 else "--"
            ax.plot(g["budget"], g["mean"], style, marker=marker, color=color[m],
                    label=f"{m} {a}x {what}")  # fmt: skip
            ax.fill_between(g["budget"], g["ci_low"], g["ci_high"], color=color[m],
                            alpha=0.15, lw=0)  # fmt: skip
    ax.set_title(f"{attack}: o worst case, x {baseline}", fontsize=9)
    ax.set_xlabel(budget_label)
    ax.set_ylabel("fraction of the feature's energy in the recon")
    ax.axhline(level, color="0.6", lw=0.8)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, name)


def _panel(row, run_dir, out_dir, name, prefix, feature_key, titles) -> Path | None:
    path = Path(run_dir) / str(row["arrays_file"])
    if not path.is_file():
        return None
    a = load_arrays(path)
    if feature_key not in a:
        return None
    x, y, w, h = (int(v) for v in a["box"])
    crop = lambda img: img[max(y - 4, 0) : y + h + 4, max(x - 4, 0) : x + w + 4]  # noqa: E731
    target, clean, adv, feat = (
        a[k].astype(float) for k in ("target", "clean", "adversarial", feature_key)
    )
    lo, hi = float(target.min()), float(target.max())
    fmax = float(np.abs(feat).max()) or 1.0
    tiles = [
        (crop(target), titles[0], lo, hi, "gray"),
        (crop(clean), titles[1], lo, hi, "gray"),
        (crop(adv), titles[2], lo, hi, "gray"),
        (crop(adv - clean), "recon difference", -fmax, fmax, "coolwarm"),
        (crop(feat), f"feature ({titles[3]})", -fmax, fmax, "coolwarm"),
    ]
    fig, axes = plt.subplots(1, len(tiles), figsize=(2.3 * len(tiles), 2.8))
    for ax, (img, title, vmin, vmax, cmap) in zip(axes, tiles, strict=True):
        ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"{name}: {row['model']} {row['acceleration']}x, {row['attack']} budget "
        f"{row['budget']:g}, recovered {row[f'{prefix}_recovered']:.2f} (baseline "
        f"{row[f'rand_{prefix}_recovered']:.2f}), CNR {row[f'{prefix}_cnr']:.1f}; "
        f"{row['file']} slice {row['slice']} (box zoomed)",
        fontsize=8,
    )
    fig.tight_layout()
    return save(fig, out_dir, name)


def worst_panel(
    rows: pd.DataFrame,
    run_dir: Path,
    out_dir: Path,
    name: str,
    prefix: str,
    feature_key: str,
    titles: tuple[str, str, str, str],
    least: bool,
) -> dict[str, Path]:
    """The worst-case panel at the largest budget: ``{name: png}`` (empty without arrays).

    Args:
        rows: One threat model's rows.
        name: The panel's name.
        prefix: Its columns' prefix.
        feature_key: The saved array holding the feature.
        titles: Of the target, clean and attacked reconstruction, and what the feature is.
        least: The worst case is the least recovered feature (else the most recovered).
    """
    if "arrays_file" not in rows.columns:
        return {}
    d = rows[rows["arrays_file"].notna() & (rows["budget"] > 0)]
    if d.empty:
        return {}
    d = d[d["budget"] == d["budget"].max()]
    d = d.sort_values([f"{prefix}_recovered", "unit_id"], ascending=least)
    png = _panel(d.iloc[0], run_dir, out_dir, name, prefix, feature_key, titles)
    return {} if png is None else {name: png}
