"""Classical reconstructions: operator adjoints, convergence, gradients, batching, configs."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from advrecon.boxes import Box
from advrecon.models.classical import (
    CLASSICAL_ARCHS,
    DEFAULT_ITERATIONS,
    build_classical,
    convergence_check,
)
from advrecon.models.classical.cs_tv import cs_tv_pdhg
from advrecon.models.classical.cs_wavelet import cs_wavelet_fista
from advrecon.models.classical.finite_differences import GRAD_NORM_SQ, div, grad
from advrecon.models.classical.sense import sense_cg
from advrecon.models.classical.wavelets import analysis, synthesis
from advrecon.mri import fft2c
from advrecon.operators import MultiCoilMRI

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

C128 = torch.complex128


def _inner(a, b) -> complex:
    if isinstance(a, list):
        return sum(_inner(x, y) for x, y in zip(a, b, strict=True))
    return complex(torch.vdot(a.flatten(), b.flatten()))


def _phantom(batch: int, coils: int, h: int, w: int, dtype=torch.complex64, seed: int = 0):
    """Smooth complex objects, smooth coil maps, fully-sampled k-space ``(B, C, h, w)``."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    objs, maps = [], []
    for _ in range(batch):
        r = 0.5 + 0.2 * torch.rand(2, generator=g)
        obj = ((yy / r[0]) ** 2 + (xx / r[1]) ** 2 < 1).double() * (1 + 0.5 * yy)
        obj = obj + 0.3 * ((yy - 0.1) ** 2 + (xx + 0.1) ** 2 < 0.05).double()
        objs.append(obj * torch.exp(1j * 0.3 * xx))
        centres = torch.rand(coils, 2, generator=g) * 2 - 1
        m = torch.stack([torch.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2)) for c in centres])
        maps.append(m * torch.exp(0.2j * torch.pi * (yy[None] + centres[:, :1, None])))
    image = torch.stack(objs)[:, None].to(dtype)
    coil_images = image * torch.stack(maps).to(dtype)
    noise = 0.002 * torch.randn(coil_images.shape, generator=g, dtype=dtype)
    return fft2c(coil_images) + noise


def _mask(w: int, batch: int = 1, acs: int = 6, every: int = 3, shift: int = 0):
    mask = torch.zeros(batch, 1, 1, w)
    for b in range(batch):
        mask[b, ..., (b + shift) % every :: every] = 1
    pad = (w - acs + 1) // 2
    mask[..., pad : pad + acs] = 1
    return mask


# -- operators: adjoint pairs -------------------------------------------------------------------
def test_grad_div_adjoint_and_norm():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 9, 7, dtype=C128, generator=g)
    p = torch.randn(3, 2, 9, 7, dtype=C128, generator=g)
    assert _inner(grad(x), p) == pytest.approx(-_inner(x, div(p)), rel=1e-12)
    # ||grad||^2 <= 8 (the primal-dual step sizes rely on it): power iteration
    v = torch.randn(1, 1, 16, 16, dtype=C128, generator=g)
    for _ in range(200):
        v = -div(grad(v))
        v = v / v.norm()
    assert 7.0 < float((grad(v).norm() / v.norm()) ** 2) <= GRAD_NORM_SQ


@pytest.mark.parametrize("wavelet", ["haar", "db4", "sym4"])
def test_wavelet_synthesis_is_the_adjoint_and_analysis_an_isometry(wavelet):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 1, 32, 24, dtype=C128, generator=g)
    c = analysis(x, wavelet, level=3)
    d = [torch.randn(band.shape, dtype=C128, generator=g) for band in c]
    assert _inner(c, d) == pytest.approx(_inner(x, synthesis(d, wavelet, (32, 24))), rel=1e-12)
    torch.testing.assert_close(synthesis(c, wavelet, (32, 24)), x)  # W^H W = I
    assert sum(float(band.norm() ** 2) for band in c) == pytest.approx(float(x.norm() ** 2))


def test_forward_model_adjoint_with_acs_maps():
    k = _phantom(2, 4, 16, 16, C128)
    op = MultiCoilMRI(build_classical("sense").problem(k, _mask(16, 2), None)[0].sens_maps, None)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 1, 16, 16, dtype=C128, generator=g)
    y = torch.randn(2, 4, 16, 16, dtype=C128, generator=g)
    assert _inner(op.forward(x), y) == pytest.approx(_inner(x, op.adjoint(y)), rel=1e-12)


