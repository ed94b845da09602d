"""End-to-end variational network (Sriram et al. 2020) with fastMRI's parameter names.

``VarNet`` = a sensitivity network (:class:`SensitivityModel`) that estimates coil maps from the
auto-calibration (ACS) lines, followed by ``num_cascades`` unrolled blocks
(:class:`VarNetBlock`), each doing

``k <- k - dc_weight * mask * (k - k_ref) - F(S * NormUnet(sum_i conj(S_i) F^-1(k_i)))``

(soft data consistency plus a learned image-domain refinement; ``F S`` and its adjoint are
:func:`advrecon.operators.sens_expand` / :func:`~advrecon.operators.sens_reduce`), and a final
``rss(|F^-1(k)|)``. Module names and parameter shapes are those of ``fastmri.models.VarNet``, so a
fastMRI state dict (e.g. the knee leaderboard weights) loads with ``strict=True``.

The public ``forward`` methods take fastMRI's trailing-2 real layout ``(..., H, W, 2)``; the
arithmetic runs on native complex tensors (``torch.complex64``) internally.

Activation checkpointing (:meth:`VarNet.set_checkpointing`) recomputes each cascade and each
level of the sensitivity U-Net during the backward pass: identical outputs and gradients, and a
full-size attack step on the 12-cascade leaderboard VarNet fits in 3 GB instead of ~9 GB.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from advrecon.models.unet import Unet
from advrecon.mri import ifft2c, rss
from advrecon.operators import apply_mask, sens_expand, sens_reduce

__all__ = ["NormUnet", "SensitivityModel", "VarNetBlock", "VarNet", "center_columns"]


def _complex(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(x.contiguous())


class NormUnet(nn.Module):
    """U-Net on complex images with per-item normalisation and padding to multiples of 16.

    Real and imaginary parts become channels; each item is normalised by the mean and (unbiased)
    standard deviation of its real and of its imaginary channels, padded with zeros to a
    multiple of 16 in both dimensions, passed through the U-Net and mapped back.

    Args:
        chans: Channels of the U-Net's first convolution.
        num_pools: U-Net pooling levels.
        in_chans: Real input channels (2 x complex channels).
        out_chans: Real output channels (2 x complex channels).
        drop_prob: Dropout probability.
    """

    def __init__(
        self,
        chans: int,
        num_pools: int,
        in_chans: int = 2,
        out_chans: int = 2,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        self.unet = Unet(
            in_chans=in_chans,
            out_chans=out_chans,
            chans=chans,
            num_pool_layers=num_pools,
            drop_prob=drop_prob,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refine complex images.

        Args:
            x: ``(B, c, H, W, 2)`` real (fastMRI layout), ``2c == in_chans``.

        Returns:
            ``(B, out_chans // 2, H, W, 2)``.
        """
        if x.shape[-1] != 2:
            raise ValueError("NormUnet expects a trailing dimension of 2 (real, imaginary)")
        b, c, h, w, _ = x.shape
        # channels ordered [re_0..re_{c-1}, im_0..im_{c-1}] as in fastMRI
        x = x.permute(0, 4, 1, 2, 3).reshape(b, 2 * c, h, w)
        grouped = x.reshape(b, 2, c * h * w)
        mean = grouped.mean(dim=2).view(b, 2, 1, 1)
        std = grouped.std(dim=2).view(b, 2, 1, 1)
        x = (x.view(b, 2, c, h, w) - mean.unsqueeze(2)) / std.unsqueeze(2)
        x = x.view(b, 2 * c, h, w)

        h_mult, w_mult = ((h - 1) | 15) + 1, ((w - 1) | 15) + 1
        h_pad = [math.floor((h_mult - h) / 2), math.ceil((h_mult - h) / 2)]
        w_pad = [math.floor((w_mult - w) / 2), math.ceil((w_mult - w) / 2)]
        x = F.pad(x, w_pad + h_pad)

        x = self.unet(x)

        x = x[..., h_pad[0] : h_mult - h_pad[1], w_pad[0] : w_mult - w_pad[1]]
        c_out = x.shape[1] // 2
        x = x.reshape(b, 2, c_out, h, w) * std.unsqueeze(2) + mean.unsqueeze(2)
        return x.permute(0, 2, 3, 4, 1).contiguous()

    def forward_complex(self, x: torch.Tensor) -> torch.Tensor:
        """Complex ``(B, c, H, W)`` -> complex ``(B, out_chans // 2, H, W)``."""
        return _complex(self(torch.view_as_real(x)))


