"""Drawing helpers the report's figures share (the figures themselves come from the plug-ins).

Every figure is saved as PNG and SVG (:func:`save`); a model keeps its colour across a figure
(:func:`colors`), an acceleration its line style (:data:`STYLE`: 4x solid, 8x dashed), and a
curve is drawn with its 95% interval over slices as a band (:func:`band`) or, for baselines,
as a plain line of crosses (:func:`line`). Summaries come from
:func:`advrecon.report.stats.summarize` (columns ``mean``, ``ci_low``, ``ci_high``).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["STYLE", "band", "colors", "line", "save", "style", "subplots"]

#: Line style per acceleration.
STYLE = {4: "-", 8: "--"}


def style(acceleration: int) -> str:
    """Line style of an acceleration (dotted for those not in :data:`STYLE`)."""
    return STYLE.get(acceleration, ":")


def subplots(*args, **kwargs):
    """``matplotlib.pyplot.subplots`` (non-interactive backend): ``(figure, axes)``."""
    return plt.subplots(*args, **kwargs)


def save(fig: plt.Figure, out_dir: Path, name: str) -> Path:
    """Save ``fig`` as ``name.png`` and ``name.svg``; return the PNG path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    fig.savefig(png, dpi=120, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.svg", bbox_inches="tight")
    plt.close(fig)
    return png


def colors(models: list[str]) -> dict[str, str]:
    """One colour of the default cycle per model (sorted by name)."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {m: cycle[i % len(cycle)] for i, m in enumerate(sorted(models))}


def band(ax, s: pd.DataFrame, x: str, color, style, label, alpha=0.18, marker="o") -> None:
    """A summary curve ``mean`` vs ``x`` with its 95% interval as a shaded band."""
    s = s.sort_values(x)
    ax.plot(s[x], s["mean"], style, color=color, marker=marker, ms=4, label=label)
    ax.fill_between(s[x], s["ci_low"], s["ci_high"], color=color, alpha=alpha, lw=0)


def line(ax, s: pd.DataFrame, x: str, color, style, label, alpha=0.45, marker="x") -> None:
    """A summary curve ``mean`` vs ``x`` without its interval (a baseline)."""
    s = s.sort_values(x)
    ax.plot(s[x], s["mean"], style, color=color, alpha=alpha, marker=marker, ms=4, label=label)


def kinds_by_budget(ax, d: pd.DataFrame, suffix: str, kinds, color: dict[str, str]) -> None:
    """Mean SSIM vs budget per (model, acceleration) for each kind of row in ``d``.

    Args:
        ax: The axes.
        d: Region rows of one threat model.
        suffix: ``""`` (region SSIM) or ``"_full"`` (whole image).
        kinds: ``(column prefix, marker, alpha, label)`` per curve; the ``adv`` kind gets its
            95% CI band. A prefix without values in ``d`` is left out.
        color: Model -> colour (:func:`colors`).
    """
    from advrecon.report.stats import summarize

    by = ["model", "acceleration", "budget"]
    for prefix, marker, alpha, what in kinds:
        col = f"{prefix}_ssim{suffix}"
        if col not in d.columns or d[col].isna().all():
            continue
        for (m, a), g in summarize(d, col, by).groupby(["model", "acceleration"]):
            g = g.sort_values("budget")
            ax.plot(g["budget"], g["mean"], style(a), color=color[m],
                    alpha=alpha, marker=marker, ms=4, label=f"{m} {a}x {what}")  # fmt: skip
            if prefix == "adv":
                ax.fill_between(g["budget"], g["ci_low"], g["ci_high"], color=color[m],
                                alpha=0.15, lw=0)  # fmt: skip
