"""The Reconstructor contract, run through every implementation."""

from __future__ import annotations

import pytest
import torch

from advrecon.models import (
    Unet,
    UnetReconstructor,
    VarNet,
    VarNetReconstructor,
    ZeroFilled,
    load_reconstructor,
)

RECON = (16, 12)
SHAPE = (3, 24, 18)  # coils, H, W


def make(kind: str):
    torch.manual_seed(0)
    if kind == "varnet":
        net = VarNet(num_cascades=2, sens_chans=2, sens_pools=1, chans=3, pools=1)
        return VarNetReconstructor(net, RECON)
    if kind == "unet":
        return UnetReconstructor(Unet(1, 1, chans=3, num_pool_layers=2), RECON)
    return ZeroFilled(RECON)


def data(batch: int = 2):
    g = torch.Generator().manual_seed(3)
    k = torch.randn(batch, *SHAPE, dtype=torch.complex64, generator=g)
    mask = torch.zeros(batch, 1, 1, SHAPE[-1])
    mask[..., ::3] = 1
    mask[..., 7:11] = 1
    mask[-1, ..., 1::4] = 1  # items differ
    return k * mask, mask


KINDS = ["varnet", "unet", "zero"]


@pytest.mark.parametrize("kind", KINDS)
def test_shape_crop_and_gradient(kind):
    recon = make(kind).freeze()
    k, mask = data()
    x = k.clone().requires_grad_(True)
    out = recon(x, mask, None)
    assert out.shape == (2, *RECON) and out.dtype == torch.float32
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in recon.parameters())
    assert not recon.training


@pytest.mark.parametrize("kind", KINDS)
def test_batch_equals_singles(kind):
    recon = make(kind).freeze()
    k, mask = data()
    with torch.no_grad():
        both = recon(k, mask, torch.tensor([6, 4]))
        singles = [recon(k[i : i + 1], mask[i : i + 1], [6, 4][i]) for i in range(2)]
    torch.testing.assert_close(both, torch.cat(singles), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_mask_that_does_not_fit(kind):
    recon = make(kind)
    k, _ = data()
    with pytest.raises(ValueError, match="does not fit"):
        recon(k, torch.ones(2, 1, 1, SHAPE[-1] + 2))


def test_varnet_reconstructor_is_crop_of_varnet():
    recon = make("varnet").eval()
    k, mask = data()
    with torch.no_grad():
        full = recon.varnet(torch.view_as_real(k), mask.bool()[..., None])
        out = recon(k, mask)
    top, left = (SHAPE[1] - RECON[0]) // 2, (SHAPE[2] - RECON[1]) // 2
    assert torch.equal(out, full[:, top : top + RECON[0], left : left + RECON[1]])


def test_unet_reconstructor_scale_equivariant():
    """Instance normalisation then un-normalisation: scaling the k-space scales the output."""
    recon = make("unet").eval()
    k, mask = data()
    with torch.no_grad():
        torch.testing.assert_close(recon(7.0 * k, mask), 7.0 * recon(k, mask), rtol=1e-4, atol=1e-5)


class _ZeroFilledScript(torch.nn.Module):
    def forward(self, k: torch.Tensor, mask: torch.Tensor, nlf: torch.Tensor) -> torch.Tensor:
        x = torch.fft.ifftshift(k, dim=(-2, -1))
        x = torch.fft.fftshift(torch.fft.ifft2(x, dim=(-2, -1), norm="ortho"), dim=(-2, -1))
        return x.abs().square().sum(1).sqrt()


def test_scripted_reconstructor(tmp_path):
    path = tmp_path / "zf.pt"
    torch.jit.save(torch.jit.script(_ZeroFilledScript()), str(path))
    recon = load_reconstructor(path, RECON)
    k, mask = data()
    torch.testing.assert_close(recon(k, mask), ZeroFilled(RECON)(k, mask))


def test_callable_spec(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "from advrecon.models import ZeroFilled\n"
        "def zero_filled():\n"
        "    return ZeroFilled((1, 1))\n"
        "def plain():\n"
        "    return lambda k, m, n: (k.abs() ** 2).sum(1).sqrt()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    k, mask = data()
    recon = load_reconstructor("my_models:zero_filled", RECON)
    assert recon.recon_size == RECON  # the requested size wins over the factory's
    torch.testing.assert_close(recon(k, mask), ZeroFilled(RECON)(k, mask))
    plain = load_reconstructor("my_models:plain", RECON)
    top, left = (SHAPE[1] - RECON[0]) // 2, (SHAPE[2] - RECON[1]) // 2
    expected = k.abs().square().sum(1).sqrt()[:, top : top + RECON[0], left : left + RECON[1]]
    torch.testing.assert_close(plain(k, mask), expected)


def test_expected_coils():
    recon = make("zero")
    recon.expected_coils = 8
    k, mask = data()
    with pytest.raises(ValueError, match="needs 8 coils"):
        recon(k, mask)
