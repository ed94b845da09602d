"""Experiment config: validation messages, hash, shipped presets."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from advrecon.attacks.noise import DEFAULT_SEARCH
from advrecon.attacks.search import APGD_STEP
from advrecon.cli import main
from advrecon.errors import ConfigError, InputFileError
from advrecon.experiments.config import RESULT_NEUTRAL_KEYS, load_config, parse_config

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
        (
            {"attacks": {"noise": {"eta": [0, 1], "image_eta": [2, -1]}}},
            "attacks.noise.image_eta[1]: must be >= 0",
        ),
        (
            {"attacks": {"noise": {"eta": [0, 1], "search": "adam"}}},
            "attacks.noise.search: must be one of pgd, apgd, got 'adam'",
        ),
        (
            {"attacks": {"noise": {"eta": [0, 1], "restarts": -1}}},
            "attacks.noise.restarts: must be >= 1",
        ),
        (
            {"attacks": {"noise": {"eta": [0, 1], "restarts": 0}}},
            "attacks.noise.restarts: must be >= 1",
        ),
        (
            {"attacks": {"noise": {"eta": [0, 1], "tightness": {"eta": [2]}}}},
            "attacks.noise.tightness.eta[0]: 2 is not one of eta",
        ),
        (
            {"attacks": {"noise": {"eta": [1], "tightness": {"eta": [1], "factor": 1}}}},
            "attacks.noise.tightness.factor: must be >= 2",
        ),
        (
            {"attacks": {"noise": {"eta": [1], "tightness": {"eta": [1], "models": ["nope"]}}}},
            "attacks.noise.tightness.models[0]: no model named 'nope'",
        ),
    ],
)
def test_bad_values_name_the_key(change, message):
    with pytest.raises(ConfigError, match=None) as err:
        parse_config(_cfg(**change))
    assert message in str(err.value)


def test_image_eta_restricts_the_complete_image_budgets():
    from advrecon.boxes import Box
    from advrecon.experiments.units import SliceRef, expand_units

    ref = SliceRef("f", 0, (Box(1, 1, 8, 8),), (16, 16))
    plain = parse_config(_cfg())
    cfg = parse_config(_cfg(attacks={"noise": {"eta": [0, 0.5, 1], "image_eta": [1]}}))
    assert parse_config(cfg.to_dict()) == cfg and cfg.hash() != plain.hash()

    def budgets(c, target):
        units = [u for b in expand_units(c, [ref]) for u in b.units]
        return sorted({u.budget for u in units if u.target == target and u.attack == "noise"})

    assert budgets(cfg, "region") == [0.0, 0.5, 1.0] and budgets(cfg, "image") == [1.0]
    assert budgets(plain, "image") == [0.0, 0.5, 1.0]


def test_hash_covers_results_not_run_settings(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 1)
    a = parse_config(_cfg())
    b = parse_config(_cfg(output="elsewhere", device="cuda", chunk_size=4, name="other"))
    c = parse_config(_cfg(attacks={"noise": {"eta": [0, 0.5, 2]}}))
    assert a.hash() == b.hash() != c.hash()
    assert a.run_dir().name == a.hash()[:10]


def test_shipped_configs_parse():
    demo = load_config(ROOT / "configs" / "demo.yaml", check_paths=False)
    networks = {"unet@4x", "unet@8x", "varnet@4x", "varnet@8x"}
    hardened = {"unet_adv@4x"}  # the adversarially trained U-Net (a shipped variant)
    assert {m.key for m in demo.models} == networks | hardened | {"sense@4x"}  # + classical
    assert all(m.shipped == (m.key in networks | hardened) for m in demo.models)
    assert demo.data.kind == "synthetic"
    paper = load_config(ROOT / "configs" / "paper.yaml", check_paths=False, device="cpu")
    assert paper.noise.eta == (0.0, 0.2, 0.5, 1.0, 1.5, 2.0, 2.5)
    assert paper.rotation.theta_max == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    assert paper.rotation.step == pytest.approx(0.1)
    assert {m.preset for m in paper.models} == {"paper"}
    # the placeholders must be edited: loading names the missing path
    with pytest.raises(InputFileError, match="not found"):
        load_config(ROOT / "configs" / "paper.yaml", device="cpu")
    assert demo.attacks.motion.theta_max == (0.0, 2.0) and demo.attacks.motion.models == ("unet",)
    motion = load_config(ROOT / "configs" / "motion.yaml", check_paths=False, device="cpu")
    assert motion.attacks.motion.pixel_size == pytest.approx(0.4375)
    assert motion.attacks.motion.t_max_for(3.0) == pytest.approx(1.5)


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


# -------------------------------------------------------------- issue 10: validation at load
def _model(**kw) -> dict:
    return {"models": [{"name": "a", "arch": "unet", "shipped": True, **kw}]}


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"slices": {"box_policy": "firts"}},
            "slices.box_policy: must be one of all, first, got 'firts' (did you mean 'first'?)",
        ),
        (_model(preset="huge"), "models[0].preset: must be one of demo, paper, fastmri"),
        (_model(preset="paper"), "models[0].preset: the shipped weights are the 'demo' preset"),
        (
            {"models": [{"name": "a", "spec": "m:f", "preset": "demo"}]},
            "models[0].preset: a preset applies only to checkpoint or shipped weights",
        ),
        (
            {"data": {"kind": "synthetic", "root": "x", "synthetic": {"num_coil": 4}}},
            "data.synthetic.num_coil: unknown key; did you mean 'num_coils'?",
        ),
        (
            {"data": {"kind": "synthetic", "root": "x", "synthetic": {"num_volumes": 0}}},
            "data.synthetic: num_volumes must be >= 1",
        ),
        (
            {"data": {"kind": "synthetic", "root": "x", "synthetic": {"kspace_shape": [64]}}},
            "data.synthetic.kspace_shape: must be a list of 2 values, got [64]",
        ),
        (
            {"data": {"kind": "synthetic", "root": "x", "synthetic": {"seed": "x"}}},
            "data.synthetic.seed: must be an integer, got 'x'",
        ),
        (
            {"attacks": {"noise": {"eta": [0, float("inf")]}}},
            "attacks.noise.eta[1]: must be a finite number, got inf",
        ),
        (
            {"attacks": {"rotation": {"theta_max": [0, 180], "step": 1e-5}}},
            "attacks.rotation.step: a 1e-05 deg grid over +-180 deg has 36000001 angles, more "
            "than the maximum of 100001",
        ),
        ({"device": "gpu:0"}, "device: 'gpu:0' is not a device; use cpu, cuda, cuda:N or mps"),
        ({"device": "meta"}, "device: device type 'meta' is not supported"),
        ({"device": 0}, "device: must be a device name"),
    ],
)
def test_values_checked_at_load_name_the_key(change, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_cfg(**change))
    assert message in str(err.value)


def test_rotation_grid_at_the_bound_is_accepted():
    cfg = parse_config(_cfg(attacks={"rotation": {"theta_max": [5], "step": 1e-4}}))
    assert cfg.rotation.step == 1e-4  # 100 001 angles: the documented maximum


@pytest.mark.parametrize("device, available, count", [("cuda", False, 0), ("cuda:3", True, 2)])
def test_cuda_device_must_exist_here(monkeypatch, device, available, count):
    monkeypatch.setattr("torch.cuda.is_available", lambda: available)
    monkeypatch.setattr("torch.cuda.device_count", lambda: count)
    with pytest.raises(ConfigError, match=rf"^device: '{device}' requested but"):
        parse_config(_cfg(device=device))


def test_mps_device_must_exist_here(monkeypatch):
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    with pytest.raises(ConfigError, match="MPS is not available"):
        parse_config(_cfg(device="mps"))


def test_device_override_lets_a_gpu_config_load_on_a_cpu(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(_cfg(device="cuda")))
    with pytest.raises(ConfigError, match=rf"^{p}: device: 'cuda' requested"):
        load_config(p, check_paths=False)
    assert load_config(p, check_paths=False, device="cpu").device == "cpu"
    with pytest.raises(ConfigError, match="^--device: 'gpu' is not a device"):
        load_config(p, check_paths=False, device="gpu")
    with pytest.raises(ConfigError, match="device: 'cuda:x' is not a device"):
        parse_config(_cfg()).with_overrides(device="cuda:x")
    assert main(["run", str(p), "--output", str(tmp_path / "runs"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--device: 'cuda' requested but CUDA is not available" in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_eta_above_100_percent_warns_with_key_path_and_file(tmp_path, caplog):
    from advrecon.experiments.config import ConfigWarning

    with pytest.warns(ConfigWarning, match=r"attacks\.noise\.eta\[1\]: 1e\+06 % is above 100 %"):
        parse_config(_cfg(attacks={"noise": {"eta": [0, 1e6]}}))
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(_cfg(attacks={"noise": {"eta": [100, 250]}})))
    with caplog.at_level("WARNING"):
        assert load_config(p, check_paths=False).noise.eta == (100.0, 250.0)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [f"{p}: attacks.noise.eta[1]: 250 % is above 100 % of each coil's k-space "
                      "norm (eta is in percent: 2.5 means 2.5 %)"]  # fmt: skip


def test_search_default_and_the_old_behaviour_keeps_its_hash():
    base = _cfg(attacks={"noise": {"eta": [0, 1]}})
    default = parse_config(base)
    assert default.noise.search == DEFAULT_SEARCH and default.noise.restarts == 1
    old = copy.deepcopy(base)
    old["attacks"]["noise"].update(search="pgd", restarts=1, tightness=None)
    other = copy.deepcopy(base)
    other["attacks"]["noise"].update(search="apgd")
    more = copy.deepcopy(base)
    more["attacks"]["noise"].update(search="pgd", restarts=2)
    assert len({parse_config(c).hash() for c in (old, other, more)}) == 3
    assert (
        parse_config(base).hash() == parse_config(old if DEFAULT_SEARCH == "pgd" else other).hash()
    )
    # PGD, one run, no check (the code before these keys) hashes as a dump without the keys
    d = parse_config(old).to_dict()
    for key in RESULT_NEUTRAL_KEYS:
        d.pop(key, None)
    for key in ("search", "restarts", "tightness", "apgd_step", "converge"):
        del d["attacks"]["noise"][key]
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
    assert parse_config(old).hash() == hashlib.sha256(blob.encode()).hexdigest()


def test_apgd_steps_enter_the_hash_only_where_they_change_results():
    def h(**noise):
        return parse_config(_cfg(attacks={"noise": {"eta": [0, 1], **noise}})).hash()

    # PGD ignores apgd_step: the old PGD hash whatever its value
    assert h(search="pgd") == h(search="pgd", apgd_step=0.25)
    # APGD: the step changes its numbers; 2.0 (the older code's step) keeps the older hash
    assert (
        len({h(search="apgd"), h(search="apgd", apgd_step=0.5), h(search="apgd", apgd_step=2.0)})
        == 3
    )
    d = parse_config(_cfg(attacks={"noise": {"eta": [0, 1], "search": "apgd"}})).to_dict()
    for key in ("apgd_step", "restarts", "tightness", "converge"):  # the older code's values
        del d["attacks"]["noise"][key]
    for key in RESULT_NEUTRAL_KEYS:
        d.pop(key, None)
    blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
    assert h(search="apgd", apgd_step=2.0) == hashlib.sha256(blob.encode()).hexdigest()
    # the tightness check's own step: 2.0 (its default, the older code's) hashes as before
    tight = {"eta": [1]}
    assert h(search="pgd", tightness=tight) == h(
        search="pgd", tightness={**tight, "apgd_step": 2.0}
    )
    assert h(search="pgd", tightness=tight) != h(
        search="pgd", tightness={**tight, "apgd_step": 1.0}
    )
    cfg = parse_config(_cfg(attacks={"noise": {"eta": [0, 1], "tightness": tight}})).noise
    assert (cfg.apgd_step_for("l2"), cfg.apgd_step_for("tight")) == (APGD_STEP, 2.0)
