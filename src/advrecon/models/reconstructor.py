"""One interface for every reconstruction model.

``recon(masked_kspace, mask, num_low_frequencies) -> image``

* ``masked_kspace``: complex ``(B, coils, H, W)`` (already multiplied by the mask),
* ``mask``: real, broadcastable to ``(B, 1, H, W)``; usually ``(B, 1, 1, W)`` (or ``(1, 1, 1, W)``),
* ``num_low_frequencies``: ``int``, ``None`` (derive from the mask) or a ``(B,)`` tensor,
* returns the real magnitude image ``(B, h, w)`` in the target frame, center-cropped to
  ``recon_size``; differentiable with respect to ``masked_kspace``.

During attacks the wrapped network is frozen (``requires_grad_(False)``) and in eval mode, so a
backward pass computes gradients for the input k-space only: every attack calls
:meth:`Reconstructor.freeze` before its first forward pass.

Implementations:

* :class:`ZeroFilled` -- RSS of the zero-filled inverse FFT (baseline, no learning);
* :class:`VarNetReconstructor` -- an E2E-VarNet (:class:`advrecon.models.varnet.VarNet`);
* :class:`UnetReconstructor` -- fastMRI's image-domain U-Net pipeline;
* :class:`ScriptedReconstructor` -- a TorchScript file;
* :class:`CallableReconstructor` -- any module with the same call signature (``module:callable``).

Every output is checked on every call (shape, dtype, finiteness, and that it still depends
differentiably on the k-space when the k-space requires a gradient; no extra forward pass), so
a misbehaving user model stops with a :class:`ModelError` naming the model and the problem
instead of a torch traceback deep inside an attack.

Coil count: VarNet estimates one sensitivity map per coil and the U-Net sees the RSS image, so
neither depends on the number of coils it was trained with (a different count works, though
results may degrade). Set ``expected_coils`` on a reconstructor whose model *does* fix the coil
count (e.g. a scripted model with coils as channels) to get a clear error on a mismatch.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from advrecon.errors import AdvreconError, InputFileError
from advrecon.models.unet import Unet
from advrecon.models.varnet import VarNet
from advrecon.mri import center_crop, ifft2c, rss

__all__ = [
    "ModelError",
    "check_output",
    "call_user_model",
    "one_line",
    "Reconstructor",
    "ZeroFilled",
    "VarNetReconstructor",
    "UnetReconstructor",
    "ScriptedReconstructor",
    "CallableReconstructor",
]


class ModelError(AdvreconError):
    """A reconstruction model misbehaved (raised, or returned a wrong/NaN/detached output)."""

    def __init__(self, model: str, problem: str) -> None:
        self.model = model
        self.problem = problem
        super().__init__(f"model {model}: {problem}")


def one_line(exc: BaseException) -> str:
    """``"TypeError: first line of the message"`` (for errors that wrap a user's exception)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def call_user_model(
    label: str,
    module: nn.Module,
    masked_kspace: torch.Tensor,
    mask: torch.Tensor,
    num_low_frequencies: object,
) -> object:
    """Call a user's model; an exception it raises becomes a one-line :class:`ModelError`.

    Out-of-memory errors and advrecon's own errors pass through unchanged; the original
    exception stays attached as ``__cause__`` for debugging from Python.
    """
    try:
        return module(masked_kspace, mask, num_low_frequencies)
    except (torch.OutOfMemoryError, AdvreconError):
        raise
    except Exception as exc:
        raise ModelError(
            label,
            f"raised {one_line(exc)} (called with k-space of shape {tuple(masked_kspace.shape)})",
        ) from exc


