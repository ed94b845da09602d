"""The report loops over the registered threat models: a plug-in without report hooks still gets
a figure, a finding and a table; the report's helpers never reach the registry."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from advrecon.attacks.contract import ReportContext, ReportHooks, ReportSection, ThreatModel
from advrecon.attacks.registry import SHIPPED, register, unregister
from advrecon.report import plugins
from advrecon.report.html import make_report

SRC = Path(__file__).resolve().parents[1] / "src" / "advrecon"


def _never(*args, **kwargs):
    raise AssertionError("the report never runs an attack")


BLUR = ThreatModel(
    "blur", "sigma_px", _never, object, _never, budget_unit="pixels (blur sigma)",
    budget_symbol=" px",
)  # fmt: skip


@pytest.fixture
def blur():
    register(BLUR)
    yield BLUR
    unregister("blur")


def _blur_run(root: Path, drop: float = 0.05) -> Path:
    """A run folder of the hook-less ``blur`` threat model: SSIM falls by ``drop`` per pixel."""
    rows = []
    for model in ("unet", "varnet"):
        for s in range(4):
            for b in (0.0, 1.0, 2.0):
                base = 0.8 + 0.01 * s
                rows.append(
                    dict(unit_id=f"{model}{s}{b}", model=model, acceleration=4, attack="blur",
                         rule="toy", target="region", budget=b, file="f", slice=s, box_index=0,
                         box_label="lesion", clean_ssim=base, adv_ssim=base - drop * b - 0.001 * s,
                         rand_mean_ssim=base - 0.001 * b, adv_ssim_full=base)
                )  # fmt: skip
    run = root / "run"
    run.mkdir()
    pd.DataFrame(rows).to_csv(run / "results.csv", index=False)
    manifest = {"status": "complete", "total_units": len(rows)}
    (run / "manifest.json").write_text(json.dumps(manifest))
    (run / "config.yaml").write_text(yaml.safe_dump({"name": "blur-run"}))
    return run


def test_plugin_without_hooks_gets_a_figure_a_finding_and_a_table(blur, tmp_path):
    run = _blur_run(tmp_path)
    page = make_report(run).read_text(encoding="utf-8")
    out = run / "report"
    assert (out / "figures" / "fig_blur_budget.png").is_file()
    assert (out / "figures" / "fig_blur_budget.svg").is_file()
    table = pd.read_csv(out / "tables" / "blur_region_ssim.csv")
    assert set(table["attack"]) == {"blur"} and (table["n_slices"] == 4).all()
    md = (out / "findings.md").read_text(encoding="utf-8")
    claim = "The blur attack lowers region SSIM below the random baseline at the largest budget."
    assert f"**{claim}** — *holds*" in md
    assert "unet 4x blur 2 px: SSIM(random) - SSIM(attack)" in md
    assert "fig_blur_budget" not in page  # shown by its caption
    assert "blur - region SSIM vs sigma_px" in page and "blur_region_ssim" in page
    assert "blur: pixels (blur sigma)" in page
    # an attack that raises SSIM above the baseline: the statement does not hold
    (tmp_path / "weak").mkdir()
    weak = pd.read_csv(_blur_run(tmp_path / "weak", -0.01) / "results.csv")
    got = {f.key: f.verdict for f in plugins.evaluate(weak)}
    assert got == {"blur_below_baseline": "does not hold"}


def test_plugin_hooks_are_called_with_the_run_and_sections_open_the_findings(tmp_path):
    seen: list[ReportContext] = []

    def sections(ctx):
        seen.append(ctx)
        return [ReportSection("Blur check", "measured `twice`.", pd.DataFrame({"n": [2]})),
                ReportSection("Blur note", "not measured.")]  # fmt: skip

    model = ThreatModel("blur", "sigma_px", _never, object, _never,
                        report=ReportHooks(sections=sections))  # fmt: skip
    register(model)
    try:
        run = _blur_run(tmp_path)
        page = make_report(run).read_text(encoding="utf-8")
    finally:
        unregister("blur")
    assert seen and seen[0].run_dir == run and seen[0].fig_dir.name == "figures"
    assert (seen[0].rows("blur")["attack"] == "blur").all()
    md = (run / "report" / "findings.md").read_text(encoding="utf-8")
    assert "Blur check: measured `twice`." in md and "not measured" not in md
    assert "<h2>Blur check</h2>" in page and "<code>twice</code>" in page
    assert "<b>Blur note:</b> not measured." in page
    assert not list((run / "report" / "figures").glob("fig_blur*"))  # it has hooks: no generic


def test_threat_models_without_rows_are_left_out():
    df = pd.DataFrame([dict(attack="noise", model="u", acceleration=4)])
    assert [tm.name for tm, _ in plugins.active(df)] == ["noise"]
    assert plugins.active(df.assign(attack="nope")) == []


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def test_only_the_report_entry_reaches_the_registry_and_no_helper_names_a_plugin():
    shipped = {f"advrecon.attacks.{n}" for n in SHIPPED}
    for path in sorted((SRC / "report").glob("*.py")):
        found = _imports(path)
        plugin = {m for m in found if any(m == s or m.startswith(f"{s}.") for s in shipped)}
        assert not plugin, f"{path.name} imports {plugin}"
        if path.name != "plugins.py":
            assert "advrecon.attacks.registry" not in found, path.name
            assert "advrecon.report.plugins" not in found or path.name in (
                "html.py",
                "summary.py",
                "card.py",
            )


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_hook_modules_load_light_and_import_no_other_plugin(name):
    package = SRC / "attacks" / name / "report"
    top = ast.parse((package / "__init__.py").read_text(encoding="utf-8"))
    module_level = {
        n.module for n in top.body if isinstance(n, ast.ImportFrom) and n.module != "__future__"
    }
    assert module_level <= {"advrecon.attacks.contract", "typing"}, module_level
    others = {f"advrecon.attacks.{n}" for n in SHIPPED if n != name}
    for path in package.glob("*.py"):
        found = _imports(path)
        assert not {m for m in found for o in others if m == o or m.startswith(f"{o}.")}, path


def test_loading_the_registry_loads_no_plotting():
    code = (
        "import sys; from advrecon.attacks.registry import threat_models; threat_models(); "
        "print(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'advrecon.report'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True
    )
    assert out.stdout.strip() == "[]"


def test_mean_ci_columns_of_every_plugin_table(tmp_path):
    # the shipped plug-ins' tables keep their names (CSV files of the report)
    rng = np.random.default_rng(0)
    rows = [
        dict(model="u", acceleration=4, attack="feature", rule="worst", target="region",
             budget=b, file="f", slice=s, box_index=0, adv_ssim=0.8, clean_ssim=0.8,
             feature_recovered=rng.uniform(), rand_feature_recovered=0.5, feature_cnr=4.0)
        for s in range(3) for b in (0.0, 25.0)
    ]  # fmt: skip
    tables = plugins.summary_tables(plugins.context(pd.DataFrame(rows)))
    assert list(tables) == [
        "region_ssim_adversarial",
        "region_ssim_clean",
        "feature_recovered",
        "feature_recovered_random_position",
        "feature_cnr",
    ]
    assert all({"mean", "ci_low", "ci_high", "n_slices"} <= set(t.columns) for t in tables.values())
