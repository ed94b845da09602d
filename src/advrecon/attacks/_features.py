"""Small image features inside a box: shapes, placement, adding them to k-space, measures.

Shared by the missing-feature (:mod:`.feature`) and hallucination (:mod:`.hallucination`)
threat models. A feature is a real patch ``q`` ``(n, s, s)`` (amplitude, image intensity units)
on a shape mask ``(s, s)`` placed with its top-left corner at ``pos = (row, col)`` in the
reconstruction frame ``(h, w)``.

Adding a feature to the acquisition (fixed coils, the feature has the tissue's phase): with
coil maps ``S`` from the fully-sampled ACS band (:func:`advrecon.sensitivity.acs_sensitivity_maps`)
and the object ``x = S^H c`` (``c`` the coil images), the feature ``F`` is added to the object
with the object's own local phase, ``x' = x + F e^{i angle(x)}``, and the coils see
``c' = c + S (x' - x)`` (:func:`advrecon.attacks.fixed_coils.move_in_fixed_coils`); so
``k' = k + fft2c(S F e^{i angle(x)})``, linear in ``F``. Where ``sum_i |S_i|^2 = 1`` the
root-sum-of-squares image grows by exactly ``F``: the feature's contrast is a change of the
magnitude image, comparable with the tissue's mean intensity.

Measures of a reconstruction ``r`` against the same reconstruction without the feature ``r0``
(``D = r - r0``):

* ``recovered = <D, F> / ||F||^2`` -- the fraction of the feature's energy that the
  reconstruction shows (1: all of it, 0: none, negative: inverted);
* ``contrast = <D, F> / sum(F)`` -- the feature-weighted mean change (intensity units);
* ``cnr = contrast / sigma_img`` with :func:`image_noise_std` -- contrast-to-noise ratio against
  the thermal noise of the magnitude image (Rose criterion: visible when above about 3-5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.boxes import Box
from advrecon.errors import AdvreconError
from advrecon.mri import fft2c, ifft2c
from advrecon.sensitivity import acs_sensitivity_maps, coil_combine

__all__ = [
    "SHAPES",
    "shape_mask",
    "check_fits",
    "centre_position",
    "random_positions",
    "place",
    "box_mean",
    "object_phase",
    "add_feature",
    "recovered",
    "contrast",
    "image_noise_std",
    "measures",
    "item_seeds",
    "fixed_coil_maps",
]

SHAPES = ("disc", "square", "blob", "line")


def shape_mask(shape: str, size: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """``(size, size)`` 0/1 mask of a shape.

    ``disc`` / ``blob``: pixels whose centre is within ``size / 2`` of the patch centre;
    ``square``: every pixel; ``line``: a horizontal line of ``size`` pixels, 2 pixels thick
    (1 when ``size < 3``), in the middle rows.
    """
    if shape not in SHAPES:
        raise AdvreconError(f"feature shape must be one of {SHAPES}, got {shape!r}")
    if size < 1:
        raise AdvreconError(f"feature size must be >= 1 pixel, got {size}")
    r = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    if shape in ("disc", "blob"):
        m = (r[:, None] ** 2 + r[None, :] ** 2) <= (size / 2) ** 2
    elif shape == "square":
        m = torch.ones(size, size, dtype=torch.bool, device=device)
    else:
        m = torch.zeros(size, size, dtype=torch.bool, device=device)
        rows = [size // 2] if size < 3 else [(size - 1) // 2, (size - 1) // 2 + 1]
        m[rows, :] = True
    return m.to(dtype)


def check_fits(size: int, box: Box, key: str = "size") -> None:
    """A one-line error naming ``key`` when a ``size`` feature does not fit inside ``box``."""
    if size > box.width or size > box.height:
        raise AdvreconError(
            f"{key}: a {size} px feature does not fit inside box {box.as_tuple()} "
            f"('{box.label}', {box.width} x {box.height} px); choose a smaller size"
        )


def centre_position(boxes: Sequence[Box], size: int) -> torch.Tensor:
    """``(n, 2)`` long top-left ``(row, col)`` of a ``size`` patch centred in each box."""
    return torch.tensor(
        [[b.y + (b.height - size) // 2, b.x + (b.width - size) // 2] for b in boxes],
        dtype=torch.long,
    )


def random_positions(boxes: Sequence[Box], size: int, generators: Sequence) -> torch.Tensor:
    """``(n, 2)`` uniformly random top-left positions keeping the patch inside each box."""
    out = []
    for b, g in zip(boxes, generators, strict=True):
        u = torch.rand(2, generator=g, dtype=torch.float64, device=g.device).cpu()
        row = b.y + int(u[0] * (b.height - size + 1))
        col = b.x + int(u[1] * (b.width - size + 1))
        out.append([min(row, b.y + b.height - size), min(col, b.x + b.width - size)])
    return torch.tensor(out, dtype=torch.long)


def place(q: torch.Tensor, pos: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Patches ``q`` ``(n, s, s)`` at ``pos`` ``(n, 2)`` in zero images ``(n, H, W)``.

    Differentiable in ``q`` (an ``index_put`` of its values); the patch must lie inside.
    """
    n, s = q.shape[0], q.shape[-1]
    ar = torch.arange(s, device=q.device)
    pos = pos.to(q.device)
    rows = (pos[:, 0, None, None] + ar[None, :, None]).expand(n, s, s)
    cols = (pos[:, 1, None, None] + ar[None, None, :]).expand(n, s, s)
    items = torch.arange(n, device=q.device)[:, None, None].expand(n, s, s)
    out = q.new_zeros((n, int(shape[0]), int(shape[1])))
    return out.index_put((items, rows, cols), q)


def box_mean(target: torch.Tensor, boxes: Sequence[Box]) -> torch.Tensor:
    """``(n,)`` mean intensity of each target ``(n, h, w)`` inside its box."""
    return torch.stack([target[i][b.slices()].mean() for i, b in enumerate(boxes)])


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


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
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


def item_seeds(generator, n: int, k: int) -> torch.Tensor:
    """``(n, k)`` per-item seeds from a generator or int seed (``None``: fresh randomness);
    derived per item, so results do not depend on ``chunk_size``."""
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    if generator is None:
        return torch.randint(0, 2**62, (n, k))
    return torch.randint(0, 2**62, (n, k), generator=generator, device=generator.device).cpu()
