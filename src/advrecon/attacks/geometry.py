"""In-plane image rotations, batched over angles, for complex coil images and real images.

Convention: a positive angle (degrees) rotates the image content counter-clockwise as displayed
(row 0 at the top), i.e. ``rotate(x, 90)`` equals ``torch.rot90(x, 1, dims=(-2, -1))`` for a
square image; this is torchvision's ``rotate`` convention. The centre of rotation is the
pixel-grid centre ``((H-1)/2, (W-1)/2)``.

Two interpolations:

* ``"paper"`` -- the pipeline of the paper's public code (Morshuis et al. 2022, torchvision 0.13
  on tensors), real and imaginary parts of every coil as channels:

  1. resize to ``2H x 2W``, bicubic (``align_corners=False``; no antialiasing: torchvision 0.13
     did none for tensors);
  2. reflect-pad by ``(ph, pw)`` (:func:`paper_padding`): the bounding box of the original and
     the rotated corners of the upsampled image, ``pad = floor((bbox - size) / 2)`` clipped to
     ``[0, size - 1]`` -- so corners entering the view show plausible anatomy, not zeros;
  3. rotate by ``theta`` about the centre, bilinear, zeros outside (``expand=False``);
  4. centre-crop back to ``2H x 2W``; 5. resize to ``H x W``, bicubic, no antialiasing.

  Steps 3-4 are one ``grid_sample`` evaluated on the crop only. The padding depends on each
  item's own angle (as in the authors' code); a batch is padded to its largest padding and
  each item's pixels beyond its own padding are zeroed, which is exactly the authors' result.
  Not invertible: ``R(-t) R(t) x`` is a blurred ``x``. Angle 0 still resamples (upsample +
  downsample blur x slightly), as the authors' code does; ``identity_at_zero=True`` returns the
  input unchanged at angle 0 instead (an explicit option, off by default).
* ``"fourier"`` -- exact three-shear rotation (Unser et al. 1995, Larkin et al. 1997):
  ``R(t) = Sx(tan(t/2)) Sy(-sin t) Sx(tan(t/2))``, each shear a per-row (per-column) sub-pixel
  shift done with a linear phase in the 1-D FFT (sinc interpolation, no blur). Each shear is
  unitary and undone exactly by the opposite shear, so ``R(-t) R(t) x = x`` up to round-off
  inside the field of view. The image is zero-padded to an odd size large enough that no
  intermediate shear wraps around (odd: no Nyquist bin, so real images stay real). Angle 0
  returns the input unchanged. Its padding depends on the largest angle of the call; pass
  ``max_abs_deg`` (the largest angle of a whole sweep) to make the result of an item
  independent of the other items in its batch.

The two pipelines are :mod:`advrecon.attacks.paper_rotation` and
:mod:`advrecon.attacks.fourier_rotation`; this module is their common interface
(:func:`rotate`, :func:`prepare_rotation`) and the field-of-view mask (:func:`validity_mask`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from advrecon.attacks.fourier_rotation import FourierPlan, fourier_plan
from advrecon.attacks.paper_rotation import PaperPlan, paper_padding, paper_plan
from advrecon.errors import AdvreconError

__all__ = [
    "INTERPOLATIONS",
    "PreparedRotation",
    "paper_padding",
    "prepare_rotation",
    "rotate",
    "validity_mask",
]

INTERPOLATIONS = ("paper", "fourier")


def _as_angles(theta_deg, batch: int, device) -> torch.Tensor:
    t = torch.as_tensor(theta_deg, dtype=torch.float64).to(device)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise AdvreconError(f"expected one angle per image ({batch}), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise AdvreconError(f"rotation angles must be finite, got {t.tolist()}")
    return t


def _as_index(index, sources: int, device) -> torch.Tensor | None:
    if index is None:
        return None
    idx = torch.as_tensor(index, device=device)
    if idx.ndim != 1 or idx.dtype.is_floating_point or idx.is_complex():
        raise AdvreconError(
            f"index must be a 1-D integer tensor, got shape {tuple(idx.shape)} of {idx.dtype}"
        )
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= sources):
        raise AdvreconError(f"index values must lie in [0, {sources}), got {idx.tolist()}")
    return idx.long()


def _max_abs_rad(theta: torch.Tensor, max_abs_deg: float | None) -> float:
    m = float(theta.abs().max()) if theta.numel() else 0.0
    if max_abs_deg is not None:
        m = max(m, abs(float(max_abs_deg)))
    return math.radians(m)


def rotate(
    x: torch.Tensor,
    theta_deg,
    method: str = "paper",
    *,
    max_abs_deg: float | None = None,
    identity_at_zero: bool = False,
    index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Rotate each image of a batch by its own angle.

    Args:
        x: Images ``(S, ..., H, W)``, complex (coil images) or real.
        theta_deg: Angles in degrees, scalar or ``(B,)``.
        method: ``"paper"`` or ``"fourier"`` (see module docstring).
        max_abs_deg: ``"fourier"`` only: largest angle the padding must accommodate (default:
            the largest in ``theta_deg``); fix it across chunks for batch-independent results.
            (``"paper"`` pads per angle and is batch independent without it.)
        identity_at_zero: ``"paper"`` only: return items with angle exactly 0 unchanged instead
            of resampling them like the authors' pipeline does (default ``False``: resample).
            ``"fourier"`` always returns angle 0 unchanged.
        index: Optional ``(B,)`` integer tensor: output item ``b`` is ``x[index[b]]`` rotated
            by ``theta_deg[b]``, so that many angles of one image share its 2x upsampling
            (default: ``B = S``, item ``b`` is ``x[b]``).

    Returns:
        Rotated images ``(B, ..., H, W)``, same dtype as ``x``.
    """
    if method not in INTERPOLATIONS:
        raise AdvreconError(f"interpolation must be one of {INTERPOLATIONS}, got {method!r}")
    if x.ndim < 3:
        raise AdvreconError(f"rotate expects (B, ..., H, W), got {tuple(x.shape)}")
    idx = _as_index(index, x.shape[0], x.device)
    B = x.shape[0] if idx is None else idx.numel()
    theta = _as_angles(theta_deg, B, x.device)
    if B == 0:
        return (x if idx is None else x[idx]).clone()
    plan = prepare_rotation(
        x, theta, method, max_abs_deg=max_abs_deg, identity_at_zero=identity_at_zero
    )
    return plan(theta, idx)


