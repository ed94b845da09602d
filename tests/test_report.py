"""Report from a synthetic results table with known effects (no attacks run)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

import advrecon.report.html as report_html
from advrecon.attacks.rotation.report.figures import rotation_panel
from advrecon.cli import main
from advrecon.experiments.results_store import load_arrays, save_arrays
from advrecon.report import panels, plugins
from advrecon.report.html import make_report
from advrecon.report.progress import PartialRunError


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
    manifest = {"config_hash": "abc", "status": "complete", "total_units": len(df)}
    (d / "manifest.json").write_text(json.dumps({**manifest, "done_units": len(df)}))
    return d


def test_findings_verdicts_follow_the_table(run_dir):
    df = pd.read_csv(run_dir / "results.csv")
    got = {f.key: f.verdict for f in plugins.evaluate(df, {"unet": "unet", "varnet": "varnet"})}
    assert got["steady_fall"] == "holds"
    assert got["targeted_vs_complete"] == "holds"
    assert got["rotation_vs_noise"] == "holds"
    assert got["varnet_vs_unet"] == "holds"
    assert got["8x_worse"] == "holds"
    assert got["random_noise"] == "holds"
    assert got["l2_vs_reference_eta2.5"] == "holds"
    # reversed effect -> does not hold; no data -> not enough data
    flipped = df.assign(acceleration=df.acceleration.map({4: 8, 8: 4}))
    assert {f.key: f.verdict for f in plugins.evaluate(flipped)}["8x_worse"] == "does not hold"
    # a threat model without rows has no statements; one compared with it has no data
    only_rot = {f.key: f.verdict for f in plugins.evaluate(df[df.attack == "rotation"])}
    assert "steady_fall" not in only_rot and only_rot["rotation_vs_noise"] == "not enough data"


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
    n = len(pd.read_csv(run_dir / "results.csv"))
    assert f"Units done: {n} / {n}" in md and f"Units done: {n} / {n}" in html
    assert "PARTIAL" not in md and "PARTIAL" not in html
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


# ---------------------------------------------------------------- partial runs


def _small_run(root: Path, manifest: dict | None, n_slices: int = 4) -> Path:
    """A run folder with ``n_slices`` region-noise units (eta 1%) and no arrays."""
    run = root / "run"
    run.mkdir()
    rows = [
        dict(
            unit_id=f"u{s}",
            model="unet",
            acceleration=4,
            attack="noise",
            rule="l2",
            target="region",
            budget=1.0,
            box_index=0,
            file="f",
            slice=s,
            box_label="lesion",
            adv_ssim=0.6 + 0.01 * s,
            clean_ssim=0.8,
        )
        for s in range(n_slices)
    ]
    pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    if manifest is not None:
        (run / "manifest.json").write_text(json.dumps(manifest))
    return run


@pytest.mark.parametrize(
    "manifest, fraction, why",
    [
        ({"status": "running", "total_units": 96, "done_units": 3}, "4 / 96", "status: running"),
        ({"status": "interrupted", "total_units": 96}, "4 / 96", "status: interrupted"),
        ({"status": "partial", "total_units": 96}, "4 / 96", "status: partial"),  # --max-units
        ({"status": "complete"}, "4 / unknown total", "no valid total_units"),  # old folder
        ({"status": "complete", "total_units": 5}, "4 / 5", "lacks units"),  # a lost row
        (
            {"status": "complete", "total_units": "many"},
            "4 / unknown total",
            "no valid total_units",
        ),
    ],
)
def test_partial_run_is_refused_unless_allowed_then_marked(
    tmp_path, capsys, manifest, fraction, why
):
    run = _small_run(tmp_path, manifest)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("advrecon: error:") and "\n" not in err
    assert f"partial run ({fraction} units" in err and why in err and "--allow-partial" in err
    assert not (run / "report").exists()
    with pytest.raises(PartialRunError):
        make_report(run, tmp_path / "api")
    assert not (tmp_path / "api").exists()

    assert main(["report", str(run), "--allow-partial"]) == 0
    banner = f"PARTIAL RUN: {fraction} units — verdicts are provisional"
    page = (run / "report" / "report.html").read_text(encoding="utf-8")
    assert banner in page and page.index(banner) < page.index("<h1>")
    md = (run / "report" / "findings.md").read_text(encoding="utf-8")
    assert banner in md and md.index(banner) < md.index("- **")
    assert f"Units done: {fraction}" in md


def test_complete_run_reports_done_over_total_without_banner(tmp_path):
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4, "done_units": 4})
    html_path = make_report(run)
    page = html_path.read_text(encoding="utf-8")
    assert "Units done: 4 / 4 (run status: complete" in page and "PARTIAL" not in page


# ---------------------------------------------------------------- writing the report


def test_out_that_cannot_be_a_folder_is_one_clear_error(tmp_path, capsys):
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4})
    (tmp_path / "file").write_text("keep me")
    for out in (tmp_path / "file", tmp_path / "file" / "report"):
        assert main(["report", str(run), "--out", str(out)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"advrecon: error: {out}: cannot write the report there")
        assert "\n" not in err and "Traceback" not in err
    assert (tmp_path / "file").read_text() == "keep me"


def test_read_only_out_writes_nothing(tmp_path, capsys, monkeypatch):
    # a read-only folder (simulated: the tests may run as root, who may write anywhere)
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4})

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(report_html.tempfile, "mkdtemp", refuse)
    out = tmp_path / "new" / "report"
    assert main(["report", str(run), "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{out}: cannot write the report there (Permission denied)" in err
    assert not (tmp_path / "new").exists()  # the folders it made are gone again


def test_failure_half_way_keeps_the_previous_report(tmp_path, capsys, monkeypatch):
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4})
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")  # not the report's: never touched
    make_report(run, out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report_html.plugins, "figures", full_disk)
    assert main(["report", str(run), "--out", str(out)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == [
        "figures",
        "findings.md",
        "notes.txt",
        "report.html",
        "tables",
    ]


def test_report_replaces_stale_entries(tmp_path):
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4})
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "stale.png").write_bytes(b"old")
    make_report(run, out)
    assert not (out / "figures" / "stale.png").exists()
    assert (out / "report.html").is_file() and not list(out.glob(".report-*"))


# ---------------------------------------------------------------- rotation panel


def _panel_axes(tmp_path, monkeypatch, reference_of, key="control"):
    """Axes (3 x 4, row-major) of the panel of a rotation row whose arrays hold
    ``reference_of(target)`` as the control (under ``key``: ``reference`` in older runs)."""
    img = np.linspace(0, 1, 16 * 16, dtype=np.float32).reshape(16, 16)
    arrays = {
        "target": img,
        "clean": img * 0.9,
        "adversarial": img * 0.8,
        key: reference_of(img),
        "box": np.array([2, 3, 5, 4]),
        "angle_deg": np.float32(-3.0),
    }
    save_arrays(tmp_path / "arrays" / "u.npz", arrays)
    row = pd.Series(
        dict(
            attack="rotation",
            model="unet",
            acceleration=4,
            budget=5.0,
            angle_deg=-3.0,
            clean_ssim=0.9,
            adv_ssim=0.8,
            file="f",
            slice=0,
            box_label="lesion",
            arrays_file="arrays/u.npz",
        )
    )
    figs = []
    monkeypatch.setattr(panels, "save", lambda fig, out_dir, name: figs.append(fig))
    rotation_panel(row, tmp_path, tmp_path / "figures", "p")
    axes = figs[0].axes
    plt.close(figs[0])
    return axes, load_arrays(tmp_path / "arrays" / "u.npz")


@pytest.mark.parametrize("key", ["control", "reference"])  # today's name, older runs' name
def test_rotation_panel_shows_the_stored_rotated_and_back_reference(tmp_path, monkeypatch, key):
    axes, a = _panel_axes(tmp_path, monkeypatch, lambda t: np.roll(t, 1, axis=0), key)
    assert "rotated -3.0 deg and back" in axes[3].get_title()
    assert "not stored" not in axes[3].get_title()
    np.testing.assert_array_equal(axes[3].images[0].get_array(), a[key])
    np.testing.assert_allclose(axes[11].images[0].get_array(), np.abs(a[key] - a["target"]))


def test_rotation_panel_of_an_old_run_says_the_reference_is_missing(tmp_path, monkeypatch):
    # older runs stored the unrotated target as "reference": no trivially-zero difference map
    axes, _ = _panel_axes(tmp_path, monkeypatch, lambda t: t.copy())
    assert "not stored in this run" in axes[3].get_title()
    assert not axes[3].images and not axes[7].images and not axes[11].images


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.drop(columns=["attack", "budget"]), "lacks the column(s) attack, budget"),
        (
            lambda d: d.assign(acceleration=["4x", 4, 4, 4]),
            "column acceleration, data row 1: '4x' is not",
        ),
        (lambda d: d.assign(budget=[1.0, None, 1.0, 1.0]), "column budget, data row 2: is empty"),
    ],
)
def test_results_without_what_the_report_reads_is_a_clear_error(tmp_path, capsys, edit, message):
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4})
    edit(pd.read_csv(run / "results.csv")).to_csv(run / "results.csv", index=False)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"advrecon: error: {run / 'results.csv'}: ") and message in err
    assert "\n" not in err and not (run / "report").exists()


def test_rotation_curves_without_their_columns_is_a_clear_error(tmp_path, capsys):
    run = _small_run(tmp_path, {"status": "complete", "total_units": 4})
    (run / "rotation_curves.csv").write_text("model,angle\nunet,1.0\n")
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "rotation_curves.csv: lacks the column(s) target, file, acceleration" in err
