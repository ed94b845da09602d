"""The paper's statements, checked against a run's results table.

Each :class:`Finding` has a verdict ``"holds"``, ``"does not hold"`` or ``"not enough data"``
and the numbers behind it (means with Student-t 95% intervals over slices). Comparisons are
*paired per slice* (the rows of a slice are averaged over its boxes first). Unless stated, the
noise statements use the region target and the rule that every model ran (``l2``).

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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from advrecon.models.classical.defaults import CLASSICAL_ARCHS
from advrecon.report.tables import SLICE, mean_ci, per_slice, primary_rule

__all__ = [
    "Finding",
    "evaluate",
    "to_markdown",
    "judge",
    "verdict",
    "HOLDS",
    "FAILS",
    "UNKNOWN",
    "MIN_SLICES",
]

HOLDS, FAILS, UNKNOWN = "holds", "does not hold", "not enough data"

#: ``rule`` of the fixed-coil rotation rows (``advrecon.attacks.rotation.FIXED_RULE``).
FIXED_COILS_RULE = "fixed-coils"

#: Fewest slices an interval needs before it may support or contradict a statement. With two
#: slices the t interval has one degree of freedom and rests on a single difference of
#: differences; three is the least that gives a spread estimate worth the name.
MIN_SLICES = 3
#: "Falls steadily": no step between consecutive eta may raise the mean region SSIM by more.
STEP_TOLERANCE = 0.005
#: "Similar slope": VarNet's and UNet's slopes differ by less than this fraction of UNet's.
SIMILAR_SLOPE = 0.5

CI = tuple[float, float, float, int]  # (mean, low, high, n slices) as from mean_ci


@dataclass
class Finding:
    """One statement and its verdict.

    Attributes:
        key: Short id.
        statement: The paper's claim.
        verdict: ``holds`` / ``does not hold`` / ``not enough data``.
        evidence: One line per group with the numbers.
    """

    key: str
    statement: str
    verdict: str
    evidence: list[str] = field(default_factory=list)


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


def _shift(ci: CI, offset: float, sign: float = 1.0) -> CI:
    """Interval of ``offset + sign * x`` from the interval of ``x`` (``sign`` is +-1)."""
    m, lo, hi, n = ci
    lo, hi = (lo, hi) if sign > 0 else (hi, lo)
    return offset + sign * m, offset + sign * lo, offset + sign * hi, n


def _tag(ci: CI) -> str:
    if ci[3] < MIN_SLICES:
        return f"too few slices, need {MIN_SLICES}"
    return {HOLDS: "supports", FAILS: "contradicts"}.get(judge(ci), "inconclusive")


def _fmt(m: float, lo: float, hi: float, n: int) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{m:+.4f} (no interval), n={n} slice{'s' if n != 1 else ''}"
    return f"{m:+.4f} [95% CI {lo:+.4f}, {hi:+.4f}], n={n} slices"


def _paired(a: pd.DataFrame, b: pd.DataFrame, value: str, value_b: str | None = None):
    """Per-slice differences ``a - b`` (slices present in both)."""
    value_b = value_b or value
    sa = per_slice(a, value, []).set_index(SLICE)[value]
    sb = per_slice(b, value_b, []).set_index(SLICE)[value_b]
    j = sa.to_frame("a").join(sb.to_frame("b"), how="inner")
    return (j["a"] - j["b"]).to_numpy()


def _noise(df: pd.DataFrame, target: str = "region") -> pd.DataFrame:
    return df[
        (df["attack"] == "noise") & (df["target"] == target) & (df["rule"] == primary_rule(df))
    ]


def _models(df):
    return sorted({(m, int(a)) for m, a in zip(df["model"], df["acceleration"], strict=True)})


def _sel(df, m, a):
    return df[(df["model"] == m) & (df["acceleration"] == a)]


def _slopes(d: pd.DataFrame) -> pd.Series:
    """Least-squares slope of region SSIM vs budget per slice (index: ``SLICE``)."""
    s = per_slice(d, "adv_ssim", ["budget"])
    out = {}
    for key, g in s.groupby(SLICE):
        if g["budget"].nunique() >= 2:
            out[key] = np.polyfit(g["budget"], g["adv_ssim"], 1)[0]
    index = pd.MultiIndex.from_tuples(list(out), names=SLICE) if out else None
    return pd.Series(list(out.values()), index=index, dtype=float)


def _record(f: Finding, cis: list[CI], label: str, ci: CI, what: str = "") -> None:
    """Add one group's interval and its evidence line (groups with no comparable slice: none)."""
    if ci[3] == 0:
        return
    cis.append(ci)
    f.evidence.append(f"{label}: {what}{_fmt(*ci)} ({_tag(ci)})")


