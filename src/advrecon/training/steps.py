"""Pieces of the training loop: batches, mask seeds, losses, validation.

Everything here is a plain function on tensors and :class:`~advrecon.data.fastmri.SliceSample`
lists, so :mod:`advrecon.training.loop` only orchestrates (epochs, optimizer, checkpoints) and
each piece is testable on its own.

The recipe follows fastMRI's Lightning modules:

* **Masks.** Training draws a new random mask for every sample in every epoch; validation uses
  one fixed mask per volume (fastMRI seeds validation masks with the file name). Here both seeds
  are derived from names, not from a shared random stream, so a run gives the same masks whatever
  the number of processes, data-loader workers, or where it was resumed.
* **Targets.** ``reconstruction_rss`` when the file has it, else the RSS of the fully-sampled
  k-space cropped to ``recon_size`` (:func:`advrecon.mri.kspace_to_target`).
* **Losses.** VarNet: ``1 - SSIM`` with ``data_range`` = the volume's maximum
  (fastMRI's ``SSIMLoss`` with ``batch.max_value``). U-Net: L1 on the instance-normalised image
  (fastMRI's ``UnetDataTransform``: mean/std of the cropped zero-filled input, target clamped to
  ``[-6, 6]``).
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from advrecon.experiments.distributed import all_reduce_sum
from advrecon.metrics import nmse, psnr, ssim
from advrecon.models.reconstructor import Reconstructor, ZeroFilled
from advrecon.mri import kspace_to_target

__all__ = [
    "Batch",
    "make_batches",
    "train_mask_seed",
    "val_mask_seed",
    "batch_loss",
    "concat_batches",
    "slice_losses",
    "validate",
    "state_dict_hash",
    "take",
    "VAL_METRICS",
]

logger = logging.getLogger(__name__)

# normalised-target clamp of fastMRI's UnetDataTransform
_UNET_CLAMP = 6.0
_EPS = 1e-11

VAL_METRICS = ("ssim", "psnr", "nmse")


# -- batches ----------------------------------------------------------------------------------


@dataclass
class Batch:
    """Slices of one shape, masked and on the device.

    Attributes:
        masked_kspace: Complex ``(B, coils, H, W)``.
        mask: float32 ``(B, 1, 1, W)``.
        num_low_frequencies: ``int`` or ``(B,)`` long tensor.
        target: Real ``(B, h, w)``.
        max_value: ``(B,)`` volume maximum of the target (fastMRI's ``max_value``).
        kspace: Fully-sampled complex ``(B, coils, H, W)`` (robust training's budgets and
            threat models), or ``None``.
        acquired: float32 ``(B, 1, 1, W)`` 0/1 acquired columns ``[padding_left,
            padding_right)``, or ``None`` (all).
    """

    masked_kspace: torch.Tensor
    mask: torch.Tensor
    num_low_frequencies: int | torch.Tensor
    target: torch.Tensor
    max_value: torch.Tensor
    kspace: torch.Tensor | None = None
    acquired: torch.Tensor | None = None

    @property
    def size(self) -> int:
        return int(self.masked_kspace.shape[0])


def train_mask_seed(seed: int, epoch: int, fname: str, slice_num: int) -> int:
    """Seed of the training mask of one slice in one epoch: new every epoch, reproducible."""
    return zlib.crc32(f"{seed}:{epoch}:{fname}:{slice_num}".encode())


def val_mask_seed(fname: str) -> int:
    """Seed of the validation mask: fixed per volume, as fastMRI seeds it with the file name."""
    return zlib.crc32(fname.encode())


def make_batches(
    samples: Sequence,
    mask_func: Callable,
    seeds: Sequence[int],
    device: torch.device | str,
    recon_size: tuple[int, int],
) -> list[Batch]:
    """Group slices by shape, stack them, apply per-item masks.

    Slices of different k-space widths (common in fastMRI) cannot share a tensor, so a
    mini-batch becomes one :class:`Batch` per shape; the caller weights each by its size.

    Args:
        samples: ``SliceSample`` objects (``kspace (coils, H, W)``, ``target``, ``padding``,
            ``max_value``).
        mask_func: An :mod:`advrecon.masks` mask function.
        seeds: One mask seed per sample.
        device: Where the tensors go.
        recon_size: ``(h, w)`` of the targets (center crop of the RSS when a file has no
            ``reconstruction_rss``).

    Returns:
        One :class:`Batch` per distinct k-space shape, in order of first appearance.
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, s in enumerate(samples):
        groups.setdefault(tuple(s.kspace.shape), []).append(i)
    batches = []
    for idx in groups.values():
        kspace = torch.stack([torch.as_tensor(samples[i].kspace) for i in idx]).to(device)
        pads = [_padding(samples[i], kspace.shape[-1]) for i in idx]
        mask, nlf = mask_func(tuple(kspace.shape), seed=[seeds[i] for i in idx], padding=pads)
        mask = mask.to(device)
        if isinstance(nlf, torch.Tensor):
            nlf = nlf.to(device)
        masked = kspace * mask + 0.0  # "+ 0.0": no -0.0 entries, as fastMRI
        targets = []
        for i in idx:
            t = samples[i].target
            if t is None:
                t = kspace_to_target(torch.as_tensor(samples[i].kspace)[None], recon_size)[0]
            targets.append(torch.as_tensor(t, dtype=torch.float32))
        target = torch.stack(targets).to(device)
        max_value = torch.tensor(
            [_max_value(samples[i], targets[j]) for j, i in enumerate(idx)],
            dtype=torch.float32,
            device=device,
        )
        acquired = torch.zeros((len(idx), 1, 1, kspace.shape[-1]), device=device)
        for j, (left, right) in enumerate(pads):
            acquired[j, ..., left:right] = 1.0
        batches.append(Batch(masked, mask, nlf, target, max_value, kspace, acquired))
    return batches


def _padding(sample, width: int) -> tuple[int, int]:
    pad = getattr(sample, "padding", None)
    if pad is None:
        return (0, width)
    return (int(pad[0]), int(pad[1]))


def _max_value(sample, target: torch.Tensor) -> float:
    value = getattr(sample, "max_value", None)
    if value is None or not float(value) > 0.0:
        return float(target.max())
    return float(value)


# -- losses -----------------------------------------------------------------------------------


def batch_loss(arch: str, recon: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """Sum over the batch of the per-slice training loss (the caller divides).

    Args:
        arch: ``"varnet"`` (``1 - SSIM``, data range = volume max) or ``"unet"`` (L1 on the
            instance-normalised image).
        recon: The reconstructor (possibly DDP-wrapped); ``(masked_kspace, mask, nlf) ->
            (B, h, w)``.
        batch: One :class:`Batch`.

    Returns:
        Scalar tensor: the sum of the per-slice losses.
    """
    return slice_losses(arch, recon, batch).sum()


def slice_losses(arch: str, recon: torch.nn.Module, batch: Batch) -> torch.Tensor:
    """The training loss of every slice of ``batch``, ``(B,)`` (see :func:`batch_loss`)."""
    pred = recon(batch.masked_kspace, batch.mask, batch.num_low_frequencies)
    if arch == "varnet":
        return 1.0 - ssim(pred, batch.target, batch.max_value)
    # U-Net: fastMRI normalises input and target with the mean/std of the cropped zero-filled
    # image; the reconstructor does the same and un-normalises its output, so (pred - mean) / std
    # is exactly the network's output and the loss is fastMRI's L1 on normalised images.
    with torch.no_grad():
        h, w = batch.target.shape[-2:]
        zf = ZeroFilled((h, w))(batch.masked_kspace, batch.mask)
        mean = zf.mean(dim=(-2, -1), keepdim=True)
        std = zf.std(dim=(-2, -1), keepdim=True) + _EPS
        target_n = ((batch.target - mean) / std).clamp(-_UNET_CLAMP, _UNET_CLAMP)
    pred_n = (pred - mean) / std
    return (pred_n - target_n).abs().mean(dim=(-2, -1))


def concat_batches(batches: Sequence[Batch]) -> Batch:
    """One :class:`Batch` of the slices of ``batches`` (same k-space shape), in order.

    Robust training puts the clean and the perturbed slices into one forward pass (under DDP a
    step has exactly one forward per backward).
    """
    first = batches[0]
    nlfs = [b.num_low_frequencies for b in batches]
    if all(not isinstance(n, torch.Tensor) for n in nlfs) and len(set(nlfs)) == 1:
        nlf: int | torch.Tensor = nlfs[0]
    else:
        nlf = torch.cat(
            [
                n.reshape(-1).expand(b.size)
                if isinstance(n, torch.Tensor)
                else torch.full((b.size,), int(n), device=b.mask.device)
                for n, b in zip(nlfs, batches, strict=True)
            ]
        )

    def cat(name: str) -> torch.Tensor | None:
        parts = [getattr(b, name) for b in batches]
        if any(p is None for p in parts):
            return None
        return torch.cat(
            [p.expand(b.size, *p.shape[1:]) for p, b in zip(parts, batches, strict=True)]
        )

    return Batch(
        cat("masked_kspace"), cat("mask"), nlf, cat("target"), cat("max_value"),
        cat("kspace") if first.kspace is not None else None, cat("acquired"),
    )  # fmt: skip


# -- validation -------------------------------------------------------------------------------


@torch.no_grad()
def validate(
    recon: Reconstructor,
    dataset,
    indices: Sequence[int],
    mask_func: Callable,
    device: torch.device | str,
    recon_size: tuple[int, int],
    batch_size: int = 1,
) -> dict[str, float]:
    """Mean SSIM / PSNR / NMSE of ``recon`` and of the zero-filled baseline over all ranks.

    Each rank evaluates its own ``indices`` (disjoint shards of the validation set); sums and
    counts are all-reduced, so every rank returns the same numbers. SSIM and PSNR use the
    volume's maximum as data range (fastMRI's evaluation).

    Args:
        recon: The (unwrapped) reconstructor; put in eval mode here, restored afterwards.
        dataset: Validation ``SliceDataset``.
        indices: The slice indices this rank evaluates.
        mask_func: Mask function; seeded per volume (:func:`val_mask_seed`).
        device: Device of the model.
        recon_size: Target ``(h, w)``.
        batch_size: Slices per forward pass.

    Returns:
        ``{"ssim", "psnr", "nmse", "zf_ssim", "zf_psnr", "zf_nmse", "num_slices"}``.
    """
    was_training = recon.training
    recon.eval()
    zero_filled = ZeroFilled(recon_size)
    sums = torch.zeros(2 * len(VAL_METRICS) + 1, dtype=torch.float64, device=device)
    for start in range(0, len(indices), batch_size):
        samples = [dataset[i] for i in indices[start : start + batch_size]]
        seeds = [val_mask_seed(s.fname) for s in samples]
        for b in make_batches(samples, mask_func, seeds, device, recon_size):
            for k, model in enumerate((recon, zero_filled)):
                pred = model(b.masked_kspace, b.mask, b.num_low_frequencies)
                values = (
                    ssim(pred, b.target, b.max_value),
                    psnr(pred, b.target, b.max_value),
                    nmse(pred, b.target),
                )
                for j, v in enumerate(values):
                    sums[k * len(VAL_METRICS) + j] += v.double().sum()
            sums[-1] += b.size
    recon.train(was_training)
    sums = all_reduce_sum(sums)
    n = max(float(sums[-1]), 1.0)
    out: dict[str, float] = {}
    for k, prefix in enumerate(("", "zf_")):
        for j, name in enumerate(VAL_METRICS):
            out[prefix + name] = float(sums[k * len(VAL_METRICS) + j]) / n
    out["num_slices"] = int(sums[-1])
    return out


# -- helpers ----------------------------------------------------------------------------------


def state_dict_hash(module: torch.nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers (names, shapes, exact bytes)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def take(iterable, n: int | None) -> Iterator:
    """The first ``n`` items (all when ``n`` is None)."""
    for i, x in enumerate(iterable):
        if n is not None and i >= n:
            return
        yield x
