"""Cost of the attacks relative to the model's own cost (printed, never asserted).

* PGD: wall time of a 10-step ``noise_attack`` divided by 10 x (one forward + backward to the
  input k-space) on the same input, frozen parameters. Reported for the whole call (which also
  evaluates the last iterate, the clean reconstruction and the metrics) and for the PGD loop
  alone (11 forwards, 10 backwards). Target: <= 1.05.
* Rotation: time per evaluated angle divided by the model's forward time at the same batch
  size (target <= 1.05): the overhead of rotations, FFTs, back-rotation and metrics.
* Missing / hallucinated features: wall time of a 10-step ``feature_attack`` /
  ``hallucination_attack`` (no random baseline) divided by 10 x (forward + backward); both also
  evaluate the clean reconstruction and the metrics (target: <= 1.3).
* ``--gpu`` (CUDA only): batched versus one-at-a-time angles and budgets.

The model is the demo VarNet preset (random weights) from ``advrecon.models.checkpoints`` when
available, else a small stand-in CNN.

    python benchmarks/attacks.py                 # 8 coils x 128 x 64 k-space, 1 thread
    python benchmarks/attacks.py --shape 8 256 128 --threads 2
    python benchmarks/attacks.py --gpu
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from advrecon.attacks import noise_attack, rotation_attack
from advrecon.attacks.feature import feature_attack
from advrecon.attacks.hallucination import hallucination_attack
from advrecon.attacks.noise import KspaceNoise
from advrecon.attacks.objectives import data_range, make_regions
from advrecon.attacks.search import ProjectedGradient
from advrecon.boxes import Box
from advrecon.models.reconstructor import Reconstructor
from advrecon.mri import fft2c, ifft2c, kspace_to_target, rss


class _StandIn(Reconstructor):
    def __init__(self, recon_size):
        super().__init__(recon_size)
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 1, 3, padding=1),
        )  # fmt: skip

    def reconstruct(self, masked_kspace, mask, num_low_frequencies):
        x = rss(ifft2c(masked_kspace), 1)
        return x + self.net(x[:, None])[:, 0]


def build(recon_size, device):
    try:
        from advrecon.models.checkpoints import build_model, wrap_model

        model = wrap_model(build_model("varnet", "demo"), recon_size)
        name = "VarNet demo preset (random init)"
    except Exception as exc:  # the models package may be absent in a partial checkout
        model, name = _StandIn(recon_size), f"stand-in CNN ({type(exc).__name__})"
    return model.to(device).freeze(), name


def data(B, C, H, W, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij")
    obj = torch.sigmoid(20 * (1 - (xx / 0.6) ** 2 - (yy / 0.45) ** 2))
    img = obj * torch.exp(1j * torch.rand((B, C, 1, 1), generator=g) * 6.28)
    img = img + 0.01 * torch.randn((B, C, H, W), dtype=torch.complex64, generator=g)
    k = fft2c(img.to(torch.complex64)).to(device)
    mask = torch.zeros(1, 1, 1, W, device=device)
    mask[..., ::4] = 1
    c = max(2, round(0.08 * W))
    mask[..., W // 2 - c // 2 : W // 2 - c // 2 + c] = 1
    return k, mask, c


def timed(fn, repeats, device):
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t)
    # the minimum is the least disturbed by other processes on a shared machine
    return min(out)


def bench_pgd(model, k, mask, nlf, size, repeats, device):
    box = [Box(size[1] // 4, size[0] // 4, size[1] // 2, size[0] // 2)] * k.shape[0]

    def fwd_bwd():
        z = torch.zeros_like(k, requires_grad=True)
        model((k + z) * mask, mask, nlf).sum().backward()

    fwd_bwd()  # warm-up
    t_step = timed(fwd_bwd, repeats, device)
    t_call = timed(
        lambda: noise_attack(model, k, mask, nlf, box, 0.05, steps=10, generator=0), repeats, device
    )
    target = kspace_to_target(k, size)
    regions = make_regions(box, size, device=device)
    dr = data_range(target)
    budget = 0.05 * torch.linalg.vector_norm(k, dim=(-2, -1), keepdim=True)
    support = torch.ones(1, 1, 1, k.shape[-1], device=device)

    full = make_regions([Box.full(size)] * k.shape[0], size, device=device)
    threat = KspaceNoise(model, k, mask, nlf, support, budget, target, regions, full, dr)
    pgd = ProjectedGradient(steps=10, step_size=0.5, rule="l2", objective="mse")

    def loop():
        pgd.run(threat, torch.zeros_like(k))

    t_loop = timed(loop, repeats, device)
    print(f"  fwd+bwd to input:          {t_step * 1e3:9.1f} ms")
    print(
        f"  noise_attack (10 steps):   {t_call * 1e3:9.1f} ms  ratio {t_call / (10 * t_step):.3f}"
    )
    print(
        f"  PGD loop only:             {t_loop * 1e3:9.1f} ms  ratio {t_loop / (10 * t_step):.3f}"
    )


def bench_features(model, k, mask, nlf, size, repeats, device):
    box = [Box(size[1] // 4, size[0] // 4, size[1] // 2, size[0] // 2)] * k.shape[0]

    def fwd_bwd():
        z = torch.zeros_like(k, requires_grad=True)
        model((k + z) * mask, mask, nlf).sum().backward()

    fwd_bwd()  # warm-up
    t_step = timed(fwd_bwd, repeats, device)
    kw = dict(steps=10, n_random=0, generator=0)
    for name, fn, budget in (
        ("feature_attack", feature_attack, 0.25),
        ("hallucination_attack", hallucination_attack, 0.01),
    ):
        t = timed(lambda fn=fn, b=budget: fn(model, k, mask, nlf, box, b, **kw), repeats, device)
        print(f"  {name + ' (10 steps):':27s}{t * 1e3:9.1f} ms  ratio {t / (10 * t_step):.3f}")


def bench_rotation(model, k, mask, nlf, size, chunk, repeats, device, interpolation):
    kk = k[:1]
    boxes = [[Box(0, 0, size[1], size[0]), Box(size[1] // 4, size[0] // 4, 8, 8)]]
    step = 0.5
    n_angles = 4 * chunk - 1  # odd grid with 0 in it; the last chunk is one angle short
    tmax = step * (n_angles // 2)
    x = kk.expand(chunk, *kk.shape[1:])

    def fwd():
        with torch.no_grad():
            model(x * mask, mask, nlf)

    fwd()
    t_fwd = timed(fwd, repeats, device)

    def attack():
        rotation_attack(model, kk, mask, nlf, boxes, [tmax], step=step, chunk_size=chunk,
                        interpolation=interpolation)  # fmt: skip

    attack()
    t_att = timed(attack, repeats, device)
    per_chunk = t_att / (n_angles / chunk)
    print(
        f"  rotation ({interpolation:7s}, {n_angles} angles, chunk {chunk}): "
        f"{t_att * 1e3:8.1f} ms; per chunk {per_chunk * 1e3:7.1f} ms vs forward "
        f"{t_fwd * 1e3:7.1f} ms  ratio {per_chunk / t_fwd:.3f}"
    )


def bench_gpu(model, k, mask, nlf, size, device):
    kk = k[:1]
    box = [Box(0, 0, size[1], size[0])]
    for chunk in (1, 8, 32):
        t = timed(lambda c=chunk: rotation_attack(model, kk, mask, nlf, box, [3.0], step=0.1,
                                                  chunk_size=c), 2, device)  # fmt: skip
        print(f"  rotation, 61 angles, chunk_size={chunk:3d}: {t * 1e3:8.1f} ms")
    etas = torch.tensor([0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0])
    kb = kk.expand(len(etas), *kk.shape[1:])
    t_b = timed(lambda: noise_attack(model, kb, mask, nlf, box * len(etas), etas, generator=0),
                2, device)  # fmt: skip

    def one_by_one():
        for e in etas:
            noise_attack(model, kk, mask, nlf, box, float(e), generator=0)

    t_s = timed(one_by_one, 2, device)
    print(f"  noise, 8 budgets batched: {t_b * 1e3:8.1f} ms; one at a time {t_s * 1e3:8.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", type=int, nargs=3, default=(8, 128, 64), metavar=("C", "H", "W"))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--chunk", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--gpu", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.gpu and torch.cuda.is_available() else "cpu")
    C, H, W = args.shape
    size = (min(H, W), min(H, W))
    model, name = build(size, device)
    k, mask, nlf = data(args.batch, C, H, W, device)
    print(f"{name}; k-space {args.batch} x {C} x {H} x {W}, recon {size}, {device}, "
          f"{args.threads} thread(s)")  # fmt: skip
    print("PGD (noise attack):")
    bench_pgd(model, k, mask, nlf, size, args.repeats, device)
    print("Rotation sweep:")
    for interp in ("paper", "fourier"):
        bench_rotation(model, k, mask, nlf, size, args.chunk, args.repeats, device, interp)
    print("Missing / hallucinated features:")
    bench_features(model, k, mask, nlf, size, args.repeats, device)
    if args.gpu:
        if device.type != "cuda":
            print("--gpu: CUDA is not available, skipped")
        else:
            print("GPU batching:")
            bench_gpu(model, k, mask, nlf, size, device)


if __name__ == "__main__":
    main()
