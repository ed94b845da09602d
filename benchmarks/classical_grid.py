"""Grid search of the classical reconstructions' regularisation weights (printed tables).

    python benchmarks/classical_grid.py               # grid, training split (~15 min, loaded)
    python benchmarks/classical_grid.py --demo        # clean SSIM/PSNR on the demo slices
    python benchmarks/classical_grid.py --convergence # fixed vs 10x iterations, demo slices

Training split: the synthetic set of ``scripts/train_demo_weights.sh`` (seed 0, 12 slices per
volume, file ids from 9000000), simulated in memory; ``--volumes`` volumes, the ``--slices``
central slices of each. Masks: fastMRI's random masks with the paper's centre fractions, seeded
per volume as in the demo (``tuple(map(ord, fname))``). The weight with the highest mean SSIM
(128x128 frame, ``data_range = max - min`` of the target, as the report) is marked ``*``; ship
it in ``src/advrecon/models/classical/defaults.py``. ``--demo`` measures the same metrics on the
demo's slices and masks (``configs/demo.yaml``) for the zero-filled baseline, the shipped
networks and the classical defaults.
"""

from __future__ import annotations

import argparse
import time

import torch

from advrecon.data.synthetic import SynthConfig, simulate_volume
from advrecon.experiments.config import DEFAULT_CENTER_FRACTION
from advrecon.masks import create_mask_for_mask_type
from advrecon.metrics import psnr, ssim
from advrecon.models.classical import CLASSICAL_ARCHS, build_classical, convergence_check
from advrecon.mri import center_crop

GRID = {
    "sense": [0.003, 0.01, 0.03, 0.1],
    "cs_tv": [0.001, 0.01, 0.03, 0.1],
    "cs_wavelet": [0.0003, 0.001, 0.003, 0.01],
}


def _mask(fname: str, shape: tuple[int, ...], acceleration: int) -> tuple[torch.Tensor, int]:
    func = create_mask_for_mask_type(
        "random", [DEFAULT_CENTER_FRACTION[acceleration]], [acceleration]
    )
    mask, nlf = func((1, *shape[-3:]), seed=[tuple(map(ord, fname))])
    return mask.reshape(1, 1, 1, -1).float(), int(nlf)


def training_slices(volumes: int, slices: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(fname, kspace (C, H, W), target (h, w))`` of the training split's central slices."""
    config = SynthConfig(num_volumes=8, num_slices=12, seed=0)
    out = []
    for i in range(volumes):
        vol = simulate_volume(config, i)
        mid = vol.kspace.shape[0] // 2
        for s in range(mid - slices // 2, mid - slices // 2 + slices):
            kspace, target = torch.from_numpy(vol.kspace[s]), torch.from_numpy(vol.target[s])
            out.append((vol.fname, kspace, target))
    return out


def demo_slices() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(fname, kspace, target)`` of the demo run's slices (``configs/demo.yaml``)."""
    from advrecon.experiments.config import load_config
    from advrecon.experiments.source import DatasetSource, ensure_synthetic

    config = load_config("configs/demo.yaml")
    ensure_synthetic(config)
    source = DatasetSource(config)
    samples = [source.load(ref) for ref in source.refs()]
    return [(s.fname, s.kspace, s.target) for s in samples]


def evaluate(recon, data, acceleration: int) -> tuple[float, float, float]:
    """Mean SSIM, mean PSNR and seconds of ``recon`` on ``data`` (one slice at a time)."""
    ssims, psnrs, start = [], [], time.perf_counter()
    with torch.no_grad():
        for fname, kspace, target in data:
            mask, nlf = _mask(fname, tuple(kspace.shape), acceleration)
            image = recon(kspace[None] * mask, mask, nlf)
            target = center_crop(target[None], recon.recon_size)
            ssims.append(float(ssim(image, target)[0]))
            psnrs.append(float(psnr(image, target)[0]))
    n = len(data)
    return sum(ssims) / n, sum(psnrs) / n, time.perf_counter() - start


def grid(args) -> None:
    data = training_slices(args.volumes, args.slices)
    size = tuple(data[0][2].shape)
    print(f"training split: {len(data)} slices; mean SSIM / PSNR (dB); * = chosen (SSIM)")
    print(f"{'arch':<11}{'acc':>4}{'lam':>8}{'SSIM':>8}{'PSNR':>8}{'s':>7}")
    for arch in args.archs:
        for acc in (4, 8):
            rows = []
            for lam in GRID[arch]:
                recon = build_classical(arch, lam=lam, recon_size=size, acceleration=acc)
                rows.append((lam, *evaluate(recon, data, acc)))
            best = max(rows, key=lambda r: r[1])
            for lam, s, p, t in rows:
                star = "*" if lam == best[0] else " "
                print(f"{arch:<11}{acc:>4}{lam:>8g}{s:>8.4f}{p:>8.2f}{t:>7.1f} {star}", flush=True)


def demo(args) -> None:
    from advrecon.models.checkpoints import load_reconstructor, shipped_weights
    from advrecon.models.reconstructor import ZeroFilled

    data = demo_slices()
    size = tuple(data[0][2].shape)
    print(f"demo slices: {len(data)}; clean mean SSIM / PSNR (dB)")
    print(f"{'model':<11}{'acc':>4}{'SSIM':>8}{'PSNR':>8}")
    for acc in (4, 8):
        models = {"zero_filled": ZeroFilled(size)}
        for arch in ("unet", "varnet"):
            models[arch] = load_reconstructor(shipped_weights(arch, acc), size, arch=arch)
        for arch in CLASSICAL_ARCHS:
            models[arch] = build_classical(arch, recon_size=size, acceleration=acc)
        for name, recon in models.items():
            s, p, _ = evaluate(recon.freeze(), data, acc)
            print(f"{name:<11}{acc:>4}{s:>8.4f}{p:>8.2f}", flush=True)


def convergence(args) -> None:
    data = demo_slices()
    size = tuple(data[0][2].shape)
    print("demo slices; fixed iterations vs 10x: max over slices")
    print(f"{'arch':<11}{'acc':>4}{'iters':>6}{'rel.diff':>10}{'rel.gap':>10}{'f_last/f_0':>11}")
    for arch in CLASSICAL_ARCHS:
        for acc in (4, 8):
            recon = build_classical(arch, recon_size=size, acceleration=acc)
            masks = [_mask(f, tuple(k.shape), acc) for f, k, _ in data]
            kspace = torch.stack([k * m[0][0] for (_, k, _), m in zip(data, masks, strict=True)])
            mask = torch.cat([m for m, _ in masks])
            nlf = torch.tensor([n for _, n in masks])
            c = convergence_check(recon, kspace, mask, nlf)
            drop = float((c.objective[-1] / c.objective[0]).max())
            print(
                f"{arch:<11}{acc:>4}{recon.iterations:>6}{float(c.relative_difference.max()):>10.4f}"
                f"{float(c.relative_gap.max()):>10.2e}{drop:>11.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="clean metrics on the demo slices")
    parser.add_argument("--convergence", action="store_true", help="convergence on demo slices")
    parser.add_argument("--volumes", type=int, default=4, help="training volumes (default 4)")
    parser.add_argument("--slices", type=int, default=1, help="central slices per volume")
    parser.add_argument("--archs", nargs="+", default=list(CLASSICAL_ARCHS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.demo:
        demo(args)
    elif args.convergence:
        convergence(args)
    else:
        grid(args)


if __name__ == "__main__":
    main()
