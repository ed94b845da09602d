"""k-space spikes (advrecon.attacks.spikes) on tiny phantoms and a stand-in model."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_experiments_fakes as fakes  # noqa: E402
from test_attacks_noise import TinyNet, column_mask, phantom  # noqa: E402

from advrecon.attacks.contract import SliceAttack  # noqa: E402
from advrecon.attacks.engine import item_generators  # noqa: E402
from advrecon.attacks.objectives import data_range, make_regions  # noqa: E402
from advrecon.attacks.spikes import (  # noqa: E402
    GreedySpikes,
    KspaceSpikes,
    SpikesAttackConfig,
    acquired_support,
    run_spikes_units,
    spikes_attack,
    spikes_batch_groups,
)
from advrecon.attacks.spikes.describe import describe, spike_table  # noqa: E402
from advrecon.boxes import Box  # noqa: E402
from advrecon.cli import main  # noqa: E402
from advrecon.errors import AdvreconError, ConfigError  # noqa: E402
from advrecon.experiments import schema  # noqa: E402
from advrecon.experiments.config import load_config, parse_config  # noqa: E402
from advrecon.mri import center_crop, fft2c, ifft2c, kspace_to_target, rss  # noqa: E402
from advrecon.report import plugins  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread

PAD = (2, 22)
BOXES = [Box(5, 5, 6, 6), [Box(0, 0, 16, 16), Box(3, 3, 8, 8)]]
KW = dict(count=3, refine_steps=2, n_random=2, padding=PAD, generator=5)


def make_threat(k, mask, amplitude, count, recon=None, size=(16, 16), pad=PAD, box=None):
    """A :class:`KspaceSpikes` on the slices ``k`` (one item each), bound ``amplitude max|k|``."""
    n = k.shape[0]
    target = kspace_to_target(k, size)
    kmax = k.to(torch.complex128).abs().flatten(1).amax(1)
    regions = make_regions([box or Box(2, 2, 10, 10)] * n, size)
    full = make_regions([Box.full(size)] * n, size)
    bound = (amplitude * kmax).reshape(n, 1, 1, 1)
    return KspaceSpikes(
        recon if recon is not None else TinyNet(size), k, mask, 4,
        acquired_support(mask, *pad), bound, count, target, regions, full, data_range(target),
    )  # fmt: skip


def acquired(mask, pad=PAD) -> torch.Tensor:
    """``(W,)`` bool acquired columns."""
    cols = torch.zeros(mask.shape[-1], dtype=torch.bool)
    cols[pad[0] : pad[1]] = True
    return (mask[0, 0, 0] > 0) & cols


def check_spikes(delta, bound, count, cols) -> None:
    """At most ``count`` positions, every value within ``bound``, only on acquired columns."""
    occ = (delta != 0).any(1)  # (n, H, W)
    assert (occ.flatten(1).sum(1) <= count).all()
    assert (delta.to(torch.complex128).abs() <= bound * (1 + 1e-6)).all()
    assert not occ[..., ~cols].any()


# ------------------------------------------------------------------ zero bound, bounds
def test_zero_bound_reproduces_clean_exactly():
    k, m = phantom(), column_mask()
    res = spikes_attack(TinyNet(), k, m, 4, BOXES, 0.0, **KW)
    assert res.perturbation.abs().max() == 0
    assert torch.equal(res.adversarial, res.clean)
    for name in ("ssim", "psnr", "nmse", "mse"):
        assert torch.equal(res.metrics[f"adv_{name}"], res.metrics[f"clean_{name}"])
    assert torch.equal(res.metrics["control_mse"], torch.zeros(3, dtype=torch.float64))
    for name in ("rand_mean_ssim", "rand_worst_psnr_full"):  # zero-amplitude draws: clean
        assert torch.equal(res.metrics[name], res.metrics["clean" + name[name.index("_", 5) :]])
    rows = res.to_rows()
    assert all(r["spike_used"] == 0 and math.isnan(r["spike_dist"]) for r in rows)
    assert all(r["spike_max_amp_percent"] == 0 for r in rows)


def test_adversarial_and_random_spikes_are_feasible(monkeypatch):
    seen: list[bool] = []
    original = KspaceSpikes.reconstruct

    def checked(self, delta):
        seen.append(bool(self.feasible(delta.detach()).all()))
        return original(self, delta)

    monkeypatch.setattr(KspaceSpikes, "reconstruct", checked)
    k, m = phantom(), column_mask()
    amp = torch.tensor([0.05, 0.2])
    res = spikes_attack(TinyNet(), k, m, 4, BOXES, amp, **KW)
    assert seen and all(seen)  # greedy prefixes, refinement steps and random draws
    kmax = k.to(torch.complex128).abs().flatten(1).amax(1)
    bound = (amp * kmax)[res.item_index].reshape(-1, 1, 1, 1)
    check_spikes(res.perturbation, bound, 3, acquired(m))
    rows = res.to_rows()
    assert all(1 <= r["spike_used"] <= 3 for r in rows)
    for r, a in zip(rows, 100 * amp[res.item_index], strict=True):
        assert 0 < r["spike_max_amp_percent"] <= a * (1 + 1e-6)
    # random draws: exactly ``count`` distinct acquired positions, every coil at the bound
    threat = make_threat(k, m, 0.1, 3)
    z = threat.draw([g[1] for g in item_generators(3, 2, "cpu")])
    assert threat.feasible(z).all()
    assert ((z != 0).any(1).flatten(1).sum(1) == 3).all()
    amp_z = z.to(torch.complex128).abs().flatten(1)
    for i in range(2):  # every value at its item's bound
        used = amp_z[i][amp_z[i] > 0]
        want = threat.bound[i].flatten().expand_as(used)
        torch.testing.assert_close(used, want, rtol=1e-6, atol=0)
    check_spikes(z, threat.bound, 3, acquired(m))


def test_feasible_rejects_each_violation():
    k, m = phantom(B=1), column_mask()
    t = make_threat(k, m, 0.1, 2)
    A = float(t.bound)
    z = torch.zeros_like(k)
    z[0, :, 3, 12] = A  # column 12: centre band, acquired
    assert t.feasible(z).all()
    too_big = z.clone()
    too_big[0, 1, 3, 12] = 1.01 * A
    off = z.clone()
    off[0, 0, 5, 1] = 0.1 * A  # column 1: outside the padding
    many = z.clone()
    many[0, 0, 4, 12] = many[0, 0, 7, 12] = 0.1 * A  # three positions
    for bad in (too_big, off, many):
        assert not t.feasible(bad).any()
        assert t.feasible(t.project(bad)).all()
    assert torch.equal(t.project(z), z)  # a feasible point comes back bit for bit


def test_project_is_the_nearest_feasible_point():
    from itertools import combinations

    g = torch.Generator().manual_seed(4)
    k = torch.ones(1, 2, 8, 8, dtype=torch.complex128)
    t = make_threat(k, torch.ones(1, 1, 1, 8), 0.5, 2, recon=lambda *a: None, size=(7, 7),
                    pad=(0, 2), box=Box(0, 0, 7, 7))  # fmt: skip
    A = float(t.bound)
    cells = [(y, x) for y in range(8) for x in range(2)]  # the acquired positions
    for _ in range(10):
        z = torch.randn(k.shape, dtype=torch.complex128, generator=g) * A
        best = math.inf
        for pair in combinations(cells, 2):  # brute force over every pair of positions
            keep = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
            for y, x in pair:
                keep[..., y, x] = True
            c = torch.where(keep, z, 0)
            c = torch.where(c.abs() > A, c * A / c.abs(), c)
            best = min(best, float((c - z).abs().pow(2).sum()))
        p = t.project(z)
        assert t.feasible(p).all()
        assert float((p - z).abs().pow(2).sum()) == pytest.approx(best, rel=1e-12)


# ------------------------------------------------------------------ the physics of a spike
@pytest.mark.parametrize("shape", [(16, 12), (15, 9)])
@pytest.mark.parametrize("u, v", [(0, 0), (3, -2), (-5, 4), (7, 1)])
def test_single_spike_adds_the_predicted_sinusoid(shape, u, v):
    H, W_ = shape
    k = fft2c(torch.randn(1, 3, H, W_, dtype=torch.complex128, generator=torch.Generator()))
    s = torch.tensor([0.7 * math.e ** (0.3j), -0.2j, 0.0], dtype=torch.complex128)
    delta = torch.zeros_like(k)
    delta[0, :, H // 2 + u, W_ // 2 + v] = s
    y = torch.arange(H, dtype=torch.float64)[:, None] - H // 2
    x = torch.arange(W_, dtype=torch.float64)[None, :] - W_ // 2
    wave = torch.exp(2j * math.pi * (u * y / H + v * x / W_)) / math.sqrt(H * W_)
    added = ifft2c(k + delta) - ifft2c(k)
    torch.testing.assert_close(added[0], s[:, None, None] * wave, atol=1e-12, rtol=0)
    level = torch.full((H, W_), 0.7 / math.sqrt(H * W_), dtype=torch.float64)
    torch.testing.assert_close(added.abs()[0, 0], level, atol=1e-12, rtol=0)
    # the control (no model) is the RSS of the coil images with their stripes, cropped
    mask = torch.ones(1, 1, 1, W_)
    t = make_threat(k, mask, 1.0, 1, recon=lambda *a: None, size=(9, 7), pad=(0, W_),
                    box=Box(0, 0, 7, 9))  # fmt: skip
    want = center_crop(rss(ifft2c(k)[0] + s[:, None, None] * wave, 0), (9, 7))
    torch.testing.assert_close(t.control(delta)[0], want, atol=1e-12, rtol=0)


# ------------------------------------------------------------------ the greedy step
@dataclass(frozen=True)
class LinearSpikes(KspaceSpikes):
    """The threat model with the linear objective ``mean(image)`` (a linear stand-in model)."""

    def objective_of(self, image, objective, mse0=None):
        return image.flatten(1).mean(1).to(torch.float64), mse0


def test_greedy_picks_the_largest_first_order_gain():
    k, m = phantom(B=2, C=3), column_mask()
    g = torch.Generator().manual_seed(1)
    weight = torch.randn(k.shape, dtype=torch.complex64, generator=g)

    def linear(masked, mask, nlf):  # image = Re<weight, masked k> everywhere: linear in k
        wide = masked.to(torch.complex128)
        val = (weight.conj().to(torch.complex128) * wide).sum((1, 2, 3)).real
        return val[:, None, None].expand(-1, 16, 16)

    base = make_threat(k, m, 0.05, 4, recon=linear)
    t = LinearSpikes(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    delta, img, trace, best = GreedySpikes(4, 2, 0.5, "mse").run(t, torch.zeros_like(k))
    # the objective's gradient is ``weight`` on acquired columns: the gain of a position is
    # A * sum_j |weight_j(p)|; greedy must take the 4 largest, in order, phases aligned
    cols = acquired(m)
    gain = weight.to(torch.complex128).abs().sum(1)  # (n, H, W)
    gain[..., ~cols] = -1
    top, pos = gain.flatten(1).topk(4, dim=1)
    A = t.bound.flatten().to(torch.float64)
    steps = trace[:, 1:5] - trace[:, :4]
    torch.testing.assert_close(steps, A[:, None] * top, rtol=1e-4, atol=0)
    occ = (delta != 0).any(1).flatten(1)
    for i in range(2):
        assert set(torch.nonzero(occ[i]).flatten().tolist()) == set(pos[i].tolist())
    hw = torch.arange(k.shape[-2] * k.shape[-1])
    chosen = (hw[None] == pos[..., None]).any(1).view(2, 1, *k.shape[-2:])
    phase = weight / weight.abs()
    torch.testing.assert_close(delta, torch.where(chosen, A.view(-1, 1, 1, 1).float() * phase, 0))
    # the greedy point is optimal for a linear objective: the refinement cannot beat it
    torch.testing.assert_close(trace[:, 5:], trace[:, 4:5].expand(-1, 2), rtol=1e-6, atol=0)
    assert (best >= 4).all()


def test_add_spike_zero_gradient_coil_gets_phase_zero_and_skips_occupied():
    k, m = phantom(B=1, C=2), column_mask()
    t = make_threat(k, m, 0.1, 2)
    A = float(t.bound)
    grad = torch.zeros_like(k)
    grad[0, 0, 4, 12] = 3j  # the largest gain, but only coil 0 has a gradient
    grad[0, :, 9, 13] = 1.0
    grad[0, :, 1, 1] = 100.0  # column 1 is outside the padding: never chosen
    z = t.add_spike(torch.zeros_like(k), grad)
    assert torch.nonzero((z != 0).any(1)[0]).tolist() == [[4, 12]]
    torch.testing.assert_close(z[0, :, 4, 12], torch.tensor([1j * A, A], dtype=z.dtype))
    z2 = t.add_spike(z, grad)  # (4, 12) is occupied: the next best
    assert torch.nonzero((z2 != 0).any(1)[0]).tolist() == [[4, 12], [9, 13]]


# ------------------------------------------------------------------ gradients, steps, cost
@pytest.mark.parametrize("objective", ["mse", "ssim", "mse_ssim"])
def test_gradcheck_objective_wrt_spike_values(objective):
    k = phantom(B=1, C=2, dtype=torch.complex128)[:, :, 8:24, 4:20]  # 16x16 k-space
    m = column_mask(torch.float64)[..., 4:20]
    net = TinyNet(recon_size=(8, 8)).double().freeze()
    t = make_threat(k, m, 0.05, 3, recon=net, size=(8, 8), pad=(0, 16), box=Box(1, 0, 7, 8))
    rows, cols = torch.tensor([3, 8, 12]), torch.tensor([8, 0, 9])
    g = torch.Generator().manual_seed(0)
    vals = float(t.bound) * torch.randn(1, 2, 3, dtype=torch.complex128, generator=g)
    mse0 = torch.tensor([0.01], dtype=torch.float64) if objective == "mse_ssim" else None

    def f(v):
        flat = torch.zeros(1, 2, 16 * 16, dtype=k.dtype).index_add(2, rows * 16 + cols, v)
        delta = flat.view_as(k)
        return t.objective_of(t.reconstruct(delta), objective, mse0)[0]

    assert torch.autograd.gradcheck(f, (vals.requires_grad_(),), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_ascent_step_turns_phases_only_on_allowed_positions_and_clamps():
    k, m = phantom(B=1, C=2), column_mask()
    t = make_threat(k, m, 0.1, 2)
    A = float(t.bound)
    z = torch.zeros_like(k)
    z[0, :, 4, 12] = A
    allowed = (z != 0).any(1, keepdim=True)
    grad = torch.full_like(k, 1j)  # everywhere: only (4, 12) may move
    out = t.restricted(allowed).ascent_step(z, grad, 0.5, "l2")
    assert torch.equal((out != 0).any(1), allowed[:, 0])
    torch.testing.assert_close(out[0, :, 4, 12].abs(), torch.full((2,), A), rtol=1e-6, atol=0)
    torch.testing.assert_close(out[0, 0, 4, 12].angle(), torch.tensor(math.atan(0.5)))
    assert t.feasible(out).all()


class CountingNet(TinyNet):
    """TinyNet that counts the items it reconstructs with and without gradients."""

    def __init__(self):
        super().__init__()
        self.grad_items = self.items = 0

    def reconstruct(self, masked_kspace, mask, num_low_frequencies):
        self.items += masked_kspace.shape[0]
        self.grad_items += masked_kspace.shape[0] * torch.is_grad_enabled()
        return super().reconstruct(masked_kspace, mask, num_low_frequencies)


@pytest.mark.parametrize("refine", [0, 2])
def test_cost_is_count_plus_refine_passes(refine):
    k, m = phantom(B=2), column_mask()
    net = CountingNet()
    kw = dict(KW, refine_steps=refine, n_random=2)
    res = spikes_attack(net, k, m, 4, [Box(5, 5, 6, 6)] * 2, torch.tensor([0.0, 0.1]), **kw)
    # only the amplitude > 0 item searches (count + refine forward+backward passes, one
    # forward) and draws random spikes (2 forwards); both slices are reconstructed clean once
    assert net.grad_items == 3 + refine
    assert net.items == 2 + (3 + refine + 1) + 2
    assert res.trace.shape == (2, 3 + refine + 1)
    assert torch.equal(res.trace[0], res.trace[0, :1].expand(3 + refine + 1))
    assert (res.trace[1].amax() == res.trace[1, res.best_step[1]]).all()


def test_runner_reconstructs_the_clean_slice_once():
    net, box = CountingNet(), Box(5, 5, 6, 6)
    inp = SliceAttack(net, phantom(1)[0], column_mask(), 4, [box], PAD, (16, 16),
                      torch.Generator().manual_seed(0), None)  # fmt: skip
    section = SpikesAttackConfig(amplitude=[0, 5], count=2, refine_steps=1, n_random=3)
    (group,) = spikes_batch_groups(section, "m", ["region"], {"region": [(0, box)]})
    scores = run_spikes_units(inp, group.units, section, group.units[0].rule)
    # one clean forward for both amplitudes, the search (2 + 1 passes, one forward), 3 draws
    assert net.items == 1 + (2 + 1 + 1) + 3 and net.grad_items == 3
    (i0, zero), (i5, hit) = (scores.row(u) for u in group.units)
    assert zero["adv_ssim"] == zero["clean_ssim"] == hit["clean_ssim"]
    assert scores.arrays(i5, group.units[1])["spikes"].shape == (2, 3)


def test_batch_equals_sequential():
    k, m = phantom(B=3), column_mask()
    boxes = [[Box(5, 5, 6, 6), Box(0, 0, 16, 16)], Box(2, 3, 9, 5), Box(3, 3, 8, 8)]
    amp = torch.tensor([0.05, 0.1, 0.2])
    net = TinyNet()
    batched = spikes_attack(net, k, m, 4, boxes, amp, chunk_size=2, **KW)
    rows = []
    for b, group in enumerate(boxes):
        for box in group if isinstance(group, list) else [group]:
            r = spikes_attack(net, k[b : b + 1], m, 4, [box], amp[b : b + 1], **KW)
            rows.append(r)
    seq = torch.cat([r.perturbation for r in rows])
    occ = lambda z: (z != 0).any(1)  # noqa: E731
    assert torch.equal(occ(batched.perturbation), occ(seq))
    torch.testing.assert_close(batched.perturbation, seq, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(batched.adversarial, torch.cat([r.adversarial for r in rows]))
    one = [row for r in rows for row in r.to_rows()]
    for a, b in zip(batched.to_rows(), one, strict=True):
        for key in ("spike_used", "spike_dy", "spike_dx", "adv_ssim", "spike_mean_dist"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-4, err_msg=key)


def test_attack_beats_random_spikes_of_the_same_amplitude():
    k, m = phantom(), column_mask()
    res = spikes_attack(TinyNet(), k, m, 4, BOXES, 0.05, **dict(KW, n_random=6))
    assert (res.metrics["adv_mse"] > res.metrics["rand_worst_mse"]).all()
    assert (res.metrics["adv_ssim"] < res.metrics["rand_mean_ssim"]).all()
    assert (res.metrics["rand_worst_ssim"] <= res.metrics["rand_mean_ssim"]).all()


# ------------------------------------------------------------------ descriptions
def test_describe_counts_amplitudes_and_positions():
    delta = torch.zeros(1, 2, 16, 12, dtype=torch.complex64)
    delta[0, :, 8 + 3, 6 - 4] = torch.tensor([0.5, 0.5j])  # strong: offset (3, -4), distance 5
    delta[0, 0, 8, 6 + 1] = 0.1  # weak, at (0, 1)
    out = describe(delta, torch.tensor([10.0]), torch.tensor([[0.01, 0.1]]))
    assert int(out["used"]) == 2
    assert float(out["max_amp_percent"]) == pytest.approx(5.0)
    assert float(out["to_thermal"]) == pytest.approx(50.0)  # 0.5 / 0.01 in coil 0
    assert (float(out["dy"]), float(out["dx"]), float(out["dist"])) == (3.0, -4.0, 5.0)
    assert float(out["mean_dist"]) == pytest.approx((0.5 * 5 + 0.01 * 1) / 0.51)
    table = spike_table(delta, torch.tensor([10.0]), 3)[0]
    np.testing.assert_allclose(table[:2], [[3, -4, 5], [0, 1, 1]], rtol=1e-6)
    assert torch.isnan(table[2]).all()
    # equally strong spikes (up to rounding): the one nearest the centre is the strongest
    tie = torch.zeros(1, 1, 16, 12, dtype=torch.complex64)
    tie[0, 0, 8 - 6, 6] = 1.0
    tie[0, 0, 8 + 2, 6 + 1] = 1.0 + 1e-7j
    out = describe(tie, torch.tensor([1.0]), torch.ones(1, 1))
    assert (float(out["dy"]), float(out["dx"])) == (2.0, 1.0)


# ------------------------------------------------------------------ config and errors
def test_config_section_errors_name_the_key():
    def parse(**spikes):
        return parse_config(fakes.tiny_config_dict("o", attacks={"spikes": spikes}))

    cfg = parse(amplitude=[0, 5], count=2)
    assert isinstance(cfg.attacks.spikes, SpikesAttackConfig) and cfg.attacks.spikes.count == 2
    assert parse(amplitude=[0], count=0).attacks.spikes.count == 0  # nothing to place
    for bad, msg in (
        (dict(amplitude=[1, -2]), r"^attacks\.spikes\.amplitude\[1\]: must be >= 0"),
        (dict(amplitude=[0, 1], count=0), r"^attacks\.spikes\.count: must be >= 1 when"),
        (dict(amplitude=[1], count=-1), r"^attacks\.spikes\.count: must be >= 0"),
        (dict(amplitude=[1], step_size=0), r"^attacks\.spikes\.step_size: must be > 0"),
        (dict(amplitude=[1], objective="l1"), r"^attacks\.spikes\.objective: must be one of"),
        (dict(amplitude=[1], cout=2), r"^attacks\.spikes\.cout: unknown key; did you mean"),
    ):
        with pytest.raises(ConfigError, match=msg) as err:
            parse(**bad)
        assert "\n" not in str(err.value)


def test_call_errors_are_one_line():
    k, m = phantom(1), column_mask()
    with pytest.raises(AdvreconError, match="amplitude must be finite and >= 0"):
        spikes_attack(TinyNet(), k, m, 4, [Box(2, 2, 8, 8)], -0.1)
    with pytest.raises(AdvreconError, match="count must be >= 1 when an amplitude is > 0"):
        spikes_attack(TinyNet(), k, m, 4, [Box(2, 2, 8, 8)], 0.1, count=0)
    with pytest.raises(AdvreconError, match="objective must be one of"):
        spikes_attack(TinyNet(), k, m, 4, [Box(2, 2, 8, 8)], 0.1, objective="l1")
    # count 0 with a zero amplitude is a valid empty attack
    res = spikes_attack(TinyNet(), k, m, 4, [Box(2, 2, 8, 8)], 0.0, count=0, n_random=1)
    assert torch.equal(res.adversarial, res.clean)


# ------------------------------------------------------------------ runner and report
def test_spikes_run_end_to_end_and_report(tmp_path, capsys):
    cfg = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    cfg["attacks"] = {"spikes": {"amplitude": [0, 5], "count": 2, "refine_steps": 1,
                                 "n_random": 1}}  # fmt: skip
    path = tmp_path / "spikes.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--no-progress"]) == 0
    run_dir = load_config(path).run_dir()
    df = pd.read_csv(run_dir / "results.csv")
    assert set(df.attack) == {"spikes"} and set(df.budget) == {0, 5} and df.unit_id.is_unique
    assert set(df.columns) <= set(schema.COLUMNS)
    assert df.unit_id.str.contains("/k005.000/").any()
    zero, hit = df[df.budget == 0], df[df.budget == 5]
    assert (zero.adv_ssim == zero.clean_ssim).all() and (zero.spike_used == 0).all()
    assert (hit.spike_used.between(1, 2)).all()
    assert (hit.spike_max_amp_percent <= 5 * (1 + 1e-6)).all()
    assert hit.spike_mean_dist.notna().all() and (hit.spike_acquired_dist > 0).all()
    assert main(["report", str(run_dir)]) == 0
    report = run_dir / "report"
    assert (report / "figures" / "fig_spikes_budget.png").is_file()
    assert (report / "figures" / "panel_spikes_worst.png").is_file()
    text = (report / "findings.md").read_text()
    assert "Worst-case spikes lower region SSIM more than random spikes" in text
    assert "Worst-case spikes lie nearer the k-space centre" in text
    arrays = np.load(next((run_dir / "arrays").rglob("*k005.000*.npz")))
    assert arrays["spikes"].shape == (2, 3)


@pytest.mark.parametrize(
    "gap, want", [(0.05, "holds"), (-0.05, "does not hold"), (0.0, "not enough data")]
)
def test_spike_findings_three_way_verdict(gap, want):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(5):
        adv = 0.8 + 0.01 * rng.standard_normal()
        for b in (0.0, 5.0):
            g = gap + (0.002 * rng.standard_normal() if gap else 0.0) if b else 0.0
            row = dict(attack="spikes", rule="greedy", target="region", model="unet")
            row.update(acceleration=4, budget=b, file="f", slice=s, adv_ssim=adv)
            row.update(spike_acquired_dist=30.0, spike_mean_dist=30.0 - 100 * g)
            rows.append(dict(row, clean_ssim=adv + 0.1, rand_mean_ssim=adv + g))
    found = {f.key: f for f in plugins.evaluate(pd.DataFrame(rows)) if f.key.startswith("spikes")}
    assert set(found) == {"spikes_worst_vs_random", "spikes_near_centre"}
    assert all(f.verdict == want for f in found.values())


def test_shipped_config_parses():
    root = Path(__file__).resolve().parents[1] / "configs"
    cfg = load_config(root / "spikes.yaml", check_paths=False, device="cpu")
    assert cfg.attacks.spikes.amplitude[0] == 0 and cfg.attacks.spikes.count >= 1
