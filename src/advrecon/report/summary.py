"""The one-screen summary printed after a run: mean region SSIM per group and budget.

The threat models' measured sections (e.g. the noise attack's tightness gap, with
``attacks.noise.tightness``) follow the table, one line each.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["summary_table", "REGION_SSIM"]

#: The column the summary shows: adversarial region SSIM (the results schema's ``adv_ssim``;
#: spelled here so that importing this module, as the runner does, loads nothing else).
REGION_SSIM = "adv_ssim"


def summary_table(results_csv: Path) -> str:
    """Mean region SSIM (adversarial) per model/acceleration/attack/rule/target and budget."""
    import pandas as pd

    from advrecon.report import findings, plugins

    if not Path(results_csv).is_file():
        return ""
    df = pd.read_csv(results_csv)
    if df.empty or REGION_SSIM not in df.columns:
        return ""
    keys = ["model", "acceleration", "attack", "rule", "target"]
    table = df.pivot_table(index=keys, columns="budget", values=REGION_SSIM, aggfunc="mean")
    table.columns = [f"{c:g}" for c in table.columns]
    units = ", ".join(
        f"{tm.name}: {tm.budget_symbol.strip() or tm.budget_column}" for tm, _ in plugins.active(df)
    )
    ctx = plugins.context(df, run_dir=Path(results_csv).parent)
    lines = findings.section_lines(plugins.sections(ctx))
    return (
        f"mean region SSIM under attack (columns: budget; {units})\n"
        + table.to_string(float_format=lambda x: f"{x:.3f}", na_rep="-")
        + "".join(f"\n{line}" for line in lines)
    )
