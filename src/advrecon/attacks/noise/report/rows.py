"""Which noise rows the report shows: the primary rule, the region target, the check's rows."""

from __future__ import annotations

import pandas as pd

__all__ = ["NAME", "TIGHT_RULE", "primary_rule", "primary", "primary_rows"]

#: The threat model's name (``attack`` column).
NAME = "noise"
#: Rule of the tightness check's rows (``advrecon.attacks.noise.TIGHT_RULE``; not imported: the
#: report reads tables only, it needs no torch).
TIGHT_RULE = "tight"


def primary_rule(df: pd.DataFrame) -> str | None:
    """The noise rule every model ran (``l2`` when present); ``None`` without noise rows."""
    noise = df[df["attack"] == NAME]
    if noise.empty:
        return None
    rules = sorted(noise["rule"].unique())
    return "l2" if "l2" in rules else rules[0]


def primary_rows(df: pd.DataFrame, target: str = "region") -> pd.DataFrame:
    """Noise rows of one target under the primary rule (the report's headline rows)."""
    return df[(df["attack"] == NAME) & (df["target"] == target) & (df["rule"] == primary_rule(df))]


def primary(ctx) -> pd.DataFrame:
    """The ``primary`` report hook: :func:`primary_rows` of the run's results."""
    return primary_rows(ctx.results)
