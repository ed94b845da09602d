"""SNR shift (advrecon.attacks.snr): thermal-noise draws at m sigma, on tiny phantoms."""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_experiments_fakes as fakes  # noqa: E402
from test_attacks_noise import BOXES, TinyNet, W, column_mask, phantom  # noqa: E402

from advrecon.attacks.contract import ReportContext  # noqa: E402
from advrecon.attacks.snr import (  # noqa: E402
    SnrAttackConfig,
    snr_attack,
    snr_batch_groups,
    thermal_sigma,
)
from advrecon.attacks.snr.attack import SnrOptions  # noqa: E402
from advrecon.attacks.snr.batch import chunk_threat, prepare_batch  # noqa: E402
from advrecon.attacks.snr.report.findings import findings  # noqa: E402
from advrecon.attacks.snr.report.thermal import sections, tables  # noqa: E402
from advrecon.boxes import Box  # noqa: E402
from advrecon.cli import main  # noqa: E402
from advrecon.data.synthetic import SynthConfig, simulate_volume  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.mri import kspace_to_target  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread

ROOT = Path(__file__).resolve().parents[1]
PAD = (2, 22)


def _threat(m=(1.0, 3.0), measured_only=False, padding=PAD, sigma=None, n_draws=2):
    """The :class:`ThermalNoise` of the phantom's items (both slices, all boxes)."""
    opts = SnrOptions(n_draws=n_draws, measured_only=measured_only, padding=padding, sigma=sigma,
                      generator=3, recon_size=(16, 16))  # fmt: skip
    b = prepare_batch(TinyNet(), phantom(), column_mask(), 4, BOXES, torch.tensor(m), opts)
    return chunk_threat(b, range(len(b.index)))


def _support_rms(z: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """``(n, C)`` float64 RMS of every coil of ``z`` over ``support``."""
    n = support.expand(z.shape[0], 1, *z.shape[-2:]).double().sum(dim=(1, 2, 3))
    sq = z.to(torch.complex128).abs().square().sum(dim=(-2, -1))
    return (sq / n[:, None]).sqrt()


def test_zero_budget_is_clean_bit_for_bit():
    res = snr_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, [0.0, 0.0], n_draws=3,
                     padding=PAD, generator=1)  # fmt: skip
    assert torch.equal(res.adversarial, res.clean)
    assert torch.count_nonzero(res.perturbation) == 0 and (res.worst_draw == -1).all()
    assert torch.equal(res.control, kspace_to_target(phantom(), (16, 16))[res.item_index])
    for row in res.to_rows():
        assert row["noise_to_thermal"] == 0.0
        for m in ("ssim", "psnr", "nmse", "mse", "ssim_full"):
            assert row[f"adv_{m}"] == row[f"clean_{m}"] == row[f"rand_worst_{m}"]
            assert row[f"rand_mean_{m}"] == pytest.approx(row[f"clean_{m}"], rel=1e-12)


@pytest.mark.parametrize("measured_only", [False, True])
@pytest.mark.parametrize("given_sigma", [False, True])
def test_each_coil_rms_is_m_sigma_on_the_support(measured_only, given_sigma):
    k, mask = phantom(), column_mask()
    sigma = torch.rand(2, 4, generator=torch.Generator().manual_seed(0)) + 0.1
    res = snr_attack(TinyNet(), k, mask, 4, BOXES, torch.tensor([0.5, 3.0]), n_draws=2,
                     padding=PAD, measured_only=measured_only,
                     sigma=sigma if given_sigma else None, generator=1)  # fmt: skip
    support = torch.zeros(1, 1, 1, W)
    support[..., PAD[0] : PAD[1]] = 1
    if measured_only:
        support = support * mask
    want = res.sigma_multiple[:, None].double() * res.sigma.double()
    rms = _support_rms(res.perturbation, support)
    torch.testing.assert_close(rms, want, rtol=1e-6, atol=0)
    assert (rms <= want * (1 + 1e-6)).all()  # feasible: from below, to float32 rounding
    assert torch.count_nonzero(res.perturbation * (1 - support)) == 0
    torch.testing.assert_close(res.noise_to_thermal, res.sigma_multiple.double(), rtol=1e-5, atol=0)
    if given_sigma:
        assert torch.equal(res.sigma, sigma.double()[res.item_index])


