"""The paper's statements about adversarial k-space noise, checked on a run's results table.

Unless stated, they use the region target and the rule every model ran (``l2``), paired per
slice and judged by :func:`advrecon.report.findings.verdict` (three-way verdict):

* ``steady_fall``: region SSIM falls steadily as eta grows (slope < 0 and no step up by more
  than :data:`STEP_TOLERANCE`);
* ``targeted_vs_complete``: the targeted attack hurts the region more than the complete-image
  attack at the same eta;
* ``varnet_vs_unet``: VarNet starts higher than UNet but degrades with a similar slope (within
  :data:`SIMILAR_SLOPE` of UNet's, as two one-sided intervals);
* ``8x_worse``: 8x is worse than 4x;
* ``random_noise``: random noise of the same norm does little (below a quarter of the
  adversarial drop at the largest eta);
* ``l2_vs_reference_eta<eta>``: the ``l2`` PGD rule beats the authors' ``reference`` rule.
"""

from __future__ import annotations

import pandas as pd

from advrecon.attacks.contract import Finding, ReportContext
from advrecon.attacks.noise.report.rows import NAME, primary_rows
from advrecon.report.findings import (
    CI,
    FAILS,
    HOLDS,
    UNKNOWN,
    close,
    fmt_ci,
    model_groups,
    paired,
    record,
    select,
    shift,
    slopes,
    tag,
    verdict,
)
from advrecon.report.stats import mean_ci, per_slice

__all__ = ["SIMILAR_SLOPE", "STEP_TOLERANCE", "findings"]

#: "Falls steadily": no step between consecutive eta may raise the mean region SSIM by more.
STEP_TOLERANCE = 0.005
#: "Similar slope": VarNet's and UNet's slopes differ by less than this fraction of UNet's.
SIMILAR_SLOPE = 0.5


def _steady_fall(df: pd.DataFrame) -> Finding:
    f = Finding("steady_fall", "Region SSIM falls steadily as eta grows.", UNKNOWN)
    d = primary_rows(df)
    cis: list[CI] = []
    for m, a in model_groups(d):
        g = select(d, m, a)
        budgets = sorted(g["budget"].unique())
        if len(budgets) < 3:
            continue
        slope = mean_ci(slopes(g))
        if slope[3] == 0:
            continue
        cis.append(shift(slope, 0.0, -1.0))  # claim: slope < 0
        steps = []
        for b0, b1 in zip(budgets[:-1], budgets[1:], strict=True):
            fall = mean_ci(paired(g[g["budget"] == b0], g[g["budget"] == b1], "adv_ssim"))
            step = shift(fall, STEP_TOLERANCE)  # claim: no rise above the tolerance
            cis.append(step)
            steps.append(f"{b0:g}->{b1:g}: {fall[0]:+.4f} ({tag(step)})")
        f.evidence.append(
            f"{m} {a}x: slope per 1% eta {fmt_ci(*slope)} ({tag(shift(slope, 0.0, -1.0))}); "
            f"SSIM fall per step (rise allowed up to {STEP_TOLERANCE:g}) {'; '.join(steps)}"
        )
    return close(f, cis)


def _targeted(df: pd.DataFrame) -> Finding:
    f = Finding(
        "targeted_vs_complete",
        "Targeted attacks hurt the region more than complete-image attacks at the same eta.",
        UNKNOWN,
    )
    reg, img = primary_rows(df, "region"), primary_rows(df, "image")
    cis: list[CI] = []
    for m, a in model_groups(reg):
        for eta in sorted(set(reg["budget"]) & set(img["budget"])):
            if eta == 0:
                continue
            r = select(reg, m, a)
            i = select(img, m, a)
            i = i[i["box_index"] >= 0]
            diff = paired(i[i["budget"] == eta], r[r["budget"] == eta], "adv_ssim")
            what = "SSIM(complete) - SSIM(targeted) "
            record(f, cis, f"{m} {a}x eta {eta:g}%", mean_ci(diff), what)
    return close(f, cis)


