"""Statements checked against a run's results table: the one verdict rule and its helpers.

Each :class:`~advrecon.attacks.contract.Finding` has a verdict ``"holds"``, ``"does not
hold"`` or ``"not enough data"`` and the numbers behind it (means with Student-t 95% intervals
over slices). Comparisons are *paired per slice* (the rows of a slice are averaged over its
boxes first). The statements themselves come from the threat-model plug-ins' report hooks
(``ReportHooks.findings``); this module holds what they share and the statements that compare
model families across every plug-in (:func:`classical_vs_networks`).

Every statement is reduced to intervals of quantities that are *positive when the statement
holds* (one per model / acceleration / budget group, and per condition of the statement) and
judged by one function, :func:`verdict`:

* an interval *supports* the statement when it lies wholly above zero and *contradicts* it when
  it lies wholly below zero, in both cases only if it rests on at least :data:`MIN_SLICES`
  slices; an interval that includes zero, or too few slices, or no interval (one slice) is
  *inconclusive*;
* the statement **does not hold** when some interval contradicts it, **holds** when every
  interval supports it, and is **not enough data** otherwise (also when nothing is comparable).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from advrecon.attacks.contract import Finding, ReportSection
from advrecon.models.classical.defaults import CLASSICAL_ARCHS
from advrecon.report.stats import SLICE, mean_ci, per_slice

__all__ = [
    "CI",
    "FAILS",
    "Finding",
    "HOLDS",
    "MIN_SLICES",
    "UNKNOWN",
    "classical_vs_networks",
    "close",
    "drop_at_largest",
    "fmt_ci",
    "judge",
    "model_groups",
    "paired",
    "record",
    "section_lines",
    "select",
    "shift",
    "slopes",
    "tag",
    "to_markdown",
    "verdict",
]

HOLDS, FAILS, UNKNOWN = "holds", "does not hold", "not enough data"

#: Fewest slices an interval needs before it may support or contradict a statement. With two
#: slices the t interval has one degree of freedom and rests on a single difference of
#: differences; three is the least that gives a spread estimate worth the name.
MIN_SLICES = 3

CI = tuple[float, float, float, int]  # (mean, low, high, n slices) as from mean_ci


def judge(ci: CI) -> str:
    """Verdict of one interval of a quantity that is positive when the statement holds.

    ``holds`` when the whole interval is above zero, ``does not hold`` when it is below zero,
    both only with at least :data:`MIN_SLICES` slices; ``not enough data`` otherwise.
    """
    _, lo, hi, n = ci
    if n < MIN_SLICES or not (np.isfinite(lo) and np.isfinite(hi)):
        return UNKNOWN
    if lo > 0:
        return HOLDS
    if hi < 0:
        return FAILS
    return UNKNOWN


def verdict(cis: Sequence[CI]) -> str:
    """Verdict of a statement from all its intervals (see the module docstring)."""
    each = [judge(c) for c in cis]
    if FAILS in each:
        return FAILS
    if each and all(v == HOLDS for v in each):
        return HOLDS
    return UNKNOWN


def close(f: Finding, cis: Sequence[CI]) -> Finding:
    """Set ``f.verdict`` from its intervals (by :func:`verdict`) and return ``f``."""
    f.verdict = verdict(cis)
    return f


def shift(ci: CI, offset: float, sign: float = 1.0) -> CI:
    """Interval of ``offset + sign * x`` from the interval of ``x`` (``sign`` is +-1)."""
    m, lo, hi, n = ci
    lo, hi = (lo, hi) if sign > 0 else (hi, lo)
    return offset + sign * m, offset + sign * lo, offset + sign * hi, n


def tag(ci: CI) -> str:
    """What one interval says: supports / contradicts / inconclusive / too few slices."""
    if ci[3] < MIN_SLICES:
        return f"too few slices, need {MIN_SLICES}"
    return {HOLDS: "supports", FAILS: "contradicts"}.get(judge(ci), "inconclusive")


def fmt_ci(m: float, lo: float, hi: float, n: int) -> str:
    """``+0.1234 [95% CI +0.1000, +0.1500], n=5 slices`` (or without an interval)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{m:+.4f} (no interval), n={n} slice{'s' if n != 1 else ''}"
    return f"{m:+.4f} [95% CI {lo:+.4f}, {hi:+.4f}], n={n} slices"


def paired(a: pd.DataFrame, b: pd.DataFrame, value: str, value_b: str | None = None):
    """Per-slice differences ``a - b`` (slices present in both): ``(n,)`` float array."""
    value_b = value_b or value
    sa = per_slice(a, value, []).set_index(SLICE)[value]
    sb = per_slice(b, value_b, []).set_index(SLICE)[value_b]
    j = sa.to_frame("a").join(sb.to_frame("b"), how="inner")
    return (j["a"] - j["b"]).to_numpy()


def model_groups(df: pd.DataFrame) -> list[tuple[str, int]]:
    """The sorted ``(model, acceleration)`` pairs of ``df``."""
    return sorted({(m, int(a)) for m, a in zip(df["model"], df["acceleration"], strict=True)})


def select(df: pd.DataFrame, model: str, acceleration: int) -> pd.DataFrame:
    """The rows of one model at one acceleration."""
    return df[(df["model"] == model) & (df["acceleration"] == acceleration)]