def test_model_input_is_the_same_for_both_supports():
    """``M (k + z) = M (k + M z)``: noise on acquired but unsampled columns never reaches the
    model, so the two supports give the same reconstruction input for the same noise."""
    threat, gens = _threat()
    z = threat.draw([g for g in gens])
    assert torch.count_nonzero(z * (1 - threat.mask)) > 0  # noise on unsampled columns too
    assert torch.equal(threat.reconstruct(z), threat.reconstruct(z * threat.mask))
    assert not torch.equal(threat.control(z), threat.control(z * threat.mask))


def test_feasible_set_is_the_rms_sphere_and_its_inside():
    threat, gens = _threat()
    z = threat.draw(gens)
    assert threat.feasible(z).all() and threat.feasible(0.5 * z).all()
    assert threat.feasible(torch.zeros_like(z)).all()
    assert not threat.feasible(1.001 * z).any()
    off = z.clone()
    off[..., 0] = 1e-6  # column 0 is outside the padding
    assert not threat.feasible(off).any()
    nan = z.clone()
    nan[0, 0, 0, 5] = float("nan")
    assert threat.feasible(nan).tolist() == [False] + [True] * (len(z) - 1)
    torch.testing.assert_close(threat.rms(z), threat.multiple[:, None] * threat.sigma, rtol=1e-6,
                               atol=0)  # fmt: skip


def test_a_draw_is_a_rescaled_gaussian_and_budgets_scale_one_draw():
    """Each coil of a draw is the generator's ``randn`` on the support times one positive
    factor, so the same seed at ``3 m`` is exactly three times the draw at ``m``."""
    threat, _ = _threat()
    t = replace(threat.take(torch.tensor([0, 0])), multiple=torch.tensor([1.0, 3.0]).double())
    z = t.draw([torch.Generator().manual_seed(9) for _ in range(2)])
    u = torch.randn(z.shape[1:], generator=torch.Generator().manual_seed(9), dtype=z.dtype)
    on = t.support[0, 0, 0] > 0
    assert torch.count_nonzero(z[..., ~on]) == 0
    factor = z[0][..., on] / u[..., on]  # (C, H, n_on)
    assert factor.imag.abs().max() < 1e-6 * factor.real.abs().max()
    for c in range(z.shape[1]):
        f = factor[c].real
        assert (f > 0).all()
        torch.testing.assert_close(f, f.mean().expand_as(f), rtol=1e-5, atol=0)
    torch.testing.assert_close(z[1], 3 * z[0], rtol=1e-5, atol=1e-12)


def test_sigma_estimate_recovers_known_thermal_noise_of_synthetic_data():
    """The synthetic generator adds complex noise of a known sigma to every acquired sample;
    the background estimate (the noise attack's) finds it per coil, zero-filled columns
    corrected for, and the rows report it."""
    cfg = SynthConfig(num_volumes=1, num_slices=2, num_coils=3, kspace_shape=(192, 96),
                      recon_size=(96, 96), snr=15.0, padding=(6, 6), seed=4)  # fmt: skip
    vol = simulate_volume(cfg, 0)
    k = torch.from_numpy(vol.kspace)
    assert torch.count_nonzero(k[..., :6]) == 0  # zero-filled columns carry no noise
    est = thermal_sigma(k, (6, 90))
    torch.testing.assert_close(est, torch.full_like(est, vol.sigma), rtol=0.12, atol=0)
    assert float(est.mean()) == pytest.approx(vol.sigma, rel=0.05)
    box = [Box(30, 30, 12, 12)] * 2
    res = snr_attack(TinyNet((96, 96)), k, torch.ones(1, 1, 1, 96), None, box, 2.0, n_draws=1,
                     padding=(6, 90), generator=0)  # fmt: skip
    for i, row in enumerate(res.to_rows()):
        assert row["snr_thermal_sigma"] == pytest.approx(float(est[i].mean()), rel=1e-12)
        assert row["noise_to_thermal"] == pytest.approx(2.0, rel=1e-5)


