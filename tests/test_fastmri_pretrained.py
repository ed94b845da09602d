"""``configs/fastmri_pretrained.yaml`` and the fastMRI public checkpoints' state-dict layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from advrecon.errors import InputFileError
from advrecon.experiments.config import load_config
from advrecon.models.checkpoints import build_model, load_reconstructor

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "fastmri_pretrained.yaml"

# Key and parameter counts of fastMRI 0.3.0's ``VarNet(num_cascades=12, sens_chans=8,
# sens_pools=4, chans=18, pools=4)`` (knee_leaderboard_state_dict.pt) and ``Unet(1, 1, chans=256,
# num_pool_layers=4, drop_prob=0.0)`` (knee_mc_leaderboard_state_dict.pt), counted once from
# fastMRI's own classes (the key *names* were compared one by one at the same time).
FASTMRI_LAYOUT = {"varnet": (324, 29_936_966), "unet": (24, 496_372_225)}


@pytest.mark.parametrize("arch", ["varnet", "unet"])
def test_fastmri_preset_has_the_public_state_dict_layout(arch):
    with torch.device("meta"):  # the U-Net is 2 GB of float32; shapes are all we need
        state = build_model(arch, "fastmri").state_dict()
    assert (len(state), sum(v.numel() for v in state.values())) == FASTMRI_LAYOUT[arch]


def test_pretrained_config_parses_with_paper_masks():
    cfg = load_config(CONFIG, check_paths=False, device="cpu")
    assert cfg.masks.type == "equispaced_fraction"
    assert {(m.name, m.acceleration, m.center_fraction) for m in cfg.models} == {
        ("unet", 4, 0.08),
        ("unet", 8, 0.04),
        ("varnet", 4, 0.08),
        ("varnet", 8, 0.04),
    }
    assert {m.preset for m in cfg.models} == {"fastmri"}
    assert all(m.checkpoint.endswith("_state_dict.pt") for m in cfg.models)


def test_pretrained_config_names_the_missing_checkpoint(tmp_path):
    raw = yaml.safe_load(CONFIG.read_text())
    (tmp_path / "val").mkdir()
    (tmp_path / "knee.csv").write_text("file,slice,study_level,x,y,width,height,label\n")
    raw["data"] = {
        "kind": "fastmri",
        "root": str(tmp_path / "val"),
        "annotations": str(tmp_path / "knee.csv"),
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(InputFileError) as err:
        load_config(path, device="cpu")
    message = str(err.value)
    assert "knee_mc_leaderboard_state_dict.pt: checkpoint not found" in message
    assert "models[0].checkpoint" in message and "\n" not in message


def test_fastmri_varnet_state_dict_loads_safely(tmp_path):
    torch.manual_seed(0)
    model = build_model("varnet", "fastmri")
    path = tmp_path / "knee_leaderboard_state_dict.pt"
    torch.save(model.state_dict(), path)  # the published files are plain state dicts
    recon = load_reconstructor(path, (320, 320), arch="varnet", preset="fastmri")
    assert recon.metadata["format"] == "fastmri"
    for a, b in zip(recon.state_dict().values(), model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # a pickle that needs arbitrary code is refused (weights_only loading)
    torch.save({"state_dict": model.state_dict(), "hook": Path("x")}, tmp_path / "evil.pt")
    with pytest.raises(InputFileError):
        load_reconstructor(tmp_path / "evil.pt", (320, 320), arch="varnet", preset="fastmri")


def test_pretrained_config_sizes_its_batches_itself():
    cfg = load_config(CONFIG, check_paths=False, device="cpu")
    assert cfg.chunk_size == "auto" and cfg.memory_limit is None
