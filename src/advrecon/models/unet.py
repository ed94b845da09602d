"""U-Net with fastMRI's architecture and parameter names.

The module tree (``down_sample_layers``, ``conv``, ``up_transpose_conv``, ``up_conv``) mirrors
``fastmri.models.Unet`` exactly, so a fastMRI state dict loads with ``strict=True`` and gives the
same output. Each level is: two 3x3 convolutions (no bias), each followed by instance norm,
LeakyReLU(0.2) and channel dropout; 2x2 average pooling going down, a 2x2 transposed convolution
going up, skip connections by channel concatenation, and a final 1x1 convolution.

Optional activation checkpointing (:meth:`Unet.set_checkpointing`) recomputes each level during
the backward pass instead of storing its activations: identical outputs and gradients, a fraction
of the memory, about one extra forward pass of compute.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = ["Unet", "ConvBlock", "TransposeConvBlock"]


class ConvBlock(nn.Module):
    """Two (3x3 conv -> instance norm -> LeakyReLU(0.2) -> Dropout2d) layers.

    Args:
        in_chans: Input channels.
        out_chans: Output channels.
        drop_prob: Channel dropout probability.
    """

    def __init__(self, in_chans: int, out_chans: int, drop_prob: float) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.out_chans = out_chans
        self.drop_prob = drop_prob
        layers: list[nn.Module] = []
        for c_in in (in_chans, out_chans):
            layers += [
                nn.Conv2d(c_in, out_chans, kernel_size=3, padding=1, bias=False),
                nn.InstanceNorm2d(out_chans),
                nn.LeakyReLU(negative_slope=0.2, inplace=True),
                nn.Dropout2d(drop_prob),
            ]
        self.layers = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(N, in_chans, H, W)`` -> ``(N, out_chans, H, W)``."""
        return self.layers(image)


class TransposeConvBlock(nn.Module):
    """2x2 stride-2 transposed conv (no bias) -> instance norm -> LeakyReLU(0.2).

    Args:
        in_chans: Input channels.
        out_chans: Output channels.
    """

    def __init__(self, in_chans: int, out_chans: int) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.out_chans = out_chans
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_chans, out_chans, kernel_size=2, stride=2, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``(N, in_chans, H, W)`` -> ``(N, out_chans, 2H, 2W)``."""
        return self.layers(image)


def _up_step(
    transpose_conv: nn.Module, conv: nn.Module, x: torch.Tensor, skip: torch.Tensor
) -> torch.Tensor:
    """Upsample ``x``, match the skip's size (odd sizes), concatenate, convolve."""
    x = transpose_conv(x)
    # Pooling floors odd sizes, so the upsampled map can be one pixel short: reflect-pad it on
    # the right/bottom (fastMRI's rule) before concatenating with the skip connection.
    pad_right = 1 if x.shape[-1] != skip.shape[-1] else 0
    pad_bottom = 1 if x.shape[-2] != skip.shape[-2] else 0
    if pad_right or pad_bottom:
        x = F.pad(x, [0, pad_right, 0, pad_bottom], "reflect")
    return conv(torch.cat([x, skip], dim=1))


class Unet(nn.Module):
    """U-Net (Ronneberger et al. 2015) as in fastMRI.

    Args:
        in_chans: Channels of the input.
        out_chans: Channels of the output.
        chans: Channels after the first convolution; doubled at every pooling level.
        num_pool_layers: Number of down-/up-sampling levels.
        drop_prob: Channel dropout probability.
        use_checkpoint: Recompute each level in the backward pass (activation checkpointing)
            instead of storing its activations. Does not change outputs or the state dict.
    """

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        chans: int = 32,
        num_pool_layers: int = 4,
        drop_prob: float = 0.0,
        use_checkpoint: bool = False,
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.out_chans = out_chans
        self.chans = chans
        self.num_pool_layers = num_pool_layers
        self.drop_prob = drop_prob
        self.use_checkpoint = use_checkpoint

        self.down_sample_layers = nn.ModuleList([ConvBlock(in_chans, chans, drop_prob)])
        ch = chans
        for _ in range(num_pool_layers - 1):
            self.down_sample_layers.append(ConvBlock(ch, 2 * ch, drop_prob))
            ch *= 2
        self.conv = ConvBlock(ch, 2 * ch, drop_prob)

        self.up_conv = nn.ModuleList()
        self.up_transpose_conv = nn.ModuleList()
        for _ in range(num_pool_layers - 1):
            self.up_transpose_conv.append(TransposeConvBlock(2 * ch, ch))
            self.up_conv.append(ConvBlock(2 * ch, ch, drop_prob))
            ch //= 2
        self.up_transpose_conv.append(TransposeConvBlock(2 * ch, ch))
        self.up_conv.append(
            nn.Sequential(
                ConvBlock(2 * ch, ch, drop_prob),
                nn.Conv2d(ch, out_chans, kernel_size=1, stride=1),
            )
        )

    def set_checkpointing(self, enabled: bool = True) -> Unet:
        """Switch per-level activation checkpointing on or off; returns ``self``."""
        self.use_checkpoint = bool(enabled)
        return self

    def _run(self, fn, *args: torch.Tensor) -> torch.Tensor:
        if self.use_checkpoint and torch.is_grad_enabled():
            return checkpoint(fn, *args, use_reentrant=False)
        return fn(*args)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Apply the U-Net.

        Args:
            image: ``(N, in_chans, H, W)`` real.

        Returns:
            ``(N, out_chans, H, W)`` real.
        """
        stack = []
        output = image
        for layer in self.down_sample_layers:
            output = self._run(layer, output)
            stack.append(output)
            output = F.avg_pool2d(output, kernel_size=2, stride=2, padding=0)
        output = self._run(self.conv, output)
        for transpose_conv, conv in zip(self.up_transpose_conv, self.up_conv, strict=True):
            skip = stack.pop()
            output = self._run(
                lambda x, s, t=transpose_conv, c=conv: _up_step(t, c, x, s), output, skip
            )
        return output
