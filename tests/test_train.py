"""Tests of advrecon.training: loss, validation, checkpoints, resume, determinism, DDP, CLI errors.

Everything runs on a tiny synthetic knee set (2-coil 32x24 k-space, 16x16 recon) and tiny
models, on CPU.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from advrecon.cli import main
from advrecon.data.fastmri import SliceDataset
from advrecon.data.synthetic import SynthConfig, generate_dataset
from advrecon.masks import create_mask_for_mask_type
from advrecon.metrics import nmse, psnr, ssim
from advrecon.models.checkpoints import load_checkpoint, read_metadata, save_checkpoint
from advrecon.models.reconstructor import ZeroFilled
from advrecon.training import TrainConfig, train
from advrecon.training.steps import (
    batch_loss,
    make_batches,
    state_dict_hash,
    train_mask_seed,
    val_mask_seed,
)

TINY = {
    "unet": {"chans": 4, "num_pool_layers": 2},
    "varnet": {"num_cascades": 2, "sens_chans": 2, "sens_pools": 2, "chans": 4, "pools": 2},
}
SHAPE, RECON = (32, 24), (16, 16)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Synthetic knee set: ``train/`` (3 volumes x 2 slices) and ``val/`` (1 volume x 2 slices),
    2 coils, 32x24 k-space with 2 padded columns on each side, 16x16 recon."""
    root = tmp_path_factory.mktemp("train_data") / "synth"
    config = SynthConfig(
        num_volumes=3,
        num_slices=2,
        num_coils=2,
        kspace_shape=SHAPE,
        recon_size=RECON,
        padding=(2, 2),
        val_volumes=1,
        seed=0,
    )
    generate_dataset(root, config)
    return root


def _config(data: Path, out: Path, arch: str = "unet", **kw) -> TrainConfig:
    base = dict(
        arch=arch,
        train_dir=data / "train",
        val_dir=data / "val",
        out_dir=out,
        model_overrides=TINY[arch],
        epochs=1,
        batch_size=2,
        lr=1e-2,
        device="cpu",
        progress=False,
    )
    base.update(kw)
    return TrainConfig(**base)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)[0].state_dict()


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if atol == 0.0:
            assert torch.equal(a[k], b[k]), k
        else:
            torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0.0, msg=k)


# -- loss ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["unet", "varnet"])
def test_one_step_reduces_loss_on_fixed_batch(data, arch):
    from advrecon.training.loop import _build

    torch.manual_seed(0)
    config = _config(data, data / "unused", arch)
    recon, _ = _build(config, RECON)
    recon.train()
    ds = SliceDataset(data / "train")
    samples = [ds[i] for i in range(3)]
    mask_func = create_mask_for_mask_type("random", [0.08], [4])
    (batch,) = make_batches(samples, mask_func, [1, 2, 3], "cpu", RECON)
    opt = torch.optim.Adam(recon.parameters(), lr=1e-3)
    before = batch_loss(arch, recon, batch)
    before.backward()
    opt.step()
    with torch.no_grad():
        after = batch_loss(arch, recon, batch)
    before = before.detach()
    assert torch.isfinite(before) and after < before
    if arch == "varnet":  # loss = sum over slices of 1 - SSIM, so it lies in [0, 2 * batch]
        assert 0.0 < float(before) < 2.0 * batch.size


def test_make_batches_masks_targets_and_padding(data):
    ds = SliceDataset(data / "train")
    samples = [ds[0], ds[1]]
    mask_func = create_mask_for_mask_type("random", [0.08], [4])
    (b,) = make_batches(samples, mask_func, [5, 6], "cpu", RECON)
    assert b.masked_kspace.shape == (2, 2, *SHAPE) and b.mask.shape == (2, 1, 1, SHAPE[1])
    assert torch.equal(b.masked_kspace, torch.stack([s.kspace for s in samples]) * b.mask)
    assert torch.equal(b.target, torch.stack([s.target for s in samples]))
    left, right = samples[0].padding
    assert (left, right) == (2, SHAPE[1] - 2)  # padded columns are never sampled
    assert not b.mask[..., :left].any() and not b.mask[..., right:].any()
    assert torch.allclose(b.max_value, torch.tensor([s.max_value for s in samples]))
    # per-item seeds give per-item masks; same seed, same mask
    (b2,) = make_batches(samples, mask_func, [5, 5], "cpu", RECON)
    assert torch.equal(b2.mask[0], b.mask[0]) and torch.equal(b2.mask[1], b.mask[0])
    # train seeds change every epoch; validation seeds are fixed per volume
    assert train_mask_seed(0, 0, "f", 1) != train_mask_seed(0, 1, "f", 1)
    assert train_mask_seed(0, 0, "f", 1) != train_mask_seed(0, 0, "f", 2)
    assert val_mask_seed("file1") == val_mask_seed("file1") != val_mask_seed("file2")


# -- training runs ------------------------------------------------------------------------------


