"""Qualitative panels (paper Figs. 2, 3, 5) from the arrays saved by the runner.

One panel per case: fully-sampled image, clean reconstruction, adversarial reconstruction and
the fully-sampled image under the same perturbation, each with the box drawn; a zoomed inset of
the box below; and difference maps. The fourth image is the stored ``control`` array
(``reference`` in run folders written before the results schema): for noise the fully-sampled
image with the same noise added, for rotations the fully-sampled image rotated by the selected
angle and rotated back (what interpolation alone does). Runs that stored the unrotated target
as the control say so in the title instead of showing a zero difference as if it were a
result. Cases are the worst
and the median unit (by adversarial region SSIM) at the largest budget. Everything is read
from ``arrays/*.npz`` named in ``results.csv``, never from memory.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from advrecon.errors import InputFileError  # noqa: E402
from advrecon.experiments.store import load_arrays  # noqa: E402
from advrecon.report.figures import save  # noqa: E402
from advrecon.report.tables import primary_rule  # noqa: E402

__all__ = ["pick_cases", "panel", "reference_title", "make_panels"]


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


def _read(path: Path) -> dict[str, np.ndarray]:
    """The saved arrays of a unit; a missing image or an unreadable file is a clear error."""
    try:
        a = load_arrays(path)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(
            path,
            f"cannot be read as saved arrays ({exc}); remove it to make the report "
            "without this panel",
        ) from None
    if "control" not in a and "reference" in a:  # run folders before the results schema
        a["control"] = a.pop("reference")
    missing = [k for k in ("target", "clean", "adversarial") if k not in a]
    if missing:
        raise InputFileError(path, f"has no {', '.join(map(repr, missing))} array")
    shapes = {a[k].shape for k in ("target", "clean", "adversarial", "control") if k in a}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise InputFileError(path, f"images are not 2-D of one shape (got {sorted(shapes)})")
    return a


def reference_title(row: pd.Series, a: dict[str, np.ndarray]) -> tuple[str, bool]:
    """Title of the 4th image and whether it is a real (stored) reference.

    Returns:
        ``(title, stored)``; ``stored`` is False when the run saved no reference distinct from
        the target (older rotation runs saved the unrotated target).
    """
    ref = a.get("control")
    if row["attack"] == "noise":
        title, trivial = "fully sampled + same noise", False
    elif row["attack"] == "motion":
        title, trivial = "fully sampled, same motion", False
    else:
        angle = a.get("angle_deg", row.get("angle_deg", np.nan))
        angle = float(np.asarray(angle, dtype=float).reshape(-1)[0])
        deg = f"{angle:+.1f} deg" if np.isfinite(angle) else "the selected angle"
        title = f"fully sampled, rotated {deg} and back"
        # rotating by a non-zero angle and back never returns the target bit for bit
        trivial = ref is not None and angle != 0 and np.array_equal(ref, a["target"])
    if ref is None or trivial:
        return f"{title}\n(not stored in this run)", False
    return title, True


def panel(row: pd.Series, run_dir: Path, out_dir: Path, name: str) -> Path:
    """One qualitative panel for a results row (see module docstring)."""
    a = _read(Path(run_dir) / row["arrays_file"])
    target, clean, adv = a["target"], a["clean"], a["adversarial"]
    ref_title, stored = reference_title(row, a)
    ref = a["control"] if stored else None
    box = tuple(int(v) for v in a["box"]) if "box" in a else None
    vmin, vmax = float(target.min()), float(target.max())
    noise = row["attack"] == "noise"
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
        (None if ref is None else np.abs(ref - target), "|ref - target|"),
    ]
    dmax = max(float(d.max()) for d, _ in diffs if d is not None) or 1.0
    fig, axes = plt.subplots(3, 4, figsize=(10, 7.6))
    for j, (img, title) in enumerate(images):
        if img is None:  # nothing stored: say so, show nothing that looks like a result
            for i in range(3):
                axes[i, j].axis("off")
            axes[0, j].set_title(title, fontsize=8)
            continue
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
        f"{extra}, {row['file']} slice {row['slice']}, box '{row.get('box_label', '')}'",
        fontsize=10,
    )
    fig.tight_layout()
    return save(fig, out_dir, name)


def make_panels(df: pd.DataFrame, run_dir: Path, out_dir: Path) -> dict[str, Path]:
    """Worst and median panels for the noise, rotation and motion attacks: ``{name: png}``."""
    made = {}
    for attack in ("noise", "rotation", "motion"):
        for case, row in pick_cases(df, attack):
            path = Path(run_dir) / row["arrays_file"]
            if path.is_file():
                name = f"panel_{attack}_{case}"
                made[name] = panel(row, run_dir, out_dir, name)
    return made
