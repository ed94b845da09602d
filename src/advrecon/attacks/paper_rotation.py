"""The ``paper`` interpolation of :func:`advrecon.attacks.geometry.rotate`: the pipeline of the
paper's public code (Morshuis et al. 2022, torchvision 0.13 on tensors).

Real and imaginary parts of every coil are channels: 1. resize to ``2H x 2W``, bicubic;
2. reflect-pad by :func:`paper_padding`; 3. rotate by ``theta`` about the centre, bilinear,
zeros outside; 4. centre-crop back to ``2H x 2W``; 5. resize to ``H x W``, bicubic (no
antialiasing anywhere). Steps 1-2 are done once per source image (:func:`paper_plan`), steps
3-5 per angle (:meth:`PaperPlan.rotate`); see :mod:`advrecon.attacks.geometry` for the details.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from advrecon.errors import AdvreconError

__all__ = ["PaperPlan", "paper_padding", "paper_plan"]


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
class PaperPlan:
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


def paper_plan(x: torch.Tensor, theta: torch.Tensor) -> PaperPlan:
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
    return PaperPlan(up, big_h, big_w, tuple(shape), x.is_complex())