def test_validation_metrics_checkpoints_and_metadata(data, tmp_path):
    out = tmp_path / "run"
    best = train(_config(data, out, epochs=2))
    assert best == out / "best.safetensors" and best.is_file()
    assert (out / "last.safetensors").is_file() and (out / "last.state.pt").is_file()

    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]
    for r in log:
        for k in ("train_loss", "val_ssim", "val_psnr", "val_nmse", "val_zf_ssim"):
            assert np.isfinite(r[k]), k
        assert r["val_num_slices"] == 2

    # the zero-filled baseline equals an independent computation with the per-volume val masks
    ds = SliceDataset(data / "val")
    mask_func = create_mask_for_mask_type("random", [0.08], [4])
    zf = {"ssim": [], "psnr": [], "nmse": []}
    for s in (ds[0], ds[1]):
        mask, _ = mask_func(s.kspace.shape, seed=val_mask_seed(s.fname), padding=s.padding)
        pred = ZeroFilled(RECON)(s.kspace[None] * mask[None], mask[None])
        rng = torch.tensor([s.max_value])
        zf["ssim"].append(float(ssim(pred, s.target[None], rng)))
        zf["psnr"].append(float(psnr(pred, s.target[None], rng)))
        zf["nmse"].append(float(nmse(pred, s.target[None])))
    for k, v in zf.items():
        assert log[-1][f"val_zf_{k}"] == pytest.approx(np.mean(v), rel=1e-5)
        assert log[0][f"val_zf_{k}"] == pytest.approx(log[1][f"val_zf_{k}"])

    model, meta = load_checkpoint(best)
    assert meta["architecture"] == "unet" and meta["preset"] == "demo"
    assert meta["model_kwargs"]["chans"] == 4
    assert meta["acceleration"] == 4 and meta["center_fraction"] == 0.08
    assert meta["mask_type"] == "random" and meta["recon_size"] == list(RECON)
    assert meta["training_data"]["train"] == str((data / "train").resolve())
    assert len(meta["training_data"]["train_hash"]) == 64
    assert meta["package_version"]
    best_epoch = max(log, key=lambda r: r["val_ssim"])
    assert meta["metrics"]["ssim"] == pytest.approx(best_epoch["val_ssim"])
    assert meta["metrics"]["zf_ssim"] == pytest.approx(best_epoch["val_zf_ssim"])
    state = torch.load(out / "last.state.pt", weights_only=True)
    assert state["epoch"] == 2 and "optimizer" in state and "scheduler" in state


@pytest.mark.parametrize("arch", ["unet", "varnet"])
def test_resume_equals_uninterrupted_and_seed_determinism(data, tmp_path, arch):
    kw = dict(max_steps_per_epoch=2, batch_size=1, lr_step_size=1, lr_gamma=0.5)
    full = _config(data, tmp_path / "full", arch, epochs=2, **kw)
    train(full)
    part = _config(data, tmp_path / "part", arch, epochs=1, **kw)
    train(part)
    train(replace(part, epochs=2, resume=tmp_path / "part" / "last.safetensors"))
    ref = _weights(tmp_path / "full" / "last.safetensors")
    _assert_same(ref, _weights(tmp_path / "part" / "last.safetensors"))
    state = torch.load(tmp_path / "part" / "last.state.pt", weights_only=True)
    assert state["epoch"] == 2 and state["scheduler"]["last_epoch"] == 2
    log = (tmp_path / "part" / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in log] == [1, 2]
    if arch == "unet":  # the same seed again: bit-identical; another seed: different weights
        train(replace(full, out_dir=tmp_path / "again"))
        _assert_same(ref, _weights(tmp_path / "again" / "last.safetensors"))
        train(replace(full, out_dir=tmp_path / "other", seed=1))
        other = _weights(tmp_path / "other" / "last.safetensors")
        assert any(not torch.equal(ref[k], other[k]) for k in ref)


def test_accumulation_and_checkpointing_match_plain_batches(data, tmp_path):
    # batch 2 == batch 1 x 2 accumulated (same slice pairs per optimizer step); with Adam a
    # wrongly grouped step would move weights by ~lr = 1e-3, rounding differences stay < 1e-5
    base = _config(data, tmp_path / "b2", batch_size=2, val_dir=None, lr=1e-3)
    train(base)
    train(replace(base, out_dir=tmp_path / "acc", batch_size=1, accumulate=2))
    train(replace(base, out_dir=tmp_path / "ckpt", checkpointing=True))
    ref = _weights(tmp_path / "b2" / "best.safetensors")
    _assert_same(ref, _weights(tmp_path / "acc" / "best.safetensors"), atol=2e-5)
    _assert_same(ref, _weights(tmp_path / "ckpt" / "best.safetensors"), atol=1e-6)
    losses = [
        json.loads((tmp_path / run / "train_log.jsonl").read_text())["train_loss"]
        for run in ("b2", "acc")
    ]
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_export_writes_best_checkpoint(data, tmp_path):
    target = tmp_path / "weights" / "unet_demo_4x.safetensors"
    best = train(_config(data, tmp_path / "run", export=target))
    assert target.read_bytes() == best.read_bytes()


