"""Runner, results store, resume and durability, with test doubles for data/models/attacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.errors import ConfigError, InputFileError  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.results_store import (  # noqa: E402
    StoreWarning,
    TidyTable,
    load_arrays,
    merge_tables,
)
from advrecon.experiments.runner import run_experiment  # noqa: E402
from advrecon.experiments.units import expand_units  # noqa: E402

FAKES = Path(fakes.__file__)


def _run(cfg, **kw):
    return run_experiment(
        cfg,
        executor=fakes.fake_executor,
        source=fakes.FakeSource(),
        model_loader=fakes.fake_loader,
        progress=False,
        **kw,
    )


def _table(run_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(run_dir / "results.csv")
    return df.drop(columns=[c for c in df.columns if c.startswith("time_")])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted single-process run of the tiny experiment."""
    out = tmp_path_factory.mktemp("ref")
    cfg = parse_config(fakes.tiny_config_dict(str(out)))
    res = _run(cfg)
    return cfg, res


def test_expand_units_counts_and_ids():
    cfg = parse_config(fakes.tiny_config_dict("o"))
    batches = expand_units(cfg, fakes.FakeSource().refs())
    units = [u for b in batches for u in b.units]
    # per model: noise 2 rules x (region 3 boxes + image 4 eval boxes) x 3 eta; rotation 7 x 2
    assert len(units) == 2 * (2 * 7 * 3 + 7 * 2)
    assert len({u.id for u in units}) == len(units)
    noise = [b for b in batches if b.kind == "noise"]
    assert all(len(b.budgets()) == 3 for b in noise)  # all etas of a slice in one call
    rot = [b for b in batches if b.kind == "rotation"]
    assert len(rot) == 2 * 3  # one sweep per (model, slice) covering targets, boxes, theta_max
    # a slice without boxes gets complete-image units only
    assert not [u for u in units if u.file == "file102" and u.target == "region"]
    # rules_on restricts the rule comparison
    cfg2 = parse_config(
        fakes.tiny_config_dict(
            "o", models=[{"name": "a", "spec": "m:f"}, {"name": "b", "spec": "m:f"}]
        )
    )
    cfg2 = parse_config(
        {
            **cfg2.to_dict(),
            "attacks": {"noise": {"eta": [0], "rules": ["l2", "reference"], "rules_on": ["b"]}},
        }
    )
    rules = {
        (u.model, u.rule) for b in expand_units(cfg2, fakes.FakeSource().refs()) for u in b.units
    }
    assert rules == {("a", "l2"), ("b", "l2"), ("b", "reference")}


def test_full_run_writes_tidy_table_arrays_and_manifest(reference):
    cfg, res = reference
    assert res.complete and res.done_units == res.total_units == 112
    df = pd.read_csv(res.run_dir / "results.csv")
    assert len(df) == 112 and df.unit_id.is_unique and list(df.unit_id) == sorted(df.unit_id)
    assert {
        "adv_ssim",
        "clean_ssim",
        "config_hash",
        "advrecon_version",
        "seed",
        "time_unit_s",
        "arrays_file",
    } <= set(df.columns)
    assert df.config_hash.iloc[0] == cfg.hash()[:10]
    a = load_arrays(res.run_dir / df.arrays_file.iloc[0])
    assert a["adversarial"].shape == fakes.RECON and a["adversarial"].dtype == np.float32
    curves = pd.read_csv(res.run_dir / "rotation_curves.csv")
    assert curves.curve_id.is_unique and len(curves) == 2 * 3 * 2 * 5
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["config_hash"] == cfg.hash()
    assert "mean region SSIM" in res.summary and "fake" in res.summary
    # running again finds nothing to do and changes nothing
    before = (res.run_dir / "results.csv").read_bytes()
    again = _run(cfg)
    assert again.executed_units == 0 and (res.run_dir / "results.csv").read_bytes() == before


def test_partial_runs_resume_to_the_same_table(tmp_path, reference):
    cfg = parse_config(fakes.tiny_config_dict(str(tmp_path)))
    first = _run(cfg, max_units=10)
    assert not first.complete and 10 <= first.done_units < first.total_units
    while not _run(cfg, max_units=25).complete:
        pass
    pd.testing.assert_frame_equal(_table(first.run_dir), _table(reference[1].run_dir))