def test_coils_without_thermal_noise_get_none_and_a_warning():
    sigma = torch.ones(2, 4)
    sigma[:, 1] = 0
    with pytest.warns(RuntimeWarning, match="zero thermal noise"):
        res = snr_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, 2.0, sigma=sigma,
                         padding=PAD, n_draws=1, generator=0)  # fmt: skip
    assert torch.count_nonzero(res.perturbation[:, 1]) == 0
    assert torch.count_nonzero(res.perturbation[:, 0]) > 0


def test_draws_reproducible_by_seed_and_independent_of_chunking():
    kw = dict(n_draws=3, padding=PAD, generator=11)
    args = (phantom(), column_mask(), 4, BOXES, torch.tensor([1.0, 3.0]))
    a = snr_attack(TinyNet(), *args, **kw)
    b = snr_attack(TinyNet(), *args, **kw)
    c = snr_attack(TinyNet(), *args, **kw, chunk_size=1)
    d = snr_attack(TinyNet(), *args, **{**kw, "generator": 12})
    assert torch.equal(a.perturbation, b.perturbation) and a.to_rows() == b.to_rows()
    assert torch.equal(a.perturbation, c.perturbation)  # per-item streams: the same draws
    assert torch.equal(a.worst_draw, c.worst_draw)
    torch.testing.assert_close(a.adversarial, c.adversarial, rtol=1e-5, atol=1e-6)
    for ra, rc in zip(a.to_rows(), c.to_rows(), strict=True):
        assert ra.keys() == rc.keys()
        for key, v in ra.items():
            if isinstance(v, float):
                assert v == pytest.approx(rc[key], rel=1e-4, abs=1e-5), key
            else:
                assert v == rc[key], key
    assert not torch.equal(a.perturbation, d.perturbation)


def test_adv_is_the_worst_draw_and_rand_mean_the_mean_of_the_same_draws():
    """Draw ``d`` is the ``d``-th randn of the item's stream whatever ``n_draws`` is, so the
    runs with 1..4 draws reveal every draw's region SSIM: the 4-draw run reports their minimum
    (first on a tie) as ``adv`` and their mean as ``rand_mean``."""
    args = (TinyNet(), phantom(), column_mask(), 4, BOXES, torch.tensor([3.0, 10.0]))
    runs = [snr_attack(*args, n_draws=n, padding=PAD, generator=2) for n in (1, 2, 3, 4)]
    means = np.array([[r["rand_mean_ssim"] for r in run.to_rows()] for run in runs])
    counts = np.arange(1, 5)[:, None]
    each = np.diff(np.vstack([np.zeros(means.shape[1]), means * counts]), axis=0)  # (4, N)
    last = runs[-1].to_rows()
    for i, row in enumerate(last):
        assert row["adv_ssim"] == pytest.approx(each[:, i].min(), abs=1e-6)
        assert row["snr_worst_draw"] == int(np.argmin(each[:, i]))
        assert row["rand_worst_ssim"] == row["adv_ssim"] <= row["rand_mean_ssim"]
        assert row["snr_n_draws"] == 4
    first = runs[0].to_rows()
    assert all(r["adv_ssim"] == pytest.approx(r["rand_mean_ssim"], abs=1e-9) for r in first)


def test_control_is_the_fully_sampled_kspace_with_the_same_noise():
    k = phantom()
    res = snr_attack(TinyNet(), k, column_mask(), 4, BOXES, 3.0, n_draws=2, padding=PAD,
                     generator=4)  # fmt: skip
    want = kspace_to_target(k[res.item_index] + res.perturbation, (16, 16))
    torch.testing.assert_close(res.control, want)


def test_bad_arguments_are_one_line_errors():
    args = (TinyNet(), phantom(), column_mask(), 4, BOXES)
    for kw, msg in (
        ({"n_draws": 0}, "n_draws must be an integer >= 1"),
        ({"sigma": torch.ones(3, 4)}, r"sigma must be a finite, non-negative"),
        ({"draw_keys": [0, 1]}, "draw_keys must give one key per item"),
        ({"data_range": "abs"}, "data_range must be one of"),
    ):
        with pytest.raises(AdvreconError, match=msg):
            snr_attack(*args, 1.0, **kw)
    with pytest.raises(AdvreconError, match="sigma_multiple must be finite and >= 0"):
        snr_attack(*args, [1.0, -1.0])


