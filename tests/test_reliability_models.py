"""Issue 10: a misbehaving user model, a bad model/state file or train option gives one clear
error (an AdvreconError naming the model or file), never a torch traceback or torch's advice."""

from __future__ import annotations

import itertools
import zipfile

import pytest
import torch
from torch import nn

from advrecon.attacks.noise import noise_attack
from advrecon.boxes import Box
from advrecon.cli import main
from advrecon.errors import AdvreconError, ConfigError, InputFileError
from advrecon.models import ZeroFilled, load_reconstructor, save_checkpoint
from advrecon.models.checkpoints import build_model, load_checkpoint
from advrecon.models.reconstructor import CallableReconstructor, ModelError

RECON = (8, 8)
_ids = itertools.count()


def data(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked k-space ``(batch, 2, 12, 10)`` and its column mask ``(1, 1, 1, 10)``."""
    g = torch.Generator().manual_seed(0)
    k = torch.randn(batch, 2, 12, 10, dtype=torch.complex64, generator=g)
    mask = torch.zeros(1, 1, 1, 10)
    mask[..., ::2] = 1
    return k * mask, mask


def write_module(tmp_path, monkeypatch, source: str) -> str:
    """A uniquely named importable module holding ``source``; returns its name."""
    name = f"advrecon_usermod_{next(_ids)}_{tmp_path.name[-8:].replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def _one_line(err: BaseException, *needles: str) -> None:
    text = str(err)
    assert "\n" not in text and "weights_only" not in text, text
    for needle in needles:
        assert needle in text, text


# ------------------------------------------------------------------ module:callable specs
@pytest.mark.parametrize(
    "source, needles",
    [
        ("def f():\n    raise RuntimeError('weights server down')\n", ["f()", "weights server"]),
        ("def f(x):\n    return None\n", ["f()", "TypeError"]),
        ("def f(:\n    pass\n", ["SyntaxError", "line 1"]),
        ("raise ValueError('boom at import')\n", ["cannot import", "ValueError: boom"]),
    ],
    ids=["factory-raises", "factory-signature", "syntax-error", "import-raises"],
)
def test_bad_spec_names_spec_and_cause(tmp_path, monkeypatch, source, needles):
    name = write_module(tmp_path, monkeypatch, source)
    with pytest.raises(InputFileError) as err:
        load_reconstructor(f"{name}:f", RECON)
    _one_line(err.value, f"{name}:f", *needles)


OUTPUTS = {  # what a broken model returns for k-space k (B, coils, H, W)
    "small": (lambda k: k.abs().sum(1)[:, :4, :4], "smaller than the recon size"),
    "coils-left": (lambda k: k.abs(), "expected (2, h, w)"),
    "batch-lost": (lambda k: k.abs().sum((0, 1)), "expected (2, h, w)"),
    "complex": (lambda k: torch.fft.ifft2(k).sum(1), "real floating"),
    "integer": (lambda k: torch.ones(k.shape[0], 12, 10, dtype=torch.long), "real floating"),
    "tuple": (lambda k: (k.abs().sum(1),), "returned a tuple"),
    "detached": (lambda k: k.abs().sum(1).detach(), "not differentiable"),
    "constant": (lambda k: torch.ones(k.shape[0], 12, 10), "not differentiable"),
    "nan": (lambda k: k.abs().sum(1) * float("nan"), "NaN or infinite"),
    "inf": (lambda k: k.abs().sum(1) / 0.0, "NaN or infinite"),
}


class _Broken(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, k, mask, nlf):
        return self.fn(k)


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_bad_output_is_a_model_error_naming_the_model(kind):
    fn, needle = OUTPUTS[kind]
    recon = CallableReconstructor(_Broken(fn), RECON)
    recon.label = "my-model"
    k, mask = data()
    with pytest.raises(ModelError) as err:
        recon(k.requires_grad_(), mask)
    _one_line(err.value, "model my-model", needle)


def test_good_output_passes_and_grad_check_only_applies_with_grad():
    k, mask = data()
    recon = CallableReconstructor(_Broken(lambda k: torch.ones(k.shape[0], 12, 10)), RECON)
    assert recon(k, mask).shape == (2, *RECON)  # no gradient asked for: fine
    with torch.no_grad():
        assert recon(k.requires_grad_(), mask).shape == (2, *RECON)
    zero = ZeroFilled(RECON)
    out = zero(k, mask)
    assert out.requires_grad and out.shape == (2, *RECON)


def test_one_channel_output_is_accepted_like_fastmri_models():
    """fastMRI's U-Net returns (B, 1, h, w); a user model doing the same must still work."""
    k, mask = data()
    recon = CallableReconstructor(_Broken(lambda k: k.abs().sum(1, keepdim=True)), RECON)
    out = recon(k.requires_grad_(), mask)
    assert out.shape == (2, *RECON) and out.requires_grad


def test_model_that_raises_is_a_model_error_with_cause():
    def forward(k, mask, nlf):
        raise IndexError("index 7 is out of bounds")

    recon = CallableReconstructor(forward, RECON)
    recon.label = "m"
    k, mask = data()
    with pytest.raises(ModelError) as err:
        recon(k, mask)
    _one_line(err.value, "model m", "IndexError: index 7", "(2, 2, 12, 10)")
    assert isinstance(err.value.__cause__, IndexError)  # kept for debugging from Python


def test_attack_gets_a_clear_error_from_a_nan_model(tmp_path, monkeypatch):
    name = write_module(
        tmp_path,
        monkeypatch,
        "def f():\n    return lambda k, m, n: k.abs().sum(1) * float('nan')\n",
    )
    recon = load_reconstructor(f"{name}:f", RECON)
    k, mask = data()
    with pytest.raises(AdvreconError) as err:
        noise_attack(recon, k, mask, 2, [Box(0, 0, 4, 4)] * 2, 0.01, steps=1, generator=0)
    _one_line(err.value, f"model {name}:f", "NaN")


# ------------------------------------------------------------------ files
def test_file_with_torchscript_suffix_that_is_not_one(tmp_path):
    path = tmp_path / "model.ts"
    path.write_text("not a model\n")
    with pytest.raises(InputFileError) as err:
        load_reconstructor(path, RECON)
    _one_line(err.value, str(path), "not a TorchScript archive")


def test_broken_torchscript_archive(tmp_path):
    good = tmp_path / "good.pt"
    torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(good))
    bad = tmp_path / "bad.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith("data.pkl"):  # drop the module's pickle
                dst.writestr(item, src.read(item))
    with pytest.raises(InputFileError) as err:
        load_reconstructor(bad, RECON)
    _one_line(err.value, str(bad), "not a loadable TorchScript archive")


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_random_bytes_are_not_called_a_pickle(tmp_path, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(torch.randint(0, 256, (4000,), generator=torch.Generator().manual_seed(1))
                     .to(torch.uint8).numpy().tobytes())  # fmt: skip
    with pytest.raises(InputFileError) as err:
        load_checkpoint(path)
    _one_line(err.value, str(path), "not a PyTorch checkpoint / state dict", "corrupt")
    assert "unpickle" not in str(err.value)


def test_pickled_module_says_python_objects(tmp_path):
    path = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), path)
    with pytest.raises(InputFileError) as err:
        load_checkpoint(path)
    _one_line(err.value, "torch.nn.modules.linear.Linear", "refuses to unpickle for safety")