def _steady_fall(df) -> Finding:
    f = Finding("steady_fall", "Region SSIM falls steadily as eta grows.", UNKNOWN)
    d = _noise(df)
    cis: list[CI] = []
    for m, a in _models(d):
        g = _sel(d, m, a)
        budgets = sorted(g["budget"].unique())
        if len(budgets) < 3:
            continue
        slope = mean_ci(_slopes(g))
        if slope[3] == 0:
            continue
        cis.append(_shift(slope, 0.0, -1.0))  # claim: slope < 0
        steps = []
        for b0, b1 in zip(budgets[:-1], budgets[1:], strict=True):
            fall = mean_ci(_paired(g[g["budget"] == b0], g[g["budget"] == b1], "adv_ssim"))
            step = _shift(fall, STEP_TOLERANCE)  # claim: no rise above the tolerance
            cis.append(step)
            steps.append(f"{b0:g}->{b1:g}: {fall[0]:+.4f} ({_tag(step)})")
        f.evidence.append(
            f"{m} {a}x: slope per 1% eta {_fmt(*slope)} ({_tag(_shift(slope, 0.0, -1.0))}); "
            f"SSIM fall per step (rise allowed up to {STEP_TOLERANCE:g}) {'; '.join(steps)}"
        )
    f.verdict = verdict(cis)
    return f


def _targeted(df) -> Finding:
    f = Finding(
        "targeted_vs_complete",
        "Targeted attacks hurt the region more than complete-image attacks at the same eta.",
        UNKNOWN,
    )
    reg, img = _noise(df, "region"), _noise(df, "image")
    cis: list[CI] = []
    for m, a in _models(reg):
        for eta in sorted(set(reg["budget"]) & set(img["budget"])):
            if eta == 0:
                continue
            r = _sel(reg, m, a)
            i = _sel(img, m, a)
            i = i[i["box_index"] >= 0]
            diff = _paired(i[i["budget"] == eta], r[r["budget"] == eta], "adv_ssim")
            what = "SSIM(complete) - SSIM(targeted) "
            _record(f, cis, f"{m} {a}x eta {eta:g}%", mean_ci(diff), what)
    f.verdict = verdict(cis)
    return f


def _rotation_vs_noise(df) -> Finding:
    f = Finding(
        "rotation_vs_noise",
        "Rotations hurt less than adversarial noise (largest "
        "budgets, region SSIM drop from the clean reconstruction).",
        UNKNOWN,
    )
    noise = _noise(df)
    rot = _rotation(df)
    cis: list[CI] = []
    for m, a in _models(noise):
        n, r = _sel(noise, m, a), _sel(rot, m, a)
        if n.empty or r.empty:
            continue
        n = n[n["budget"] == n["budget"].max()].assign(drop=lambda x: x.clean_ssim - x.adv_ssim)
        r = r[r["budget"] == r["budget"].max()].assign(drop=lambda x: x.clean_ssim - x.adv_ssim)
        what = f"drop(noise eta {n['budget'].max():g}%) - drop(rotation {r['budget'].max():g} deg) "
        _record(f, cis, f"{m} {a}x", mean_ci(_paired(n, r, "drop")), what)
    f.verdict = verdict(cis)
    return f


