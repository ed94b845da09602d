"""B0 off-resonance (advrecon.attacks.offresonance) on tiny phantoms and a stand-in model."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_experiments_fakes as fakes  # noqa: E402
from test_attacks_noise import BOXES, TinyNet, column_mask, phantom  # noqa: E402

from advrecon.attacks.motion import translate_kspace  # noqa: E402
from advrecon.attacks.objectives import data_range, make_regions  # noqa: E402
from advrecon.attacks.offresonance import (  # noqa: E402
    DEFAULT_SEGMENTS,
    OffResonance,
    OffResonanceAttackConfig,
    basis,
    exact_kspace,
    field_map,
    fieldmap,
    max_abs,
    offresonance_attack,
    offresonance_kspace,
    project,
    readout_times,
)
from advrecon.attacks.offresonance.config import accurate_shift_px  # noqa: E402
from advrecon.attacks.offresonance.signal import (  # noqa: E402
    interpolation_error,
    interpolator,
    segment_times,
)
from advrecon.boxes import Box  # noqa: E402
from advrecon.cli import main  # noqa: E402
from advrecon.config_types import ConfigWarning  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.mri import fft2c, ifft2c, kspace_to_target  # noqa: E402
from advrecon.report import plugins  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread

BW = 200.0  # Hz/pixel
KW = dict(bandwidth_hz_per_pixel=BW, segments=6, steps=3, n_random=2, generator=5)
ROOT = Path(__file__).resolve().parents[1]


def random_maps(n: int, shape, bound: float, degree: int = 2, seed: int = 0) -> torch.Tensor:
    """``(n, H, W)`` random polynomial field maps with ``max|df| = bound``."""
    phi = basis(shape, degree)
    gens = [torch.Generator().manual_seed(seed + i) for i in range(n)]
    b = torch.full((n,), float(bound), dtype=torch.float64)
    return field_map(fieldmap.draw(gens, phi, b), phi)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


# --------------------------------------------------------------------------------------------
# zero bound
# --------------------------------------------------------------------------------------------
def test_zero_field_keeps_kspace_bit_for_bit_item_by_item():
    k = phantom(2)
    zero = torch.zeros(2, *k.shape[-2:], dtype=torch.float64)
    assert offresonance_kspace(k, zero, BW, 8) is k
    df = zero.clone()
    df[1] = random_maps(1, k.shape[-2:], 150.0)[0]
    out = offresonance_kspace(k, df, BW, 8)
    assert torch.equal(out[0], k[0])  # the still item, exactly
    assert not torch.allclose(out[1], k[1], atol=1e-3)


def test_zero_bound_reproduces_clean_exactly():
    res = offresonance_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, 0.0, **KW)
    assert res.coeffs.abs().max() == 0 and res.worst_max_hz.abs().max() == 0
    assert torch.equal(res.adversarial, res.clean)
    for name in ("ssim", "psnr", "nmse", "mse"):
        assert torch.equal(res.metrics[f"adv_{name}"], res.metrics[f"clean_{name}"])
        assert torch.equal(res.metrics[f"rand_mean_{name}"], res.metrics[f"clean_{name}"])
        assert torch.equal(res.metrics[f"rand_worst_{name}"], res.metrics[f"clean_{name}"])
    assert torch.equal(res.metrics["control_mse"], torch.zeros(3, dtype=torch.float64))
    assert torch.equal(res.control, res.target)


# --------------------------------------------------------------------------------------------
# physics: readout times, constant offset = shift of df / BW pixels along the readout
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("H", [32, 33])
def test_readout_times_echo_at_the_centre_and_duration_one_over_bw(H):
    t = readout_times(H, BW)
    assert t[H // 2] == 0  # the k-space centre (fft2c's frequency 0) is the echo
    torch.testing.assert_close(t.diff(), torch.full((H - 1,), 1 / (BW * H), dtype=t.dtype))
    torch.testing.assert_close(t[-1] - t[0] + 1 / (BW * H), torch.tensor(1 / BW, dtype=t.dtype))


@pytest.mark.parametrize("H, W", [(32, 24), (33, 20)])
@pytest.mark.parametrize("df_hz", [130.0, -70.0, 400.0])
def test_constant_offset_is_a_shift_of_df_over_bw_pixels_along_the_readout(H, W, df_hz):
    g = torch.Generator().manual_seed(1)
    k = fft2c(torch.randn((1, 2, H, W), generator=g, dtype=torch.complex128))
    df = torch.full((1, H, W), df_hz, dtype=torch.float64)
    shift = torch.tensor([[df_hz / BW, 0.0]], dtype=torch.float64)
    fourier = translate_kspace(k, shift)  # the Fourier shift theorem, +df/BW rows
    torch.testing.assert_close(exact_kspace(k, df, BW), fourier, atol=1e-10, rtol=0)
    segments = math.ceil(5 + 8 * abs(df_hz) / BW / 3)  # the config's accuracy rule
    ts = offresonance_kspace(k, df, BW, segments)
    assert rel_err(ts, fourier) < 1e-3  # white-noise image: every k-space row weighs the same


def test_positive_offset_moves_the_object_towards_larger_rows_by_whole_pixels():
    H, W = 32, 16
    img = torch.zeros((1, 1, H, W), dtype=torch.complex128)
    img[0, 0, 10, 5] = 1.0
    k = fft2c(img)
    df = torch.full((1, H, W), 3 * BW, dtype=torch.float64)  # 3 pixels
    moved = ifft2c(exact_kspace(k, df, BW))
    torch.testing.assert_close(moved, torch.roll(img, 3, dims=-2), atol=1e-10, rtol=0)
    ts = ifft2c(offresonance_kspace(k, df, BW, 12))
    assert ts.abs()[0, 0].argmax() == 13 * W + 5  # row 13, column 5: down the readout only


def test_readout_only_offset_does_not_move_along_the_phase_encoding():
    k = phantom(1, C=2, dtype=torch.complex128)
    df = torch.full((1, *k.shape[-2:]), 150.0, dtype=torch.float64)
    out = exact_kspace(k, df, BW)
    # k-space magnitude is unchanged by a shift; the phase ramp runs down the rows only
    torch.testing.assert_close(out.abs(), k.abs(), atol=1e-10, rtol=1e-8)
    ratio = out / k
    torch.testing.assert_close(ratio, ratio[..., :1].expand_as(ratio), atol=1e-8, rtol=0)


# --------------------------------------------------------------------------------------------
# time segmentation against the exact sum
# --------------------------------------------------------------------------------------------
def test_time_segmentation_error_below_the_documented_bound_at_the_default_segments():
    """Default L = 8, up to a one-pixel shift: every sample's phase factor within 1.2e-4 (the
    bound for a constant map on any image) and the relative k-space error of smooth maps on a
    phantom below 1e-4 (``benchmarks/offresonance_accuracy.py``: 1.1e-4 and 8e-6)."""
    assert OffResonanceAttackConfig.model_fields["segments"].default == DEFAULT_SEGMENTS == 8
    assert interpolation_error(DEFAULT_SEGMENTS, 1.0) < 1.2e-4
    k = phantom(1, C=2, dtype=torch.complex128)
    for bound in (0.25 * BW, 0.5 * BW, BW):
        maps = random_maps(4, k.shape[-2:], bound)
        maps = torch.cat([maps, torch.full_like(maps[:1], bound)])
        for df in maps:
            b = torch.tensor([bound])
            ts = offresonance_kspace(k, df[None], BW, DEFAULT_SEGMENTS, "ls", b)
            assert rel_err(ts, exact_kspace(k, df[None], BW)) < 1e-4, bound


@pytest.mark.parametrize("segments", [6, 8, 10, 12])
def test_the_accuracy_rule_of_the_config_holds(segments):
    shift = accurate_shift_px(segments)
    assert interpolation_error(segments, shift) <= 1e-3
    assert interpolation_error(segments, 2 * shift + 0.25) > 1e-3  # and not far too strict
    k = phantom(1, C=2, dtype=torch.complex128)
    bound = shift * BW
    maps = torch.cat(
        [
            random_maps(3, k.shape[-2:], bound),
            torch.full((1, *k.shape[-2:]), bound, dtype=torch.float64),
        ]
    )
    for df in maps:
        ts = offresonance_kspace(k, df[None], BW, segments, "ls", torch.tensor([bound]))
        assert rel_err(ts, exact_kspace(k, df[None], BW)) < 1e-3


def test_interpolators_hanning_is_a_partition_of_unity_and_ls_is_exact_at_the_nodes():
    t = readout_times(33, BW)  # 33 samples, 5 segments: the segment times are samples 0, 8, ...
    taus = segment_times(t, 5)
    hann = interpolator("hanning", t, taus, torch.tensor([100.0]))
    torch.testing.assert_close(hann.sum(1), torch.ones(1, 33, dtype=t.dtype))
    ls = interpolator("ls", t, taus, torch.tensor([100.0, 300.0]))
    assert ls.shape == (2, 5, 33)
    for j in range(5):  # at a segment time the interpolators are that segment alone
        one = torch.eye(5, dtype=t.dtype)[j].expand(2, 5)
        torch.testing.assert_close(ls[:, :, 8 * j], one, atol=1e-6, rtol=0)
        torch.testing.assert_close(hann[0, :, 8 * j], one[0], atol=1e-12, rtol=0)
    k = phantom(1, C=2, dtype=torch.complex128)
    df = random_maps(1, k.shape[-2:], 50.0)
    assert rel_err(offresonance_kspace(k, df, BW, 12, "hanning"), exact_kspace(k, df, BW)) < 0.05


# --------------------------------------------------------------------------------------------
# the field map: basis, bound, projection, draws
# --------------------------------------------------------------------------------------------
def test_basis_is_the_legendre_polynomials_of_total_degree():
    phi = basis((5, 7), 2)
    assert phi.shape == (6, 5, 7) and phi.dtype == torch.float64
    assert phi.abs().amax() <= 1 + 1e-12
    y = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None].expand(5, 7)
    x = torch.linspace(-1, 1, 7, dtype=torch.float64)[None, :].expand(5, 7)
    want = [torch.ones_like(x), y, x, (3 * y**2 - 1) / 2, x * y, (3 * x**2 - 1) / 2]
    torch.testing.assert_close(phi, torch.stack(want))
    assert basis((5, 7), 0).shape == (1, 5, 7) and basis((5, 7), 4).shape == (15, 5, 7)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_projection_respects_the_bound_and_keeps_feasible_points(degree):
    phi = basis((24, 20), degree)
    K = phi.shape[0]
    g = torch.Generator().manual_seed(degree)
    c = 300 * torch.randn((50, K), generator=g, dtype=torch.float64)
    bound = 100 * torch.rand(50, generator=g, dtype=torch.float64)
    bound[0] = 0.0
    p = project(c, phi, bound)
    m = max_abs(p, phi)
    assert (m <= bound * (1 + fieldmap.TOLERANCE)).all()
    outside = max_abs(c, phi) > bound
    torch.testing.assert_close(m[outside], bound[outside], rtol=1e-12, atol=0)  # on the boundary
    assert torch.equal(project(p, phi, bound * (1 + 1e-6)), p)  # feasible points stay
    # the projection scales along the ray: the field map's shape is kept
    cos = torch.nn.functional.cosine_similarity(p[1:], c[1:], dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos))
    gens = [torch.Generator().manual_seed(i) for i in range(50)]
    d = fieldmap.draw(gens, phi, bound)
    torch.testing.assert_close(max_abs(d, phi), bound, rtol=1e-12, atol=0)


def _threat(bound, degree=2, shape=(32, 24)) -> OffResonance:
    """An :class:`OffResonance` of which only the feasible set matters."""
    nothing = dict.fromkeys(("recon", "mask", "nlf", "target", "regions", "full", "data_range"))
    return OffResonance(kspace=torch.zeros(1), phi=basis(shape, degree), bound=bound, bandwidth=BW,
                        segments=4, interpolator="ls", columns=None, **nothing)  # fmt: skip


def test_feasible_draw_project_and_ascent_step():
    bound = torch.tensor([0.0, 50.0, 200.0], dtype=torch.float64)
    threat = _threat(bound)
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    z = threat.draw(gens)
    assert threat.feasible(z).all() and torch.equal(z[0], torch.zeros(6, dtype=torch.float64))
    step = threat.ascent_step(z, torch.randn(3, 6, dtype=torch.float64), 0.5, "l2")
    assert threat.feasible(step).all()
    assert not threat.feasible(z * 1.01)[1:].any()
    assert not threat.feasible(torch.full_like(z, torch.nan)).any()
    assert threat.active.tolist() == [False, True, True]


# --------------------------------------------------------------------------------------------
# the attack
# --------------------------------------------------------------------------------------------
def test_bounds_hold_at_every_evaluated_point(monkeypatch):
    seen = []
    orig = OffResonance.reconstruct

    def spy(self, delta):
        seen.append((max_abs(delta.detach(), self.phi), self.bound.clone()))
        return orig(self, delta)

    monkeypatch.setattr(OffResonance, "reconstruct", spy)
    bounds = torch.tensor([60.0, 150.0])
    res = offresonance_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, bounds, **KW)
    assert len(seen) > KW["steps"]
    for m, b in seen:
        assert (m <= b * (1 + fieldmap.TOLERANCE)).all()
    assert (res.worst_max_hz <= res.max_hz * (1 + fieldmap.TOLERANCE)).all()
    assert (res.worst_max_hz > 0.5 * res.max_hz).all()  # the bound is used
    assert (res.trace.amax(1) >= res.trace[:, 0]).all()
    rows = res.to_rows()
    for r, b in zip(rows, res.max_hz.tolist(), strict=True):
        assert r["offres_max_shift_px"] == pytest.approx(b / BW)
        assert r["offres_worst_shift_px"] == pytest.approx(r["offres_worst_max_hz"] / BW)


def test_columns_outside_the_acquired_band_are_never_acquired(monkeypatch):
    seen = []
    orig = OffResonance.acquired

    def spy(self, delta):
        out = orig(self, delta)
        seen.append((out.detach(), self.kspace))
        return out

    monkeypatch.setattr(OffResonance, "acquired", spy)
    k, m = phantom(1), column_mask()
    offresonance_attack(TinyNet(), k, m, 4, [BOXES[0]], 150.0, padding=(2, 22), **KW)
    assert seen
    for out, orig_k in seen:
        assert torch.equal(out[..., :2], orig_k[..., :2])
        assert torch.equal(out[..., 22:], orig_k[..., 22:])
        assert not torch.allclose(out[..., 2:22], orig_k[..., 2:22], atol=1e-3)


def test_gradcheck_of_the_objective_in_the_field_map_coefficients():
    k = phantom(1, C=2, dtype=torch.complex128)[..., :16, :12]
    mask = torch.zeros(1, 1, 1, 12, dtype=torch.float64)
    mask[..., ::2] = 1
    net = TinyNet(recon_size=(8, 8)).double()
    target = kspace_to_target(k, (8, 8))
    box = [Box(1, 1, 7, 7)]
    threat = OffResonance(
        net, k, mask, 2, basis((16, 12), 2), torch.tensor([150.0], dtype=torch.float64), BW, 4,
        "ls", None, target, make_regions(box, (8, 8)), make_regions(box, (8, 8)),
        data_range(target),
    )  # fmt: skip
    for objective in ("mse", "ssim"):

        def f(c, objective=objective):
            return threat.objective_of(threat.reconstruct(c[None]), objective)[0]

        c0 = torch.tensor([30.0, -20.0, 15.0, 10.0, -5.0, 8.0], dtype=torch.float64)
        assert torch.autograd.gradcheck(f, (c0.requires_grad_(),), eps=1e-4, atol=1e-7, rtol=1e-4)


def test_batch_equals_sequential_and_is_deterministic():
    net, k, m = TinyNet(), phantom(), column_mask()
    a = offresonance_attack(net, k, m, 4, BOXES, [80.0, 150.0], **KW)
    for cs in (1, 2):
        b = offresonance_attack(net, k, m, 4, BOXES, [80.0, 150.0], chunk_size=cs, **KW)
        torch.testing.assert_close(b.coeffs, a.coeffs, atol=1e-6, rtol=0)
        torch.testing.assert_close(b.adversarial, a.adversarial, atol=1e-5, rtol=0)
        for key, v in a.metrics.items():
            torch.testing.assert_close(b.metrics[key], v, atol=1e-5, rtol=1e-5, equal_nan=True)
    again = offresonance_attack(net, k, m, 4, BOXES, [80.0, 150.0], **KW)
    assert torch.equal(again.coeffs, a.coeffs)


def test_bad_arguments_are_one_line_errors():
    net, k, m = TinyNet(), phantom(1), column_mask()
    for kw, msg in (
        (dict(max_hz=-1.0), "max_hz must be finite and >= 0"),
        (dict(max_hz=10.0, segments=0), "segments must be an integer >= 1"),
        (dict(max_hz=10.0, degree=7), "degree must be <= 4"),
        (dict(max_hz=10.0, bandwidth_hz_per_pixel=0.0), "bandwidth_hz_per_pixel must be"),
        (dict(max_hz=10.0, interpolator="sinc"), "interpolator must be one of"),
    ):
        bound = kw.pop("max_hz")
        with pytest.raises(AdvreconError, match=msg):
            offresonance_attack(net, k, m, 4, [BOXES[0]], bound, **kw)


# --------------------------------------------------------------------------------------------
# the config section, the run and the report
# --------------------------------------------------------------------------------------------
def test_config_section_errors_name_the_key():
    def parse(**section):
        return parse_config(fakes.tiny_config_dict("o", attacks={"offresonance": section}))

    cfg = parse(max_hz=[0, 50], segments=10, degree=0)
    assert isinstance(cfg.attacks.offresonance, OffResonanceAttackConfig)
    assert cfg.attacks.offresonance.bandwidth_hz_per_pixel == 200.0
    for bad, msg in (
        (dict(max_hz=[10, -5]), r"^attacks\.offresonance\.max_hz\[1\]: must be >= 0"),
        (dict(max_hz=[10], segments=0), r"^attacks\.offresonance\.segments\b"),
        (dict(max_hz=[10], degree=5), r"^attacks\.offresonance\.degree: must be <= 4"),
        (dict(max_hz=[10], degree=-1), r"^attacks\.offresonance\.degree\b"),
        (dict(max_hz=[10], bandwidth_hz_per_pixel=0), r"^attacks\.offresonance\.bandwidth_hz"),
        (dict(max_hz=[10], interpolator="nufft"), r"^attacks\.offresonance\.interpolator: must"),
        (dict(max_hz=[10], segmnets=4), r"^attacks\.offresonance\.segmnets: unknown key"),
        (dict(segments=4), r"^attacks\.offresonance\.max_hz\b"),
    ):
        with pytest.raises(ConfigError, match=msg) as err:
            parse(**bad)
        assert "\n" not in str(err.value)


def test_too_few_segments_for_the_bound_warn():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        OffResonanceAttackConfig.model_validate({"max_hz": [0, 400], "segments": 8})
        OffResonanceAttackConfig.model_validate({"max_hz": [0, 200], "segments": 8})
    msgs = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
    assert len(msgs) == 1 and "use segments >= 11" in msgs[0]  # 2 px: 5 + 8 * 2 / 3


def test_shipped_config_parses_and_the_package_copy_is_equal():
    path = ROOT / "configs" / "offresonance.yaml"
    assert path.read_text() == (ROOT / "src" / "advrecon" / "configs" / path.name).read_text()
    cfg = load_config(path, check_paths=False, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)  # the segments fit the bounds
        OffResonanceAttackConfig.model_validate(yaml.safe_load(path.read_text())["attacks"][
            "offresonance"])  # fmt: skip
    assert max(cfg.attacks.offresonance.max_hz) > 0 and 0 in cfg.attacks.offresonance.max_hz


def test_offresonance_runs_end_to_end_resumes_and_reports(tmp_path, capsys):
    cfg = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    cfg["attacks"] = {"offresonance": {"max_hz": [0, 150], "segments": 6, "steps": 2,
                                       "n_random": 1}}  # fmt: skip
    path = tmp_path / "offres.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--max-units", "3", "--no-progress"]) == 0
    assert main(["run", str(path), "--no-progress"]) == 0
    assert "(complete)" in capsys.readouterr().out
    run_dir = load_config(path).run_dir()
    df = pd.read_csv(run_dir / "results.csv")
    assert set(df.attack) == {"offresonance"} and set(df.budget) == {0, 150}
    assert set(df.columns) <= set(schema.COLUMNS) and df.unit_id.str.contains("/b150.000/").any()
    assert (df.offres_worst_max_hz <= df.budget * (1 + 1e-9)).all()
    zero, moved = df[df.budget == 0], df[df.budget == 150]
    assert (zero.adv_ssim == zero.clean_ssim).all() and (zero.offres_worst_max_hz == 0).all()
    assert (moved.offres_bandwidth_hz_per_px == 200).all() and (moved.offres_segments == 6).all()
    assert moved[moved.target == "region"].rand_mean_ssim.notna().all()
    npz = np.load(run_dir / moved.arrays_file.iloc[0])
    assert npz["offres_coeffs"].shape == (6,)
    assert main(["report", str(run_dir)]) == 0
    report = run_dir / "report"
    assert (report / "figures" / "fig_offresonance_budget.png").is_file()
    assert (report / "figures" / "panel_offresonance_worst.png").is_file()
    assert "A worst-case B0 field map degrades more" in (report / "findings.md").read_text()


@pytest.mark.parametrize(
    "gap, want", [(0.05, "holds"), (-0.05, "does not hold"), (0.0, "not enough data")]
)
def test_offresonance_finding_three_way_verdict(gap, want):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(5):
        adv = 0.8 + 0.01 * rng.standard_normal()
        for b in (0.0, 100.0):
            g = gap + (0.002 * rng.standard_normal() if gap else 0.0) if b else 0.0
            row = dict(attack="offresonance", rule="pgd", target="region", model="unet")
            row.update(acceleration=4, budget=b, file="f", slice=s, adv_ssim=adv)
            rows.append(dict(row, clean_ssim=adv + 0.1, rand_mean_ssim=adv + g))
    found = [f for f in plugins.evaluate(pd.DataFrame(rows)) if f.key.startswith("offresonance")]
    assert len(found) == 1 and found[0].verdict == want
    other = pd.DataFrame(rows).assign(attack="noise", rule="l2")
    assert not [f for f in plugins.evaluate(other) if f.key.startswith("offresonance")]