def num_low_frequencies_from_mask(
    mask: torch.Tensor, num_low_frequencies: int | torch.Tensor | None = None
) -> torch.Tensor:
    """Width of the fully-sampled center band, per item (fastMRI's rule).

    Where ``num_low_frequencies`` is ``None`` or 0, the band is the largest symmetric run of
    sampled columns around ``W // 2`` (at least 1).

    Args:
        mask: Bool or real ``(B or 1, ..., W)``; only the last dimension varies.
        num_low_frequencies: ``int``, ``None`` or a ``(B,)`` tensor (0 entries = derive).

    Returns:
        ``(B or 1,)`` int64.
    """
    cols = mask.reshape(mask.shape[0], -1, mask.shape[-1])[:, 0].to(torch.int8)
    cent = cols.shape[1] // 2
    left = torch.argmin(cols[:, :cent].flip(1), dim=1)
    right = torch.argmin(cols[:, cent:], dim=1)
    derived = torch.clamp(2 * torch.minimum(left, right), min=1)
    if num_low_frequencies is None:
        return derived
    given = torch.as_tensor(num_low_frequencies, device=mask.device).to(torch.long).reshape(-1)
    if given.numel() == 1 and mask.shape[0] > 1:
        given = given.expand(mask.shape[0])
    if derived.shape[0] == 1 and given.shape[0] > 1:
        derived = derived.expand(given.shape[0])
    return torch.where(given == 0, derived, given)


def center_columns(
    kspace: torch.Tensor, mask: torch.Tensor, num_low_frequencies: int | torch.Tensor | None
) -> torch.Tensor:
    """Keep only the central ``num_low_frequencies`` columns (the ACS band), zero elsewhere.

    The band is ``[pad, pad + n)`` with ``pad = (W - n + 1) // 2`` as in fastMRI.

    Args:
        kspace: Complex ``(B, coils, H, W)``.
        mask: ``(B or 1, 1, 1, W)``.
        num_low_frequencies: see :func:`num_low_frequencies_from_mask`.

    Returns:
        Complex ``(B, coils, H, W)``.
    """
    n = num_low_frequencies_from_mask(mask, num_low_frequencies).to(kspace.device)
    width = kspace.shape[-1]
    pad = (width - n + 1) // 2
    col = torch.arange(width, device=kspace.device)
    keep = (col >= pad[:, None]) & (col < (pad + n)[:, None])  # (B or 1, W)
    return torch.where(keep[:, None, None, :], kspace, torch.zeros((), dtype=kspace.dtype))