def _rotation(df, rule: str = "grid") -> pd.DataFrame:
    """Region rows of the paper's rotation sweep (``grid``) or the fixed-coil one."""
    return df[(df["attack"] == "rotation") & (df["target"] == "region") & (df["rule"] == rule)]


def _fixed_coils(df) -> list[Finding]:
    """Fixed coils versus turning coils (issue 13), only for runs with ``coils: fixed``."""
    fixed, paper = _rotation(df, FIXED_COILS_RULE), _rotation(df)
    if fixed.empty:
        return []
    f = Finding(
        "fixed_coils",
        "Turning the anatomy inside fixed coils hurts less than turning the coil images "
        "(the paper's model; worst angle of the largest theta_max, region SSIM).",
        UNKNOWN,
    )
    cis: list[CI] = []
    for m, a in _models(fixed):
        x, p = _sel(fixed, m, a), _sel(paper, m, a)
        top = x["budget"].max()
        x, p = x[x["budget"] == top], p[p["budget"] == top]
        what = (
            f"theta_max {top:g} deg, mean |worst angle| fixed {x['angle_deg'].abs().mean():.2f} "
            f"vs turning {p['angle_deg'].abs().mean():.2f} deg; SSIM(fixed) - SSIM(turning) "
        )
        _record(f, cis, f"{m} {a}x", mean_ci(_paired(x, p, "adv_ssim")), what)
    f.verdict = verdict(cis)
    return [f]


def _varnet_unet(df, archs: dict[str, str]) -> Finding:
    f = Finding(
        "varnet_vs_unet",
        "VarNet starts higher than UNet but degrades with a similar slope "
        f"(slopes differ by less than {SIMILAR_SLOPE:g} of UNet's).",
        UNKNOWN,
    )
    d = _noise(df)
    arch = d["model"].map(lambda m: archs.get(m, m))
    cis: list[CI] = []
    for a in sorted(d["acceleration"].unique()):
        v = d[(arch == "varnet") & (d["acceleration"] == a)]
        u = d[(arch == "unet") & (d["acceleration"] == a)]
        if v.empty or u.empty:
            continue
        b0 = min(d["budget"])
        start = mean_ci(_paired(v[v["budget"] == b0], u[u["budget"] == b0], "adv_ssim"))
        sv, su = _slopes(v), _slopes(u)
        both = sv.to_frame("v").join(su.to_frame("u"), how="inner")
        sd = mean_ci(both["v"] - both["u"])
        if start[3] == 0 and sd[3] == 0:
            continue
        # equivalence: -margin < slope(VarNet) - slope(UNet) < margin, as two one-sided intervals
        margin = SIMILAR_SLOPE * abs(float(su.mean())) if len(su) else float("nan")
        similar = [_shift(sd, margin, -1.0), _shift(sd, margin)]
        cis += [start, *similar]
        sim_tag = {HOLDS: "similar", FAILS: "not similar"}.get(verdict(similar), "inconclusive")
        f.evidence.append(
            f"{a}x: SSIM at eta {b0:g}% VarNet - UNet {_fmt(*start)} ({_tag(start)}); slope "
            f"VarNet - UNet {_fmt(*sd)}, margin +-{margin:.4f} ({sim_tag}; UNet slope "
            f"{su.mean():+.4f})"
        )
    f.verdict = verdict(cis)
    return f


def _acceleration(df) -> Finding:
    f = Finding("8x_worse", "8x is worse than 4x (region SSIM over all eta).", UNKNOWN)
    d = _noise(df)
    cis: list[CI] = []
    for m in sorted(d["model"].unique()):
        g = d[d["model"] == m]
        if not {4, 8} <= set(g["acceleration"]):
            continue
        ci = mean_ci(_paired(g[g["acceleration"] == 4], g[g["acceleration"] == 8], "adv_ssim"))
        _record(f, cis, m, ci, "SSIM(4x) - SSIM(8x) ")
    f.verdict = verdict(cis)
    return f


