"""The adversary of adversarial training: a threat model of the registry on a training batch.

For each training slice the adversary builds the threat model's ``threat`` instance (its
parametrisation, feasible set and action on the acquisition), starts from a random feasible
point (``draw``) and runs a few passes of APGD or PGD (:mod:`advrecon.attacks.search`, through
``ascent_step`` / ``project``) on the objective in a random box of the slice (or the whole
image). The model is frozen for the search (:func:`advrecon.attacks._common.frozen`: eval mode,
no parameter gradients) and given back as it was; the perturbed acquisition is returned as a
:class:`~advrecon.training.steps.Batch`, detached, for the weight update.

Builders (:data:`ADVERSARIES`): ``noise`` (:class:`~advrecon.attacks.noise.KspaceNoise`, budget
``eta ||k_i||`` per coil on the acquired columns) and ``motion``
(:class:`~advrecon.attacks.motion.RigidMotion`: 4 interleaved shots, fewer where the mask
samples too few columns outside its centre band; centre in shot 0, split too on tiny masks;
coils moving with the patient; ``|theta_s| <= eta`` degrees, ``|t_y|, |t_x| <= eta`` pixels).
Any other registered threat model whose ``threat`` class has a classmethod
``for_training(recon, batch, eta, boxes, generators)`` is used through it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch

from advrecon.attacks._common import frozen
from advrecon.attacks.objectives import WIN_SIZE, make_regions
from advrecon.attacks.objectives import data_range as data_range_of
from advrecon.attacks.search import APGD, ProjectedGradient
from advrecon.boxes import Box
from advrecon.errors import AdvreconError, ConfigError
from advrecon.training.recipe import RobustRecipe
from advrecon.training.steps import Batch

__all__ = [
    "ADVERSARIES",
    "MOTION_SHOTS",
    "PGD_STEP",
    "adversarial_batch",
    "check_adversary",
    "make_threat",
    "random_boxes",
]

#: Shots of the motion adversary.
MOTION_SHOTS = 4
#: Normalised step of the PGD search (relative to each coil's budget / the box half-width).
PGD_STEP = 0.5
#: Fraction of the image side of a random target box.
BOX_FRACTION = 0.25


def random_boxes(size: tuple[int, int], generators: Sequence[torch.Generator]) -> list[Box]:
    """One box per slice, ``BOX_FRACTION`` of each side (at least the SSIM window), uniformly
    placed inside the ``(h, w)`` image (one draw of two uniforms from each slice's generator).
    """
    h, w = size
    bh, bw = (
        min(h, max(WIN_SIZE, round(h * BOX_FRACTION))),
        min(w, max(WIN_SIZE, round(w * BOX_FRACTION))),
    )
    out = []
    for g in generators:
        u = torch.rand(2, generator=g, device=g.device).cpu()
        out.append(Box(int(u[1] * (w - bw + 1)), int(u[0] * (h - bh + 1)), bw, bh, "random"))
    return out


def _noise(recon, batch: Batch, eta: float, boxes: list[Box], regions, full, dr):
    """:class:`~advrecon.attacks.noise.KspaceNoise` of the batch: ``||z_i|| <= eta ||k_i||``."""
    from advrecon.attacks.noise import KspaceNoise
    from advrecon.attacks.noise.projection import coil_norm

    k = batch.kspace
    support = batch.acquired if batch.acquired is not None else torch.ones_like(batch.mask)
    budget = float(eta) * coil_norm(k)
    return KspaceNoise(
        recon, k, batch.mask, batch.num_low_frequencies, support.to(k.real.dtype), budget,
        batch.target, regions, full, dr,
    )  # fmt: skip


def _motion(recon, batch: Batch, eta: float, boxes: list[Box], regions, full, dr):
    """:class:`~advrecon.attacks.motion.RigidMotion` of the batch: ``eta`` degrees, ``eta`` px."""
    from advrecon.attacks.motion.acquisition import shot_index
    from advrecon.attacks.motion.threat import RigidMotion

    n, dev = batch.size, batch.kspace.device
    # fewer shots when the mask samples too few columns outside its centre band; as a last
    # resort (tiny masks) the centre band is split between the shots too
    tries = [(c, "reference") for c in range(MOTION_SHOTS, 1, -1)] + [(2, "distributed")]
    for count, centre in tries:
        try:
            nlf = batch.num_low_frequencies
            shots = shot_index(batch.mask, count, centre=centre, num_low_frequencies=nlf)
            break
        except AdvreconError:
            if centre == "distributed":
                raise
    bound = torch.full((n, 1, 3), float(eta), dtype=torch.float64, device=dev)
    free = torch.ones((n, count, 1), dtype=torch.float64, device=dev)
    free[:, 0] = 0.0  # shot 0 is the still reference
    return RigidMotion(
        recon, batch.kspace, batch.mask, batch.num_low_frequencies, shots.to(dev), None, bound,
        free, batch.target, regions, full, dr, float(eta),
    )  # fmt: skip


#: Threat model name -> builder ``(recon, batch, eta, boxes, regions, full, data_range)``.
ADVERSARIES: dict[str, Callable[..., Any]] = {"noise": _noise, "motion": _motion}
#: Config units -> the threat's own units (noise: percent -> fraction).
_SCALE = {"noise": 0.01, "motion": 1.0}


def check_adversary(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` can be the adversary of adversarial training."""
    if name in ADVERSARIES:
        return
    from advrecon.attacks.registry import threat_models

    known = threat_models()
    threat = known[name].threat if name in known else None
    if threat is None or not hasattr(threat, "for_training"):
        usable = sorted({*ADVERSARIES, *(k for k, v in known.items() if _trainable(v.threat))})
        raise ConfigError(
            f"robust_threat: {name!r} has no training adversary; choose one of {usable}"
        )


def _trainable(threat: Any) -> bool:
    return threat is not None and hasattr(threat, "for_training")


def make_threat(recon, batch: Batch, recipe: RobustRecipe, generators: list[torch.Generator]):
    """The threat instance of ``recipe.threat`` on ``batch`` (items = slices) and its boxes.

    Args:
        recon: The (unwrapped) reconstructor.
        batch: A :class:`Batch` with its fully-sampled ``kspace``.
        recipe: The robust recipe (``eta`` in config units).
        generators: One per slice (boxes first, then the search's random start).

    Returns:
        ``(threat, boxes)``.
    """
    size = tuple(batch.target.shape[-2:])
    boxes = (
        random_boxes(size, generators) if recipe.target == "box" else [Box.full(size)] * batch.size
    )
    dev = batch.kspace.device
    regions = make_regions(boxes, size, device=dev)
    full = make_regions([Box.full(size)] * batch.size, size, device=dev)
    dr = data_range_of(batch.target, "maxmin")
    if recipe.threat in ADVERSARIES:
        eta = recipe.eta * _SCALE[recipe.threat]
        return ADVERSARIES[recipe.threat](recon, batch, eta, boxes, regions, full, dr), boxes
    from advrecon.attacks.registry import get_threat_model

    cls = get_threat_model(recipe.threat).threat
    return cls.for_training(recon, batch, recipe.eta, boxes, generators), boxes


def adversarial_batch(
    recon, batch: Batch, recipe: RobustRecipe, generators: list[torch.Generator]
) -> Batch:
    """The batch with each slice's acquisition replaced by the adversary's (detached).

    The search runs with ``recon`` frozen (eval mode, ``requires_grad=False`` on every
    parameter) and restores both afterwards, so the parameters get no gradient from it.

    Args:
        recon: The unwrapped reconstructor (not the DDP wrapper: the search must not touch
            DDP's gradient bookkeeping).
        batch: Training slices with their fully-sampled ``kspace``.
        recipe: ``threat``, ``eta``, ``steps``, ``search``, ``objective``, ``target``.
        generators: One per slice.

    Returns:
        A :class:`Batch` whose ``masked_kspace`` is the perturbed acquisition ``M k(delta)``.
    """
    if batch.kspace is None:
        raise ValueError("adversarial training needs the fully-sampled k-space in the batch")
    with frozen(recon):
        threat, _ = make_threat(recon, batch, recipe, generators)
        if recipe.search == "apgd":
            search: Any = APGD(recipe.steps, recipe.objective)
        else:
            search = ProjectedGradient(recipe.steps, PGD_STEP, "l2", recipe.objective)
        delta0 = threat.draw(generators)
        delta, _, _, _ = search.run(threat, delta0)
        with torch.no_grad():
            masked = _acquisition(threat, delta.detach())
    return replace(batch, masked_kspace=masked.detach())


def _acquisition(threat, delta: torch.Tensor) -> torch.Tensor:
    """The masked acquisition ``M k(delta)`` the threat model feeds the reconstructor.

    Recorded from its ``reconstruct`` (any threat model's action, whatever its parametrisation)
    by a stand-in reconstructor that returns zeros.
    """
    seen: list[torch.Tensor] = []

    def record(masked_kspace, mask, nlf):
        seen.append(masked_kspace)
        return threat.target.new_zeros(threat.target.shape)

    out = replace(threat, recon=record).reconstruct(delta)
    del out
    return seen[0]
