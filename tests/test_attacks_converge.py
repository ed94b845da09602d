"""The noise search's stopping rule (advrecon.attacks.search.Converging) and its config."""

from __future__ import annotations

import pytest
import torch
from test_attacks_noise import BOXES, TinyNet, column_mask, phantom

from advrecon.attacks.noise import NoiseAttackConfig, noise_attack
from advrecon.attacks.search import APGD, Converge, Converging, ProjectedGradient
from advrecon.errors import AdvreconError

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny tensors, one thread


class Ladder:
    """``n`` items climbing ``+1`` per step to their own ceiling: the objective is ``x`` (so
    a round of ``k`` steps from ``x`` gains ``min(k, ceiling - x)``). Logs each batch size."""

    def __init__(self, ceilings, log=None):
        self.ceil = torch.tensor(ceilings, dtype=torch.float32).view(-1, 1, 1)
        self.log = [] if log is None else log
        self.active = torch.ones(len(ceilings), dtype=torch.bool)

    def take(self, idx):
        return Ladder(self.ceil.flatten()[idx].tolist(), self.log)

    def reconstruct(self, x):
        self.log.append(x.shape[0])
        return x.expand(-1, 2, 2) * 1.0

    def objective_of(self, image, objective, mse0=None):
        return image[:, 0, 0], mse0

    def ascent_step(self, x, grad, step_size, rule):
        return self.project(x + 1.0)

    def project(self, x):
        return torch.minimum(x, self.ceil)


def climb(ceilings, steps, tol, cap, search="pgd"):
    ladder = Ladder(ceilings)
    inner = ProjectedGradient(steps, 1.0, "l2", "mse") if search == "pgd" else APGD(steps, "mse")
    out = Converging(inner, tol, cap).run(ladder, torch.zeros(len(ceilings), 1, 1))
    return (*out, ladder.log)


def test_rounds_stop_at_the_first_round_below_tol_or_at_the_cap():
    # steps 2, tol 0.5: ceiling 3 gains 2, 1, 0 -> converged after 3 rounds (6 passes);
    # ceiling 1 gains 1, 0 -> 4 passes; ceiling 100 hits the cap 7 (rounds 2, 2, 2, 1)
    z, img, trace, best, passes, conv, _ = climb([3.0, 1.0, 100.0], 2, 0.5, 7)
    assert passes.tolist() == [6, 4, 7] and conv.tolist() == [True, True, False]
    assert z.flatten().tolist() == [3.0, 1.0, 7.0] and img[:, 0, 0].tolist() == [3.0, 1.0, 7.0]
    assert trace.shape == (3, 8) and trace[:, 0].tolist() == [0.0, 0.0, 0.0]
    assert trace[2].tolist() == [float(v) for v in range(8)]  # one column per pass
    assert torch.isnan(trace[0, 7:]).all() and torch.isnan(trace[1, 5:]).all()
    assert best.tolist() == [3, 1, 7]  # the pass of each item's best iterate
    assert (trace.gather(1, best[:, None])[:, 0] == z.flatten().double()).all()


def test_the_cap_counts_as_converged_when_its_last_round_gained_less_than_tol():
    # ceiling 4, steps 2, cap 6: gains 2, 2, 0 -> the third round (passes 5-6) gains nothing
    *_, passes, conv, _ = climb([4.0], 2, 0.5, 6)
    assert passes.tolist() == [6] and conv.tolist() == [True]
    *_, passes, conv, _ = climb([4.0], 2, 0.5, 4)  # gains 2, 2: capped while still rising
    assert passes.tolist() == [4] and conv.tolist() == [False]


def test_stopped_items_leave_the_batch_and_keep_their_result():
    out = climb([1.0, 3.0, 100.0], 2, 0.5, 8)
    # every round is one forward per iterate: 3 items for round 1 and 2; then 2; then 1
    assert out[-1] == [3] * 3 + [3] * 3 + [2] * 3 + [1] * 3
    # each item alone (its own batch) gives the same result: dropping others changes nothing
    for j, c in enumerate([1.0, 3.0, 100.0]):
        alone = climb([c], 2, 0.5, 8)
        for a, b in zip(out[:6], alone[:6], strict=True):
            torch.testing.assert_close(a[j : j + 1], b, rtol=0, atol=0, equal_nan=True)