def _random(df) -> Finding:
    f = Finding(
        "random_noise",
        "Random noise of the same norm does little (its SSIM drop is "
        "below a quarter of the adversarial drop at the largest eta).",
        UNKNOWN,
    )
    d = _noise(df)
    if "rand_mean_ssim" not in d.columns:
        return f
    cis: list[CI] = []
    for m, a in _models(d):
        g = _sel(d, m, a)
        g = g[g["budget"] == g["budget"].max()]
        adv = mean_ci(per_slice(g.assign(x=g.clean_ssim - g.adv_ssim), "x", [])["x"])
        rnd = mean_ci(per_slice(g.assign(x=g.clean_ssim - g.rand_mean_ssim), "x", [])["x"])
        gap = g.assign(x=0.25 * (g.clean_ssim - g.adv_ssim) - (g.clean_ssim - g.rand_mean_ssim))
        quarter = mean_ci(per_slice(gap, "x", [])["x"])  # claim: > 0
        if adv[3] == 0:
            continue
        cis += [adv, quarter]
        f.evidence.append(
            f"{m} {a}x eta {g['budget'].max():g}%: drop random {_fmt(*rnd)}; drop adversarial "
            f"{_fmt(*adv)} ({_tag(adv)}); quarter of adversarial - random {_fmt(*quarter)} "
            f"({_tag(quarter)})"
        )
    f.verdict = verdict(cis)
    return f


def _rules(df) -> list[Finding]:
    d = df[(df["attack"] == "noise") & (df["target"] == "region")]
    out = []
    if not {"l2", "reference"} <= set(d["rule"]):
        return [
            Finding(
                "l2_vs_reference",
                "The l2 PGD rule beats the reference rule (lower adversarial SSIM).",
                UNKNOWN,
                ["only one rule was run"],
            )
        ]
    for eta in sorted(d["budget"].unique()):
        if eta == 0:
            continue
        f = Finding(
            f"l2_vs_reference_eta{eta:g}",
            f"At eta {eta:g}% the l2 PGD rule beats the "
            "reference rule (lower adversarial region SSIM).",
            UNKNOWN,
        )
        cis: list[CI] = []
        for m, a in _models(d):
            g = _sel(d, m, a)
            g = g[g["budget"] == eta]
            ci = mean_ci(_paired(g[g["rule"] == "reference"], g[g["rule"] == "l2"], "adv_ssim"))
            _record(f, cis, f"{m} {a}x", ci, "SSIM(reference) - SSIM(l2) ")
        f.verdict = verdict(cis)
        out.append(f)
    return out


def _motion(df) -> Finding:
    """Worst-case inter-shot motion vs uniform random motion at the same bound (issue 13)."""
    f = Finding(
        "motion_worst_vs_random",
        "Worst-case motion degrades more than random motion at the same bound "
        "(region SSIM, every theta_max > 0).",
        UNKNOWN,
    )
    d = df[(df["attack"] == "motion") & (df["target"] == "region") & (df["budget"] > 0)]
    cis: list[CI] = []
    for m, a in _models(d):
        g = _sel(d, m, a)
        for b in sorted(g["budget"].unique()):
            gb = g[g["budget"] == b]
            diff = per_slice(gb.assign(x=gb.rand_mean_ssim - gb.adv_ssim), "x", [])["x"]
            what = "SSIM(random) - SSIM(worst) "
            _record(f, cis, f"{m} {a}x theta_max {b:g} deg", mean_ci(diff), what)
    f.verdict = verdict(cis)
    return f


