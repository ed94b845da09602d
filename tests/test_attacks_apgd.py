"""APGD and restarts (advrecon.attacks.search) on the noise threat model, tiny phantoms."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from test_attacks_noise import BOXES, TinyNet, column_mask, phantom

from advrecon.attacks.engine import random_baseline
from advrecon.attacks.noise import KspaceNoise, NoiseOptions, noise_attack
from advrecon.attacks.noise.attack import _starts
from advrecon.attacks.noise.batch import chunk_threat, prepare_batch
from advrecon.attacks.search import (
    APGD,
    APGD_STEP,
    apgd_checkpoints,
    autoattack_checkpoints,
    best_of_restarts,
    returned_value,
)
from advrecon.errors import AdvreconError

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread


def test_checkpoints_are_the_papers():
    # Croce & Hein 2020, Sec. 3.2: p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99
    assert apgd_checkpoints(100) == [0, 22, 41, 57, 70, 80, 87, 93, 99]
    assert apgd_checkpoints(10) == [0, 3, 5, 6, 7, 8, 9, 10]
    assert apgd_checkpoints(1000)[:3] == [0, 220, 410]


def test_autoattack_checkpoints_match_the_paper_at_100_and_check_often_when_short():
    # the reference code: first gap max(int(.22 n), 1), shrinking by max(int(.03 n), 1) to
    # max(int(.06 n), 1): the paper's schedule at 100 steps, a check per step after 2 at 10
    assert autoattack_checkpoints(100) == apgd_checkpoints(100)
    assert autoattack_checkpoints(10) == list(range(0, 1)) + list(range(2, 11))
    assert autoattack_checkpoints(1) == [0, 1]


def test_initial_step_is_the_tuned_default_and_can_be_set():
    rising = Scripted([float(v) for v in range(11)])
    APGD(10, "mse").run(rising, torch.zeros(1, 1, 1))
    assert [s for _, s in rising.steps] == [APGD_STEP] * 10
    k, m = phantom(B=1), column_mask()
    res = noise_attack(TinyNet(), k, m, 4, [BOXES[0]], 0.1, search="apgd", apgd_step=0.5)
    assert res.step_size == 0.5 and res.to_rows()[0]["step_size"] == 0.5
    with pytest.raises(AdvreconError, match="apgd_step must be > 0"):
        noise_attack(TinyNet(), k, m, 4, [BOXES[0]], 0.1, search="apgd", apgd_step=0.0)


@dataclass(frozen=True)
class Watched(KspaceNoise):
    """The noise threat model, recording every evaluated point and whether it had a gradient."""

    log: list = field(default_factory=list, compare=False)

    def reconstruct(self, z):
        self.log.append((z.detach().clone(), torch.is_grad_enabled() and z.requires_grad))
        return super().reconstruct(z)


def watched(eta=0.1, padding=(2, 22), steps=10):
    k, m = phantom(), column_mask()
    opts = NoiseOptions(recon_size=None, padding=padding, data_range="maxmin", generator=3,
                        measured_only=False)  # fmt: skip
    b = prepare_batch(TinyNet(), k, m, 4, BOXES, torch.tensor([eta, 2 * eta]), opts)
    threat, gens = chunk_threat(b, range(len(b.index)))
    return Watched(**vars(threat)), gens


def test_apgd_stays_in_every_coils_ball_at_every_iterate_and_costs_steps():
    threat, gens = watched()
    z0 = threat.draw([g[0] for g in gens])
    z, _, trace, best = APGD(12, "mse").run(threat, z0)
    assert len(threat.log) == 13 and sum(g for _, g in threat.log) == 12  # as PGD: 12 + 1
    for zt, _ in threat.log:
        norm = torch.linalg.vector_norm(zt.to(torch.complex128), dim=(-2, -1), keepdim=True)
        assert (norm <= threat.budget * (1 + 1e-6)).all()
        assert zt[..., :2].abs().max() == 0 and zt[..., 22:].abs().max() == 0
    # the best iterate is returned, never below the start
    assert torch.equal(returned_value(trace, best), trace.max(1).values)
    assert (returned_value(trace, best) >= trace[:, 0]).all()
    for i in range(z.shape[0]):
        torch.testing.assert_close(z[i], threat.log[int(best[i])][0][i], rtol=0, atol=0)


class Scripted:
    """A one-item threat model whose objective follows a script; it records APGD's steps.

    The point ``x`` is a number (shape ``(1, 1, 1)``); ``ascent_step`` moves it by the step size
    it is given, so the log shows each step size and the point each step started from.
    """

    def __init__(self, values):
        self.values, self.calls, self.steps = list(values), 0, []

    def reconstruct(self, x):
        return x * 1.0

    def objective_of(self, image, objective, mse0=None):
        v = self.values[self.calls]
        self.calls += 1
        return image.sum(dim=(1, 2)) * 0 + v, mse0

    def ascent_step(self, x, grad, step_size, rule):
        self.steps.append((float(x), float(step_size)))
        return x + 1.0

    def project(self, x):
        return x


def test_step_is_halved_at_checkpoints_when_progress_stalls():
    # constant objective: no successful step and no new best -> halve at every checkpoint
    # (10 steps: checkpoints 3, 5, 6, 7, 8, 9; the last point is evaluated, never stepped from)
    flat = Scripted([1.0] * 11)
    APGD(10, "mse", step_size=2.0).run(flat, torch.zeros(1, 1, 1))
    assert [s for _, s in flat.steps] == [2, 2, 2, 1, 1, 0.5, 0.25, 0.125, 0.0625, 0.03125]
    # every step improves: never halved
    rising = Scripted([float(v) for v in range(11)])
    APGD(10, "mse", step_size=2.0).run(rising, torch.zeros(1, 1, 1))
    assert [s for _, s in rising.steps] == [2.0] * 10


def test_condition_two_halves_only_when_the_step_was_not_just_halved():
    # w = 3: no success -> halve (1). w = 5: 2/2 successes, best unchanged, but halved at 3 ->
    # keep. w = 6: 1/1 success, best unchanged, not halved at 5 -> halve (0.5). w = 7: keep;
    # w = 8: halve (0.25); w = 9: keep.
    s = Scripted([10.0, 1.0, 0.5, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    APGD(10, "mse", step_size=2.0).run(s, torch.zeros(1, 1, 1))
    assert [st for _, st in s.steps] == [2, 2, 2, 1, 1, 1, 0.5, 0.5, 0.25, 0.25]


def test_halving_restarts_from_the_best_point():
    # best value at iterate 1; iterates 2, 3 fall: 1 of 3 steps successful < 0.75 at w_1 = 3
    vals = [0.0, 5.0, 4.0, 3.0] + [float(v) for v in range(6, 13)]
    s = Scripted(vals)
    z, _, trace, best = APGD(10, "mse", step_size=2.0).run(s, torch.zeros(1, 1, 1))
    x_best = s.steps[1][0]  # iterate 1, where the second step started
    assert s.steps[2][0] != x_best  # iterate 2 moved on (momentum walk)
    assert s.steps[3] == (x_best, 1.0)  # the step after w_1 starts at the best point, halved
    assert int(best[0]) == 10 and float(returned_value(trace, best)[0]) == 12.0


def test_apgd_zero_budget_is_clean_exactly():
    k, m = phantom(), column_mask()
    res = noise_attack(TinyNet(), k, m, 4, BOXES, 0.0, search="apgd", restarts=2, generator=0)
    assert res.perturbation.abs().max() == 0
    torch.testing.assert_close(res.adversarial, res.clean, rtol=0, atol=0)
    assert res.search == "apgd" and res.to_rows()[0]["search"] == "apgd"
    assert res.to_rows()[0]["restarts"] == 2


@pytest.mark.parametrize("restarts", [1, 2])
def test_apgd_batch_equals_sequential_and_is_deterministic(restarts):
    k, m = phantom(), column_mask()
    net = TinyNet()
    kw = dict(search="apgd", restarts=restarts, generator=5, steps=6)
    a = noise_attack(net, k, m, 4, BOXES, 0.1, **kw)
    b = noise_attack(net, k, m, 4, BOXES, 0.1, chunk_size=1, **kw)
    c = noise_attack(net, k, m, 4, BOXES, 0.1, **kw)
    torch.testing.assert_close(a.perturbation, b.perturbation, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(a.metrics["adv_ssim"], b.metrics["adv_ssim"], rtol=1e-4, atol=1e-6)
    assert torch.equal(a.perturbation, c.perturbation) and torch.equal(a.trace, c.trace)


@pytest.mark.parametrize("search", ["pgd", "apgd"])
def test_restarts_never_worse_than_one_run_of_the_same_stream(search):
    k, m = phantom(), column_mask()
    net = TinyNet()
    kw = dict(search=search, generator=11, steps=4)
    one = noise_attack(net, k, m, 4, BOXES, 0.3, **kw)
    same = noise_attack(net, k, m, 4, BOXES, 0.3, restarts=1, **kw)
    three = noise_attack(net, k, m, 4, BOXES, 0.3, restarts=3, **kw)
    assert torch.equal(one.perturbation, same.perturbation)
    v1, v3 = returned_value(one.trace, one.best_step), returned_value(three.trace, three.best_step)
    assert (v3 >= v1).all()
    assert (v3 > v1).any()  # the other starts are really different points


def test_apgd_beats_pgd_on_the_tiny_model_at_equal_cost():
    k, m = phantom(B=2), column_mask()
    net = TinyNet()
    kw = dict(generator=2, steps=10, boxes=BOXES)
    p = noise_attack(net, k, m, 4, eta=0.5, **kw)
    a = noise_attack(net, k, m, 4, eta=0.5, search="apgd", **kw)
    vp, va = returned_value(p.trace, p.best_step), returned_value(a.trace, a.best_step)
    assert (va >= 0.9 * vp).all()  # not a weaker search (equal cost)


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(search="adam"), "search must be one of ('pgd', 'apgd'), got 'adam'"),
        (dict(restarts=0), "restarts must be at least 1"),
        (dict(restarts=-2), "restarts must be a non-negative integer"),
        (dict(search="apgd", rule="reference"), "use rule 'l2' with it"),
    ],
)
def test_bad_search_options(kw, message):
    k, m = phantom(B=1), column_mask()
    with pytest.raises(AdvreconError) as err:
        noise_attack(TinyNet(), k, m, 4, [BOXES[0]], 0.1, **kw)
    assert message in str(err.value)


@dataclass(frozen=True)
class Traced(KspaceNoise):
    """The noise threat model, recording the outputs of ``draw`` / ``project`` /
    ``ascent_step`` and every point it reconstructs (with the threat model of its items and
    the number of outputs made before it)."""

    made: list = field(default_factory=list, compare=False)
    seen: list = field(default_factory=list, compare=False)

    def draw(self, generators):
        return self._made(super().draw(generators))

    def project(self, z):
        return self._made(super().project(z))

    def ascent_step(self, z, grad, step_size, rule):
        return self._made(super().ascent_step(z, grad, step_size, rule))

    def reconstruct(self, z):
        self.seen.append((self, z.detach().clone(), len(self.made)))
        return super().reconstruct(z)

    def _made(self, z):
        self.made.append(z.detach().clone())
        return z


@pytest.mark.parametrize(
    "search, rule, restarts, start",
    [("pgd", "l2", 1, True), ("pgd", "reference", 2, True), ("apgd", "l2", 2, True),
     ("apgd", "l2", 2, False), ("pgd", "l2", 1, False)],
)  # fmt: skip
def test_every_iterate_is_made_by_the_threat_model_and_feasible(search, rule, restarts, start):
    k, m = phantom(), column_mask()
    opts = NoiseOptions(padding=(2, 22), generator=3, n_random=2, search=search, rule=rule,
                        restarts=restarts, random_start=start, steps=6).checked()  # fmt: skip
    b = prepare_batch(TinyNet(), k, m, 4, BOXES, torch.tensor([0.0, 0.2]), opts)
    base, gens = chunk_threat(b, range(len(b.index)))
    threat = Traced(**vars(base))
    clean = threat.reconstruct(torch.zeros_like(threat.kspace)).detach()
    threat.seen.clear()
    best_of_restarts(opts.searcher(), threat, _starts(threat, gens, opts), clean)
    random_baseline(threat, [g[1] for g in gens], opts.n_random, opts.chunk_size)
    # the search's iterates (the eta = 0 item never moves), then 3 items x 2 draws in 2 chunks
    assert len(threat.seen) == restarts * (opts.steps + 1) + 2
    for owner, z, n_made in threat.seen:
        assert owner.feasible(z).all()
        made = [row for p in threat.made[:n_made] for row in p]  # items may be a subset (take)
        for row in z:
            assert any(torch.equal(p, row) for p in made)


def test_project_returns_zero_bit_for_bit():
    threat, _ = watched()
    zero = torch.zeros_like(threat.kspace)
    out = threat.project(zero)
    assert out.dtype == zero.dtype
    assert torch.view_as_real(out).numpy().tobytes() == torch.view_as_real(zero).numpy().tobytes()
