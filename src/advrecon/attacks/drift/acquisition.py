"""The acquisition under receiver drift: the calibration band, per-coil gains, drifted k-space.

* :func:`acs_band` -- the calibration (ACS) band of a mask: the central ``num_low_frequencies``
  phase-encode columns ``[pad, pad + n)``, ``pad = (W - n + 1) // 2``, computed with the
  E2E-VarNet's own :func:`advrecon.models.varnet.center_columns` (the band its sensitivity
  network and :func:`advrecon.sensitivity.acs_sensitivity_maps`, i.e. SENSE, calibrate from);
  ``n`` is the given ``num_low_frequencies`` or fastMRI's rule on the mask
  (:func:`advrecon.models.varnet.num_low_frequencies_from_mask`).
* :func:`gains` -- complex gains ``g = (1 + a / 100) exp(i pi phi / 180)`` from the
  parametrisation ``(a, phi)`` in the budget's units: ``a = 100 (|g| - 1)`` (percent) and
  ``phi = arg g`` (degrees).
* :func:`drifted_kspace` -- ``k' = g_i k_i`` on the drifting columns, ``k`` elsewhere; a column
  that does not drift keeps its values bit for bit (``torch.where``), and so does every column
  under ``g = 1`` (``a = phi = 0``: ``cos 0 = 1``, ``sin 0 = 0`` exactly).
"""

from __future__ import annotations

import torch

from advrecon.models.varnet import center_columns

__all__ = ["acs_band", "drifted_kspace", "gains"]


def acs_band(mask: torch.Tensor, num_low_frequencies, width: int) -> torch.Tensor:
    """The calibration band of a mask, as the models find it.

    Args:
        mask: ``(B or 1, 1, 1 or H, W)`` sampling mask (only its columns matter).
        num_low_frequencies: Band width, ``int``, ``(B,)`` or ``None`` (0 entries: fastMRI's
            rule on the mask).
        width: ``W``.

    Returns:
        ``(B or 1, W)`` bool, ``True`` on the band's columns.
    """
    cols = mask.reshape(mask.shape[0], -1, width)[:, :1].reshape(mask.shape[0], 1, 1, width)
    ones = torch.ones((1, 1, 1, width), dtype=torch.float32, device=mask.device)
    return center_columns(ones, cols, num_low_frequencies)[:, 0, 0] > 0


def gains(delta: torch.Tensor) -> torch.Tensor:
    """Complex gains ``(n, C)`` of ``delta`` ``(n, C, 2)`` = ``(a, phi)`` (percent, degrees).

    ``g = (1 + a / 100) (cos phi + i sin phi)``, differentiable in ``delta``; ``delta = 0``
    gives ``1 + 0i`` exactly. Complex128 for a float64 ``delta``.
    """
    mag = 1.0 + delta[..., 0] / 100.0
    phi = torch.deg2rad(delta[..., 1])
    return torch.complex(mag * torch.cos(phi), mag * torch.sin(phi))


def drifted_kspace(kspace: torch.Tensor, gain: torch.Tensor, drifting: torch.Tensor):
    """k-space with coil ``i``'s drifting columns multiplied by its gain.

    Args:
        kspace: Complex ``(n, C, H, W)`` (fully sampled or masked).
        gain: Complex ``(n, C)`` gains (cast to ``kspace``'s dtype).
        drifting: ``(n or 1, W)`` bool, the columns the gains act on (outside the calibration
            band: ``~acs_band(...)``).

    Returns:
        Complex ``(n, C, H, W)``; columns outside ``drifting`` are ``kspace``'s bit for bit.
        Differentiable in ``gain``.
    """
    g = gain.to(kspace.dtype)[:, :, None, None]
    return torch.where(drifting[:, None, None, :], kspace * g, kspace)
