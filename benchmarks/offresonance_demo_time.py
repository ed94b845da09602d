"""Seconds per demo slice of the ``offresonance`` section (the demo's budget check).

One demo-size slice (the synthetic demo set: 8 coils, 256x128 k-space, 128x128 recon; its first
annotated box), the shipped 4x demo U-Net, the 4x random mask, and the section given as YAML
(the proposed demo snippet by default), run through the plug-in's own ``run`` as the experiment
runner calls it: every budget of the region target in one call. Prints the wall time of each
of ``--repeats`` calls, its CPU time (``time.process_time``: less sensitive to a shared
machine than the wall time; with ``--threads 1`` the two agree on an idle core) and the region
SSIMs; nothing asserted. ``--attack motion --section "{...}"`` times another plug-in's section
the same way, for a comparison under the same load.

    advrecon data synth demo_out/synthetic --volumes 6 --slices 8 --coils 8 --seed 2022 \\
        --first-file-id 9100000      # the demo set (made by `advrecon run configs/demo.yaml`)
    PYTHONPATH=src python benchmarks/offresonance_demo_time.py --data demo_out/synthetic
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import h5py
import pandas as pd
import torch
import yaml

from advrecon.attacks.contract import SliceAttack
from advrecon.attacks.registry import get_threat_model
from advrecon.boxes import Box
from advrecon.masks import apply_mask, paper_mask
from advrecon.models.checkpoints import load_reconstructor, shipped_weights

SECTION = """
max_hz: [0, 100]              # Hz; 0.5 px at 200 Hz/px
bandwidth_hz_per_pixel: 200
segments: 7                   # accurate to 1e-3 up to 0.75 px
steps: 3
n_random: 1
models: [unet]
targets: [region]
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("demo_out/synthetic"))
    p.add_argument("--attack", default="offresonance")
    p.add_argument("--section", default=SECTION, help="the section as YAML")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ann = pd.read_csv(a.data / "annotations.csv").iloc[0]
    with h5py.File(a.data / f"{ann['file']}.h5", "r") as f:
        kspace = torch.from_numpy(f["kspace"][int(ann["slice"])]).to(torch.complex64)
    recon = load_reconstructor(shipped_weights("unet", 4), (128, 128), arch="unet", preset="demo")
    _, mask, nlf = apply_mask(kspace[None], paper_mask(4), seed=[tuple(map(ord, ann["file"]))])
    box = Box(int(ann["x"]), int(ann["y"]), int(ann["width"]), int(ann["height"]), ann["label"])
    tm = get_threat_model(a.attack)
    section = tm.section.model_validate(yaml.safe_load(a.section))
    (group,) = tm.batch_groups(section, "unet", ["region"], {"region": [(0, box)]})
    rule = group.units[0].rule
    print(f"{kspace.shape[0]} coils, k-space {tuple(kspace.shape[-2:])}, {len(group.units)} units")
    for _ in range(a.repeats):
        inp = SliceAttack(recon, kspace, mask, nlf, [box], None, (128, 128),
                          torch.Generator().manual_seed(0), 16)  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        scores = tm.run(inp, group.units, section, rule)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = [scores.row(u)[1] for u in group.units]
        ssim = ", ".join(
            f"{u.budget:g}{tm.budget_symbol}: adv {r['adv_ssim']:.4f} rand "
            f"{r['rand_mean_ssim']:.4f} control {r['control_ssim']:.4f}"
            for u, r in zip(group.units, rows, strict=True)
        )
        print(f"{dt:.2f} s per slice, CPU {cpu:.2f} s ({a.threads} threads); region SSIM {ssim}")


if __name__ == "__main__":
    main()
