"""Verdicts say what the data supports: scipy t intervals, three-way verdicts, minimum slices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from advrecon.report import findings, plugins
from advrecon.report.findings import FAILS, HOLDS, MIN_SLICES, UNKNOWN, judge, verdict
from advrecon.report.tables import mean_ci, summarize


@pytest.mark.parametrize("n", [2, 3, 7, 40, 200])
def test_mean_ci_is_scipys_t_interval(n):
    v = np.random.default_rng(n).normal(0.5, 0.1, n)
    want = stats.t.interval(0.95, n - 1, loc=v.mean(), scale=stats.sem(v))
    m, lo, hi, k = mean_ci(np.r_[v, np.nan, np.inf])  # non-finite values are dropped
    assert k == n and m == pytest.approx(v.mean())
    assert (lo, hi) == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_one_slice_has_a_mean_but_no_interval():
    m, lo, hi, n = mean_ci([0.7])
    assert (m, n) == (0.7, 1) and np.isnan(lo) and np.isnan(hi)
    assert np.isnan(mean_ci([])[0]) and mean_ci([np.nan])[3] == 0
    t = summarize(pd.DataFrame({"g": [1], "file": ["f"], "slice": [0], "x": [0.7]}), "x", ["g"])
    assert np.isnan(t.loc[0, "ci_low"]) and t.loc[0, "n_slices"] == 1


@pytest.mark.parametrize(
    "ci, want",
    [
        ((0.2, 0.1, 0.3, MIN_SLICES), HOLDS),
        ((-0.2, -0.3, -0.1, MIN_SLICES), FAILS),
        ((0.2, -0.1, 0.5, 30), UNKNOWN),  # interval includes zero
        ((-0.2, -0.5, 0.1, 30), UNKNOWN),  # ... whichever way the mean points
        ((-0.2, -0.3, -0.1, MIN_SLICES - 1), UNKNOWN),  # too few slices to contradict
        ((0.2, 0.1, 0.3, MIN_SLICES - 1), UNKNOWN),  # ... or to support
        ((0.2, np.nan, np.nan, 1), UNKNOWN),  # no interval
    ],
)
def test_judge_one_interval(ci, want):
    assert judge(ci) == want


def test_verdict_over_groups():
    sig, weak, wrong = (0.2, 0.1, 0.3, 4), (0.2, -0.1, 0.5, 4), (-0.2, -0.3, -0.1, 4)
    assert verdict([sig, sig]) == HOLDS
    assert verdict([sig, sig, weak]) == UNKNOWN  # one group's interval includes zero
    assert verdict([sig, sig, wrong]) == FAILS
    assert verdict([sig, (-0.2, -0.3, -0.1, 2)]) == UNKNOWN  # n=2 never contradicts
    assert verdict([]) == UNKNOWN


def _noise_rows(values: dict[tuple, list[float]], **extra) -> pd.DataFrame:
    """Region-target l2 noise rows: ``{(model, acc, eta): per-slice adv_ssim}``."""
    rows = []
    for (model, acc, eta), per_slice in values.items():
        for s, v in enumerate(per_slice):
            rows.append(
                dict(
                    model=model,
                    acceleration=acc,
                    attack="noise",
                    rule="l2",
                    target="region",
                    budget=eta,
                    box_index=0,
                    file="f",
                    slice=s,
                    adv_ssim=v,
                    clean_ssim=0.9,
                    **extra,
                )
            )
    return pd.DataFrame(rows)


def _verdicts(df, archs=None):
    return {f.key: f for f in plugins.evaluate(df, archs)}


def test_two_slices_contradicting_are_not_enough_data():
    # 8x consistently *better* than 4x on two slices: the old code said "does not hold"
    df = _noise_rows({("unet", 4, 1.0): [0.70, 0.80], ("unet", 8, 1.0): [0.75, 0.8501]})
    f = _verdicts(df)["8x_worse"]
    assert f.verdict == UNKNOWN and "too few slices" in f.evidence[0]
    # the same effect on enough slices is a contradiction
    df = _noise_rows({("unet", 4, 1.0): [0.70, 0.80, 0.75], ("unet", 8, 1.0): [0.75, 0.8501, 0.80]})
    assert _verdicts(df)["8x_worse"].verdict == FAILS


def test_slope_interval_including_zero_is_not_enough_data():
    # SSIM neither rises nor falls clearly (slopes +-): old code said "does not hold"
    flat = {
        ("unet", 4, 0.0): [0.80, 0.80, 0.80, 0.80],
        ("unet", 4, 1.0): [0.79, 0.81, 0.80, 0.80],
        ("unet", 4, 2.0): [0.81, 0.79, 0.80, 0.80],
    }
    assert _verdicts(_noise_rows(flat))["steady_fall"].verdict == UNKNOWN
    # a clear rise does contradict "falls steadily"
    rise = {k: [v + 0.05 * k[2] + 0.001 * i for i, v in enumerate(vs)] for k, vs in flat.items()}
    assert _verdicts(_noise_rows(rise))["steady_fall"].verdict == FAILS


def test_similar_slope_needs_evidence_not_a_wide_interval():
    # VarNet starts higher; slopes vary so much between slices that their difference's interval
    # includes zero *and* values far beyond the margin: old code called that "similar" (holds)
    rng = np.random.default_rng(0)
    noisy = rng.normal(0, 0.2, 4)
    values = {}
    for eta in (0.0, 1.0, 2.0):
        values[("u", 4, eta)] = list(0.8 - 0.05 * eta + np.zeros(4))
        values[("v", 4, eta)] = list(0.85 + (-0.05 + noisy) * eta)
    df = _noise_rows(values)
    f = _verdicts(df, {"u": "unet", "v": "varnet"})["varnet_vs_unet"]
    assert f.verdict == UNKNOWN and "inconclusive" in f.evidence[0]
    # tight, equal slopes: holds
    for eta in (0.0, 1.0, 2.0):
        values[("v", 4, eta)] = list(0.85 - 0.05 * eta + 0.001 * np.arange(4))
    f = _verdicts(_noise_rows(values), {"u": "unet", "v": "varnet"})["varnet_vs_unet"]
    assert f.verdict == HOLDS


def test_random_noise_with_inconclusive_adversarial_drop_is_not_enough_data():
    # the adversarial drop itself is not shown (interval includes zero): old code "does not hold"
    df = _noise_rows({("unet", 4, 2.5): [0.95, 0.85, 0.90, 0.88]}, rand_mean_ssim=0.9)
    assert _verdicts(df)["random_noise"].verdict == UNKNOWN


def test_every_statement_is_judged_by_the_one_verdict_function(monkeypatch):
    calls = []

    def spy(cis):
        calls.append(list(cis))
        return "spied"

    monkeypatch.setattr(findings, "verdict", spy)
    values = {("u", 4, e): [0.8 - 0.1 * e + 0.01 * s for s in range(3)] for e in (0, 1, 2)}
    df = _noise_rows(values, rand_mean_ssim=0.9)
    df = pd.concat([df, df.assign(rule="reference")])
    got = plugins.evaluate(df)
    assert [f.verdict for f in got] == ["spied"] * len(got) and len(calls) == len(got)


def test_classical_degrades_less_than_the_networks():
    def rows(drops_net, drops_classical):
        def one(name, drops):
            return _noise_rows({(name, 4, e): [0.9 - d * e / 2 for d in drops] for e in (0, 2)})

        # two runs' tables concatenated: a repeated index must not matter
        return pd.concat([one("u", drops_net), one("s", drops_classical)])

    archs = {"u": "unet", "s": "sense"}
    assert "classical_vs_networks" not in _verdicts(rows([0.2] * 3, [0.1] * 3))  # no arch map
    f = _verdicts(rows([0.20, 0.21, 0.22], [0.05, 0.06, 0.05]), archs)["classical_vs_networks"]
    assert f.verdict == HOLDS and "noise 2% 4x: drop(u) - drop(s)" in f.evidence[0]
    f = _verdicts(rows([0.05, 0.06, 0.05], [0.20, 0.21, 0.22]), archs)["classical_vs_networks"]
    assert f.verdict == FAILS
    f = _verdicts(rows([0.2, 0.1, 0.3], [0.2, 0.3, 0.1]), archs)["classical_vs_networks"]
    assert f.verdict == UNKNOWN
    f = _verdicts(rows([0.20, 0.21], [0.05, 0.06]), archs)["classical_vs_networks"]
    assert f.verdict == UNKNOWN and "too few slices" in f.evidence[0]
