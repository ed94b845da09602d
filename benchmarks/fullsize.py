"""Time-to-result at the real fastMRI knee geometry (printed, never asserted).

For each model (U-Net and E2E-VarNet, ``paper`` and ``fastmri`` presets, RANDOM weights: the
cost does not depend on the weights) a fresh process builds the model, simulates one
15 x 640 x 368 slice (``--geometry fastmri-knee``, one box) and measures

* ``pgd1``: one noise PGD unit with ``steps=1`` (clean pass, one step, final evaluation),
* ``step``: one more attack step (forward + backward to the k-space),
* ``rot``: one rotation sweep over ``--angles`` angles (``theta_max = (angles - 1) / 2 * 0.1``,
  ``step = 0.1``: the paper's grid, shortened),
* peak RSS (``ru_maxrss``) of the process after everything, and the FLOPs
  (``torch.utils.flop_counter``) of one attack step,

Times are process CPU seconds by default (``--clock cpu``; all threads summed): with one
thread that is the time on a dedicated core, and it stays meaningful on a machine shared with
other jobs, where the wall-clock time of a 1-thread process can be many times longer
(``--clock wall`` prints that instead). Then it extrapolates (linear models, stated in the
output):

* a 10-step PGD unit = ``pgd1 + 9 * step``;
* the paper's sweep (theta_max 5, step 0.1: 101 angles) = ``rot / angles * 101``;
* the paper's study per annotated slice and model: ``14 * (boxes + 1)`` PGD units (7 eta x 2
  rules, region target per box + the image target) + one 101-angle sweep, for 4 models
  (U-Net and VarNet at 4x and 8x), over the annotated validation slices of fastMRI+ (counted
  from ``knee.csv`` when present, see :func:`_study_size`).

The GPU figure is an ESTIMATE, not a measurement: the counted FLOPs of one attack step per
step and a third of them per rotation angle (a forward pass) at :data:`GPU_TFLOPS` sustained
TFLOP/s (H100, FP32 non-tensor peak 67 TFLOP/s, taken at 30 %); FFTs and memory traffic are
not counted, so treat it as an order of magnitude. VarNets run with activation
checkpointing (as ``chunk_size: auto`` turns on when memory is short), which adds about one
forward pass per step.

    python benchmarks/fullsize.py            # paper + fastmri presets, 1 CPU thread
    python benchmarks/fullsize.py --presets paper   # the paper's models only
    python benchmarks/fullsize.py --quick    # smoke run: the paper U-Net only, 1 angle
    python benchmarks/fullsize.py --threads 2 --angles 5 --knee-csv PATH/knee.csv
    python benchmarks/fullsize.py --device cuda --clock wall --angles 21   # on a GPU
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KNEE_CSV = ROOT.parent / "shared" / "data" / "fastmri_plus" / "knee.csv"  # ../shared
#: fastMRI knee multicoil volumes: 973 train + 199 validation (fastMRI paper, Table 1).
VAL_SHARE = 199 / (973 + 199)
#: Sustained TFLOP/s assumed for one GPU (30 % of an H100's 67 TFLOP/s FP32 peak).
GPU_TFLOPS = 0.3 * 67.0
PAPER_ANGLES = 101
PGD_STEPS = 10
MODELS_IN_STUDY = 2  # accelerations per architecture (4x, 8x)


class _Clock:
    """``with clock(name):`` stores wall seconds as ``name_wall`` and process CPU seconds
    (all threads) as ``name_cpu`` in ``out``."""

    def __init__(self, out: dict, sync=lambda: None) -> None:
        self.out, self.sync = out, sync

    @contextlib.contextmanager
    def __call__(self, name: str):
        self.sync()
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.sync()  # GPU work is asynchronous
        self.out[f"{name}_wall"] = time.perf_counter() - wall
        self.out[f"{name}_cpu"] = time.process_time() - cpu


def _child(spec: dict) -> None:
    """Measure one model (run in a subprocess; prints one JSON line)."""
    import resource

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from advrecon.attacks import noise_attack, rotation_attack
    from advrecon.boxes import Box
    from advrecon.data.synthetic import GEOMETRIES, SynthConfig, simulate_volume
    from advrecon.masks import EquispacedFractionMask
    from advrecon.models.checkpoints import build_model, wrap_model

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    cfg = SynthConfig(**GEOMETRIES["fastmri-knee"], num_volumes=1, num_slices=1, seed=1)
    vol = simulate_volume(cfg, 0)
    device = torch.device(spec["device"])
    kspace = torch.from_numpy(vol.kspace)  # (1, 15, 640, 368)
    mask, nlf = EquispacedFractionMask([0.08], [4])(kspace.shape, seed=0, padding=(19, 353))
    kspace, mask = kspace.to(device), mask.to(device)
    box = Box(140, 150, 40, 24, "benchmark")
    model = build_model(spec["arch"], spec["preset"])
    if spec["arch"] == "varnet":
        model.set_checkpointing(True)
    recon = wrap_model(model, (320, 320)).to(device).freeze()
    cuda = device.type == "cuda"
    out: dict = {"rss_model_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    rot = dict(recon_size=(320, 320), generator=0, chunk_size=1)
    common = dict(padding=(19, 353), **rot)

    clock = _Clock(out, (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None))
    with clock("pgd1"):
        noise_attack(recon, kspace, mask, nlf, [box], [1.0], steps=1, n_random=0, **common)

    x = (kspace * mask).clone().requires_grad_(True)
    with FlopCounterMode(display=False) as counter, clock("step"):  # small overhead
        recon(x, mask, nlf).square().sum().backward()
    out["step_flops"] = counter.get_total_flops()

    theta = round((spec["angles"] - 1) / 2 * 0.1, 3)
    with clock("rot"):
        rotation_attack(recon, kspace, mask, nlf, [box], [theta], step=0.1, n_random=0, **rot)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if cuda:  # the GPU's peak, not the process's
        out["peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    print(json.dumps(out))


def run(spec: dict) -> dict:
    """Run ``spec`` in a fresh interpreter (its own peak RSS) and return its measurements."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _study_size(override: int | None, csv: Path) -> tuple[float, float, str]:
    """(annotated validation slices, boxes per slice, where the numbers come from)."""
    if override is not None:
        return float(override), 1.7, f"--slices {override}, 1.7 boxes per slice assumed"
    if not csv.is_file():
        return 1630.0, 1.7, f"{csv} not found: 1630 slices, 1.7 boxes per slice assumed"
    import pandas as pd

    table = pd.read_csv(csv)
    boxes = table[table.study_level == "No"]
    slices = len(boxes[["file", "slice"]].drop_duplicates())
    per_slice = len(boxes) / slices
    return (
        slices * VAL_SHARE,
        per_slice,
        f"knee.csv: {slices} annotated slices (train + val, {len(boxes)} boxes) x 199/1172 "
        "validation volumes; the CSV does not say which files are validation",
    )


