"""MRI physics core: centered orthonormal FFTs, root-sum-of-squares, crops, layout converters.

All functions work on native complex tensors (``torch.complex64``) with any number of leading
dimensions; the transform acts on the last two dimensions ``(..., H, W)``. fastMRI stores complex
data in a trailing-2 real layout ``(..., H, W, 2)``; :func:`to_fastmri_layout` and
:func:`from_fastmri_layout` convert at the model boundary only.

Convention (identical to fastMRI's ``fft2c``/``ifft2c``): ``ifftshift -> fft -> fftshift`` with
``norm="ortho"``, so the transforms are unitary and Parseval holds exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "fft2c",
    "ifft2c",
    "rss",
    "rss_complex",
    "center_crop",
    "coil_images",
    "kspace_to_target",
    "to_fastmri_layout",
    "from_fastmri_layout",
]


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centered, orthonormal 2-D FFT over the last two dimensions.

    Args:
        x: Complex image, shape ``(..., H, W)``.

    Returns:
        Complex k-space, shape ``(..., H, W)``.
    """
    x = torch.fft.ifftshift(x, dim=(-2, -1))
    x = torch.fft.fft2(x, dim=(-2, -1), norm="ortho")
    return torch.fft.fftshift(x, dim=(-2, -1))


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """Centered, orthonormal 2-D inverse FFT over the last two dimensions.

    Args:
        k: Complex k-space, shape ``(..., H, W)``.

    Returns:
        Complex image, shape ``(..., H, W)``.
    """
    k = torch.fft.ifftshift(k, dim=(-2, -1))
    k = torch.fft.ifft2(k, dim=(-2, -1), norm="ortho")
    return torch.fft.fftshift(k, dim=(-2, -1))


def rss(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Root-sum-of-squares coil combination ``sqrt(sum_i |x_i|^2)``.

    Works for real and complex input; for complex coil images this is the true RSS (using
    ``|x_i|^2``, not ``x_i^2``).

    Args:
        x: Coil images, e.g. ``(B, coils, H, W)`` complex or real.
        dim: Coil dimension (default 1: batch first).

    Returns:
        Real magnitude image with ``dim`` removed, e.g. ``(B, H, W)``.
    """
    if x.is_complex():
        return torch.sqrt((x.real**2 + x.imag**2).sum(dim))
    return torch.sqrt((x**2).sum(dim))


def rss_complex(x: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Alias of :func:`rss` for complex input (fastMRI's ``rss_complex``)."""
    return rss(x, dim)


def center_crop(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Center crop over the last two dimensions, with fastMRI's offset rule.

    The start index is ``(size - crop) // 2`` on each axis, exactly as fastMRI's ``center_crop``.

    Args:
        x: Tensor ``(..., H, W)`` (real or complex).
        shape: Output ``(h, w)`` with ``0 < h <= H`` and ``0 < w <= W``.

    Returns:
        Tensor ``(..., h, w)`` (a view).
    """
    h, w = int(shape[0]), int(shape[1])
    H, W = x.shape[-2], x.shape[-1]
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"cannot center-crop an image of size {(H, W)} to {(h, w)}")
    top = (H - h) // 2
    left = (W - w) // 2
    return x[..., top : top + h, left : left + w]


def coil_images(kspace: torch.Tensor) -> torch.Tensor:
    """Coil images from (possibly masked) multicoil k-space: ``ifft2c`` per coil.

    Args:
        kspace: Complex k-space ``(B, coils, H, W)``.

    Returns:
        Complex coil images ``(B, coils, H, W)``.
    """
    return ifft2c(kspace)


def kspace_to_target(kspace: torch.Tensor, recon_size: Sequence[int]) -> torch.Tensor:
    """Fully-sampled RSS target: ``center_crop(rss(ifft2c(k)), recon_size)``.

    This is how fastMRI's ``reconstruction_rss`` is defined and what every attack compares to.

    Args:
        kspace: Complex k-space ``(B, coils, H, W)``.
        recon_size: Target ``(h, w)``.

    Returns:
        Real image ``(B, h, w)``.
    """
    return center_crop(rss(ifft2c(kspace), dim=1), recon_size)


def to_fastmri_layout(x: torch.Tensor) -> torch.Tensor:
    """Complex ``(..., H, W)`` -> real ``(..., H, W, 2)`` (fastMRI's layout)."""
    if not x.is_complex():
        raise TypeError("to_fastmri_layout expects a complex tensor")
    return torch.view_as_real(x)


def from_fastmri_layout(x: torch.Tensor) -> torch.Tensor:
    """Real ``(..., H, W, 2)`` (fastMRI's layout) -> complex ``(..., H, W)``."""
    if x.is_complex() or x.shape[-1] != 2:
        raise TypeError("from_fastmri_layout expects a real tensor with a trailing dimension of 2")
    return torch.view_as_complex(x.contiguous())