def check_output(
    image: object, masked_kspace: torch.Tensor, recon_size: tuple[int, int], model: str
) -> torch.Tensor:
    """Check a model's raw output before it is cropped (cheap: no extra forward pass).

    Args:
        image: What the model returned; must be a real floating tensor ``(B, h', w')`` with
            ``h' >= h, w' >= w`` for ``(h, w) = recon_size`` and ``B`` the k-space batch, all
            finite, and attached to the autograd graph when ``masked_kspace`` requires grad.
        masked_kspace: The complex ``(B, coils, H, W)`` input.
        recon_size: ``(h, w)``.
        model: The model's label for the message.

    Returns:
        ``image`` unchanged.

    Raises:
        ModelError: naming the model and the first problem found.
    """
    batch = masked_kspace.shape[0]
    if not isinstance(image, torch.Tensor):
        raise ModelError(model, f"returned a {type(image).__name__}, expected a tensor (B, h, w)")
    shape = tuple(image.shape)
    if image.is_complex() or not image.is_floating_point():
        raise ModelError(
            model, f"returned a {image.dtype} image, expected a real floating magnitude image"
        )
    if image.ndim != 3 or shape[0] != batch:
        raise ModelError(
            model, f"returned shape {shape} for a batch of {batch}, expected ({batch}, h, w)"
        )
    if shape[-2] < recon_size[0] or shape[-1] < recon_size[1]:
        raise ModelError(
            model, f"returned images of size {shape[-2:]}, smaller than the recon size {recon_size}"
        )
    if masked_kspace.requires_grad and torch.is_grad_enabled() and not image.requires_grad:
        raise ModelError(
            model,
            "output is not differentiable with respect to the k-space input (detached, "
            "computed under no_grad or not from the input); attacks need its gradient",
        )
    if not bool(torch.isfinite(image).all()):
        raise ModelError(model, f"returned NaN or infinite values (output shape {shape})")
    return image


class Reconstructor(nn.Module):
    """Base class: subclasses implement :meth:`reconstruct` on full-size k-space.

    Args:
        recon_size: Output ``(h, w)``; the image is center-cropped to it (fastMRI: 320x320).
    """

    def __init__(self, recon_size: tuple[int, int] = (320, 320)) -> None:
        super().__init__()
        self.recon_size = (int(recon_size[0]), int(recon_size[1]))
        #: coil count the model requires, or None when any count works (checked by forward)
        self.expected_coils: int | None = None
        #: checkpoint metadata when loaded through :func:`advrecon.models.load_reconstructor`
        self.metadata: dict = {}
        #: how error messages name the model (the spec or checkpoint when loaded from one)
        self.label: str = type(self).__name__

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
        """Reconstruct and center-crop.

        Args:
            masked_kspace: Complex ``(B, coils, H, W)``, already masked.
            mask: Real or bool ``(B or 1, 1, 1 or H, W)``.
            num_low_frequencies: ``int``, ``None`` (derive from the mask) or ``(B,)`` tensor.

        Returns:
            Real ``(B, h, w)`` with ``(h, w) = recon_size``.

        Raises:
            ModelError: the model returned a wrong shape/dtype, NaN/Inf, or an output cut off
                from the k-space's autograd graph (see :func:`check_output`).
        """
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
        if self.expected_coils is not None and masked_kspace.shape[1] != self.expected_coils:
            raise ValueError(
                f"this model needs {self.expected_coils} coils but the k-space has "
                f"{masked_kspace.shape[1]}"
            )
        image = self.reconstruct(masked_kspace, mask, num_low_frequencies)
        if isinstance(image, torch.Tensor) and image.ndim == 4 and image.shape[1] == 1:
            image = image[:, 0]  # (B, 1, h, w), fastMRI's channel layout: one channel is fine
        check_output(image, masked_kspace, self.recon_size, self.label)
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


class VarNetReconstructor(Reconstructor):
    """E2E-VarNet behind the common interface.

    Converts to fastMRI's layout at the boundary (k-space ``(B, coils, H, W, 2)``, bool mask
    ``(B, 1, 1, W, 1)``) and crops the RSS output to ``recon_size``.

    Args:
        varnet: The network.
        recon_size: Output ``(h, w)``.
    """

    def __init__(self, varnet: VarNet, recon_size: tuple[int, int] = (320, 320)) -> None:
        super().__init__(recon_size)
        self.varnet = varnet

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        if mask.shape[-2] != 1:
            raise ValueError(
                f"VarNet needs a column mask of shape (B, 1, 1, W), got {tuple(mask.shape)}"
            )
        fm_mask = mask.bool().unsqueeze(-1)
        return self.varnet(torch.view_as_real(masked_kspace), fm_mask, num_low_frequencies)


