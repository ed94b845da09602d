"""Adversarial rotation (advrecon.attacks.rotation) on tiny phantoms and a stand-in model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_attacks_noise import SIZE, TinyNet, column_mask, phantom

from advrecon.attacks.contract import SliceAttack
from advrecon.attacks.geometry import rotate, validity_mask
from advrecon.attacks.objectives import (
    data_range,
    error_maps,
    make_regions,
    reduce_maps,
    region_metrics,
)
from advrecon.attacks.rotation import (
    Rotation,
    RotationAttackConfig,
    angle_grid,
    rotation_attack,
    rotation_batch_groups,
    run_rotation_units,
)
from advrecon.attacks.rotation import sweep as sweep_module
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import center_crop, fft2c, ifft2c, kspace_to_target, rss
from advrecon.sensitivity import acs_sensitivity_maps

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread


BOXES = [Box(5, 5, 4, 4), [Box(0, 0, 16, 16), Box(3, 3, 1, 1)]]


def test_angle_grid_includes_both_ends_and_every_theta_max():
    angles, window = angle_grid([0.25, 1.0], 0.1)
    assert angles[0] == -1.0 and angles[-1] == 1.0 and (angles == 0).any()
    assert torch.isclose(angles, torch.tensor(0.25, dtype=torch.float64)).any()
    assert torch.isclose(angles, torch.tensor(-0.25, dtype=torch.float64)).any()
    assert int(window[1].sum()) == angles.numel() == 21 + 2
    assert int(window[0].sum()) == 7  # -0.25, -0.2 ... 0.2, 0.25
    assert (np.diff(angles.numpy()) > 0).all()


@pytest.mark.parametrize("tmax", [1.0, 3.0, 5.0, 0.25, 2.5, 0.0])
def test_exclusive_grid_is_the_authors_arange(tmax):
    angles, window = angle_grid([tmax], 0.1, grid="exclusive")
    theirs = np.round(np.arange(-tmax, tmax, 0.1), 2)[1:]  # the authors' expression
    theirs = theirs if theirs.size else np.zeros(1)  # empty (theta_max = 0): angle 0 only
    np.testing.assert_allclose(angles[window[0]].numpy(), theirs, atol=1e-9)
    assert (angles == 0).any()


def test_exclusive_grid_has_no_float_end_effect_and_serves_every_theta_max():
    # np.arange(-2.1, 2.1, 0.3) has 15 elements, the last one 2.1000000000000001: float noise;
    # the intended grid has 2 * 7 = 14, i.e. 13 after dropping -2.1
    assert len(np.arange(-2.1, 2.1, 0.3)) == 15
    angles, window = angle_grid([2.1], 0.3, grid="exclusive")
    np.testing.assert_allclose(angles.numpy(), 0.3 * np.arange(-6, 7), atol=1e-9)
    angles, window = angle_grid([0.5, 0.25, 0.0], 0.1, grid="exclusive")
    expect = [[-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4], [-0.15, -0.05, 0.05, 0.15], [0.0]]
    for t, e in enumerate(expect):
        np.testing.assert_allclose(angles[window[t]].numpy(), e, atol=1e-9)
    assert angles.numel() == 9 + 4 and (np.diff(angles.numpy()) > 0).all()
    with pytest.raises(AdvreconError, match="grid"):
        angle_grid([1.0], 0.1, grid="open")


@pytest.mark.parametrize(
    "interpolation, identity_at_zero", [("paper", True), ("fourier", False), ("fourier", True)]
)
def test_theta_zero_is_identity(interpolation, identity_at_zero):
    k, m = phantom(), column_mask()
    res = rotation_attack(TinyNet(), k, m, 4, BOXES, [0.0], interpolation=interpolation,
                          identity_at_zero=identity_at_zero)  # fmt: skip
    assert res.angles.tolist() == [0.0]
    assert torch.equal(res.adversarial, res.clean)
    with torch.no_grad():
        clean = TinyNet()(k * m, m, 4)
    torch.testing.assert_close(res.clean, clean[res.item_index])
    for key in ("ssim", "mse", "psnr", "nmse_full"):
        assert torch.equal(res.metrics[f"adv_{key}"], res.metrics[f"clean_{key}"])
    assert res.valid.all()
    # the control at angle 0 is the target itself
    assert torch.equal(res.control, res.target)
    assert (res.metrics["control_mse"] == 0).all() and (res.metrics["control_ssim"] == 1).all()


def test_paper_default_resamples_at_theta_zero_like_the_authors():
    k, m = phantom(), column_mask()
    net = TinyNet()
    res = rotation_attack(net, k, m, 4, BOXES, [0.0], chunk_size=1)
    assert not res.identity_at_zero and res.to_rows()[0]["identity_at_zero"] is False
    with torch.no_grad():
        coil = ifft2c(k)[res.item_index]
        out = net(fft2c(rotate(coil, 0.0, "paper")) * m, m, 4)
        at_zero = rotate(out, 0.0, "paper")  # rotated back through the same pipeline
        plain = net(k * m, m, 4)[res.item_index]
    # angle 0 of the sweep (the "attack" at theta_max = 0) is the resampled pipeline ...
    torch.testing.assert_close(res.adversarial, at_zero, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(res.adversarial, plain, atol=1e-3)
    # ... while clean is the plain reconstruction, as for every other attack
    torch.testing.assert_close(res.clean, plain)
    target = kspace_to_target(k, SIZE)[res.item_index]
    regions = make_regions([Box(5, 5, 4, 4), Box(0, 0, 16, 16), Box(3, 3, 1, 1)], SIZE)
    met = region_metrics(plain, target, regions, data_range(target))
    for key in ("ssim", "mse", "psnr", "nmse"):
        np.testing.assert_allclose(res.metrics[f"clean_{key}"][:, 0], met[key], rtol=1e-5)
    full = region_metrics(
        plain, target, make_regions([Box.full(SIZE)] * 3, SIZE), data_range(target)
    )
    np.testing.assert_allclose(res.metrics["clean_mse_full"][:, 0], full["mse"], rtol=1e-5)
    assert (res.metrics["adv_mse"] != res.metrics["clean_mse"]).all()
    # what the resampling alone does to the target (up/down twice): small but not zero
    assert (res.metrics["control_mse"] > 0).all() and (res.metrics["control_ssim"] > 0.9).all()


def test_selection_curves_and_baseline_are_consistent():
    k, m = phantom(), column_mask()
    tm = [0.5, 1.0, 2.0]
    res = rotation_attack(TinyNet(), k, m, 4, BOXES, tm, step=0.5, n_random=5, generator=0)
    N, A = 3, res.angles.numel()
    assert res.per_angle["ssim"].shape == (N, A) and torch.isfinite(res.per_angle["mse"]).all()
    for t, theta in enumerate(tm):
        w = res.angles.abs() <= theta + 1e-9
        mse = res.per_angle["mse"][:, w]
        np.testing.assert_allclose(res.metrics["adv_mse"][:, t], mse.amax(1))
        np.testing.assert_allclose(
            res.metrics["rand_mean_ssim"][:, t], res.per_angle["ssim"][:, w].mean(1)
        )
        assert (res.selected_angle[:, t].abs() <= theta + 1e-9).all()
    # one grid serves every theta_max: the worst case can only get worse with theta_max
    assert (res.metrics["adv_mse"][:, 1:] >= res.metrics["adv_mse"][:, :-1]).all()
    assert (res.metrics["adv_mse"] >= res.metrics["rand_mean_mse"]).all()
    rows = res.to_rows()
    assert len(rows) == N * len(tm)
    cols = "angle_deg theta_max_deg select_by clean_ssim adv_ssim rand_mean_ssim"
    for col in (cols + " rand_median_ssim adv_psnr_full box_grown box_x").split():
        assert col in rows[0] and np.isscalar(rows[0][col])
    assert np.isfinite(rows[0]["rand_draw_ssim"])


@pytest.mark.parametrize("select_by", ["ssim", "psnr"])
def test_select_by_other_metrics(select_by):
    k, m = phantom(B=1), column_mask()
    res = rotation_attack(TinyNet(), k, m, 4, [Box(4, 4, 8, 8)], [1.0], step=0.5,
                          select_by=select_by)  # fmt: skip
    assert res.metrics[f"adv_{select_by}"][0, 0] == res.per_angle[select_by][0].min()


@pytest.mark.parametrize(
    "interpolation, grid",
    [("paper", "inclusive"), ("fourier", "inclusive"), ("paper", "exclusive")],
)
def test_adversarial_and_control_are_the_selected_angle_recomputed(interpolation, grid):
    k, m = phantom(), column_mask()
    net = TinyNet()
    # largest theta_max first; with the exclusive grid 0.8 has its own offset angles
    # (-0.3, 0.2, 0.7) that lie in the sweep but not in the window of 3.0
    tm = [3.0, 0.8]
    res = rotation_attack(net, k, m, 4, BOXES, tm, step=0.5, interpolation=interpolation,
                          grid=grid)  # fmt: skip
    assert bool(res.window[0].all()) == (grid == "inclusive")
    ang = res.selected_angle[:, 0]
    assert res.window[0][res.selected_index[:, 0]].all()
    with torch.no_grad():
        coil = ifft2c(k)[res.item_index]
        out = net(fft2c(rotate(coil, ang, interpolation, max_abs_deg=3.0)) * m, m, 4)
        back = rotate(out, -ang, interpolation, max_abs_deg=3.0)
        rot_target = center_crop(rss(rotate(coil, ang, interpolation, max_abs_deg=3.0)), SIZE)
        control = rotate(rot_target, -ang, interpolation, max_abs_deg=3.0)
    torch.testing.assert_close(res.adversarial, back, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(res.control, control, rtol=1e-4, atol=1e-5)
    valid = validity_mask(SIZE, ang)
    assert torch.equal(res.valid, valid)
    target = kspace_to_target(k, SIZE)[res.item_index]
    regions = make_regions([Box(5, 5, 4, 4), Box(0, 0, 16, 16), Box(3, 3, 1, 1)], SIZE)
    met = region_metrics(back, target, regions, data_range(target), valid)
    np.testing.assert_allclose(res.metrics["adv_ssim"][:, 0], met["ssim"], rtol=1e-5)
    ctrl = region_metrics(control, target, regions, data_range(target), valid)
    for key in ("ssim", "mse", "psnr", "nmse"):
        np.testing.assert_allclose(res.metrics[f"control_{key}"][:, 0], ctrl[key], rtol=1e-4)
    # control per theta_max: the selected angle of that window
    ang1 = res.selected_angle[:, 1]
    with torch.no_grad():
        c1 = center_crop(rss(rotate(coil, ang1, interpolation, max_abs_deg=3.0)), SIZE)
        c1 = rotate(c1, -ang1, interpolation, max_abs_deg=3.0)
    full = make_regions([Box.full(SIZE)] * 3, SIZE)
    met1 = region_metrics(c1, target, full, data_range(target), validity_mask(SIZE, ang1))
    np.testing.assert_allclose(res.metrics["control_mse_full"][:, 1], met1["mse"], rtol=1e-4)
    rows = res.to_rows()
    assert rows[0]["grid"] == grid and np.isfinite(rows[0]["control_ssim"])


class FailsUnrotated(TinyNet):
    """Outputs zeros (the worst reconstruction) exactly when the input is not rotated."""

    def __init__(self, kspace, mask):
        super().__init__()
        self.unrotated = kspace * mask

    def reconstruct(self, masked_kspace, mask, num_low_frequencies):
        out = super().reconstruct(masked_kspace, mask, num_low_frequencies)
        same = (masked_kspace - self.unrotated[:1]).abs().flatten(1).amax(1) < 1e-6
        return torch.where(same[:, None, None], torch.zeros_like(out), out)


@pytest.mark.parametrize("grid", ["inclusive", "exclusive"])
def test_adversarial_is_taken_from_the_window_of_the_largest_theta_max(grid):
    k, m = phantom(B=1), column_mask()
    net = FailsUnrotated(k, m)
    # exclusive, step 0.25: theta_max 0.3 -> {-0.05, 0.2}; angle 0 is swept (clean) but is not
    # in that window, although it is the worst angle of the sweep
    res = rotation_attack(net, k, m, 4, [Box(4, 4, 8, 8)], [0.3], step=0.25, grid=grid,
                          identity_at_zero=True)  # fmt: skip
    assert (res.clean == 0).all()
    ang = res.selected_angle[:, 0]
    assert (ang == 0).all() == (grid == "inclusive")
    with torch.no_grad():
        out = net(fft2c(rotate(ifft2c(k), ang, "paper", identity_at_zero=True)) * m, m, 4)
        back = rotate(out, -ang, "paper", identity_at_zero=True)
    torch.testing.assert_close(res.adversarial, back, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("interpolation", ["paper", "fourier"])
def test_every_window_keeps_its_own_adversarial_and_control(interpolation):
    """``window_adversarial[t]`` / ``window_control[t]``: the images at the worst angle of
    ``theta_max[t]`` (the largest one's are ``adversarial`` / ``control`` exactly)."""
    k, m = phantom(), column_mask()
    net = TinyNet()
    tm = [3.0, 0.0, 1.0]
    res = rotation_attack(net, k, m, 4, BOXES, tm, step=0.5, interpolation=interpolation)
    assert torch.equal(res.window_adversarial[0], res.adversarial)
    assert torch.equal(res.window_control[0], res.control)
    coil = ifft2c(k)[res.item_index]
    for t in range(len(tm)):
        ang = res.selected_angle[:, t]
        with torch.no_grad():
            out = net(fft2c(rotate(coil, ang, interpolation, max_abs_deg=3.0)) * m, m, 4)
            back = rotate(out, -ang, interpolation, max_abs_deg=3.0)
            c = center_crop(rss(rotate(coil, ang, interpolation, max_abs_deg=3.0)), SIZE)
            control = rotate(c, -ang, interpolation, max_abs_deg=3.0)
        torch.testing.assert_close(res.window_adversarial[t], back, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(res.window_control[t], control, rtol=1e-4, atol=1e-5)
    if interpolation == "fourier":  # angle 0 is exact: theta_max 0 gives the clean image
        assert torch.equal(res.window_adversarial[1], res.clean)


def test_unit_arrays_are_those_of_the_units_own_theta_max():
    """Each unit saves the images and angle of its own window; at ``theta_max`` 0 (``fourier``:
    angle 0 exact) the adversarial image is the clean one bit for bit."""
    k, m = phantom(B=1), column_mask()
    boxes = [Box(5, 5, 4, 4), Box(2, 3, 6, 5)]
    cfg = RotationAttackConfig(theta_max=[0, 2], step=1.0, interpolation="fourier", n_random=1)
    targets = {"region": list(enumerate(boxes)), "image": [(-1, Box.full(SIZE)), (0, boxes[0])]}
    (group,) = rotation_batch_groups(cfg, "m", ["region", "image"], targets)
    gen = torch.Generator().manual_seed(0)
    inp = SliceAttack(TinyNet(), k[0], m, 4, boxes, None, SIZE, gen, None)
    scores = run_rotation_units(inp, group.units, cfg, "grid")
    for u in group.units:
        i, row = scores.row(u)
        a = scores.arrays(i, u)
        assert a["angle_deg"] == np.float32(row["angle_deg"])
        if u.budget == 0:
            assert a["angle_deg"] == 0 and torch.equal(a["adversarial"], a["clean"])
            assert row["adv_ssim"] == row["clean_ssim"]
    top = [scores.arrays(scores.row(u)[0], u)["angle_deg"] for u in group.units if u.budget == 2]
    assert any(a != 0 for a in top)


@pytest.mark.parametrize("interpolation", ["paper", "fourier"])
def test_batched_equals_sequential(interpolation):
    k, m = phantom(B=2), column_mask()
    net = TinyNet()
    batched = rotation_attack(net, k, m, 4, BOXES, [0.5, 1.0], step=0.25, chunk_size=4,
                              interpolation=interpolation)  # fmt: skip
    i = 0
    for b, group in enumerate(BOXES):
        for box in group if isinstance(group, list) else [group]:
            one = rotation_attack(net, k[b : b + 1], m, 4, [box], [0.5, 1.0], step=0.25,
                                  interpolation=interpolation)  # fmt: skip
            for key in ("ssim", "mse_full"):
                torch.testing.assert_close(batched.per_angle[key][i], one.per_angle[key][0],
                                           rtol=1e-4, atol=1e-6)  # fmt: skip
            assert torch.equal(batched.selected_index[i], one.selected_index[0])
            i += 1


def test_target_is_true_complex_rss():
    k, m = phantom(B=1), column_mask()
    res = rotation_attack(TinyNet(), k, m, 4, [Box.full(SIZE)], [0.0])
    coil = ifft2c(k.to(torch.complex128))
    true_rss = torch.sqrt((coil.real**2 + coil.imag**2).sum(1))[:, 8:24, 4:20]
    torch.testing.assert_close(res.target.double(), true_rss, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(theta_max=[-1.0]), "theta_max"),
        (dict(theta_max=[]), "theta_max"),
        (dict(step=0.0), "step"),
        (dict(step=-0.1), "step"),
        (dict(interpolation="nearest"), "interpolation"),
        (dict(select_by="l1"), "select_by"),
        (dict(grid="open"), "grid"),
        (dict(identity_at_zero="yes"), "identity_at_zero"),
        (dict(theta_max=[5.0], step=1e-7), "100001 angles"),
        (dict(boxes=[Box(0, 0, 40, 4), Box(0, 0, 4, 4)]), "not inside"),
        (dict(boxes=[Box(0, 0, 4, -1), Box(0, 0, 4, 4)]), "empty"),
        (dict(mask=torch.ones(3, 1, 1, 24)), "does not fit"),
        (dict(kspace=torch.ones(2, 4, 32, 24)), "complex"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = dict(kspace=phantom(), mask=column_mask(), boxes=[Box(0, 0, 4, 4)] * 2,
                theta_max=[1.0])  # fmt: skip
    extra = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(AdvreconError, match=match):
        rotation_attack(TinyNet(), args["kspace"], args["mask"], 4, args["boxes"],
                        args["theta_max"], **extra)  # fmt: skip


def test_config_rotation_grid_and_identity_at_zero():
    from advrecon.errors import ConfigError
    from advrecon.experiments.config import parse_config

    def cfg(**rotation):
        return {
            "data": {"kind": "synthetic", "root": "x"},
            "models": [{"name": "unet", "arch": "unet", "shipped": True}],
            "attacks": {"rotation": {"theta_max": [0, 1], **rotation}},
        }

    default = parse_config(cfg()).rotation
    assert default.grid == "inclusive" and default.identity_at_zero is False
    chosen = parse_config(cfg(grid="exclusive", identity_at_zero=True))
    assert chosen.rotation.grid == "exclusive" and chosen.rotation.identity_at_zero is True
    assert parse_config(chosen.to_dict()) == chosen
    assert chosen.hash() != parse_config(cfg()).hash()
    with pytest.raises(ConfigError, match=r"attacks\.rotation\.grid.*did you mean 'exclusive'"):
        parse_config(cfg(grid="exclusiv"))
    with pytest.raises(ConfigError, match=r"attacks\.rotation\.identity_at_zero.*true or false"):
        parse_config(cfg(identity_at_zero="yes"))


@pytest.mark.parametrize("interpolation", ["paper", "fourier"])
@pytest.mark.parametrize(("block", "coils"), [(1, "rotate"), (3, "rotate"), (3, "fixed")])
def test_sweep_equals_the_plain_one_angle_at_a_time_pipeline(
    interpolation, block, coils, monkeypatch
):
    """The optimised sweep (each slice's upsampling / row FFTs once per sweep, validity masks
    once per grid, rotations in blocks inside a chunk) gives the per-angle curves and the
    worst angles of the plain pipeline run one angle at a time: ``Rotation.act`` (upsampling
    every time), the model at batch 1, ``Rotation.to_target``, region metrics of the full
    maps."""
    monkeypatch.setattr(sweep_module, "_CPU_BLOCK", block)
    if block == 1:  # also the path that computes each pass's validity masks
        monkeypatch.setattr(sweep_module, "_MAX_CACHED_MASK", 0)
    k, m = phantom(B=2), column_mask()
    net = TinyNet()
    boxes = [[Box(5, 5, 4, 4), Box.full(SIZE)], [Box(3, 2, 6, 5)]]
    res = rotation_attack(net, k, m, 4, boxes, [0.5, 1.0], step=0.25, chunk_size=5,
                          interpolation=interpolation, coils=coils)  # fmt: skip
    assert {row["coils"] for row in res.to_rows()} == {coils}
    threat = Rotation(interpolation, 1.0, False, coils)
    target = kspace_to_target(k, SIZE)
    dr = data_range(target)
    i = 0
    for b, group in enumerate(boxes):
        coil = ifft2c(k[b : b + 1])
        sens = acs_sensitivity_maps(k[b : b + 1], m, 4) if coils == "fixed" else None
        regions = make_regions(group, SIZE)
        curves = []
        with torch.no_grad():
            for ang in res.angles:
                ang = ang.reshape(1)
                moved = threat.act(coil, torch.zeros(1, dtype=torch.long), ang, sens)
                out = net(moved * m, m, 4)
                back, valid = threat.to_target(out, ang)
                maps = error_maps(back, target[b : b + 1], dr[b : b + 1], valid)
                curves.append(reduce_maps(maps, regions, pairwise=True))  # (boxes, 1)
        for j in range(len(group)):
            for key in ("mse", "ssim", "psnr", "nmse"):
                want = torch.stack([c[key][j, 0] for c in curves])
                torch.testing.assert_close(res.per_angle[key][i], want, rtol=1e-6, atol=1e-9)
            want_sel = torch.stack([c["mse"][j, 0] for c in curves])
            for t, w in enumerate(res.window):
                sel = torch.where(w, want_sel, torch.full_like(want_sel, -torch.inf)).argmax()
                assert int(res.selected_index[i, t]) == int(sel)
            i += 1


def test_fixed_coils_turn_the_object_only():
    """``coils="fixed"``: identity at angle 0 exactly (fourier; paper with identity_at_zero),
    the object x = S^H c turns inside the maps, and the result differs from turning coils."""
    k, m = phantom(B=1), column_mask()
    coil = ifft2c(k)
    sens = acs_sensitivity_maps(k, m, 4)
    zero = torch.zeros(1, dtype=torch.long)
    for threat in (Rotation("fourier", 2.0, False, "fixed"), Rotation("paper", 2.0, True, "fixed")):
        assert torch.equal(threat.act(coil, zero, torch.zeros(1), sens), fft2c(coil))
    fixed = Rotation("fourier", 2.0, False, "fixed")
    ang = torch.tensor([2.0], dtype=torch.float64)
    moved = ifft2c(fixed.act(coil, zero, ang, sens))
    x = (coil * sens.conj()).sum(1, keepdim=True)
    torch.testing.assert_close(moved, coil + sens * (rotate(x, ang, "fourier") - x))
    turned = ifft2c(Rotation("fourier", 2.0, False).act(coil, zero, ang))
    assert (moved - turned).abs().max() > 1e-3 * coil.abs().max()
    net = TinyNet()
    box = [Box(5, 5, 8, 8)]
    res = {c: rotation_attack(net, k, m, 4, box, [0.0, 2.0], step=1.0, interpolation="fourier",
                              coils=c) for c in ("rotate", "fixed")}  # fmt: skip
    a0 = int((res["fixed"].angles == 0).nonzero())
    for key in ("mse", "ssim"):  # angle 0: both are the plain reconstruction
        assert torch.equal(res["fixed"].per_angle[key][:, a0], res["rotate"].per_angle[key][:, a0])
    assert not torch.allclose(res["fixed"].per_angle["mse"], res["rotate"].per_angle["mse"])
    with pytest.raises(AdvreconError, match="coils"):
        rotation_attack(net, k, m, 4, box, [1.0], coils="still")


def test_fixed_coils_batched_equals_sequential():
    k, m = phantom(B=2), column_mask()
    net = TinyNet()
    boxes = [Box(5, 5, 4, 4), Box(3, 3, 6, 6)]
    kw = dict(step=0.5, interpolation="paper", coils="fixed")
    batched = rotation_attack(net, k, m, 4, boxes, [1.0], chunk_size=3, **kw)
    for b in range(2):
        one = rotation_attack(net, k[b : b + 1], m, 4, boxes[b : b + 1], [1.0], **kw)
        for key in ("mse", "ssim", "ssim_full"):
            torch.testing.assert_close(batched.per_angle[key][b], one.per_angle[key][0],
                                       rtol=1e-5, atol=1e-7)  # fmt: skip
        assert torch.equal(batched.selected_index[b], one.selected_index[0])
        torch.testing.assert_close(batched.metrics["control_ssim"][b],
                                   one.metrics["control_ssim"][0])  # fmt: skip


def test_config_rotation_coils():
    from advrecon.errors import ConfigError
    from advrecon.experiments.config import parse_config

    def cfg(**rotation):
        return {
            "data": {"kind": "synthetic", "root": "x"},
            "models": [{"name": "unet", "arch": "unet", "shipped": True}],
            "attacks": {"rotation": {"theta_max": [0, 1], **rotation}},
        }

    default = parse_config(cfg())
    assert default.rotation.coils == "rotate"
    assert "coils" not in default.to_dict()["attacks"]["rotation"]  # hash-stable when absent
    assert parse_config(cfg(coils="rotate")).hash() == default.hash()
    fixed = parse_config(cfg(coils="fixed"))
    assert fixed.hash() != default.hash() and parse_config(fixed.to_dict()) == fixed
    with pytest.raises(ConfigError, match=r"attacks\.rotation\.coils"):
        parse_config(cfg(coils="rigid"))
