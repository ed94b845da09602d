"""Tests for advrecon.mri: centered FFTs, RSS, crops and layout converters."""

from __future__ import annotations

import pytest
import torch

from advrecon import mri


def _rand_complex(*shape: int, seed: int = 0, dtype=torch.complex64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


# -- fastMRI-style reference: trailing-2 layout, shifts built from torch.roll ----------------


def _ref_shift(x: torch.Tensor, dims: tuple[int, int], inverse: bool) -> torch.Tensor:
    shifts = [(x.shape[d] + 1) // 2 if inverse else x.shape[d] // 2 for d in dims]
    return torch.roll(x, shifts=shifts, dims=dims)


def _ref_fft2c(data: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    """fastMRI's fft2c_new/ifft2c_new on ``(..., H, W, 2)`` data."""
    assert data.shape[-1] == 2
    data = _ref_shift(data, (-3, -2), inverse=True)
    fn = torch.fft.ifftn if inverse else torch.fft.fftn
    data = torch.view_as_real(fn(torch.view_as_complex(data), dim=(-2, -1), norm="ortho"))
    return _ref_shift(data, (-3, -2), inverse=False)


@pytest.mark.parametrize("shape", [(1, 2, 8, 6), (3, 2, 7, 5), (2, 1, 6, 9)])
def test_fft_matches_fastmri_trailing2_implementation(shape):
    x = _rand_complex(*shape, dtype=torch.complex128)
    x2 = torch.view_as_real(x).contiguous()
    torch.testing.assert_close(torch.view_as_real(mri.fft2c(x)), _ref_fft2c(x2))
    torch.testing.assert_close(torch.view_as_real(mri.ifft2c(x)), _ref_fft2c(x2, inverse=True))


@pytest.mark.parametrize("shape", [(1, 3, 8, 8), (4, 2, 7, 5)])
def test_fft_round_trip(shape):
    x = _rand_complex(*shape)
    torch.testing.assert_close(mri.ifft2c(mri.fft2c(x)), x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mri.fft2c(mri.ifft2c(x)), x, atol=1e-5, rtol=1e-5)


def test_fft_is_unitary_parseval():
    x = _rand_complex(2, 3, 9, 6, dtype=torch.complex128)
    energy = (x.abs() ** 2).sum(dim=(-2, -1))
    torch.testing.assert_close((mri.fft2c(x).abs() ** 2).sum(dim=(-2, -1)), energy)
    torch.testing.assert_close((mri.ifft2c(x).abs() ** 2).sum(dim=(-2, -1)), energy)
    # adjoint: <F x, y> == <x, F^H y>
    y = _rand_complex(2, 3, 9, 6, seed=1, dtype=torch.complex128)
    lhs = torch.vdot(mri.fft2c(x).flatten(), y.flatten())
    rhs = torch.vdot(x.flatten(), mri.ifft2c(y).flatten())
    torch.testing.assert_close(lhs, rhs)


def test_fft_of_centered_delta_is_flat():
    x = torch.zeros(1, 1, 6, 5, dtype=torch.complex128)
    x[..., 3, 2] = 1.0  # center pixel under fastMRI's convention: index n // 2
    k = mri.fft2c(x)
    torch.testing.assert_close(k, torch.full_like(k, 1 / 30**0.5))


def test_fft2c_gradcheck():
    x = _rand_complex(1, 1, 4, 3, dtype=torch.complex128).requires_grad_()
    assert torch.autograd.gradcheck(mri.fft2c, (x,))
    assert torch.autograd.gradcheck(mri.ifft2c, (x,))


@pytest.mark.parametrize("batch", [1, 3])
def test_rss_complex_uses_magnitude(batch):
    x = _rand_complex(batch, 4, 5, 6, dtype=torch.complex128)
    expected = torch.sqrt((x.abs() ** 2).sum(1))
    out = mri.rss(x)
    assert out.shape == (batch, 5, 6) and not out.is_complex()
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(mri.rss_complex(x), expected)
    wrong = torch.sqrt((x**2).sum(1))  # complex square: not the RSS
    assert not torch.allclose(out.to(wrong.dtype), wrong)


def test_rss_real_and_dim():
    x = torch.tensor([[3.0, 0.0], [4.0, 1.0]])  # coils along dim 0
    torch.testing.assert_close(mri.rss(x, dim=0), torch.tensor([5.0, 1.0]))


@pytest.mark.parametrize(
    ("size", "crop", "start"),
    [(10, 4, 3), (9, 4, 2), (10, 5, 2), (9, 5, 2), (7, 7, 0)],
)
def test_center_crop_offsets(size, crop, start):
    x = torch.arange(size * size).reshape(1, size, size)
    out = mri.center_crop(x, (crop, crop))
    assert out.shape == (1, crop, crop)
    assert out[0, 0, 0].item() == start * size + start  # (size - crop) // 2 on both axes


def test_center_crop_rectangular_and_complex():
    x = _rand_complex(2, 3, 8, 11)
    out = mri.center_crop(x, (4, 5))
    torch.testing.assert_close(out, x[..., 2:6, 3:8])


@pytest.mark.parametrize("crop", [(0, 3), (9, 3), (3, 12)])
def test_center_crop_rejects_bad_sizes(crop):
    with pytest.raises(ValueError, match="center-crop"):
        mri.center_crop(torch.zeros(1, 8, 11), crop)


def test_layout_round_trip():
    x = _rand_complex(2, 3, 4, 5)
    y = mri.to_fastmri_layout(x)
    assert y.shape == (2, 3, 4, 5, 2) and not y.is_complex()
    torch.testing.assert_close(y[..., 0], x.real)
    torch.testing.assert_close(y[..., 1], x.imag)
    torch.testing.assert_close(mri.from_fastmri_layout(y), x)
    # non-contiguous input (e.g. after a permute) is accepted
    z = torch.randn(2, 2, 3, 4).permute(1, 2, 3, 0)
    torch.testing.assert_close(torch.view_as_real(mri.from_fastmri_layout(z)), z)


def test_layout_converters_reject_wrong_input():
    with pytest.raises(TypeError):
        mri.to_fastmri_layout(torch.zeros(2, 3))
    with pytest.raises(TypeError):
        mri.from_fastmri_layout(torch.zeros(2, 3))
    with pytest.raises(TypeError):
        mri.from_fastmri_layout(torch.zeros(2, 2, dtype=torch.complex64))


@pytest.mark.parametrize("batch", [1, 2])
def test_kspace_to_target_and_coil_images(batch):
    img = _rand_complex(batch, 3, 10, 8, dtype=torch.complex128)
    k = mri.fft2c(img)
    torch.testing.assert_close(mri.coil_images(k), img)
    target = mri.kspace_to_target(k, (6, 4))
    assert target.shape == (batch, 6, 4)
    torch.testing.assert_close(target, torch.sqrt((img.abs() ** 2).sum(1))[:, 2:8, 2:6])