@dataclass(frozen=True)
class PreparedRotation:
    """Rotations of one batch of source images by many angles, sharing the angle-independent
    work (:func:`prepare_rotation`). Call it like :func:`rotate` without ``x``:
    ``prepared(theta_deg, index)`` equals ``rotate(x, theta_deg, index=index, ...)``."""

    source: torch.Tensor
    method: str
    identity_at_zero: bool
    max_abs_deg: float
    plan: PaperPlan | FourierPlan

    def __call__(self, theta_deg, index: torch.Tensor | None = None) -> torch.Tensor:
        """Rotated images ``(B, ..., H, W)``; arguments as in :func:`rotate`."""
        x = self.source
        idx = _as_index(index, x.shape[0], x.device)
        B = x.shape[0] if idx is None else idx.numel()
        theta = _as_angles(theta_deg, B, x.device)
        if B == 0:
            return (x if idx is None else x[idx]).clone()
        if float(theta.abs().max()) > self.max_abs_deg + 1e-9:
            raise AdvreconError(
                f"angle {float(theta.abs().max())} exceeds the {self.max_abs_deg} degrees the "
                "rotation was prepared for"
            )
        if self.method == "paper":
            out = self.plan.rotate(theta, idx)
            if not self.identity_at_zero:
                return out
        else:
            out = self.plan.rotate(theta * (math.pi / 180.0), idx)
        keep = (theta == 0).reshape(B, *([1] * (x.ndim - 1)))
        return torch.where(keep, x if idx is None else x[idx], out)


def prepare_rotation(
    x: torch.Tensor,
    theta_deg,
    method: str = "paper",
    *,
    max_abs_deg: float | None = None,
    identity_at_zero: bool = False,
) -> PreparedRotation:
    """Do the angle-independent part of rotating ``x`` once, for a whole grid of angles.

    ``paper``: the 2x bicubic upsampling and the reflect padding (wide enough for every angle
    of ``theta_deg``); ``fourier``: the zero padding (for ``max_abs_deg``, default the largest
    of ``theta_deg``) and the first shear's row FFTs. Results are bit-identical to
    :func:`rotate` (same operations on the same numbers), which uses this itself.

    Args:
        x: Source images ``(S, ..., H, W)``, complex or real.
        theta_deg: Every angle (degrees) the prepared rotation will be called with.
        method, max_abs_deg, identity_at_zero: As in :func:`rotate`.

    Returns:
        :class:`PreparedRotation`.
    """
    if method not in INTERPOLATIONS:
        raise AdvreconError(f"interpolation must be one of {INTERPOLATIONS}, got {method!r}")
    if x.ndim < 3:
        raise AdvreconError(f"rotate expects (B, ..., H, W), got {tuple(x.shape)}")
    theta = torch.as_tensor(theta_deg, dtype=torch.float64).reshape(-1).to(x.device)
    if not torch.isfinite(theta).all():
        raise AdvreconError(f"rotation angles must be finite, got {theta.tolist()}")
    top = math.degrees(_max_abs_rad(theta, max_abs_deg))
    if method == "paper":
        plan = paper_plan(x, theta)
        top = float(theta.abs().max()) if theta.numel() else 0.0
    else:
        plan = fourier_plan(x, math.radians(top))
    return PreparedRotation(x, method, identity_at_zero, top, plan)


def validity_mask(
    shape: tuple[int, int],
    theta_deg,
    *,
    threshold: float = 0.999,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Pixels that stay in the field of view when rotated by ``theta`` and back.

    A ones image is rotated forth and back with bilinear interpolation and zero padding (the
    same geometry for both interpolations); pixels below ``threshold`` left the view.

    Args:
        shape: Image size ``(h, w)``.
        theta_deg: ``(B,)`` angles in degrees.
        threshold: Minimum value of the rotated-back ones image.
        device: Device of the result.

    Returns:
        Boolean ``(B, h, w)``.
    """
    theta = torch.as_tensor(theta_deg, dtype=torch.float64, device=device).reshape(-1)
    B = theta.shape[0]
    h, w = int(shape[0]), int(shape[1])
    ones = torch.ones((B, 1, h, w), dtype=torch.float64, device=device)

    def _rot(img, rad):
        cos, sin = torch.cos(rad), torch.sin(rad)
        zero = torch.zeros_like(cos)
        A = torch.stack(
            [
                torch.stack([cos, -sin * (h / w), zero], -1),
                torch.stack([sin * (w / h), cos, zero], -1),
            ],
            dim=-2,
        )
        grid = F.affine_grid(A, [B, 1, h, w], align_corners=False)
        return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    rad = theta * (math.pi / 180.0)
    back = _rot(_rot(ones, rad), -rad)[:, 0]
    keep = (theta == 0)[:, None, None]
    return (back >= threshold) | keep
