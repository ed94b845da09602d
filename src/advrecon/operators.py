"""Forward operator pairs of the multicoil MRI acquisition: ``A = M F S`` and ``A^H = S^H F^H M``.

``S`` multiplies an image by each coil's sensitivity map, ``F`` is fastMRI's centred orthonormal
2-D FFT (:func:`advrecon.mri.fft2c`) applied per coil, and ``M`` keeps the sampled k-space
locations and zeros the rest. ``F`` is unitary and ``M`` is an orthogonal projection, so the
adjoint is ``A^H y = sum_i conj(S_i) F^-1(M y_i)``; ``tests/test_operators.py`` checks
``<A x, y> = <x, A^H y>`` for every operator here.

The building blocks are pure functions (the E2E-VarNet's ``sens_expand`` / ``sens_reduce`` and
its soft data consistency use them); :class:`MultiCoilMRI` and :class:`MaskedFFT` bundle one
acquisition's maps and mask as frozen objects with ``forward`` / ``adjoint`` methods.

Shapes are batch first and complex (``torch.complex64`` or ``complex128``): images
``(B, 1, H, W)``, coil maps and k-space ``(B, C, H, W)``, masks ``(B or 1, 1, 1 or H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.mri import fft2c, ifft2c

__all__ = ["apply_mask", "sens_expand", "sens_reduce", "MultiCoilMRI", "MaskedFFT"]


def apply_mask(kspace: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``M k``: keep the sampled locations, exact zeros elsewhere.

    Args:
        kspace: Complex ``(B, C, H, W)``.
        mask: Bool (or real 0/1) ``(B or 1, 1, 1 or H, W)``, broadcast over coils; ``None`` =
            fully sampled (``kspace`` is returned as is).

    Returns:
        Complex ``(B, C, H, W)``.
    """
    if mask is None:
        return kspace
    keep = mask if mask.dtype == torch.bool else mask != 0
    zero = torch.zeros((), dtype=kspace.dtype, device=kspace.device)
    return torch.where(keep, kspace, zero)


def sens_expand(image: torch.Tensor, sens_maps: torch.Tensor) -> torch.Tensor:
    """``F S x``: coil k-spaces of an image (fastMRI's ``sens_expand``).

    Args:
        image: Complex ``(B, 1, H, W)``.
        sens_maps: Complex ``(B, C, H, W)``.

    Returns:
        Complex k-space ``(B, C, H, W)``.
    """
    return fft2c(image * sens_maps)


def sens_reduce(kspace: torch.Tensor, sens_maps: torch.Tensor) -> torch.Tensor:
    """``S^H F^H k = sum_i conj(S_i) F^-1(k_i)``: the coil-combined image (fastMRI's
    ``sens_reduce``).

    Args:
        kspace: Complex ``(B, C, H, W)``.
        sens_maps: Complex ``(B, C, H, W)``.

    Returns:
        Complex image ``(B, 1, H, W)``.
    """
    return (ifft2c(kspace) * sens_maps.conj()).sum(dim=1, keepdim=True)


@dataclass(frozen=True)
class MultiCoilMRI:
    """The multicoil acquisition ``A = M F S`` of one batch (maps and mask per item).

    Args:
        sens_maps: Complex coil sensitivities ``(B, C, H, W)``.
        mask: Bool (or real 0/1) ``(B or 1, 1, 1 or H, W)``; ``None`` = fully sampled.
    """

    sens_maps: torch.Tensor
    mask: torch.Tensor | None = None

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``A x``: complex image ``(B, 1, H, W)`` -> masked k-space ``(B, C, H, W)``."""
        return apply_mask(sens_expand(image, self.sens_maps), self.mask)

    def adjoint(self, kspace: torch.Tensor) -> torch.Tensor:
        """``A^H y``: complex k-space ``(B, C, H, W)`` -> image ``(B, 1, H, W)``."""
        return sens_reduce(apply_mask(kspace, self.mask), self.sens_maps)


@dataclass(frozen=True)
class MaskedFFT:
    """The masked centred FFT ``A = M F`` applied to every coil image (no coil maps).

    Args:
        mask: Bool (or real 0/1) ``(B or 1, 1, 1 or H, W)``; ``None`` = fully sampled.
    """

    mask: torch.Tensor | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``A x``: complex coil images ``(B, C, H, W)`` -> masked k-space ``(B, C, H, W)``."""
        return apply_mask(fft2c(images), self.mask)

    def adjoint(self, kspace: torch.Tensor) -> torch.Tensor:
        """``A^H y``: complex k-space ``(B, C, H, W)`` -> coil images ``(B, C, H, W)``."""
        return ifft2c(apply_mask(kspace, self.mask))
