"""Image rotations (advrecon.attacks.geometry): both interpolations through the same properties."""

from __future__ import annotations

import pytest
import torch

from advrecon.attacks.geometry import rotate, validity_mask
from advrecon.errors import AdvreconError

METHODS = ["paper", "fourier"]


def blob(H=32, W=32, dtype=torch.complex128, s2=8.0, center=(1.0, -1.0)):
    """Smooth, essentially band-limited complex image, ``(1, 1, H, W)``."""
    yy, xx = torch.meshgrid(
        torch.arange(H, dtype=torch.float64) - (H - 1) / 2,
        torch.arange(W, dtype=torch.float64) - (W - 1) / 2,
        indexing="ij",
    )
    g = torch.exp(-((xx - center[0]) ** 2 / s2 + (yy - center[1]) ** 2 / (1.5 * s2)))
    return (g * torch.exp(0.5j * xx)).to(dtype)[None, None]


@pytest.mark.parametrize("dtype, tol", [(torch.complex128, 1e-6), (torch.complex64, 1e-5)])
@pytest.mark.parametrize("theta", [0.7, 5.0, 17.0, 40.0])
def test_fourier_round_trip_is_exact_and_paper_is_not(theta, dtype, tol):
    x = blob(dtype=dtype)
    valid = validity_mask((32, 32), torch.tensor([theta]))[0]
    scale = x.abs().max()
    errs = {}
    for method in METHODS:
        back = rotate(rotate(x, theta, method), -theta, method)
        errs[method] = float(((back - x).abs()[0, 0] * valid).max() / scale)
    assert errs["fourier"] < tol
    assert errs["paper"] > 100 * errs["fourier"]


@pytest.mark.parametrize("method", METHODS)
def test_zero_angle_is_identity(method):
    x = torch.randn(3, 2, 10, 8, dtype=torch.complex64)
    assert torch.equal(rotate(x, torch.zeros(3), method), x)
    real = torch.randn(2, 10, 8)
    out = rotate(real, torch.tensor([0.0, 3.0]), method)
    assert torch.equal(out[0], real[0]) and not torch.equal(out[1], real[1])
    assert out.dtype == real.dtype


def test_ninety_degrees_matches_rot90():
    x = blob(H=32, W=32, s2=14.0, center=(1.0, -2.0))
    ref = torch.rot90(x, 1, dims=(-2, -1))
    torch.testing.assert_close(rotate(x, 90.0, "fourier"), ref, atol=2e-5, rtol=0)
    # the paper's interpolation blurs, but rotates the same way
    err = (rotate(x, 90.0, "paper") - ref).abs().max() / ref.abs().max()
    assert err < 0.1
    assert (rotate(x, -90.0, "paper") - ref).abs().max() / ref.abs().max() > 0.5


@pytest.mark.parametrize("method", METHODS)
def test_rotationally_symmetric_pattern_is_invariant(method):
    yy, xx = torch.meshgrid(
        torch.arange(32, dtype=torch.float64) - 15.5,
        torch.arange(32, dtype=torch.float64) - 15.5,
        indexing="ij",
    )
    x = torch.exp(-(xx**2 + yy**2) / 12.0)[None]
    tol = 1e-6 if method == "fourier" else 2e-2
    for theta in (13.0, 45.0, 90.0):
        torch.testing.assert_close(rotate(x, theta, method), x, atol=tol, rtol=0)


@pytest.mark.parametrize("method", METHODS)
def test_batch_equals_one_by_one(method):
    x = torch.randn(4, 3, 12, 10, dtype=torch.complex128)
    theta = torch.tensor([-7.0, 0.0, 2.5, 11.0])
    batched = rotate(x, theta, method, max_abs_deg=11.0)
    for i in range(4):
        one = rotate(x[i : i + 1], theta[i : i + 1], method, max_abs_deg=11.0)
        torch.testing.assert_close(batched[i : i + 1], one, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_gradcheck(method):
    x = torch.randn(2, 6, 5, dtype=torch.float64, requires_grad=True)
    theta = torch.tensor([3.0, -20.0])
    assert torch.autograd.gradcheck(lambda v: rotate(v, theta, method), (x,))


def test_validity_mask():
    v = validity_mask((16, 12), torch.tensor([0.0, 5.0, 30.0, -30.0]))
    assert v.shape == (4, 16, 12) and v.dtype == torch.bool
    assert v[0].all()
    assert v[1].sum() > v[2].sum() and not v[2][0, 0] and v[2][8, 6]
    assert v[2].sum() == v[3].sum()


def test_bad_method():
    with pytest.raises(AdvreconError, match="interpolation"):
        rotate(torch.zeros(1, 4, 4), 1.0, "nearest")
