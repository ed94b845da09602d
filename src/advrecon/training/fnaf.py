"""FNAF training (Cheng et al., MIDL 2020): learn to keep small features the model would lose.

For each training slice a random box (:func:`advrecon.training.adversary.random_boxes`) gets a
small bright disc of :data:`FEATURE_SIZE` pixels at a random position; its pixel values are the
feature-insertion threat model's (:class:`~advrecon.attacks.feature.FeatureInsertion`: amplitude
at most ``eta`` percent of the mean target intensity in the box, at least half of the uniform
feature's mass), and its shape is optimised by the threat model's own search
(:func:`advrecon.attacks.feature.descent.descend`, ``steps`` signed-gradient passes) so that the
reconstruction shows as little of it as possible. The feature is added to the fully-sampled
k-space through fixed coil maps; the training target gets the same feature (the difference of
the fully-sampled images with and without it). The loss on this slice is added to the clean
loss (``mix`` weighs the two).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from advrecon.attacks._common import frozen
from advrecon.training.adversary import random_boxes
from advrecon.training.recipe import RobustRecipe
from advrecon.training.steps import Batch

__all__ = ["FEATURE_SIZE", "FEATURE_STEP", "MIN_FILL", "feature_batch"]

#: Diameter of the disc feature in pixels (the feature attack's default size).
FEATURE_SIZE = 5
#: Signed-gradient step relative to the amplitude bound (the feature attack's default).
FEATURE_STEP = 0.25
#: Least mass of the feature as a fraction of the uniform feature's (the attack's default).
MIN_FILL = 0.5


def feature_batch(
    recon, batch: Batch, recipe: RobustRecipe, generators: list[torch.Generator]
) -> Batch:
    """The batch with the worst-shaped feature inserted in each slice (acquisition and target).

    Args:
        recon: The unwrapped reconstructor; frozen during the feature search.
        batch: Training slices with their fully-sampled ``kspace`` ``(B, C, H, W)``.
        recipe: ``eta`` (contrast in percent of the box mean) and ``steps``.
        generators: One per slice (box, then position).

    Returns:
        A :class:`Batch` with ``masked_kspace`` ``M k_F`` and ``target`` ``X + (X_F - X)``.
    """
    from advrecon.attacks.feature.descent import descend
    from advrecon.attacks.feature.insertion import add_feature, fixed_coil_maps, object_phase
    from advrecon.attacks.feature.shapes import box_mean, random_positions, shape_mask
    from advrecon.attacks.feature.threat import FeatureInsertion
    from advrecon.mri import kspace_to_target

    if batch.kspace is None:
        raise ValueError("fnaf training needs the fully-sampled k-space in the batch")
    k, mask, nlf = batch.kspace, batch.mask, batch.num_low_frequencies
    size = tuple(batch.target.shape[-2:])
    boxes = random_boxes(size, generators)
    with frozen(recon), torch.no_grad():
        clean = recon(batch.masked_kspace, mask, nlf)
        maps = fixed_coil_maps(k, mask, nlf)
        phase = object_phase(k, maps)
    shape = shape_mask("disc", FEATURE_SIZE, k.real.dtype, k.device)
    pos = random_positions(boxes, FEATURE_SIZE, generators)
    bound = (recipe.eta * 0.01 * box_mean(batch.target, boxes)).to(k.real.dtype)
    threat = FeatureInsertion(
        recon, k, mask, nlf, maps, phase, shape, pos, bound, MIN_FILL * bound * shape.sum(),
        1.0, clean,
    )  # fmt: skip
    with frozen(recon):
        q, _, _, _ = descend(threat, recipe.steps, FEATURE_STEP)
    with torch.no_grad():
        k_f = add_feature(k, maps, phase, threat.feature(q.detach()))
        shift = kspace_to_target(k_f, size) - kspace_to_target(k, size)
        masked = k_f * mask + 0.0
    return replace(batch, masked_kspace=masked, kspace=k_f, target=batch.target + shift)
