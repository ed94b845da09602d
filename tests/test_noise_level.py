"""Thermal noise estimate (advrecon.noise_level)."""

from __future__ import annotations

import math

import pytest
import torch

from advrecon.errors import AdvreconError
from advrecon.mri import fft2c
from advrecon.noise_level import estimate_noise_sigma, noise_to_thermal_ratio


def noisy_object(sigma, B=2, C=3, H=96, W=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    obj = 5.0 * torch.sigmoid(10 * (1 - (xx / 0.5) ** 2 - (yy / 0.4) ** 2))  # smooth edge
    img = obj.expand(B, C, H, W).to(torch.complex64)
    # complex noise with E|n|^2 = sigma^2
    noise = sigma * torch.randn((B, C, H, W), dtype=torch.complex64, generator=g)
    return fft2c(img + noise)


@pytest.mark.parametrize("sigma", [0.01, 0.3])
def test_sigma_estimate_recovers_known_noise(sigma):
    est = estimate_noise_sigma(noisy_object(sigma))
    assert est.shape == (2, 3)
    assert torch.allclose(est, torch.full_like(est, sigma), rtol=0.12)


def test_zero_padded_columns_are_corrected_for():
    k = noisy_object(0.1)
    k[..., :8] = 0
    k[..., 56:] = 0
    est = estimate_noise_sigma(k, padding=(8, 56))
    assert torch.allclose(est, torch.full_like(est, 0.1), rtol=0.15)
    naive = estimate_noise_sigma(k)
    ratio = (naive.mean() / est.mean()).item()
    assert ratio == pytest.approx(math.sqrt(48 / 64), abs=0.02)  # the correction factor


def test_thermal_noise_realisation_has_ratio_one():
    sigma = torch.full((2, 3), 0.2)
    g = torch.Generator().manual_seed(1)
    support = torch.zeros(1, 1, 1, 48)
    support[..., 4:44] = 1
    z = 0.2 * torch.randn((2, 3, 64, 48), dtype=torch.complex64, generator=g) * support
    ratio = noise_to_thermal_ratio(z, sigma, support)
    assert torch.allclose(ratio, torch.ones(2, dtype=torch.float64), rtol=0.03)
    # twice the norm -> ratio 2; a coil with sigma = 0 is left out instead of giving inf
    sigma0 = sigma.clone()
    sigma0[:, 0] = 0
    r2 = noise_to_thermal_ratio(2 * z, sigma0, support)
    assert torch.isfinite(r2).all() and torch.allclose(r2, torch.full_like(r2, 2.0), rtol=0.03)
    assert math.isnan(noise_to_thermal_ratio(z, torch.zeros(2, 3), support)[0].item())


def test_bad_input():
    with pytest.raises(AdvreconError, match="complex"):
        estimate_noise_sigma(torch.ones(1, 2, 8, 8))
