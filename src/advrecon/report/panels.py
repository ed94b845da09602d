"""Qualitative panels (paper Figs. 2, 3, 5) from the arrays saved by the runner.

One panel per case: fully-sampled image, clean reconstruction, adversarial reconstruction and
the fully-sampled image under the same perturbation (for rotations: the rotated target), each
with the box drawn; a zoomed inset of the box below; and difference maps. Cases are the worst
and the median unit (by adversarial region SSIM) at the largest budget. Everything is read
from ``arrays/*.npz`` named in ``results.csv``, never from memory.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from advrecon.experiments.store import load_arrays  # noqa: E402
from advrecon.report.figures import save  # noqa: E402
from advrecon.report.tables import primary_rule  # noqa: E402

__all__ = ["pick_cases", "panel", "make_panels"]


def pick_cases(df: pd.DataFrame, attack: str) -> list[tuple[str, pd.Series]]:
    """``[("worst", row), ("median", row)]`` at the largest budget of ``attack`` (region target)."""
    d = df[(df["attack"] == attack) & (df["target"] == "region")]
    if attack == "noise":
        d = d[d["rule"] == primary_rule(df)]
    if "arrays_file" not in d.columns:
        return []
    d = d[d["arrays_file"].notna() & (d["budget"] == d["budget"].max())] if not d.empty else d
    if d.empty:
        return []
    d = d.sort_values(["adv_ssim", "unit_id"])
    return [("worst", d.iloc[0]), ("median", d.iloc[(len(d) - 1) // 2])]


def _show(ax, img, vmin, vmax, box, title, cmap="gray"):
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
    if box is not None:
        x, y, w, h = box
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, ec="yellow", lw=1.2))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])


def _zoom(img: np.ndarray, box, margin: int = 4) -> np.ndarray:
    x, y, w, h = (int(v) for v in box)
    return img[max(y - margin, 0) : y + h + margin, max(x - margin, 0) : x + w + margin]


def panel(row: pd.Series, run_dir: Path, out_dir: Path, name: str) -> Path:
    """One qualitative panel for a results row (see module docstring)."""
    a = load_arrays(Path(run_dir) / row["arrays_file"])
    target, clean, adv = a["target"], a["clean"], a["adversarial"]
    ref = a.get("reference", target)
    box = tuple(int(v) for v in a["box"]) if "box" in a else None
    vmin, vmax = float(target.min()), float(target.max())
    noise = row["attack"] == "noise"
    ref_title = "fully sampled + same noise" if noise else "rotated fully sampled"
    images = [
        (target, "fully sampled"),
        (clean, f"clean recon (SSIM {row['clean_ssim']:.3f})"),
        (adv, f"adversarial (SSIM {row['adv_ssim']:.3f})"),
        (ref, ref_title),
    ]
    diffs = [
        (np.abs(clean - target), "|clean - target|"),
        (np.abs(adv - target), "|adv - target|"),
        (np.abs(adv - clean), "|adv - clean|"),
        (np.abs(ref - target), "|ref - target|"),
    ]
    dmax = max(float(d.max()) for d, _ in diffs) or 1.0
    fig, axes = plt.subplots(3, 4, figsize=(10, 7.6))
    for j, (img, title) in enumerate(images):
        _show(axes[0, j], img, vmin, vmax, box, title)
        if box is not None:
            _show(axes[1, j], _zoom(img, box), vmin, vmax, None, "box (zoomed)")
        else:
            axes[1, j].axis("off")
        d, dt = diffs[j]
        _show(axes[2, j], d, 0, dmax, box, dt, cmap="magma")
    budget = f"eta {row['budget']:g}%" if noise else f"theta_max {row['budget']:g} deg"
    extra = f", angle {row['angle_deg']:.1f} deg" if "angle_deg" in row and not noise else ""
    fig.suptitle(
        f"{name}: {row['model']} {row['acceleration']}x, {row['attack']} {budget}"
        f"{extra}, {row['file']} slice {row['slice']}, box '{row['box_label']}'",
        fontsize=10,
    )
    fig.tight_layout()
    return save(fig, out_dir, name)


def make_panels(df: pd.DataFrame, run_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Worst and median panels for the noise and the rotation attack: ``{name: png}``."""
    made = {}
    for attack in ("noise", "rotation"):
        for case, row in pick_cases(df, attack):
            path = Path(run_dir) / row["arrays_file"]
            if path.is_file():
                name = f"panel_{attack}_{case}"
                made[name] = panel(row, run_dir, out_dir, name)
    return made
