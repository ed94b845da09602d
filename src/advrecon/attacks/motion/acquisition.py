"""The multi-shot acquisition under inter-shot rigid motion: shots, and the moved k-space.

The sampled phase-encode columns (those the mask acquires inside
``[padding_left, padding_right)``; the others do not matter) are split into ``shots`` groups
(:func:`shot_index`):

* ``order="interleaved"``: the ``j``-th sampled column (left to right) goes to shot
  ``j % shots``; ``"sequential"``: contiguous blocks of (nearly) equal size;
* ``centre="reference"`` (default): the sampled columns of the fully-sampled centre band (the
  ``num_low_frequencies`` ACS band) are all acquired in shot 0, the reference shot that fixes
  contrast and position (as in a turbo-spin-echo knee scan where the centre is acquired at the
  effective echo time of the first shot); only the other columns are split by ``order``
  (shot 0 gets its share of them too). ``centre="distributed"``: the centre columns are split
  like every other column.

k-space of shot ``s`` is the k-space of the moved object (:func:`moved_kspace`): rotation = the
exact three-shear Fourier rotation (:func:`advrecon.attacks.geometry.rotate`, ``"fourier"``),
translation = an exact linear phase ``exp(-2 pi i (f_y t_y + f_x t_x))``
(:func:`translate_kspace`) -- both differentiable in the motion parameters. ``coils="move"``
(the paper's convention) moves the coil images, i.e. the coils move with the patient;
``coils="fixed"`` moves the object inside fixed coils
(:func:`advrecon.attacks.fixed_coils.move_in_fixed_coils`). A shot without motion keeps its
k-space bit for bit, so a zero bound gives the clean reconstruction exactly.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch

from advrecon.attacks._common import check_padding
from advrecon.attacks.fixed_coils import move_in_fixed_coils
from advrecon.attacks.geometry import rotate
from advrecon.errors import AdvreconError
from advrecon.models.varnet import num_low_frequencies_from_mask
from advrecon.mri import fft2c, ifft2c

__all__ = ["CENTRES", "COILS", "ORDERS", "moved_kspace", "shot_index", "translate_kspace"]

ORDERS = ("interleaved", "sequential")
CENTRES = ("reference", "distributed")
COILS = ("move", "fixed")


def shot_index(
    mask: torch.Tensor,
    shots: int,
    order: str = "interleaved",
    centre: str = "reference",
    num_low_frequencies=None,
    padding: Sequence[int] | None = None,
) -> torch.Tensor:
    """Shot of every phase-encode column (module docstring), ``-1`` where not acquired.

    Args:
        mask: ``(B or 1, 1, 1 or H, W)`` sampling mask.
        shots: Number of shots (>= 1).
        order: ``"interleaved"`` or ``"sequential"``.
        centre: ``"reference"`` (centre band in shot 0) or ``"distributed"``.
        num_low_frequencies: Centre band width (``int``, ``(B,)`` or ``None``: from the mask).
        padding: Acquired columns ``(left, right)``; ``None``: all.

    Returns:
        ``(B or 1, W)`` long.

    Raises:
        AdvreconError: a shot would get no column (more shots than sampled columns).
    """
    if order not in ORDERS or centre not in CENTRES:
        raise AdvreconError(f"order must be in {ORDERS} and centre in {CENTRES}")
    W = mask.shape[-1]
    left, right = check_padding(padding, W)
    cols = mask.reshape(mask.shape[0], -1, W)[:, 0] > 0  # (B, W)
    acq = torch.zeros(W, dtype=torch.bool, device=mask.device)
    acq[left:right] = True
    n_low = num_low_frequencies_from_mask(mask, num_low_frequencies).cpu()
    out = torch.full(cols.shape, -1, dtype=torch.long)
    for b in range(cols.shape[0]):
        sampled = (cols[b] & acq).cpu()
        n = int(n_low[min(b, n_low.numel() - 1)])
        pad = (W - n + 1) // 2
        band = torch.zeros(W, dtype=torch.bool)
        band[pad : pad + n] = True
        ref = sampled & band if centre == "reference" else torch.zeros_like(sampled)
        rest = torch.nonzero(sampled & ~ref).flatten()
        if rest.numel() < shots:
            where = "outside the centre band " if centre == "reference" else ""
            raise AdvreconError(
                f"shots (attacks.motion.shots) = {shots} is more than the {rest.numel()} "
                f"sampled phase-encode columns {where}of the mask: every shot needs a column"
            )
        j = torch.arange(rest.numel())
        shot = j % shots if order == "interleaved" else (j * shots) // rest.numel()
        out[b, rest] = shot
        out[b, ref] = 0
    return out.to(mask.device)


def translate_kspace(kspace: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Exact sub-pixel translation as a linear phase in centred k-space.

    Args:
        kspace: Complex ``(B, C, H, W)`` (``fft2c`` convention).
        shift: ``(B, 2)`` real ``(t_y, t_x)`` in pixels (rows, columns); whole pixels equal
            ``torch.roll`` of the image by ``(t_y, t_x)``.

    Returns:
        Complex ``(B, C, H, W)``; differentiable in ``shift``.
    """
    H, W = kspace.shape[-2:]
    fy = torch.fft.fftshift(torch.fft.fftfreq(H, device=kspace.device, dtype=torch.float64))
    fx = torch.fft.fftshift(torch.fft.fftfreq(W, device=kspace.device, dtype=torch.float64))
    s = shift.to(torch.float64)
    phase = fy[None, :, None] * s[:, 0, None, None] + fx[None, None, :] * s[:, 1, None, None]
    ramp = torch.polar(torch.ones_like(phase), -2.0 * math.pi * phase)
    return kspace * ramp[:, None].to(kspace.dtype)


