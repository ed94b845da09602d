"""Which rotation rows the report shows: the paper's sweep, the fixed-coil one, the headline."""

from __future__ import annotations

import pandas as pd

__all__ = ["FIXED_COILS_RULE", "NAME", "PAPER_RULE", "primary_rows", "sweep_rows"]

#: The threat model's name (``attack`` column).
NAME = "rotation"
#: ``rule`` of the paper's sweep (the coil images turn with the anatomy).
PAPER_RULE = "grid"
#: ``rule`` of the fixed-coil rows (``advrecon.attacks.rotation.FIXED_RULE``; not imported: the
#: report reads tables only, it needs no torch).
FIXED_COILS_RULE = "fixed-coils"


def sweep_rows(df: pd.DataFrame, rule: str = PAPER_RULE) -> pd.DataFrame:
    """Region rows of the paper's rotation sweep (``grid``) or the fixed-coil one."""
    return df[(df["attack"] == NAME) & (df["target"] == "region") & (df["rule"] == rule)]


def primary_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The headline rows: region target, every rule but the fixed-coil comparison."""
    return df[
        (df["attack"] == NAME) & (df["target"] == "region") & (df["rule"] != FIXED_COILS_RULE)
    ]


def primary(ctx) -> pd.DataFrame:
    """The ``primary`` report hook: :func:`primary_rows` of the run's results."""
    return primary_rows(ctx.results)