def _varnet_unet(df: pd.DataFrame, archs: dict[str, str]) -> Finding:
    f = Finding(
        "varnet_vs_unet",
        "VarNet starts higher than UNet but degrades with a similar slope "
        f"(slopes differ by less than {SIMILAR_SLOPE:g} of UNet's).",
        UNKNOWN,
    )
    d = primary_rows(df)
    arch = d["model"].map(lambda m: archs.get(m, m))
    cis: list[CI] = []
    for a in sorted(d["acceleration"].unique()):
        v = d[(arch == "varnet") & (d["acceleration"] == a)]
        u = d[(arch == "unet") & (d["acceleration"] == a)]
        if v.empty or u.empty:
            continue
        b0 = min(d["budget"])
        start = mean_ci(paired(v[v["budget"] == b0], u[u["budget"] == b0], "adv_ssim"))
        sv, su = slopes(v), slopes(u)
        both = sv.to_frame("v").join(su.to_frame("u"), how="inner")
        sd = mean_ci(both["v"] - both["u"])
        if start[3] == 0 and sd[3] == 0:
            continue
        # equivalence: -margin < slope(VarNet) - slope(UNet) < margin, as two one-sided intervals
        margin = SIMILAR_SLOPE * abs(float(su.mean())) if len(su) else float("nan")
        similar = [shift(sd, margin, -1.0), shift(sd, margin)]
        cis += [start, *similar]
        sim_tag = {HOLDS: "similar", FAILS: "not similar"}.get(verdict(similar), "inconclusive")
        f.evidence.append(
            f"{a}x: SSIM at eta {b0:g}% VarNet - UNet {fmt_ci(*start)} ({tag(start)}); slope "
            f"VarNet - UNet {fmt_ci(*sd)}, margin +-{margin:.4f} ({sim_tag}; UNet slope "
            f"{su.mean():+.4f})"
        )
    return close(f, cis)


def _acceleration(df: pd.DataFrame) -> Finding:
    f = Finding("8x_worse", "8x is worse than 4x (region SSIM over all eta).", UNKNOWN)
    d = primary_rows(df)
    cis: list[CI] = []
    for m in sorted(d["model"].unique()):
        g = d[d["model"] == m]
        if not {4, 8} <= set(g["acceleration"]):
            continue
        ci = mean_ci(paired(g[g["acceleration"] == 4], g[g["acceleration"] == 8], "adv_ssim"))
        record(f, cis, m, ci, "SSIM(4x) - SSIM(8x) ")
    return close(f, cis)


def _random(df: pd.DataFrame) -> Finding:
    f = Finding(
        "random_noise",
        "Random noise of the same norm does little (its SSIM drop is "
        "below a quarter of the adversarial drop at the largest eta).",
        UNKNOWN,
    )
    d = primary_rows(df)
    if "rand_mean_ssim" not in d.columns:
        return f
    cis: list[CI] = []
    for m, a in model_groups(d):
        g = select(d, m, a)
        g = g[g["budget"] == g["budget"].max()]
        adv = mean_ci(per_slice(g.assign(x=g.clean_ssim - g.adv_ssim), "x", [])["x"])
        rnd = mean_ci(per_slice(g.assign(x=g.clean_ssim - g.rand_mean_ssim), "x", [])["x"])
        gap = g.assign(x=0.25 * (g.clean_ssim - g.adv_ssim) - (g.clean_ssim - g.rand_mean_ssim))
        quarter = mean_ci(per_slice(gap, "x", [])["x"])  # claim: > 0
        if adv[3] == 0:
            continue
        cis += [adv, quarter]
        f.evidence.append(
            f"{m} {a}x eta {g['budget'].max():g}%: drop random {fmt_ci(*rnd)}; drop adversarial "
            f"{fmt_ci(*adv)} ({tag(adv)}); quarter of adversarial - random {fmt_ci(*quarter)} "
            f"({tag(quarter)})"
        )
    return close(f, cis)


def _rules(df: pd.DataFrame) -> list[Finding]:
    d = df[(df["attack"] == NAME) & (df["target"] == "region")]
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
        for m, a in model_groups(d):
            g = select(d, m, a)
            g = g[g["budget"] == eta]
            ci = mean_ci(paired(g[g["rule"] == "reference"], g[g["rule"] == "l2"], "adv_ssim"))
            record(f, cis, f"{m} {a}x", ci, "SSIM(reference) - SSIM(l2) ")
        out.append(close(f, cis))
    return out


def findings(ctx: ReportContext) -> list[Finding]:
    """The noise statements (see the module docstring), in this order."""
    df, archs = ctx.results, dict(ctx.archs)
    return [
        _steady_fall(df),
        _targeted(df),
        _varnet_unet(df, archs),
        _acceleration(df),
        _random(df),
        *_rules(df),
    ]
