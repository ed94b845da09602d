"""B0 off-resonance: a smooth field map shifts and blurs the image along the readout.

Physics. A static field offset ``df(y, x)`` (Hz) -- an imperfect shim, susceptibility
differences at tissue-air and bone boundaries -- makes spins precess at ``f0 + df``. Sample
``n`` of a Cartesian readout acquired ``t_n`` after the echo carries the extra phase
``exp(-2 pi i df t_n)``; with the readout down the rows ``H`` (fastMRI convention: the mask
selects columns, one column is one readout) and ``t_n = (n - H // 2) / (BW H)``, ``BW`` the
readout bandwidth per pixel (Hz/pixel), a constant ``df`` moves the object by ``+df / BW``
pixels along the readout (towards larger row indices) and a spatially varying one warps and
blurs it there, while the phase-encode direction is untouched (each readout starts at its own
echo). In a (turbo) spin echo the phase accrued before the echo is refocused, so only the
readout phase remains (a gradient echo's ``TE`` phase is not modelled). Source: Sutton, Noll
and Fessler, "Fast, iterative image reconstruction for MRI in the presence of field
inhomogeneities", IEEE TMI 22(2):178-188, 2003 (signal model and time segmentation).

Parametrisation (:mod:`~advrecon.attacks.offresonance.fieldmap`): ``df`` is a 2-D Legendre
polynomial of total degree ``<= degree`` (default 2: the shim terms) on normalised coordinates
in ``[-1, 1]`` over the full ``(H, W)`` grid of the coil images, with coefficients in Hz.
Feasible set: ``max |df| <= max_hz`` over the grid. Projection: scaling the coefficients by
``max_hz / max|df|`` when the map exceeds the bound (a projection onto the feasible set along
the ray to 0, not the Euclidean one).

Action on k-space (:mod:`~advrecon.attacks.offresonance.signal`): the time-segmented signal of
Sutton et al. with ``L = segments`` segments and the least-squares interpolator on
``[-max_hz, max_hz]``: ``k' = sum_l b_l(t_n) fft2c(coil images * exp(-2 pi i df tau_l))``; its
accuracy against the exact sum is in ``benchmarks/offresonance_accuracy.py`` (default ``L =
8``, up to a one-pixel shift: every sample's phase factor within 1.1e-4 of the exact one, and
a relative k-space error of 8e-6 for smooth maps on a phantom). A zero field map keeps the
k-space bit for bit, so a zero bound gives the clean reconstruction exactly.

Map back to the target frame: the identity. A scanner shows the distorted image, so the region
metrics include the geometric shift (that is part of the harm, not a registration error).

Searches, all at the same bound:

* worst-case field map: projected signed-gradient ascent over the coefficients
  (:class:`~advrecon.attacks.search.ProjectedGradient`, best iterate kept) from a random field
  map on the bound, ``c <- P(c + step_size * max_hz * sign(grad))``;
* random field maps: ``n_random`` Gaussian coefficient vectors scaled to ``max|df| = max_hz``.

``control``: the fully-sampled distorted k-space as a scanner shows it (RSS, crop; no model).

One module per concept: :mod:`.fieldmap` (the polynomial, its bound and projection),
:mod:`.signal` (exact and time-segmented signal), :mod:`.threat` (:class:`OffResonance`),
:mod:`.attack` (:func:`offresonance_attack`), :mod:`.result`, :mod:`.config` (the section
``attacks.offresonance`` and its batches), :mod:`.units` (the runner's entry) and
:mod:`.plugin`.
"""

from __future__ import annotations

from advrecon.attacks.offresonance.attack import OffResonanceOptions, offresonance_attack
from advrecon.attacks.offresonance.config import (
    DEFAULT_BANDWIDTH,
    DEFAULT_SEGMENTS,
    OffResonanceAttackConfig,
    offresonance_batch_groups,
)
from advrecon.attacks.offresonance.fieldmap import basis, field_map, max_abs, project
from advrecon.attacks.offresonance.result import OffResonanceResult
from advrecon.attacks.offresonance.signal import (
    INTERPOLATORS,
    exact_kspace,
    offresonance_kspace,
    readout_times,
)
from advrecon.attacks.offresonance.threat import OffResonance
from advrecon.attacks.offresonance.units import run_offresonance_units

__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_SEGMENTS",
    "INTERPOLATORS",
    "OffResonance",
    "OffResonanceAttackConfig",
    "OffResonanceOptions",
    "OffResonanceResult",
    "basis",
    "exact_kspace",
    "field_map",
    "max_abs",
    "offresonance_attack",
    "offresonance_batch_groups",
    "offresonance_kspace",
    "project",
    "readout_times",
    "run_offresonance_units",
]
