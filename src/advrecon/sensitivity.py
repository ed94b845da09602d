"""Coil sensitivity maps estimated from the auto-calibration (ACS) lines, differentiably.

Method (the classical "low-resolution coil images over their root-sum-of-squares" estimate,
the same initialisation the E2E-VarNet's sensitivity network refines; see Pruessmann et al.,
MRM 1999, and Sriram et al., MICCAI 2020):

1. keep the central ``num_low_frequencies`` phase-encode columns of each coil's k-space
   (fastMRI's band ``[pad, pad + n)``, ``pad = (W - n + 1) // 2``) and zero the rest; optionally
   taper them with a Hann window along the columns to reduce Gibbs ringing;
2. inverse FFT per coil: low-resolution coil images ``l_i``;
3. normalise: ``S_i = l_i / sqrt(sum_j |l_j|^2 + eps * max^2)``.

Every step is a linear map followed by a smooth normalisation, so the maps are differentiable
with respect to the k-space (an attack on the acquisition also moves the maps, as it would in a
scanner's own calibration). ``sum_i |S_i|^2 = 1`` wherever the signal is well above ``eps``.

Shapes: k-space ``(B, C, H, W)`` complex, mask ``(B or 1, 1, 1 or H, W)``, maps ``(B, C, H, W)``.
"""

from __future__ import annotations

import torch

from advrecon.models.varnet import center_columns, num_low_frequencies_from_mask
from advrecon.mri import ifft2c

__all__ = ["acs_sensitivity_maps", "coil_combine"]


def _hann_columns(n: torch.Tensor, width: int, device: torch.device) -> torch.Tensor:
    """A Hann taper ``(B, W)`` over each item's ACS band (zero outside it)."""
    pad = (width - n + 1) // 2
    col = torch.arange(width, device=device)[None, :].to(torch.float64)
    pos = (col - pad[:, None] + 0.5) / n[:, None].to(torch.float64)  # (0, 1) inside the band
    inside = (pos > 0) & (pos < 1)
    return torch.where(inside, torch.sin(torch.pi * pos) ** 2, torch.zeros_like(pos))


def acs_sensitivity_maps(
    kspace: torch.Tensor,
    mask: torch.Tensor | None = None,
    num_low_frequencies: int | torch.Tensor | None = None,
    *,
    window: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Coil sensitivity maps from the ACS band of (masked) multicoil k-space.

    Args:
        kspace: Complex ``(B, C, H, W)``; masked or fully sampled.
        mask: ``(B or 1, 1, 1, W)`` or ``(B or 1, 1, H, W)`` sampling mask; ``None`` = fully
            sampled (then ``num_low_frequencies`` must be given: the calibration width).
        num_low_frequencies: ACS width in columns, ``int`` or ``(B,)``; ``None``/0 derives it
            from the mask (fastMRI's rule).
        window: Taper the ACS band with a Hann window (less ringing in the maps).
        eps: Relative floor of the normaliser, as a fraction of each item's largest squared
            RSS (keeps the background finite and the map differentiable).

    Returns:
        Complex ``(B, C, H, W)`` maps, same dtype as ``kspace``.
    """
    if kspace.ndim != 4 or not kspace.is_complex():
        raise ValueError(f"kspace must be complex (B, C, H, W), got {tuple(kspace.shape)}")
    width = kspace.shape[-1]
    if mask is None:
        if num_low_frequencies is None or bool((torch.as_tensor(num_low_frequencies) <= 0).any()):
            raise ValueError("fully-sampled k-space needs num_low_frequencies (the ACS width)")
        mask = torch.ones((1, 1, 1, width), dtype=torch.bool, device=kspace.device)
    mask = mask.reshape(mask.shape[0], 1, -1, width)[:, :, :1]  # column mask (B or 1, 1, 1, W)
    n = num_low_frequencies_from_mask(mask, num_low_frequencies).to(kspace.device)
    acs = center_columns(kspace, mask, n)
    if window:
        taper = _hann_columns(n, width, kspace.device).to(kspace.real.dtype)
        acs = acs * taper[:, None, None, :]
    low = ifft2c(acs)
    power = (low.abs() ** 2).sum(dim=1, keepdim=True)  # (B, 1, H, W)
    floor = eps * power.flatten(1).amax(dim=1).clamp_min(torch.finfo(power.dtype).tiny)
    return low / torch.sqrt(power + floor.view(-1, 1, 1, 1))


def coil_combine(coil_images: torch.Tensor, sens_maps: torch.Tensor) -> torch.Tensor:
    """``sum_i conj(S_i) x_i``: the complex object image ``(B, 1, H, W)`` from coil images
    ``(B, C, H, W)`` and maps ``(B, C, H, W)`` (the adjoint of ``x -> S x``)."""
    return (coil_images * sens_maps.conj()).sum(dim=1, keepdim=True)
