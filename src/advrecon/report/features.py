"""Report pieces of the missing-feature and hallucination threat models (issue 13).

From ``results.csv`` and the saved arrays only:

* findings, in :mod:`advrecon.report.findings`' three-way verdict (:func:`feature_findings`;
  only when the table has rows of these attacks), at each group's largest budget, paired per
  slice: the worst-shaped feature is recovered less than the same feature at a random position;
  it stays visible (contrast-to-noise ratio above :data:`ROSE`); adversarial noise draws more of
  the wanted feature into the box than random noise of the same norm; that feature is visible;
* ``fig_features``: fraction of the feature's energy in the reconstruction vs the budget, attack
  vs baseline (mean and 95% CI over slices), one panel per threat model;
* ``panel_feature_worst`` / ``panel_hallucination_worst``: target, clean and attacked
  reconstruction, their difference and the feature, for the unit with the least recovered
  (feature) or most hallucinated (hallucination) feature at the largest budget.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from advrecon.experiments.store import load_arrays  # noqa: E402
from advrecon.report.figures import _colors, save  # noqa: E402
from advrecon.report.findings import CI, Finding, _record, verdict  # noqa: E402
from advrecon.report.tables import mean_ci, per_slice, summarize  # noqa: E402

__all__ = ["ROSE", "feature_findings", "fig_features", "feature_panels"]

#: Rose criterion: a feature is taken as visible when its contrast-to-noise ratio exceeds this.
ROSE = 3.0
#: ``attack -> (name prefix of its columns, budget label)``.
_ATTACKS = {"feature": ("feature", "contrast % of box mean"), "hallucination": ("halluc", "eta %")}


def _largest(df: pd.DataFrame, attack: str) -> list[tuple[str, int, pd.DataFrame]]:
    """``(model, acceleration, rows at that group's largest non-zero budget)`` per group."""
    d = df[(df["attack"] == attack) & (df["budget"] > 0)]
    out = []
    for (m, a), g in d.groupby(["model", "acceleration"], sort=True):
        out.append((m, int(a), g[g["budget"] == g["budget"].max()]))
    return out


def _claim(df, attack, key, statement, quantity) -> Finding | None:
    """A finding whose per-slice ``quantity(rows) -> Series`` is positive when it holds."""
    groups = _largest(df, attack)
    if not groups:
        return None
    f = Finding(key, statement, "not enough data")
    cis: list[CI] = []
    for m, a, g in groups:
        vals = per_slice(g.assign(_q=quantity(g)), "_q", [])["_q"]
        label = f"{m} {a}x {_ATTACKS[attack][1]} {g['budget'].max():g}"
        _record(f, cis, label, mean_ci(vals))
    f.verdict = verdict(cis)
    return f


def feature_findings(df: pd.DataFrame) -> list[Finding]:
    """The four statements above (those whose attack is in the table)."""
    made = [
        _claim(
            df, "feature", "feature_missing",
            "Missing features: the worst-shaped feature in the box is recovered less than the "
            "same feature at a random position (fraction of its energy, random - worst).",
            lambda g: g["rand_feature_recovered"] - g["feature_recovered"],
        ),
        _claim(
            df, "feature", "feature_visible",
            f"Missing features: the worst-shaped feature stays visible (contrast-to-noise "
            f"ratio above {ROSE:g}; shown: CNR - {ROSE:g}).",
            lambda g: g["feature_cnr"] - ROSE,
        ),
        _claim(
            df, "hallucination", "hallucination_appears",
            "Hallucinations: adversarial k-space noise draws more of a feature into the box "
            "than random noise of the same norm (fraction of the wanted feature, adv - random).",
            lambda g: g["halluc_recovered"] - g["rand_halluc_recovered"],
        ),
        _claim(
            df, "hallucination", "hallucination_visible",
            f"Hallucinations: the hallucinated feature is visible (contrast-to-noise ratio "
            f"above {ROSE:g}; shown: CNR - {ROSE:g}).",
            lambda g: g["halluc_cnr"] - ROSE,
        ),
    ]  # fmt: skip
    return [f for f in made if f is not None]


def fig_features(df: pd.DataFrame, out_dir: Path) -> Path | None:
    """Recovered fraction vs budget, attack (o) and baseline (x), per threat model present."""
    present = [a for a in _ATTACKS if (df["attack"] == a).any()]
    if not present:
        return None
    fig, axes = plt.subplots(1, len(present), figsize=(5.2 * len(present), 3.8), squeeze=False)
    colors = _colors(list(df["model"].unique()))
    for ax, attack in zip(axes[0], present, strict=True):
        name, label = _ATTACKS[attack]
        d = df[df["attack"] == attack]
        for col, marker, what in ((f"{name}_recovered", "o", "attack"),
                                  (f"rand_{name}_recovered", "x", "baseline")):  # fmt: skip
            s = summarize(d[d[col].notna()], col, ["model", "acceleration", "budget"])
            for (m, a), g in s.groupby(["model", "acceleration"]):
                g = g.sort_values("budget")
                style = "-" if int(a) == 4 else "--"
                ax.plot(g["budget"], g["mean"], style, marker=marker, color=colors[m],
                        label=f"{m} {a}x {what}")  # fmt: skip
                ax.fill_between(g["budget"], g["ci_low"], g["ci_high"], color=colors[m],
                                alpha=0.15, lw=0)  # fmt: skip
        base = "random position" if attack == "feature" else "random noise, same norm"
        ax.set_title(f"{attack}: o worst case, x {base}", fontsize=9)
        ax.set_xlabel(label)
        ax.set_ylabel("fraction of the feature's energy in the recon")
        ax.axhline(1.0 if attack == "feature" else 0.0, color="0.6", lw=0.8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return save(fig, out_dir, "fig_features")


def _panel(row: pd.Series, run_dir: Path, out_dir: Path, name: str) -> Path | None:
    path = Path(run_dir) / str(row["arrays_file"])
    if not path.is_file():
        return None
    a = load_arrays(path)
    if "feature" not in a:
        return None
    x, y, w, h = (int(v) for v in a["box"])
    crop = lambda img: img[max(y - 4, 0) : y + h + 4, max(x - 4, 0) : x + w + 4]  # noqa: E731
    target, clean, adv, feat = (
        a[k].astype(float) for k in ("target", "clean", "adversarial", "feature")
    )
    lo, hi = float(target.min()), float(target.max())
    diff = adv - clean
    fmax = float(np.abs(feat).max()) or 1.0
    prefix = "feature" if row["attack"] == "feature" else "halluc"
    feat_case = prefix == "feature"
    titles = (
        ("fully sampled + feature", "recon without feature", "recon with feature", "inserted")
        if feat_case
        else ("fully sampled", "recon without attack", "recon under attack", "wanted")
    )
    tiles = [
        (crop(target), titles[0], lo, hi, "gray"),
        (crop(clean), titles[1], lo, hi, "gray"),
        (crop(adv), titles[2], lo, hi, "gray"),
        (crop(diff), "recon difference", -fmax, fmax, "coolwarm"),
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


def feature_panels(df: pd.DataFrame, run_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Worst-case panel per threat model at its largest budget: ``{name: png}``."""
    made = {}
    if "arrays_file" not in df.columns:
        return made
    for attack, (prefix, _) in _ATTACKS.items():
        d = df[(df["attack"] == attack) & df["arrays_file"].notna() & (df["budget"] > 0)]
        if d.empty:
            continue
        d = d[d["budget"] == d["budget"].max()]
        # feature: least recovered; hallucination: most hallucinated
        d = d.sort_values([f"{prefix}_recovered", "unit_id"], ascending=attack == "feature")
        png = _panel(d.iloc[0], run_dir, out_dir, f"panel_{attack}_worst")
        if png is not None:
            made[f"panel_{attack}_worst"] = png
    return made
