"""Audit protocols: the shipped ones are valid, immutable and hashed; bad files are one line."""

from __future__ import annotations

import shutil

import pytest
import yaml

from advrecon.errors import ConfigError
from advrecon.experiments import protocol as P
from advrecon.experiments.config import parse_config


@pytest.mark.parametrize("name", P.PROTOCOL_NAMES)
def test_shipped_protocols_are_valid_experiments(name):
    proto = P.load_protocol(name)
    assert (proto.name, proto.hash) == (name, P.KNOWN_HASHES[(name, proto.version)])
    data = {"kind": "fastmri", "root": "data", "annotations": "knee.csv"}
    model = {"name": "m", "arch": "unet", "shipped": True, "preset": "demo", "acceleration": 4}
    config = parse_config(proto.experiment(data, model, "runs"))
    assert set(proto.headline) == set(proto.settings["attacks"])
    assert config.models[0].acceleration == 4


def test_quick_searches_the_reported_metric():
    """The headline metric is region SSIM: the searches that pick one point optimise it."""
    quick = P.load_protocol("quick").settings["attacks"]
    assert quick["noise"]["objective"] == "ssim" and quick["rotation"]["select_by"] == "ssim"
    for name in ("motion", "offresonance", "drift", "spikes"):
        assert quick[name]["objective"] == "ssim", name
    assert quick["noise"]["converge"] == {"tol": 0.001, "max_steps": 30}
    assert quick["noise"]["tightness"]["factor"] >= 10


def test_edited_shipped_protocol_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "quick.yaml"
    shutil.copy(P._shipped_path("quick"), path)
    raw = yaml.safe_load(path.read_text())
    raw["attacks"]["noise"]["eta"] = [0, 0.5, 1, 2]
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setattr(P, "_shipped_path", lambda name: path)
    with pytest.raises(ConfigError, match="was edited .* needs a new version"):
        P.load_protocol("quick")


def test_hash_ignores_the_description_only(tmp_path):
    raw = yaml.safe_load(P._shipped_path("quick").read_text())
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(raw))
    b.write_text(yaml.safe_dump({**raw, "description": "other words"}))
    assert P.load_protocol(a).hash == P.load_protocol(b).hash == P.load_protocol("quick").hash
    raw["seed"] = 1
    b.write_text(yaml.safe_dump(raw))
    assert P.load_protocol(b).hash != P.load_protocol(a).hash


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"colour": "red"}, "colour: unknown protocol key"),
        ({"version": 0}, "version: must be a positive integer"),
        ({"headline": {"noise": 1}}, "headline: give one budget for each threat model"),
        ({"headline": {"noise": 3, "rotation": 5}}, "headline.noise: 3 is not one of"),
        ({"verdict": {"robust": 1}}, "verdict:"),
    ],
)
def test_bad_protocol_file_is_one_line(tmp_path, edit, message):
    raw = {
        "protocol": "mine", "version": 1,
        "attacks": {"noise": {"eta": [0, 1]}, "rotation": {"theta_max": [0, 5]}},
        "headline": {"noise": 1, "rotation": 5},
    } | edit  # fmt: skip
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message) as info:
        P.load_protocol(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_verdict_reads_the_interval():
    v = P.Verdict(0.02, 0.05)
    assert v.of(0.0, 0.01) == "robust"
    assert v.of(0.06, 0.2) == "vulnerable"
    assert v.of(0.01, 0.1) == "inconclusive"
    assert v.of(float("nan"), float("nan")) == "inconclusive"
