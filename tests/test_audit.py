"""``advrecon audit``: a protocol run on one model, its card, resume, and bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from advrecon.cli import main  # noqa: E402
from advrecon.errors import ConfigError, InputFileError  # noqa: E402
from advrecon.experiments.audit import audit, resolve_model  # noqa: E402
from advrecon.report.card import build_card  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TINY_PROTOCOL = {
    "protocol": "tiny",
    "version": 1,
    "description": "a few seconds: tests only",
    "seed": 1,
    "slices": {"annotated_only": True, "one_per_volume": True, "box_policy": "first"},
    "masks": {"type": "random", "seed": "per_volume"},
    "targets": ["region"],
    "attacks": {
        "noise": {
            "eta": [0, 2], "steps": 2, "n_random": 2, "search": "apgd", "objective": "ssim",
            "converge": {"tol": 0.001, "max_steps": 4}, "tightness": {"eta": [2], "factor": 2},
        },
        "rotation": {"theta_max": [0, 2], "step": 1.0, "n_random": 2, "select_by": "ssim"},
    },
    "headline": {"noise": 2, "rotation": 2},
    "verdict": {"robust_below": 0.02, "vulnerable_above": 0.05},
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    from advrecon.data.synthetic import SynthConfig, generate_dataset

    root = tmp_path_factory.mktemp("data") / "synthetic"
    synth = SynthConfig(
        num_volumes=3, num_slices=2, num_coils=2, kspace_shape=(64, 32), recon_size=(32, 32),
        lesion_probability=1.0, seed=0,
    )  # fmt: skip
    generate_dataset(root, synth)
    return root


@pytest.fixture(scope="module")
def tiny_protocol(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("protocol") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_PROTOCOL))
    return path


@pytest.fixture(scope="module")
def audited(tiny_data, tiny_protocol, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = audit(
        "test_experiments_fakes:tiny_unet", tiny_data, protocol=tiny_protocol, output=out,
        progress=False,
    )  # fmt: skip
    return result


def test_audit_writes_card_and_report(audited):
    assert audited.complete
    card = json.loads(audited.card_json.read_text())
    assert card["schema_version"] == 1
    assert card["protocol"]["name"] == "tiny" and len(card["protocol"]["hash"]) == 12
    assert card["model"]["source"] == "test_experiments_fakes:tiny_unet"
    assert card["acceleration"] == 4 and card["data"]["kind"] == "synthetic"
    assert card["data"]["slices"] == 3 and len(card["data"]["fingerprint"]) == 16
    assert [t["name"] for t in card["threat_models"]] == ["noise", "rotation"]
    noise = card["threat_models"][0]
    assert noise["budget"] == 2 and noise["n"] == 3
    assert noise["tightness"] is not None and noise["tightness"] >= 0
    assert 0 <= noise["converged"] <= 1
    assert noise["verdict"] in ("robust", "vulnerable", "inconclusive")
    md = audited.card_md.read_text()
    assert "protocol tiny" in md and "| 2 deg |" in md
    html = audited.report.read_text()
    assert html.index("Scorecard") < html.index("Expected findings")
    assert html.index("<b>Audit</b> of <code>test_experiments_fakes:tiny_unet</code>") < html.index(
        "Scorecard"
    )


def test_card_recomputes_from_results_csv(audited):
    """The card equals its recomputation, and an independent pandas computation of the
    headline (per unit the lowest SSIM of every evaluated point, boxes then slices)."""
    run_dir = audited.run_dir
    assert build_card(run_dir) == json.loads((run_dir / "card.json").read_text())
    df = pd.read_csv(run_dir / "results.csv")
    card = json.loads((run_dir / "card.json").read_text())
    for t in card["threat_models"]:
        rows = df[(df.attack == t["name"]) & (df.target == "region") & (df.budget == t["budget"])]
        cols = [c for c in ("adv_ssim", "rand_worst_ssim", "evaluated_min_ssim") if c in rows]
        lowest = rows[cols].min(axis=1)
        per_unit = lowest.groupby([rows.file, rows.slice, rows.box_index]).min()
        per_slice = per_unit.groupby(level=[0, 1]).mean()
        assert t["worst_case"] == pytest.approx(per_slice.mean(), abs=2e-6)
        # never a "worst case" that an evaluated point beats: every evaluated value of a unit
        # is at least its headline
        for col in cols:
            vals = rows.set_index(["file", "slice", "box_index"])[col].dropna()
            assert (vals >= per_unit.reindex(vals.index) - 1e-12).all(), col
    rot = df[df.attack == "rotation"]
    assert (rot.evaluated_min_ssim <= rot.adv_ssim + 1e-12).all()
    assert (rot.evaluated_min_ssim <= rot.rand_mean_ssim + 1e-12).all()


def test_second_audit_recomputes_nothing(audited, tiny_data, tiny_protocol):
    run_dir = audited.run_dir
    files = [run_dir / n for n in ("results.csv", "card.json", "card.md", "audit.json")]
    files.append(run_dir / "report" / "report.html")
    before = [f.stat().st_mtime_ns for f in files]
    again = audit(
        "test_experiments_fakes:tiny_unet", tiny_data, protocol=tiny_protocol,
        output=run_dir.parent, progress=False,
    )  # fmt: skip
    assert again.run_dir == run_dir and again.card == audited.card
    assert [f.stat().st_mtime_ns for f in files] == before


def test_card_command_recomputes(audited, capsys):
    assert main(["card", str(audited.run_dir)]) == 0
    assert "card.json" in capsys.readouterr().out
    assert json.loads(audited.card_json.read_text()) == audited.card


def test_resolve_shipped_names():
    assert resolve_model("shipped:unet-4x", None) == (
        {"name": "unet", "arch": "unet", "acceleration": 4, "preset": "demo", "shipped": True}, 4
    )  # fmt: skip
    assert resolve_model("shipped:sense-8x", None)[0] == {
        "name": "sense", "arch": "sense", "acceleration": 8
    }  # fmt: skip
    assert resolve_model("shipped:varnet", 8)[1] == 8
    adv, acc = resolve_model("shipped:unet-4x-adversarial", None)
    assert acc == 4 and adv["variant"] == "adversarial" and adv["name"] == "unet_adversarial"
    with pytest.raises(ConfigError, match="no shipped 'nope' variant of unet at 8x"):
        resolve_model("shipped:unet-8x-nope", None)
    with pytest.raises(ConfigError, match="contradicts"):
        resolve_model("shipped:unet-4x", 8)
    with pytest.raises(ConfigError, match="weights exist for 4x, 8x, not 6x"):
        resolve_model("shipped:unet-6x", None)
    with pytest.raises(ConfigError, match="no shipped model 'resnet'"):
        resolve_model("shipped:resnet-4x", None)
    with pytest.raises(InputFileError, match="model file not found"):
        resolve_model("no/such/file.safetensors", None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "shipped:nope-4x"], "no shipped model 'nope'"),
        (["--model", "shipped:unet-4x", "--acceleration", "8"], "contradicts"),
        (["--model", "shipped:unet-4x", "--protocol", "knee-v9"], "unknown protocol 'knee-v9'"),
        (["--model", "missing.safetensors"], "missing.safetensors: model file not found"),
    ],
)
def test_bad_audit_input_is_one_line(tiny_data, tmp_path, capsys, argv, message):
    out = tmp_path / "runs"
    code = main(["audit", "--data", str(tiny_data), "--output", str(out), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing half-written


def test_data_folder_errors(tmp_path, capsys):
    assert main(["audit", "--model", "shipped:unet-4x", "--data", str(tmp_path / "nope")]) != 0
    assert "data folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["audit", "--model", "shipped:unet-4x", "--data", str(tmp_path / "empty")]) != 0
    assert "holds no .h5 files" in capsys.readouterr().err


def test_fastmri_data_needs_annotations(tiny_data, tmp_path, capsys):
    """A folder without synthetic.json is fastMRI data: knee-v1 needs the fastMRI+ CSV."""
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in tiny_data.glob("*.h5"):
        (plain / f.name).symlink_to(f)
    code = main(
        ["audit", "--model", "shipped:unet-4x", "--data", str(plain), "--protocol", "knee-v1"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "--annotations: protocol knee-v1 scores pathology boxes" in err
