"""The Cartesian signal under B0 off-resonance: the exact sum and its time-segmented form.

Geometry (fastMRI convention, :mod:`advrecon.mri`, :mod:`advrecon.masks`): k-space is
``(C, H, W)`` with the readout (frequency encoding) down the rows ``H`` and the phase encoding
across the columns ``W`` (a mask selects columns: one column is one readout). Sample ``n`` of
every readout is acquired at the time (seconds, relative to the echo)::

    t_n = (n - H // 2) / (BW * H)

where ``BW`` is the readout bandwidth per pixel (Hz/pixel): the dwell time is
``1 / (BW * H)``, the readout lasts ``1 / BW`` whatever ``H`` (readout oversampling halves the
dwell time and doubles ``H``), and the k-space centre (index ``H // 2``, where
:func:`~advrecon.mri.fft2c` puts frequency 0) is the echo, ``t = 0``. In a (turbo) spin echo the
refocusing pulses undo the phase of static off-resonance at every echo, so only the phase
accrued during the readout, relative to the echo, remains; a gradient echo would add a
``TE``-dependent phase that is not modelled here.

Signal of coil image ``m`` (``df`` in Hz, ``y' = y - H // 2``, ``u_n = n - H // 2``, likewise
``x'``, ``v``)::

    s(n, v) = sum_{y, x} m(y, x) exp(-2 pi i df(y, x) t_n) exp(-2 pi i (u_n y' / H + v x' / W))
              / sqrt(H W)

(:func:`exact_kspace`, a direct DFT along the readout; ``O(H^2 W)`` per coil, for tests and the
accuracy benchmark). A constant ``df`` gives ``exp(-2 pi i u_n (df / BW) / H)``, the Fourier
shift theorem's factor for a move of ``+df / BW`` pixels along the readout: **a positive offset
moves the object towards larger row indices** (the sign of
:func:`advrecon.attacks.motion.translate_kspace`'s ``t_y``).

Time segmentation (Sutton, Noll and Fessler, "Fast, iterative image reconstruction for MRI in
the presence of field inhomogeneities", IEEE TMI 22(2):178-188, 2003)::

    exp(-2 pi i df t_n) ~= sum_{l=1}^{L} b_l(t_n) exp(-2 pi i df tau_l)
    s ~= sum_l b_l(t_n) * fft2c(m * exp(-2 pi i df tau_l))           (:func:`segmented_kspace`)

with ``L`` segment times ``tau_l`` evenly spaced over the readout (``L = 1``: the echo) and
``L`` 2-D FFTs per coil. Interpolators ``b_l(t)``:

* ``"ls"`` (default): the least-squares interpolator of the paper with the field-map histogram
  replaced by the uniform distribution on ``[-B, B]``, ``B`` the bound of the feasible set
  (Fessler et al., IEEE TSP 53(9), 2005, use the same min-max / uniform form): it minimises
  ``int_{-B}^{B} |exp(-2 pi i f t) - sum_l b_l exp(-2 pi i f tau_l)|^2 df``, whose normal
  equations have the closed form ``sum_l' sinc(2 B (tau_l - tau_l')) b_l' = sinc(2 B (t -
  tau_l))`` (``sinc(x) = sin(pi x) / (pi x)``). It depends on the bound only, not on the field
  map, so it is fixed during a search and valid for every feasible map;
* ``"hanning"``: the paper's Hanning (raised-cosine) interpolator of width ``2 (tau_2 -
  tau_1)``, a partition of unity.

Accuracy: :func:`interpolation_error` is the largest error of one sample's phase factor over
the readout and every offset ``|df| <= B``; it depends on ``L`` and ``B / BW`` only, bounds the
relative k-space error of any constant field map and any image, and is what the config's
accuracy rule (:func:`advrecon.attacks.offresonance.config.accurate_shift_px`) is read from.
``benchmarks/offresonance_accuracy.py`` prints it and the relative error against
:func:`exact_kspace` for smooth field maps on a small phantom.
"""

from __future__ import annotations

import math

import torch

from advrecon.mri import fft2c, ifft2c

