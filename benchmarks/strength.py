"""Attack strength at equal cost: region SSIM reached versus forward+backward passes.

On the shipped demo models (U-Net and E2E-VarNet at 4x and 8x) and the synthetic demo data
(``configs/demo.yaml``'s data, generated as ``advrecon demo`` does when absent), box target,
eta in {0.5, 1, 2.5} %, MSE objective (the demo's), one item per (model, slice, eta):

* ``reference`` PGD and ``l2`` PGD at 10, 20, 50, 100 passes: both have a fixed step, so a
  100-step run's iterates up to step ``s`` are exactly an ``s``-step run's (same seed): the
  region SSIM at ``s`` is read from the one long run (``reference``: iterate ``s``; ``l2``: the
  best-objective iterate among the first ``s + 1``);
* APGD at 10, 20, 50, 100 passes: one run per budget (its checkpoints depend on the total),
  initial step 1.0 (the config's default, tuned on training slices: ``apgd_tuning.py``), and
  ``apgd2``: Croce & Hein's initial step 2.0 at 10 and 100 passes (the tightness check's);
* restarts at 100 passes: APGD and ``l2`` PGD, 10 steps x 10 restarts;
* the *tightness* of the default attack (``--default``: APGD, 10 passes) and of ``l2`` PGD@10:
  region SSIM minus the lowest region SSIM any search found with at most 10x the cost (>= 0).

Printed targets: fraction of items where APGD@10 < ``l2`` PGD@10 in region SSIM (>= 80 %),
and where its objective is higher (what the searches maximise: region MSE unless
``--objective ssim``, with which the two coincide), mean tightness
(<= 0.02 SSIM), and the loop cost of APGD and PGD: time of a 10-step search / 10 x (forward +
backward) on the demo VarNet, 1 thread (<= 1.05). Figures, never asserted.

    PYTHONPATH=src python benchmarks/strength.py                # ~15 min on 2 CPU cores
    PYTHONPATH=src python benchmarks/strength.py --quick        # smoke run, < 1 min
    PYTHONPATH=src python benchmarks/strength.py --gpu --slices 6
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from advrecon.attacks import noise_attack
from advrecon.attacks.noise import ETA_SCALE
from advrecon.attacks.objectives import region_metrics
from advrecon.attacks.search import returned_value

BUDGETS = (10, 20, 50, 100)
ETAS = (0.5, 1.0, 2.5)
MODELS = (("unet", 4), ("unet", 8), ("varnet", 4), ("varnet", 8))


class Recording:
    """A reconstructor that keeps every output (detached): the iterates of one PGD run."""

    def __init__(self, recon):
        self.recon, self.images = recon, []
        self.recon_size = recon.recon_size

    def __call__(self, masked_kspace, mask, nlf):
        out = self.recon(masked_kspace, mask, nlf)
        self.images.append(out.detach())
        return out


@dataclass
class Case:
    """One (model, slice) with its items (one per eta)."""

    name: str
    recon: object
    kspace: torch.Tensor  # (E, C, H, W)
    mask: torch.Tensor
    nlf: object
    boxes: list
    padding: object
    file: str


def load_cases(args, device) -> list[Case]:
    """The demo config's slices (first ``--slices``) under every shipped demo model."""
    from advrecon.demo import default_config_path
    from advrecon.experiments.config import load_config
    from advrecon.experiments.loading import make_mask
    from advrecon.experiments.source import DatasetSource, ensure_synthetic
    from advrecon.models.checkpoints import load_reconstructor, shipped_weights

    config = load_config(default_config_path(), check_paths=False)
    if args.data:
        d = config.to_dict()
        d["data"]["root"] = args.data
        from advrecon.experiments.config import parse_config

        config = parse_config(d)
    ensure_synthetic(config)
    source = DatasetSource(config)
    refs = source.refs()[: args.slices]
    cases = []
    for m in config.models:
        if (m.arch, m.acceleration) not in args.models:
            continue
        for ref in refs:
            s = source.load(ref)
            size = tuple(s.recon_size)
            recon = load_reconstructor(
                shipped_weights(m.arch, m.acceleration), size, device=device, arch=m.arch,
                preset="demo",
            ).freeze()  # fmt: skip
            mask, nlf = make_mask(config, m, s)
            E = len(args.etas)
            k = s.kspace.to(device)[None].expand(E, *s.kspace.shape)
            cases.append(
                Case(
                    f"{m.arch}@{m.acceleration}x",
                    recon,
                    k,
                    mask.to(device),
                    nlf,
                    [ref.boxes[0]] * E,
                    s.padding,
                    ref.file,
                )  # fmt: skip
            )
    return cases


