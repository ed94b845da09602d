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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

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
    plan: object

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
        plan = _paper_plan(x, theta)
        top = float(theta.abs().max()) if theta.numel() else 0.0
    else:
        plan = _fourier_plan(x, math.radians(top))
    return PreparedRotation(x, method, identity_at_zero, top, plan)


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


def paper_padding(height: int, width: int, theta_deg) -> tuple[torch.Tensor, torch.Tensor]:
    """Reflect padding of the authors' pipeline for an (upsampled) ``height x width`` image.

    The corners ``(+-height/2, +-width/2)`` are rotated by ``theta``; the bounding box of the
    original and rotated corners is ``bbox_h = max(h, h |cos t| + w |sin t|)`` and
    ``bbox_w = max(w, w |cos t| + h |sin t|)``; the padding is ``floor((bbox - size) / 2)``
    clipped to ``[0, size - 1]``, per axis. (Computed in float64; the authors' float32 can
    differ by one pixel only where ``(bbox - size) / 2`` is within ~1e-6 of an integer.)

    Args:
        height: Image height (``2H`` in the pipeline).
        width: Image width (``2W``).
        theta_deg: Angles in degrees, scalar or ``(B,)``.

    Returns:
        ``(pad_rows, pad_cols)``: ``(B,)`` long tensors (top = bottom, left = right).
    """
    t = torch.as_tensor(theta_deg, dtype=torch.float64).reshape(-1) * (math.pi / 180.0)
    c, s = torch.cos(t).abs(), torch.sin(t).abs()
    h, w = float(height), float(width)
    bbox_h = torch.clamp(h * c + w * s, min=h)
    bbox_w = torch.clamp(w * c + h * s, min=w)
    ph = torch.floor((bbox_h - h) / 2).clamp(0, height - 1).long()
    pw = torch.floor((bbox_w - w) / 2).clamp(0, width - 1).long()
    return ph, pw


def _own_padding_mask(ph, pw, size_h, size_w, big_h, big_w, dtype) -> torch.Tensor | None:
    """``(B, 1, size_h + 2 big_h, size_w + 2 big_w)`` 1 inside each item's own padding."""
    if bool((ph == big_h).all()) and bool((pw == big_w).all()):
        return None
    rows = torch.arange(size_h + 2 * big_h, device=ph.device)
    cols = torch.arange(size_w + 2 * big_w, device=ph.device)
    keep_r = (rows >= big_h - ph[:, None]) & (rows < big_h + size_h + ph[:, None])
    keep_c = (cols >= big_w - pw[:, None]) & (cols < big_w + size_w + pw[:, None])
    return (keep_r[:, None, :, None] & keep_c[:, None, None, :]).to(dtype)


def _rotation_grid(theta: torch.Tensor, out_h: int, out_w: int, in_h: int, in_w: int, dtype):
    """``grid_sample`` grid (``align_corners=False``) of a rotation about the common centre.

    Output pixel ``(i, j)`` (offsets ``y = i - (out_h-1)/2``, ``x = j - (out_w-1)/2`` from the
    centre) samples the input at offsets ``(cos t x - sin t y, sin t x + cos t y)`` from the
    input's centre: torchvision's ``rotate`` (counter-clockwise as displayed, centre
    ``(size-1)/2``). Normalised coordinates are ``2 * offset / size``.

    Returns:
        ``(B, out_h, out_w, 2)`` grid in ``dtype``.
    """
    rad = theta * (math.pi / 180.0)
    cos, sin = torch.cos(rad)[:, None, None], torch.sin(rad)[:, None, None]
    ys = (torch.arange(out_h, dtype=torch.float64, device=theta.device) - (out_h - 1) / 2)[
        None, :, None
    ]
    xs = (torch.arange(out_w, dtype=torch.float64, device=theta.device) - (out_w - 1) / 2)[
        None, None, :
    ]
    u = (cos * xs - sin * ys) * (2.0 / in_w)
    v = (sin * xs + cos * ys) * (2.0 / in_h)
    return torch.stack([u, v], dim=-1).to(dtype)


