"""Print the figures docs/benchmarks.md quotes for the scanner perturbations of the demo.

Usage: ``python benchmarks/demo_sections.py runs/demo/<hash>`` after ``make demo``.

For each of the off-resonance, receiver-drift, k-space-spike and SNR-shift sections: mean region
SSIM over the demo slices per model, acceleration and budget, clean / worst case / random
baseline / control (the fully-sampled k-space with the same perturbation, no model), and the
plug-in's own descriptive columns. Printed figures only, nothing asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

SECTIONS = {
    "offresonance": ["offres_worst_max_hz", "offres_worst_shift_px"],
    "drift": ["drift_worst_gain_percent", "drift_worst_phase_deg"],
    "spikes": ["spike_used", "spike_mean_dist", "spike_acquired_dist", "spike_to_thermal"],
    "snr": ["noise_to_thermal", "snr_thermal_sigma"],
}
METRICS = ["clean_ssim", "adv_ssim", "rand_mean_ssim", "control_ssim"]


def table(df: pd.DataFrame, attack: str, extra: list[str]) -> pd.DataFrame:
    """Mean over slices of the region rows of one plug-in, per model, acceleration, budget."""
    d = df[(df["attack"] == attack) & (df["target"] == "region")]
    cols = [c for c in METRICS + extra if c in d.columns]
    out = d.groupby(["model", "acceleration", "budget"])[cols].mean()
    return out.assign(slices=d.groupby(["model", "acceleration", "budget"]).size())


def main(run_dir: str) -> None:
    df = pd.read_csv(Path(run_dir) / "results.csv")
    noise = df[(df["attack"] == "noise") & (df["target"] == "region") & (df["rule"] == "l2")]
    for attack, extra in SECTIONS.items():
        print(f"\n## {attack} (region SSIM, mean over slices)")
        print(table(df, attack, extra).to_string(float_format=lambda x: f"{x:.3f}"))
    if not noise.empty:
        print("\n## noise (l2), for comparison in thermal units")
        cols = ["adv_ssim", "noise_to_thermal"]
        print(noise.groupby(["model", "acceleration", "budget"])[cols].mean().round(3).to_string())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
