"""Same config hash -> same table: a small real run pinned against the release before issue 11.

``tests/fixtures/tiny_run_expected.csv`` was written by the code before the threat-model engine
refactor (commit dae6af9) from exactly this config; the refactor must not change a number. The
tolerance only absorbs float differences between CPUs (the development machine reproduced it
bit for bit).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402

EXPECTED = Path(__file__).resolve().parent / "fixtures" / "tiny_run_expected.csv"


def test_a_small_run_reproduces_the_pinned_table(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths: the config hash does not depend on tmp_path
    cfg = fakes.real_config_dict("runs", "data")
    cfg["attacks"]["noise"]["rules"] = ["l2", "reference"]
    # the table was pinned with PGD (issue 12 added `search`; APGD is now the default). An
    # explicit `search: pgd` (and restarts 1, no tightness check) does not enter the hash
    cfg["attacks"]["noise"]["search"] = "pgd"
    config = parse_config(cfg)
    assert config.run_dir().name == "fe8e6d2c0d"  # the same config hash as before
    summary = run_experiment(config, progress=False)
    got = pd.read_csv(summary.run_dir / "results.csv").sort_values("unit_id")
    want = pd.read_csv(EXPECTED).sort_values("unit_id")
    assert got["unit_id"].tolist() == want["unit_id"].tolist()
    for col in want.columns.drop("unit_id"):
        a, b = got[col].to_numpy(float), want[col].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)), col
        ok = ~np.isnan(b)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-5, atol=1e-7, err_msg=col)
