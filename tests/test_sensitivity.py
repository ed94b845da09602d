"""Tests for advrecon.sensitivity (ACS-based coil maps)."""

import pytest
import torch

from advrecon.mri import fft2c
from advrecon.sensitivity import acs_sensitivity_maps, coil_combine


def _smooth_coils(b=2, c=4, h=32, w=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    obj = torch.exp(-(xx**2 + yy**2) / 0.3).to(torch.complex128)
    maps = []
    for i in range(c):
        cy, cx = torch.rand(2, generator=g) * 2 - 1
        phase = torch.exp(1j * (0.5 * xx + 0.3 * i * yy))
        maps.append(torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2)) * phase)
    s = torch.stack(maps).to(torch.complex128)
    s = s / (s.abs() ** 2).sum(0).sqrt()
    return obj.expand(b, 1, h, w) * s, s.expand(b, c, h, w)


def test_maps_are_normalised_where_there_is_signal():
    coils, _ = _smooth_coils()
    maps = acs_sensitivity_maps(fft2c(coils), num_low_frequencies=8)
    power = (maps.abs() ** 2).sum(1)
    signal = coils.abs().pow(2).sum(1).sqrt() > 0.2
    assert torch.allclose(power[signal], torch.ones_like(power[signal]), atol=1e-4)


def test_smooth_maps_are_recovered_up_to_a_common_phase():
    coils, true = _smooth_coils()
    maps = acs_sensitivity_maps(fft2c(coils), num_low_frequencies=12)
    # S^H applied to the true maps gives a unit-modulus common phase where the object is.
    inner = (maps.conj() * true).sum(1)
    signal = coils.abs().pow(2).sum(1).sqrt() > 0.3
    assert (inner.abs()[signal] - 1).abs().max() < 0.05


def test_mask_derives_the_band_and_equals_explicit_width():
    coils, _ = _smooth_coils()
    k = fft2c(coils)
    mask = torch.zeros(1, 1, 1, 24, dtype=torch.bool)
    mask[..., 8:16] = True
    mask[..., 1] = True
    derived = acs_sensitivity_maps(k * mask, mask)
    explicit = acs_sensitivity_maps(k, num_low_frequencies=8)
    assert torch.allclose(derived, explicit)


def test_coil_combine_is_adjoint_of_expansion():
    coils, maps = _smooth_coils()
    x = torch.randn(2, 1, 32, 24, dtype=torch.complex128)
    lhs = torch.vdot((maps * x).flatten(), coils.flatten())
    rhs = torch.vdot(x.flatten(), coil_combine(coils, maps).flatten())
    assert torch.allclose(lhs, rhs)


def test_gradcheck():
    coils, _ = _smooth_coils(b=1, c=2, h=8, w=8)
    k = fft2c(coils).detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: acs_sensitivity_maps(t, num_low_frequencies=4), (k,))


def test_fully_sampled_without_width_is_refused():
    coils, _ = _smooth_coils()
    with pytest.raises(ValueError, match="num_low_frequencies"):
        acs_sensitivity_maps(fft2c(coils))


def test_fixed_coils_identity_motion_is_exact_and_translation_moves_the_object():
    from advrecon.attacks.fixed_coils import move_in_fixed_coils

    coils, _ = _smooth_coils()
    maps = acs_sensitivity_maps(fft2c(coils), num_low_frequencies=8)
    assert torch.equal(move_in_fixed_coils(coils, maps, lambda x: x), coils)
    shifted = move_in_fixed_coils(coils, maps, lambda x: torch.roll(x, 3, dims=-1))
    obj = coil_combine(coils, maps)
    moved = coil_combine(shifted, maps)
    signal = obj.abs() > 0.3 * obj.abs().max()
    assert torch.allclose(moved[signal], torch.roll(obj, 3, dims=-1)[signal], atol=1e-3)


def test_fully_sampled_accepts_a_width_per_item():
    coils, _ = _smooth_coils()
    k = fft2c(coils)
    per_item = acs_sensitivity_maps(k, num_low_frequencies=torch.tensor([8, 8]))
    assert torch.allclose(per_item, acs_sensitivity_maps(k, num_low_frequencies=8))