def test_apgd_rounds_restart_their_schedule_from_the_best_point():
    # rounds of 3 from 0: ceiling 5 gains 3, 2, 0 (converged at the cap), 100 gains 3, 3, 3
    *_, passes, conv, log = climb([5.0, 100.0], 3, 0.5, 9, search="apgd")
    assert passes.tolist() == [9, 9] and conv.tolist() == [True, False]
    z, *_ = climb([5.0], 3, 0.5, 30, search="apgd")
    assert z.flatten().tolist() == [5.0]


def test_noise_attack_counts_passes_without_converge():
    k, m = phantom(), column_mask()
    res = noise_attack(TinyNet(), k, m, 4, BOXES, torch.tensor([0.0, 0.1]), steps=3,
                       search="apgd", restarts=2, generator=0)  # fmt: skip
    assert res.passes.tolist() == [0, 6, 6] and res.trace.shape == (3, 4)
    rows = res.to_rows()
    assert [r["passes"] for r in rows] == [0, 6, 6] and not any("converged" in r for r in rows)


def _converged(conv, restarts=1, k=None, eta=(0.0, 0.1), **kw):
    k = phantom() if k is None else k
    return noise_attack(TinyNet(), k, column_mask(), 4, BOXES, torch.tensor(eta), steps=3,
                        search="apgd", objective="ssim", generator=5, converge=conv,
                        restarts=restarts, n_random=1, **kw)  # fmt: skip


def test_noise_attack_with_converge_records_passes_and_convergence():
    loose = _converged({"tol": 0.5, "max_steps": 12})  # a first round gains < 0.5 SSIM
    assert loose.passes.tolist() == [0, 3, 3] and loose.converged.tolist() == [True] * 3
    tight = _converged(Converge(1e-12, 12))
    assert tight.passes[0] == 0 and (tight.passes[1:] <= 12).all()
    assert tight.trace.shape == (3, 13) and (tight.trace.nan_to_num(-1) <= 1).all()
    # more rounds never lower the objective of the returned iterate
    assert (tight.metrics["adv_ssim"] <= loose.metrics["adv_ssim"] + 1e-7).all()
    rows = tight.to_rows()
    assert rows[0]["converged"] is True and isinstance(rows[1]["passes"], int)
    assert [r["passes"] for r in rows] == tight.passes.tolist()


def test_converge_composes_with_restarts_passes_summed():
    one = _converged({"tol": 1e-3, "max_steps": 9})
    two = _converged({"tol": 1e-3, "max_steps": 9}, restarts=2)
    extra = two.passes - one.passes
    assert extra[0] == 0 and ((extra[1:] >= 3) & (extra[1:] <= 9)).all()
    assert (two.metrics["adv_ssim"] <= one.metrics["adv_ssim"]).all()


