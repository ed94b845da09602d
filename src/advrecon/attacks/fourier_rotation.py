"""The ``fourier`` interpolation of :func:`advrecon.attacks.geometry.rotate`: the exact
three-shear rotation (Unser et al. 1995, Larkin et al. 1997).

``R(t) = Sx(tan(t/2)) Sy(-sin t) Sx(tan(t/2))``, each shear a per-row (per-column) sub-pixel
shift done with a linear phase in the 1-D FFT (sinc interpolation, no blur). The image is
zero-padded to an odd size large enough that no intermediate shear wraps around (odd: no Nyquist
bin, so real images stay real); the padding and the first shear's row FFTs are done once per
source batch (:func:`fourier_plan`), the shears per angle (:meth:`FourierPlan.rotate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["FourierPlan", "fourier_plan"]


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
class FourierPlan:
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


def fourier_plan(x: torch.Tensor, max_rad: float) -> FourierPlan:
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
    return FourierPlan(spec, px, py, pb, tuple(shape), x.is_complex(), x.dtype)