class SensitivityModel(nn.Module):
    """Coil-sensitivity estimation from the ACS lines.

    Inverse FFT of the center columns, a :class:`NormUnet` applied to each coil image separately
    (coils become batch items), normalisation by the root-sum-of-squares over coils.

    Args:
        chans: Channels of the U-Net's first convolution.
        num_pools: U-Net pooling levels.
        in_chans: Real input channels (2).
        out_chans: Real output channels (2).
        drop_prob: Dropout probability.
        mask_center: Use only the ACS band (True, fastMRI default) or all sampled lines.
    """

    def __init__(
        self,
        chans: int,
        num_pools: int,
        in_chans: int = 2,
        out_chans: int = 2,
        drop_prob: float = 0.0,
        mask_center: bool = True,
    ) -> None:
        super().__init__()
        self.mask_center = mask_center
        self.norm_unet = NormUnet(
            chans, num_pools, in_chans=in_chans, out_chans=out_chans, drop_prob=drop_prob
        )
        #: run the U-Net on this many coil images at a time (None: all at once, as fastMRI)
        self.chunk_size: int | None = None
        #: checkpoint each chunk (with ``chunk_size``) or each U-Net level (without)
        self.use_checkpoint = False

    def set_checkpointing(self, enabled: bool = True, chunk_size: int | None = None) -> None:
        """Activation checkpointing, optionally over chunks of coil images.

        Coil images are independent batch items of the U-Net (instance norm is per item), so
        ``chunk_size`` coils at a time give the same maps with a fraction of the activation and
        convolution-buffer memory. Chunking can change results at float rounding level (about
        1e-6 relative: convolution kernels may sum in another order for another batch size);
        with a fixed ``chunk_size``, checkpointing on/off gives identical results.
        """
        self.use_checkpoint = bool(enabled)
        self.chunk_size = None if chunk_size is None else int(chunk_size)
        self.norm_unet.unet.set_checkpointing(enabled and chunk_size is None)

    def _refine(self, images: torch.Tensor) -> torch.Tensor:
        if self.chunk_size is None:
            return self.norm_unet.forward_complex(images)
        parts = []
        for chunk in images.split(self.chunk_size, dim=0):
            if self.use_checkpoint and torch.is_grad_enabled():
                parts.append(checkpoint(self.norm_unet.forward_complex, chunk, use_reentrant=False))
            else:
                parts.append(self.norm_unet.forward_complex(chunk))
        return torch.cat(parts, dim=0)

    def forward_complex(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Complex ``(B, coils, H, W)`` k-space -> complex sensitivity maps ``(B, coils, H, W)``."""
        if self.mask_center:
            masked_kspace = center_columns(masked_kspace, mask, num_low_frequencies)
        b, c, h, w = masked_kspace.shape
        images = ifft2c(masked_kspace).reshape(b * c, 1, h, w)
        maps = self._refine(images).reshape(b, c, h, w)
        return maps / rss(maps, dim=1).unsqueeze(1)

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sensitivity maps in fastMRI layout.

        Args:
            masked_kspace: ``(B, coils, H, W, 2)``.
            mask: bool ``(B or 1, 1, 1, W, 1)``.
            num_low_frequencies: ``int``, ``None`` or ``(B,)``; ``None``/0 derives it from the mask.

        Returns:
            ``(B, coils, H, W, 2)``.
        """
        maps = self.forward_complex(_complex(masked_kspace), mask[..., 0], num_low_frequencies)
        return torch.view_as_real(maps)


class VarNetBlock(nn.Module):
    """One cascade: soft data consistency with learnable ``dc_weight`` plus a refinement model.

    Args:
        model: Image-domain refinement on ``(B, 1, H, W, 2)`` (a :class:`NormUnet`).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.dc_weight = nn.Parameter(torch.ones(1))

    def forward_complex(
        self,
        current_kspace: torch.Tensor,
        ref_kspace: torch.Tensor,
        mask: torch.Tensor,
        sens_maps: torch.Tensor,
    ) -> torch.Tensor:
        """Complex ``(B, coils, H, W)`` tensors, bool mask ``(B or 1, 1, 1, W)``."""
        soft_dc = apply_mask(current_kspace - ref_kspace, mask) * self.dc_weight
        combined = sens_reduce(current_kspace, sens_maps)
        refined = _complex(self.model(torch.view_as_real(combined)))
        model_term = sens_expand(refined, sens_maps)
        return current_kspace - soft_dc - model_term

    def forward(
        self,
        current_kspace: torch.Tensor,
        ref_kspace: torch.Tensor,
        mask: torch.Tensor,
        sens_maps: torch.Tensor,
    ) -> torch.Tensor:
        """fastMRI layout: k-spaces and maps ``(B, coils, H, W, 2)``, bool mask ``(B, 1, 1, W, 1)``.

        Returns:
            Updated k-space ``(B, coils, H, W, 2)``.
        """
        out = self.forward_complex(
            _complex(current_kspace), _complex(ref_kspace), mask[..., 0], _complex(sens_maps)
        )
        return torch.view_as_real(out)


class VarNet(nn.Module):
    """End-to-end variational network (fastMRI's ``VarNet``).

    Args:
        num_cascades: Number of unrolled cascades.
        sens_chans: Channels of the sensitivity U-Net.
        sens_pools: Pooling levels of the sensitivity U-Net.
        chans: Channels of each cascade's U-Net.
        pools: Pooling levels of each cascade's U-Net.
        mask_center: Estimate sensitivities from the ACS band only.
        use_checkpoint: Activation checkpointing (see :meth:`set_checkpointing`).
    """

    def __init__(
        self,
        num_cascades: int = 12,
        sens_chans: int = 8,
        sens_pools: int = 4,
        chans: int = 18,
        pools: int = 4,
        mask_center: bool = True,
        use_checkpoint: bool = False,
    ) -> None:
        super().__init__()
        self.config = {
            "num_cascades": num_cascades,
            "sens_chans": sens_chans,
            "sens_pools": sens_pools,
            "chans": chans,
            "pools": pools,
            "mask_center": mask_center,
        }
        self.sens_net = SensitivityModel(
            chans=sens_chans, num_pools=sens_pools, mask_center=mask_center
        )
        self.cascades = nn.ModuleList(
            [VarNetBlock(NormUnet(chans, pools)) for _ in range(num_cascades)]
        )
        self.use_checkpoint = False
        self.set_checkpointing(use_checkpoint)

    def set_checkpointing(self, enabled: bool = True, sens_chunk_size: int | None = None) -> VarNet:
        """Recompute activations in the backward pass instead of storing them.

        Checkpoints every cascade, and the sensitivity U-Net (whose batch is the number of
        coils, hence its large activations): every U-Net level, or -- with ``sens_chunk_size`` --
        chunks of that many coil images, which also bounds the forward pass's memory (use 1 for
        the smallest footprint: a 15 x 640 x 368 attack step on the 12-cascade leaderboard VarNet
        then peaks at 3.0 GB process RSS instead of 8.7 GB, measured on CPU). Outputs and
        gradients are identical with
        checkpointing on or off for the same ``sens_chunk_size``; see
        :meth:`SensitivityModel.set_checkpointing` for what chunking changes. Returns ``self``.
        """
        self.use_checkpoint = bool(enabled)
        self.sens_net.set_checkpointing(enabled, sens_chunk_size)
        return self

    def forward_complex(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Reconstruct from complex k-space.

        Args:
            masked_kspace: Complex ``(B, coils, H, W)``.
            mask: Bool ``(B or 1, 1, 1, W)``.
            num_low_frequencies: ``int``, ``None`` or ``(B,)``; ``None``/0 derives it from the mask.

        Returns:
            Real ``(B, H, W)`` RSS image (not cropped).
        """
        mask = mask.bool()
        sens_maps = self.sens_net.forward_complex(masked_kspace, mask, num_low_frequencies)
        kspace = masked_kspace
        for cascade in self.cascades:
            if self.use_checkpoint and torch.is_grad_enabled():
                kspace = checkpoint(
                    cascade.forward_complex,
                    kspace,
                    masked_kspace,
                    mask,
                    sens_maps,
                    use_reentrant=False,
                )
            else:
                kspace = cascade.forward_complex(kspace, masked_kspace, mask, sens_maps)
        return rss(ifft2c(kspace), dim=1)

    def forward(
        self,
        masked_kspace: torch.Tensor,
        mask: torch.Tensor,
        num_low_frequencies: int | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """fastMRI signature.

        Args:
            masked_kspace: ``(B, coils, H, W, 2)`` real.
            mask: Bool ``(B or 1, 1, 1, W, 1)``.
            num_low_frequencies: ``int``, ``None`` or ``(B,)``; ``None``/0 derives it from the mask.

        Returns:
            ``(B, H, W)`` RSS image (not cropped).
        """
        return self.forward_complex(_complex(masked_kspace), mask[..., 0], num_low_frequencies)
