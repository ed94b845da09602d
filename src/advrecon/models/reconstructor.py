"""One interface for every reconstruction model.

``recon(masked_kspace, mask, num_low_frequencies) -> image``

* ``masked_kspace``: complex ``(B, coils, H, W)`` (already multiplied by the mask),
* ``mask``: real, broadcastable to ``(B, 1, H, W)``; usually ``(B, 1, 1, W)`` (or ``(1, 1, 1, W)``),
* ``num_low_frequencies``: ``int``, ``None`` (derive from the mask) or a ``(B,)`` tensor,
* returns the real magnitude image ``(B, h, w)`` in the target frame, center-cropped to
  ``recon_size``; differentiable with respect to ``masked_kspace``.

During attacks the wrapped network is frozen (``requires_grad_(False)``) and in eval mode, so a
backward pass computes gradients for the input k-space only: :meth:`Reconstructor.freeze`.
"""

from __future__ import annotations

import torch
from torch import nn

from advrecon.mri import center_crop, ifft2c, rss

__all__ = ["Reconstructor", "ZeroFilled"]


class Reconstructor(nn.Module):
    """Base class: subclasses implement :meth:`reconstruct` on full-size k-space.

    Args:
        recon_size: Output ``(h, w)``; the image is center-cropped to it (fastMRI: 320x320).
    """

    def __init__(self, recon_size: tuple[int, int] = (320, 320)) -> None:
        super().__init__()
        self.recon_size = (int(recon_size[0]), int(recon_size[1]))

    def reconstruct(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None,
    ) -> torch.Tensor:
        """Return the image ``(B, h', w')`` (any size >= ``recon_size``); cropped by forward."""
        raise NotImplementedError

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        if not masked_kspace.is_complex() or masked_kspace.ndim != 4:
            raise ValueError(
                "masked_kspace must be complex with shape (B, coils, H, W), got "
                f"{tuple(masked_kspace.shape)} {masked_kspace.dtype}"
            )
        W = masked_kspace.shape[-1]
        if mask.shape[-1] != W or mask.ndim != 4:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not fit k-space of shape "
                f"{tuple(masked_kspace.shape)}: expected (B or 1, 1, 1 or H, {W})"
            )
        image = self.reconstruct(masked_kspace, mask, num_low_frequencies)
        h, w = self.recon_size
        if image.shape[-2] < h or image.shape[-1] < w:
            raise ValueError(
                f"reconstruction of size {tuple(image.shape[-2:])} is smaller than the recon "
                f"size {self.recon_size}"
            )
        return center_crop(image, self.recon_size)

    def freeze(self) -> Reconstructor:
        """Eval mode and no parameter gradients: what every attack requires."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self


class ZeroFilled(Reconstructor):
    """Zero-filled baseline: RSS of the inverse FFT of the masked k-space (no learning)."""

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        return rss(ifft2c(masked_kspace), dim=1)