@dataclass(frozen=True)
class _PaperPlan:
    """Steps 1-2 of the ``paper`` pipeline done once: the 2x bicubic upsampling of each source
    image, reflect-padded by the largest padding any angle of the plan needs.

    Attributes:
        up: Real ``(S, K, 2H + 2 big_h, 2W + 2 big_w)`` (complex parts as channels).
        big_h, big_w: Paddings of ``up``.
        shape: Shape of the source batch ``(S, ..., H, W)``; complex_: whether it is complex.
    """

    up: torch.Tensor
    big_h: int
    big_w: int
    shape: tuple
    complex_: bool

    def rotate(self, theta: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        """Steps 2-5 for ``(B,)`` angles (degrees); ``index``: source of each item.

        The batch is padded to its own largest padding (a view of ``up``: reflect padding
        does not depend on its width), each item zeroed beyond its own padding, so the result
        does not depend on the plan's padding.
        """
        H, W = self.shape[-2], self.shape[-1]
        H2, W2 = 2 * H, 2 * W
        ph, pw = paper_padding(H2, W2, theta)
        bh = int(ph.max()) if ph.numel() else 0
        bw = int(pw.max()) if pw.numel() else 0
        if bh > self.big_h or bw > self.big_w:
            raise AdvreconError("an angle exceeds the largest angle the rotation was prepared for")
        up = self.up[
            ..., self.big_h - bh : self.big_h + H2 + bh, self.big_w - bw : self.big_w + W2 + bw
        ]
        if index is not None:
            one = index.numel() and bool((index == index[0]).all())
            up = up[index[:1]].expand(index.numel(), *up.shape[1:]) if one else up[index]
        own = _own_padding_mask(ph, pw, H2, W2, bh, bw, up.dtype)
        if own is not None:
            up = up * own
        # 3.-4. bilinear rotation with zeros outside, evaluated on the central 2H x 2W crop only
        grid = _rotation_grid(theta, H2, W2, up.shape[-2], up.shape[-1], up.dtype)
        rot = F.grid_sample(up, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        # 5. bicubic downsampling back to H x W
        down = F.interpolate(rot, size=(H, W), mode="bicubic", align_corners=False, antialias=False)
        return _from_channels(down, (theta.numel(), *self.shape[1:]), self.complex_)


def _paper_plan(x: torch.Tensor, theta: torch.Tensor) -> _PaperPlan:
    """Steps 1-2 (module docstring) of ``x`` ``(S, ..., H, W)``, padded for every angle of
    ``theta`` (degrees, any shape; the padding is not monotone in the angle)."""
    r, shape = _to_channels(x)  # (S, K, H, W)
    H2, W2 = 2 * shape[-2], 2 * shape[-1]
    # 1. bicubic 2x upsampling, once per source image
    up = F.interpolate(r, size=(H2, W2), mode="bicubic", align_corners=False, antialias=False)
    # 2. reflect padding wide enough for every angle (each batch takes its own view of it)
    ph, pw = paper_padding(H2, W2, theta.reshape(-1))
    big_h = int(ph.max()) if ph.numel() else 0
    big_w = int(pw.max()) if pw.numel() else 0
    if big_h or big_w:
        up = F.pad(up, (big_w, big_w, big_h, big_h), mode="reflect")
    return _PaperPlan(up, big_h, big_w, tuple(shape), x.is_complex())


def _ramp(amount: torch.Tensor, lines: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """Phase ramp ``(B, 1, L1, L2)`` shifting line ``j`` by ``amount * lines[j]`` along ``dim``.

    Args:
        amount: ``(B,)`` shear factor.
        lines: Offsets of the lines from the shear centre (index along the other axis).
        n: Length along ``dim``.
        dim: ``-1`` (x-shear: shift rows along columns) or ``-2`` (y-shear).
    """
    freq = torch.fft.fftfreq(n, device=lines.device, dtype=lines.dtype)
    shift = amount.to(lines.dtype)[:, None] * lines[None, :]  # (B, lines)
    if dim == -1:
        phase = shift[:, :, None] * freq[None, None, :]  # (B, L1, L2)
    else:
        phase = freq[None, :, None] * shift[:, None, :]  # (B, L1, L2)
    return torch.polar(torch.ones_like(phase), -2.0 * math.pi * phase).unsqueeze(1)


def _shear(x: torch.Tensor, amount: torch.Tensor, lines: torch.Tensor, dim: int) -> torch.Tensor:
    """Shift line ``j`` of complex ``x`` ``(B, K, L1, L2)`` by ``amount * lines[j]`` along
    ``dim`` (sinc interpolation: a linear phase in the 1-D FFT); see :func:`_ramp`."""
    ramp = _ramp(amount, lines, x.shape[dim], dim)
    return torch.fft.ifft(torch.fft.fft(x, dim=dim) * ramp, dim=dim)


@dataclass(frozen=True)
class _FourierPlan:
    """What the three shears of every angle share, computed once.

    The zero padding (module docstring) is fixed by the largest angle; the first x-shear only
    moves the ``H`` rows that hold the image (the padding rows stay zero), and their 1-D FFT
    along the columns is the same for every angle, so it is done here once.

    Attributes:
        spec: ``fft(padded rows, dim=-1)``, complex ``(S, K, H, W + px + pr)``.
        px, py, pb: Left, top and bottom padding.
        shape, complex_, dtype: Shape, kind and dtype of the source batch.
    """

    spec: torch.Tensor
    px: int
    py: int
    pb: int
    shape: tuple
    complex_: bool
    dtype: torch.dtype

    def rotate(self, rad: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
        """Rotate by ``rad`` ``(B,)`` radians; ``index``: source of each item."""
        H, W = self.shape[-2], self.shape[-1]
        S, K, _, Wp = self.spec.shape
        B, py = rad.numel(), self.py
        Hp = H + py + self.pb
        rdtype = self.spec.real.dtype
        rows = torch.arange(py, py + H, device=rad.device, dtype=rdtype) - (py + (H - 1) / 2)
        cols = torch.arange(Wp, device=rad.device, dtype=rdtype) - (self.px + (W - 1) / 2)
        t, s = torch.tan(rad / 2), torch.sin(rad)
        spec = self.spec if index is None else self.spec[index]
        xp = spec.new_zeros((B, K, Hp, Wp))
        xp[..., py : py + H, :] = torch.fft.ifft(spec * _ramp(t, rows, Wp, -1), dim=-1)
        xp = _shear(xp, -s, cols, dim=-2)
        out = _shear(xp[..., py : py + H, :], t, rows, dim=-1)[..., self.px : self.px + W]
        out = out.reshape(B, *self.shape[1:])
        return out.to(self.dtype) if self.complex_ else out.real.to(self.dtype)


def _fourier_plan(x: torch.Tensor, max_rad: float) -> _FourierPlan:
    """Pad ``x`` ``(S, ..., H, W)`` for angles up to ``max_rad`` and FFT its rows once."""
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
    spec = torch.fft.fft(F.pad(xc, (px, pr)), dim=-1)
    return _FourierPlan(spec, px, py, pb, tuple(shape), x.is_complex(), x.dtype)


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
