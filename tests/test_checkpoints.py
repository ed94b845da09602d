"""Checkpoint saving/loading: round trip, fastMRI formats, and every refusal."""

from __future__ import annotations

import pytest
import torch

from advrecon.cli import main
from advrecon.errors import AdvreconError, ConfigError, InputFileError
from advrecon.models import (
    build_model,
    checkpoints,
    load_checkpoint,
    save_checkpoint,
    shipped_weights,
)
from advrecon.models.checkpoints import infer_kwargs, load_reconstructor

TINY_VARNET = dict(num_cascades=2, sens_chans=2, sens_pools=1, chans=3, pools=2)
TINY_UNET = dict(chans=2, num_pool_layers=2)


def tiny(arch: str):
    torch.manual_seed(0)
    model = build_model(arch, "demo", **(TINY_VARNET if arch == "varnet" else TINY_UNET))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model.eval()


def sample():
    g = torch.Generator().manual_seed(1)
    k = torch.randn(1, 2, 20, 16, dtype=torch.complex64, generator=g)
    mask = torch.zeros(1, 1, 1, 16)
    mask[..., ::2] = 1
    mask[..., 6:10] = 1
    return k * mask, mask


@pytest.mark.parametrize("arch", ["varnet", "unet"])
def test_safetensors_round_trip(tmp_path, arch):
    model = tiny(arch)
    meta = {"preset": "demo", "acceleration": 4, "center_fraction": 0.08, "num_coils": 2}
    path = save_checkpoint(tmp_path / "m.safetensors", model, meta)
    loaded, metadata = load_checkpoint(path)
    assert type(loaded) is type(model)
    assert metadata["architecture"] == arch and metadata["acceleration"] == 4
    assert metadata["model_kwargs"] == checkpoints.model_kwargs(model)
    assert {"package_version", "date"} <= set(metadata)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left nothing behind
    k, mask = sample()
    r0 = load_reconstructor(path, (12, 12))
    r1 = checkpoints.wrap_model(model, (12, 12))
    with torch.no_grad():
        assert torch.equal(r0(k, mask), r1(k, mask))


@pytest.mark.parametrize("layout", ["plain", "lightning"])
def test_fastmri_state_dict_inferred(tmp_path, layout):
    model = tiny("varnet")
    state = model.state_dict()
    path = tmp_path / ("m.pt" if layout == "plain" else "m.ckpt")
    if layout == "lightning":
        state = {"state_dict": {f"varnet.{k}": v for k, v in state.items()}, "epoch": 3}
    torch.save(state, path)
    loaded, metadata = load_checkpoint(path)
    assert metadata["format"] == "fastmri"
    assert metadata["model_kwargs"] == {**TINY_VARNET, "mask_center": True}
    for a, b in zip(loaded.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_infer_unet_kwargs():
    state = tiny("unet").state_dict()
    assert infer_kwargs(state, "unet") == {
        "in_chans": 1,
        "out_chans": 1,
        "drop_prob": 0.0,
        "chans": 2,
        "num_pool_layers": 2,
    }


class Payload:  # a pickled custom object: must never be unpickled
    def __init__(self):
        self.weights = torch.zeros(2)


def _refused(path, match, **kw):
    with pytest.raises(InputFileError, match=match) as info:
        load_checkpoint(path, **kw)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_refuses_pickled_object(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": Payload()}, path)
    _refused(path, r"contains Python objects \(.*Payload\) that advrecon refuses to unpickle")


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_refuses_truncated(tmp_path, suffix):
    full = tmp_path / f"full{suffix}"
    if suffix == ".pt":
        torch.save(tiny("unet").state_dict(), full)
    else:
        save_checkpoint(full, tiny("unet"))
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    _refused(cut, "truncated")


def test_refuses_other_architecture(tmp_path):
    path = tmp_path / "unet.pt"
    torch.save(tiny("unet").state_dict(), path)
    _refused(path, "a unet checkpoint, not a varnet.*missing keys.*unexpected keys", arch="varnet")


def test_refuses_shape_mismatch(tmp_path):
    path = tmp_path / "u.pt"
    small = build_model("unet", "demo", chans=2)  # same keys as the demo preset, fewer chans
    torch.save(small.state_dict(), path)
    _refused(path, r"has shape \(2, 1, 3, 3\), expected \(16, 1, 3, 3\)", preset="demo")


def test_refuses_unknown_preset_and_missing_file(tmp_path):
    path = tmp_path / "v.pt"
    torch.save(tiny("varnet").state_dict(), path)
    _refused(path, "unknown preset 'huge'", preset="huge")
    _refused(tmp_path / "absent.pt", "not found")
    with pytest.raises(ConfigError, match="unknown preset"):
        build_model("varnet", "huge")


def test_refuses_non_state_dict(tmp_path):
    path = tmp_path / "t.pt"
    torch.save({"a": 1}, path)
    _refused(path, "does not contain a state dict")


def test_shipped_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(InputFileError, match="shipped demo weights are missing"):
        shipped_weights("varnet", 4)
    (tmp_path / "unet_demo_8x.safetensors").write_bytes(b"x")
    assert shipped_weights("unet", 8) == tmp_path / "unet_demo_8x.safetensors"
    with pytest.raises(AdvreconError):
        shipped_weights("unet", 6)


def test_cli_models_info(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["models", "info", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err
    good = save_checkpoint(tmp_path / "g.safetensors", tiny("unet"), {"acceleration": 8})
    assert main(["models", "info", str(good)]) == 0
    out = capsys.readouterr().out
    assert "architecture: unet" in out and "acceleration: 8" in out
    assert main(["models", "list"]) == 0
    assert "fastmri" in capsys.readouterr().out


def test_plain_pickle_is_refused_without_torch_warnings(tmp_path):
    """A pickle of protocol 4 (not torch.save's default) is refused in one line, no warning."""
    import pickle
    import warnings

    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps({"weights": [1, 2]}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's multi-line UserWarning would surface here
        _refused(path, "is not a PyTorch checkpoint / state dict")


def test_build_model_rejects_unknown_and_bad_arguments():
    with pytest.raises(ConfigError, match=r"unknown unet model argument\(s\) 'foo'.*chans"):
        build_model("unet", "demo", foo=1)
    with pytest.raises(ConfigError, match="unet model argument chans: must be an integer"):
        build_model("unet", "demo", chans="abc")
    assert build_model("unet", "demo", chans=2, num_pool_layers=1).chans == 2


def test_float16_export_loads_as_float32_with_close_outputs(tmp_path):
    from advrecon.models.checkpoints import export_checkpoint

    model = build_model("unet", "demo", **TINY_UNET)
    src = save_checkpoint(tmp_path / "a.safetensors", model, {"preset": "demo"})
    dst = export_checkpoint(src, tmp_path / "b.safetensors")
    assert dst.stat().st_size < 0.6 * src.stat().st_size
    half, meta = load_checkpoint(dst)
    assert meta["stored_dtype"] == "float16" and meta["preset"] == "demo"
    assert all(p.dtype == torch.float32 for p in half.parameters())
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        a, b = model.eval()(x), half.eval()(x)
    assert not torch.equal(a, b)  # really rounded ...
    torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)  # ... but only slightly
