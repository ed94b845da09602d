"""Receiver drift between calibration and scan (advrecon.attacks.drift): properties and physics."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_experiments_fakes as fakes  # noqa: E402
from test_attacks_noise import BOXES, SIZE, TinyNet, W, column_mask, phantom  # noqa: E402

from advrecon.attacks.drift import (  # noqa: E402
    DriftAttackConfig,
    ReceiverDrift,
    acs_band,
    drift_attack,
    drifted_kspace,
    gains,
)
from advrecon.attacks.objectives import data_range, make_regions  # noqa: E402
from advrecon.boxes import Box  # noqa: E402
from advrecon.cli import main  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.metrics import ssim  # noqa: E402
from advrecon.models.classical.reconstructors import SenseReconstructor  # noqa: E402
from advrecon.models.varnet import center_columns  # noqa: E402
from advrecon.mri import kspace_to_target  # noqa: E402
from advrecon.report import plugins  # noqa: E402
from advrecon.sensitivity import acs_sensitivity_maps  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread

KW = dict(steps=3, n_random=2, generator=5)
NLF = 4  # the centre band of column_mask(): columns W//2-2 ... W//2+1


def _band() -> torch.Tensor:
    return acs_band(column_mask(), NLF, W)[0]


def _random_gains(n, C, seed=0, dtype=torch.float64) -> torch.Tensor:
    """``(n, C)`` complex gains far from 1 (magnitudes 0.5 ... 1.5, any phase)."""
    g = torch.Generator().manual_seed(seed)
    a = 100 * (torch.rand((n, C), generator=g, dtype=dtype) - 0.5)
    phi = 360 * (torch.rand((n, C), generator=g, dtype=dtype) - 0.5)
    return gains(torch.stack([a, phi], -1))


# --------------------------------------------------------------------------------------------
# the band, the gains, the action
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nlf", [NLF, None, torch.tensor([4, 6])])
def test_the_band_is_the_models_calibration_band(nlf):
    mask = column_mask()
    band = acs_band(mask, nlf, W)
    ones = torch.ones((2, 1, 3, W), dtype=torch.complex64)
    assert torch.equal(band[:, None, None, :].expand_as(ones), center_columns(ones, mask, nlf) != 0)
    assert band.sum(1).tolist() == ([4, 6] if torch.is_tensor(nlf) else [4])  # None: the mask
    assert band[:, W // 2].all() and not band[:, 0].any()


def test_unit_gain_is_the_identity_bit_for_bit():
    for dtype in (torch.complex64, torch.complex128):
        k = phantom(2, dtype=dtype)
        one = gains(torch.zeros((2, k.shape[1], 2), dtype=torch.float64))
        assert torch.equal(one, torch.ones_like(one))
        every = torch.ones((1, W), dtype=torch.bool)
        assert torch.equal(drifted_kspace(k, one, ~_band()[None]), k)
        assert torch.equal(drifted_kspace(k, one, every), k)


def test_the_band_is_untouched_by_any_gain_and_the_calibration_sees_no_drift():
    k, mask = phantom(2), column_mask()
    band = _band()
    g = _random_gains(2, k.shape[1])
    out = drifted_kspace(k, g, ~band[None])
    assert torch.equal(out[..., band], k[..., band])
    torch.testing.assert_close(out[..., ~band], k[..., ~band] * g.to(k.dtype)[..., None, None])
    # what SENSE and the E2E-VarNet calibrate from is the clean band, bit for bit
    assert torch.equal(center_columns(out * mask, mask, NLF), center_columns(k * mask, mask, NLF))
    maps = acs_sensitivity_maps(out * mask, mask, NLF)
    assert torch.equal(maps, acs_sensitivity_maps(k * mask, mask, NLF))


def test_gains_parametrisation_is_magnitude_percent_and_phase_degrees():
    delta = torch.tensor([[[5.0, 30.0], [-2.0, -90.0], [0.0, 180.0]]], dtype=torch.float64)
    g = gains(delta)[0]
    torch.testing.assert_close(100 * (g.abs() - 1), delta[0, :, 0], atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.rad2deg(g.angle()).abs(), delta[0, :, 1].abs(),
                               atol=1e-10, rtol=0)  # fmt: skip


# --------------------------------------------------------------------------------------------
# physics
# --------------------------------------------------------------------------------------------
def _ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ssim(a.double(), b.double())


def test_a_drift_of_the_whole_acquisition_is_invisible_to_the_rss():
    """``|g_i c_i| = |c_i|``: per-coil phases on every column leave the RSS as it was; a common
    gain ``g`` scales it by ``|g|``. Only the calibration/scan split makes the drift act."""
    k = phantom(2, dtype=torch.complex128)
    C, every = k.shape[1], torch.ones((1, W), dtype=torch.bool)
    x = kspace_to_target(k, SIZE)
    g = torch.Generator().manual_seed(1)
    phases = torch.stack([torch.zeros(2, C), 360 * torch.rand(2, C, generator=g)], -1).double()
    rss = kspace_to_target(drifted_kspace(k, gains(phases), every), SIZE)
    torch.testing.assert_close(rss, x, atol=1e-12, rtol=1e-12)
    assert torch.all(_ssim(rss, x) > 1 - 1e-12)
    common = gains(torch.tensor([7.0, 40.0], dtype=torch.float64).expand(2, C, 2))
    scaled = kspace_to_target(drifted_kspace(k, common, every), SIZE)
    torch.testing.assert_close(scaled, 1.07 * x, atol=1e-12, rtol=1e-12)


def test_a_common_gain_outside_the_band_equals_its_inverse_on_the_band():
    """``k^band + g k^out = g (k^band / g + k^out)``: the RSS (fully sampled or zero-filled)
    under a common gain ``g`` outside the band is ``|g|`` times the RSS under ``1 / g`` on the
    band; a common phase outside the band does change the RSS (the band's and the rest's parts
    interfere), unlike a common phase on every column."""
    k, band = phantom(2, dtype=torch.complex128), _band()
    C, x = k.shape[1], kspace_to_target(k, SIZE)
    g = torch.polar(torch.tensor(1.04, dtype=torch.float64), torch.tensor(0.6, dtype=torch.float64))
    outside = kspace_to_target(drifted_kspace(k, g.expand(2, C), ~band[None]), SIZE)
    inverse = kspace_to_target(drifted_kspace(k, (1 / g).expand(2, C), band[None]), SIZE)
    torch.testing.assert_close(outside, g.abs() * inverse, atol=1e-12, rtol=1e-10)
    mask = column_mask(torch.float64)  # the zero-filled image (the U-Net's input) alike
    zf_out = kspace_to_target(drifted_kspace(k, g.expand(2, C), ~band[None]) * mask, SIZE)
    zf_inv = kspace_to_target(drifted_kspace(k, (1 / g).expand(2, C), band[None]) * mask, SIZE)
    torch.testing.assert_close(zf_out, g.abs() * zf_inv, atol=1e-12, rtol=1e-10)
    phase = gains(torch.tensor([0.0, 20.0], dtype=torch.float64).expand(2, C, 2))
    shifted = kspace_to_target(drifted_kspace(k, phase, ~band[None]), SIZE)
    assert torch.all(_ssim(shifted, x) < 1 - 1e-4)


def test_sense_absorbs_a_phase_drift_of_the_whole_acquisition_but_not_of_the_scan_only():
    """SENSE calibrates from the band: a per-coil phase on every column moves its maps with the
    data (the same image up to rounding); the same phases outside the band only do not."""
    k, mask = phantom(1, dtype=torch.complex128), column_mask(torch.float64)
    sense = SenseReconstructor(lam=0.01, iterations=8, recon_size=SIZE)
    C, band = k.shape[1], _band()
    phases = torch.stack([torch.zeros(C), torch.tensor([0.0, 50.0, -70.0, 120.0])], -1)
    g = gains(phases[None].double())
    clean = sense(k * mask, mask, NLF)
    every = sense(drifted_kspace(k, g, torch.ones((1, W), dtype=torch.bool)) * mask, mask, NLF)
    scan = sense(drifted_kspace(k, g, ~band[None]) * mask, mask, NLF)
    torch.testing.assert_close(every, clean, atol=1e-9, rtol=1e-9)
    assert (scan - clean).abs().max() > 1e-3 * clean.abs().max()


# --------------------------------------------------------------------------------------------
# the threat model and the attack
# --------------------------------------------------------------------------------------------
def test_zero_bound_reproduces_clean_exactly():
    res = drift_attack(TinyNet(), phantom(), column_mask(), NLF, BOXES, 0.0, 0.0, **KW)
    assert res.drift.abs().max() == 0 and torch.equal(res.gains, torch.ones_like(res.gains))
    assert torch.equal(res.adversarial, res.clean)
    for name in ("ssim", "psnr", "nmse", "mse"):
        assert torch.equal(res.metrics[f"adv_{name}"], res.metrics[f"clean_{name}"])
        torch.testing.assert_close(res.metrics[f"rand_mean_{name}"], res.metrics[f"clean_{name}"])
    assert torch.equal(res.metrics["control_mse"], torch.zeros(3, dtype=torch.float64))
    rows = res.to_rows()
    assert all(r["drift_worst_gain_percent"] == 0 == r["drift_worst_phase_deg"] for r in rows)


def _box_only(bound: torch.Tensor, C: int) -> ReceiverDrift:
    """A :class:`ReceiverDrift` of which only the box matters (``bound`` ``(n, 1, 2)``)."""
    nothing = dict.fromkeys(("recon", "mask", "nlf", "drifting", "target", "regions", "full",
                             "data_range"))  # fmt: skip
    return ReceiverDrift(kspace=torch.zeros((bound.shape[0], C, 1, 1)), bound=bound, **nothing)


def test_feasible_and_project_are_the_box():
    bound = torch.tensor([[[2.0, 10.0]], [[2.0, 10.0]], [[0.0, 5.0]], [[1.0, 0.0]]]).double()
    threat = _box_only(bound, 3)
    delta = torch.zeros((4, 3, 2), dtype=torch.float64)
    delta[0, 1] = torch.tensor([-2.0, 10.0])  # on the bounds: feasible
    delta[1, 2, 0] = 2.5  # beyond the gain bound
    delta[2, 0, 0] = 0.1  # a gain where only the phase may drift
    delta[3, 1, 1] = -0.1  # a phase where only the gain may drift
    assert threat.feasible(delta).tolist() == [True, False, False, False]
    assert threat.feasible(torch.full_like(delta, torch.nan)).tolist() == [False] * 4
    projected = threat.project(delta)
    assert threat.feasible(projected).all() and torch.equal(projected[0], delta[0])
    assert projected[1, 2, 0] == 2.0 and projected[2, 0, 0] == 0 and projected[3, 1, 1] == 0
    assert torch.equal(threat.identity(), torch.zeros_like(delta))
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    assert threat.feasible(threat.draw(gens)).all()
    step = threat.ascent_step(delta, torch.randn(4, 3, 2, dtype=torch.float64), 0.7, "l2")
    assert threat.feasible(step).all()
    assert threat.active.tolist() == [True, True, True, True]
    assert not _box_only(torch.zeros((1, 1, 2), dtype=torch.float64), 3).active.any()


def test_every_iterate_is_a_feasible_output_of_draw_project_or_ascent_step(monkeypatch):
    made, seen = [], []
    for name in ("draw", "project", "ascent_step"):
        orig = getattr(ReceiverDrift, name)

        def record(self, *args, _orig=orig, **kwargs):
            out = _orig(self, *args, **kwargs)
            made.extend(out.detach().clone())
            return out

        monkeypatch.setattr(ReceiverDrift, name, record)
    orig_reconstruct = ReceiverDrift.reconstruct

    def spy(self, delta):
        seen.append((delta.detach().clone(), self.feasible(delta.detach()), self.bound.clone()))
        return orig_reconstruct(self, delta)

    monkeypatch.setattr(ReceiverDrift, "reconstruct", spy)
    gain, phase = torch.tensor([3.0, 0.0]), torch.tensor([10.0, 0.0])  # a still slice too
    res = drift_attack(TinyNet(), phantom(), column_mask(), NLF, BOXES, gain, phase, **KW)
    assert len(seen) > KW["steps"]
    for delta, feasible, bound in seen:
        assert feasible.all() and (delta.abs() <= bound).all()
        assert all(any(torch.equal(row, m) for m in made) for row in delta)
    bound = torch.stack([res.gain_percent, res.phase_deg], 1)[:, None]
    assert (res.drift.abs() <= bound).all()
    assert (res.worst_gain_percent <= res.gain_percent).all()
    assert (res.worst_phase_deg <= res.phase_deg).all()
    moving = res.gain_percent > 0
    assert (res.worst_gain_percent[moving] > 0.5 * res.gain_percent[moving]).all()  # bound used
    assert (res.trace.amax(1) >= res.trace[:, 0]).all()
    torch.testing.assert_close(100 * (res.gains.abs() - 1).abs().amax(1), res.worst_gain_percent)


def test_gradcheck_of_the_action_and_the_objective_in_the_gain_parameters():
    k = phantom(1, C=2, dtype=torch.complex128)[..., :16, :W]
    mask = column_mask(torch.float64)
    drifting = ~acs_band(mask, NLF, W)
    w = torch.randn((4, *k.shape[1:]), dtype=k.dtype, generator=torch.Generator().manual_seed(0))

    def action(delta):
        out = drifted_kspace(k, gains(delta), drifting)
        return torch.view_as_real((out * w).sum(dim=(-3, -2, -1)))

    net = TinyNet(recon_size=(12, 12)).double()
    target = kspace_to_target(k, (12, 12))
    box = [Box(2, 2, 8, 8)]
    threat = ReceiverDrift(
        net, k, mask, NLF, drifting, torch.tensor([[[5.0, 20.0]]], dtype=torch.float64), target,
        make_regions(box, (12, 12)), make_regions([Box.full((12, 12))], (12, 12)),
        data_range(target),
    )  # fmt: skip

    def objective(delta):
        return threat.objective_of(threat.reconstruct(delta), "mse")[0]

    d0 = torch.tensor([[[3.0, -12.0], [-1.5, 7.0]]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(action, (d0,), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradcheck(objective, (d0,), eps=1e-6, atol=1e-6)


def test_batch_equals_sequential_and_is_deterministic():
    net, k, m = TinyNet(), phantom(), column_mask()
    args = (net, k, m, NLF, BOXES, [2.0, 5.0], [10.0, 3.0])
    a = drift_attack(*args, **KW)
    for chunk in (1, 2):
        b = drift_attack(*args, chunk_size=chunk, **KW)
        torch.testing.assert_close(b.drift, a.drift, atol=1e-6, rtol=0)
        torch.testing.assert_close(b.adversarial, a.adversarial, atol=1e-5, rtol=0)
        for key, v in a.metrics.items():
            torch.testing.assert_close(b.metrics[key], v, atol=1e-5, rtol=1e-5, equal_nan=True)
    assert torch.equal(drift_attack(*args, **KW).drift, a.drift)


def test_bad_bounds_are_errors():
    k, m, box = phantom(1), column_mask(), [BOXES[0]]
    for g, p, msg in (
        (-1.0, 1.0, "gain_percent must be finite and >= 0"),
        (1.0, -1.0, "phase_deg must be finite and >= 0"),
        (100.0, 1.0, "gain_percent must be < 100"),
        (1.0, 181.0, "phase_deg must be <= 180"),
    ):
        with pytest.raises(AdvreconError, match=msg):
            drift_attack(TinyNet(), k, m, NLF, box, g, p)


# --------------------------------------------------------------------------------------------
# config, run, report
# --------------------------------------------------------------------------------------------
def _parse(**drift):
    return parse_config(fakes.tiny_config_dict("o", attacks={"drift": drift}))


def test_config_section_pairs_the_phase_and_errors_name_the_key():
    one = _parse(gain_percent=[0, 2, 5], phase_deg=3).attacks.drift
    assert isinstance(one, DriftAttackConfig)
    assert [one.phase_for(g) for g in (0.0, 2.0, 5.0)] == [0.0, 3.0, 3.0]  # 0: clean reference
    paired = _parse(gain_percent=[0, 2], phase_deg=[1, 4]).attacks.drift
    assert [paired.phase_for(g) for g in (0.0, 2.0)] == [1.0, 4.0]
    at = r"^attacks\.drift\."
    for bad, msg in (
        (dict(gain_percent=[1, -2], phase_deg=1), r"gain_percent\[1\]: must be >= 0"),
        (dict(gain_percent=[1, 100], phase_deg=1), r"gain_percent\[1\]: must be < 100"),
        (dict(gain_percent=[1], phase_deg=-1), r"phase_deg\[0\]: must be >= 0"),
        (dict(gain_percent=[1, 2], phase_deg=[1, 200]), r"phase_deg\[1\]: must be <= 180"),
        (dict(gain_percent=[1, 2], phase_deg=[1, 2, 3]), r"phase_deg: give one value"),
        (dict(gain_percent=[1]), r"phase_deg: required key is missing"),
    ):
        with pytest.raises(ConfigError, match=at + msg) as err:
            _parse(**bad)
        assert "\n" not in str(err.value)


def test_drift_runs_end_to_end_resumes_and_reports(tmp_path, capsys):
    cfg = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    cfg["attacks"] = {"drift": {"gain_percent": [0, 5], "phase_deg": 10, "steps": 2, "n_random": 1}}
    path = tmp_path / "drift.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--max-units", "3", "--no-progress"]) == 0
    assert main(["run", str(path), "--no-progress"]) == 0
    assert "(complete)" in capsys.readouterr().out
    run_dir = load_config(path).run_dir()
    df = pd.read_csv(run_dir / "results.csv")
    assert set(df.attack) == {"drift"} and set(df.budget) == {0, 5} and df.unit_id.is_unique
    assert set(df.columns) <= set(schema.COLUMNS) and "gain_percent" not in df.columns
    assert df.unit_id.str.contains("/g005.000/").any()
    assert (df.drift_worst_gain_percent <= df.budget + 1e-12).all()
    assert (df.drift_worst_phase_deg <= df.drift_phase_max_deg + 1e-12).all()
    zero, drifted = df[df.budget == 0], df[df.budget == 5]
    assert (zero.adv_ssim == zero.clean_ssim).all() and (zero.drift_phase_max_deg == 0).all()
    assert (drifted.drift_phase_max_deg == 10).all() and drifted.adv_ssim_full.notna().all()
    assert drifted[drifted.target == "region"].rand_mean_ssim.notna().all()
    assert (drifted.control_ssim < 1).all()
    assert main(["report", str(run_dir)]) == 0
    report = run_dir / "report"
    assert (report / "figures" / "fig_drift_budget.png").is_file()
    assert (report / "figures" / "panel_drift_worst.png").is_file()
    text = (report / "findings.md").read_text()
    assert "Worst-case receiver drift degrades more than random drift" in text
    assert "calibrate coil maps from the ACS band" not in text  # no U-Net / VarNet pair here


def _rows(gap: float, models=(("unet", 0.0),), budgets=(0.0, 5.0)) -> pd.DataFrame:
    """Region rows of 5 slices: ``rand_mean - adv = gap`` and per model an extra SSIM drop."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(5):
        base = 0.8 + 0.01 * rng.standard_normal()
        for model, extra in models:
            for b in budgets:
                g = gap + (0.002 * rng.standard_normal() if gap else 0.0) if b else 0.0
                adv = base - (extra + 0.002 * rng.standard_normal() if b else 0.0)
                row = dict(attack="drift", rule="pgd", target="region", model=model)
                row.update(acceleration=4, budget=b, file="f", slice=s, adv_ssim=adv)
                rows.append(dict(row, clean_ssim=base, rand_mean_ssim=adv + g))
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "gap, want", [(0.05, "holds"), (-0.05, "does not hold"), (0.0, "not enough data")]
)
def test_worst_vs_random_finding_three_way_verdict(gap, want):
    found = [f for f in plugins.evaluate(_rows(gap)) if f.key.startswith("drift")]
    assert [f.key for f in found] == ["drift_worst_vs_random"] and found[0].verdict == want
    noise_only = _rows(gap).assign(attack="noise", rule="l2")
    assert not [f for f in plugins.evaluate(noise_only) if f.key.startswith("drift")]


@pytest.mark.parametrize(
    "extra, want", [(0.05, "holds"), (-0.05, "does not hold"), (0.0, "not enough data")]
)
def test_calibrated_vs_unet_finding_paired_per_slice(extra, want):
    df = _rows(0.05, models=(("unet", 0.02), ("vn", 0.02 + extra)))
    found = {f.key: f for f in plugins.evaluate(df, archs={"unet": "unet", "vn": "varnet"})}
    f = found["drift_calibrated_vs_unet"]
    assert f.verdict == want and len(f.evidence) == 1 and "vn vs unet 4x gain 5%" in f.evidence[0]
    # no calibrated model (arch unknown: the name, not an arch), no statement
    assert "drift_calibrated_vs_unet" not in {f.key for f in plugins.evaluate(df)}
