"""Adding a feature to the acquisition: fixed ACS coil maps, the object's phase, k-space.

With coil maps ``S`` from the fully-sampled ACS band
(:func:`advrecon.sensitivity.acs_sensitivity_maps`) and the object ``x = S^H c`` (``c`` the coil
images), the feature ``F`` is added to the object with the object's own local phase,
``x' = x + F e^{i angle(x)}``, and the coils see ``c' = c + S (x' - x)``
(:func:`advrecon.attacks.fixed_coils.move_in_fixed_coils`); so
``k' = k + fft2c(S F e^{i angle(x)})``, linear in ``F``. Where ``sum_i |S_i|^2 = 1`` the
root-sum-of-squares image grows by exactly ``F``: the feature's contrast is a change of the
magnitude image, comparable with the tissue's mean intensity.
"""

from __future__ import annotations

import torch

from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.mri import fft2c, ifft2c
from advrecon.sensitivity import acs_sensitivity_maps, coil_combine

__all__ = ["add_feature", "fixed_coil_maps", "object_phase"]


def fixed_coil_maps(kspace: torch.Tensor, mask: torch.Tensor, num_low_frequencies) -> torch.Tensor:
    """Coil maps ``(n, C, H, W)`` from the fully-sampled ``kspace``'s ACS band (no gradient).

    The band is the mask's (``num_low_frequencies`` or derived from ``mask``, fastMRI's rule):
    the calibration a scanner would do, on data without the feature.
    """
    with torch.no_grad():
        return acs_sensitivity_maps(kspace, mask, num_low_frequencies)


def object_phase(kspace: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Unit phase ``e^{i angle(x)}`` ``(n, 1, H, W)`` of the coil-combined object (1 where 0)."""
    with torch.no_grad():
        obj = coil_combine(ifft2c(kspace), maps)
        mag = obj.abs()
        return torch.where(mag > 0, obj / mag.clamp_min(torch.finfo(mag.dtype).tiny), 1.0 + 0j)


def add_feature(
    kspace: torch.Tensor, maps: torch.Tensor, phase: torch.Tensor, feature: torch.Tensor
) -> torch.Tensor:
    """Fully-sampled k-space ``(n, C, H, W)`` with the real ``feature`` ``(n, h, w)`` added.

    The recon-frame feature is centred in the ``(H, W)`` frame with fastMRI's crop offsets,
    given the object's phase and added through the fixed coil maps (module docstring).
    """
    H, W = kspace.shape[-2:]
    h, w = feature.shape[-2:]
    top, left = (H - h) // 2, (W - w) // 2
    full = torch.nn.functional.pad(feature, (left, W - w - left, top, H - h - top))
    extra = full[:, None].to(phase.dtype) * phase
    # move_in_fixed_coils(c, S, x -> x + extra) - c = S extra, linear: added in k-space so
    # that a zero feature returns ``kspace`` bit for bit (no FFT round trip).
    return kspace + fft2c(move_in_fixed_coils(torch.zeros_like(kspace), maps, lambda o: extra))
