"""Inter-shot rigid motion (advrecon.attacks.motion) on tiny phantoms and a stand-in model."""

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
from test_attacks_noise import BOXES, TinyNet, W, column_mask, phantom  # noqa: E402

from advrecon.attacks.fixed_coils import move_in_fixed_coils  # noqa: E402
from advrecon.attacks.motion import (  # noqa: E402
    MotionAttackConfig,
    RigidMotion,
    motion_attack,
    moved_kspace,
    shot_index,
    translate_kspace,
)
from advrecon.attacks.motion.acquisition import _move_object  # noqa: E402
from advrecon.cli import main  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.mri import ifft2c  # noqa: E402
from advrecon.report import plugins  # noqa: E402
from advrecon.sensitivity import acs_sensitivity_maps  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread


KW = dict(shots=3, steps=3, n_random=2, generator=5)


@pytest.mark.parametrize("order", ["interleaved", "sequential"])
@pytest.mark.parametrize("centre", ["reference", "distributed"])
def test_shots_partition_the_sampled_columns(order, centre):
    m = column_mask()
    shots = shot_index(m, 3, order, centre, 4, padding=(2, 22))[0]
    sampled = (m[0, 0, 0] > 0) & (torch.arange(W) >= 2) & (torch.arange(W) < 22)
    assert torch.equal(shots >= 0, sampled)  # every sampled column in one shot, no other
    assert set(shots[sampled].tolist()) == {0, 1, 2}
    band = torch.zeros(W, dtype=torch.bool)
    band[W // 2 - 2 : W // 2 + 2] = True
    if centre == "reference":
        assert (shots[band] == 0).all()
    outer = torch.nonzero(sampled & ~band if centre == "reference" else sampled).flatten()
    seq = shots[outer]
    if order == "interleaved":
        assert seq.tolist() == [j % 3 for j in range(outer.numel())]
    else:
        assert (seq.diff() >= 0).all()  # contiguous blocks, in order
        counts = torch.bincount(seq, minlength=3)
        assert counts.max() - counts.min() <= 1


def test_more_shots_than_columns_is_an_error():
    with pytest.raises(AdvreconError, match=r"shots \(attacks\.motion\.shots\) = 9 is more"):
        shot_index(column_mask(), 9, "interleaved", "reference", 4)
    with pytest.raises(AdvreconError, match="more than the 3 sampled"):
        motion_attack(TinyNet(), phantom(1), column_mask(), 4, [BOXES[0]], 1, 1,
                      shots=4, padding=(2, 10))  # fmt: skip


def test_whole_pixel_translation_is_a_roll():
    k = phantom(2)
    shift = torch.tensor([[2.0, -3.0], [-1.0, 5.0]])
    moved = ifft2c(translate_kspace(k, shift))
    for b in range(2):
        rolled = torch.roll(ifft2c(k[b]), (2, -3) if b == 0 else (-1, 5), dims=(-2, -1))
        torch.testing.assert_close(moved[b], rolled, atol=1e-5, rtol=0)


def test_zero_motion_keeps_kspace_bit_for_bit_and_fixed_coils_identity():
    k = phantom(2)
    shots = shot_index(column_mask(), 3, "interleaved", "reference", 4)
    zero = torch.zeros(2, 3, 3, dtype=torch.float64)
    maps = acs_sensitivity_maps(k, None, 4)
    assert torch.equal(moved_kspace(k, zero, shots), k)
    assert torch.equal(moved_kspace(k, zero, shots, maps), k)
    # a still shot keeps its columns exactly even when another shot moves
    p = zero.clone()
    p[:, 2] = torch.tensor([3.0, 0.5, -0.5])
    out = moved_kspace(k, p, shots, maps)
    keep = shots[0] != 2
    assert torch.equal(out[..., keep], k[..., keep])
    assert not torch.allclose(out[..., ~keep], k[..., ~keep])


def test_zero_bound_reproduces_clean_exactly():
    res = motion_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, 0.0, 0.0, **KW)
    assert res.motion.abs().max() == 0 and res.single_motion.abs().max() == 0
    assert (res.single_shot == 0).all()  # nothing moved
    assert torch.equal(res.adversarial, res.clean) and torch.equal(res.single, res.clean)
    for name in ("ssim", "psnr", "nmse", "mse"):
        assert torch.equal(res.metrics[f"adv_{name}"], res.metrics[f"clean_{name}"])
        assert torch.equal(res.metrics[f"rand_mean_{name}"], res.metrics[f"clean_{name}"])
    assert torch.equal(res.metrics["control_mse"], torch.zeros(3, dtype=torch.float64))


