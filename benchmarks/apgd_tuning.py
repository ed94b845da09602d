"""Tune APGD for the 10-pass regime on *training* slices (never the reported ones).

The demo models were trained on ``advrecon data synth --seed 0`` (``file9000000...``,
``scripts/train_demo_weights.sh``); the reported demo slices are seed 2022 (``file9100000...``).
This benchmark attacks training slices with ``l2`` PGD and APGD variants at the same cost
(``--steps`` forward+backward passes, MSE objective, box target, eta in {0.5, 1, 2.5} %) and
prints, per variant, the mean region SSIM, the fraction of items where it is below ``l2``
PGD's, and the fraction where its objective (region MSE) is above PGD's. Figures, never
asserted. The variant it selected is what :class:`advrecon.attacks.search.APGD` defaults to
(``APGD_STEP``); docs/benchmarks.md quotes these runs (the demo config picks 6 annotated slices):

    advrecon data synth /tmp/tune --volumes 8 --slices 12 --seed 0      # the training set
    V="--variant a_s2:step_size=2.0"
    PYTHONPATH=src python benchmarks/apgd_tuning.py --data /tmp/tune --slices 8 $V \
        --variant a_s05:step_size=0.5 --variant a_s1_nomom:alpha=1.0     # 72 items, ~25 min
    PYTHONPATH=src python benchmarks/apgd_tuning.py --data /tmp/tune --slices 8 $V \
        --models unet@4 unet@8 --objective ssim                        # metric = objective
    PYTHONPATH=src python benchmarks/apgd_tuning.py --data /tmp/tune --slices 8 $V \
        --models unet@4 unet@8 --steps 100                             # the tightness check's
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strength  # noqa: E402

from advrecon.attacks.noise import options as noise_options  # noqa: E402
from advrecon.attacks.search import APGD, ProjectedGradient  # noqa: E402

#: name -> the search at ``steps`` passes (``None``: l2 PGD with this step size).
VARIANTS = {
    "pgd": lambda s, o: ProjectedGradient(s, 0.5, "l2", o),
    "apgd": lambda s, o: APGD(s, o),
}


def add_variant(spec: str) -> None:
    """``name:key=value,...`` for APGD fields (``step_size``, ``alpha``, ``rho``, ``schedule``)."""
    name, _, rest = spec.partition(":")
    kw: dict = {}
    for part in filter(None, rest.split(",")):
        k, v = part.split("=")
        kw[k] = v if k == "schedule" else float(v)
    if name.startswith("pgd"):
        VARIANTS[name] = lambda s, o, kw=kw: ProjectedGradient(s, kw.get("step_size", 0.5), "l2", o)
    else:
        VARIANTS[name] = lambda s, o, kw=kw: APGD(s, o, **kw)


def run(case, args, name: str):
    """Region SSIM and returned objective ``(E,)`` of variant ``name`` on the case."""
    search = VARIANTS[name](args.steps, args.objective)
    original = noise_options.make_search
    noise_options.make_search = lambda *a, **k: search
    try:
        res = strength.attack(case, args, steps=args.steps, search="pgd")
    finally:
        noise_options.make_search = original
    obj = res.trace.gather(1, res.best_step[:, None])[:, 0]
    return res.metrics["adv_ssim"].double().cpu(), obj.double().cpu()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="training-set folder (seed 0)")
    p.add_argument("--slices", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--objective", default="mse", choices=("mse", "ssim", "mse_ssim"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", default=None, metavar="ARCH@ACC")
    p.add_argument("--etas", type=float, nargs="+", default=strength.ETAS)
    p.add_argument("--variant", action="append", default=[], help="name:key=value,...")
    p.add_argument("--only", nargs="+", default=None, help="run only these variants")
    p.add_argument("--out", default="apgd_tuning.csv")
    args = p.parse_args()
    for spec in args.variant:
        add_variant(spec)
    names = args.only or list(VARIANTS)
    torch.set_num_threads(args.threads)
    chosen = {(a, int(c)) for a, c in (m.split("@") for m in args.models)} if args.models else None
    args.models = chosen or set(strength.MODELS)
    args.etas = tuple(args.etas)
    rows = []
    for case in strength.load_cases(args, torch.device("cpu")):
        t = time.perf_counter()
        for name in names:
            ssim, obj = run(case, args, name)
            for e, s, o in zip(args.etas, ssim.tolist(), obj.tolist(), strict=True):
                rows.append(dict(model=case.name, file=case.file, eta=e, variant=name,
                                 region_ssim=s, objective=o))  # fmt: skip
        print(f"{case.name} {case.file}: {time.perf_counter() - t:.1f} s", flush=True)
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    summarize(rows, names)


def summarize(rows: list[dict], names: list[str]) -> None:
    import pandas as pd

    df = pd.DataFrame(rows)
    df["item"] = df["model"] + "/" + df["file"] + "/" + df["eta"].astype(str)
    ssim = df.pivot_table(index="item", columns="variant", values="region_ssim")
    obj = df.pivot_table(index="item", columns="variant", values="objective")
    base = "pgd"
    print(f"{len(ssim)} items; vs {base}: SSIM lower / objective higher (fraction of items)")
    for n in names:
        lower = (ssim[n] < ssim[base]).mean()
        higher = (obj[n] > obj[base]).mean()
        by_model = df[df.variant == n].groupby("model")["region_ssim"].mean().round(4).to_dict()
        print(f"  {n:>14}: mean SSIM {ssim[n].mean():.4f}  lower {lower:4.0%}  "
              f"obj higher {higher:4.0%}  {by_model}")  # fmt: skip


if __name__ == "__main__":
    main()