def _rotate(x: torch.Tensor, theta: torch.Tensor, pad_deg: float) -> torch.Tensor:
    """Exact Fourier rotation, differentiable in ``theta`` (``rotate`` reads the largest angle
    as a float for its padding, which warns for a tensor that requires grad: harmless here,
    the padding is fixed by ``pad_deg``)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Converting a tensor with requires_grad", UserWarning)
        return rotate(x, theta, "fourier", max_abs_deg=pad_deg)


def _move_object(obj: torch.Tensor, params: torch.Tensor, pad_deg: float) -> torch.Tensor:
    """Rotate then translate complex images ``(P, K, H, W)`` by ``params`` ``(P, 3)``."""
    rot = _rotate(obj, params[:, 0], pad_deg)
    return ifft2c(translate_kspace(fft2c(rot), params[:, 1:]))


def moved_kspace(
    kspace: torch.Tensor,
    params: torch.Tensor,
    shots: torch.Tensor,
    maps: torch.Tensor | None = None,
    pad_deg: float | None = None,
) -> torch.Tensor:
    """Fully-sampled k-space where every column comes from the object moved by its shot.

    Args:
        kspace: Complex ``(n, C, H, W)``, fully sampled.
        params: ``(n, S, 3)`` real ``(theta_deg, t_y, t_x)`` per shot (pixels).
        shots: ``(n or 1, W)`` long shot of every column (:func:`shot_index`; ``-1``: kept).
        maps: ``None``: the coils move with the object (coil images rotated and shifted);
            else ``(n, C, H, W)`` fixed sensitivity maps (the object moves inside them).
        pad_deg: Largest angle the Fourier rotation's padding allows for (default: the
            largest of ``params``); fix it for results independent of the batch.

    Returns:
        Complex ``(n, C, H, W)``: the columns of a shot without motion, and the columns of no
        shot, are ``kspace``'s own values bit for bit.
    """
    n, W = params.shape[0], kspace.shape[-1]
    still = (params == 0).all(dim=-1)  # (n, S)
    moving = torch.nonzero(~still)  # (P, 2) pairs (item, shot)
    if moving.numel() == 0:
        return kspace
    items, ss = moving[:, 0], moving[:, 1]
    p = params[items, ss]  # (P, 3)
    pad = float(params[..., 0].detach().abs().max()) if pad_deg is None else float(pad_deg)
    coil = ifft2c(kspace[items])
    if maps is None:
        rot = _rotate(coil, p[:, 0], pad)
        k_moved = translate_kspace(fft2c(rot), p[:, 1:])
    else:
        moved = move_in_fixed_coils(coil, maps[items], lambda x: _move_object(x, p, pad))
        k_moved = fft2c(moved)
    sh = shots if shots.shape[0] == n else shots.expand(n, W)
    sel = (sh[items] == ss[:, None])[:, None, None, :]  # (P, 1, 1, W): the pair's columns
    # every column belongs to one shot: summing the pairs' columns places each moved column
    hits = torch.zeros((n, 1, 1, W), dtype=kspace.real.dtype, device=kspace.device)
    replaced = hits.index_add(0, items, sel.to(hits.dtype)) > 0
    acc = torch.zeros_like(kspace).index_add(0, items, torch.where(sel, k_moved, 0))
    return torch.where(replaced, acc, kspace)
