"""The robust training loss: ``mix * L(clean) + (1 - mix) * L(perturbed)`` of every slice.

The perturbed slice comes from the recipe's remedy (:mod:`advrecon.training.recipe`): jitter
noise (:mod:`~advrecon.training.jitter`), the adversary's worst perturbation
(:mod:`~advrecon.training.adversary`) or an inserted feature (:mod:`~advrecon.training.fnaf`).
The clean and the perturbed slices go through the model in one forward pass (one forward per
backward, as DDP wants), and each slice's loss weights sum to one, so the loss keeps the scale
of standard training. The random draws of a slice (jitter noise, boxes, random starts) come
from a generator seeded by :func:`robust_seed` (the run's seed, epoch, file and slice), so a run
is reproducible and independent of the number of processes.
"""

from __future__ import annotations

import zlib

import torch

from advrecon.training.recipe import RobustRecipe
from advrecon.training.steps import Batch, concat_batches, slice_losses

__all__ = ["perturbed_batch", "robust_loss", "robust_seed"]


def robust_seed(seed: int, epoch: int, fname: str, slice_num: int) -> int:
    """Seed of a slice's robust-training draws in one epoch (new every epoch, reproducible)."""
    return zlib.crc32(f"robust:{seed}:{epoch}:{fname}:{slice_num}".encode())


def perturbed_batch(
    recon, batch: Batch, recipe: RobustRecipe, generators: list[torch.Generator]
) -> Batch:
    """``batch`` with the remedy's perturbation (detached; the model is given back unchanged).

    Args:
        recon: The unwrapped reconstructor.
        batch: Training slices with their fully-sampled ``kspace``.
        recipe: The remedy.
        generators: One per slice, on the batch's device.
    """
    if recipe.remedy == "jitter":
        from dataclasses import replace

        from advrecon.training.jitter import jitter_noise, measured_support

        support = measured_support(batch.mask, batch.acquired, batch.kspace.shape)
        noise = jitter_noise(batch.kspace, support, recipe.eta * 0.01, generators)
        return replace(batch, masked_kspace=batch.masked_kspace + noise)
    if recipe.remedy == "adversarial":
        from advrecon.training.adversary import adversarial_batch

        return adversarial_batch(recon, batch, recipe, generators)
    from advrecon.training.fnaf import feature_batch

    return feature_batch(recon, batch, recipe, generators)


def robust_loss(
    arch: str,
    model: torch.nn.Module,
    recon: torch.nn.Module,
    batch: Batch,
    recipe: RobustRecipe,
    seeds: list[int],
) -> torch.Tensor:
    """Sum over the slices of ``mix * L(clean) + (1 - mix) * L(perturbed)`` (the caller divides).

    Args:
        arch: ``"unet"`` or ``"varnet"`` (the loss of :func:`~advrecon.training.steps.
            slice_losses`).
        model: What the loss runs through (the DDP wrapper under torchrun).
        recon: The unwrapped reconstructor the perturbation is searched on.
        batch: ``B`` training slices.
        recipe: The remedy.
        seeds: ``B`` seeds (:func:`robust_seed`).

    Returns:
        Scalar tensor.
    """
    dev = batch.masked_kspace.device
    generators = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
    bad = perturbed_batch(recon, batch, recipe, generators)
    mix = float(recipe.mix)
    if mix == 0.0:
        return slice_losses(arch, model, bad).sum()
    both = slice_losses(arch, model, concat_batches([batch, bad]))
    return mix * both[: batch.size].sum() + (1.0 - mix) * both[batch.size :].sum()