@pytest.mark.parametrize("coils", ["move", "fixed"])
def test_bounds_hold_after_every_step(coils, monkeypatch):
    seen = []
    orig = RigidMotion.reconstruct

    def spy(self, delta):
        seen.append((delta.detach().clone(), self.limit.clone()))
        return orig(self, delta)

    monkeypatch.setattr(RigidMotion, "reconstruct", spy)
    theta, t = torch.tensor([1.5, 3.0]), torch.tensor([0.5, 2.0])
    res = motion_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, theta, t,
                        coils=coils, **KW)  # fmt: skip
    assert len(seen) > KW["steps"]
    for delta, lim in seen:
        assert (delta.abs() <= lim).all() and (delta[:, 0] == 0).all()  # shot 0 never moves
    bound = torch.stack([res.theta_max, res.t_max, res.t_max], 1)[:, None]
    assert (res.motion.abs() <= bound).all() and (res.single_motion.abs() <= bound).all()
    moving = (res.single_motion[:, 1:].abs().amax(-1) > 0).sum(1)
    assert (moving <= 1).all() and (res.single_shot >= 1).all()
    assert (res.motion[:, 1:, 0].abs().amax(1) > 0.5 * res.theta_max).all()  # bound used
    # the worst case is at least as bad as what the search started from, per item
    assert (res.trace.amax(1) >= res.trace[:, 0]).all()


def _box_only(bound, free) -> RigidMotion:
    """A :class:`RigidMotion` of which only the box matters (``bound`` ``(n, 1, 3)``, ``free``
    ``(n, S, 1)``)."""
    nothing = dict.fromkeys(("recon", "mask", "nlf", "shots", "maps", "target", "regions",
                             "full", "data_range"))  # fmt: skip
    return RigidMotion(kspace=torch.zeros(1), bound=bound, free=free, pad_deg=0.0, **nothing)


def test_feasible_and_project_are_the_box():
    bound = torch.tensor([[[2.0, 1.0, 1.0]]], dtype=torch.float64).expand(5, 1, 3)
    free = torch.tensor([[0.0], [1.0], [0.0]], dtype=torch.float64).expand(5, 3, 1)
    threat = _box_only(bound, free)
    delta = torch.zeros((5, 3, 3), dtype=torch.float64)
    delta[1, 1] = torch.tensor([2.0, -1.0, 0.5])  # on the bound: feasible
    delta[2, 0, 0] = 0.1  # shot 0 moves
    delta[3, 2, 1] = -0.1  # a shot that is not free moves
    delta[4, 1, 2] = 1.5  # beyond t_max
    assert threat.feasible(delta).tolist() == [True, True, False, False, False]
    assert threat.feasible(torch.full_like(delta, torch.nan)).tolist() == [False] * 5
    projected = threat.project(delta)
    assert threat.feasible(projected).all()
    assert torch.equal(projected[:2], delta[:2])  # feasible points stay where they are
    assert projected[4, 1, 2] == 1.0 and projected[2, 0, 0] == 0 and projected[3, 2, 1] == 0
    still = threat.still()
    assert torch.equal(still, torch.zeros_like(delta)) and not torch.signbit(still).any()
    gens = [torch.Generator().manual_seed(i) for i in range(5)]
    assert threat.feasible(threat.draw(gens)).all()
    step = threat.ascent_step(delta, torch.randn(5, 3, 3, dtype=torch.float64), 0.7, "l2")
    assert threat.feasible(step).all()


def test_every_iterate_is_a_feasible_output_of_draw_project_or_ascent_step(monkeypatch):
    """The contract of a threat class: a search reconstructs only (rows of) outputs of
    ``draw``, ``project`` and ``ascent_step``, all feasible."""
    made, seen = [], []
    for name in ("draw", "project", "ascent_step"):
        orig = getattr(RigidMotion, name)

        def record(self, *args, _orig=orig, **kwargs):
            out = _orig(self, *args, **kwargs)
            made.extend(out.detach().clone())
            return out

        monkeypatch.setattr(RigidMotion, name, record)
    orig_reconstruct = RigidMotion.reconstruct

    def spy(self, delta):
        seen.append((delta.detach().clone(), self.feasible(delta.detach())))
        return orig_reconstruct(self, delta)

    monkeypatch.setattr(RigidMotion, "reconstruct", spy)
    theta, t = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])  # a still slice too
    motion_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, theta, t, **KW)
    assert len(seen) > KW["steps"]
    for delta, feasible in seen:
        assert feasible.all()
        assert all(any(torch.equal(row, m) for m in made) for row in delta)