@pytest.mark.parametrize(
    "section, message",
    [
        ({"sigma_multiple": [0, -1]}, r"^attacks\.snr\.sigma_multiple\[1\]: must be >= 0$"),
        ({"sigma_multiple": [0, 1], "n_draws": 0}, r"^attacks\.snr\.n_draws: must be >= 1$"),
        ({"sigma_multiple": [0, 1], "measured_only": "yes"}, r"^attacks\.snr\.measured_only: "),
        ({"sigma_multiple": [0, 1], "targets": ["regoin"]}, r"^attacks\.snr\.targets\[0\]: .*"
                                                            "did you mean 'region'"),
        ({"n_draws": 2}, r"^attacks\.snr\.sigma_multiple: required key is missing$"),
        ({"sigma_multiple": [1], "sigma_multipel": 1}, r"^attacks\.snr\.sigma_multipel: unknown"),
    ],
)  # fmt: skip
def test_bad_config_is_one_line_error_with_key_path(section, message):
    cfg = fakes.real_config_dict("runs", "data")
    cfg["attacks"] = {"snr": section}
    with pytest.raises(ConfigError, match=message) as err:
        parse_config(cfg)
    assert "\n" not in str(err.value)


def test_batch_groups_follow_models_and_targets():
    boxes = {
        "region": [(0, Box(1, 1, 4, 4)), (1, Box(5, 5, 4, 4))],
        "image": [(-1, Box.full((8, 8)))],
    }
    sec = SnrAttackConfig.model_validate({"sigma_multiple": [0, 1, 3], "models": ["unet"],
                                          "targets": ["region"]})  # fmt: skip
    assert snr_batch_groups(sec, "varnet", ["region", "image"], boxes) == []
    (group,) = snr_batch_groups(sec, "unet", ["region", "image"], boxes)
    assert group.label == "snr-random/region" and len(group.units) == 6
    assert {(u.box_index, u.budget) for u in group.units} == {
        (b, m) for b in (0, 1) for m in (0, 1, 3)
    }
    with pytest.warns(UserWarning, match="above 100 thermal sigmas"):
        SnrAttackConfig.model_validate({"sigma_multiple": [0, 200]})


