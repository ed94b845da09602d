"""Tests of robust training (``advrecon train --robust``): jitter, adversarial, fnaf.

Properties on a tiny synthetic knee set (2-coil 32x24 k-space, 16x16 recon) and tiny models:
jitter noise statistics and support, the adversary's feasibility and strength, frozen
parameters during the inner search, a step of each remedy changes the weights, the recipe in
the checkpoint and ``models info``, the ``variant`` key of shipped weights, bad options.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from advrecon.attacks.noise.projection import coil_norm
from advrecon.cli import main
from advrecon.data.fastmri import SliceDataset
from advrecon.data.synthetic import SynthConfig, generate_dataset
from advrecon.errors import ConfigError
from advrecon.masks import create_mask_for_mask_type
from advrecon.models.checkpoints import load_checkpoint, read_metadata
from advrecon.training import TrainConfig, train
from advrecon.training.adversary import adversarial_batch, make_threat
from advrecon.training.jitter import jitter_noise, jitter_sigma, measured_support
from advrecon.training.recipe import RobustRecipe
from advrecon.training.robust import perturbed_batch, robust_loss
from advrecon.training.steps import make_batches

TINY = {
    "unet": {"chans": 4, "num_pool_layers": 2},
    "varnet": {"num_cascades": 2, "sens_chans": 2, "sens_pools": 2, "chans": 4, "pools": 2},
}
SHAPE, RECON = (32, 24), (16, 16)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """``train/`` 2 volumes x 2 slices, ``val/`` 1 x 2; 2 coils, 2 padded columns a side."""
    root = tmp_path_factory.mktemp("robust_data") / "synth"
    config = SynthConfig(
        num_volumes=2, num_slices=2, num_coils=2, kspace_shape=SHAPE, recon_size=RECON,
        padding=(2, 2), val_volumes=1, seed=0,
    )  # fmt: skip
    generate_dataset(root, config)
    return root


def _batch(data: Path, n: int = 3):
    ds = SliceDataset(data / "train")
    mask_func = create_mask_for_mask_type("random", [0.08], [4])
    (b,) = make_batches([ds[i] for i in range(n)], mask_func, [1, 2, 3][:n], "cpu", RECON)
    return b


def _recon(arch: str = "unet"):
    from advrecon.training.loop import _build

    torch.manual_seed(0)
    config = TrainConfig(
        arch=arch, train_dir=Path("."), out_dir=Path("."), model_overrides=TINY[arch]
    )
    recon, _ = _build(config, RECON)
    return recon.train()


def _gens(n: int, seed: int = 0) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed + i) for i in range(n)]


# -- jitter ------------------------------------------------------------------------------------


def test_jitter_noise_has_the_derived_per_coil_norm_on_measured_samples_only(data):
    b = _batch(data)
    support = measured_support(b.mask, b.acquired, b.kspace.shape)
    assert float(support[..., :2].sum()) == 0.0  # padded columns are never measured
    eta = 0.02
    sigma = jitter_sigma(b.kspace, support, eta)
    m = support.flatten(1).sum(1).double()
    torch.testing.assert_close(sigma**2 * m.view(-1, 1, 1, 1), (eta * coil_norm(b.kspace)) ** 2)
    draws = torch.stack(
        [jitter_noise(b.kspace, support, eta, _gens(3, 10 * i)) for i in range(300)]
    )
    assert bool((draws * (1 - support)).eq(0).all())  # unmeasured samples untouched
    energy = coil_norm(draws.flatten(0, 1)).reshape(300, *sigma.shape).square().mean(0)
    torch.testing.assert_close(energy, (eta * coil_norm(b.kspace)) ** 2, rtol=0.05, atol=0)
    jit = perturbed_batch(None, b, RobustRecipe.make("jitter", eta=2.0), _gens(3))
    assert bool(((jit.masked_kspace - b.masked_kspace) * (1 - support)).eq(0).all())
    assert not torch.equal(jit.masked_kspace, b.masked_kspace)


# -- adversarial -------------------------------------------------------------------------------


@pytest.mark.parametrize("threat", ["noise", "motion"])
def test_adversary_stays_feasible_raises_the_loss_and_leaves_no_parameter_gradient(data, threat):
    from advrecon.attacks.objectives import region_metrics

    b, recon = _batch(data), _recon()
    eta = 5.0 if threat == "noise" else 3.0
    recipe = RobustRecipe.make("adversarial", eta=eta, threat=threat, steps=4, target="image")
    adv = adversarial_batch(recon, b, recipe, _gens(3))
    assert recon.training and all(p.requires_grad and p.grad is None for p in recon.parameters())
    assert not adv.masked_kspace.requires_grad
    if threat == "noise":
        z = adv.masked_kspace - b.masked_kspace
        assert bool((coil_norm(z) <= 0.05 * coil_norm(b.kspace) * (1 + 1e-6)).all())
        assert bool((z * (1 - b.mask)).eq(0).all())  # the mask is applied: measured samples
    th, _ = make_threat(recon, b, recipe, _gens(3))
    with torch.no_grad():
        start = th.reconstruct(th.draw(_gens(3)))  # the search's random start (same streams)
        clean = recon(b.masked_kspace, b.mask, b.num_low_frequencies)
        worse = recon(adv.masked_kspace, adv.mask, adv.num_low_frequencies)
        mse = {
            k: region_metrics(v, b.target, th.regions, th.data_range)["mse"]
            for k, v in (("start", start), ("clean", clean), ("adv", worse))
        }
    assert bool((mse["adv"] >= mse["start"]).all())  # the search kept its best iterate
    assert bool((mse["adv"] > mse["start"]).any())
    if threat == "noise":  # noise at 5 % of the coil norm: worse than no noise, every slice
        assert bool((mse["adv"] > mse["clean"]).all())


def test_unknown_adversary_is_a_config_error():
    with pytest.raises(ConfigError, match="no training adversary"):
        TrainConfig(
            arch="unet", train_dir=Path("."), out_dir=Path("."),
            robust=RobustRecipe.make("adversarial", threat="rotation"),
        )  # fmt: skip


# -- the training loop ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "recipe"),
    [
        ("unet", RobustRecipe.make("jitter", eta=2.0)),
        ("unet", RobustRecipe.make("adversarial", eta=2.0, steps=2, mix=0.5)),
        ("varnet", RobustRecipe.make("adversarial", eta=2.0, steps=1, search="pgd")),
        ("unet", RobustRecipe.make("adversarial", eta=2.0, threat="motion", steps=1)),
        ("unet", RobustRecipe.make("fnaf", eta=50.0, steps=2)),
    ],
    ids=["jitter", "adversarial", "varnet-pgd", "motion", "fnaf"],
)
def test_each_remedy_trains_changes_the_weights_and_stores_its_recipe(data, tmp_path, arch, recipe):
    init = tmp_path / "init" / "best.safetensors"
    common = dict(
        arch=arch, train_dir=data / "train", val_dir=data / "val", model_overrides=TINY[arch],
        batch_size=2, lr=1e-2, device="cpu", progress=False, max_steps_per_epoch=1,
    )  # fmt: skip
    train(TrainConfig(out_dir=init.parent, **common))
    best = train(TrainConfig(out_dir=tmp_path / "r", init=init, robust=recipe, **common))
    before, after = load_checkpoint(init)[0].state_dict(), load_checkpoint(best)[0].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    meta = read_metadata(best)
    assert RobustRecipe.from_metadata(meta["robust"]) == recipe
    assert meta["robust"]["remedy"] == recipe.remedy and "reference" in meta["robust"]
    assert "robust" not in read_metadata(init)  # standard training: no recipe


def test_robust_loss_weights_clean_and_perturbed_slices(data):
    b, recon = _batch(data), _recon()
    from advrecon.training.steps import slice_losses

    recipe = RobustRecipe.make("jitter", eta=3.0, mix=0.25)
    bad = perturbed_batch(recon, b, recipe, _gens(3, 7))
    want = (
        0.25 * slice_losses("unet", recon, b).sum() + 0.75 * slice_losses("unet", recon, bad).sum()
    )
    got = robust_loss("unet", recon, recon, b, recipe, [7, 8, 9])
    torch.testing.assert_close(got, want)


def test_resume_refuses_another_recipe(data, tmp_path):
    from advrecon.errors import InputFileError

    common = dict(
        arch="unet", train_dir=data / "train", out_dir=tmp_path / "r", model_overrides=TINY["unet"],
        device="cpu", progress=False, max_steps_per_epoch=1,
    )  # fmt: skip
    train(TrainConfig(robust=RobustRecipe.make("jitter"), **common))
    with pytest.raises(InputFileError, match="robust recipe"):
        train(TrainConfig(epochs=2, resume=tmp_path / "r" / "last.safetensors", **common))


# -- command line ------------------------------------------------------------------------------


def _cli_error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("advrecon: error:") and "\n" not in err
    return err


def test_cli_robust_run_models_info_and_bad_options(data, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "--arch", "unet", "--train", str(data / "train"), "--out", str(out),
            "--device", "cpu", "--epochs", "1", "--max-steps-per-epoch", "1", "--no-progress",
            "--model-arg", "chans=4", "--model-arg", "num_pool_layers=2"]  # fmt: skip
    assert "'foo'" in _cli_error(capsys, [*base, "--robust", "foo"])
    assert "robust_eta" in _cli_error(capsys, [*base, "--robust", "jitter", "--robust-eta", "-1"])
    assert "robust_mix" in _cli_error(capsys, [*base, "--robust", "jitter", "--robust-mix", "2"])
    assert "--robust" in _cli_error(capsys, [*base, "--robust-eta", "1"])
    assert "no training adversary" in _cli_error(
        capsys, [*base, "--robust", "adversarial", "--robust-threat", "nope"]
    )
    assert not out.exists()
    argv = [*base, "--robust", "adversarial", "--robust-eta", "1.5", "--robust-steps", "1",
            "--robust-mix", "0.5"]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["models", "info", str(out / "best.safetensors")]) == 0
    text = capsys.readouterr().out
    assert "robust training, adversarial: eta 1.5" in text and "threat noise" in text
    assert main(["models", "info", "--json", str(out / "best.safetensors")]) == 0
    robust = json.loads(capsys.readouterr().out)["robust"]
    assert robust["eta"] == 1.5 and robust["steps"] == 1 and robust["mix"] == 0.5


# -- shipped variants and configs ----------------------------------------------------------------


def test_shipped_hardened_variants_load_by_name_and_in_configs():
    from advrecon.experiments.config import load_config, parse_config
    from advrecon.models.checkpoints import load_reconstructor, shipped_variants, shipped_weights

    assert {"adversarial", "jitter"} <= set(shipped_variants("unet", 4))
    path = shipped_weights("unet", 4, variant="adversarial")
    assert path.name == "unet_demo_4x_adversarial.safetensors"
    recon = load_reconstructor(path, (64, 64), arch="unet", preset="demo")
    assert recon.metadata["robust"]["remedy"] == "adversarial"
    assert shipped_weights("unet", 4, variant="jitter").name == "unet_demo_4x_jitter.safetensors"
    with pytest.raises(ConfigError, match="no shipped 'bogus' variant"):
        shipped_weights("unet", 4, variant="bogus")

    from advrecon.demo import default_config_path
    from advrecon.experiments.loading import default_model_loader

    demo = load_config(default_config_path(), check_paths=False)  # it runs the adversarial U-Net
    d = demo.to_dict()
    # unset: not in the plain form or hash
    assert all("variant" not in m for m in d["models"] if m["name"] != "unet_adv")
    cfg = demo
    m = next(m for m in cfg.models if m.name == "unet_adv")
    assert m.variant == "adversarial" and m.source() == "shipped:unet_4x_adversarial"
    loaded = default_model_loader(m, (64, 64), "cpu")
    assert loaded.metadata["robust"]["remedy"] == "adversarial"
    d2 = demo.to_dict()
    d2["models"][0]["variant"] = None
    assert parse_config(d2).hash() == demo.hash()
    d3 = demo.to_dict()
    del next(x for x in d3["models"] if x["name"] == "unet_adv")["variant"]
    assert parse_config(d3).hash() != demo.hash()  # the variant enters the hash when set
    with pytest.raises(ConfigError, match="variant"):
        bad = demo.to_dict()
        bad["models"][0].update(shipped=False, checkpoint="x.safetensors", variant="jitter")
        parse_config(bad)


@pytest.mark.parametrize("remedy", ["jitter", "adversarial"])
def test_ddp_robust_training_keeps_ranks_identical(data, tmp_path, remedy):
    """Both ranks end with the same weights, and with those of one process that sees the same
    slice pairs (the perturbations are drawn per slice, whatever the batching)."""
    import os
    import socket
    import subprocess
    import sys

    from advrecon.training.steps import state_dict_hash

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    recipe = ["--robust", remedy, "--robust-mix", "0.5"]
    recipe += ["--robust-steps", "2"] if remedy == "adversarial" else []
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        f"--master_port={port}", "-m", "advrecon", "train", "--arch", "unet",
        "--train", str(data / "train"), "--out", str(out), "--epochs", "1", "--batch-size", "1",
        "--lr", "1e-3", "--model-arg", "chans=4", "--model-arg", "num_pool_layers=2",
        "--device", "cpu", "--no-progress", "--debug-rank-hashes", *recipe,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    h0, h1 = ((out / f"rank{r}.sha256").read_text() for r in (0, 1))
    assert h0 == h1 == state_dict_hash(load_checkpoint(out / "last.safetensors")[0]) + "\n"
    assert read_metadata(out / "last.safetensors")["robust"]["remedy"] == remedy
    # 2 ranks x batch 1 see the same slice pairs (and the same perturbations) as 1 process x batch 2
    single = TrainConfig(
        arch="unet", train_dir=data / "train", out_dir=tmp_path / "one", batch_size=2, lr=1e-3,
        epochs=1, model_overrides=TINY["unet"], device="cpu", progress=False,
        robust=RobustRecipe.make(remedy, mix=0.5, steps=2 if remedy == "adversarial" else None),
    )  # fmt: skip
    train(single)
    a = load_checkpoint(tmp_path / "one" / "last.safetensors")[0].state_dict()
    b = load_checkpoint(out / "last.safetensors")[0].state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=2e-5, rtol=0.0, msg=lambda m, k=k: f"{k}: {m}")
