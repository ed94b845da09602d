"""The whole pipeline at the real fastMRI knee geometry (15 coils, 640 x 368, 320 x 320).

Synthetic data with ``--geometry fastmri-knee`` (two slices), read through the fastMRI reader
(header padding, fastMRI+ CSV), a tiny U-Net, one noise
unit and one rotation unit, then the report: shapes, padding, boxes and crops at full size.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from advrecon.cli import main
from advrecon.data.synthetic import GEOMETRIES, SynthConfig, generate_dataset
from advrecon.experiments.config import load_config

sys.path.insert(0, str(Path(__file__).resolve().parent))


def tiny_unet():
    """An untrained U-Net with few channels (``module:callable`` spec).

    (A VarNet, even a 1-cascade one with 2 channels, costs seconds per pass on 15 x 640 x 368
    coil images on the 2-core CPU; the image-domain U-Net keeps this test within ~30 s.)
    """
    from advrecon.models.unet import Unet

    torch.manual_seed(0)
    return Unet(1, 1, chans=4, num_pool_layers=2)


@pytest.mark.slow  # ~15 s on an idle 2-core CPU (rotation and SSIM at 640 x 368 / 320 x 320)
def test_fastmri_geometry_end_to_end(tmp_path, capsys):
    cfg = SynthConfig(
        **GEOMETRIES["fastmri-knee"], num_volumes=1, num_slices=2, lesion_probability=1.0, seed=5
    )
    data = tmp_path / "knee"
    generate_dataset(data, cfg)
    config = {
        "name": "fullsize",
        "seed": 0,
        "output": str(tmp_path / "runs"),
        "data": {
            "kind": "fastmri",
            "root": str(data),
            "annotations": str(data / "annotations.csv"),
        },
        "slices": {"annotated_only": True, "max_slices": 1, "box_policy": "first"},
        "masks": {"type": "equispaced_fraction", "seed": "per_volume"},
        "models": [
            {"name": "unet", "spec": "test_fullsize_pipeline:tiny_unet", "acceleration": 4},
        ],
        "attacks": {
            "noise": {"eta": [1], "steps": 1, "n_random": 0, "rules": ["l2"]},
            "rotation": {"theta_max": [1], "step": 1.0, "n_random": 0},
        },
        "targets": ["region"],
    }
    path = tmp_path / "fullsize.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--no-progress"]) == 0
    assert "(complete)" in capsys.readouterr().out
    run_dir = load_config(path).run_dir()
    df = pd.read_csv(run_dir / "results.csv")
    assert set(df.attack) == {"noise", "rotation"} and set(df.model) == {"unet"}
    # the box is the CSV box in the reconstruction frame (fastMRI+ y is flipped)
    table = pd.read_csv(data / "annotations.csv")
    first = table[(table.file == df.file.iloc[0]) & (table.slice == df.slice.iloc[0])].iloc[0]
    row = df.iloc[0]
    assert (row.box_x, row.box_width, row.box_height) == (first.x, first.width, first.height)
    assert row.box_y == 320 - first.y - first.height
    assert df.clean_ssim.between(-1, 1).all() and df.adv_ssim.notna().all()
    # the rotation grid includes 0 deg, so its worst case is no better than the clean image
    rot = df[df.attack == "rotation"]
    assert (rot.adv_ssim <= rot.clean_ssim + 1e-6).all() and (rot.angle_deg.abs() <= 1).all()
    assert main(["report", str(run_dir)]) == 0
    assert (run_dir / "report" / "report.html").is_file()
