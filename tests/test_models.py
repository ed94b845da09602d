"""Architectures: fastMRI state-dict layout, shapes, activation checkpointing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from advrecon.models import NormUnet, SensitivityModel, Unet, VarNet, build_model
from advrecon.models.varnet import center_columns, num_low_frequencies_from_mask

FIXTURE = Path(__file__).parent / "fixtures" / "fastmri_state_dict_shapes.json"


def tiny_varnet(**kw) -> VarNet:
    args = dict(num_cascades=2, sens_chans=2, sens_pools=1, chans=4, pools=2)
    args.update(kw)
    torch.manual_seed(0)
    model = VarNet(**args).eval()
    with torch.no_grad():
        for i, cascade in enumerate(model.cascades):
            cascade.dc_weight.fill_(0.5 + i)
    return model


def column_mask(width: int, batch: int = 1) -> torch.Tensor:
    mask = torch.zeros(batch, 1, 1, width, dtype=torch.bool)
    mask[..., ::3] = True
    mask[..., width // 2 - 3 : width // 2 + 3] = True
    return mask


@pytest.mark.parametrize("key", ["varnet/paper", "varnet/fastmri", "unet/paper", "unet/fastmri"])
def test_state_dict_matches_fastmri(key):
    """Key names and shapes equal those of fastMRI 0.3.0 (fixture generated from fastMRI)."""
    expected = json.loads(FIXTURE.read_text())["state_dicts"][key]
    arch, preset = key.split("/")
    with torch.device("meta"):
        model = build_model(arch, preset)
    got = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(got) == list(expected)
    assert got == expected
    # and a state dict with exactly these shapes loads strictly
    state = {k: torch.zeros(s, device="meta") for k, s in expected.items()}
    model.load_state_dict(state, strict=True, assign=True)


@pytest.mark.parametrize("shape", [(2, 1, 32, 24), (1, 1, 29, 19)])
def test_unet_shapes(shape):
    unet = Unet(1, 3, chans=2, num_pool_layers=2).eval()
    assert unet(torch.randn(shape)).shape == (shape[0], 3, *shape[2:])


def test_normunet_and_sens_shapes():
    x = torch.randn(2, 1, 30, 21, 2)
    assert NormUnet(2, 2)(x).shape == x.shape
    sens = SensitivityModel(2, 1)
    k = torch.randn(2, 3, 30, 21, 2)
    maps = sens(k, column_mask(21, 2)[..., None])
    assert maps.shape == k.shape
    # maps are normalised to unit RSS over coils
    rss = torch.view_as_complex(maps).abs().square().sum(1).sqrt()
    torch.testing.assert_close(rss, torch.ones_like(rss))


def test_varnet_forward_fastmri_layout():
    model = tiny_varnet()
    k = torch.randn(2, 3, 32, 20, 2) * column_mask(20, 2)[..., None]
    out = model(k, column_mask(20, 2)[..., None], None)
    assert out.shape == (2, 32, 20)
    assert torch.isfinite(out).all()


def test_num_low_frequencies_rules():
    mask = torch.zeros(2, 1, 1, 16)
    mask[0, ..., 6:10] = 1  # symmetric 4-line center
    mask[1, ..., 5:10] = 1  # asymmetric: symmetric part is 4 wide
    assert num_low_frequencies_from_mask(mask).tolist() == [4, 4]
    assert num_low_frequencies_from_mask(mask, 6).tolist() == [6, 6]
    assert num_low_frequencies_from_mask(mask, torch.tensor([0, 2])).tolist() == [4, 2]
    k = torch.ones(2, 1, 2, 16, dtype=torch.complex64)
    kept = center_columns(k, mask, torch.tensor([4, 3])).real[:, 0, 0]
    assert kept[0].nonzero().flatten().tolist() == [6, 7, 8, 9]
    assert kept[1].nonzero().flatten().tolist() == [7, 8, 9]  # pad = (16 - 3 + 1) // 2


def _fwd_bwd(model, k, mask):
    x = k.clone().requires_grad_(True)
    out = model(x, mask)
    out.square().sum().backward()
    return out.detach(), x.grad


@pytest.mark.parametrize("sens_chunk_size", [None, 2])
def test_varnet_checkpointing_identical(sens_chunk_size):
    model = tiny_varnet()
    for p in model.parameters():
        p.requires_grad_(False)
    mask = column_mask(20, 2)[..., None]
    k = torch.randn(2, 3, 32, 20, 2) * mask
    model.sens_net.set_checkpointing(False, sens_chunk_size)  # same chunking, no checkpoints
    out0, grad0 = _fwd_bwd(model, k, mask)
    model.set_checkpointing(True, sens_chunk_size=sens_chunk_size)
    out1, grad1 = _fwd_bwd(model, k, mask)
    assert torch.equal(out0, out1)
    assert torch.equal(grad0, grad1)
    model.set_checkpointing(False)
    out2, _ = _fwd_bwd(model, k, mask)
    # coil chunking changes the sensitivity U-Net's batch size only: rounding-level differences
    torch.testing.assert_close(out2, out0, rtol=1e-5, atol=1e-5)


def test_unet_checkpointing_identical():
    torch.manual_seed(1)
    unet = Unet(2, 2, chans=3, num_pool_layers=2).eval().requires_grad_(False)
    k = torch.randn(2, 2, 21, 18)
    out0, grad0 = _fwd_bwd(lambda x, _: unet(x), k, None)
    unet.set_checkpointing(True)
    out1, grad1 = _fwd_bwd(lambda x, _: unet(x), k, None)
    assert torch.equal(out0, out1)
    assert torch.equal(grad0, grad1)