def test_truncated_table_is_repaired_and_completed(tmp_path, reference):
    cfg = parse_config(fakes.tiny_config_dict(str(tmp_path)))
    res = _run(cfg, max_units=30)
    path = res.run_dir / "results.csv"
    text = path.read_text()
    path.write_text(text[: len(text) - 25])  # a crash in the middle of the last row
    with pytest.warns(StoreWarning, match="dropped 1 incomplete row"):
        done = _run(cfg)
    assert done.complete
    pd.testing.assert_frame_equal(_table(res.run_dir), _table(reference[1].run_dir))


def test_killed_run_resumes_without_loss_or_duplicates(tmp_path, reference):
    env = {**os.environ, "PYTHONPATH": fakes.child_pythonpath()}
    proc = subprocess.Popen(
        [sys.executable, str(FAKES), str(tmp_path), "0.05"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cfg = parse_config(fakes.tiny_config_dict(str(tmp_path)))
    results = cfg.run_dir() / "results.csv"
    deadline = time.time() + 30
    while time.time() < deadline and not (results.exists() and results.stat().st_size > 3000):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_rows = len(pd.read_csv(results))
    assert 0 < killed_rows < 112
    assert _run(cfg).complete
    pd.testing.assert_frame_equal(_table(cfg.run_dir()), _table(reference[1].run_dir))


def test_folder_of_another_config_is_refused(tmp_path):
    cfg = parse_config(fakes.tiny_config_dict(str(tmp_path)))
    _run(cfg, max_units=1)
    other = parse_config(fakes.tiny_config_dict(str(tmp_path), seed=4))
    manifest = cfg.run_dir() / "manifest.json"
    m = json.loads(manifest.read_text())
    other_dir = other.run_dir()
    other_dir.mkdir(parents=True)
    (other_dir / "manifest.json").write_text(json.dumps(m))  # e.g. a copied folder
    before = sorted(p.name for p in other_dir.iterdir())
    with pytest.raises(ConfigError, match="written by another config"):
        _run(other)
    assert sorted(p.name for p in other_dir.iterdir()) == before


def test_table_append_dedupes_widens_and_merges(tmp_path):
    t = TidyTable(tmp_path / "r.csv")
    assert t.append([{"unit_id": "b", "x": 1.5}, {"unit_id": "a", "x": 0.1 + 0.2}]) == 2
    assert t.append([{"unit_id": "a", "x": 9}]) == 0  # duplicate key skipped
    assert t.append([{"unit_id": "c", "x": 2, "y": "new column"}]) == 1
    header, rows = TidyTable(tmp_path / "r.csv").read()
    assert header == ["unit_id", "x", "y"] and [r["unit_id"] for r in rows] == ["b", "a", "c"]
    assert float(rows[1]["x"]) == 0.1 + 0.2  # exact float round trip
    t2 = TidyTable(tmp_path / "r2.csv")
    t2.append([{"unit_id": "a", "x": 7}, {"unit_id": "d", "z": True}])
    n = merge_tables([tmp_path / "r.csv", tmp_path / "r2.csv"], tmp_path / "m.csv")
    m = pd.read_csv(tmp_path / "m.csv")
    assert n == 4 and list(m.unit_id) == ["a", "b", "c", "d"] and m.x.iloc[0] == 0.1 + 0.2


class _BadSource:
    """A data source whose annotations match nothing (what DatasetSource raises)."""

    def refs(self):
        raise InputFileError("data", "annotation CSV matches no slice of a file in the data folder")


def _bad_loader(model_config, recon_size, device):
    raise InputFileError("w.safetensors", "is not a readable safetensors file")


@pytest.mark.parametrize("what", ["source", "loader"])
def test_bad_input_leaves_no_run_folder(tmp_path, what):
    out = tmp_path / "runs"
    cfg = parse_config(fakes.tiny_config_dict(str(out)))
    kw = dict(executor=fakes.fake_executor, progress=False)
    if what == "source":
        kw.update(source=_BadSource(), model_loader=fakes.fake_loader)
        match = "matches no slice"
    else:
        kw.update(source=fakes.FakeSource(), model_loader=_bad_loader)
        match = "not a readable safetensors"
    with pytest.raises(InputFileError, match=match):
        run_experiment(cfg, **kw)
    assert not out.exists()
    # a run folder that already holds results is never removed by a later failure
    _run(cfg, max_units=1)
    kept = sorted(p.name for p in cfg.run_dir().iterdir())
    with pytest.raises(InputFileError):
        run_experiment(cfg, **kw)
    assert sorted(p.name for p in cfg.run_dir().iterdir()) == kept
