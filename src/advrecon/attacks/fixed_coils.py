"""Moving the anatomy inside fixed receive coils (rather than turning the coils with it).

The paper rotates the *coil images*, so the coil sensitivities turn with the patient. In a rigid
knee coil the anatomy moves and the coils stay. With sensitivity maps ``S`` estimated from the
fully-sampled data (:func:`advrecon.sensitivity.acs_sensitivity_maps`), the object is
``x = S^H c`` and the moved acquisition's coil images are

    ``c' = c + S (T x - x)``

for a motion ``T`` (rotation, translation ...). Only the change of the object goes through the
estimated maps: the part of ``c`` the maps do not explain (``c - S S^H c``, estimation error and
noise) stays where it was, and ``T = identity`` gives ``c' = c`` exactly, whatever the maps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from advrecon.sensitivity import coil_combine

__all__ = ["move_in_fixed_coils"]


def move_in_fixed_coils(
    coil_images: torch.Tensor,
    sens_maps: torch.Tensor,
    move: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """Coil images of the moved object seen by fixed coils.

    Args:
        coil_images: Complex ``(B, C, H, W)``.
        sens_maps: Complex ``(B, C, H, W)`` (or broadcastable), e.g. from
            :func:`advrecon.sensitivity.acs_sensitivity_maps` on the fully-sampled k-space.
        move: Maps the complex object ``(B, 1, H, W)`` to the moved object ``(B, 1, H, W)``
            (a batch of motions may expand the leading dimension to ``B * n`` if
            ``coil_images`` and ``sens_maps`` are expanded the same way by the caller).

    Returns:
        Complex ``(B, C, H, W)`` coil images.
    """
    obj = coil_combine(coil_images, sens_maps)
    return coil_images + sens_maps * (move(obj) - obj)