__all__ = [
    "INTERPOLATORS",
    "exact_kspace",
    "interpolation_error",
    "interpolator",
    "offresonance_kspace",
    "readout_times",
    "segment_times",
    "segmented_kspace",
]

#: Time-segmentation interpolators (module docstring).
INTERPOLATORS = ("ls", "hanning")

#: Relative cut-off of the pseudo-inverse of the LS interpolator's Gram matrix (it is close to
#: singular when ``B / BW`` is small and the segments are nearly alike).
_RCOND = 1e-12


def readout_times(H: int, bandwidth: float, device=None) -> torch.Tensor:
    """``(H,)`` float64 times (s) of the readout samples relative to the echo (module docstring)."""
    n = torch.arange(H, dtype=torch.float64, device=device)
    return (n - H // 2) / (float(bandwidth) * H)


def segment_times(t: torch.Tensor, segments: int) -> torch.Tensor:
    """``(L,)`` segment times: evenly spaced from the first to the last sample (``L = 1``: 0)."""
    if segments == 1:
        return torch.zeros(1, dtype=t.dtype, device=t.device)
    return torch.linspace(float(t[0]), float(t[-1]), segments, dtype=t.dtype, device=t.device)


def _ls(t: torch.Tensor, taus: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """``(n, L, H)`` LS interpolator for a uniform ``df`` on ``[-bound, bound]`` per item."""
    B = bound.to(t)[:, None, None]
    gram = torch.sinc(2 * B * (taus[:, None] - taus[None, :]))  # (n, L, L)
    rhs = torch.sinc(2 * B * (t[None, :] - taus[:, None]))  # (n, L, H)
    return torch.linalg.pinv(gram, rtol=_RCOND, hermitian=True) @ rhs


def _hanning(t: torch.Tensor, taus: torch.Tensor) -> torch.Tensor:
    """``(1, L, H)`` raised-cosine interpolator of half-width ``tau_2 - tau_1`` (``L = 1``: 1)."""
    if taus.numel() == 1:
        return torch.ones((1, 1, t.numel()), dtype=t.dtype, device=t.device)
    step = taus[1] - taus[0]
    d = (t[None, :] - taus[:, None]) / step
    return torch.where(d.abs() < 1, 0.5 * (1 + torch.cos(math.pi * d)), 0.0)[None]


def interpolator(kind: str, t: torch.Tensor, taus: torch.Tensor, bound: torch.Tensor):
    """``(n or 1, L, H)`` float64 coefficients ``b_l(t_n)``.

    Args:
        kind: ``"ls"`` or ``"hanning"``; t: ``(H,)`` readout times; taus: ``(L,)``.
        bound: ``(n,)`` Hz, the range of ``df`` the LS interpolator is fitted on.
    """
    if kind == "ls":
        return _ls(t, taus, bound)
    if kind == "hanning":
        return _hanning(t, taus)
    raise ValueError(f"interpolator must be one of {INTERPOLATORS}, got {kind!r}")


def interpolation_error(
    segments: int, shift_px: float, kind: str = "ls", H: int = 64, offsets: int = 401
) -> float:
    """Largest ``|exp(-2 pi i f t_n) - sum_l b_l(t_n) exp(-2 pi i f tau_l)|`` over the readout
    samples ``t_n`` and ``offsets`` offsets ``f`` evenly spaced on ``[-B, B]``.

    Args:
        segments: ``L``; shift_px: ``B / BW`` (the error depends on nothing else but ``H``,
            weakly); kind: the interpolator; H: readout samples; offsets: grid of ``f``.
    """
    bw = 1.0
    t = readout_times(H, bw)
    taus = segment_times(t, segments)
    bound = torch.tensor([float(shift_px) * bw], dtype=torch.float64)
    b = interpolator(kind, t, taus, bound)[0]  # (L, H)
    f = torch.linspace(-float(bound), float(bound), offsets, dtype=torch.float64)
    exact = torch.polar(torch.ones(offsets, H, dtype=torch.float64), -2 * math.pi * f[:, None] * t)
    seg = torch.polar(torch.ones(offsets, taus.numel(), dtype=torch.float64),
                      -2 * math.pi * f[:, None] * taus)  # fmt: skip
    return float((exact - seg @ b.to(seg.dtype)).abs().max())


def segmented_kspace(
    coil: torch.Tensor, df: torch.Tensor, taus: torch.Tensor, b: torch.Tensor
) -> torch.Tensor:
    """Time-segmented k-space ``sum_l b_l(t_n) fft2c(coil exp(-2 pi i df tau_l))``.

    Args:
        coil: Complex coil images ``(n, C, H, W)``.
        df: ``(n, H, W)`` Hz (real; differentiable).
        taus: ``(L,)`` s; b: ``(n or 1, L, H)`` interpolator.

    Returns:
        Complex ``(n, C, H, W)`` of ``coil``'s dtype.
    """
    out = torch.zeros_like(coil)
    real = coil.real.dtype
    df = df.to(torch.float64)
    for l_, tau in enumerate(taus.tolist()):
        phase = (-2.0 * math.pi * tau) * df
        rot = torch.polar(torch.ones_like(phase), phase).to(coil.dtype)
        out = out + fft2c(coil * rot[:, None]) * b[:, l_, None, :, None].to(real)
    return out


def offresonance_kspace(
    kspace: torch.Tensor,
    df: torch.Tensor,
    bandwidth: float,
    segments: int,
    kind: str = "ls",
    bound: torch.Tensor | None = None,
) -> torch.Tensor:
    """Fully-sampled k-space ``(n, C, H, W)`` acquired under the field maps ``df`` ``(n, H, W)``.

    Time-segmented (:func:`segmented_kspace`) from the coil images ``ifft2c(kspace)``. Items
    whose field map is zero everywhere keep ``kspace`` bit for bit.

    Args:
        kspace: Complex ``(n, C, H, W)`` fully sampled.
        df: ``(n, H, W)`` Hz.
        bandwidth: Readout bandwidth per pixel (Hz/pixel).
        segments: ``L``; kind: the interpolator.
        bound: ``(n,)`` Hz range of the LS interpolator (default: each item's ``max|df|``).
    """
    still = (df == 0).flatten(1).all(1)
    if bool(still.all()):
        return kspace
    H = kspace.shape[-2]
    t = readout_times(H, bandwidth, kspace.device)
    taus = segment_times(t, segments)
    if bound is None:
        bound = df.detach().abs().flatten(1).amax(1)
    b = interpolator(kind, t, taus, bound.to(kspace.device))
    out = segmented_kspace(ifft2c(kspace), df, taus, b)
    return torch.where(still[:, None, None, None], kspace, out)


def exact_kspace(kspace: torch.Tensor, df: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """The exact signal (module docstring): a direct DFT along the readout, per sample time.

    ``O(H^2 W)`` per coil and ``(n, H, H, W)`` memory: for small images (tests, accuracy).

    Args:
        kspace: Complex ``(n, C, H, W)`` fully sampled (its coil images are the object).
        df: ``(n, H, W)`` Hz; bandwidth: Hz/pixel.

    Returns:
        Complex ``(n, C, H, W)`` in ``complex128``.
    """
    H, W = kspace.shape[-2:]
    coil = ifft2c(kspace.to(torch.complex128))
    t = readout_times(H, bandwidth, kspace.device)  # (H,) output rows
    u = torch.arange(H, dtype=torch.float64, device=kspace.device) - H // 2
    y = u  # pixel rows, centred like the k-space rows
    phase = u[:, None] * y[None, :] / H  # (n_out, y)
    phase = phase[None, :, :, None] + df.to(torch.float64)[:, None] * t[None, :, None, None]
    kernel = torch.polar(torch.ones_like(phase), -2.0 * math.pi * phase) / math.sqrt(H)
    rows = torch.einsum("bcyx,bnyx->bcnx", coil, kernel)  # readout sum done, per column x
    rows = torch.fft.ifftshift(rows, dim=-1)
    return torch.fft.fftshift(torch.fft.fft(rows, dim=-1, norm="ortho"), dim=-1)
