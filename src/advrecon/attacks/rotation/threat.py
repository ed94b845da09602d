"""The in-plane rotation threat model: what turns, its action on k-space and the map back.

``coils="rotate"`` (the paper) turns the complex coil images, i.e. the coil sensitivities turn
with the patient; ``coils="fixed"`` turns the anatomy inside fixed coils (a rigid knee coil:
:func:`~advrecon.attacks.fixed_coils.move_in_fixed_coils` with maps from the ACS band,
:func:`fixed_coil_maps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.attacks.geometry import rotate, validity_mask
from advrecon.mri import fft2c
from advrecon.sensitivity import acs_sensitivity_maps

__all__ = ["COILS", "Rotation", "fixed_coil_maps", "rotate_slices"]

#: What turns: the coil images (the paper: sensitivities turn with the patient) or the anatomy
#: inside fixed coils (a rigid knee coil).
COILS = ("rotate", "fixed")


@dataclass(frozen=True)
class Rotation:
    """The in-plane rotation threat model.

    Parametrisation: one angle ``theta`` (degrees) per (slice, item). Feasible set: the grid
    angles of a window ``|theta| <= theta_max``
    (:func:`~advrecon.attacks.rotation.grid.angle_grid`). Action on the acquisition:
    ``k -> fft2c(rotate(ifft2c(k), theta))`` (coil images rotated, then masked). Map of the
    output back to the target frame: ``rotate(output, -theta)`` plus the validity mask of the
    pixels that stayed in view (:func:`~advrecon.attacks.geometry.validity_mask`).

    The search over it is the exhaustive grid sweep
    (:class:`~advrecon.attacks.rotation.sweep.Sweep`), not a gradient search: it has no
    ``draw`` / ``project`` / ``ascent_step``.
    """

    interpolation: str
    max_abs_deg: float
    identity_at_zero: bool
    coils: str = "rotate"

    @property
    def kw(self) -> dict:
        """Keyword arguments of :func:`~advrecon.attacks.geometry.rotate`."""
        return dict(
            method=self.interpolation,
            max_abs_deg=self.max_abs_deg,
            identity_at_zero=self.identity_at_zero,
        )

    def act(
        self, coil: torch.Tensor, slices: torch.Tensor, ang: torch.Tensor, maps=None
    ) -> torch.Tensor:
        """Rotated k-space ``(P, C, H, W)`` of ``coil[slices]`` ``(B, C, H, W)`` by ``ang``
        (``coils="fixed"``: ``maps`` ``(B, C, H, W)`` from :func:`fixed_coil_maps`)."""
        return fft2c(rotate_slices(coil, slices, ang, self.kw, maps))

    def to_target(self, image: torch.Tensor, ang: torch.Tensor):
        """``(image rotated by -ang (P, h, w), validity mask (P, h, w) bool)``."""
        size = tuple(image.shape[-2:])
        return rotate(image, -ang, **self.kw), validity_mask(size, ang, device=image.device)


def rotate_slices(
    coil: torch.Tensor, slices: torch.Tensor, ang: torch.Tensor, rot: dict, maps=None
) -> torch.Tensor:
    """``coil[slices]`` rotated by ``ang``, each distinct slice upsampled once.

    Args:
        coil: Complex coil images ``(B, C, H, W)``.
        slices: ``(P,)`` slice index per pair.
        ang: ``(P,)`` angles in degrees.
        rot: Keyword arguments of :func:`~advrecon.attacks.geometry.rotate`.
        maps: ``None`` (the coil images turn) or fixed coil maps ``(B, C, H, W)``: the object
            turns inside them (:func:`~advrecon.attacks.fixed_coils.move_in_fixed_coils`).

    Returns:
        ``(P, C, H, W)`` complex.
    """
    uniq, inv = torch.unique(slices, return_inverse=True)
    if maps is None:
        return rotate(coil[uniq], ang, index=inv, **rot)
    return move_in_fixed_coils(coil[slices], maps[slices], lambda x: rotate(x, ang, **rot))


def fixed_coil_maps(kspace: torch.Tensor, mask: torch.Tensor, nlf) -> torch.Tensor:
    """Coil maps ``(B, C, H, W)`` for ``coils="fixed"``, estimated from the fully-sampled
    k-space's ACS band (:func:`advrecon.sensitivity.acs_sensitivity_maps`, Hann-tapered):
    the calibration width of the undersampling mask (``num_low_frequencies``, or fastMRI's
    rule on the mask when it is ``None``), i.e. the band a scanner would calibrate from."""
    return acs_sensitivity_maps(kspace, mask, nlf)