# -- convergence ----------------------------------------------------------------------------
def _unit_maps(batch: int, coils: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    s = torch.randn(batch, coils, h, w, dtype=C128, generator=g)
    return s / (s.abs() ** 2).sum(dim=1, keepdim=True).sqrt()  # sum_i |S_i|^2 = 1


@pytest.mark.parametrize(
    "solve",
    [
        lambda op, y: sense_cg(op, y, lam=0.0, iterations=3),
        lambda op, y: cs_tv_pdhg(op, y, lam=1e-7, iterations=300),
        lambda op, y: cs_wavelet_fista(op, y, lam=1e-7, iterations=20),
    ],
    ids=["sense", "cs_tv", "cs_wavelet"],
)
def test_noiseless_fully_sampled_problem_is_solved_exactly(solve):
    op = MultiCoilMRI(_unit_maps(2, 3, 16, 16))  # fully sampled: A^H A = I
    x = _phantom(2, 1, 16, 16, C128)  # any complex image
    x = torch.fft.ifft2(x)  # scrambled: not smooth, so TV/wavelets could not "guess" it
    out = solve(op, op.forward(x))
    assert float((out - x).norm() / x.norm()) < 1e-4


@pytest.mark.parametrize("arch", CLASSICAL_ARCHS)
def test_default_iterations_converge(arch):
    k = _phantom(2, 4, 32, 32)
    mask = _mask(32, 2)
    recon = build_classical(arch, recon_size=(32, 32))
    c = convergence_check(recon, k * mask, mask, None, factor=5)
    assert c.objective.shape == (DEFAULT_ITERATIONS[arch] + 1, 2)
    assert (c.objective[-1] < c.objective[0]).all()  # the objective falls...
    assert (c.relative_gap > -1e-4).all()  # ...the long run is (numerically) no worse...
    assert (c.relative_gap < 0.03).all()  # ...and the fixed run nearly reaches it
    assert (c.relative_difference < 0.05).all()


# -- gradients and batching -----------------------------------------------------------------------
@pytest.mark.parametrize("arch", CLASSICAL_ARCHS)
def test_gradcheck_through_unrolled_iterations(arch):
    k = _phantom(1, 2, 16, 16, C128, seed=4)
    mask = _mask(16).double()
    recon = build_classical(arch, lam=0.01, iterations=3, recon_size=(8, 8))
    # derivatives along 6 random sampled k-space directions (full Jacobian columns: too slow)
    g = torch.Generator().manual_seed(8)
    directions = torch.randn(6, *k.shape, dtype=C128, generator=g) * mask
    v = torch.zeros(6, dtype=torch.float64, requires_grad=True)

    def f(v):
        return recon(k * mask + (v[:, None, None, None, None] * directions).sum(0), mask)

    assert torch.autograd.gradcheck(f, (v,), atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("arch", CLASSICAL_ARCHS)
def test_batch_equals_sequential(arch):
    k = _phantom(3, 4, 32, 32, seed=5)
    mask = _mask(32, 3)  # a different mask per item
    recon = build_classical(arch, recon_size=(24, 24), iterations=8)
    batch = recon(k * mask, mask, None)
    one = torch.cat([recon(k[i : i + 1] * mask[i : i + 1], mask[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batch, one, rtol=1e-4, atol=1e-5 * float(one.max()))


def test_scale_equivariant():
    k = _phantom(1, 4, 32, 32, seed=6)
    mask = _mask(32)
    recon = build_classical("cs_tv", recon_size=(32, 32))
    big, small = recon(1000 * k * mask, mask), 1000 * recon(k * mask, mask)
    torch.testing.assert_close(big, small, rtol=1e-3, atol=1e-5 * float(small.max()))


# -- configs and runs ------------------------------------------------------------------------
def _config(**model):
    from advrecon.experiments.config import parse_config

    return parse_config(
        {
            "data": {"kind": "synthetic", "root": "x"},
            "models": [{"name": "c", "arch": "sense", "acceleration": 8, **model}],
            "attacks": {"noise": {"eta": [0, 1]}},
        }
    )


@pytest.mark.parametrize(
    "model, message",
    [
        ({"lam": -0.1}, "models[0].lam: must be >= 0"),
        ({"lam": float("nan")}, "models[0].lam"),
        ({"iterations": 0}, "models[0].iterations: must be >= 1"),
        ({"tol": 1e-3}, "models[0].tol: unknown key"),
        ({"shipped": True}, "arch sense takes no checkpoint, shipped or spec"),
        ({"arch": "unet", "shipped": True, "lam": 0.1}, "models[0].lam: applies only to arch"),
        ({"arch": "cs_tvv"}, "models[0].arch"),
    ],
)
def test_config_errors_name_the_key(model, message):
    from advrecon.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        _config(**model)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_config_builds_the_classical_model_with_its_keys():
    from advrecon.experiments.loading import default_model_loader
    from advrecon.models.classical import SenseReconstructor, default_lam

    m = _config(iterations=7).models[0]
    recon = default_model_loader(m, (32, 32), "cpu")
    assert isinstance(recon, SenseReconstructor)
    assert (recon.lam, recon.iterations) == (default_lam("sense", 8), 7)
    assert default_model_loader(_config(lam=0.5).models[0], (32, 32), "cpu").lam == 0.5


def test_noise_attack_on_a_classical_model():
    from advrecon.attacks import noise_attack

    k = _phantom(2, 4, 32, 32, seed=7)
    mask = _mask(32)
    recon = build_classical("cs_wavelet", recon_size=(32, 32), iterations=10)
    boxes = [Box(8, 8, 10, 10), Box(12, 4, 8, 12)]
    res = noise_attack(recon, k, mask, None, boxes, [2.0], steps=3, generator=0)
    assert torch.isfinite(res.adversarial).all()
    assert (res.best_trace[:, -1] > res.trace[:, 0]).all()  # the attack found a worse input


def test_experiment_run_with_a_classical_model(tmp_path, capsys):
    from advrecon.cli import main

    d = fakes.real_config_dict(str(tmp_path / "runs"), str(tmp_path / "data"))
    d["models"] = [{"name": "tv", "arch": "cs_tv", "acceleration": 4, "iterations": 5}]
    cfg = tmp_path / "classical.yaml"
    cfg.write_text(yaml.safe_dump(d))
    assert main(["run", str(cfg), "--no-progress"]) == 0
    run = next((tmp_path / "runs").iterdir())
    df = pd.read_csv(run / "results.csv")
    assert set(df.model) == {"tv"} and set(df.attack) == {"noise", "rotation"}
    assert df.adv_ssim.notna().all()
