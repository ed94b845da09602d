"""Adversarial k-space noise (advrecon.attacks.noise) on tiny phantoms and a stand-in model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from advrecon.attacks.noise import (
    noise_attack,
    perturbed_objective,
    project_per_coil,
    reference_step,
)
from advrecon.attacks.objectives import data_range, make_regions
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.models.reconstructor import Reconstructor, ZeroFilled
from advrecon.mri import fft2c, ifft2c, kspace_to_target, rss

H, W, SIZE = 32, 24, (16, 16)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread


def phantom(B=2, C=4, seed=0, noise=0.01, dtype=torch.complex64):
    """Multicoil k-space ``(B, C, 32, 24)``: ellipse + "lesion", smooth complex coil maps."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(
        torch.linspace(-1, 1, H, dtype=torch.float64),
        torch.linspace(-1, 1, W, dtype=torch.float64),
        indexing="ij",
    )
    out = []
    for _ in range(B):
        off = 0.1 * (torch.rand(2, generator=g, dtype=torch.float64) - 0.5)
        obj = torch.sigmoid(20 * (1 - (xx / 0.6) ** 2 - (yy / 0.45) ** 2))
        lesion = 1 - ((xx - off[0]) / 0.15) ** 2 - ((yy - off[1]) / 0.12) ** 2
        obj = obj + 0.8 * torch.sigmoid(30 * lesion)
        coils = []
        for c in range(C):
            a = torch.tensor(2 * torch.pi * c / C, dtype=torch.float64)
            sens = torch.exp(-((xx - 0.8 * a.cos()) ** 2 + (yy - 0.8 * a.sin()) ** 2))
            coils.append(obj * sens * torch.exp(1j * (a + 0.5 * xx)))
        img = torch.stack(coils)
        out.append(img + noise * torch.randn(img.shape, generator=g, dtype=torch.complex128))
    return fft2c(torch.stack(out)).to(dtype)


class TinyNet(Reconstructor):
    """Differentiable stand-in: zero-filled RSS plus a small residual CNN."""

    def __init__(self, recon_size=SIZE, seed=0):
        super().__init__(recon_size)
        torch.manual_seed(seed)
        self.c1 = nn.Conv2d(1, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 1, 3, padding=1)

    def reconstruct(self, masked_kspace, mask, num_low_frequencies):
        x = rss(ifft2c(masked_kspace), 1)
        return x + 0.3 * self.c2(torch.tanh(self.c1(x[:, None])))[:, 0]


