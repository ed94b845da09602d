"""Image quality metrics: SSIM, PSNR, NMSE, MSE, batched, region-restricted, differentiable.

All metrics take real images ``(B, h, w)`` (prediction first, target second) and return one value
per item, shape ``(B,)``. They are written with torch ops only, so gradients flow to ``pred``
(the attacks maximise them).

SSIM equals ``skimage.metrics.structural_similarity(target, pred, data_range=R)`` with its
defaults: a uniform ``7 x 7`` window, ``K1 = 0.01``, ``K2 = 0.03``, sample covariance
(``NP / (NP - 1)``), and the mean of the SSIM map without the ``(win - 1) // 2`` border, i.e. over
the windows that lie completely inside the image (a "valid" convolution).

Region SSIM (:func:`region_ssim`) equals skimage's SSIM of the box crop: it is the mean of the
full image's valid SSIM map over the windows lying entirely inside the box. Boxes thinner than
the window are first grown to ``min_size`` pixels with :meth:`advrecon.boxes.Box.grow`.

Data range conventions (``R`` in SSIM's constants ``C1 = (K1 R)^2``, ``C2 = (K2 R)^2`` and in
PSNR) -- both are supported by :func:`data_range` and by every ``data_range`` argument:

* ``"max"``: ``R = target.max()``. fastMRI's ``evaluate.py`` uses this (per volume there; here
  per slice).
* ``"maxmin"``: ``R = target.max() - target.min()`` over the *whole* target image (also when a
  metric is restricted to a box). This is what the paper's code uses, and the default here.

For RSS targets (``min >= 0``, background close to 0) the two differ only slightly.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from advrecon.boxes import Box, region_mask

__all__ = [
    "DATA_RANGE_CONVENTIONS",
    "data_range",
    "ssim",
    "ssim_map",
    "region_ssim",
    "ssim_loss",
    "mse",
    "nmse",
    "psnr",
]

DATA_RANGE_CONVENTIONS = ("maxmin", "max")

DataRange = float | torch.Tensor | str


def data_range(target: torch.Tensor, convention: str = "maxmin") -> torch.Tensor:
    """Per-image data range of the target.

    Args:
        target: Real images ``(B, h, w)``.
        convention: ``"maxmin"`` (max - min, the paper's code) or ``"max"`` (max, fastMRI).

    Returns:
        Data range ``(B,)``, detached from the graph (it is a constant of the metric).
    """
    _check_images(target)
    flat = target.detach().flatten(1)
    if convention == "maxmin":
        return flat.amax(1) - flat.amin(1)
    if convention == "max":
        return flat.amax(1)
    raise ValueError(
        f"unknown data range convention {convention!r}; choose one of {DATA_RANGE_CONVENTIONS}"
    )


def ssim_map(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: DataRange = "maxmin",
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Valid-window SSIM map (skimage's map with the ``(win_size - 1) // 2`` border removed).

    Entry ``[b, i, j]`` is the SSIM of the window whose top-left pixel is ``(i, j)``.

    Args:
        pred: Reconstructions ``(B, h, w)``.
        target: Reference images ``(B, h, w)``.
        data_range: A float, a ``(B,)`` tensor, or a convention name (see :func:`data_range`).
        win_size: Odd side length of the uniform window.
        k1: Luminance constant.
        k2: Contrast constant.

    Returns:
        SSIM map ``(B, h - win_size + 1, w - win_size + 1)``.
    """
    _check_pair(pred, target)
    if win_size < 2 or win_size % 2 == 0:
        raise ValueError(f"win_size must be odd and >= 3, got {win_size}")
    h, w = target.shape[-2:]
    if h < win_size or w < win_size:
        raise ValueError(f"images of size {(h, w)} are smaller than the {win_size}px SSIM window")
    rng = _resolve_range(data_range, target).to(dtype=pred.dtype)[:, None, None]

    # Variances are shift invariant: subtract a per-image constant before forming the second
    # moments, so that E[x^2] - E[x]^2 cancels less precision in float32.
    shift = target.detach().mean(dim=(-2, -1), keepdim=True)
    x = target - shift
    y = pred - shift
    stats = torch.stack([x, y, x * x, y * y, x * y], dim=1)
    stats = F.avg_pool2d(stats, kernel_size=win_size, stride=1)
    ux, uy, uxx, uyy, uxy = stats.unbind(1)

    num = win_size * win_size
    cov_norm = num / (num - 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    mx = ux + shift
    my = uy + shift

    c1 = (k1 * rng) ** 2
    c2 = (k2 * rng) ** 2
    a1 = 2 * mx * my + c1
    a2 = 2 * vxy + c2
    b1 = mx * mx + my * my + c1
    b2 = vx + vy + c2
    return (a1 * a2) / (b1 * b2)


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: DataRange = "maxmin",
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """Structural similarity, equal to skimage's ``structural_similarity`` per image.

    Args:
        pred: Reconstructions ``(B, h, w)``.
        target: Reference images ``(B, h, w)``.
        data_range: A float, a ``(B,)`` tensor, or ``"maxmin"``/``"max"`` (computed from
            ``target``).
        win_size: Odd side length of the uniform window (skimage default 7).
        k1: Luminance constant (0.01).
        k2: Contrast constant (0.03).

    Returns:
        SSIM ``(B,)``.
    """
    return ssim_map(pred, target, data_range, win_size, k1, k2).mean(dim=(-2, -1))


def region_ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    boxes: Sequence[Box],
    data_range: DataRange = "maxmin",
    min_size: int = 7,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> tuple[torch.Tensor, list[bool]]:
    """SSIM restricted to one box per image, equal to skimage's SSIM of the box crop.

    Boxes are clipped to the image; a box with a side shorter than ``min_size`` is grown to
    ``min_size`` with :meth:`Box.grow` (around its center, shifted to stay inside the image).
    ``data_range`` conventions are evaluated on the whole target image, not on the crop.

    Args:
        pred: Reconstructions ``(B, h, w)``.
        target: Reference images ``(B, h, w)``.
        boxes: One :class:`Box` per image (recon frame).
        data_range: A float, a ``(B,)`` tensor, or ``"maxmin"``/``"max"``.
        min_size: Minimum box side for SSIM (at least ``win_size``).
        win_size: Odd window size.
        k1: Luminance constant.
        k2: Contrast constant.

    Returns:
        tuple containing:
            ssim: Region SSIM ``(B,)``.
            grown: For each image, whether its box had to be grown.
    """
    if min_size < win_size:
        raise ValueError(f"min_size {min_size} is smaller than the SSIM window {win_size}")
    smap = ssim_map(pred, target, data_range, win_size, k1, k2)
    shape = tuple(target.shape[-2:])
    used, grown = [], []
    for box in _clipped(boxes, shape, len(target)):
        small = box.width < min_size or box.height < min_size
        used.append(box.grow(min_size, shape) if small else box)
        grown.append(small)
    # a window starting at (i, j) lies inside the box iff y <= i <= y + height - win, same for x
    edge = win_size - 1
    starts = [Box(b.x, b.y, b.width - edge, b.height - edge) for b in used]
    weights = region_mask(starts, tuple(smap.shape[-2:]), device=smap.device).to(smap.dtype)
    value = (smap * weights).sum(dim=(-2, -1)) / weights.sum(dim=(-2, -1))
    return value, grown


def ssim_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: DataRange = "maxmin",
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """SSIM loss ``1 - mean_b SSIM_b`` (as fastMRI's ``SSIMLoss``), a scalar."""
    return 1.0 - ssim(pred, target, data_range, win_size, k1, k2).mean()


def mse(
    pred: torch.Tensor, target: torch.Tensor, boxes: Sequence[Box] | None = None
) -> torch.Tensor:
    """Mean squared error per image, optionally inside one box per image.

    Args:
        pred: Reconstructions ``(B, h, w)``.
        target: Reference images ``(B, h, w)``.
        boxes: Optional boxes (clipped to the image, never grown).

    Returns:
        MSE ``(B,)``.
    """
    _check_pair(pred, target)
    err = (pred - target) ** 2
    weights = _weights(boxes, target)
    if weights is None:
        return err.mean(dim=(-2, -1))
    return (err * weights).sum(dim=(-2, -1)) / weights.sum(dim=(-2, -1))


def nmse(
    pred: torch.Tensor, target: torch.Tensor, boxes: Sequence[Box] | None = None
) -> torch.Tensor:
    """Normalised MSE ``||target - pred||^2 / ||target||^2`` per image (fastMRI's NMSE).

    Args:
        pred: Reconstructions ``(B, h, w)``.
        target: Reference images ``(B, h, w)``.
        boxes: Optional boxes; both norms are then taken inside the box.

    Returns:
        NMSE ``(B,)``.
    """
    _check_pair(pred, target)
    err = (pred - target) ** 2
    ref = target**2
    weights = _weights(boxes, target)
    if weights is not None:
        err, ref = err * weights, ref * weights
    return err.sum(dim=(-2, -1)) / ref.sum(dim=(-2, -1))


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: DataRange = "maxmin",
    boxes: Sequence[Box] | None = None,
) -> torch.Tensor:
    """Peak signal-to-noise ratio ``10 log10(R^2 / MSE)`` in dB per image.

    Equals ``skimage.metrics.peak_signal_noise_ratio(target, pred, data_range=R)``.

    Args:
        pred: Reconstructions ``(B, h, w)``.
        target: Reference images ``(B, h, w)``.
        data_range: A float, a ``(B,)`` tensor, or ``"maxmin"``/``"max"`` (whole target image).
        boxes: Optional boxes; the MSE is then taken inside the box.

    Returns:
        PSNR ``(B,)`` (``inf`` where the error is zero).
    """
    err = mse(pred, target, boxes)
    rng = _resolve_range(data_range, target).to(dtype=err.dtype)
    return 10.0 * torch.log10(rng**2 / err)


# -- helpers ---------------------------------------------------------------------------------


def _check_images(x: torch.Tensor) -> None:
    if x.dim() != 3 or x.is_complex():
        raise ValueError(
            f"metrics expect real images of shape (B, h, w), got {'complex ' * x.is_complex()}"
            f"shape {tuple(x.shape)}"
        )


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    _check_images(pred)
    _check_images(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} shapes differ")


def _resolve_range(value: DataRange, target: torch.Tensor) -> torch.Tensor:
    """Float / (B,) tensor / convention name -> (B,) tensor on the target's device."""
    batch = target.shape[0]
    if isinstance(value, str):
        return data_range(target, value)
    rng = torch.as_tensor(value, device=target.device)
    if rng.dim() == 0:
        rng = rng.expand(batch)
    if rng.shape != (batch,):
        raise ValueError(
            f"data_range must be a float or a ({batch},) tensor, got {tuple(rng.shape)}"
        )
    if not rng.is_floating_point():
        rng = rng.to(target.dtype)
    return rng


def _clipped(boxes: Sequence[Box], shape: tuple[int, int], batch: int) -> list[Box]:
    boxes = list(boxes)
    if len(boxes) != batch:
        raise ValueError(f"got {len(boxes)} boxes for a batch of {batch} images")
    out = []
    for box in boxes:
        clipped = box.clip(shape)
        if clipped.is_empty:
            raise ValueError(f"box {box.as_tuple()} does not overlap the {shape} image")
        out.append(clipped)
    return out


def _weights(boxes: Sequence[Box] | None, target: torch.Tensor) -> torch.Tensor | None:
    if boxes is None:
        return None
    shape = tuple(target.shape[-2:])
    clipped = _clipped(boxes, shape, target.shape[0])
    return region_mask(clipped, shape, device=target.device).to(target.dtype)