# ------------------------------------------------------------------ training inputs
def _resume_files(tmp_path):
    """A unet ``last.safetensors`` matching the default TrainConfig (demo preset, 4x)."""
    from advrecon.training import DEFAULT_CENTER_FRACTIONS

    ckpt = tmp_path / "last.safetensors"
    meta = {"preset": "demo", "acceleration": 4, "mask_type": "random"}
    meta["center_fraction"] = DEFAULT_CENTER_FRACTIONS[4]
    save_checkpoint(ckpt, build_model("unet", "demo"), meta)
    return ckpt, tmp_path / "last.state.pt"


@pytest.mark.parametrize("content", ["random", "object", "wrong-keys"])
def test_resume_state_errors_are_clear(tmp_path, content):
    from advrecon.training import TrainConfig
    from advrecon.training.io import read_resume

    ckpt, state = _resume_files(tmp_path)
    if content == "random":
        state.write_bytes(bytes(range(256)) * 8)
        needle = "not a training state"
    elif content == "object":
        torch.save({"optimizer": nn.Linear(1, 1)}, state)
        needle = "refuses to unpickle"
    else:
        torch.save({"epoch": 3}, state)
        needle = "missing optimizer"
    config = TrainConfig(arch="unet", train_dir=tmp_path, out_dir=tmp_path / "o", resume=ckpt)
    with pytest.raises(InputFileError) as err:
        read_resume(config)
    _one_line(err.value, str(state), needle)


