"""Thermal noise level of multicoil k-space, estimated from the image background.

The adversarial k-space budget ``||z_i|| <= eta * ||k_i||`` is relative to the signal; to relate
it to the acquisition, :func:`noise_to_thermal_ratio` expresses ``||z_i||`` in units of the norm
that one realisation of the scanner's own thermal noise has on the same k-space samples.

Estimator (:func:`estimate_noise_sigma`): thermal noise is white complex Gaussian in k-space and,
the centered FFT being orthonormal, also in the coil images. The four corners of the (readout-
oversampled) coil images contain air only for knee and brain scans, so the noise standard
deviation is estimated there robustly: the median absolute deviation (MAD) of the real and
imaginary parts pooled, ``sigma_re = 1.4826 * MAD`` (consistent for a Gaussian and insensitive to
a few signal pixels). ``sigma`` is the *complex* standard deviation, ``E|n|^2 = sigma^2 =
2 sigma_re^2``, so that ``n`` samples of thermal noise have norm ``~ sigma * sqrt(n)``.

Zero-padded phase-encode columns (outside ``[padding_left, padding_right)``) carry no noise; the
image-domain noise variance is therefore ``sigma_k^2 * n_acq / W`` and is corrected back to the
k-space level ``sigma_k`` reported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from advrecon.errors import AdvreconError
from advrecon.mri import ifft2c

__all__ = ["estimate_noise_sigma", "noise_to_thermal_ratio"]

_MAD_TO_STD = 1.4826


def _mad_std(x: torch.Tensor) -> torch.Tensor:
    """Robust std ``1.4826 * median(|x - median(x)|)`` over the last dimension."""
    med = x.median(dim=-1, keepdim=True).values
    return _MAD_TO_STD * (x - med).abs().median(dim=-1).values


def estimate_noise_sigma(
    kspace: torch.Tensor,
    *,
    corner_fraction: float = 0.125,
    padding: Sequence[int] | None = None,
) -> torch.Tensor:
    """Per-coil thermal noise standard deviation in k-space.

    Args:
        kspace: Fully-sampled complex k-space ``(B, coils, H, W)``.
        corner_fraction: Side of each corner patch as a fraction of ``H`` and ``W``
            (default 1/8: four ``H/8 x W/8`` patches).
        padding: Acquired columns ``(padding_left, padding_right)``; ``None`` = all.

    Returns:
        ``(B, coils)`` real tensor ``sigma`` (complex std per k-space sample, see module doc).
    """
    if not kspace.is_complex() or kspace.ndim != 4:
        raise AdvreconError(
            f"kspace must be complex (B, coils, H, W), got {tuple(kspace.shape)} {kspace.dtype}"
        )
    if not 0.0 < corner_fraction <= 0.5:
        raise AdvreconError(f"corner_fraction must be in (0, 0.5], got {corner_fraction}")
    B, C, H, W = kspace.shape
    left, right = (0, W) if padding is None else (int(padding[0]), int(padding[1]))
    img = ifft2c(kspace)
    ph = max(1, int(math.ceil(H * corner_fraction)))
    pw = max(1, int(math.ceil(W * corner_fraction)))
    corners = [
        img[..., :ph, :pw],
        img[..., :ph, W - pw :],
        img[..., H - ph :, :pw],
        img[..., H - ph :, W - pw :],
    ]
    samples = torch.cat([c.reshape(B, C, -1) for c in corners], dim=-1)
    parts = torch.cat([samples.real, samples.imag], dim=-1)
    sigma_re = _mad_std(parts)
    # Orthonormal FFT with zero columns: image noise variance = sigma_k^2 * n_acq / W.
    correction = math.sqrt(W / max(right - left, 1))
    return math.sqrt(2.0) * sigma_re * correction


def noise_to_thermal_ratio(
    z: torch.Tensor, sigma: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """``||z_i|| / (sigma_i * sqrt(n_i))`` averaged over coils.

    Args:
        z: Perturbation ``(B, coils, H, W)`` complex.
        sigma: ``(B, coils)`` from :func:`estimate_noise_sigma`.
        support: Real ``(B or 1, 1, 1 or H, W)``, 1 on the k-space samples ``z`` may occupy;
            ``n_i`` is their number.

    Returns:
        ``(B,)``: mean over coils with ``sigma_i > 0`` (NaN only if every coil has
        ``sigma_i = 0``, e.g. noise-free synthetic data).
    """
    H, W = z.shape[-2:]
    n = support.to(torch.float64).expand(z.shape[0], 1, H, W).sum(dim=(1, 2, 3))  # (B,)
    norms = torch.linalg.vector_norm(z, dim=(-2, -1)).to(torch.float64)  # (B, C)
    s = sigma.to(torch.float64)
    ok = s > 0
    ratio = norms / (s.clamp_min(torch.finfo(torch.float64).tiny) * n.sqrt()[:, None])
    count = ok.sum(1)
    total = torch.where(ok, ratio, torch.zeros_like(ratio)).sum(1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, torch.nan))
