"""The paper's statements, checked against a run's results table.

Each :class:`Finding` has a verdict ``"holds"``, ``"does not hold"`` or ``"not enough data"``
and the numbers behind it (means with Student-t 95% intervals over slices). Comparisons are
*paired per slice* (the rows of a slice are averaged over its boxes first). Unless stated, the
noise statements use the region target and the rule that every model ran (``l2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from advrecon.report.tables import SLICE, mean_ci, per_slice, primary_rule

__all__ = ["Finding", "evaluate", "to_markdown", "HOLDS", "FAILS", "UNKNOWN"]

HOLDS, FAILS, UNKNOWN = "holds", "does not hold", "not enough data"


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


def _directional(cis: list[tuple[float, float, float, int]]) -> str:
    """Verdict over groups whose CI is of a difference that is positive when the claim holds.

    A group *supports* the claim when its whole 95% interval is above zero and *contradicts*
    it when the whole interval is below zero; otherwise it is inconclusive. The claim does not
    hold when any group contradicts it, holds when no group contradicts it, every group mean
    points the claimed way and most groups support it, and is "not enough data" otherwise.
    """
    if not cis:
        return UNKNOWN
    if any(hi < 0 for _, _, hi, _ in cis):
        return FAILS
    support = sum(lo > 0 for _, lo, _, _ in cis)
    if all(m > 0 for m, _, _, _ in cis) and support * 2 > len(cis):
        return HOLDS
    return UNKNOWN


def _tag(ci) -> str:
    m, lo, hi, _ = ci
    return "supports" if lo > 0 else "contradicts" if hi < 0 else "inconclusive"


def _fmt(m, lo, hi, n) -> str:
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


def _slopes(d: pd.DataFrame) -> np.ndarray:
    """Least-squares slope of region SSIM vs budget per slice."""
    s = per_slice(d, "adv_ssim", ["budget"])
    out = []
    for _, g in s.groupby(SLICE):
        if g["budget"].nunique() >= 2:
            out.append(np.polyfit(g["budget"], g["adv_ssim"], 1)[0])
    return np.asarray(out)


def _steady_fall(df) -> Finding:
    f = Finding("steady_fall", "Region SSIM falls steadily as eta grows.", UNKNOWN)
    d = _noise(df)
    verdicts = []
    for m, a in _models(d):
        g = _sel(d, m, a)
        if g["budget"].nunique() < 3:
            continue
        sl = mean_ci(_slopes(g))
        means = g.groupby("budget")["adv_ssim"].mean().sort_index().to_numpy()
        monotone = bool(np.all(np.diff(means) <= 0.005))
        if sl[3] < 2:
            continue
        ok = monotone and sl[2] < 0
        verdicts.append(ok)
        f.evidence.append(
            f"{m} {a}x: slope per 1% eta {_fmt(*sl)}; means "
            f"{', '.join(f'{x:.3f}' for x in means)} "
            f"({'non-increasing' if monotone else 'not monotone'})"
        )
    if verdicts:
        f.verdict = HOLDS if all(verdicts) else FAILS
    return f


def _targeted(df) -> Finding:
    f = Finding(
        "targeted_vs_complete",
        "Targeted attacks hurt the region more than complete-image attacks at the same eta.",
        UNKNOWN,
    )
    reg, img = _noise(df, "region"), _noise(df, "image")
    verdicts = []
    for m, a in _models(reg):
        for eta in sorted(set(reg["budget"]) & set(img["budget"])):
            if eta == 0:
                continue
            r = _sel(reg, m, a)
            i = _sel(img, m, a)
            i = i[i["box_index"] >= 0]
            diff = _paired(i[i["budget"] == eta], r[r["budget"] == eta], "adv_ssim")
            ci = mean_ci(diff)
            if ci[3] < 2:
                continue
            verdicts.append(ci)
            f.evidence.append(
                f"{m} {a}x eta {eta:g}%: SSIM(complete) - SSIM(targeted) {_fmt(*ci)} ({_tag(ci)})"
            )
    f.verdict = _directional(verdicts)
    return f


def _rotation_vs_noise(df) -> Finding:
    f = Finding(
        "rotation_vs_noise",
        "Rotations hurt less than adversarial noise (largest "
        "budgets, region SSIM drop from the clean reconstruction).",
        UNKNOWN,
    )
    noise = _noise(df)
    rot = df[(df["attack"] == "rotation") & (df["target"] == "region")]
    verdicts = []
    for m, a in _models(noise):
        n, r = _sel(noise, m, a), _sel(rot, m, a)
        if n.empty or r.empty:
            continue
        n = n[n["budget"] == n["budget"].max()].assign(drop=lambda x: x.clean_ssim - x.adv_ssim)
        r = r[r["budget"] == r["budget"].max()].assign(drop=lambda x: x.clean_ssim - x.adv_ssim)
        ci = mean_ci(_paired(n, r, "drop"))
        if ci[3] < 2:
            continue
        verdicts.append(ci)
        f.evidence.append(
            f"{m} {a}x: drop(noise eta {n['budget'].max():g}%) - drop(rotation "
            f"{r['budget'].max():g} deg) {_fmt(*ci)} ({_tag(ci)})"
        )
    f.verdict = _directional(verdicts)
    return f


def _varnet_unet(df, archs: dict[str, str]) -> Finding:
    f = Finding(
        "varnet_vs_unet",
        "VarNet starts higher than UNet but degrades with a similar slope.",
        UNKNOWN,
    )
    d = _noise(df)
    arch = d["model"].map(lambda m: archs.get(m, m))
    verdicts = []
    for a in sorted(d["acceleration"].unique()):
        v = d[(arch == "varnet") & (d["acceleration"] == a)]
        u = d[(arch == "unet") & (d["acceleration"] == a)]
        if v.empty or u.empty:
            continue
        b0 = min(d["budget"])
        start = mean_ci(_paired(v[v["budget"] == b0], u[u["budget"] == b0], "adv_ssim"))
        sv, su = _slopes(v), _slopes(u)
        if start[3] < 2 or len(sv) < 2 or len(su) < 2:
            continue
        sd = mean_ci(sv - su) if len(sv) == len(su) else mean_ci(np.r_[sv.mean() - su.mean()])
        similar = sd[1] <= 0 <= sd[2] or abs(sd[0]) <= 0.5 * max(abs(su.mean()), 1e-9)
        verdicts.append(start[1] > 0 and similar)
        f.evidence.append(
            f"{a}x: SSIM at eta {b0:g}% VarNet - UNet {_fmt(*start)}; slope "
            f"VarNet - UNet {_fmt(*sd)} (UNet slope {su.mean():+.4f})"
        )
    if verdicts:
        f.verdict = HOLDS if all(verdicts) else FAILS
    return f


def _acceleration(df) -> Finding:
    f = Finding("8x_worse", "8x is worse than 4x (region SSIM over all eta).", UNKNOWN)
    d = _noise(df)
    verdicts = []
    for m in sorted(d["model"].unique()):
        g = d[d["model"] == m]
        if not {4, 8} <= set(g["acceleration"]):
            continue
        ci = mean_ci(_paired(g[g["acceleration"] == 4], g[g["acceleration"] == 8], "adv_ssim"))
        if ci[3] < 2:
            continue
        verdicts.append(ci)
        f.evidence.append(f"{m}: SSIM(4x) - SSIM(8x) {_fmt(*ci)} ({_tag(ci)})")
    f.verdict = _directional(verdicts)
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
    verdicts = []
    for m, a in _models(d):
        g = _sel(d, m, a)
        g = g[g["budget"] == g["budget"].max()]
        adv = mean_ci(per_slice(g.assign(x=g.clean_ssim - g.adv_ssim), "x", [])["x"])
        rnd = mean_ci(per_slice(g.assign(x=g.clean_ssim - g.rand_mean_ssim), "x", [])["x"])
        if adv[3] < 2 or rnd[3] < 2:
            continue
        verdicts.append(adv[1] > 0 and rnd[0] < 0.25 * adv[0])
        f.evidence.append(
            f"{m} {a}x eta {g['budget'].max():g}%: drop random {_fmt(*rnd)}; "
            f"drop adversarial {_fmt(*adv)}"
        )
    if verdicts:
        f.verdict = HOLDS if all(verdicts) else FAILS
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
        verdicts = []
        for m, a in _models(d):
            g = _sel(d, m, a)
            g = g[g["budget"] == eta]
            ci = mean_ci(_paired(g[g["rule"] == "reference"], g[g["rule"] == "l2"], "adv_ssim"))
            if ci[3] < 2:
                continue
            verdicts.append(ci)
            f.evidence.append(f"{m} {a}x: SSIM(reference) - SSIM(l2) {_fmt(*ci)} ({_tag(ci)})")
        f.verdict = _directional(verdicts)
        out.append(f)
    return out


def evaluate(df: pd.DataFrame, archs: dict[str, str] | None = None) -> list[Finding]:
    """Check every paper statement on a results table.

    Args:
        df: ``results.csv`` as a DataFrame.
        archs: ``model name -> arch`` (from the run's config); names are used when missing.
    """
    archs = archs or {}
    return [
        _steady_fall(df),
        _targeted(df),
        _rotation_vs_noise(df),
        _varnet_unet(df, archs),
        _acceleration(df),
        _random(df),
        *_rules(df),
    ]


def to_markdown(findings: list[Finding], title: str = "Expected findings") -> str:
    """``findings.md`` text."""
    lines = [
        f"# {title}",
        "",
        "Each statement of Morshuis et al. (MLMIR 2022) checked on this run's results table "
        "(means and Student-t 95% intervals over slices; comparisons paired per slice). "
        "A group supports a claim when its whole interval lies on the claimed side; a claim "
        "holds when no group contradicts it, every group mean points the claimed way and most "
        "groups support it, does not hold when a group contradicts it, and otherwise needs more "
        "data (more slices: `slices.max_slices`).",
        "",
    ]
    for f in findings:
        lines.append(f"- **{f.statement}** — *{f.verdict}*")
        for e in f.evidence or ["no comparable rows in the table"]:
            lines.append(f"  - {e}")
    return "\n".join(lines) + "\n"
