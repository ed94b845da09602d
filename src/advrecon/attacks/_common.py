"""Plumbing shared by the noise and rotation attacks: input checks, items, chunks, freezing.

An *item* is one (slice, box) pair. ``boxes`` passed to an attack hold one :class:`Box` per
k-space slice, or a list of boxes per slice; they are flattened to items, and ``item_index``
maps each item back to its slice. Attacks process items (or (slice, angle) pairs) in chunks of
at most ``chunk_size`` per model forward.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from advrecon.boxes import Box
from advrecon.errors import AdvreconError

__all__ = [
    "check_count",
    "runs_on",
    "frozen",
    "recon_size_of",
    "check_kspace_mask",
    "check_padding",
    "flatten_boxes",
    "select_mask",
    "select_nlf",
    "chunk_ranges",
]


@contextlib.contextmanager
def frozen(recon) -> Iterator[None]:
    """Run an attack with the model in eval mode and without parameter gradients.

    The user's module is switched to ``eval()`` and every parameter to ``requires_grad=False``
    for the duration of the attack only; the previous training flag and ``requires_grad`` flags
    are restored on exit (also on error). The weights themselves are never touched. A plain
    callable (not an ``nn.Module``) is used as is.
    """
    if not isinstance(recon, nn.Module):
        yield
        return
    modes = [(m, m.training) for m in recon.modules()]
    flags = [(p, p.requires_grad) for p in recon.parameters()]
    recon.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training
        for p, flag in flags:
            p.requires_grad_(flag)


def recon_size_of(recon, recon_size: Sequence[int] | None) -> tuple[int, int]:
    """Reconstruction size ``(h, w)``: the argument, else ``recon.recon_size``."""
    size = recon_size if recon_size is not None else getattr(recon, "recon_size", None)
    if size is None:
        raise AdvreconError(
            "the reconstructor has no recon_size attribute; pass recon_size=(h, w) to the attack"
        )
    return int(size[0]), int(size[1])


def check_kspace_mask(kspace: torch.Tensor, mask: torch.Tensor) -> None:
    """Raise :class:`AdvreconError` unless k-space ``(B,C,H,W)`` complex and mask fit together."""
    if not torch.is_tensor(kspace) or not kspace.is_complex():
        raise AdvreconError(
            "kspace must be a complex tensor (B, coils, H, W); convert fastMRI's (..., 2) layout "
            "with advrecon.mri.from_fastmri_layout"
        )
    if kspace.ndim != 4:
        raise AdvreconError(f"kspace must have shape (B, coils, H, W), got {tuple(kspace.shape)}")
    B, _, H, W = kspace.shape
    ok = (
        torch.is_tensor(mask)
        and not mask.is_complex()
        and mask.ndim == 4
        and mask.shape[0] in (1, B)
        and mask.shape[1] == 1
        and mask.shape[2] in (1, H)
        and mask.shape[3] == W
    )
    if not ok:
        shape = tuple(mask.shape) if torch.is_tensor(mask) else type(mask).__name__
        raise AdvreconError(
            f"mask of shape {shape} does not fit k-space of shape {tuple(kspace.shape)}: "
            f"expected a real tensor (1 or {B}, 1, 1 or {H}, {W})"
        )


def runs_on(models: Sequence[str] | None, model_name: str) -> bool:
    """Whether a config section restricted to ``models`` (``None``: every model) runs on
    ``model_name``."""
    return models is None or model_name in models


def check_count(name: str, value) -> int:
    """``value`` as an int, or a one-line error unless it is a non-negative integer."""
    if int(value) != value or value < 0:
        raise AdvreconError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


def check_padding(padding: Sequence[int] | None, width: int) -> tuple[int, int]:
    """Acquired columns ``[left, right)``; ``None`` means all ``width`` columns."""
    if padding is None:
        return 0, width
    left, right = int(padding[0]), int(padding[1])
    if not 0 <= left < right <= width:
        raise AdvreconError(
            f"padding {tuple(padding)} must satisfy 0 <= padding_left < padding_right <= {width}"
        )
    return left, right


def flatten_boxes(boxes, batch: int) -> tuple[list[Box], torch.Tensor]:
    """Flatten ``boxes`` (one Box or a list of Boxes per slice) into items.

    Returns:
        ``(items, item_index)``: the list of boxes and a ``(N,)`` long tensor of slice indices.
    """
    if isinstance(boxes, Box):
        boxes = [boxes]
    boxes = list(boxes)
    if len(boxes) != batch:
        raise AdvreconError(
            f"boxes must hold one Box (or a list of Boxes) per k-space slice: got {len(boxes)} "
            f"entries for {batch} slices"
        )
    items: list[Box] = []
    index: list[int] = []
    for b, entry in enumerate(boxes):
        group = [entry] if isinstance(entry, Box) else list(entry)
        if not group:
            raise AdvreconError(f"slice {b} has an empty list of boxes")
        for box in group:
            if not isinstance(box, Box):
                raise AdvreconError(f"boxes for slice {b} must be advrecon.boxes.Box objects")
            items.append(box)
            index.append(b)
    return items, torch.tensor(index, dtype=torch.long)


def select_mask(mask: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Mask rows for the given slice indices (a shared ``(1,...)`` mask is returned as is)."""
    return mask if mask.shape[0] == 1 else mask[index.to(mask.device)]


def select_nlf(nlf, index: torch.Tensor):
    """``num_low_frequencies`` for the given slice indices (int / None pass through)."""
    if torch.is_tensor(nlf) and nlf.ndim > 0 and nlf.numel() > 1:
        return nlf[index.to(nlf.device)]
    return nlf


def chunk_ranges(total: int, chunk_size: int | None) -> list[range]:
    """Consecutive ranges covering ``range(total)`` with at most ``chunk_size`` elements."""
    if chunk_size is not None and int(chunk_size) < 1:
        raise AdvreconError(f"chunk_size must be a positive integer, got {chunk_size}")
    size = total if chunk_size is None else int(chunk_size)
    size = max(size, 1)
    return [range(s, min(s + size, total)) for s in range(0, total, size)]
