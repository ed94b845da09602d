"""Report from a synthetic results table with known effects (no attacks run)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from advrecon.cli import main
from advrecon.experiments.store import save_arrays
from advrecon.report import findings
from advrecon.report.tables import mean_ci


def _table(run_dir: Path) -> pd.DataFrame:
    """Effects built in: SSIM falls with eta, VarNet +0.05 over UNet with the same slope, 8x
    -0.03, targeted hurts more than complete image, rotation hurts little, random does little,
    l2 stronger than reference."""
    rng = np.random.default_rng(0)
    rows = []
    for model in ("unet", "varnet"):
        for acc in (4, 8):
            for s in range(5):
                base = 0.80 + 0.05 * (model == "varnet") - 0.03 * (acc == 8) + 0.01 * s
                for rule in ("l2", "reference"):
                    for target in ("region", "image"):
                        for eta in (0, 0.5, 1, 2.5):
                            k = 0.06 if target == "region" else 0.03
                            k *= 1.0 if rule == "l2" else 0.7
                            adv = base - k * eta + rng.normal(0, 0.002)
                            rows.append(
                                dict(
                                    model=model,
                                    acceleration=acc,
                                    attack="noise",
                                    rule=rule,
                                    target=target,
                                    budget=eta,
                                    box_index=0,
                                    adv_ssim=adv,
                                    clean_ssim=base,
                                    rand_mean_ssim=base - 0.002 * eta,
                                    adv_ssim_full=adv + 0.01,
                                )
                            )
                for th in (0, 1, 3, 5):
                    rows.append(
                        dict(
                            model=model,
                            acceleration=acc,
                            attack="rotation",
                            rule="grid",
                            target="region",
                            budget=th,
                            box_index=0,
                            adv_ssim=base - 0.004 * th + rng.normal(0, 0.001),
                            clean_ssim=base,
                            rand_mean_ssim=base - 0.001 * th,
                            angle_deg=-th,
                            adv_ssim_full=base,
                        )
                    )
    df = pd.DataFrame(rows)
    df["file"] = [f"file{r}" for r in rng.integers(0, 1, len(df))]
    df["slice"] = np.tile(np.repeat(np.arange(5), 2 * 2 * 4 + 4), 4)
    df["box_label"] = "lesion"
    df["unit_id"] = [f"u{i:05d}" for i in range(len(df))]
    # arrays for the panels: one file per row (tiny images)
    img = np.linspace(0, 1, 24 * 24, dtype=np.float32).reshape(24, 24)
    names = []
    for i in range(len(df)):
        name = f"arrays/u{i:05d}.npz"
        if i % 7 == 0 or df.loc[i, "budget"] in (2.5, 5):
            save_arrays(
                run_dir / name,
                {
                    "target": img,
                    "clean": img * 0.9,
                    "adversarial": img * 0.7,
                    "reference": img * 1.1,
                    "box": np.array([4, 5, 8, 6]),
                },
            )
            names.append(name)
        else:
            names.append(None)
    df["arrays_file"] = names
    return df


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    df = _table(d)
    df.to_csv(d / "results.csv", index=False)
    curves = pd.DataFrame(
        [
            dict(
                model="unet",
                acceleration=a,
                target="region",
                file="file0",
                slice=s,
                box_index=0,
                angle=ang,
                ssim=0.8 - 0.01 * abs(ang),
                ssim_full=0.85,
            )
            for a in (4, 8)
            for s in range(5)
            for ang in np.arange(-5, 5.01, 0.5)
        ]
    )
    curves.to_csv(d / "rotation_curves.csv", index=False)
    cfg = {
        "name": "synthetic-table",
        "models": [{"name": "unet", "arch": "unet"}, {"name": "varnet", "arch": "varnet"}],
    }
    (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    (d / "manifest.json").write_text(json.dumps({"config_hash": "abc", "status": "complete"}))
    return d


def test_mean_ci_matches_t_interval():
    m, lo, hi, n = mean_ci([1.0, 2.0, 3.0, np.nan])
    assert (m, n) == (2.0, 3) and hi - m == pytest.approx(4.303 * 1.0 / np.sqrt(3))


def test_findings_verdicts_follow_the_table(run_dir):
    df = pd.read_csv(run_dir / "results.csv")
    got = {f.key: f.verdict for f in findings.evaluate(df, {"unet": "unet", "varnet": "varnet"})}
    assert got["steady_fall"] == "holds"
    assert got["targeted_vs_complete"] == "holds"
    assert got["rotation_vs_noise"] == "holds"
    assert got["varnet_vs_unet"] == "holds"
    assert got["8x_worse"] == "holds"
    assert got["random_noise"] == "holds"
    assert got["l2_vs_reference_eta2.5"] == "holds"
    # reversed effect -> does not hold; no data -> not enough data
    flipped = df.assign(acceleration=df.acceleration.map({4: 8, 8: 4}))
    assert {f.key: f.verdict for f in findings.evaluate(flipped)}["8x_worse"] == "does not hold"
    only_rot = df[df.attack == "rotation"]
    assert {f.key: f.verdict for f in findings.evaluate(only_rot)}["steady_fall"] == (
        "not enough data"
    )


def test_report_files_and_html(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    out = run_dir / "report"
    assert str(out / "report.html") in capsys.readouterr().out
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Expected findings" in html
    assert 'src="http' not in html and "synthetic-table" in html
    for name in (
        "fig1a_noise_budget",
        "fig1b_targeted_vs_complete",
        "fig4a_rotation_budget",
        "fig4b_rotation_example",
        "fig_rules",
        "panel_noise_worst",
        "panel_noise_median",
        "panel_rotation_worst",
    ):
        assert (out / "figures" / f"{name}.png").is_file(), name
        assert (out / "figures" / f"{name}.svg").is_file(), name
    md = (out / "findings.md").read_text()
    assert md.count("*holds*") >= 7 and "95% CI" in md
    t = pd.read_csv(out / "tables" / "region_ssim_adversarial.csv")
    assert {"mean", "ci_low", "ci_high", "n_slices"} <= set(t.columns)
    assert (t["n_slices"] == 5).all()


def test_report_of_missing_run_is_a_clear_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "run folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report").exists()
    (tmp_path / "empty" / "manifest.json").write_text("{}")
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "no results table" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "report").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "is not a folder"),
        (b"", "empty or truncated"),
        (b"unit_id,model,adv_ssim,cle", "empty or truncated"),  # header cut by a crash
        (b"unit_id,model,adv_ssim\n", "no complete row"),
        (b"unit_id,model,adv_ssim\nu1,unet,0.", "no complete row"),  # only row cut
        (b"\x89PNG\r\n\x1a\n\xff\xfe", "not a text CSV"),
    ],
)
def test_report_of_broken_results_is_a_clear_error(tmp_path, capsys, content, message):
    run = tmp_path / "run"
    if content is None:
        run.write_text("not a folder")
        before = None
    else:
        run.mkdir()
        (run / "manifest.json").write_text("{}")
        (run / "results.csv").write_bytes(content)
        before = content
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("advrecon: error:") and "\n" not in err and "Traceback" not in err
    assert message in err and str(run) in err
    if before is not None:  # the report only reads the run folder
        assert (run / "results.csv").read_bytes() == before
        assert not (run / "report").exists()


def test_directional_verdict_separates_contradiction_from_too_little_data():
    from advrecon.report.findings import FAILS, HOLDS, UNKNOWN, _directional

    sig, weak, wrong = (0.2, 0.1, 0.3, 4), (0.2, -0.1, 0.5, 4), (-0.2, -0.3, -0.1, 4)
    assert _directional([sig, sig, weak]) == HOLDS
    assert _directional([sig, weak, weak]) == UNKNOWN  # right direction, mostly not significant
    assert _directional([sig, sig, wrong]) == FAILS
    assert _directional([sig, (-0.01, -0.2, 0.2, 4)]) == UNKNOWN  # a mean the wrong way
    assert _directional([]) == UNKNOWN
