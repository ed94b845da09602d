"""In-plane image rotations, batched over angles, for complex coil images and real images.

Convention: a positive angle (degrees) rotates the image content counter-clockwise as displayed
(row 0 at the top), i.e. ``rotate(x, 90)`` equals ``torch.rot90(x, 1, dims=(-2, -1))`` for a
square image. The centre of rotation is the pixel-grid centre ``((H-1)/2, (W-1)/2)``.

Two interpolations:

* ``"paper"`` -- what the paper's public code does: 2x bicubic upsampling (so that bilinear
  interpolation of the rotation blurs less), reflect padding (so that corners entering the view
  are filled with plausible anatomy rather than zeros), bilinear rotation, crop, 2x downsampling
  (2x2 average, i.e. bilinear at scale 1/2). Real and imaginary parts are interpolated
  separately. Not invertible: ``R(-t) R(t) x`` is a blurred ``x``.
* ``"fourier"`` -- exact three-shear rotation (Unser et al. 1995, Larkin et al. 1997):
  ``R(t) = Sx(tan(t/2)) Sy(-sin t) Sx(tan(t/2))``, each shear a per-row (per-column) sub-pixel
  shift done with a linear phase in the 1-D FFT (sinc interpolation, no blur). Each shear is
  unitary and undone exactly by the opposite shear, so ``R(-t) R(t) x = x`` up to round-off
  inside the field of view. The image is zero-padded to an odd size large enough that no
  intermediate shear wraps around (odd: no Nyquist bin, so real images stay real).

Angle exactly 0 returns the input unchanged for both interpolations.

The padding depends on the largest angle of the call; pass ``max_abs_deg`` (the largest angle
of a whole sweep) to make the result of an item independent of the other items in its batch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from advrecon.errors import AdvreconError

__all__ = ["INTERPOLATIONS", "rotate", "validity_mask"]

INTERPOLATIONS = ("paper", "fourier")


def _as_angles(theta_deg, batch: int, device, dtype) -> torch.Tensor:
    t = torch.as_tensor(theta_deg, dtype=torch.float64).to(device)
    if t.ndim == 0:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise AdvreconError(f"expected one angle per image ({batch}), got {tuple(t.shape)}")
    return t


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
) -> torch.Tensor:
    """Rotate each image of a batch by its own angle.

    Args:
        x: Images ``(B, ..., H, W)``, complex (coil images) or real.
        theta_deg: Angles in degrees, scalar or ``(B,)``.
        method: ``"paper"`` or ``"fourier"`` (see module docstring).
        max_abs_deg: Largest angle the padding must accommodate (default: the largest in
            ``theta_deg``); fix it across chunks for batch-independent results.

    Returns:
        Rotated images, same shape and dtype as ``x``.
    """
    if method not in INTERPOLATIONS:
        raise AdvreconError(f"interpolation must be one of {INTERPOLATIONS}, got {method!r}")
    if x.ndim < 3:
        raise AdvreconError(f"rotate expects (B, ..., H, W), got {tuple(x.shape)}")
    B = x.shape[0]
    theta = _as_angles(theta_deg, B, x.device, x.dtype)
    rad = theta * (math.pi / 180.0)
    m = _max_abs_rad(theta, max_abs_deg)
    if method == "paper":
        out = _paper_rotate(x, rad, m)
    else:
        out = _fourier_rotate(x, rad, m)
    keep = (theta == 0).reshape(B, *([1] * (x.ndim - 1)))
    return torch.where(keep, x, out)


def _to_channels(x: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    """``(B, ..., H, W)`` real/complex -> real ``(B, K, H, W)``."""
    shape = x.shape
    if x.is_complex():
        r = torch.view_as_real(x)  # (B, ..., H, W, 2)
        r = r.movedim(-1, 1)  # (B, 2, ..., H, W)
    else:
        r = x.unsqueeze(1)
    return r.reshape(shape[0], -1, shape[-2], shape[-1]), shape


def _from_channels(r: torch.Tensor, shape: tuple, complex_: bool) -> torch.Tensor:
    if complex_:
        r = r.reshape(shape[0], 2, *shape[1:]).movedim(1, -1).contiguous()
        return torch.view_as_complex(r)
    return r.reshape(shape)


def _paper_rotate(x: torch.Tensor, rad: torch.Tensor, max_rad: float) -> torch.Tensor:
    r, shape = _to_channels(x)
    H, W = shape[-2], shape[-1]
    up = F.interpolate(r, scale_factor=2, mode="bicubic", align_corners=False)
    H2, W2 = 2 * H, 2 * W
    c, s = abs(math.cos(max_rad)), abs(math.sin(min(max_rad, math.pi / 2)))
    # Reflect padding large enough that every sampled point of the rotated view is inside.
    pw = min(int(math.ceil(max(c * W2 / 2 + s * H2 / 2 - W2 / 2, 0))) + 2, W2 - 1)
    ph = min(int(math.ceil(max(c * H2 / 2 + s * W2 / 2 - H2 / 2, 0))) + 2, H2 - 1)
    up = F.pad(up, (pw, pw, ph, ph), mode="reflect")
    Hp, Wp = up.shape[-2:]
    cos, sin = torch.cos(rad).to(r.dtype), torch.sin(rad).to(r.dtype)
    zero = torch.zeros_like(cos)
    # out(p) = in(M^-1 p), M = [[c, s], [-s, c]] in (column, row) pixel coordinates; scaled
    # to grid_sample's normalised coordinates of a non-square image.
    A = torch.stack(
        [
            torch.stack([cos, -sin * (Hp / Wp), zero], -1),
            torch.stack([sin * (Wp / Hp), cos, zero], -1),
        ],
        dim=-2,
    )
    grid = F.affine_grid(A, list(up.shape), align_corners=False)
    rot = F.grid_sample(up, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    rot = rot[..., ph : ph + H2, pw : pw + W2]
    down = F.avg_pool2d(rot, 2)
    return _from_channels(down, shape, x.is_complex())


def _shear(x: torch.Tensor, amount: torch.Tensor, center: float, dim: int) -> torch.Tensor:
    """Shift line ``j`` (index along the other axis) by ``amount * (j - center)`` along ``dim``.

    Args:
        x: Complex ``(B, K, L1, L2)``.
        amount: ``(B,)`` shear factor.
        center: Centre index on the other axis.
        dim: ``-1`` (x-shear: shift rows along columns) or ``-2`` (y-shear).
    """
    n = x.shape[dim]
    other = x.shape[-2] if dim == -1 else x.shape[-1]
    rdtype = x.real.dtype
    freq = torch.fft.fftfreq(n, device=x.device, dtype=rdtype)
    lines = torch.arange(other, device=x.device, dtype=rdtype) - center
    shift = amount.to(rdtype)[:, None] * lines[None, :]  # (B, other)
    if dim == -1:
        phase = shift[:, :, None] * freq[None, None, :]  # (B, L1, L2)
    else:
        phase = freq[None, :, None] * shift[:, None, :]  # (B, L1, L2)
    ramp = torch.polar(torch.ones_like(phase), -2.0 * math.pi * phase).unsqueeze(1)
    return torch.fft.ifft(torch.fft.fft(x, dim=dim) * ramp, dim=dim)


def _fourier_rotate(x: torch.Tensor, rad: torch.Tensor, max_rad: float) -> torch.Tensor:
    shape = x.shape
    H, W = shape[-2], shape[-1]
    xc = x if x.is_complex() else torch.complex(x, torch.zeros_like(x))
    xc = xc.reshape(shape[0], -1, H, W)
    m = min(max_rad, math.pi)
    tm = abs(math.tan(m / 2)) if m < math.pi else 1e6
    sm = 1.0 if m >= math.pi / 2 else math.sin(m)
    px = int(math.ceil(H / 2 * max(tm, sm))) + 2
    py = int(math.ceil(sm * (W / 2 + tm * H / 2))) + 2
    # Odd padded sizes: no Nyquist bin, so a real image stays real after the phase ramps.
    pr, pb = px + (W + 2 * px + 1) % 2, py + (H + 2 * py + 1) % 2
    xp = F.pad(xc, (px, pr, py, pb))
    cy, cx = py + (H - 1) / 2, px + (W - 1) / 2
    t = torch.tan(rad / 2)
    s = torch.sin(rad)
    xp = _shear(xp, t, cy, dim=-1)
    xp = _shear(xp, -s, cx, dim=-2)
    xp = _shear(xp, t, cy, dim=-1)
    out = xp[..., py : py + H, px : px + W].reshape(shape)
    if x.is_complex():
        return out.to(x.dtype)
    return out.real.to(x.dtype)


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