def slopes(d: pd.DataFrame) -> pd.Series:
    """Least-squares slope of region SSIM vs budget per slice (index: ``SLICE``)."""
    s = per_slice(d, "adv_ssim", ["budget"])
    out = {}
    for key, g in s.groupby(SLICE):
        if g["budget"].nunique() >= 2:
            out[key] = np.polyfit(g["budget"], g["adv_ssim"], 1)[0]
    index = pd.MultiIndex.from_tuples(list(out), names=SLICE) if out else None
    return pd.Series(list(out.values()), index=index, dtype=float)


def record(f: Finding, cis: list[CI], label: str, ci: CI, what: str = "") -> None:
    """Add one group's interval and its evidence line (groups with no comparable slice: none)."""
    if ci[3] == 0:
        return
    cis.append(ci)
    f.evidence.append(f"{label}: {what}{fmt_ci(*ci)} ({tag(ci)})")


def per_budget(f: Finding, d: pd.DataFrame, high: str, low: str, label: str, what: str) -> Finding:
    """``high - low``, paired per slice, for every (model, acceleration, budget) of ``d``.

    Args:
        f: The statement (its evidence and verdict are filled in and it is returned).
        d: The rows to compare (already filtered, e.g. region target and budget > 0).
        high, low: The columns; the statement claims ``high - low > 0``.
        label: Each group's label, a format string of ``m`` (model), ``a`` (acceleration) and
            ``b`` (budget), e.g. ``"{m} {a}x theta_max {b:g} deg"``.
        what: What the difference is, e.g. ``"SSIM(random) - SSIM(worst) "``.
    """
    cis: list[CI] = []
    for m, a in model_groups(d):
        g = select(d, m, a)
        for b in sorted(g["budget"].unique()):
            gb = g[g["budget"] == b]
            diff = per_slice(gb.assign(x=gb[high] - gb[low]), "x", [])["x"]
            record(f, cis, label.format(m=m, a=a, b=b), mean_ci(diff), what)
    return close(f, cis)


def worst_vs_random(f: Finding, d: pd.DataFrame, label: str) -> Finding:
    """:func:`per_budget` of the random baseline's region SSIM minus the worst case's (the
    claim: the worst case degrades more than random perturbations of the same budget)."""
    return per_budget(f, d, "rand_mean_ssim", "adv_ssim", label, "SSIM(random) - SSIM(worst) ")


def drop_at_largest(d: pd.DataFrame) -> pd.DataFrame:
    """Rows at the largest budget with ``drop = clean_ssim - adv_ssim``."""
    d = d[d["budget"] == d["budget"].max()]
    return d.assign(drop=d["clean_ssim"] - d["adv_ssim"])


def classical_vs_networks(
    results: pd.DataFrame,
    primaries: Sequence[tuple[str, str, pd.DataFrame]],
    archs: dict[str, str],
) -> Finding | None:
    """Each network's region SSIM drop minus each classical model's at the largest budget.

    One interval per threat model, acceleration and (network, classical model) pair, from the
    threat model's headline rows (claim: > 0); ``None`` when no classical model ran.

    Args:
        results: The whole results table (a classical model in it adds the statement).
        primaries: ``(threat model name, budget symbol, headline rows)`` of every threat model
            that declares headline rows (``ReportHooks.primary``), in the registry's order.
        archs: ``model name -> arch``; names are used where missing.
    """
    if not results["model"].map(lambda m: archs.get(m, m)).isin(CLASSICAL_ARCHS).any():
        return None
    f = Finding(
        "classical_vs_networks",
        "The classical reconstruction degrades less than the networks under the same attack "
        "(region SSIM drop from the clean reconstruction at the largest budget).",
        UNKNOWN,
    )
    cis: list[CI] = []
    for attack, symbol, d in primaries:
        d = d[d["target"] == "region"]
        kind = d["model"].map(lambda m: archs.get(m, m))
        is_classical = kind.isin(CLASSICAL_ARCHS)
        for c, a in model_groups(d[is_classical]):
            for n, a2 in model_groups(d[~is_classical & (kind != "zero_filled")]):
                if a2 != a:
                    continue
                dc, dn = drop_at_largest(select(d, c, a)), drop_at_largest(select(d, n, a))
                if dc.empty or dn.empty or dc["budget"].max() != dn["budget"].max():
                    continue
                what = f"drop({n}) - drop({c}) "
                budget = f"{dc['budget'].max():g}{symbol}"
                record(f, cis, f"{attack} {budget} {a}x", mean_ci(paired(dn, dc, "drop")), what)
    return close(f, cis)


def section_lines(sections: Sequence[ReportSection]) -> list[str]:
    """``"<title>: <text>"`` of each section with a table (a measured result, e.g. the attack's
    tightness): they open ``findings.md`` and the run's printed summary; a section without a
    table (a note) is shown in the HTML report only."""
    return [f"{s.title}: {s.text}" for s in sections if s.table is not None]


def to_markdown(
    findings: list[Finding],
    title: str = "Expected findings",
    preamble: Sequence[str] = (),
    scorecard: Sequence[dict] = (),
    sentences: Sequence[str] = (),
    scorecard_note: str = "",
    details: Sequence[str] = (),
) -> str:
    """``findings.md`` text (the template ``templates/findings.md.j2``): ``preamble`` lines
    (e.g. done / total units) first, then the scorecard (if given), the ``details`` lines (e.g.
    the threat models' measured sections), then the statements."""
    from advrecon.report.templates import render

    return render(
        "findings.md.j2", title=title, preamble=list(preamble), scorecard=list(scorecard),
        sentences=list(sentences), scorecard_note=scorecard_note, findings=list(findings),
        details=list(details),
        min_slices=MIN_SLICES,
    )  # fmt: skip