@pytest.mark.parametrize("value", [0, -4, 2.5, True, "4"])
def test_train_acceleration_is_checked_first(tmp_path, value):
    from advrecon.training import TrainConfig

    with pytest.raises(ConfigError) as err:
        TrainConfig(arch="unet", train_dir=tmp_path, out_dir=tmp_path, acceleration=value)
    assert str(err.value).startswith("acceleration:"), str(err.value)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "meta"])
def test_train_device_is_checked(tmp_path, device):
    from advrecon.training import TrainConfig

    with pytest.raises(ConfigError, match="device"):
        TrainConfig(arch="unet", train_dir=tmp_path, out_dir=tmp_path, device=device)


def test_train_cli_acceleration_zero(tmp_path, capsys):
    code = main(["train", "--arch", "unet", "--train", str(tmp_path), "--out",
                 str(tmp_path / "o"), "--acceleration", "0"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "advrecon: error: acceleration: must be at least 1, got 0"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("lr", float("inf"), "lr: must be a finite positive number, got inf"),
        ("lr_gamma", -1.0, "lr_gamma: must be a finite positive number, got -1.0"),
        ("weight_decay", -1.0, "weight_decay: must be a finite non-negative number, got -1.0"),
    ],
)
def test_train_optimizer_numbers_are_checked(tmp_path, field, value, message):
    from advrecon.training import TrainConfig

    with pytest.raises(ConfigError) as err:
        TrainConfig(arch="unet", train_dir=tmp_path, out_dir=tmp_path, **{field: value})
    assert str(err.value) == message


def test_user_reconstructor_subclass_that_raises(tmp_path, monkeypatch):
    name = write_module(
        tmp_path,
        monkeypatch,
        "from advrecon.models import Reconstructor\n"
        "class Mine(Reconstructor):\n"
        "    def reconstruct(self, k, m, n):\n"
        "        raise KeyError('coil_maps')\n"
        "def f():\n"
        "    return Mine()\n",
    )
    recon = load_reconstructor(f"{name}:f", RECON)
    assert recon.recon_size == RECON
    k, mask = data()
    with pytest.raises(ModelError) as err:
        recon(k, mask)
    _one_line(err.value, f"model {name}:f", "KeyError: 'coil_maps'")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"chans": "abc"}, "unet model argument chans: must be an integer >= 1, got 'abc'"),
        ({"chans": -1}, "unet model argument chans: must be an integer >= 1, got -1"),
        ({"drop_prob": 1.5}, "unet model argument drop_prob: must be a number in [0, 1)"),
    ],
)
def test_model_arguments_are_type_checked(overrides, message):
    with pytest.raises(ConfigError) as err:
        build_model("unet", "demo", **overrides)
    assert str(err.value).startswith(message)
