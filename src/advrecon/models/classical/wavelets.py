"""A Parseval wavelet frame for complex images, from ptwt (no hand-written filters).

``analysis`` is ptwt's 2-D fast wavelet transform (``ptwt.wavedec2``, zero boundary mode) of
the real and imaginary parts, ``synthesis`` its inverse (``ptwt.waverec2``, cropped to the
image). For an orthogonal wavelet (Haar, Daubechies, Symlets) with zero padding the analysis
operator ``W`` is an isometry, ``W^H W = I``, and ``synthesis`` is exactly its adjoint ``W^H``
(a Parseval frame; with padding it is slightly redundant, so ``W W^H != I``).
``tests/test_classical.py`` checks both properties. The L1-wavelet solver therefore uses the
*synthesis* formulation, whose proximal step is an exact soft threshold.

Coefficients are a flat list of complex tensors: the approximation band first, then the
detail bands (horizontal, vertical, diagonal) from the coarsest to the finest level.
Images are complex ``(B, 1, H, W)``.
"""

from __future__ import annotations

import ptwt
import torch

__all__ = ["analysis", "synthesis"]


def analysis(image: torch.Tensor, wavelet: str, level: int) -> list[torch.Tensor]:
    """``W x``: complex ``(B, 1, H, W)`` -> list of complex coefficient bands ``(B, h_k, w_k)``."""
    b = image.shape[0]
    parts = torch.cat([image.real, image.imag], dim=0)[:, 0]  # (2B, H, W)
    coeffs = ptwt.wavedec2(parts, wavelet, level=level, mode="zero")
    bands = [coeffs[0], *(band for detail in coeffs[1:] for band in detail)]
    return [torch.complex(band[:b], band[b:]) for band in bands]


def synthesis(bands: list[torch.Tensor], wavelet: str, shape: tuple[int, int]) -> torch.Tensor:
    """``W^H c``: coefficient bands (as from :func:`analysis`) -> complex ``(B, 1, H, W)``."""
    parts = [torch.cat([band.real, band.imag], dim=0) for band in bands]
    details = [tuple(parts[i : i + 3]) for i in range(1, len(parts), 3)]
    image = ptwt.waverec2([parts[0], *details], wavelet)[..., : shape[0], : shape[1]]
    b = bands[0].shape[0]
    return torch.complex(image[:b], image[b:])[:, None]
