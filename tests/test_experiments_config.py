"""Experiment config: validation messages, hash, shipped presets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from advrecon.cli import main
from advrecon.errors import ConfigError, InputFileError
from advrecon.experiments.config import load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def _cfg(**over) -> dict:
    d = {
        "data": {"kind": "synthetic", "root": "x"},
        "models": [{"name": "unet", "arch": "unet", "shipped": True, "accelerations": [4, 8]}],
        "attacks": {"noise": {"eta": [0, 0.5, 1]}, "rotation": {"theta_max": [0, 1]}},
    }
    d.update(over)
    return d


def test_minimal_config_defaults():
    cfg = parse_config(_cfg())
    assert [m.key for m in cfg.models] == ["unet@4x", "unet@8x"]
    assert [m.center_fraction for m in cfg.models] == [0.08, 0.04]
    assert cfg.noise.eta == (0.0, 0.5, 1.0) and cfg.targets == ("region", "image")
    assert cfg.rotation.step == 0.1
    assert parse_config(cfg.to_dict()) == cfg  # round trip


@pytest.mark.parametrize(
    "change, message",
    [
        ({"attacks": {"noise": {"eta": [0, 1, -2]}}}, "attacks.noise.eta[2]: must be >= 0"),
        ({"attacks": {"noise": {"eta": [0], "stpes": 3}}}, "did you mean 'steps'"),
        ({"modles": []}, "modles: unknown key; did you mean 'models'"),
        (
            {"attacks": {"rotation": {"theta_max": [1], "interpolation": "cubic"}}},
            "attacks.rotation.interpolation: must be one of paper, fourier",
        ),
        (
            {"attacks": {"noise": {"eta": [0], "rules": ["l2", "l1"]}}},
            "attacks.noise.rules[1]: must be one of l2, reference",
        ),
        ({"models": [{"name": "a", "arch": "unet"}]}, "models[0]: give exactly one of"),
        (
            {"models": [{"name": "a", "spec": "m:f", "acceleration": "4"}]},
            "models[0].acceleration: must be an integer",
        ),
        ({"targets": ["region", "lesion"]}, "targets[1]: must be one of region, image"),
        ({"attacks": {}}, "attacks: configure at least one"),
        ({"data": {"kind": "synthetic"}}, "data.root: required key is missing"),
        ({"slices": {"select": ["file1:x"]}}, "slices.select[0]"),
        ({"chunk_size": 0}, "chunk_size: must be >= 1"),
    ],
)
def test_bad_values_name_the_key(change, message):
    with pytest.raises(ConfigError, match=None) as err:
        parse_config(_cfg(**change))
    assert message in str(err.value)


def test_hash_covers_results_not_run_settings():
    a = parse_config(_cfg())
    b = parse_config(_cfg(output="elsewhere", device="cuda", chunk_size=4, name="other"))
    c = parse_config(_cfg(attacks={"noise": {"eta": [0, 0.5, 2]}}))
    assert a.hash() == b.hash() != c.hash()
    assert a.run_dir().name == a.hash()[:10]


def test_shipped_configs_parse():
    demo = load_config(ROOT / "configs" / "demo.yaml", check_paths=False)
    assert {m.key for m in demo.models} == {"unet@4x", "unet@8x", "varnet@4x", "varnet@8x"}
    assert all(m.shipped for m in demo.models) and demo.data.kind == "synthetic"
    paper = load_config(ROOT / "configs" / "paper.yaml", check_paths=False)
    assert paper.noise.eta == (0.0, 0.2, 0.5, 1.0, 1.5, 2.0, 2.5)
    assert paper.rotation.theta_max == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    assert paper.rotation.step == pytest.approx(0.1)
    assert {m.preset for m in paper.models} == {"paper"}
    # the placeholders must be edited: loading names the missing path
    with pytest.raises(InputFileError, match="not found"):
        load_config(ROOT / "configs" / "paper.yaml")


def test_missing_checkpoint_named(tmp_path):
    d = _cfg(models=[{"name": "v", "arch": "varnet", "checkpoint": str(tmp_path / "v.pt")}])
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(d))
    with pytest.raises(InputFileError, match=r"v\.pt: checkpoint not found.*models\[0\]"):
        load_config(p)


def test_cli_reports_bad_config(tmp_path, capsys):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(_cfg(attacks={"noise": {"eta": [0, -1]}})))
    assert main(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert "attacks.noise.eta[1]: must be >= 0" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.mkdir(), "is a folder without config.yaml"),
        (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n\xff\xfe"), "is not a text file"),
        (lambda p: p.write_text(""), "config file is empty"),
        (lambda p: p.write_text("# only a comment\n"), "config file is empty"),
        (lambda p: p.write_text("a: [1, 2\n b: }"), "not valid YAML"),
    ],
)
def test_cli_reports_unreadable_config_file(tmp_path, capsys, make, message):
    p = tmp_path / "c.yaml"
    make(p)
    assert main(["run", str(p), "--output", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("advrecon: error:") and "\n" not in err
    assert str(p) in err and message in err
    assert not (tmp_path / "runs").exists()
