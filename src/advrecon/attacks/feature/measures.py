"""How much of a feature a reconstruction shows: recovered fraction, contrast, CNR.

Measures of a reconstruction ``r`` against the same reconstruction without the feature ``r0``
(``D = r - r0``), for a feature ``F``:

* ``recovered = <D, F> / ||F||^2`` -- the fraction of the feature's energy that the
  reconstruction shows (1: all of it, 0: none, negative: inverted);
* ``contrast = <D, F> / sum(F)`` -- the feature-weighted mean change (intensity units);
* ``cnr = contrast / sigma_img`` with :func:`image_noise_std` -- contrast-to-noise ratio against
  the thermal noise of the magnitude image (Rose criterion: visible when above about 3-5).
"""

from __future__ import annotations

import math

import torch

__all__ = ["contrast", "image_noise_std", "measures", "recovered"]


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(n,)`` float64 ``<a_i, b_i>`` of ``(n, ...)`` tensors."""
    return (a.double() * b.double()).flatten(1).sum(1)


def recovered(diff: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """``(n,)`` ``<diff, F> / ||F||^2`` (NaN for a zero feature)."""
    energy = _dot(feature, feature)
    return torch.where(energy > 0, _dot(diff, feature) / energy.clamp_min(1e-300), torch.nan)


def contrast(diff: torch.Tensor, feature: torch.Tensor) -> torch.Tensor:
    """``(n,)`` feature-weighted mean of ``diff``: ``<diff, |F|> / sum |F|`` signed by ``F``."""
    mass = feature.abs().double().flatten(1).sum(1)
    sign = torch.sign(_dot(feature, torch.ones_like(feature)))
    val = _dot(diff, feature.abs()) / mass.clamp_min(1e-300) * sign
    return torch.where(mass > 0, val, torch.nan)


def image_noise_std(sigma_k: torch.Tensor, width: int, acquired: int) -> torch.Tensor:
    """``(n,)`` thermal noise std of the magnitude (RSS) image from per-coil k-space ``sigma``.

    ``sigma_k`` ``(n, C)`` from :func:`advrecon.noise_level.estimate_noise_sigma` (complex std per
    k-space sample). The orthonormal FFT keeps it per coil image pixel, scaled by
    ``sqrt(acquired / width)`` for zero-padded columns; in tissue (signal >> noise) the RSS
    magnitude has the noise of one real component, ``sigma / sqrt(2)`` (coil mean).
    """
    scale = math.sqrt(max(acquired, 1) / width) / math.sqrt(2.0)
    return sigma_k.double().mean(1) * scale


def measures(name: str, prefix: str, img, clean, f, sigma_img, mean) -> dict[str, torch.Tensor]:
    """``{prefix}{name}_recovered``, ``_cnr`` and ``_contrast_percent`` columns ``(n,)``.

    Args:
        name: Column stem (``feature``, ``halluc``); prefix: ``""`` or ``"rand_"``.
        img, clean: Reconstructions with and without the feature ``(n, h, w)``.
        f: The feature ``(n, h, w)``. sigma_img: ``(n,)`` :func:`image_noise_std`.
        mean: ``(n,)`` mean target intensity in the box.
    """
    d = img - clean
    c = contrast(d, f)
    return {
        f"{prefix}{name}_recovered": recovered(d, f),
        f"{prefix}{name}_cnr": c / sigma_img,
        f"{prefix}{name}_contrast_percent": 100.0 * c / mean.double(),
    }