def attack(case: Case, args, recon=None, **kw):
    """``noise_attack`` on the case's items (region target, seed 0, MSE objective)."""
    eta = torch.tensor([e * ETA_SCALE for e in args.etas], dtype=torch.float64)
    return noise_attack(
        recon or case.recon, case.kspace, case.mask, case.nlf, case.boxes, eta,
        objective=getattr(args, "objective", "mse"),
        padding=None if case.padding is None else tuple(case.padding), generator=0, **kw,
    )  # fmt: skip


def fixed_step_curve(case: Case, args, rule: str) -> dict[int, tuple]:
    """``(region SSIM (E,), objective (E,))`` at every budget from one long PGD run."""
    rec = Recording(case.recon)
    res = attack(case, args, recon=rec, steps=max(args.budgets), rule=rule)
    its = torch.stack(rec.images[1:])  # (steps + 1, E, h, w); images[0] is the clean forward
    out = {}
    for s in args.budgets:
        if rule == "l2":  # first maximum, as the search keeps it (strict improvement)
            pick = res.trace[:, : s + 1].argmax(dim=1)
        else:
            pick = torch.full((its.shape[1],), s, dtype=torch.long)
        img = its[pick.cpu(), torch.arange(its.shape[1])]
        obj = res.trace.gather(1, pick[:, None].to(res.trace.device))[:, 0]
        out[s] = ssim_of(case, res, img), obj.double().cpu()
    return out


def returned(res) -> tuple[torch.Tensor, torch.Tensor]:
    """``(region SSIM, objective)`` ``(E,)`` of a result's returned iterate."""
    return res.metrics["adv_ssim"].double().cpu(), returned_value(res.trace, res.best_step).cpu()


def ssim_of(case: Case, res, img: torch.Tensor) -> torch.Tensor:
    """Region SSIM of ``img`` (E, h, w) in the result's boxes (the attack's convention)."""
    from advrecon.attacks.objectives import data_range, make_regions

    regions = make_regions(res.boxes, tuple(img.shape[-2:]), device=img.device)
    dr = data_range(res.target, res.data_range_convention)
    return region_metrics(img, res.target, regions, dr)["ssim"].double().cpu()


def run_case(case: Case, args) -> dict[str, tuple]:
    """``(region SSIM, objective)`` per (search, passes) for the case's items."""
    got: dict[str, tuple] = {}
    for rule in () if args.apgd_only else ("reference", "l2"):
        for s, v in fixed_step_curve(case, args, rule).items():
            got[f"{rule}@{s}"] = v
    for s in args.budgets:
        got[f"apgd@{s}"] = returned(attack(case, args, steps=s, search="apgd"))
    for s in sorted({min(args.budgets), max(args.budgets)}):  # the paper's step (tightness check)
        got[f"apgd2@{s}"] = returned(attack(case, args, steps=s, search="apgd", apgd_step=2.0))
    r = max(args.budgets) // min(args.budgets)
    restarted = ("apgd",) if args.apgd_only else ("apgd", "pgd")
    for search in () if args.no_restarts or r < 2 else restarted:
        res = attack(case, args, steps=min(args.budgets), search=search, restarts=r)
        got[f"{'l2' if search == 'pgd' else search}x{r}@{min(args.budgets)}"] = returned(res)
    return got