def test_gradcheck_in_the_motion_parameters():
    k = phantom(1, C=2, dtype=torch.complex128)[..., :16, :12]
    shots = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0]])
    maps = acs_sensitivity_maps(k, None, 4)

    # 6 random projections of the k-space: a full check of the Jacobian's action, cheaply
    w = torch.randn((6, *k.shape[1:]), dtype=k.dtype, generator=torch.Generator().manual_seed(0))

    for m in (None, maps):

        def f(p, m=m):
            full = torch.cat([torch.zeros(1, 1, 3, dtype=p.dtype), p[None, None]], 1)
            moved = moved_kspace(k, full, shots, m, pad_deg=5.0)
            return torch.view_as_real((moved * w).sum(dim=(-3, -2, -1)))

        p0 = torch.tensor([2.0, 0.3, -0.7], dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(f, (p0,), eps=1e-6, atol=1e-6)


def test_batch_equals_sequential_and_is_deterministic():
    net, k, m = TinyNet(), phantom(), column_mask()
    kw = dict(KW, pad_deg=3.0)
    a = motion_attack(net, k, m, 4, BOXES, [1.0, 3.0], [1.0, 0.5], **kw)
    b = motion_attack(net, k, m, 4, BOXES, [1.0, 3.0], [1.0, 0.5], chunk_size=1, **kw)
    c = motion_attack(net, k, m, 4, BOXES, [1.0, 3.0], [1.0, 0.5], chunk_size=2, **kw)
    for other in (b, c):
        torch.testing.assert_close(other.motion, a.motion, atol=1e-6, rtol=0)
        torch.testing.assert_close(other.adversarial, a.adversarial, atol=1e-5, rtol=0)
        assert torch.equal(other.single_shot, a.single_shot)
        for key, v in a.metrics.items():
            torch.testing.assert_close(other.metrics[key], v, atol=1e-5, rtol=1e-5,
                                       equal_nan=True)  # fmt: skip
    again = motion_attack(net, k, m, 4, BOXES, [1.0, 3.0], [1.0, 0.5], **kw)
    assert torch.equal(again.motion, a.motion)


def test_negative_bounds_are_errors():
    with pytest.raises(AdvreconError, match="theta_max must be finite and >= 0"):
        motion_attack(TinyNet(), phantom(1), column_mask(), 4, [BOXES[0]], -1.0, 1.0)
    with pytest.raises(AdvreconError, match="t_max must be finite and >= 0"):
        motion_attack(TinyNet(), phantom(1), column_mask(), 4, [BOXES[0]], 1.0, -0.5)


def test_config_section_errors_name_the_key():
    def parse(**motion):
        return parse_config(fakes.tiny_config_dict("o", attacks={"motion": motion}))

    cfg = parse(theta_max=[0, 2], t_max=[0, 1.5], units="mm", pixel_mm=0.5)
    assert isinstance(cfg.attacks.motion, MotionAttackConfig)
    assert cfg.attacks.motion.t_max_for(2.0) == 1.5 and cfg.attacks.motion.pixel_size == 0.5
    for bad, msg in (
        (dict(theta_max=[1, -2], t_max=1), r"^attacks\.motion\.theta_max\[1\]: must be >= 0"),
        (dict(theta_max=[1], t_max=-1), r"^attacks\.motion\.t_max\[0\]: must be >= 0"),
        (dict(theta_max=[1, 2], t_max=[1, 2, 3]), r"^attacks\.motion\.t_max: give one value"),
        (dict(theta_max=[1], t_max=1, units="mm"), r"^attacks\.motion\.pixel_mm: units: mm"),
        (dict(theta_max=[1], t_max=1, shots=1), r"^attacks\.motion\.shots: must be >= 2"),
    ):
        with pytest.raises(ConfigError, match=msg):
            parse(**bad)


def test_motion_runs_end_to_end_resumes_and_reports(tmp_path, capsys):
    cfg = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    cfg["attacks"] = {
        "motion": {"theta_max": [0, 3], "t_max": [0, 1], "shots": 3, "steps": 2, "n_random": 1}
    }
    path = tmp_path / "motion.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--max-units", "3", "--no-progress"]) == 0
    assert main(["run", str(path), "--no-progress"]) == 0
    assert "(complete)" in capsys.readouterr().out
    run_dir = load_config(path).run_dir()
    df = pd.read_csv(run_dir / "results.csv")
    assert set(df.attack) == {"motion"} and set(df.budget) == {0, 3} and df.unit_id.is_unique
    assert set(df.columns) <= set(schema.COLUMNS)
    assert (df.motion_worst_angle_deg <= df.budget + 1e-9).all()
    assert (df.motion_worst_shift_px <= df.motion_t_max_px + 1e-9).all()
    zero, moved = df[df.budget == 0], df[df.budget == 3]
    assert (zero.adv_ssim == zero.clean_ssim).all() and (zero.single_ssim == zero.clean_ssim).all()
    assert set(moved.single_shot) <= {1, 2} and moved.adv_ssim_full.notna().all()
    assert set(zero.single_shot) == {0}
    assert moved[moved.target == "region"].rand_mean_ssim.notna().all()
    assert main(["report", str(run_dir)]) == 0
    # more shots than sampled columns: one line naming the key, exit 2, no run folder
    cfg["attacks"]["motion"]["shots"] = 40
    cfg["output"] = str(tmp_path / "bad-runs")
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "shots (attacks.motion.shots) = 40 is more than the" in err and err.count("\n") == 1
    assert not (tmp_path / "bad-runs").exists() or not any((tmp_path / "bad-runs").rglob("*.csv"))
    report = run_dir / "report"
    assert (report / "figures" / "fig_motion_budget.png").is_file()
    assert (report / "figures" / "panel_motion_worst.png").is_file()
    assert (
        "Worst-case motion degrades more than random motion" in (report / "findings.md").read_text()
    )