def _fmt_h(seconds: float) -> str:
    return f"{seconds / 3600:,.0f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: paper U-Net, 1 angle")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument(
        "--device", default="cpu", help="cpu or cuda[:N] (GPU: use --clock wall; peak = GPU)"
    )
    parser.add_argument("--angles", type=int, default=3, help="angles of the measured sweep")
    parser.add_argument("--slices", type=int, default=None, help="annotated slices of the study")
    parser.add_argument(
        "--presets", default="paper,fastmri", help="comma-separated presets (paper,fastmri)"
    )
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: process CPU seconds (= time on dedicated cores; robust to a loaded machine)",
    )
    parser.add_argument("--knee-csv", type=Path, default=KNEE_CSV, help="fastMRI+ knee.csv")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return 0
    if args.quick:
        args.angles = 1
    if args.angles < 1 or args.angles % 2 == 0:
        parser.error("--angles must be odd and >= 1 (a symmetric grid around 0)")
    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    jobs = (
        [("unet", "paper")]
        if args.quick
        else [(arch, preset) for preset in presets for arch in ("unet", "varnet")]
    )
    slices, boxes, basis = _study_size(args.slices, args.knee_csv)
    units = 14 * (boxes + 1)
    print(
        f"15 x 640 x 368 k-space, 320 x 320 recon, {args.threads} CPU thread(s), random weights; "
        f"times in {'process CPU' if args.clock == 'cpu' else 'wall-clock'} seconds"
    )
    print(
        f"{'model':<16}{'pgd1 s':>8}{'step s':>8}{'rot s':>8}{'RSS0 MB':>9}{'peak MB':>9}"
        f"{'PGD10 s':>9}{'sweep s':>9}{'slice s':>9}{'GFLOP':>8}"
    )
    totals: dict[str, list[float]] = {}
    for arch, preset in jobs:
        spec = dict(arch=arch, preset=preset, threads=args.threads, angles=args.angles)
        r = run({**spec, "device": args.device})
        label = f"{arch} {preset}"
        if "error" in r:
            print(f"{label:<16} ERROR {r['error']}")
            continue
        c = "cpu" if args.clock == "cpu" else "wall"
        pgd1, step, rot = r[f"pgd1_{c}"], r[f"step_{c}"], r[f"rot_{c}"]
        pgd10 = pgd1 + (PGD_STEPS - 1) * step
        sweep = rot / args.angles * PAPER_ANGLES
        per_slice = units * pgd10 + sweep
        gflop = r["step_flops"] / 1e9
        gpu_slice = (units * PGD_STEPS + PAPER_ANGLES / 3) * gflop / (GPU_TFLOPS * 1e3)
        print(
            f"{label:<16}{pgd1:>8.1f}{step:>8.1f}{rot:>8.1f}"
            f"{r['rss_model_mb']:>9.0f}{r['peak_mb']:>9.0f}{pgd10:>9.1f}{sweep:>9.1f}"
            f"{per_slice:>9.0f}{gflop:>8.0f}"
        )
        sys.stdout.flush()
        cpu_gpu = totals.setdefault(preset, [0.0, 0.0])
        cpu_gpu[0] += MODELS_IN_STUDY * slices * per_slice
        cpu_gpu[1] += MODELS_IN_STUDY * slices * gpu_slice
    print(
        f"PGD10 = pgd1 + {PGD_STEPS - 1} x step; sweep = rot / {args.angles} x {PAPER_ANGLES} "
        f"angles; slice = {units:.1f} PGD units (14 x (boxes + 1)) + one sweep."
    )
    print(f"study size: {slices:.0f} annotated validation slices, {boxes:.2f} boxes per slice")
    print(f"  ({basis})")
    which = "U-Net only (--quick)" if args.quick else "U-Net + VarNet"
    for preset, (cpu, gpu) in totals.items():
        print(
            f"paper's study, {preset} presets ({which}, 4x and 8x): {_fmt_h(cpu)} on "
            f"{args.threads} dedicated CPU core(s) of this machine (measured, extrapolated); about "
            f"{_fmt_h(gpu)} on one GPU (ESTIMATE)."
        )
    print(
        f"GPU ESTIMATE: step FLOPs (GFLOP column) per attack step, 1/3 of them per angle, at "
        f"{GPU_TFLOPS:.0f} "
        "TFLOP/s sustained (30 % of an H100's FP32 peak); FFTs, memory traffic and VarNet "
        "checkpointing are not counted."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
