"""Missing-feature and hallucination threat models on tiny phantoms and a stand-in model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_attacks_noise import TinyNet, column_mask, phantom  # noqa: E402

from advrecon.attacks.feature import (  # noqa: E402
    FeatureAttackConfig,
    feature_attack,
    feature_batch_groups,  # noqa: E402
)
from advrecon.attacks.feature.insertion import (  # noqa: E402
    add_feature,
    fixed_coil_maps,
    object_phase,
)
from advrecon.attacks.feature.measures import recovered  # noqa: E402
from advrecon.attacks.feature.shapes import place, shape_mask  # noqa: E402
from advrecon.attacks.hallucination import hallucination_attack  # noqa: E402
from advrecon.boxes import Box  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.models.reconstructor import ZeroFilled  # noqa: E402
from advrecon.mri import ifft2c, rss  # noqa: E402

BOXES = [[Box(4, 4, 8, 8)], [Box(3, 5, 7, 6), Box(6, 6, 6, 6)]]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread


def _feature(**kw):
    k, m = phantom(), column_mask()
    contrast = kw.pop("contrast", 0.3)
    args = dict(size=4, steps=3, n_random=2, generator=3)
    args.update(kw)
    return k, feature_attack(TinyNet(), k, m, 4, BOXES, contrast, **args)


def test_feature_bounds_support_inside_box_and_fill():
    _, res = _feature(contrast=torch.tensor([0.3, 0.2]))
    for i, b in enumerate(res.boxes):
        f = res.feature[i]
        inside = torch.zeros_like(f, dtype=torch.bool)
        inside[b.slices()] = True
        assert f[~inside].abs().max() == 0  # support inside the box
        assert f.min() >= 0 and f.max() > 0  # bright polarity
        # the bound is relative to the box mean of the target without the feature
        mean = float(res.control[i][b.slices()].mean())
        bound = [0.3, 0.2][int(res.item_index[i])] * mean
        assert float(f.max()) <= bound * (1 + 1e-5)
        fill = float(f.sum()) / (bound * float(shape_mask("disc", 4).sum()))
        assert fill >= 0.5 - 1e-4  # min_fill holds
    rows = res.to_rows()
    assert all(torch.isfinite(torch.tensor(r["feature_recovered"])) for r in rows)


def test_feature_search_lowers_recovered_fraction():
    _, res = _feature(contrast=0.3, steps=4)
    rows = res.to_rows()
    for r, tr in zip(rows, res.trace, strict=True):
        assert r["feature_recovered"] == pytest.approx(float(tr.min()))
        assert r["feature_recovered"] <= r["feature_recovered_start"]


def test_dark_polarity_is_negative():
    _, res = _feature(polarity="dark", contrast=0.2)
    assert res.feature.max() <= 0 and res.feature.min() < 0


def test_zero_contrast_is_clean_exactly():
    _, res = _feature(contrast=0.0)
    assert torch.equal(res.adversarial, res.clean)
    assert torch.equal(res.target, res.control)
    row = res.to_rows()[0]
    assert row["adv_ssim"] == row["clean_ssim"]


def test_zero_feature_leaves_kspace_bit_for_bit():
    k = phantom()
    maps = fixed_coil_maps(k, column_mask(), 4)
    phase = object_phase(k, maps)
    zero = torch.zeros(2, 16, 16)
    assert torch.equal(add_feature(k, maps, phase, zero), k)


def test_feature_adds_its_amplitude_to_the_magnitude_image():
    """Through the fixed maps with the object's phase the RSS grows by F where the maps are
    well conditioned (sum |S|^2 = 1 there, ACS = all columns)."""
    k = phantom(noise=0.0, dtype=torch.complex128)
    full = torch.ones(1, 1, 1, k.shape[-1])
    maps = fixed_coil_maps(k, full, k.shape[-1])
    phase = object_phase(k, maps)
    f = torch.zeros(2, 16, 16, dtype=torch.float64)
    f[:, 7:9, 7:9] = 0.1
    from advrecon.mri import kspace_to_target

    diff = kspace_to_target(add_feature(k, maps, phase, f), (16, 16)) - kspace_to_target(
        k, (16, 16)
    )
    torch.testing.assert_close(diff[:, 7:9, 7:9], f[:, 7:9, 7:9], atol=1e-6, rtol=1e-4)
    assert diff[:, :6].abs().max() < 1e-6


def test_feature_gradcheck_tiny():
    """Feature values -> k-space -> zero-filled recon -> recovered fraction, in float64."""
    k = phantom(B=1, C=2, dtype=torch.complex128)
    m = column_mask(torch.float64)
    maps = fixed_coil_maps(k, m, 4)
    phase = object_phase(k, maps)
    pos = torch.tensor([[6, 6]])
    shape = shape_mask("disc", 3, torch.float64)
    recon = ZeroFilled((16, 16))
    clean = recon(k * m, m, 4)

    def fn(q):
        f = place(q * shape, pos, (16, 16))
        img = recon(add_feature(k, maps, phase, f) * m, m, 4)
        return recovered(img - clean, f)

    q = (0.2 + torch.rand(1, 3, 3, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(fn, (q,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("attack", ["feature", "hallucination"])
def test_batch_equals_sequential_and_seeded(attack):
    k, m = phantom(), column_mask()
    fn = feature_attack if attack == "feature" else hallucination_attack
    budget = torch.tensor([0.3, 0.2]) if attack == "feature" else torch.tensor([0.05, 0.02])
    kw = dict(size=4, steps=2, n_random=1, generator=7)
    a = fn(TinyNet(), k, m, 4, BOXES, budget, **kw)
    b = fn(TinyNet(), k, m, 4, BOXES, budget, chunk_size=1, **kw)
    c = fn(TinyNet(), k, m, 4, BOXES, budget, **kw)
    torch.testing.assert_close(a.adversarial, b.adversarial, atol=1e-5, rtol=1e-4)
    for key in a.columns:
        torch.testing.assert_close(
            a.columns[key].double(), b.columns[key].double(), atol=1e-5, rtol=1e-4, equal_nan=True
        )
    assert torch.equal(a.adversarial, c.adversarial)  # same seed, same result
    for key in a.columns:
        assert torch.equal(a.columns[key].nan_to_num(), c.columns[key].nan_to_num())


def test_hallucination_appears_more_than_random_noise():
    k, m = phantom(), column_mask()
    eta = torch.tensor([0.05, 0.02])
    res = hallucination_attack(TinyNet(), k, m, 4, BOXES, eta, size=4, steps=6, generator=1)
    rows = res.to_rows()
    assert all(r["noise_to_thermal"] > 0 for r in rows)
    for r in rows:
        assert r["halluc_recovered"] > r["rand_halluc_recovered"]
        assert r["halluc_contrast_percent"] > 0


def test_hallucination_stays_in_the_per_coil_budget_and_support():
    k, m = phantom(), column_mask()
    eta = torch.tensor([0.05, 0.02])
    res = hallucination_attack(
        TinyNet(), k, m, 4, BOXES, eta, size=4, steps=3, padding=(2, 22), generator=2
    )
    z = res.perturbation
    knorm = torch.linalg.vector_norm(k.to(torch.complex128), dim=(-2, -1))[res.item_index]
    znorm = torch.linalg.vector_norm(z.to(torch.complex128), dim=(-2, -1))
    budget = eta.double()[res.item_index][:, None] * knorm
    assert (znorm <= budget * (1 + 1e-6)).all() and (znorm > 0.5 * budget).all()
    assert z[..., :2].abs().max() == 0 and z[..., 22:].abs().max() == 0


def test_hallucination_projection_is_the_noise_one():
    """The per-coil budget: the returned perturbation satisfies ||z_i|| <= eta ||k_i||."""
    from advrecon.attacks.hallucination import Hallucination
    from advrecon.attacks.noise import KspaceNoise
    from advrecon.attacks.objectives import make_regions
    from advrecon.attacks.search import ProjectedGradient

    k, m = phantom(), column_mask()
    budget = 0.03 * torch.linalg.vector_norm(k.to(torch.complex128), dim=(-2, -1))[..., None, None]
    regions = make_regions([Box(4, 4, 8, 8)] * 2, (16, 16))
    cols = torch.ones(1, 1, 1, k.shape[-1])
    x = rss(ifft2c(k), 1)[:, 8:24, 4:20]
    noise = KspaceNoise(TinyNet(), k, m, 4, cols, budget, x, regions, regions, x.amax((1, 2)))
    clean = noise.reconstruct(torch.zeros_like(k)).detach()
    f = torch.zeros_like(clean)
    f[:, 6:9, 6:9] = 0.5
    threat = Hallucination(noise, clean, f, (f > 0).float(), 1.0)
    g = [torch.Generator().manual_seed(i) for i in range(2)]
    z, *_ = ProjectedGradient(4, 0.5, "l2", "mse").run(threat, threat.draw(g))
    zn = torch.linalg.vector_norm(z.to(torch.complex128), dim=(-2, -1))
    assert (zn <= budget[..., 0, 0] * (1 + 1e-6)).all() and (zn > 0.5 * budget[..., 0, 0]).all()


def test_hallucination_eta_zero_is_clean_exactly():
    k, m = phantom(), column_mask()
    res = hallucination_attack(TinyNet(), k, m, 4, BOXES, 0.0, size=4, steps=2, generator=0)
    assert torch.equal(res.adversarial, res.clean)
    assert all(r["halluc_recovered"] == 0 for r in res.to_rows())


def test_bad_input_errors_name_the_problem():
    k, m = phantom(), column_mask()
    with pytest.raises(AdvreconError, match=r"^size: a 7 px feature does not fit inside box"):
        feature_attack(TinyNet(), k, m, 4, [Box(4, 4, 8, 8), Box(3, 5, 7, 6)], 0.2, size=7)
    with pytest.raises(AdvreconError, match="contrast must be finite and >= 0"):
        feature_attack(TinyNet(), k, m, 4, [Box(4, 4, 8, 8)] * 2, -0.1)
    with pytest.raises(AdvreconError, match=r"^size: a 9 px feature"):
        hallucination_attack(TinyNet(), k, m, 4, [Box(4, 4, 8, 8)] * 2, 0.01, size=9)


def test_config_errors_name_the_key():
    from advrecon.experiments.config import parse_config

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import test_experiments_fakes as fakes

    bad = fakes.tiny_config_dict("o", attacks={"feature": {"contrast": [10, -5]}})
    with pytest.raises(ConfigError, match=r"^attacks\.feature\.contrast\[1\]: must be >= 0$"):
        parse_config(bad)
    bad = fakes.tiny_config_dict("o", attacks={"hallucination": {"eta": [1], "size": 0}})
    with pytest.raises(ConfigError, match=r"^attacks\.hallucination\.size: "):
        parse_config(bad)
    bad = fakes.tiny_config_dict("o", attacks={"feature": {"contrast": [1], "models": ["vnet"]}})
    with pytest.raises(ConfigError, match=r"^attacks\.feature\.models\[0\]: no model named 'vnet'"):
        parse_config(bad)
    section = FeatureAttackConfig(contrast=(10.0,), size=9)
    boxes = {"region": [(0, Box(0, 0, 8, 20))], "image": []}
    with pytest.raises(ConfigError, match=r"^attacks\.feature\.size: a 9 px feature does not fit"):
        feature_batch_groups(section, "m", ["region"], boxes)
    assert feature_batch_groups(section, "m", ["image"], boxes) == []
    skip = FeatureAttackConfig(contrast=(10.0,), size=9, too_small="skip")
    boxes["region"].append((1, Box(0, 0, 10, 10)))
    (group,) = feature_batch_groups(skip, "m", ["region"], boxes)
    assert [u.box_index for u in group.units] == [1]
    only = FeatureAttackConfig(contrast=(10.0,), size=5, models=["unet"])
    assert feature_batch_groups(only, "varnet", ["region"], boxes) == []
    assert len(feature_batch_groups(only, "unet", ["region"], boxes)[0].units) == 2


def _real_run_config(out: str, data: str) -> dict:
    import test_experiments_fakes as fakes

    cfg = fakes.real_config_dict(out, data)
    cfg["attacks"] = {
        "feature": {"contrast": [0, 30], "size": 3, "steps": 2, "n_random": 1},
        "hallucination": {"eta": [0, 2], "size": 3, "steps": 2, "n_random": 1},
    }
    cfg["targets"] = ["region"]
    cfg["arrays"] = "all"
    return cfg


def test_runner_resumes_reports_and_declares_every_column(tmp_path, monkeypatch):
    """Both threat models through the generic executor: declared columns, zero budget = clean,
    an interrupted run resumed equals a run in one go, and the report has their pieces."""
    import pandas as pd

    from advrecon.experiments import schema
    from advrecon.experiments.config import parse_config
    from advrecon.experiments.runner import run_experiment
    from advrecon.report.html import make_report

    monkeypatch.chdir(tmp_path)
    one = run_experiment(parse_config(_real_run_config("a", "data")), progress=False)
    df = pd.read_csv(one.run_dir / "results.csv")
    assert set(df["attack"]) == {"feature", "hallucination"} and one.complete
    assert all(schema.column(c) is not None for c in df.columns), set(df.columns) - set(
        schema.COLUMNS
    )
    zero = df[df["budget"] == 0]
    assert (zero["adv_ssim"] == zero["clean_ssim"]).all()
    live = df[(df["attack"] == "feature") & (df["budget"] > 0)]
    assert live["feature_recovered"].notna().all() and live["feature_cnr"].notna().all()
    cfg = parse_config(_real_run_config("b", "data"))
    part = run_experiment(cfg, progress=False, max_units=3)
    assert not part.complete
    rest = run_experiment(cfg, progress=False)
    assert rest.complete
    got = pd.read_csv(rest.run_dir / "results.csv").sort_values("unit_id").reset_index(drop=True)
    want = df.sort_values("unit_id").reset_index(drop=True)
    cols = [c for c in want.columns if not c.startswith("time_") and c != "config_hash"]
    cols = [c for c in cols if c not in ("arrays_file",)]
    pd.testing.assert_frame_equal(got[cols], want[cols], rtol=1e-5, atol=1e-7)
    html = make_report(one.run_dir)
    figs = html.parent / "figures"
    assert (figs / "fig_features.png").is_file()
    assert (figs / "panel_feature_worst.png").is_file()
    assert (figs / "panel_hallucination_worst.png").is_file()
    md = (html.parent / "findings.md").read_text()
    assert "Missing features" in md and "Hallucinations" in md


def test_feature_findings_follow_the_table():
    import pandas as pd

    from advrecon.report.plugins import evaluate

    rows = []
    for s in range(4):
        rows.append(dict(attack="feature", model="u", acceleration=4, budget=25.0, file="f",
                         slice=s, feature_recovered=0.2 + 0.01 * s, rand_feature_recovered=0.6,
                         feature_cnr=1.0 + 0.1 * s))  # fmt: skip
        rows.append(dict(attack="hallucination", model="u", acceleration=4, budget=1.0, file="f",
                         slice=s, halluc_recovered=0.1 + 0.01 * s, rand_halluc_recovered=0.0,
                         halluc_cnr=8.0 + s))  # fmt: skip
    got = {f.key: f.verdict for f in evaluate(pd.DataFrame(rows))}
    assert got == {
        "feature_missing": "holds",
        "feature_visible": "does not hold",
        "hallucination_appears": "holds",
        "hallucination_visible": "holds",
    }
    # statements only for the threat models in the table
    only = pd.DataFrame([r for r in rows if r["attack"] == "hallucination"])
    assert {f.key for f in evaluate(only)} == {"hallucination_appears", "hallucination_visible"}


def test_shipped_feature_configs_parse():
    from advrecon.experiments.config import load_config

    root = Path(__file__).resolve().parents[1] / "configs"
    feats = load_config(root / "features.yaml", check_paths=False, device="cpu")
    assert set(feats.attacks.configured()) == {"feature", "hallucination"}
    demo = load_config(root / "demo.yaml", check_paths=False)
    assert demo.attacks.feature.models == ("unet",) and demo.attacks.hallucination.eta == (1.0,)


@pytest.mark.slow
def test_two_gloo_ranks_equal_single_process(tmp_path):
    """``torchrun -m advrecon run`` with both threat models: merged table == one process."""
    import os
    import subprocess

    import pandas as pd
    import test_experiments_fakes as fakes
    import yaml

    from advrecon.cli import main
    from advrecon.experiments.config import parse_config

    tables = {}
    for name in ("single", "multi"):
        cfg = _real_run_config(str(tmp_path / name), str(tmp_path / "data"))
        cfg["attacks"]["feature"].update(contrast=[30], steps=1)
        cfg["attacks"]["hallucination"].update(eta=[2], steps=1)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        if name == "single":
            assert main(["run", str(path), "--no-progress"]) == 0
        else:
            env = {**os.environ, "PYTHONPATH": fakes.child_pythonpath(), "OMP_NUM_THREADS": "1"}
            cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
            cmd += ["--standalone", "-m", "advrecon", "run", str(path), "--no-progress"]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr[-2000:]
        df = pd.read_csv(parse_config(cfg).run_dir() / "results.csv")
        tables[name] = df.drop(columns=[c for c in df.columns if c.startswith("time_")])
    assert set(tables["single"]["attack"]) == {"feature", "hallucination"}
    pd.testing.assert_frame_equal(tables["multi"], tables["single"])


@pytest.mark.parametrize("name", ["feature", "hallucination"])
def test_plugin_example_iterates_are_feasible_threat_outputs_and_zero_budget_is_clean(
    name, monkeypatch
):
    """The plug-in's example section on one slice: every point the searches reconstruct is,
    row by row, an output of the threat class's draw / project / ascent_step and feasible; a
    zero budget gives the clean reconstruction bit for bit."""
    import importlib

    from advrecon.attacks.contract import SliceAttack

    tm = importlib.import_module(f"advrecon.attacks.{name}.plugin").THREAT_MODEL
    cls, section = tm.threat, tm.section(**tm.example)
    outputs, seen = [], []

    def recording(method):
        def wrapped(self, *args, **kwargs):
            out = method(self, *args, **kwargs)
            assert bool(self.feasible(out).all()), method.__name__
            outputs.extend(out.detach().clone())
            return out

        return wrapped

    for method in ("draw", "project", "ascent_step"):
        if hasattr(cls, method):
            monkeypatch.setattr(cls, method, recording(getattr(cls, method)))
    reconstruct = cls.reconstruct

    def checked(self, delta):
        assert bool(self.feasible(delta).all())
        seen.extend(delta.detach().clone())
        return reconstruct(self, delta)

    monkeypatch.setattr(cls, "reconstruct", checked)
    k, m = phantom(B=1), column_mask()
    boxes = [Box(4, 4, 8, 8), Box(3, 5, 7, 6)]
    inp = SliceAttack(TinyNet(), k[0], m, 4, boxes, None, (16, 16), torch.Generator(), None)
    (group,) = tm.batch_groups(section, "m", ["region"], {"region": list(enumerate(boxes))})
    scores = tm.run(inp, group.units, section, group.units[0].rule)
    assert seen and all(any(torch.equal(d, o) for o in outputs) for d in seen)
    for unit in group.units:
        i, row = scores.row(unit)
        arrays = scores.arrays(i, unit)
        assert (unit.budget == 0) == torch.equal(arrays["adversarial"], arrays["clean"])
        if unit.budget == 0:
            assert row["adv_ssim"] == row["clean_ssim"] and row["adv_mse"] == row["clean_mse"]


def test_feasible_rejects_points_outside_the_sets():
    from advrecon.attacks.feature import FeatureInsertion
    from advrecon.attacks.hallucination import Hallucination

    shape = shape_mask("disc", 4)
    bound = torch.tensor([1.0, 2.0])
    threat = FeatureInsertion(
        None, None, None, None, None, None, shape, torch.zeros(2, 2, dtype=torch.long), bound,
        0.5 * bound * shape.sum(), 1.0, None,
    )  # fmt: skip
    q = threat.start()
    assert threat.feasible(q).all() and torch.equal(threat.project(q), q)
    for far in (-1.0, -5.0):  # below -(1 - min_fill) bound: beyond the first lift's bracket
        assert threat.feasible(threat.project(torch.full_like(q, far))).all()
    for bad in (q * 1.01, -q, q * 0.4, q + (1 - shape)):
        assert not threat.feasible(bad).any()
    k = phantom()
    budget = 0.03 * torch.linalg.vector_norm(k.to(torch.complex128), dim=(-2, -1))[..., None, None]
    cols = torch.ones(1, 1, 1, k.shape[-1])
    cols[..., :2] = 0
    from advrecon.attacks.noise import KspaceNoise

    noise = KspaceNoise(None, k, None, None, cols, budget, None, None, None, None)
    h = Hallucination(noise, None, None, None, 1.0)
    z = h.draw([torch.Generator().manual_seed(i) for i in range(2)])
    assert h.feasible(z).all() and h.feasible(h.project(3 * k)).all()
    assert not h.feasible(1.01 * z).any() and not h.feasible(z + 1e-3 * (1 - cols)).any()