def loop_cost(device, threads: int, arch: str) -> None:
    """APGD / PGD loop time over 10 x (forward + backward), demo ``arch`` 4x, 1 thread."""
    from advrecon.attacks.noise import KspaceNoise
    from advrecon.attacks.objectives import data_range, make_regions
    from advrecon.attacks.search import APGD, ProjectedGradient
    from advrecon.boxes import Box
    from advrecon.models.checkpoints import load_reconstructor, shipped_weights
    from advrecon.mri import fft2c, kspace_to_target

    torch.set_num_threads(threads)
    size = (128, 128)
    model = load_reconstructor(
        shipped_weights(arch, 4), size, device=device, arch=arch, preset="demo"
    ).freeze()
    g = torch.Generator().manual_seed(0)
    img = torch.randn((1, 8, 256, 128), generator=g, dtype=torch.complex64)
    k = fft2c(img).to(device)
    mask = torch.zeros(1, 1, 1, 128, device=device)
    mask[..., ::4] = 1
    mask[..., 59:69] = 1
    target = kspace_to_target(k, size)
    box = [Box(32, 32, 32, 32)]
    threat = KspaceNoise(
        model, k, mask, 10, torch.ones(1, 1, 1, 128, device=device),
        0.01 * torch.linalg.vector_norm(k, dim=(-2, -1), keepdim=True).double(), target,
        make_regions(box, size, device=device), make_regions([Box.full(size)], size, device=device),
        data_range(target),
    )  # fmt: skip

    def fwd_bwd():
        z = torch.zeros_like(k, requires_grad=True)
        model((k + z) * mask, mask, 10).sum().backward()

    def timed(fn, repeats=3):
        fn()
        best = float("inf")
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - t)
        return best

    t_step = timed(fwd_bwd)
    z0 = threat.draw([torch.Generator(device=device).manual_seed(1)])
    pgd = ProjectedGradient(10, 0.5, "l2", "mse")
    apgd = APGD(10, "mse")
    t_pgd = timed(lambda: pgd.run(threat, z0))
    t_apgd = timed(lambda: apgd.run(threat, z0))
    print(f"loop cost, demo {arch} 4x, one 8x256x128 slice, {threads} thread(s), {device}:")
    print(f"  fwd+bwd {t_step * 1e3:.1f} ms; PGD loop ratio {t_pgd / (10 * t_step):.3f}; "
          f"APGD loop ratio {t_apgd / (10 * t_step):.3f} (target <= 1.05)")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--slices", type=int, default=1, help="demo slices per model (default 1)")
    p.add_argument("--data", default=None, help="synthetic data folder (default: demo config's)")
    p.add_argument("--out", default="strength.csv", help="CSV of every (item, search, passes)")
    p.add_argument("--default", default="apgd@10", help="the default attack (tightness)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--models", nargs="+", default=None, metavar="ARCH@ACC",
                   help="subset of unet@4 unet@8 varnet@4 varnet@8 (default: all)")  # fmt: skip
    p.add_argument("--etas", type=float, nargs="+", default=ETAS, help="budgets in percent")
    p.add_argument("--budgets", type=int, nargs="+", default=BUDGETS, help="passes per run")
    p.add_argument("--no-restarts", action="store_true", help="skip the restart variants")
    p.add_argument("--no-loop-cost", action="store_true", help="skip the loop-cost timing")
    p.add_argument("--apgd-only", action="store_true", help="only the APGD runs (to merge)")
    p.add_argument("--from-csv", nargs="+", default=None, help="only summarise these CSVs")
    p.add_argument("--quick", action="store_true", help="smoke run: U-Net 4x, 1 eta, 2/4 passes")
    p.add_argument("--gpu", action="store_true", help="run on CUDA (same as --device cuda)")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--objective",
        default="mse",
        choices=("mse", "ssim", "mse_ssim"),
        help="attack objective (default mse, the demo's)",
    )
    args = p.parse_args()
    device = torch.device("cuda" if args.gpu else args.device)
    chosen = {(a, int(c)) for a, c in (m.split("@") for m in args.models)} if args.models else None
    args.models = {("unet", 4)} if args.quick else (chosen or set(MODELS))
    args.etas = (2.5,) if args.quick else tuple(args.etas)
    args.budgets = (2, 4) if args.quick else tuple(sorted(args.budgets))
    if args.quick:
        args.default = "apgd@2"
    if args.from_csv:
        rows = [r for f in args.from_csv for r in csv.DictReader(open(f))]  # noqa: SIM115
        for r in rows:
            r.update(eta=float(r["eta"]), passes=int(r["passes"]),
                     region_ssim=float(r["region_ssim"]),
                     objective=float(r.get("objective") or "nan"))  # fmt: skip
        args.budgets = tuple(sorted({r["passes"] for r in rows if "x" not in r["search"]}))
        summarize(rows, args)
        return
    torch.set_num_threads(args.threads)
    t0, rows, out = time.perf_counter(), [], Path(args.out)
    for case in load_cases(args, device):
        tc = time.perf_counter()
        got = run_case(case, args)
        for key, (ssim, obj) in got.items():
            search, passes = key.split("@")
            restarts = int(search.split("x")[1]) if "x" in search else 1
            for e, v, o in zip(args.etas, ssim.tolist(), obj.tolist(), strict=True):
                rows.append(dict(model=case.name, file=case.file, eta=e, search=search,
                                 passes=int(passes) * restarts, region_ssim=v,
                                 objective=o))  # fmt: skip
        with out.open("w", newline="") as f:  # after every case: a stopped run keeps its rows
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        print(f"{case.name} {case.file}: {time.perf_counter() - tc:.1f} s", flush=True)
    summarize(rows, args)
    print(f"wrote {out} ({len(rows)} rows) in {time.perf_counter() - t0:.0f} s")
    if not args.no_loop_cost:
        arch = "unet" if args.quick else "varnet"
        loop_cost(device, 1 if device.type == "cpu" else args.threads, arch)


