"""Clean versus worst-case quality of the standard and the hardened U-Net 4x demo models.

On the demo's evaluation slices (``configs/demo.yaml``'s synthetic data, generated as
``advrecon demo`` does when absent; the first ``--slices``), region target = the slice's first
fastMRI+-style box, for the shipped standard U-Net 4x and its hardened variants
(``shipped_weights("unet", 4, variant=...)``: ``adversarial``, ``jitter``):

* clean region SSIM;
* worst-case region SSIM under per-coil k-space noise at eta = 0.5 / 1 / 2.5 % with the strongest
  search: APGD, SSIM objective, ``--steps`` (100) passes = 10x the protocol's 10, best of
  ``--restarts`` runs;
* random-noise region SSIM at the same budgets (``--n-random`` draws on the coils' spheres: mean
  and worst);
* gradient-masking checks: (a) the worst random draw never beats the attack; (b) the protocol's
  10 passes against 10x more (the gap should be small); (c) black box: a (1+1)-ES of
  ``--es-iters`` forward passes in the same ball (eta = 1 %), which finds nothing stronger than
  the gradient attack on a model without masked gradients;
* training cost: seconds per optimizer step of standard training and of each remedy (the demo
  U-Net, batch 1, 1 thread, ``--time-steps`` steps on the evaluation data), relative to standard.

Prints the table and the checks, writes ``docs/figures/robust_tradeoff.png`` (clean vs
worst-case region SSIM at eta = 1 %, and region SSIM vs eta) and its table as JSON beside it
(``--replot JSON`` redraws the figure from it). Figures, never asserted.

    PYTHONPATH=src python benchmarks/robust_tradeoff.py            # ~20 min on 2 busy CPU cores
    PYTHONPATH=src python benchmarks/robust_tradeoff.py --quick    # smoke run, ~2 min
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from advrecon.attacks import noise_attack
from advrecon.attacks.noise import ETA_SCALE
from advrecon.attacks.noise.projection import coil_norm, project_per_coil, scale_per_coil
from advrecon.attacks.objectives import data_range, make_regions, region_metrics

ROOT = Path(__file__).resolve().parent.parent
ETAS = (0.5, 1.0, 2.5)
REMEDIES = {
    "standard": None,
    "jitter": dict(remedy="jitter", eta=1.5),
    "adversarial": dict(remedy="adversarial", eta=1.5, steps=4, mix=0.5),
    "fnaf": dict(remedy="fnaf", eta=25.0, steps=3),
}


def load_slices(n: int):
    """The demo config, its data source and first ``n`` slice refs."""
    from advrecon.demo import default_config_path
    from advrecon.experiments.config import load_config
    from advrecon.experiments.source import DatasetSource, ensure_synthetic

    config = load_config(default_config_path(), check_paths=False)
    ensure_synthetic(config)
    source = DatasetSource(config)
    return config, source, source.refs()[:n]


def cases(config, source, refs, etas):
    """Per slice: k-space ``(E, C, H, W)``, mask, nlf, boxes, padding, recon size."""
    from advrecon.experiments.loading import make_mask

    m = next(m for m in config.models if (m.arch, m.acceleration) == ("unet", 4))
    out = []
    for ref in refs:
        s = source.load(ref)
        mask, nlf = make_mask(config, m, s)
        k = s.kspace[None].expand(len(etas), *s.kspace.shape)
        out.append((k, mask, nlf, [ref.boxes[0]] * len(etas), s.padding, tuple(s.recon_size)))
    return out


def attack_all(recon, items, etas, **kw):
    """``noise_attack`` on every slice (one item per eta); metrics stacked ``(slices, E)``."""
    eta = torch.tensor([e * ETA_SCALE for e in etas], dtype=torch.float64)
    rows = []
    for k, mask, nlf, boxes, padding, _ in items:
        res = noise_attack(
            recon, k, mask, nlf, boxes, eta, objective="ssim", search="apgd",
            padding=None if padding is None else tuple(padding), generator=0, **kw,
        )  # fmt: skip
        rows.append({key: v.detach() for key, v in res.metrics.items()})
    return {key: torch.stack([r[key] for r in rows]) for key in rows[0]}


def one_plus_one_es(recon, items, eta: float, iters: int, seed: int = 0) -> torch.Tensor:
    """Black-box (1+1)-ES in the per-coil ball at ``eta`` (fraction): lowest region SSIM found
    per slice ``(slices,)``. Step relative to the budget, 1/5th success rule, projection."""
    g = torch.Generator().manual_seed(seed)
    return torch.tensor([_es(recon, item, eta, iters, g) for item in items], dtype=torch.float64)


def _es(recon, item, eta: float, iters: int, g: torch.Generator) -> float:
    """:func:`one_plus_one_es` on one slice (its first item)."""
    k, mask, nlf, boxes, padding, size = item
    k = k[:1]
    left, right = (0, k.shape[-1]) if padding is None else tuple(padding)
    support = torch.zeros_like(k.real[:, :1, :1])
    support[..., left:right] = 1.0
    budget = eta * coil_norm(k)
    target = _target(k, size)
    regions, dr = make_regions(boxes[:1], size), data_range(target, "maxmin")
    z, best, step = None, math.inf, 0.5
    for t in range(iters + 1):
        u = torch.randn(k.shape, generator=g, dtype=k.dtype) * support
        u = scale_per_coil(u, 1.0 / coil_norm(u).clamp_min(1e-300))
        # t = 0: a random point on the coils' spheres; then a projected Gaussian step
        cand = (
            scale_per_coil(u, budget)
            if t == 0
            else project_per_coil(z + scale_per_coil(u, step * budget), budget)
        )
        with torch.no_grad():
            img = recon((k + cand) * mask, mask, nlf)
        val = float(region_metrics(img, target, regions, dr)["ssim"][0])
        if val < best:
            z, best, step = cand, val, step * 1.5
        else:
            step *= 1.5 ** (-0.25)
    return best


def _target(k, size):
    from advrecon.mri import kspace_to_target

    return kspace_to_target(k, size)


def time_training(root: Path, steps: int) -> dict[str, float]:
    """Seconds per optimizer step of each remedy (demo U-Net 4x, init = the shipped weights):
    the epoch loop's time (``train_seconds`` of the log) of ``steps + 2`` steps minus that of 2
    steps (start-up and the first, slower step cancel), over ``steps``."""
    from advrecon.models.checkpoints import shipped_weights
    from advrecon.training import TrainConfig, train
    from advrecon.training.recipe import RobustRecipe

    def run(n: int, recipe) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            config = TrainConfig(
                arch="unet", train_dir=root, out_dir=Path(tmp), epochs=1, batch_size=1,
                max_steps_per_epoch=n, device="cpu", progress=False,
                init=shipped_weights("unet", 4),
                robust=None if recipe is None else RobustRecipe.make(**recipe),
            )  # fmt: skip
            train(config)
            log = (Path(tmp) / "train_log.jsonl").read_text().splitlines()
            return float(json.loads(log[-1])["train_seconds"])

    return {name: (run(steps + 2, r) - run(2, r)) / steps for name, r in REMEDIES.items()}


def plot(table: dict, etas, path: Path) -> None:
    """Clean vs worst-case region SSIM at eta = 1 %, and region SSIM vs eta."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    j = etas.index(1.0)
    std = table["standard"]
    # the target: clean within 0.03 of the standard model, worst case at least 0.15 higher
    a.axvspan(std["adv"][j] + 0.15, std["adv"][j] + 0.3, ymin=0, ymax=1, color="0.9", zorder=0)
    a.axhline(std["clean"] - 0.03, color="0.6", lw=0.8, ls=":")
    a.text(std["adv"][j] + 0.155, std["clean"] - 0.028, "target", fontsize=8, color="0.4")
    for i, (name, t) in enumerate(table.items()):
        color = f"C{i}"
        a.scatter(t["adv"][j], t["clean"], color=color, s=60, label=name)
        b.plot([0, *etas], [t["clean"], *t["adv"]], "o-", color=color, label=f"{name}: attack")
        b.plot([0, *etas], [t["clean"], *t["rand"]], "s--", color=color, alpha=0.6,
               label=f"{name}: random noise")  # fmt: skip
    a.set_xlim(std["adv"][j] - 0.05, std["adv"][j] + 0.3)
    a.set_ylim(std["clean"] - 0.06, std["clean"] + 0.03)
    a.set_xlabel("worst-case region SSIM, eta = 1 % (APGD)")
    a.set_ylabel("clean region SSIM")
    a.set_title("U-Net 4x: clean vs worst case")
    a.grid(alpha=0.3)
    a.legend(fontsize=7, loc="lower left")
    b.set_xlabel("eta (% of each coil's k-space norm)")
    b.set_ylabel("region SSIM")
    b.set_title("region SSIM under k-space noise")
    b.grid(alpha=0.3)
    b.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slices", type=int, default=6)
    p.add_argument("--steps", type=int, default=100, help="APGD passes of the strong attack")
    p.add_argument("--restarts", type=int, default=1, help="runs of the strong attack")
    p.add_argument("--n-random", type=int, default=10, help="random draws per budget")
    p.add_argument("--es-iters", type=int, default=300, help="(1+1)-ES forward passes")
    p.add_argument("--time-steps", type=int, default=12, help="timed training steps (0: none)")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "robust_tradeoff.png")
    p.add_argument("--variants", default="adversarial,jitter", help="hardened variants")
    p.add_argument(
        "--checkpoint", action="append", default=[], metavar="NAME=PATH",
        help="also measure this U-Net 4x checkpoint (repeatable)",
    )  # fmt: skip
    p.add_argument("--quick", action="store_true", help="2 slices, 20 passes: a smoke run")
    p.add_argument("--replot", type=Path, metavar="JSON", help="only plot a saved table")
    args = p.parse_args()
    if args.replot is not None:
        plot(json.loads(args.replot.read_text()), list(ETAS), args.out)
        return
    if args.quick:
        args.slices, args.steps, args.n_random, args.es_iters, args.time_steps = 2, 20, 2, 20, 2
    torch.set_num_threads(1)
    from advrecon.models.checkpoints import load_reconstructor, shipped_weights

    config, source, refs = load_slices(args.slices)
    items = cases(config, source, refs, ETAS)
    table, checks = {}, {}
    models = [("standard", shipped_weights("unet", 4))]
    models += [(v, shipped_weights("unet", 4, variant=v)) for v in args.variants.split(",") if v]
    models += [tuple(c.split("=", 1)) for c in args.checkpoint]
    for name, path in models:
        recon = load_reconstructor(path, items[0][5], arch="unet", preset="demo").freeze()
        t0 = time.perf_counter()
        strong = attack_all(recon, items, ETAS, steps=args.steps, restarts=args.restarts,
                            n_random=args.n_random)  # fmt: skip
        proto = attack_all(recon, items, ETAS, steps=10)
        es = one_plus_one_es(recon, items, 1.0 * ETA_SCALE, args.es_iters)
        mean = lambda v: [float(x) for x in v.mean(0)]  # noqa: E731
        table[name] = {
            "clean": float(strong["clean_ssim"].mean()), "adv": mean(strong["adv_ssim"]),
            "rand": mean(strong["rand_mean_ssim"]), "rand_worst": mean(strong["rand_worst_ssim"]),
            "proto": mean(proto["adv_ssim"]),
        }  # fmt: skip
        j = ETAS.index(1.0)
        checks[name] = {
            "random_beats_attack": int((strong["rand_worst_ssim"] < strong["adv_ssim"]).sum()),
            "gap_10_vs_100": float((proto["adv_ssim"] - strong["adv_ssim"]).max()),
            "gap_mean": float((proto["adv_ssim"] - strong["adv_ssim"]).mean()),
            "es_minus_attack": float((es - strong["adv_ssim"][:, j]).min()),
            "es_mean": float(es.mean()),
        }
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    _print(table, checks, args)
    saved = args.out.with_suffix(".json")
    saved.write_text(json.dumps(table, indent=1))
    print(f"wrote {saved}")
    plot(table, list(ETAS), args.out)
    if args.time_steps < 1:
        return
    costs = time_training(Path(config.data.root), args.time_steps)
    base = costs["standard"]
    print("\ntraining cost (demo U-Net 4x, batch 1, 1 thread; epoch = 96 training slices):")
    for name, c in costs.items():
        print(f"  {name:<12} {c:6.3f} s/step  {96 * c:6.1f} s/epoch  x{c / base:4.1f}")


