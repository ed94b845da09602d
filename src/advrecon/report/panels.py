"""Qualitative panels (paper Figs. 2, 3, 5) from the arrays saved by the runner.

One panel per case: fully-sampled image, clean reconstruction, adversarial reconstruction and
the fully-sampled image under the same perturbation, each with the box drawn; a zoomed inset of
the box below; and difference maps. The fourth image is the stored ``control`` array
(``reference`` in run folders written before the results schema), whose meaning the threat
model says (``reference_title``: e.g. the fully-sampled image with the same noise added, or
rotated by the selected angle and back, which is what interpolation alone does). A control that
the threat model finds trivial (e.g. older runs that stored the unrotated target) is said to be
missing in the title instead of showing a zero difference as if it were a result. Cases are the
worst and the median unit (by adversarial region SSIM) at the largest budget
(:func:`pick_cases`). Everything is read from ``arrays/*.npz`` named in ``results.csv``, never
from memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from advrecon.errors import InputFileError  # noqa: E402
from advrecon.experiments.results_store import load_arrays  # noqa: E402
from advrecon.report.figures import save  # noqa: E402

__all__ = ["ReferenceTitle", "BudgetLabel", "pick_cases", "panel", "worst_and_median"]

#: ``(row, arrays) -> (title of the 4th image, whether the stored control is trivial)``.
ReferenceTitle = Callable[[pd.Series, dict[str, np.ndarray]], tuple[str, bool]]
#: ``row -> "eta 2.5%"``: the budget (and what else identifies the case) for the panel title.
BudgetLabel = Callable[[pd.Series], str]


def pick_cases(rows: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """``[("worst", row), ("median", row)]`` at the largest budget of a threat model's rows.

    Args:
        rows: The rows the threat model shows (e.g. region target, its primary rule); only rows
            with saved arrays (``arrays_file``) are candidates.
    """
    d = rows
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


def _reference(
    row: pd.Series, a: dict[str, np.ndarray], reference_title: str | ReferenceTitle
) -> tuple[str, np.ndarray | None]:
    """Title of the 4th image and the stored control (``None`` when missing or trivial)."""
    title, trivial = (
        (reference_title, False) if isinstance(reference_title, str) else reference_title(row, a)
    )
    ref = a.get("control")
    if ref is None or trivial:
        return f"{title}\n(not stored in this run)", None
    return title, ref


def _budget(row: pd.Series) -> str:
    return f"budget {row['budget']:g}"


def panel(
    row: pd.Series,
    run_dir: Path,
    out_dir: Path,
    name: str,
    reference_title: str | ReferenceTitle = "control",
    budget_label: BudgetLabel = _budget,
) -> Path:
    """One qualitative panel for a results row (see module docstring).

    Args:
        row: The results row (``arrays_file`` names its saved arrays).
        run_dir: The run folder.
        out_dir: Where the panel is written (``<name>.png`` and ``.svg``).
        name: The panel's name (also the start of its title).
        reference_title: Title of the 4th image (the stored ``control``), or a function of the
            row and its arrays returning ``(title, trivial)`` (the threat model's own).
        budget_label: The budget as the title shows it (``row -> "eta 2.5%"``).
    """
    a = _read(Path(run_dir) / row["arrays_file"])
    target, clean, adv = a["target"], a["clean"], a["adversarial"]
    ref_title, ref = _reference(row, a, reference_title)
    box = tuple(int(v) for v in a["box"]) if "box" in a else None
    vmin, vmax = float(target.min()), float(target.max())
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
    fig.suptitle(
        f"{name}: {row['model']} {row['acceleration']}x, {row['attack']} {budget_label(row)}"
        f", {row['file']} slice {row['slice']}, box '{row.get('box_label', '')}'",
        fontsize=10,
    )
    fig.tight_layout()
    return save(fig, out_dir, name)


def worst_and_median(
    rows: pd.DataFrame,
    run_dir: Path,
    out_dir: Path,
    prefix: str,
    reference_title: str | ReferenceTitle = "control",
    budget_label: BudgetLabel = _budget,
) -> dict[str, Path]:
    """The worst and median panels of a threat model's rows: ``{prefix_worst: png, ...}``.

    Args:
        rows: The rows the threat model shows (:func:`pick_cases`).
        prefix: Start of the panels' names (``panel_<threat model>``).
        reference_title, budget_label: As for :func:`panel`.
    """
    made = {}
    for case, row in pick_cases(rows):
        if (Path(run_dir) / row["arrays_file"]).is_file():
            name = f"{prefix}_{case}"
            made[name] = panel(row, run_dir, out_dir, name, reference_title, budget_label)
    return made