def column_mask(dtype=torch.float32):
    m = torch.zeros(W, dtype=dtype)
    m[::3] = 1
    m[W // 2 - 2 : W // 2 + 2] = 1
    return m.reshape(1, 1, 1, W)


BOXES = [Box(5, 5, 4, 4), [Box(0, 0, 16, 16), Box(3, 3, 1, 1)]]


@pytest.mark.parametrize("rule", ["l2", "reference"])
@pytest.mark.parametrize("measured_only", [False, True])
def test_per_coil_budget_and_support(rule, measured_only):
    k, m = phantom(), column_mask()
    eta = torch.tensor([0.05, 0.2])
    res = noise_attack(
        TinyNet(), k, m, 4, BOXES, eta, rule=rule, padding=(2, 22),
        measured_only=measured_only, generator=1,
    )  # fmt: skip
    z = res.perturbation
    knorm = torch.linalg.vector_norm(k.to(torch.complex128), dim=(-2, -1))[res.item_index]
    znorm = torch.linalg.vector_norm(z.to(torch.complex128), dim=(-2, -1))
    budget = res.eta[:, None] * knorm
    assert (znorm <= budget * (1 + 1e-6)).all()
    if rule == "l2":
        assert (znorm > 0.5 * budget).all()  # the budget is used, not ignored
    assert z[..., :2].abs().max() == 0 and z[..., 22:].abs().max() == 0
    if measured_only:
        assert z[..., m[0, 0, 0] == 0].abs().max() == 0
    assert torch.isfinite(res.trace).all()
    if rule == "reference":
        assert (res.best_step == res.steps).all()  # last iterate


def test_eta_zero_reproduces_clean_exactly():
    k, m = phantom(), column_mask()
    res = noise_attack(TinyNet(), k, m, 4, BOXES, 0.0, n_random=2, generator=0)
    assert res.perturbation.abs().max() == 0
    assert torch.equal(res.adversarial, res.clean)
    for name in ("ssim", "psnr", "nmse", "mse"):
        assert torch.equal(res.metrics[f"adv_{name}"], res.metrics[f"clean_{name}"])
    assert torch.equal(res.metrics["control_mse"], torch.zeros(3, dtype=torch.float64))
    assert torch.isfinite(res.metrics["control_psnr"]).all()


class CountingNet(TinyNet):
    """TinyNet that counts the items it reconstructs with gradients enabled."""

    def __init__(self):
        super().__init__()
        self.grad_items = 0

    def reconstruct(self, masked_kspace, mask, num_low_frequencies):
        if torch.is_grad_enabled():
            self.grad_items += masked_kspace.shape[0]
        return super().reconstruct(masked_kspace, mask, num_low_frequencies)


def test_eta_zero_items_skip_gradient_steps_in_a_mixed_batch():
    k, m = phantom(B=2), column_mask()
    boxes = [Box(5, 5, 6, 6), Box(2, 3, 9, 5)]
    net = CountingNet()
    kw = dict(random_start=False, n_random=0)
    mixed = noise_attack(net, k, m, 4, boxes, torch.tensor([0.0, 0.1]), **kw)
    # only the eta > 0 item took the 10 gradient steps
    assert net.grad_items == 10
    assert mixed.perturbation[0].abs().max() == 0
    assert torch.equal(mixed.adversarial[0], mixed.clean[0])
    assert torch.equal(mixed.trace[0], mixed.trace[0, :1].expand(11))
    # and the eta > 0 item is attacked exactly as on its own
    alone = noise_attack(TinyNet(), k[1:], m, 4, boxes[1:], 0.1, **kw)
    assert mixed.perturbation[1].abs().max() > 0
    torch.testing.assert_close(mixed.perturbation[1:], alone.perturbation, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(mixed.trace[1:], alone.trace, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("objective", ["mse", "ssim", "mse_ssim"])
def test_best_so_far_never_decreases_and_is_returned(objective):
    k, m = phantom(), column_mask()
    res = noise_attack(TinyNet(), k, m, 4, BOXES, 0.1, objective=objective, generator=3)
    assert res.trace.shape == (3, 11)
    assert (res.best_trace[:, 1:] >= res.best_trace[:, :-1]).all()
    assert torch.equal(res.best_trace[:, -1], res.trace.amax(1))
    best = res.trace.gather(1, res.best_step[:, None])[:, 0]
    assert torch.equal(best, res.trace.amax(1))
    # the returned adversarial image is the one of the best iterate
    rows = res.to_rows()
    assert all(r["objective_adv"] >= r["objective_clean"] for r in rows)
    if objective == "mse":
        np.testing.assert_allclose(res.metrics["adv_mse"], res.trace.amax(1), rtol=1e-6)


def test_attack_beats_random_noise_of_same_norm():
    k, m = phantom(), column_mask()
    res = noise_attack(
        TinyNet(), k, m, 4, [Box(4, 4, 8, 8), Box(4, 4, 8, 8)], 0.05, n_random=8, generator=0
    )
    assert (res.metrics["adv_ssim"] < res.metrics["rand_worst_ssim"] - 0.02).all()
    assert (res.metrics["adv_ssim"] < res.metrics["clean_ssim"]).all()
    assert (res.metrics["rand_worst_ssim"] <= res.metrics["rand_mean_ssim"]).all()
    # the random draws have exactly the budget's per-coil norm: similar visibility (control)
    assert (res.metrics["control_ssim"] > 0.9).all()


@pytest.mark.parametrize("objective", ["mse", "ssim", "mse_ssim"])
def test_gradcheck_objective_wrt_z(objective):
    k = phantom(B=1, C=2, dtype=torch.complex128)[:, :, 8:24, 4:20]  # 16x16 k-space
    m = column_mask(torch.float64)[..., 4:20]
    net = TinyNet(recon_size=(8, 8)).double().freeze()
    target = kspace_to_target(k, (8, 8))
    regions = make_regions([Box(1, 0, 7, 8)], (8, 8))
    dr = data_range(target)
    g = torch.Generator().manual_seed(0)
    z = (0.05 * torch.randn(k.shape, dtype=torch.complex128, generator=g)).requires_grad_()
    mse0 = torch.tensor([0.01], dtype=torch.float64) if objective == "mse_ssim" else None

    def f(zz):
        return perturbed_objective(net, k, m, None, zz, target, regions, dr, objective, mse0)[0]

    assert torch.autograd.gradcheck(f, (z,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_batched_equals_sequential():
    k, m = phantom(B=3), column_mask()
    boxes = [[Box(5, 5, 6, 6), Box(0, 0, 16, 16)], Box(2, 3, 9, 5), Box(3, 3, 2, 2)]
    eta = torch.tensor([0.05, 0.1, 0.2])
    kw = dict(random_start=False, n_random=0, objective="ssim")
    net = TinyNet()
    batched = noise_attack(net, k, m, 4, boxes, eta, chunk_size=2, **kw)
    z_seq, adv_seq = [], []
    for b, group in enumerate(boxes):
        for box in group if isinstance(group, list) else [group]:
            r = noise_attack(net, k[b : b + 1], m, 4, [box], eta[b : b + 1], **kw)
            z_seq.append(r.perturbation)
            adv_seq.append(r.adversarial)
    torch.testing.assert_close(batched.perturbation, torch.cat(z_seq), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(batched.adversarial, torch.cat(adv_seq), rtol=1e-4, atol=1e-6)


def test_chunking_does_not_change_random_start_or_baseline():
    k, m = phantom(), column_mask()
    net = TinyNet()
    a = noise_attack(net, k, m, 4, BOXES, 0.1, n_random=3, generator=7)
    b = noise_attack(net, k, m, 4, BOXES, 0.1, n_random=3, generator=7, chunk_size=1)
    torch.testing.assert_close(a.perturbation, b.perturbation, rtol=1e-4, atol=1e-6)
    for key in ("rand_mean_ssim", "rand_worst_nmse", "adv_ssim"):
        torch.testing.assert_close(a.metrics[key], b.metrics[key], rtol=1e-4, atol=1e-6)


def test_target_is_true_complex_rss():
    k, m = phantom(B=1), column_mask()
    res = noise_attack(ZeroFilled(SIZE), k, m, 4, [Box.full(SIZE)], 0.0, steps=0)
    coil = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k.numpy(), axes=(-2, -1)), norm="ortho"),
                           axes=(-2, -1))  # fmt: skip
    true_rss = np.sqrt((np.abs(coil) ** 2).sum(1))[:, 8:24, 4:20]
    wrong = np.sqrt(np.abs((coil**2).sum(1)))[:, 8:24, 4:20]  # sqrt|sum x^2|: not the RSS
    np.testing.assert_allclose(res.target.numpy(), true_rss, rtol=1e-5, atol=1e-6)
    assert np.abs(wrong - true_rss).max() > 0.1 * true_rss.max()
    # the control with z = 0 is the target itself
    np.testing.assert_allclose(res.control.numpy(), true_rss, rtol=1e-5, atol=1e-6)


def test_zero_norm_coil_gets_zero_budget_with_warning():
    k = phantom(B=1)
    k[:, 1] = 0
    with pytest.warns(RuntimeWarning, match="zero k-space norm"):
        res = noise_attack(TinyNet(), k, column_mask(), 4, [Box(4, 4, 8, 8)], 0.1, n_random=2,
                           generator=0)  # fmt: skip
    assert res.perturbation[:, 1].abs().max() == 0
    assert all(torch.isfinite(v).all() for v in res.metrics.values())
    assert torch.isfinite(res.noise_to_thermal).all()


def test_model_frozen_during_attack_and_restored():
    net = TinyNet().train()
    seen = []
    hook = net.c1.register_forward_hook(
        lambda mod, i, o: seen.append((mod.training, mod.weight.requires_grad))
    )
    noise_attack(net, phantom(B=1), column_mask(), 4, [Box(4, 4, 8, 8)], 0.05, steps=2)
    hook.remove()
    assert seen and all(t is False and rg is False for t, rg in seen)
    assert net.training and all(p.requires_grad for p in net.parameters())
    assert all(p.grad is None for p in net.parameters())


def test_rows_have_documented_columns():
    res = noise_attack(TinyNet(), phantom(), column_mask(), 4, BOXES, 0.05, n_random=1,
                       generator=0)  # fmt: skip
    rows = res.to_rows()
    assert len(rows) == 3
    cols = "clean_ssim adv_ssim rand_mean_ssim rand_worst_ssim control_ssim adv_psnr adv_nmse"
    cols += " adv_ssim_full eta noise_to_thermal box_x box_y box_w box_h box_grown rule objective"
    for col in (cols + " best_step").split():
        assert col in rows[0]
        assert np.isscalar(rows[0][col])
    assert [r["box_grown"] for r in rows] == [True, False, True]
    assert (rows[2]["box_w"], rows[2]["box_h"]) == (7, 7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(boxes=[Box(12, 12, 8, 8), Box(0, 0, 4, 4)]), "not inside"),
        (dict(boxes=[Box(2, 2, 0, 4), Box(0, 0, 4, 4)]), "empty"),
        (dict(eta=-0.1), ">= 0"),
        (dict(eta=[0.1, 0.2, 0.3]), "one number per slice"),
        (dict(mask=torch.ones(1, 1, 1, 23)), "does not fit"),
        (dict(kspace=torch.ones(2, 4, H, W)), "complex"),
        (dict(objective="l1"), "objective"),
        (dict(rule="fgsm"), "rule"),
        (dict(padding=(5, 30)), "padding"),
        (dict(boxes=[Box(0, 0, 4, 4)]), "one Box"),
    ],
)
def test_bad_inputs(kwargs, match):
    args = dict(kspace=phantom(), mask=column_mask(), boxes=[Box(0, 0, 4, 4)] * 2, eta=0.1)
    extra = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(AdvreconError, match=match), warnings.catch_warnings():
        noise_attack(TinyNet(), args["kspace"], args["mask"], 4, args["boxes"], args["eta"],
                     **extra)  # fmt: skip


def test_reference_step_by_hand():
    """The authors' rule on two items of two coils with 2 samples each, worked out by hand.

    Item 0: z = ([3, 0], [0, 4]) so ||z|| = 5 and z/||z|| = ([.6, 0], [0, .8]);
    g = ([0, 0], [0, 2]) so g/||g|| = ([0, 0], [0, 1]); with s = 0.5,
    d = ([.6, 0], [0, 1.3]); ||d_0|| = .6 stays, ||d_1|| = 1.3 is projected to ([0, 1]).
    Budgets B = (10, 0.1): z' = ([6, 0], [0, 0.1]).
    Item 1: same z, g = ([0, 0], [0, 2j]) so d_1 = [0, .8 + .5j] with norm sqrt(.89) < 1 (not
    projected); budgets (1, 2): z' = ([.6, 0], [0, 1.6 + 1j]).
    """
    z = torch.tensor([[[[3, 0]], [[0, 4]]]] * 2, dtype=torch.complex64)  # (2, 2, 1, 2)
    g = torch.zeros_like(z)
    g[0, 1, 0, 1] = 2
    g[1, 1, 0, 1] = 2j
    budget = torch.tensor([[10.0, 0.1], [1.0, 2.0]], dtype=torch.float64).reshape(2, 2, 1, 1)
    out = reference_step(z, g, budget, 0.5)
    expected = torch.tensor(
        [[[[6, 0]], [[0, 0.1]]], [[[0.6, 0]], [[0, 1.6 + 1j]]]], dtype=torch.complex64
    )
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-7)


