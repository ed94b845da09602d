"""The one-screen summary printed after a run: mean region SSIM per group and budget.

With a tightness check (``attacks.noise.tightness``) its one-line gap follows the table.
"""

from __future__ import annotations

from pathlib import Path

from advrecon.experiments.units import REGION_SSIM

__all__ = ["summary_table", "REGION_SSIM"]


def summary_table(results_csv: Path) -> str:
    """Mean region SSIM (adversarial) per model/acceleration/attack/rule/target and budget."""
    import pandas as pd

    if not Path(results_csv).is_file():
        return ""
    df = pd.read_csv(results_csv)
    if df.empty or REGION_SSIM not in df.columns:
        return ""
    keys = ["model", "acceleration", "attack", "rule", "target"]
    table = df.pivot_table(index=keys, columns="budget", values=REGION_SSIM, aggfunc="mean")
    table.columns = [f"{c:g}" for c in table.columns]
    from advrecon.report.tightness import tightness_line

    tight = tightness_line(df)
    return (
        "mean region SSIM under attack (columns: budget, eta % or theta_max deg)\n"
        + table.to_string(float_format=lambda x: f"{x:.3f}", na_rep="-")
        + (f"\n{tight}" if tight else "")
    )
