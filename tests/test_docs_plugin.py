"""The plug-in printed in docs/threat_models.md, installed from outside the package, end to end.

The listing is saved as a user would save it, made installed through an entry point of the
group ``advrecon.threat_models`` (a distribution's metadata on ``sys.path``, exactly what
``pip install`` leaves), run through a real experiment and a report: its rows, its figure and
its finding appear, with nothing in advrecon edited.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import docs_plugin  # noqa: E402
import test_experiments_fakes as fakes  # noqa: E402

from advrecon.attacks import registry  # noqa: E402
from advrecon.errors import ConfigError  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402

ENTRY_POINTS = "[advrecon.threat_models]\nphase_ramp = phase_ramp:THREAT_MODEL\n"


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """The docs' plug-in as an installed distribution with an entry point; a fresh registry."""
    site = tmp_path / "site"
    dist = site / "phase_ramp_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: phase-ramp-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    docs_plugin.write_plugin(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_REGISTERED", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    yield site
    sys.modules.pop(docs_plugin.NAME, None)


def _config(**attacks) -> dict:
    cfg = fakes.real_config_dict("runs", "data")
    cfg["attacks"] = attacks
    return cfg


def test_the_page_prints_one_complete_plugin():
    code = docs_plugin.listings()[f"{docs_plugin.NAME}.py"]
    assert "THREAT_MODEL = ThreatModel(" in code and "ReportHooks(" in code
    compile(code, "phase_ramp.py", "exec")


def test_entry_point_plugin_runs_and_reports_with_its_own_figure_and_finding(
    installed, tmp_path, monkeypatch
):
    from advrecon.report.html import make_report

    monkeypatch.chdir(tmp_path)
    names = list(registry.threat_models())
    assert names[: len(registry.SHIPPED)] == list(registry.SHIPPED)
    assert names[-1] == docs_plugin.NAME  # shipped first, then the entry point
    config = parse_config(_config(phase_ramp={"max_shift": [0, 1, 2], "steps": 2}))
    summary = run_experiment(config, progress=False)
    df = pd.read_csv(summary.run_dir / "results.csv")
    assert set(df["attack"]) == {docs_plugin.NAME} and summary.complete
    assert df["unit_id"].str.contains("/phase_ramp-pgd/region/s001.000/").any()
    report = Path(make_report(summary.run_dir))
    html = report.read_text(encoding="utf-8")
    png = report.parent / "figures" / "fig_phase_ramp.png"
    assert base64.b64encode(png.read_bytes()).decode() in html  # its own figure, embedded
    assert "Region SSIM under a worst-case and a random shift" in html  # with its caption
    assert "A worst-case shift lowers region SSIM more than a random shift" in html
    findings = (report.parent / "findings.md").read_text(encoding="utf-8")
    assert "worst-case shift" in findings


def test_config_plugins_key_loads_a_module_from_outside(tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    docs_plugin.write_plugin(folder)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(registry, "_REGISTERED", {})
    monkeypatch.setattr(registry, "_LOADED", False)
    try:
        cfg = _config(phase_ramp={"max_shift": [0, 1]})
        with pytest.raises(ConfigError, match=r"attacks\.phase_ramp: unknown key"):
            parse_config(cfg)
        config = parse_config({**cfg, "plugins": [docs_plugin.NAME]})
        assert config.attacks.phase_ramp.max_shift == (0.0, 1.0)
        with pytest.raises(ConfigError, match=r"^plugins\[0\]: cannot import plug-in module"):
            parse_config({**cfg, "plugins": ["no_such_plugin_module"]})
    finally:
        sys.modules.pop(docs_plugin.NAME, None)