def test_reference_rule_is_the_authors_iteration():
    """noise_attack(rule="reference") = the authors' loop written out here (last iterate)."""
    k, m = phantom(B=1), column_mask()
    net, box, eta, steps = TinyNet(), Box(4, 4, 8, 8), 0.1, 3
    res = noise_attack(net, k, m, 4, [box], eta, rule="reference", steps=steps, generator=3)
    regions = make_regions([box], SIZE)
    target = kspace_to_target(k, SIZE)
    dr = data_range(target)
    budget = (eta * torch.linalg.vector_norm(k.to(torch.complex128), dim=(-2, -1)))[..., None, None]
    z = _replay_start(net, k, m, box, eta, steps)
    for _ in range(steps):
        zt = z.clone().requires_grad_(True)
        obj, _, _ = perturbed_objective(net, k, m, 4, zt, target, regions, dr)
        (grad,) = torch.autograd.grad(obj.sum(), zt)
        d = z / torch.linalg.vector_norm(z) + 0.5 * grad / torch.linalg.vector_norm(grad)
        dn = torch.linalg.vector_norm(d.to(torch.complex128), dim=(-2, -1), keepdim=True)
        z = (d.to(torch.complex128) * budget / dn.clamp_min(1.0)).to(z.dtype)
    torch.testing.assert_close(res.perturbation, z, rtol=1e-4, atol=1e-7)
    used = torch.linalg.vector_norm(z.to(torch.complex128), dim=(-2, -1)) / budget[..., 0, 0]
    assert (used < 1).all()  # the authors' rule leaves budget unused (coils share unit norm)


