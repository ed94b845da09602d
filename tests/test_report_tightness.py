"""The tightness check (attacks.noise.tightness): its rows, its gap, and the report showing it."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.attacks.noise import DEFAULT_SEARCH  # noqa: E402
from advrecon.attacks.noise.report.tightness import (  # noqa: E402
    tightness_line,
    tightness_rows,
    tightness_table,
)
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402
from advrecon.report.html import make_report  # noqa: E402


def _row(rule, s, eta, ssim, **kw):
    return dict(model="m", acceleration=4, attack="noise", rule=rule, target="region", file="f",
                slice=s, box_index=0, budget=eta, adv_ssim=ssim, steps=kw.get("steps", 10),
                search=kw.get("search", "apgd"))  # fmt: skip


def test_gap_is_reported_minus_lowest_and_never_negative():
    df = pd.DataFrame(
        [
            _row("l2", 0, 1.0, 0.80), _row("tight", 0, 1.0, 0.75, steps=100),
            _row("l2", 1, 1.0, 0.70), _row("tight", 1, 1.0, 0.72, steps=100),  # check weaker
            _row("l2", 1, 2.5, 0.60),  # not checked
            _row("reference", 0, 1.0, 0.90),
        ]
    )  # fmt: skip
    r = tightness_rows(df).sort_values("slice")
    assert r["gap"].tolist() == pytest.approx([0.05, 0.0])
    t = tightness_table(df)
    assert t["n"].tolist() == [2] and t["gap_max"].tolist() == pytest.approx([0.05])
    line = tightness_line(df)
    assert "2 region units" in line and "0.0250 on average" in line and "100 steps" in line
    assert tightness_line(df[df["rule"] != "tight"]) is None


def test_a_run_with_the_check_shows_it_in_table_summary_findings_and_html(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = fakes.real_config_dict("runs", "data")
    cfg["attacks"] = {"noise": {"eta": [0, 2], "steps": 2, "n_random": 0,
                                "tightness": {"eta": [2], "factor": 3}}}  # fmt: skip
    cfg["targets"] = ["region"]
    summary = run_experiment(parse_config(cfg), progress=False)
    df = pd.read_csv(summary.run_dir / "results.csv")
    tight = df[df["rule"] == "tight"]
    assert len(tight) == len(df[(df["rule"] == "l2") & (df["budget"] == 2)]) > 0
    assert set(tight["steps"]) == {6} and set(tight["search"]) == {"apgd"}
    assert set(df.loc[df["rule"] == "l2", "search"]) == {DEFAULT_SEARCH}
    line = tightness_line(df)
    assert line is not None and line in summary.summary
    html_path = make_report(summary.run_dir)
    page = html_path.read_text()
    assert "<h2>Attack tightness</h2>" in page and "mean gap" in page
    assert line in (html_path.parent / "findings.md").read_text()
    assert (html_path.parent / "tables" / "noise_tightness.csv").is_file()