def test_converge_batch_equals_sequential_and_same_seed_same_rows():
    k, conv = phantom(), {"tol": 1e-3, "max_steps": 9}
    kw = dict(steps=3, search="apgd", objective="ssim", converge=conv, random_start=False)
    eta = torch.tensor([0.05, 0.1])
    both = noise_attack(TinyNet(), k, column_mask(), 4, BOXES, eta, **kw)
    for j in range(2):  # each slice alone (seeds are per call: no random start here)
        alone = noise_attack(TinyNet(), k[j : j + 1], column_mask(), 4, [BOXES[j]], eta[j : j + 1],
                             **kw)  # fmt: skip
        items = [i for i, s in enumerate(both.item_index.tolist()) if s == j]
        assert alone.passes.tolist() == both.passes[items].tolist()
        assert alone.converged.tolist() == both.converged[items].tolist()
        torch.testing.assert_close(alone.perturbation, both.perturbation[items], rtol=1e-4,
                                   atol=1e-6)  # fmt: skip
    # random starts and baselines: the same seed gives the same rows, whatever the chunking
    rand = dict(kw, random_start=True, generator=5, n_random=1)
    one = noise_attack(TinyNet(), k, column_mask(), 4, BOXES, eta, **rand)
    again = noise_attack(TinyNet(), k, column_mask(), 4, BOXES, eta, **rand)
    chunked = noise_attack(TinyNet(), k, column_mask(), 4, BOXES, eta, chunk_size=1, **rand)
    assert one.to_rows() == again.to_rows()
    assert one.passes.tolist() == chunked.passes.tolist()
    torch.testing.assert_close(one.perturbation, chunked.perturbation, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "conv, kw, match",
    [
        ({"tol": 0.0, "max_steps": 9}, {}, "converge.tol must be > 0"),
        ({"tol": 1e-3, "max_steps": 2}, {}, "converge.max_steps must be at least steps"),
        ({"tol": 1e-3}, {}, "converge needs the keys tol and max_steps"),
        ({"tol": 1e-3, "max_steps": 9}, {"objective": "mse_ssim"}, "needs rule 'l2' and"),
        ({"tol": 1e-3, "max_steps": 9}, {"rule": "reference"}, "needs rule 'l2' and"),
        ({"tol": 1e-3, "max_steps": 9}, {"steps": 0}, "steps must be at least 1"),
        ("fast", {}, "converge must be a Converge or a dict"),
    ],
)
def test_converge_option_errors_are_one_line(conv, kw, match):
    args = dict(steps=3, objective="ssim") | kw
    with pytest.raises(AdvreconError, match=match) as err:
        noise_attack(TinyNet(), phantom(B=1), column_mask(), 4, [BOXES[0]], 0.1, converge=conv,
                     **args)  # fmt: skip
    assert "\n" not in str(err.value)


def test_config_converge_and_the_tightness_checks_cost():
    sec = NoiseAttackConfig(eta=[1], steps=10, objective="ssim", tightness={"eta": [1]},
                            converge={"tol": 1e-3, "max_steps": 30})  # fmt: skip
    assert sec.steps_for("l2") == 10 and sec.steps_for("tight") == 300
    assert sec.converge_for("l2") == {"tol": 1e-3, "max_steps": 30}
    assert sec.converge_for("tight") is None and sec.converge_for("reference") is None
    plain = NoiseAttackConfig(eta=[1], steps=10, tightness={"eta": [1]})
    assert plain.steps_for("tight") == 100 and plain.converge_for("l2") is None


def test_a_run_with_converge_records_passes_and_the_check_runs_at_factor_x_the_cap(
    tmp_path, monkeypatch
):
    import pandas as pd
    import test_experiments_fakes as fakes

    from advrecon.experiments.config import parse_config
    from advrecon.experiments.runner import run_experiment

    monkeypatch.chdir(tmp_path)
    cfg = fakes.real_config_dict("runs", "data")
    conv = {"tol": 1e-3, "max_steps": 6}
    cfg["attacks"] = {"noise": {"eta": [0, 2], "steps": 2, "objective": "ssim", "n_random": 1,
                                "rules": ["l2", "reference"], "converge": conv,
                                "tightness": {"eta": [2], "factor": 2}}}  # fmt: skip
    cfg["arrays"], cfg["targets"] = "none", ["region"]
    plain = parse_config({**cfg, "attacks": {"noise": {"eta": [0, 2], "converge": None}}})
    assert plain.hash() == parse_config({**cfg, "attacks": {"noise": {"eta": [0, 2]}}}).hash()
    summary = run_experiment(parse_config(cfg), progress=False)
    df = pd.read_parquet(summary.run_dir / "results.parquet")
    l2, ref, tight = (df[df["rule"] == r] for r in ("l2", "reference", "tight"))
    assert len(l2) and len(ref) and len(tight)
    moving = l2["budget"] > 0
    assert l2["passes"][moving].between(2, 6).all() and (l2["passes"][~moving] == 0).all()
    assert l2["converged"].notna().all() and l2["converged"][~moving].all()
    assert (ref["passes"][ref["budget"] > 0] == 2).all() and ref["converged"].isna().all()
    assert (tight["steps"] == 12).all() and (tight["passes"] == 12).all()
