"""One region-metric path: the clean metrics of a (slice, box) are the same in every row.

Rows of the region target, of the complete-image target (scored on the pathology box after the
attack), of both PGD rules and of the rotation sweep all describe the same unperturbed
reconstruction of the same slice in the same box; they must report the same clean numbers
(same pixels, same formula). The attacks reconstruct the unperturbed slice in batches of
different sizes, so float32 model arithmetic leaves differences of ~1e-8 relative; the bug
this pins gave 3 % (a box scored grown in one row and not grown in another).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.attacks.objectives import box_metrics, make_regions, region_metrics  # noqa: E402
from advrecon.attacks.objectives import data_range as data_range_of  # noqa: E402
from advrecon.boxes import Box  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402

CLEAN = ["clean_ssim", "clean_psnr", "clean_nmse", "clean_mse"]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("path")
    cfg = fakes.real_config_dict(str(tmp / "runs"), str(tmp / "data"))
    cfg["attacks"]["noise"]["rules"] = ["l2", "reference"]
    cfg["data"]["synthetic"]["kspace_shape"] = [64, 40]  # small boxes get grown on 32x32
    summary = run_experiment(parse_config(cfg), progress=False)
    assert summary.complete
    return pd.read_csv(summary.run_dir / "results.csv")


def test_clean_metrics_identical_across_targets_rules_and_attacks(results):
    boxed = results[results.box_index >= 0]
    assert set(boxed.attack) == {"noise", "rotation"}
    assert set(boxed.target) == {"region", "image"} and set(boxed.rule.dropna()) >= {"l2"}
    groups = boxed.groupby(["model", "acceleration", "file", "slice", "box_index"])
    assert groups.ngroups >= 2
    for key, g in groups:
        assert len(g) >= 8, key  # 2 rules x 2 targets x 2 eta + rotation rows
        spread = (g[CLEAN].max() - g[CLEAN].min()).abs()
        scale = g[CLEAN].abs().max()
        assert (spread <= 1e-6 * scale).all(), (key, g[["unit_id", *CLEAN]])


def test_box_metrics_equals_the_attack_region_path():
    """A box smaller than the SSIM window is grown the same way in both entry points."""
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 20, 24, generator=g)
    pred = target + 0.1 * torch.randn(2, 20, 24, generator=g)
    boxes = [Box(3, 4, 3, 2), Box(10, 10, 8, 8)]
    a = box_metrics(pred, target, boxes)
    b = region_metrics(pred, target, make_regions(boxes, (20, 24)), data_range_of(target))
    for key in ("ssim", "psnr", "nmse", "mse"):
        assert torch.equal(a[key], b[key])
    # the 3x2 box is scored on its grown 7x7 region, not on the 6 pixels of the box itself
    inside = ((pred[0, 4:6, 3:6] - target[0, 4:6, 3:6]) ** 2).double().mean()
    assert not np.isclose(float(a["mse"][0]), float(inside))
