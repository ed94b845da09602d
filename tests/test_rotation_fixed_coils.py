"""``attacks.rotation.coils: fixed`` end to end: a second sweep with the anatomy turning inside
fixed coils (rule ``fixed-coils``) beside the paper's (rule ``grid``), its rows, and the report's
comparison (a finding and separate table rows)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402
from advrecon.report.plugins import evaluate  # noqa: E402


def test_fixed_coils_run_rows_and_finding(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = fakes.real_config_dict("runs", "data")
    del cfg["attacks"]["noise"]
    cfg["attacks"]["rotation"]["coils"] = "fixed"
    cfg["targets"] = ["region"]
    summary = run_experiment(parse_config(cfg), progress=False)
    df = pd.read_csv(summary.run_dir / "results.csv")
    rot = df[df["attack"] == "rotation"]
    assert set(zip(rot["rule"], rot["coils"], strict=True)) == {
        ("grid", "rotate"),
        ("fixed-coils", "fixed"),
    }
    grid, fixed = (rot[rot["rule"] == r].set_index("unit_id") for r in ("grid", "fixed-coils"))
    assert len(grid) == len(fixed)
    # the same slices, boxes and budgets; the clean reconstruction is shared ...
    key = ["file", "slice", "box_index", "budget"]
    a, b = (t.sort_values(key).reset_index() for t in (grid, fixed))
    assert a[key].equals(b[key])
    pd.testing.assert_series_equal(a["clean_ssim"], b["clean_ssim"])
    # ... and at theta_max 2 the worst case differs from the paper's model
    top = a["budget"] == 2
    assert (
        not a.loc[top, "adv_mse"]
        .reset_index(drop=True)
        .equals(b.loc[top, "adv_mse"].reset_index(drop=True))
    )
    found = {f.key: f for f in evaluate(df)}
    assert "fixed_coils" in found and found["fixed_coils"].evidence
    assert "fixed_coils" not in {f.key for f in evaluate(df[df["rule"] != "fixed-coils"])}