def df_objective(args) -> str:
    """Name of the attack objective (region ``mse`` unless ``--objective`` says otherwise)."""
    return f"region {getattr(args, 'objective', 'mse')}"


def summarize(rows: list[dict], args) -> None:
    """Print the mean region SSIM table and the two targets."""
    import pandas as pd

    df = pd.DataFrame(rows)
    df["item"] = df["model"] + "/" + df["file"] + "/" + df["eta"].astype(str)
    restarts = df["search"].str.extract(r"x(\d+)$")[0].astype(float).fillna(1).astype(int)
    df["key"] = df["search"] + "@" + (df["passes"] // restarts).astype(str)
    table = df.pivot_table(index=["model", "eta"], columns=["search", "passes"],
                           values="region_ssim", aggfunc="mean")  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print("mean region SSIM (lower = stronger attack):")
        print(table.round(4).to_string())
    wide = df.pivot_table(index="item", columns="key", values="region_ssim")
    lo, hi = min(args.budgets), max(args.budgets)
    if not {f"apgd@{lo}", f"l2@{lo}"} <= set(wide.columns):
        return  # a partial grid (--apgd-only): merge with --from-csv for the targets
    a, b = wide[f"apgd@{lo}"], wide[f"l2@{lo}"]
    print(f"APGD@{lo} < l2 PGD@{lo} on {(a < b).mean() * 100:.0f} % of {len(wide)} items "
          f"(ties {(a == b).mean() * 100:.0f} %; target >= 80 %)")  # fmt: skip
    obj = df.pivot_table(index="item", columns="key", values="objective")
    has = {f"apgd@{lo}", f"l2@{lo}"} <= set(obj.columns)
    oa, ob = (obj[f"apgd@{lo}"], obj[f"l2@{lo}"]) if has else (a * float("nan"), b)
    known = oa.notna() & ob.notna()
    if known.any():
        print(f"on the objective the attacks maximise ({df_objective(args)}): APGD@{lo} above "
              f"l2 PGD@{lo} on {(oa[known] > ob[known]).mean() * 100:.0f} % of "
              f"{int(known.sum())} items (median ratio "
              f"{(oa[known] / ob[known]).median():.3f})")  # fmt: skip
    cost = df.groupby("key")["passes"].first()
    cheap = [k for k in wide.columns if cost[k] <= hi]
    full = wide[wide[[k for k in cheap if cost[k] == hi]].notna().any(axis=1)]  # has 10x runs
    best = full[cheap].min(axis=1)
    for name in sorted({args.default, f"l2@{lo}", f"apgd@{lo}"}):
        gap = full[name] - best
        goal = "; target <= 0.02" if name == args.default else ""
        print(f"tightness of {name}: mean {gap.mean():.4f}, max {gap.max():.4f} SSIM over "
              f"{len(full)} items (vs lowest at <= {hi} passes{goal})")  # fmt: skip


if __name__ == "__main__":
    main()
