"""Adversarial rotation (advrecon.attacks.rotation) on tiny phantoms and a stand-in model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_attacks_noise import SIZE, TinyNet, column_mask, phantom

from advrecon.attacks.geometry import rotate, validity_mask
from advrecon.attacks.objectives import data_range, make_regions, region_metrics
from advrecon.attacks.rotation import angle_grid, rotation_attack
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import fft2c, ifft2c, kspace_to_target


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


BOXES = [Box(5, 5, 4, 4), [Box(0, 0, 16, 16), Box(3, 3, 1, 1)]]


def test_angle_grid_includes_both_ends_and_every_theta_max():
    angles, window = angle_grid([0.25, 1.0], 0.1)
    assert angles[0] == -1.0 and angles[-1] == 1.0 and (angles == 0).any()
    assert torch.isclose(angles, torch.tensor(0.25, dtype=torch.float64)).any()
    assert torch.isclose(angles, torch.tensor(-0.25, dtype=torch.float64)).any()
    assert int(window[1].sum()) == angles.numel() == 21 + 2
    assert int(window[0].sum()) == 7  # -0.25, -0.2 ... 0.2, 0.25
    assert (np.diff(angles.numpy()) > 0).all()


@pytest.mark.parametrize("interpolation", ["paper", "fourier"])
def test_theta_zero_is_identity(interpolation):
    k, m = phantom(), column_mask()
    res = rotation_attack(TinyNet(), k, m, 4, BOXES, [0.0], interpolation=interpolation)
    assert res.angles.tolist() == [0.0]
    assert torch.equal(res.adversarial, res.clean)
    with torch.no_grad():
        clean = TinyNet()(k * m, m, 4)
    torch.testing.assert_close(res.clean, clean[res.item_index])
    for key in ("ssim", "mse", "psnr", "nmse_full"):
        assert torch.equal(res.metrics[f"adv_{key}"], res.metrics[f"clean_{key}"])
    assert res.valid.all()


def test_selection_curves_and_baseline_are_consistent():
    k, m = phantom(), column_mask()
    tm = [0.5, 1.0, 2.0]
    res = rotation_attack(TinyNet(), k, m, 4, BOXES, tm, step=0.5, n_random=5, generator=0)
    N, A = 3, res.angles.numel()
    assert res.per_angle["ssim"].shape == (N, A) and torch.isfinite(res.per_angle["mse"]).all()
    for t, theta in enumerate(tm):
        w = res.angles.abs() <= theta + 1e-9
        mse = res.per_angle["mse"][:, w]
        np.testing.assert_allclose(res.metrics["adv_mse"][:, t], mse.amax(1))
        np.testing.assert_allclose(
            res.metrics["rand_mean_ssim"][:, t], res.per_angle["ssim"][:, w].mean(1)
        )
        assert (res.selected_angle[:, t].abs() <= theta + 1e-9).all()
    # one grid serves every theta_max: the worst case can only get worse with theta_max
    assert (res.metrics["adv_mse"][:, 1:] >= res.metrics["adv_mse"][:, :-1]).all()
    assert (res.metrics["adv_mse"] >= res.metrics["rand_mean_mse"]).all()
    rows = res.to_rows()
    assert len(rows) == N * len(tm)
    cols = "angle_deg theta_max_deg select_by clean_ssim adv_ssim rand_mean_ssim"
    for col in (cols + " rand_median_ssim adv_psnr_full box_grown box_x").split():
        assert col in rows[0] and np.isscalar(rows[0][col])
    assert np.isfinite(rows[0]["rand_draw_ssim"])


@pytest.mark.parametrize("select_by", ["ssim", "psnr"])
def test_select_by_other_metrics(select_by):
    k, m = phantom(B=1), column_mask()
    res = rotation_attack(TinyNet(), k, m, 4, [Box(4, 4, 8, 8)], [1.0], step=0.5,
                          select_by=select_by)  # fmt: skip
    assert res.metrics[f"adv_{select_by}"][0, 0] == res.per_angle[select_by][0].min()


@pytest.mark.parametrize("interpolation", ["paper", "fourier"])
def test_adversarial_image_is_the_selected_angle_recomputed(interpolation):
    k, m = phantom(), column_mask()
    net = TinyNet()
    res = rotation_attack(net, k, m, 4, BOXES, [1.0, 3.0], step=1.0, interpolation=interpolation)
    ang = res.selected_angle[:, -1]
    with torch.no_grad():
        coil = ifft2c(k)[res.item_index]
        out = net(fft2c(rotate(coil, ang, interpolation, max_abs_deg=3.0)) * m, m, 4)
        back = rotate(out, -ang, interpolation, max_abs_deg=3.0)
    torch.testing.assert_close(res.adversarial, back, rtol=1e-4, atol=1e-5)
    valid = validity_mask(SIZE, ang)
    assert torch.equal(res.valid, valid)
    target = kspace_to_target(k, SIZE)[res.item_index]
    regions = make_regions([Box(5, 5, 4, 4), Box(0, 0, 16, 16), Box(3, 3, 1, 1)], SIZE)
    met = region_metrics(back, target, regions, data_range(target), valid)
    np.testing.assert_allclose(res.metrics["adv_ssim"][:, -1], met["ssim"], rtol=1e-5)


@pytest.mark.parametrize("interpolation", ["paper", "fourier"])
def test_batched_equals_sequential(interpolation):
    k, m = phantom(B=2), column_mask()
    net = TinyNet()
    batched = rotation_attack(net, k, m, 4, BOXES, [0.5, 1.0], step=0.25, chunk_size=4,
                              interpolation=interpolation)  # fmt: skip
    i = 0
    for b, group in enumerate(BOXES):
        for box in group if isinstance(group, list) else [group]:
            one = rotation_attack(net, k[b : b + 1], m, 4, [box], [0.5, 1.0], step=0.25,
                                  interpolation=interpolation)  # fmt: skip
            for key in ("ssim", "mse_full"):
                torch.testing.assert_close(batched.per_angle[key][i], one.per_angle[key][0],
                                           rtol=1e-4, atol=1e-6)  # fmt: skip
            assert torch.equal(batched.selected_index[i], one.selected_index[0])
            i += 1


def test_target_is_true_complex_rss():
    k, m = phantom(B=1), column_mask()
    res = rotation_attack(TinyNet(), k, m, 4, [Box.full(SIZE)], [0.0])
    coil = ifft2c(k.to(torch.complex128))
    true_rss = torch.sqrt((coil.real**2 + coil.imag**2).sum(1))[:, 8:24, 4:20]
    torch.testing.assert_close(res.target.double(), true_rss, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(theta_max=[-1.0]), "theta_max"),
        (dict(theta_max=[]), "theta_max"),
        (dict(step=0.0), "step"),
        (dict(step=-0.1), "step"),
        (dict(interpolation="nearest"), "interpolation"),
        (dict(select_by="l1"), "select_by"),
        (dict(boxes=[Box(0, 0, 40, 4), Box(0, 0, 4, 4)]), "not inside"),
        (dict(boxes=[Box(0, 0, 4, -1), Box(0, 0, 4, 4)]), "empty"),
        (dict(mask=torch.ones(3, 1, 1, 24)), "does not fit"),
        (dict(kspace=torch.ones(2, 4, 32, 24)), "complex"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = dict(kspace=phantom(), mask=column_mask(), boxes=[Box(0, 0, 4, 4)] * 2,
                theta_max=[1.0])  # fmt: skip
    extra = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(AdvreconError, match=match):
        rotation_attack(TinyNet(), args["kspace"], args["mask"], 4, args["boxes"],
                        args["theta_max"], **extra)  # fmt: skip
