"""Speed and peak memory of the model presets (printed, never asserted).

For every configuration a fresh Python process builds the model (random weights, frozen, eval
mode) and times

* ``fwd``: one forward pass without autograd (inference),
* ``fwd+bwd``: one attack step: forward, then backward to the input k-space only,

and reports its peak resident memory (``ru_maxrss``) after each, plus the RSS right after
building the model, so the difference is what the pass itself costs.

    python benchmarks/models.py --quick          # demo presets on 8 x 256 x 128 only (~1 min)
    python benchmarks/models.py                  # + paper / fastmri on 15 x 640 x 368 (slow)
    python benchmarks/models.py --demo-candidates  # compare candidate demo VarNet sizes

The demo-size rows include the classical reconstructions (``sense``, ``cs_tv``, ``cs_wavelet``
at their default iterations, no weights) and, after the table, each model's times as ratios
to the demo U-Net's (less sensitive to a loaded machine than the seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

DEMO_SHAPE = (8, 256, 128)
CLASSICAL = ("sense", "cs_tv", "cs_wavelet")
FULL_SHAPE = (15, 640, 368)

CANDIDATES = {
    "c4-ch8-p3-s4/3": dict(num_cascades=4, chans=8, pools=3, sens_chans=4, sens_pools=3),
    "c5-ch8-p3-s4/3": dict(num_cascades=5, chans=8, pools=3, sens_chans=4, sens_pools=3),
    "c6-ch8-p3-s4/3": dict(num_cascades=6, chans=8, pools=3, sens_chans=4, sens_pools=3),
    "c8-ch8-p3-s4/3": dict(num_cascades=8, chans=8, pools=3, sens_chans=4, sens_pools=3),
    "c6-ch10-p3-s4/3": dict(num_cascades=6, chans=10, pools=3, sens_chans=4, sens_pools=3),
    "c3-ch6-p3-s4/3": dict(num_cascades=3, chans=6, pools=3, sens_chans=4, sens_pools=3),
}


def _child(spec: dict) -> None:
    """Run one configuration and print a JSON line (executed in a subprocess)."""
    import resource
    import statistics

    import torch

    from advrecon.models.checkpoints import build_model, wrap_model

    def peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    torch.manual_seed(0)
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    coils, height, width = spec["shape"]
    size = (min(320, height), min(320, width))
    if spec["arch"] in CLASSICAL:
        from advrecon.models.classical import build_classical

        recon = build_classical(spec["arch"], recon_size=size).freeze()
    else:
        model = build_model(spec["arch"], spec["preset"], **spec.get("overrides", {}))
        if spec["checkpoint"]:
            if spec["arch"] == "varnet":
                model.set_checkpointing(True, sens_chunk_size=spec.get("sens_chunk"))
            else:
                model.set_checkpointing(True)
        recon = wrap_model(model, size).freeze()
    mask = torch.zeros(1, 1, 1, width)
    mask[..., ::4] = 1
    center = max(2, round(0.08 * width))
    mask[..., (width - center + 1) // 2 : (width - center + 1) // 2 + center] = 1
    kspace = torch.randn(1, coils, height, width, dtype=torch.complex64) * mask
    after_build = peak_mb()

    def fwd() -> None:
        with torch.no_grad():
            recon(kspace, mask)

    def fwd_bwd() -> None:
        x = kspace.clone().requires_grad_(True)
        recon(x, mask).square().sum().backward()

    out = {"rss_model_mb": after_build}
    for name, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
        if spec["repeats"] > 1:
            fn()  # warm-up: first calls pay for allocator growth and kernel selection
        times = []
        for _ in range(spec["repeats"]):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[f"{name}_s"] = statistics.median(times)
        out[f"{name}_min_s"] = min(times)
        out[f"{name}_peak_mb"] = peak_mb()
    print(json.dumps(out))


def run(spec: dict) -> dict:
    """Run ``spec`` in a fresh interpreter and return its measurements."""
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
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


def _report(label: str, shape, ckpt: bool, r: dict) -> None:
    if "error" in r:
        print(f"{label:<22}{str(shape):<16}{'on' if ckpt else 'off':<6} ERROR {r['error']}")
        return
    print(
        f"{label:<22}{str(shape):<16}{'on' if ckpt else 'off':<6}"
        f"{r['fwd_s']:>8.3f}{r['fwd_bwd_s']:>10.3f}{r['fwd_bwd_min_s']:>9.3f}"
        f"{r['rss_model_mb']:>9.0f}{r['fwd_peak_mb']:>9.0f}{r['fwd_bwd_peak_mb']:>10.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="demo presets only")
    parser.add_argument("--demo-candidates", action="store_true", help="candidate demo sizes")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats (demo sizes)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return 0

    print(
        f"{'model':<22}{'shape':<16}{'ckpt':<6}{'fwd s':>8}{'fwd+bwd s':>10}{'min s':>9}"
        f"{'RSS0 MB':>9}{'fwd MB':>9}{'f+b MB':>10}"
    )
    jobs = []
    if args.demo_candidates:
        for name, kw in CANDIDATES.items():
            jobs.append((f"varnet {name}", "varnet", "demo", kw, DEMO_SHAPE, False, args.repeats))
    else:
        for arch in ("varnet", "unet"):
            jobs.append((f"{arch} demo", arch, "demo", {}, DEMO_SHAPE, False, args.repeats))
        for arch in CLASSICAL:
            jobs.append((arch, arch, "-", {}, DEMO_SHAPE, False, args.repeats))
        if not args.quick:
            for arch in ("varnet", "unet"):
                for preset in ("paper", "fastmri"):
                    for ckpt in (False, True):
                        jobs.append((f"{arch} {preset}", arch, preset, {}, FULL_SHAPE, ckpt, 1))
    demo_rows = {}
    for label, arch, preset, kw, shape, ckpt, repeats in jobs:
        spec = dict(
            arch=arch, preset=preset, overrides=kw, shape=shape, checkpoint=ckpt, repeats=repeats
        )
        spec["threads"] = args.threads
        if ckpt and arch == "varnet":
            spec["sens_chunk"] = 1  # sensitivity U-Net one coil at a time (smallest footprint)
        result = run(spec)
        _report(label, shape, ckpt, result)
        if shape == DEMO_SHAPE and "error" not in result:
            demo_rows[label] = result
        sys.stdout.flush()
    base = demo_rows.get("unet demo")
    if base is not None and len(demo_rows) > 1:
        print("\ndemo size, time / demo U-Net's:  fwd   fwd+bwd")
        for label, r in demo_rows.items():
            print(
                f"  {label:<28}{r['fwd_s'] / base['fwd_s']:>6.1f}"
                f"{r['fwd_bwd_s'] / base['fwd_bwd_s']:>9.1f}"
            )
    print("fwd: inference (no autograd); fwd+bwd: one attack step, gradient w.r.t. k-space only;")
    print("MB: peak RSS of the process (RSS0 after building the model).")
    print("ckpt on: activation checkpointing (VarNet: per cascade + sensitivity net per coil).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