def _drop_at_largest(d: pd.DataFrame) -> pd.DataFrame:
    """Rows at the largest budget with ``drop = clean_ssim - adv_ssim``."""
    d = d[d["budget"] == d["budget"].max()]
    return d.assign(drop=d["clean_ssim"] - d["adv_ssim"])


def _classical_vs_networks(df, archs: dict[str, str]) -> Finding | None:
    """Each network's region SSIM drop minus each classical model's, per attack and
    acceleration at the largest budget (claim: > 0); ``None`` when no classical model ran."""
    arch = df["model"].map(lambda m: archs.get(m, m))
    classical = arch.isin(CLASSICAL_ARCHS)
    if not classical.any():
        return None
    f = Finding(
        "classical_vs_networks",
        "The classical reconstruction degrades less than the networks under the same attack "
        "(region SSIM drop from the clean reconstruction at the largest budget).",
        UNKNOWN,
    )
    rotation = df[(df["attack"] == "rotation") & (df["rule"] != "fixed-coils")]  # the paper's sweep
    attacks = {"noise": _noise(df), "rotation": rotation}
    cis: list[CI] = []
    for attack, d in attacks.items():
        d = d[d["target"] == "region"]
        kind = d["model"].map(lambda m: archs.get(m, m))
        is_classical = kind.isin(CLASSICAL_ARCHS)
        for c, a in _models(d[is_classical]):
            for n, a2 in _models(d[~is_classical & (kind != "zero_filled")]):
                if a2 != a:
                    continue
                dc, dn = _drop_at_largest(_sel(d, c, a)), _drop_at_largest(_sel(d, n, a))
                if dc.empty or dn.empty or dc["budget"].max() != dn["budget"].max():
                    continue
                what = f"drop({n}) - drop({c}) "
                budget = f"{dc['budget'].max():g}{'%' if attack == 'noise' else ' deg'}"
                _record(f, cis, f"{attack} {budget} {a}x", mean_ci(_paired(dn, dc, "drop")), what)
    f.verdict = verdict(cis)
    return f


def evaluate(df: pd.DataFrame, archs: dict[str, str] | None = None) -> list[Finding]:
    """Check every paper statement on a results table.

    Args:
        df: ``results.csv`` as a DataFrame.
        archs: ``model name -> arch`` (from the run's config); names are used when missing.
            The classical-vs-networks statement is added when a classical arch ran.
    """
    archs = archs or {}
    classical = _classical_vs_networks(df, archs)
    return [
        _steady_fall(df),
        _targeted(df),
        _rotation_vs_noise(df),
        _varnet_unet(df, archs),
        _acceleration(df),
        _random(df),
        *_rules(df),
        *_fixed_coils(df),
        *([_motion(df)] if "motion" in set(df["attack"]) else []),
        *([classical] if classical is not None else []),
    ]


def to_markdown(
    findings: list[Finding], title: str = "Expected findings", preamble: Sequence[str] = ()
) -> str:
    """``findings.md`` text; ``preamble`` lines (e.g. done / total units) come first."""
    lines = [f"# {title}", ""]
    for p in preamble:
        lines += [p, ""]
    lines += [
        "Each statement of Morshuis et al. (MLMIR 2022) checked on this run's results table "
        "(means and Student-t 95% intervals over slices; comparisons paired per slice). "
        "An interval supports a statement when it lies wholly on the claimed side and "
        "contradicts it when it lies wholly on the other side, each only with at least "
        f"{MIN_SLICES} slices. A statement holds when every interval supports it, does not hold "
        "when some interval contradicts it, and is 'not enough data' otherwise: an interval "
        f"that includes zero, fewer than {MIN_SLICES} slices or nothing comparable (more "
        "slices: `slices.max_slices`).",
        "",
    ]
    for f in findings:
        lines.append(f"- **{f.statement}** — *{f.verdict}*")
        for e in f.evidence or ["no comparable rows in the table"]:
            lines.append(f"  - {e}")
    return "\n".join(lines) + "\n"