class UnetReconstructor(Reconstructor):
    """fastMRI's U-Net pipeline (``UnetDataTransform`` + ``UnetModule``) behind the interface.

    Zero-filled inverse FFT, center crop of the coil images to ``recon_size``, coil RSS,
    per-item instance normalisation ``(x - mean) / (std + 1e-11)`` (unbiased std), clamp to
    ``[-6, 6]``, U-Net, and un-normalisation ``output * std + mean``. (fastMRI's special case for
    images narrower than the crop, FLAIR 203, is not reproduced: such k-space raises.)

    Args:
        unet: A :class:`~advrecon.models.unet.Unet` with one input and one output channel.
        recon_size: Output ``(h, w)``.
    """

    eps = 1e-11

    def __init__(self, unet: Unet, recon_size: tuple[int, int] = (320, 320)) -> None:
        super().__init__(recon_size)
        self.unet = unet

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        h, w = self.recon_size
        if masked_kspace.shape[-2] < h or masked_kspace.shape[-1] < w:
            raise ValueError(
                f"k-space of size {tuple(masked_kspace.shape[-2:])} is smaller than the recon "
                f"size {self.recon_size}"
            )
        image = rss(center_crop(ifft2c(masked_kspace), self.recon_size), dim=1)  # (B, h, w)
        flat = image.flatten(1)
        mean = flat.mean(dim=1)[:, None, None]
        std = flat.std(dim=1)[:, None, None]
        normalised = ((image - mean) / (std + self.eps)).clamp(-6, 6)
        output = self.unet(normalised.unsqueeze(1)).squeeze(1)
        return output * std + mean


def _nlf_tensor(
    num_low_frequencies: int | torch.Tensor | None, batch: int, device: torch.device
) -> torch.Tensor:
    if num_low_frequencies is None:
        return torch.zeros(batch, dtype=torch.long, device=device)
    t = torch.as_tensor(num_low_frequencies, device=device).to(torch.long).reshape(-1)
    return t.expand(batch).clone() if t.numel() == 1 else t


class ScriptedReconstructor(Reconstructor):
    """A TorchScript model file behind the interface.

    The scripted module is called as ``module(masked_kspace, mask, num_low_frequencies)`` with
    complex ``(B, coils, H, W)`` k-space, a float ``(B or 1, 1, 1, W)`` mask and an int64 ``(B,)``
    tensor (0 = unknown) and must return a real ``(B, h', w')`` image with ``h' >= h, w' >= w``.
    Loading TorchScript executes code stored in the file: load only files you trust.

    Args:
        path: The ``.pt``/``.ts`` TorchScript archive (``torch.jit.save``), or a loaded module.
        recon_size: Output ``(h, w)``.
        device: Where to load it.
    """

    def __init__(
        self,
        path: str | Path | torch.jit.ScriptModule,
        recon_size: tuple[int, int] = (320, 320),
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(recon_size)
        if isinstance(path, (str, Path)):
            self.label = str(path)
            try:
                path = torch.jit.load(str(path), map_location=device)
            except Exception as exc:  # RuntimeError / ValueError from the archive reader
                raise InputFileError(
                    path, f"is not a loadable TorchScript archive ({one_line(exc)})"
                ) from None
        self.module = path

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        nlf = _nlf_tensor(num_low_frequencies, masked_kspace.shape[0], masked_kspace.device)
        return call_user_model(self.label, self.module, masked_kspace, mask.to(torch.float32), nlf)


class CallableReconstructor(Reconstructor):
    """Any module called as ``module(masked_kspace, mask, num_low_frequencies) -> (B, h', w')``.

    Same argument conventions as :meth:`Reconstructor.forward`; the output is center-cropped to
    ``recon_size``. Used for ``module:callable`` specs (a factory returning such a module).

    Args:
        module: The model.
        recon_size: Output ``(h, w)``.
    """

    def __init__(self, module: nn.Module, recon_size: tuple[int, int] = (320, 320)) -> None:
        super().__init__(recon_size)
        self.module = module

    def reconstruct(self, masked_kspace, mask, num_low_frequencies=None):
        return call_user_model(self.label, self.module, masked_kspace, mask, num_low_frequencies)
