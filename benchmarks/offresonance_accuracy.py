"""Accuracy of the time-segmented off-resonance signal against the exact sum.

Table 1 (image-independent): the largest error of one sample's phase factor,
``max over t_n and |f| <= B of |exp(-2 pi i f t_n) - sum_l b_l(t_n) exp(-2 pi i f tau_l)|``
(:func:`advrecon.attacks.offresonance.signal.interpolation_error`), for each number of
segments ``L`` and each bound given as the shift it makes, ``B / BW`` pixels. It bounds the
relative k-space error of a constant field map on any image; the config's accuracy rule
(``accurate_shift_px``: ``3 (L - 5) / 8`` px for 1e-3) and the default ``L`` are read from it.

Table 2: for each largest offset ``max|df|`` (given as the shift it makes, ``max|df| / BW``
pixels: the phase accrued over the readout, and so the error, depends on
``max|df| * T = max|df| / BW`` only) and each number of segments ``L``, the relative k-space error

    ||k_TS - k_exact||_2 / ||k_exact||_2

of :func:`advrecon.attacks.offresonance.signal.offresonance_kspace` (the attack's form: the LS
interpolator fitted on ``[-B, B]`` with ``B`` the bound) against
:func:`~advrecon.attacks.offresonance.signal.exact_kspace` (a direct DFT with every sample's own
phase), worst over ``--draws`` random degree-2 field maps scaled to ``max|df| = B`` and the
constant map ``df = B`` (a pure shift, the hardest case for the LS interpolator: its error is
largest at the ends of ``[-B, B]``). The coil images are unitary to k-space, so this is also
the relative error of the complex coil images. Object: a two-coil ellipse-and-lesion phantom
with smooth coil phases, ``--size`` square (the error does not depend on the size). Printed
figures only, nothing asserted; the attack's default ``segments`` is chosen from this table.

    PYTHONPATH=src python benchmarks/offresonance_accuracy.py                  # ~5 s, CPU
    PYTHONPATH=src python benchmarks/offresonance_accuracy.py --interpolator hanning
"""

from __future__ import annotations

import argparse
import math

import torch

from advrecon.attacks.offresonance import fieldmap
from advrecon.attacks.offresonance.signal import (
    exact_kspace,
    interpolation_error,
    offresonance_kspace,
)
from advrecon.mri import fft2c

BANDWIDTH = 200.0  # Hz/pixel; only max|df| / BW matters


def phantom(size: int) -> torch.Tensor:
    """``(1, 2, size, size)`` complex128 k-space of a two-coil ellipse with a bright lesion."""
    y, x = torch.meshgrid(
        torch.linspace(-1, 1, size, dtype=torch.float64),
        torch.linspace(-1, 1, size, dtype=torch.float64),
        indexing="ij",
    )
    obj = torch.sigmoid(20 * (1 - (x / 0.6) ** 2 - (y / 0.45) ** 2))
    obj = obj + 0.8 * torch.sigmoid(30 * (1 - ((x - 0.1) / 0.15) ** 2 - (y / 0.12) ** 2))
    coils = [
        obj * torch.exp(-((x - c) ** 2 + y**2)) * torch.exp(1j * (c + 0.5 * x)) for c in (-0.7, 0.7)
    ]
    return fft2c(torch.stack(coils)[None])


def worst_error(k, maps, bound, segments, kind) -> float:
    """Largest relative error over the field maps ``(m, H, W)``."""
    errs = []
    for df in maps:
        exact = exact_kspace(k, df[None], BANDWIDTH)
        ts = offresonance_kspace(k, df[None], BANDWIDTH, segments, kind, torch.tensor([bound]))
        errs.append(float((ts - exact).norm() / exact.norm()))
    return max(errs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--draws", type=int, default=20)
    p.add_argument("--interpolator", default="ls", choices=("ls", "hanning"))
    p.add_argument("--segments", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6, 8, 10, 12])
    p.add_argument("--shifts", type=float, nargs="+", default=[0.125, 0.25, 0.5, 1, 2, 4])
    a = p.parse_args()
    print(f"Table 1: largest per-sample phase-factor error, interpolator {a.interpolator}")
    _header(a.segments)
    for shift in a.shifts:
        cells = [interpolation_error(s, shift, a.interpolator) for s in a.segments]
        print(f"| {shift:g} | " + " | ".join(f"{e:.1e}" for e in cells) + " |")
    print()
    k = phantom(a.size)
    phi = fieldmap.basis((a.size, a.size), 2)
    gens = [torch.Generator().manual_seed(i) for i in range(a.draws)]
    print(
        f"Table 2: relative k-space error ||k_TS - k_exact|| / ||k_exact||, worst of {a.draws} "
        f"random degree-2 maps and the constant map; {a.size}x{a.size} phantom, interpolator "
        f"{a.interpolator}"
    )
    _header(a.segments)
    for shift in a.shifts:
        bound = shift * BANDWIDTH
        b = torch.full((a.draws,), bound, dtype=torch.float64)
        maps = fieldmap.field_map(fieldmap.draw(gens, phi, b), phi)
        maps = torch.cat([maps, torch.full((1, a.size, a.size), bound, dtype=torch.float64)])
        cells = [worst_error(k, maps, bound, s, a.interpolator) for s in a.segments]
        print(f"| {shift:g} | " + " | ".join(f"{e:.1e}" for e in cells) + " |")
    print(
        f"(max|df| / BW = 1 px is {BANDWIDTH:g} Hz at {BANDWIDTH:g} Hz/px; the phase at the "
        f"readout's ends is +-{math.pi:.2f} rad per px)"
    )


def _header(segments) -> None:
    print("| max|df|/BW (px) | " + " | ".join(f"L={s}" for s in segments) + " |")
    print("|---|" + "---|" * len(segments))


if __name__ == "__main__":
    main()