def _replay_start(net, k, m, box, eta, steps):
    """The random start of a noise_attack call: a zero-step attack returns it unchanged."""
    return noise_attack(
        net, k, m, 4, [box], eta, rule="reference", steps=0, generator=3
    ).perturbation


def test_projection_holds_in_float64_on_fastmri_size_coils():
    """A float32 norm of a 640x368 coil drifts by ~1e-5; the projection must not overshoot."""
    g = torch.Generator().manual_seed(0)
    H_, W_ = 640, 368
    yy, xx = torch.meshgrid(torch.arange(H_) - H_ / 2, torch.arange(W_) - W_ / 2, indexing="ij")
    amp = 1 / (1 + (yy**2 + xx**2) / 4.0) ** 1.5  # k-space-like dynamic range
    z = (torch.randn(1, 6, H_, W_, dtype=torch.complex128, generator=g) * amp * 1e-3).to(
        torch.complex64
    )
    norm = torch.linalg.vector_norm(z.to(torch.complex128), dim=(-2, -1), keepdim=True)
    budget = 0.5 * norm
    out = project_per_coil(z, budget)
    ratio = torch.linalg.vector_norm(out.to(torch.complex128), dim=(-2, -1), keepdim=True) / budget
    assert (ratio <= 1 + 1e-6).all() and (ratio >= 1 - 1e-6).all()


