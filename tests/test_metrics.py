"""Tests for advrecon.metrics against scikit-image and numpy formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advrecon import metrics
from advrecon.boxes import Box

skm = pytest.importorskip("skimage.metrics")
skdata = pytest.importorskip("skimage.data")
skfilters = pytest.importorskip("skimage.filters")


def _random_pair(shape=(3, 24, 29), seed=0):
    rng = np.random.default_rng(seed)
    target = rng.random(shape)
    pred = target + 0.3 * rng.standard_normal(shape)
    return pred, target


def _phantom_pair(seed=0):
    """Smooth, MRI-like magnitude images at fastMRI scale (~1e-4), with a noisy reconstruction."""
    rng = np.random.default_rng(seed)
    base = skdata.shepp_logan_phantom()[::8, ::8]  # 50 x 50
    target = np.stack([skfilters.gaussian(base, sigma=s) for s in (0.8, 1.5)]) * 3e-4
    pred = np.abs(target + 1e-5 * rng.standard_normal(target.shape))
    return pred, target


def _range(target: np.ndarray, convention: str) -> float:
    return float(target.max() - target.min()) if convention == "maxmin" else float(target.max())


def _sk_ssim(pred, target, convention):
    return np.array(
        [
            skm.structural_similarity(t, p, data_range=_range(t, convention))
            for p, t in zip(pred, target, strict=True)
        ]
    )


@pytest.mark.parametrize("pair", [_random_pair, _phantom_pair])
@pytest.mark.parametrize("convention", ["maxmin", "max"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssim_matches_skimage(pair, convention, dtype):
    pred, target = pair()
    expected = _sk_ssim(pred, target, convention)
    p, t = torch.tensor(pred, dtype=dtype), torch.tensor(target, dtype=dtype)
    out = metrics.ssim(p, t, data_range=convention)
    assert out.shape == (len(pred),) and out.dtype == dtype
    np.testing.assert_allclose(out.double().numpy(), expected, rtol=0, atol=1e-5)
    # explicit data ranges: a (B,) tensor and a float give the same values
    rng = torch.tensor([_range(x, convention) for x in target])
    np.testing.assert_allclose(metrics.ssim(p, t, rng).double().numpy(), expected, atol=1e-5)
    one = metrics.ssim(p[:1], t[:1], _range(target[0], convention))
    np.testing.assert_allclose(one.double().numpy(), expected[:1], atol=1e-5)


def test_data_range_conventions_differ_and_matter():
    pred, target = _random_pair()
    target = target + 2.0  # min far from 0: the two conventions differ
    t = torch.tensor(target)
    torch.testing.assert_close(metrics.data_range(t, "max"), t.flatten(1).amax(1))
    torch.testing.assert_close(
        metrics.data_range(t, "maxmin"), t.flatten(1).amax(1) - t.flatten(1).amin(1)
    )
    a = metrics.ssim(torch.tensor(pred + 2.0), t, "max")
    b = metrics.ssim(torch.tensor(pred + 2.0), t, "maxmin")
    assert not torch.allclose(a, b)
    np.testing.assert_allclose(a.numpy(), _sk_ssim(pred + 2.0, target, "max"), atol=1e-7)
    with pytest.raises(ValueError, match="convention"):
        metrics.data_range(t, "min")


def test_ssim_batched_equals_per_item_and_identity():
    pred, target = _random_pair(shape=(4, 16, 20))
    p, t = torch.tensor(pred), torch.tensor(target)
    batched = metrics.ssim(p, t)
    singles = torch.cat([metrics.ssim(p[i : i + 1], t[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, singles)
    torch.testing.assert_close(metrics.ssim(t, t), torch.ones(4, dtype=t.dtype))


def test_ssim_rejects_bad_input():
    x = torch.rand(1, 10, 10)
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.ssim(x, torch.rand(1, 10, 11))
    with pytest.raises(ValueError, match=r"\(B, h, w\)"):
        metrics.ssim(x[0], x[0])
    with pytest.raises(ValueError, match="smaller than"):
        metrics.ssim(torch.rand(1, 5, 10), torch.rand(1, 5, 10))
    with pytest.raises(ValueError, match="data_range"):
        metrics.ssim(x, x, torch.ones(3))


@pytest.mark.parametrize(
    "box",
    [Box(3, 4, 12, 9), Box(0, 0, 7, 7), Box(16, 10, 13, 14), Box(5, 2, 20, 20)],
)
def test_region_ssim_matches_skimage_on_crop(box):
    pred, target = _random_pair(shape=(2, 24, 29))
    p, t = torch.tensor(pred), torch.tensor(target)
    out, grown = metrics.region_ssim(p, t, [box, box], data_range="maxmin")
    crop = box.clip((24, 29))
    rows, cols = crop.slices()
    expected = [
        skm.structural_similarity(
            target[i][rows, cols], pred[i][rows, cols], data_range=_range(target[i], "maxmin")
        )
        for i in range(2)
    ]
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-10)
    assert grown == [False, False]


def test_region_ssim_different_boxes_per_item():
    pred, target = _phantom_pair()
    p, t = torch.tensor(pred, dtype=torch.float32), torch.tensor(target, dtype=torch.float32)
    boxes = [Box(10, 12, 20, 15), Box(25, 5, 8, 30)]
    out, _ = metrics.region_ssim(p, t, boxes, data_range="max")
    for i, b in enumerate(boxes):
        rows, cols = b.slices()
        ref = skm.structural_similarity(
            target[i][rows, cols], pred[i][rows, cols], data_range=float(target[i].max())
        )
        assert abs(out[i].item() - ref) < 1e-5


@pytest.mark.parametrize("box", [Box(10, 8, 5, 1), Box(0, 23, 1, 1), Box(28, 0, 1, 3)])
def test_region_ssim_grows_thin_boxes(box):
    pred, target = _random_pair(shape=(1, 24, 29))
    out, grown = metrics.region_ssim(torch.tensor(pred), torch.tensor(target), [box], 1.0)
    assert grown == [True]
    big = box.grow(7, (24, 29))
    rows, cols = big.slices()
    ref = skm.structural_similarity(target[0][rows, cols], pred[0][rows, cols], data_range=1.0)
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.numpy(), [ref], atol=1e-10)


def test_region_ssim_full_box_equals_ssim_and_errors():
    pred, target = _random_pair(shape=(2, 12, 14))
    p, t = torch.tensor(pred), torch.tensor(target)
    out, _ = metrics.region_ssim(p, t, [Box.full((12, 14))] * 2)
    torch.testing.assert_close(out, metrics.ssim(p, t))
    with pytest.raises(ValueError, match="1 boxes for a batch of 2"):
        metrics.region_ssim(p, t, [Box(0, 0, 8, 8)])
    with pytest.raises(ValueError, match="does not overlap"):
        metrics.region_ssim(p, t, [Box(50, 50, 8, 8)] * 2)
    with pytest.raises(ValueError, match="min_size"):
        metrics.region_ssim(p, t, [Box(0, 0, 8, 8)] * 2, min_size=5)


def test_gradients_flow_gradcheck():
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 7, 8, dtype=torch.float64, generator=g)
    pred = target + 0.1 * torch.randn(2, 7, 8, dtype=torch.float64, generator=g)
    pred.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda x: metrics.ssim(x, target, "maxmin"), (pred,), fast_mode=True
    )
    box = [Box(1, 0, 7, 7), Box(2, 3, 1, 1)]
    assert torch.autograd.gradcheck(
        lambda x: metrics.region_ssim(x, target, box, 1.0)[0], (pred,), fast_mode=True
    )
    assert torch.autograd.gradcheck(
        lambda x: metrics.psnr(x, target, 1.0, box), (pred,), fast_mode=True
    )
    assert torch.autograd.gradcheck(lambda x: metrics.nmse(x, target), (pred,), fast_mode=True)
    loss = metrics.ssim_loss(pred, target, "maxmin")
    loss.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_ssim_loss_is_one_minus_mean():
    pred, target = _random_pair()
    p, t = torch.tensor(pred), torch.tensor(target)
    torch.testing.assert_close(metrics.ssim_loss(p, t, 1.0), 1 - metrics.ssim(p, t, 1.0).mean())
    assert metrics.ssim_loss(t, t).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("convention", ["maxmin", "max"])
def test_psnr_nmse_mse_match_formulas(convention):
    pred, target = _phantom_pair()
    p, t = torch.tensor(pred), torch.tensor(target)
    err = ((pred - target) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(metrics.mse(p, t).numpy(), err, rtol=1e-12)
    nmse = [
        np.linalg.norm(a - b) ** 2 / np.linalg.norm(b) ** 2
        for a, b in zip(pred, target, strict=True)
    ]
    np.testing.assert_allclose(metrics.nmse(p, t).numpy(), nmse, rtol=1e-12)
    expected = [
        skm.peak_signal_noise_ratio(b, a, data_range=_range(b, convention))
        for a, b in zip(pred, target, strict=True)
    ]
    np.testing.assert_allclose(metrics.psnr(p, t, convention).numpy(), expected, rtol=1e-12)


def test_box_restricted_psnr_nmse_mse():
    pred, target = _random_pair(shape=(2, 16, 18))
    p, t = torch.tensor(pred), torch.tensor(target)
    boxes = [Box(2, 3, 5, 4), Box(-3, 10, 6, 20)]  # the second is clipped to (0, 10, 3, 6)
    for i, b in enumerate(boxes):
        rows, cols = b.clip((16, 18)).slices()
        a, r = pred[i][rows, cols], target[i][rows, cols]
        assert metrics.mse(p, t, boxes)[i].item() == pytest.approx(((a - r) ** 2).mean())
        nmse = np.sum((a - r) ** 2) / np.sum(r**2)
        assert metrics.nmse(p, t, boxes)[i].item() == pytest.approx(nmse)
        # data range from the whole target, not the crop
        dr = target[i].max() - target[i].min()
        psnr = 10 * np.log10(dr**2 / ((a - r) ** 2).mean())
        assert metrics.psnr(p, t, "maxmin", boxes)[i].item() == pytest.approx(psnr)


def test_ssim_float32_accurate_with_large_offset():
    # second moments E[x^2] - E[x]^2 of a bright image cancel badly in float32 unless centered
    pred, target = _random_pair(shape=(2, 20, 20))
    pred, target = pred + 50.0, target + 50.0
    expected = _sk_ssim(pred, target, "maxmin")
    out = metrics.ssim(torch.tensor(pred).float(), torch.tensor(target).float(), "maxmin")
    np.testing.assert_allclose(out.double().numpy(), expected, atol=1e-5)
