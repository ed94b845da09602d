"""The scorecard's headline: the worst of everything evaluated, per slice then over slices."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from advrecon.experiments.protocol import Verdict
from advrecon.report.scorecard import scorecard, sentences, unit_scores


def _row(file, rule, adv, rand_worst=math.nan, rand_mean=0.8, evaluated=math.nan, **kw):
    return {
        "model": "m", "acceleration": 4, "attack": "noise", "rule": rule, "target": "region",
        "budget": 1.0, "file": file, "slice": 0, "box_index": 0, "clean_ssim": 0.9,
        "adv_ssim": adv, "rand_worst_ssim": rand_worst, "rand_mean_ssim": rand_mean,
        "evaluated_min_ssim": evaluated, **kw,
    }  # fmt: skip


def test_worst_is_the_lowest_evaluated_point_and_tightness_the_search_gap():
    df = pd.DataFrame(
        [
            _row("a", "l2", 0.50, rand_worst=0.45),  # a random draw beats the search
            _row("a", "tight", 0.48),
            _row("b", "l2", 0.40, evaluated=0.30),  # a plug-in's evaluated point is lower
            _row("b", "tight", 0.41),  # the check did not beat the search: gap 0
            _row("c", "l2", 0.60),
            _row("c", "tight", 0.55),
        ]
    )
    units = unit_scores(df, "noise", 1.0).set_index("file")
    assert units.loc["a", "worst"] == 0.45 and units.loc["a", "reported"] == 0.50
    assert units.loc["b", "worst"] == 0.30 and units.loc["c", "worst"] == 0.55
    assert units.loc["a", "random_worst"] == 0.45
    (row,) = scorecard(df, {"noise": 1.0})
    assert row["worst_case"] == pytest.approx((0.45 + 0.30 + 0.55) / 3, abs=1e-6)
    assert row["tightness"] == pytest.approx((0.02 + 0.0 + 0.05) / 3, abs=1e-6)
    assert row["clean"] == pytest.approx(0.9) and row["random"] == pytest.approx(0.8, abs=1e-6)
    assert row["n"] == 3 and row["ci95"][0] < row["worst_case"] < row["ci95"][1]
    assert row["drop"] == pytest.approx(0.9 - row["worst_case"], abs=1e-6)
    assert row["random_beats_search"] == 1.0  # of the units with random draws (slice a)


def test_boxes_are_averaged_per_slice_first():
    rows = [_row("a", "l2", 0.2), _row("a", "l2", 0.4, box_index=1), _row("b", "l2", 0.9)]
    (row,) = scorecard(pd.DataFrame(rows), {"noise": 1.0})
    assert row["n"] == 2 and row["worst_case"] == pytest.approx((0.3 + 0.9) / 2, abs=1e-6)


@pytest.mark.parametrize(
    ("advs", "verdict"),
    [((0.89, 0.895, 0.89, 0.892), "robust"), ((0.5, 0.52, 0.49, 0.51), "vulnerable"),
     ((0.89, 0.7, 0.88, 0.6), "inconclusive")],
)  # fmt: skip
def test_verdict_from_the_drop_interval(advs, verdict):
    df = pd.DataFrame([_row(str(i), "l2", a) for i, a in enumerate(advs)])
    (row,) = scorecard(df, {"noise": 1.0}, Verdict(0.02, 0.05))
    assert row["verdict"] == verdict
    assert row["converged"] is None and row["tightness"] is None


def test_converged_share_and_sentences():
    df = pd.DataFrame([_row("a", "l2", 0.5, converged=True), _row("b", "l2", 0.5, converged=False)])
    (row,) = scorecard(df, {"noise": 1.0})
    assert row["converged"] == 0.5
    row["budget_label"] = "1%"
    (text,) = sentences([row])
    assert text.startswith("m@4x: the largest loss is under `noise` at 1%")
    assert "Vulnerable to `noise`" in text


def test_tradeoff_figure_needs_two_models(tmp_path):
    from advrecon.report.scorecard import tradeoff_figure

    rows = [_row("a", "l2", 0.5), _row("b", "l2", 0.4)]
    other = [dict(r, model="h") for r in rows]
    df = pd.DataFrame(rows + [dict(r, clean_ssim=0.85) for r in other])
    card = scorecard(df, {"noise": 1.0})
    assert [r["model"] for r in card] == ["h@4x", "m@4x"]
    assert tradeoff_figure(card[1:], tmp_path) is None
    png = tradeoff_figure(card, tmp_path)
    assert png.name == "tradeoff_clean_vs_worst.png" and png.stat().st_size > 1000
