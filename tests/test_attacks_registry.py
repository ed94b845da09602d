"""The threat-model registry and the one executor that dispatches through it."""

import pytest
import torch

from advrecon.attacks.motion import run_motion_units
from advrecon.attacks.noise import KspaceNoise, run_noise_units
from advrecon.attacks.registry import get_threat_model
from advrecon.attacks.rotation import Rotation, run_rotation_units
from advrecon.attacks.search import ProjectedGradient
from advrecon.errors import AdvreconError


def test_registry_entries():
    noise, rotation = get_threat_model("noise"), get_threat_model("rotation")
    assert (noise.name, noise.budget_column, noise.run) == ("noise", "eta_percent", run_noise_units)
    assert (rotation.budget_column, rotation.run) == ("theta_max", run_rotation_units)
    motion = get_threat_model("motion")
    assert (motion.budget_column, motion.run) == ("theta_max", run_motion_units)


def test_unknown_threat_model_is_one_line_error():
    with pytest.raises(AdvreconError, match="unknown attack 'teleport'.*motion.*noise") as e:
        get_threat_model("teleport")
    assert "\n" not in str(e.value)


def test_runner_keeps_execute_batch():
    from advrecon.experiments.executor import execute_batch
    from advrecon.experiments.runner import execute_batch as from_runner

    assert from_runner is execute_batch


def test_rotation_threat_round_trip_at_zero_is_identity():
    threat = Rotation("fourier", 5.0, True)
    img = torch.rand(2, 16, 16)
    back, valid = threat.to_target(img, torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(back, img)
    assert bool(valid.all())


def test_pgd_on_a_toy_threat_model_reaches_the_boundary():
    """The search only uses the threat model's interface: maximise <w, d> over |d| <= 1."""

    class Toy:
        def __init__(self, w):
            self.w = w

        def reconstruct(self, d):
            return (d * self.w).sum(-1)[:, None, None].expand(-1, 2, 2)

        def objective_of(self, image, objective, mse0=None):
            return image[:, 0, 0], mse0

        def ascent_step(self, d, g, step_size, rule):
            d = d + step_size * g / g.norm(dim=-1, keepdim=True)
            return d / d.norm(dim=-1, keepdim=True).clamp_min(1.0)

    w = torch.tensor([[3.0, 4.0], [0.0, -2.0]])
    d, img, trace, best = ProjectedGradient(20, 0.5, "l2", "mse").run(Toy(w), torch.zeros(2, 2))
    torch.testing.assert_close(d, w / w.norm(dim=-1, keepdim=True), atol=1e-4, rtol=0)
    assert trace.shape == (2, 21) and bool((trace[:, -1] >= trace[:, 0]).all())


def test_kspace_noise_step_stays_in_the_balls():
    g = torch.Generator().manual_seed(0)
    k = torch.randn(2, 3, 8, 8, dtype=torch.complex64, generator=g)
    budget = torch.rand(2, 3, 1, 1, dtype=torch.float64, generator=g)
    threat = KspaceNoise(None, k, torch.ones(1, 1, 1, 8), None, torch.ones(1, 1, 1, 8), budget,
                         None, None, None, None)  # fmt: skip
    z = threat.draw([torch.Generator().manual_seed(i) for i in range(2)])
    grad = torch.randn(2, 3, 8, 8, dtype=torch.complex64, generator=g)
    for rule in ("l2", "reference"):
        nz = torch.linalg.vector_norm(
            threat.ascent_step(z, grad, 0.5, rule).to(torch.complex128), dim=(-2, -1)
        )
        assert bool((nz <= budget[..., 0, 0] * (1 + 1e-6)).all())


def test_noise_plugin_declares_its_threat_class_and_a_valid_example():
    noise = get_threat_model("noise")
    assert noise.threat is KspaceNoise and callable(noise.threat.feasible)
    section = noise.section.model_validate(dict(noise.example))
    assert section.eta == (0.0, 1.0) and section.steps == 2 and section.search == "pgd"