def test_shipped_config_loads():
    cfg = load_config(ROOT / "configs" / "snr.yaml", check_paths=False, device="cpu")
    assert cfg.attacks.snr.sigma_multiple == (0.0, 0.5, 1.0, 3.0, 10.0)
    assert cfg.attacks.snr.measured_only is cfg.attacks.noise.measured_only is False
    packaged = ROOT / "src" / "advrecon" / "configs" / "snr.yaml"
    assert packaged.read_bytes() == (ROOT / "configs" / "snr.yaml").read_bytes()


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------
def _rows(adv_drop: float, slices: int = 5) -> pd.DataFrame:
    """Noise rows (eta 0, 1, 2.5 %: 0, 0.2, 0.5 sigma) and SNR rows (m 0, 0.5, 1, 3): random
    noise lowers region SSIM by 0.01 per sigma, adversarial noise by ``adv_drop`` per % eta."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(slices):
        clean = 0.8 + 0.01 * rng.standard_normal()
        common = dict(model="unet", acceleration=4, target="region", file="f", slice=s,
                      box_index=0, clean_ssim=clean, measured_only=False,
                      control_ssim=0.99)  # fmt: skip
        for eta, level in ((0.0, 0.0), (1.0, 0.2), (2.5, 0.5)):
            jitter = 0.002 * rng.standard_normal()
            rows.append(dict(common, attack="noise", rule="l2", budget=eta,
                             noise_to_thermal=level * (1 + 0.05 * rng.random()),
                             adv_ssim=clean - adv_drop * eta + jitter))  # fmt: skip
        for m in (0.0, 0.5, 1.0, 3.0):
            mean = clean - 0.01 * m + 0.001 * rng.standard_normal()
            rows.append(dict(common, attack="snr", rule="random", budget=m, noise_to_thermal=m,
                             rand_mean_ssim=mean, adv_ssim=mean - 0.002 * m,
                             snr_n_draws=4))  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize("adv_drop, want", [(0.05, "holds"), (0.0001, "does not hold")])
def test_adversarial_vs_random_finding_in_thermal_units(tmp_path, adv_drop, want):
    ctx = ReportContext(_rows(adv_drop), pd.DataFrame(), tmp_path, tmp_path)
    f = {x.key: x for x in findings(ctx)}
    comp = f["snr_adversarial_vs_random"]
    assert comp.verdict == want
    text = "\n".join(comp.evidence)
    # m = 0.5: the strongest adversarial budget below it is eta 1 % (0.2-0.21 sigma) ...
    assert "unet 4x, random m = 0.5 sigma: adversarial eta = 1 % at 0.2" in text
    # ... and eta 2.5 % (at most 0.525 sigma) is below m = 1 and m = 3
    assert "random m = 3 sigma: adversarial eta = 2.5 % at 0.5" in text
    assert f["snr_falls"].verdict == "holds"
    (sec,) = sections(ctx)
    assert sec.text.startswith("unet 4x: the adversarial noise at eta = 2.5 % is 0.5")
    assert (
        "and lowers region SSIM to" in sec.text and "random noise at m = 3 sigma lowers" in sec.text
    )
    assert ("hurts more" in sec.text) == (want == "holds")
    assert "region SSIM is 0.9900 (adversarial) and 0.9900 (random, worst draw)" in sec.text
    t = tables(ctx)["snr_thermal_units"]
    assert set(t["noise"]) == {"adversarial (noise attack)", "random, mean over draws",
                               "random, worst draw"}  # fmt: skip
    assert (t["n_slices"] == 5).all()
    mean_rows = t["noise"] == "random, mean over draws"
    assert t.loc[mean_rows, "control_region_ssim"].isna().all()
    assert (t.loc[~mean_rows, "control_region_ssim"] == 0.99).all()


def test_no_noise_rows_is_a_note_and_not_enough_data(tmp_path):
    df = _rows(0.05)
    ctx = ReportContext(df[df["attack"] == "snr"], pd.DataFrame(), tmp_path, tmp_path)
    comp = findings(ctx)[0]
    assert comp.verdict == "not enough data" and comp.evidence == []
    (sec,) = sections(ctx)
    assert sec.table is None and "no region rows of the noise attack" in sec.text


def test_snr_and_noise_run_end_to_end_and_report(tmp_path):
    cfg = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    cfg["attacks"] = {
        "noise": {"eta": [0, 2], "steps": 2, "n_random": 1, "search": "pgd"},
        "snr": {"sigma_multiple": [0, 1, 3], "n_draws": 2},
    }
    cfg["targets"] = ["region"]
    path = tmp_path / "snr.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["run", str(path), "--no-progress"]) == 0
    run_dir = load_config(path).run_dir()
    df = pd.read_csv(run_dir / "results.csv")
    assert set(df.columns) <= set(schema.COLUMNS)
    snr = df[df.attack == "snr"]
    assert set(snr.budget) == {0, 1, 3} and (snr.snr_n_draws == 2).all()
    np.testing.assert_allclose(snr.noise_to_thermal, snr.budget, rtol=1e-5)
    zero = snr[snr.budget == 0]
    assert (zero.adv_ssim == zero.clean_ssim).all() and (zero.snr_worst_draw == -1).all()
    assert (snr.rand_worst_ssim == snr.adv_ssim).all()
    assert main(["report", str(run_dir)]) == 0
    report = run_dir / "report"
    assert (report / "figures" / "fig_snr_budget.png").is_file()
    assert (report / "figures" / "panel_snr_worst.png").is_file()
    md = (report / "findings.md").read_text(encoding="utf-8")
    assert "Adversarial noise hurts more than random noise of a larger thermal level" in md
    assert "Adversarial noise in thermal units: tiny 4x: the adversarial noise at eta = 2 %" in md
    t = pd.read_csv(report / "tables" / "snr_thermal_units.csv")
    assert set(t["noise"]) >= {"adversarial (noise attack)", "random, mean over draws"}
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"
