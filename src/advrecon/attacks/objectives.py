"""Region masks, attack objectives and worst-case selection.

The region ``S`` of an attack is a :class:`~advrecon.boxes.Box` in the reconstruction frame
(``Box.full(recon_size)`` for the complete image). Boxes smaller than the 7x7 SSIM window are
grown symmetrically with :meth:`Box.grow` and that grown box is then the region for *every*
metric and for the objective, so that what is optimised is what is reported (``grown`` flags it).

Metrics are computed from per-pixel maps once per image and reduced with per-region weights, so
one reconstruction serves any number of boxes (the rotation sweep evaluates all boxes of a slice
from one forward pass):

* region SSIM equals ``skimage.metrics.structural_similarity(target_crop, pred_crop,
  data_range=dr)`` on the box crop (uniform 7x7 window, sample covariance, K1=0.01, K2=0.03):
  the SSIM map is computed in "valid" mode on the whole image and averaged over the window
  centres whose window lies inside the box, which is exactly the set skimage averages over;
* ``data_range`` is taken from the whole target image, ``max - min`` ("maxmin", default) or
  ``max`` ("max");
* MSE / NMSE / PSNR use the pixels of the box.

An optional validity mask (rotation: pixels that left the field of view) excludes pixels: MSE and
NMSE average over valid pixels, SSIM averages over window centres that are valid, with invalid
prediction pixels replaced by the target so that out-of-view content cannot enter a window. With
an all-true mask the results equal the unmasked ones. Statistics are accumulated in float64.

Objectives (to maximise): ``"mse"`` (region MSE, the paper's default), ``"ssim"`` (``1 - SSIM``),
``"mse_ssim"`` (``MSE / MSE_0 + 1 - SSIM``, ``MSE_0`` the MSE of the first iterate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from advrecon import metrics as _metrics
from advrecon.boxes import Box
from advrecon.errors import AdvreconError

__all__ = [
    "OBJECTIVES",
    "SELECT_BY",
    "WIN_SIZE",
    "Regions",
    "ErrorMaps",
    "data_range",
    "make_regions",
    "error_maps",
    "reduce_maps",
    "region_metrics",
    "box_metrics",
    "objective_value",
    "worst_index",
]

OBJECTIVES = ("mse", "ssim", "mse_ssim")
SELECT_BY = ("mse", "ssim", "psnr")
WIN_SIZE = 7
_K1, _K2 = 0.01, 0.03


def data_range(target: torch.Tensor, convention: str = "maxmin") -> torch.Tensor:
    """Data range of each whole target image.

    Args:
        target: Real images ``(B, h, w)``.
        convention: ``"maxmin"`` (``max - min``, skimage's choice for float images when given
            explicitly by fastMRI) or ``"max"`` (fastMRI's ``max_value``).

    Returns:
        ``(B,)`` tensor, same dtype as ``target`` (:func:`advrecon.metrics.data_range`).
    """
    if convention not in ("maxmin", "max"):
        raise AdvreconError(f"data_range must be 'maxmin' or 'max', got {convention!r}")
    return _metrics.data_range(target, convention)


@dataclass(frozen=True)
class Regions:
    """Per-item region weights.

    Attributes:
        boxes: The regions actually used (after growth to the SSIM window).
        grown: Whether each box was grown.
        pixel: ``(N, h, w)`` float, 1 inside the box (MSE, NMSE, PSNR).
        center: ``(N, h - 6, w - 6)`` float, 1 at the SSIM window centres inside the box.
    """

    boxes: tuple[Box, ...]
    grown: tuple[bool, ...]
    pixel: torch.Tensor
    center: torch.Tensor

    def __len__(self) -> int:
        return len(self.boxes)

    def take(self, index: Sequence[int] | range) -> Regions:
        """Subset of the items ``index`` (used for chunking)."""
        idx = list(index)
        t = torch.tensor(idx, dtype=torch.long, device=self.pixel.device)
        return Regions(
            tuple(self.boxes[i] for i in idx),
            tuple(self.grown[i] for i in idx),
            self.pixel[t],
            self.center[t],
        )


def make_regions(
    boxes: Sequence[Box],
    shape: Sequence[int],
    *,
    win_size: int = WIN_SIZE,
    device: torch.device | str | None = None,
) -> Regions:
    """Validate boxes, grow small ones to the SSIM window and build region weights.

    Args:
        boxes: One box per item, in the reconstruction frame.
        shape: Image size ``(h, w)``.
        win_size: SSIM window (7).
        device: Device of the weight tensors.

    Returns:
        :class:`Regions` with ``N = len(boxes)`` items.

    Raises:
        AdvreconError: A box is empty or not inside the image, or the image is smaller than
            the SSIM window.
    """
    h, w = int(shape[0]), int(shape[1])
    if h < win_size or w < win_size:
        raise AdvreconError(
            f"the reconstruction {h}x{w} is smaller than the {win_size}x{win_size} SSIM window"
        )
    pad = (win_size - 1) // 2
    pixel = torch.zeros((len(boxes), h, w), device=device)
    center = torch.zeros((len(boxes), h - 2 * pad, w - 2 * pad), device=device)
    used, grown = [], []
    for i, box in enumerate(boxes):
        if box.is_empty:
            raise AdvreconError(f"box {box.as_tuple()} (x, y, width, height) is empty")
        if not box.inside((h, w)):
            raise AdvreconError(
                f"box {box.as_tuple()} (x, y, width, height) is not inside the {h}x{w} "
                "reconstruction"
            )
        g = box.grow(win_size, (h, w))
        used.append(g)
        grown.append(g.as_tuple() != box.as_tuple())
        rows, cols = g.slices()
        pixel[i, rows, cols] = 1.0
        center[i, g.y : g.y + g.height - 2 * pad, g.x : g.x + g.width - 2 * pad] = 1.0
    return Regions(tuple(used), tuple(grown), pixel, center)


@dataclass
class ErrorMaps:
    """Per-pixel maps from which all region metrics are reduced (float64).

    Attributes:
        sq_err: ``(B, h, w)`` squared error.
        target_sq: ``(B, h, w)`` squared target (NMSE denominator).
        valid: ``(B, h, w)`` validity (1 everywhere without a mask).
        ssim: ``(B, h - 6, w - 6)`` SSIM map at the window centres ("valid" mode).
        valid_center: ``(B, h - 6, w - 6)`` validity of the window centres.
        data_range: ``(B,)`` data range.
    """

    sq_err: torch.Tensor
    target_sq: torch.Tensor
    valid: torch.Tensor
    ssim: torch.Tensor
    valid_center: torch.Tensor
    data_range: torch.Tensor


def error_maps(
    pred: torch.Tensor,
    target: torch.Tensor,
    data_range: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    win_size: int = WIN_SIZE,
) -> ErrorMaps:
    """Squared-error and SSIM maps (differentiable with respect to ``pred``).

    Args:
        pred: Reconstructions ``(B, h, w)`` real.
        target: Targets ``(B, h, w)`` or ``(1, h, w)``.
        data_range: ``(B,)`` or ``(1,)``.
        valid: Optional boolean/float validity ``(B, h, w)``.
        win_size: SSIM window.

    Returns:
        :class:`ErrorMaps` in float64.
    """
    x = pred.to(torch.float64)
    y = target.to(torch.float64).expand_as(x)
    dr = data_range.to(torch.float64).reshape(-1, 1, 1).expand(x.shape[0], 1, 1)
    if valid is None:
        v = torch.ones_like(x)
    else:
        v = valid.to(torch.float64).expand_as(x)
        x = torch.where(v > 0, x, y)
    pad = (win_size - 1) // 2
    # the valid-window SSIM map of advrecon.metrics (skimage-equivalent), in float64
    ssim = _metrics.ssim_map(x, y.contiguous(), dr.reshape(-1), win_size=win_size, k1=_K1, k2=_K2)
    vc = v[:, pad : v.shape[1] - pad, pad : v.shape[2] - pad]
    return ErrorMaps((x - y) ** 2, y * y, v, ssim, vc, dr.reshape(-1))


def _weighted_mean(values, weights, mask, pairwise: bool) -> torch.Tensor:
    eq = "bhw,nhw->nb" if pairwise else "nhw,nhw->n"
    w = weights.to(values.dtype)
    num = torch.einsum(eq, values * mask, w)
    den = torch.einsum(eq, mask, w)
    # A region entirely outside the valid area: fall back to all of its pixels.
    num_all = torch.einsum(eq, values, w)
    den_all = torch.einsum(eq, torch.ones_like(mask), w)
    empty = den <= 0
    return torch.where(empty, num_all / den_all.clamp_min(1.0), num / den.clamp_min(1e-300))


def reduce_maps(maps: ErrorMaps, regions: Regions, *, pairwise: bool = False) -> dict:
    """Reduce error maps over regions.

    Args:
        maps: From :func:`error_maps`, batch ``B``.
        regions: ``N`` regions; with ``pairwise=False`` ``N == B`` (item ``i`` with region
            ``i``), with ``pairwise=True`` every image against every region.
        pairwise: See above.

    Returns:
        Dict with ``"mse"``, ``"nmse"``, ``"psnr"``, ``"ssim"``: ``(B,)`` float64 tensors, or
        ``(N, B)`` when pairwise.
    """
    mse = _weighted_mean(maps.sq_err, regions.pixel, maps.valid, pairwise)
    energy = _weighted_mean(maps.target_sq, regions.pixel, maps.valid, pairwise)
    ssim = _weighted_mean(maps.ssim, regions.center, maps.valid_center, pairwise)
    tiny = torch.finfo(torch.float64).tiny
    dr2 = maps.data_range**2
    psnr = 10.0 * torch.log10(dr2 / mse.clamp_min(tiny))
    nmse = mse / energy.clamp_min(tiny)
    return {"mse": mse, "nmse": nmse, "psnr": psnr, "ssim": ssim}


def region_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    regions: Regions,
    data_range: torch.Tensor,
    valid: torch.Tensor | None = None,
) -> dict:
    """Item-wise region metrics ``mse``, ``nmse``, ``psnr``, ``ssim`` (each ``(B,)`` float64).

    Args:
        pred: ``(B, h, w)`` reconstructions.
        target: ``(B, h, w)`` targets.
        regions: ``B`` regions from :func:`make_regions`.
        data_range: ``(B,)``.
        valid: Optional validity mask ``(B, h, w)``.
    """
    return reduce_maps(error_maps(pred, target, data_range, valid), regions)


def box_metrics(
    pred: torch.Tensor,
    target: torch.Tensor,
    boxes: Sequence[Box],
    convention: str = "maxmin",
    valid: torch.Tensor | None = None,
) -> dict:
    """Region metrics of ``pred`` in ``boxes``, exactly as the attacks report them.

    The one entry point for scoring images outside an attack (e.g. a complete-image attack's
    reconstruction evaluated on a pathology box): boxes are grown to the SSIM window like the
    attacks' regions (:func:`make_regions`) and the data range is the whole target's, so a
    number computed here equals the same number computed inside an attack.

    Args:
        pred: ``(B, h, w)`` reconstructions.
        target: ``(B, h, w)`` targets.
        boxes: One box per image.
        convention: ``"maxmin"`` or ``"max"`` (:func:`data_range`).
        valid: Optional validity mask ``(B, h, w)``.

    Returns:
        Dict ``mse``, ``nmse``, ``psnr``, ``ssim`` of ``(B,)`` float64 tensors.
    """
    regions = make_regions(boxes, target.shape[-2:], device=target.device)
    return region_metrics(pred, target, regions, data_range(target, convention), valid)


def objective_value(
    objective: str, metrics: dict, mse0: torch.Tensor | None = None
) -> torch.Tensor:
    """Attack objective to maximise, ``(B,)``.

    Args:
        objective: ``"mse"``, ``"ssim"`` or ``"mse_ssim"``.
        metrics: Output of :func:`region_metrics` (differentiable).
        mse0: ``(B,)`` first-iterate MSE, required for ``"mse_ssim"``.
    """
    if objective == "mse":
        return metrics["mse"]
    if objective == "ssim":
        return 1.0 - metrics["ssim"]
    if objective == "mse_ssim":
        if mse0 is None:
            raise ValueError("objective 'mse_ssim' needs the first-iterate MSE mse0")
        return metrics["mse"] / mse0 + 1.0 - metrics["ssim"]
    raise AdvreconError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


def worst_index(per_angle: dict, select_by: str, window: torch.Tensor) -> torch.Tensor:
    """Index of the worst entry inside each window (first one on ties).

    Args:
        per_angle: Dict with ``"mse"``, ``"ssim"``, ``"psnr"`` tensors ``(N, A)``.
        select_by: ``"mse"`` (largest MSE, the paper), ``"ssim"`` or ``"psnr"`` (smallest).
        window: ``(T, A)`` boolean, the admissible angles per ``theta_max``.

    Returns:
        ``(N, T)`` long tensor of angle indices.
    """
    if select_by not in SELECT_BY:
        raise AdvreconError(f"select_by must be one of {SELECT_BY}, got {select_by!r}")
    score = per_angle[select_by]
    score = score if select_by == "mse" else -score
    score = torch.nan_to_num(score, nan=-torch.inf)
    masked = torch.where(
        window[None], score[:, None, :], torch.full_like(score[:, None], -torch.inf)
    )
    return masked.argmax(-1)
