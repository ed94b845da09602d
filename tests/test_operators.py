"""Every linear operator of the pipeline through the same properties (as deepinv's
``tests/test_physics.py`` does for its physics operators).

Operators: the multicoil forward model ``A = M F S`` (several masks and coil counts), the plain
masked FFT ``M F`` and both image rotations of :func:`advrecon.attacks.geometry.rotate`.

Which property applies to which operator, and why:

- linearity (complex scalars), batch 1 vs N and ``gradcheck`` (float64): all of them -- each is
  a linear map of its input for fixed parameters (maps, mask, angle), applied item by item,
  and the attacks differentiate through it;
- adjointness ``<A x, y> = <x, A^H y>``: the MRI operators, which implement ``A^H`` (the VarNet's
  ``sens_reduce`` and zero-filled reconstructions use it). The rotations implement no adjoint:
  the attacks only need their gradients, which autograd provides and ``gradcheck`` verifies.
  (Neither rotation is exactly unitary -- interpolation and the crop of the padded canvas lose
  energy -- so ``rotate(-theta)`` is not their adjoint and is not tested as one.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from advrecon.attacks.geometry import rotate
from advrecon.models.varnet import VarNet
from advrecon.mri import fft2c, ifft2c
from advrecon.operators import MaskedFFT, MultiCoilMRI, apply_mask, sens_expand, sens_reduce

B, H, W = 3, 6, 8  # tiny: gradcheck runs one forward pass per real input
DTYPE = torch.complex128
Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Case:
    """An operator family: ``build(params)`` -> operator, with batch-first parameters.

    ``params(gen)`` draws parameters for a batch of ``B`` items; slicing every parameter to
    item ``b`` gives that item's operator (the batch 1 vs N property).
    """

    build: Callable[[Params], object]
    params: Callable[[torch.Generator], Params]
    x_shape: tuple[int, ...]
    y_shape: tuple[int, ...]
    has_adjoint: bool


def _randn(gen: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen, dtype=DTYPE)


def _column_mask(gen: torch.Generator, batch: int, fraction: float = 0.5) -> torch.Tensor:
    """Random bool columns ``(batch, 1, 1, W)`` with the two centre columns always sampled."""
    mask = torch.rand(batch, 1, 1, W, generator=gen, dtype=torch.float64) < fraction
    mask[..., W // 2 - 1 : W // 2 + 1] = True
    return mask


def _mri(coils: int, mask: Callable[[torch.Generator], torch.Tensor | None]) -> Case:
    def params(gen: torch.Generator) -> Params:
        p = {"maps": _randn(gen, B, coils, H, W)}
        m = mask(gen)
        return p if m is None else {**p, "mask": m}

    return Case(
        build=lambda p: MultiCoilMRI(p["maps"], p.get("mask")),
        params=params,
        x_shape=(B, 1, H, W),
        y_shape=(B, coils, H, W),
        has_adjoint=True,
    )


def _masked_fft(mask: Callable[[torch.Generator], torch.Tensor]) -> Case:
    return Case(
        build=lambda p: MaskedFFT(p["mask"]),
        params=lambda gen: {"mask": mask(gen)},
        x_shape=(B, 2, H, W),
        y_shape=(B, 2, H, W),
        has_adjoint=True,
    )


@dataclass(frozen=True)
class Rotation:
    """``x -> rotate(x, theta, method)``; no adjoint (see the module docstring)."""

    theta: torch.Tensor
    method: str

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # fixed padding bound: the Fourier rotation is then independent of the batch's angles
        return rotate(x, self.theta, self.method, max_abs_deg=20.0)


def _rotation(method: str) -> Case:
    return Case(
        build=lambda p: Rotation(p["theta"], method),
        params=lambda gen: {
            "theta": (torch.rand(B, generator=gen, dtype=torch.float64) - 0.5) * 40
        },
        x_shape=(B, 1, H, W),
        y_shape=(B, 1, H, W),
        has_adjoint=False,
    )


CASES = {
    "mri-1coil-fully-sampled": _mri(1, lambda gen: None),
    "mri-4coil-shared-columns": _mri(4, lambda gen: _column_mask(gen, 1)),
    "mri-3coil-per-item-columns": _mri(3, lambda gen: _column_mask(gen, B)),
    "mri-2coil-real-2d-mask": _mri(
        2, lambda gen: (torch.rand(B, 1, H, W, generator=gen) < 0.4).to(torch.float32)
    ),
    "masked-fft-per-item-columns": _masked_fft(lambda gen: _column_mask(gen, B, 0.3)),
    "rotation-paper": _rotation("paper"),
    "rotation-fourier": _rotation("fourier"),
}
ADJOINT_CASES = [name for name, case in CASES.items() if case.has_adjoint]


def _draw(name: str, seed: int = 0) -> tuple[Case, Params, torch.Generator]:
    gen = torch.Generator().manual_seed(seed)
    case = CASES[name]
    return case, case.params(gen), gen


def _inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``<a, b> = sum conj(a) b`` over everything."""
    return torch.vdot(a.reshape(-1), b.reshape(-1))