def _print(table: dict, checks: dict, args) -> None:
    n = len(table)
    print(f"\nregion SSIM, {args.slices} slices, APGD (SSIM objective) x{args.steps} passes, "
          f"{args.restarts} run(s); random: mean of {args.n_random} draws")  # fmt: skip
    head = "".join(f"  adv {e:g}%  rand {e:g}%" for e in ETAS)
    print(f"{'model':<12} clean{head}")
    for name, t in table.items():
        cols = "".join(f"  {a:8.3f}  {r:8.3f}" for a, r in zip(t["adv"], t["rand"], strict=True))
        print(f"{name:<12} {t['clean']:.3f}{cols}")
    std = table["standard"]
    j = ETAS.index(1.0)
    print("\nagainst the standard model (eta = 1 %):")
    for name, t in list(table.items())[1:n]:
        print(f"  {name:<12} clean {t['clean'] - std['clean']:+.3f}, "
              f"worst case {t['adv'][j] - std['adv'][j]:+.3f}")  # fmt: skip
    print("\ngradient-masking checks (region SSIM; all budgets unless said):")
    for name, c in checks.items():
        print(f"  {name:<12} (a) worst random draw below the attack: {c['random_beats_attack']} "
              f"items; (b) APGD@10 - APGD@{args.steps}: mean {c['gap_mean']:+.3f}, "
              f"max {c['gap_10_vs_100']:+.3f}; "
              f"(c) eta 1 %: (1+1)-ES x{args.es_iters} mean {c['es_mean']:.3f}, "
              f"min(ES - attack) = {c['es_minus_attack']:+.3f}")  # fmt: skip
    if not math.isfinite(std["clean"]):
        print("warning: non-finite clean SSIM")


if __name__ == "__main__":
    main()
