"""Region metrics and objectives (advrecon.attacks.objectives) against skimage and metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from advrecon import metrics
from advrecon.attacks.objectives import (
    data_range,
    error_maps,
    make_regions,
    objective_value,
    reduce_maps,
    region_metrics,
)
from advrecon.boxes import Box
from advrecon.errors import AdvreconError

SHAPE = (20, 18)
BOXES = [Box(0, 0, 18, 20), Box(3, 4, 9, 8), Box(10, 12, 7, 7), Box(17, 19, 1, 1)]


def images(seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand((4, *SHAPE), generator=g, dtype=torch.float64) + 0.5
    pred = target + 0.2 * torch.randn((4, *SHAPE), generator=g, dtype=torch.float64)
    return pred.float(), target.float()


@pytest.mark.parametrize("convention", ["maxmin", "max"])
def test_region_ssim_equals_skimage_on_box_crop(convention):
    pred, target = images()
    regions = make_regions(BOXES, SHAPE)
    dr = data_range(target, convention)
    got = region_metrics(pred, target, regions, dr)["ssim"]
    for i, box in enumerate(regions.boxes):
        rows, cols = box.slices()
        ref = structural_similarity(
            target[i, rows, cols].double().numpy(), pred[i, rows, cols].double().numpy(),
            data_range=float(dr[i]),
        )  # fmt: skip
        assert got[i].item() == pytest.approx(ref, abs=1e-6)
    ref_ssim, grown = metrics.region_ssim(pred, target, BOXES, dr)
    np.testing.assert_allclose(got, ref_ssim.double(), atol=1e-5)
    assert list(regions.grown) == grown == [False, False, False, True]


def test_tiny_box_is_grown_inside_the_image():
    regions = make_regions([Box(17, 19, 1, 1), Box(0, 0, 1, 1)], SHAPE)
    assert regions.boxes[0].as_tuple() == (11, 13, 7, 7)
    assert regions.boxes[1].as_tuple() == (0, 0, 7, 7)
    assert regions.center[0].sum() == 1 and regions.pixel[0].sum() == 49


def test_mse_psnr_nmse_definitions():
    pred, target = images(1)
    regions = make_regions(BOXES[:3] + [Box(2, 2, 7, 7)], SHAPE)
    dr = data_range(target)
    got = region_metrics(pred, target, regions, dr)
    for i, box in enumerate(regions.boxes):
        rows, cols = box.slices()
        d = (pred[i, rows, cols] - target[i, rows, cols]).double()
        mse = (d**2).mean()
        assert got["mse"][i].item() == pytest.approx(mse.item(), rel=1e-6)
        assert got["nmse"][i].item() == pytest.approx(
            (mse / (target[i, rows, cols].double() ** 2).mean()).item(), rel=1e-6
        )
        assert got["psnr"][i].item() == pytest.approx(
            10 * np.log10(dr[i].item() ** 2 / mse.item()), rel=1e-6
        )


def test_all_valid_mask_changes_nothing_and_invalid_pixels_are_ignored():
    pred, target = images(2)
    regions = make_regions(BOXES, SHAPE)
    dr = data_range(target)
    plain = region_metrics(pred, target, regions, dr)
    ones = region_metrics(pred, target, regions, dr, torch.ones((4, *SHAPE), dtype=torch.bool))
    for key in plain:
        torch.testing.assert_close(plain[key], ones[key])
    valid = torch.ones((4, *SHAPE), dtype=torch.bool)
    valid[:, :, :3] = False
    garbage = pred.clone()
    garbage[:, :, :3] = 1e3  # out-of-view content must not matter
    a = region_metrics(pred, target, regions, dr, valid)
    b = region_metrics(garbage, target, regions, dr, valid)
    for key in a:
        torch.testing.assert_close(a[key], b[key])


def test_pairwise_reduction_equals_itemwise():
    pred, target = images(3)
    regions = make_regions(BOXES, SHAPE)
    dr = data_range(target[:1]).expand(4)
    maps = error_maps(pred, target[:1], dr)
    pair = reduce_maps(maps, regions, pairwise=True)
    for n in range(4):
        one = region_metrics(pred, target[:1].expand(4, -1, -1), regions.take([n] * 4), dr)
        for key in pair:
            torch.testing.assert_close(pair[key][n], one[key])


def test_objectives_and_errors():
    met = {"mse": torch.tensor([2.0]), "ssim": torch.tensor([0.25])}
    assert objective_value("mse", met).item() == 2.0
    assert objective_value("ssim", met).item() == 0.75
    assert objective_value("mse_ssim", met, torch.tensor([4.0])).item() == 1.25
    with pytest.raises(AdvreconError, match="objective"):
        objective_value("l1", met)
    with pytest.raises(AdvreconError, match="data_range"):
        data_range(torch.ones(1, 8, 8), "range")
    with pytest.raises(AdvreconError, match="smaller than"):
        make_regions([Box(0, 0, 2, 2)], (6, 6))