@pytest.mark.parametrize("name", ADJOINT_CASES)
def test_adjointness(name):
    case, params, gen = _draw(name)
    op = case.build(params)
    x, y = _randn(gen, *case.x_shape), _randn(gen, *case.y_shape)
    lhs, rhs = _inner(op.forward(x), y), _inner(x, op.adjoint(y))
    assert abs(lhs) > 1e-3  # the pairing is not trivially zero
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", list(CASES))
def test_linearity(name):
    case, params, gen = _draw(name, seed=1)
    op = case.build(params)
    x1, x2 = _randn(gen, *case.x_shape), _randn(gen, *case.x_shape)
    a, b = complex(0.7, -1.3), complex(-2.0, 0.4)
    combined = op.forward(a * x1 + b * x2)
    torch.testing.assert_close(combined, a * op.forward(x1) + b * op.forward(x2))
    if case.has_adjoint:
        y1, y2 = _randn(gen, *case.y_shape), _randn(gen, *case.y_shape)
        combined = op.adjoint(a * y1 + b * y2)
        torch.testing.assert_close(combined, a * op.adjoint(y1) + b * op.adjoint(y2))


@pytest.mark.parametrize("name", list(CASES))
def test_batch_of_n_equals_n_batches_of_one(name):
    case, params, gen = _draw(name, seed=2)
    x, y = _randn(gen, *case.x_shape), _randn(gen, *case.y_shape)
    op = case.build(params)
    for b in range(B):
        item = {k: v[b : b + 1] if v.shape[0] == B else v for k, v in params.items()}
        single = case.build(item)
        torch.testing.assert_close(op.forward(x)[b : b + 1], single.forward(x[b : b + 1]))
        if case.has_adjoint:
            torch.testing.assert_close(op.adjoint(y)[b : b + 1], single.adjoint(y[b : b + 1]))


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck(name):
    case, params, gen = _draw(name, seed=3)
    op = case.build({k: v[:1] for k, v in params.items()})
    x = _randn(gen, 1, *case.x_shape[1:]).requires_grad_(True)
    # fast mode: checks random projections of the Jacobian (complex inputs and outputs)
    assert torch.autograd.gradcheck(op.forward, (x,), eps=1e-6, atol=1e-8, fast_mode=True)
    if case.has_adjoint:
        y = _randn(gen, 1, *case.y_shape[1:]).requires_grad_(True)
        assert torch.autograd.gradcheck(op.adjoint, (y,), eps=1e-6, atol=1e-8, fast_mode=True)


# -- the pieces, against their definitions ------------------------------------------------------


def test_forward_model_is_mask_of_fft_of_coil_images():
    gen = torch.Generator().manual_seed(4)
    x, maps, mask = _randn(gen, B, 1, H, W), _randn(gen, B, 4, H, W), _column_mask(gen, B)
    expected = fft2c(x * maps) * mask
    torch.testing.assert_close(MultiCoilMRI(maps, mask).forward(x), expected, rtol=0, atol=0)
    assert torch.all(MultiCoilMRI(maps, mask).forward(x)[~mask.expand(B, 4, H, W)] == 0)


def test_adjoint_of_fully_sampled_model_inverts_it_for_normalised_maps():
    """``sum_i |S_i|^2 = 1`` (the VarNet's normalisation) makes ``A^H A`` the identity."""
    gen = torch.Generator().manual_seed(5)
    maps = _randn(gen, B, 4, H, W)
    maps = maps / maps.abs().square().sum(1, keepdim=True).sqrt()
    x = _randn(gen, B, 1, H, W)
    op = MultiCoilMRI(maps)
    torch.testing.assert_close(op.adjoint(op.forward(x)), x)
    torch.testing.assert_close(sens_reduce(sens_expand(x, maps), maps), x)


def test_masked_fft_adjoint_is_zero_filled_inverse():
    gen = torch.Generator().manual_seed(6)
    y, mask = _randn(gen, B, 2, H, W), _column_mask(gen, 1)
    torch.testing.assert_close(MaskedFFT(mask).adjoint(y), ifft2c(y * mask), rtol=0, atol=0)


def test_real_and_bool_masks_agree_and_none_is_fully_sampled():
    gen = torch.Generator().manual_seed(7)
    k, mask = _randn(gen, B, 3, H, W), _column_mask(gen, B)
    torch.testing.assert_close(apply_mask(k, mask), apply_mask(k, mask.to(torch.float32)))
    assert apply_mask(k, None) is k


def test_varnet_cascade_uses_the_operators_in_float32():
    """One cascade equals ``k - w M (k - k_ref) - F S NormUnet(S^H F^H k)`` spelled out here."""
    torch.manual_seed(8)
    net = VarNet(num_cascades=1, sens_chans=2, sens_pools=1, chans=2, pools=1).eval()
    cascade = net.cascades[0]
    k = torch.randn(2, 3, 16, 16, dtype=torch.complex64)
    ref = torch.randn(2, 3, 16, 16, dtype=torch.complex64)
    maps = torch.randn(2, 3, 16, 16, dtype=torch.complex64)
    mask = torch.rand(2, 1, 1, 16) < 0.5
    with torch.no_grad():
        out = cascade.forward_complex(k, ref, mask, maps)
        image = (ifft2c(k) * maps.conj()).sum(1, keepdim=True)
        refined = cascade.model.forward_complex(image)
        expected = k - (k - ref) * mask * cascade.dc_weight - fft2c(refined * maps)
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
