"""End to end: synthetic data + tiny U-Net (module:callable) + real attacks + report."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.cli import main  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import load_config  # noqa: E402


def test_run_resume_and_report(tmp_path, capsys):
    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(
        yaml.safe_dump(fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data")))
    )
    assert main(["run", str(cfg_path), "--max-units", "5", "--no-progress"]) == 0
    assert "(partial)" in capsys.readouterr().out
    assert main(["run", str(cfg_path), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "(complete)" in out and "mean region SSIM" in out
    run_dir = load_config(cfg_path).run_dir()
    before = (run_dir / "results.csv").stat()
    assert main(["run", str(cfg_path), "--no-progress"]) == 0  # finished: nothing is rewritten
    assert "nothing to do, 48/48 units done" in capsys.readouterr().out
    assert (run_dir / "results.csv").stat().st_mtime_ns == before.st_mtime_ns
    df = pd.read_csv(run_dir / "results.csv")
    assert df.unit_id.is_unique and len(df) == 48
    noise = df[df.attack == "noise"]
    assert set(noise.budget) == {0, 2}
    # the schema declares every column the real executors write, and no synonym of budget
    assert set(df.columns) <= set(schema.COLUMNS)
    assert not {"eta", "eta_percent", "theta_max", "theta_max_deg", "box_w"} & set(df.columns)
    pq = pd.read_parquet(run_dir / "results.parquet")
    assert pq.unit_id.tolist() == df.unit_id.tolist() and str(pq.acceleration.dtype) == "Int64"
    assert noise.adv_ssim.notna().all() and noise.noise_to_thermal.notna().all()
    rot = df[df.attack == "rotation"]
    assert (rot.angle_deg.abs() <= rot.budget + 1e-9).all()
    # same mask for every model/attack of a slice, and region SSIM at eta 0 equals clean SSIM
    zero = noise[(noise.budget == 0) & (noise.target == "region")]
    assert (zero.adv_ssim - zero.clean_ssim).abs().max() < 1e-6
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report" / "report.html").is_file()
    # a config with another seed but a copied folder is refused
    other = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    other["data"]["annotations"] = str(tmp_path / "nothing.csv")
    cfg2 = tmp_path / "bad.yaml"
    cfg2.write_text(yaml.safe_dump(other))
    assert main(["run", str(cfg2)]) == 2
    assert "nothing.csv: annotation CSV not found" in capsys.readouterr().err