@pytest.mark.parametrize(
    "gap, want", [(0.05, "holds"), (-0.05, "does not hold"), (0.0, "not enough data")]
)
def test_motion_finding_three_way_verdict(gap, want):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(5):
        adv = 0.8 + 0.01 * rng.standard_normal()
        for b in (0.0, 2.0):
            g = gap + (0.002 * rng.standard_normal() if gap else 0.0) if b else 0.0
            row = dict(attack="motion", rule="pgd", target="region", model="unet")
            row.update(acceleration=4, budget=b, file="f", slice=s, adv_ssim=adv)
            rows.append(dict(row, clean_ssim=adv + 0.1, rand_mean_ssim=adv + g))
    found = [f for f in plugins.evaluate(pd.DataFrame(rows)) if f.key.startswith("motion")]
    assert len(found) == 1 and found[0].verdict == want
    noise_only = pd.DataFrame(rows).assign(attack="noise", rule="l2")
    assert not [f for f in plugins.evaluate(noise_only) if f.key.startswith("motion")]


def test_fixed_coils_at_zero_motion_are_the_identity():
    k = phantom(2)
    coil, maps = ifft2c(k), acs_sensitivity_maps(k, None, 4)
    zero = torch.zeros(2, 3, dtype=torch.float64)
    # the motion path itself at zero motion (rotation by 0, phase ramp of 0) ...
    moved = move_in_fixed_coils(coil, maps, lambda x: _move_object(x, zero, 2.0))
    torch.testing.assert_close(moved, coil, atol=1e-5, rtol=0)
    # ... and a small motion moves the object, not the coils: it differs from moving coils
    full = torch.zeros(2, 2, 3, dtype=torch.float64)
    full[:, 1] = torch.tensor([3.0, 0.7, -0.4], dtype=torch.float64)
    shots = torch.tensor([[0, 1] * (W // 2)])
    fixed, move = moved_kspace(k, full, shots, maps), moved_kspace(k, full, shots)
    assert not torch.allclose(fixed, move, atol=1e-3)


def test_no_random_start_with_steps_is_a_clear_error_not_a_crash():
    from advrecon.attacks.motion.config import MotionAttackConfig
    from advrecon.boxes import Box
    from advrecon.errors import AdvreconError

    with pytest.raises(AdvreconError, match="random_start=False is not supported with steps > 0"):
        motion_attack(
            lambda k, m, n: k.abs().sum(1), torch.zeros(1, 2, 16, 8, dtype=torch.complex64),
            torch.ones(1, 1, 1, 8), 4, Box.full((16, 8)), 2.0, 1.0, shots=2, steps=2,
            random_start=False, recon_size=(16, 8),
        )  # fmt: skip
    with pytest.raises(ValueError, match="random_start"):
        MotionAttackConfig(theta_max=[2], t_max=[1], steps=2, random_start=False)
    assert MotionAttackConfig(theta_max=[2], t_max=[1], steps=0, random_start=False).steps == 0