def test_feasible_is_the_budget_up_to_rounding_and_the_support():
    from advrecon.attacks.noise import KspaceNoise

    g = torch.Generator().manual_seed(0)
    k = torch.randn(2, 3, 8, 8, dtype=torch.complex64, generator=g)
    budget = torch.rand(2, 3, 1, 1, dtype=torch.float64, generator=g) + 0.5
    support = torch.ones(1, 1, 1, 8)
    support[..., :2] = 0
    threat = KspaceNoise(None, k, torch.ones(1, 1, 1, 8), None, support, budget,
                         None, None, None, None)  # fmt: skip
    z = threat.draw([torch.Generator().manual_seed(i) for i in range(2)])
    assert threat.feasible(z).tolist() == [True, True]
    assert threat.feasible(threat.project(3 * k)).tolist() == [True, True]
    assert threat.feasible(torch.zeros_like(k)).tolist() == [True, True]
    over = z.clone()
    over[1, 2] *= 1 + 1e-5  # one coil 10 x float32 rounding over its budget
    assert threat.feasible(over).tolist() == [True, False]
    off = z.clone()
    off[0, 0, 3, 1] = 1e-6  # off the support
    assert threat.feasible(off).tolist() == [False, True]
    bad = z.clone()
    bad[1, 0, 0, 4] = float("nan")
    assert threat.feasible(bad).tolist() == [True, False]