# -- distributed --------------------------------------------------------------------------------


def test_init_warm_starts_from_another_acceleration(data, tmp_path):
    first = train(_config(data, tmp_path / "a", seed=1))
    # an almost-zero learning rate: the warm-started run keeps the weights it was given ...
    warm = train(_config(data, tmp_path / "b", acceleration=8, init=first, lr=1e-12, seed=2))
    _assert_same(_weights(first), _weights(warm), atol=1e-6)
    # ... which a run from its own random init (seed 2) does not have
    cold = train(_config(data, tmp_path / "c", acceleration=8, lr=1e-12, seed=2))
    assert any(
        not torch.allclose(a, b, atol=1e-3)
        for a, b in zip(_weights(first).values(), _weights(cold).values(), strict=True)
    )
    assert read_metadata(warm)["training"]["init"] == str(first)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_gloo_processes_hold_identical_weights(data, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={_free_port()}", "-m", "advrecon", "train",
        "--arch", "unet", "--train", str(data / "train"), "--val", str(data / "val"),
        "--out", str(out), "--epochs", "1", "--batch-size", "1", "--lr", "1e-3",
        "--model-arg", "chans=4", "--model-arg", "num_pool_layers=2", "--device", "cpu",
        "--no-progress", "--debug-rank-hashes",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    h0, h1 = ((out / f"rank{r}.sha256").read_text() for r in (0, 1))
    assert h0 == h1
    assert h0.strip() == state_dict_hash(load_checkpoint(out / "last.safetensors")[0])
    # 2 ranks x batch 1 see the same slice pairs per step as 1 process x batch 2
    train(_config(data, tmp_path / "single", batch_size=2, lr=1e-3))
    _assert_same(
        _weights(tmp_path / "single" / "last.safetensors"),
        _weights(out / "last.safetensors"),
        atol=2e-5,
    )
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["val_num_slices"] == 2


# -- command line errors -------------------------------------------------------------------------


def _cli_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("advrecon: error:") and "\n" not in err
    return err


def test_cli_bad_inputs(data, tmp_path, capsys):
    out = tmp_path / "out"
    common = ["--val", str(data / "val"), "--out", str(out), "--device", "cpu"]
    err = _cli_error(
        capsys, ["train", "--arch", "unet", "--train", str(tmp_path / "nope")] + common
    )
    assert "nope" in err and "does not exist" in err
    (tmp_path / "empty").mkdir()
    err = _cli_error(
        capsys, ["train", "--arch", "unet", "--train", str(tmp_path / "empty")] + common
    )
    assert "no .h5 files" in err
    err = _cli_error(capsys, ["train", "--arch", "resnet", "--train", str(data / "train")] + common)
    assert "resnet" in err and "architecture" in err
    err = _cli_error(
        capsys, ["train", "--arch", "unet", "--acceleration", "6", "--train", str(data / "train")]
        + common,
    )  # fmt: skip
    assert "center" in err
    err = _cli_error(
        capsys, ["train", "--arch", "unet", "--model-arg", "foo=1", "--train", str(data / "train")]
        + common,
    )  # fmt: skip
    assert "'foo'" in err and "model argument" in err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "file1.h5").write_text("not hdf5")
    err = _cli_error(capsys, ["train", "--arch", "unet", "--train", str(tmp_path / "bad")] + common)
    assert "file1.h5" in err and "HDF5" in err
    assert not out.exists()  # nothing written for rejected input
    (tmp_path / "afile").write_text("x")
    err = _cli_error(
        capsys,
        [
            "train",
            "--arch",
            "unet",
            "--train",
            str(data / "train"),
            "--out",
            str(tmp_path / "afile"),
        ],
    )
    assert "afile" in err and "not a directory" in err

    # resume a VarNet run from a U-Net checkpoint
    ckpt = tmp_path / "u" / "last.safetensors"
    from advrecon.models.checkpoints import build_model

    save_checkpoint(ckpt, build_model("unet", "demo", **TINY["unet"]), {"preset": "demo"})
    torch.save({"epoch": 1}, ckpt.with_name("last.state.pt"))
    err = _cli_error(
        capsys,
        ["train", "--arch", "varnet", "--train", str(data / "train"), "--resume", str(ckpt)]
        + common,
    )
    assert "unet checkpoint" in err and "varnet" in err
    # a checkpoint without its training state
    ckpt.with_name("last.state.pt").unlink()
    err = _cli_error(
        capsys,
        ["train", "--arch", "unet", "--train", str(data / "train"), "--resume", str(ckpt)] + common,
    )
    assert "last.state.pt" in err
    assert not out.exists()
