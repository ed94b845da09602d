"""Missing features (false negatives): a small inserted feature the reconstruction loses.

After Cheng et al. (MIDL 2020, "Addressing the false negative problem of deep learning MRI
reconstruction models by adversarial attacks and robust training"). For each item (a slice
and a pathology box) a small feature ``F`` is added to the fully-sampled acquisition through the
fixed coil maps with the tissue's phase (:mod:`.insertion`), the k-space is masked and
reconstructed, and the feature's *shape* is optimised so that the reconstruction shows as
little of it as possible.

Parametrisation: the feature's pixel values ``q`` ``(n, s, s)`` on a ``disc`` or ``square`` of
``size`` pixels, placed in the centre of the box; ``F = sign * q`` (``polarity``: ``bright``
``+1`` or ``dark`` ``-1``). Feasible set: ``0 <= q <= c_max * mean(X in the box)`` on the shape
(the contrast bound is relative to the local tissue, ``contrast`` in percent) and
``sum(q) >= min_fill * c_max * mean * area``, so the feature cannot shrink to nothing (a
vanishing feature is trivially "not recovered"). Objective (minimised): the fraction of the
feature's energy recovered, ``rho = <f(M k_F) - f(M k), F> / ||F||^2``. Search: ``steps``
signed-gradient steps of ``step_size * c_max * mean`` from the uniform feature at full
contrast, each followed by the projection (clip, then the smallest uniform lift ``tau >= 0``
with ``sum(clip(q + tau)) >= floor``, found by bisection); the best iterate is kept. The search
is the feature's own: the generic :class:`~advrecon.attacks.search.ProjectedGradient` scores an
image alone, this objective also needs the feature.

Baseline: the optimised feature at ``n_random`` uniformly random positions inside the box
(``rand_feature_*`` = mean over the draws), and the uniform start (``feature_recovered_start``).
Visibility: ``feature_cnr`` = feature-weighted mean change of the reconstruction over the
thermal noise std of the magnitude image (:func:`advrecon.noise_level.estimate_noise_sigma`).
Zero contrast = no feature: the item's reconstruction is the clean one, bit for bit.
Metrics: ``clean_*`` the reconstruction without feature against ``X``; ``adv_*`` / ``rand_mean_*``
the reconstruction with the feature against the fully-sampled image with the same feature.

Modules: :mod:`.shapes` (shape masks, placement in a box), :mod:`.insertion` (adding a feature
to k-space through fixed coils), :mod:`.measures` (recovered fraction, contrast, CNR; shared
with the hallucination threat model), :mod:`.threat` (:class:`FeatureInsertion`),
:mod:`.descent` (the search), :mod:`.chunk` (search + baseline + columns of a chunk),
:mod:`.attack` (:func:`feature_attack`), :mod:`.result` (:class:`FeatureResult`),
:mod:`.config` (the config section and batch groups), :mod:`.units` (the runner's entry),
:mod:`.plugin` (the plug-in).
"""

from __future__ import annotations

from advrecon.attacks.feature.attack import FeatureOptions, feature_attack
from advrecon.attacks.feature.config import (
    CONTRAST_SCALE,
    FeatureAttackConfig,
    boxes_that_fit,
    feature_batch_groups,
)
from advrecon.attacks.feature.result import FeatureResult
from advrecon.attacks.feature.threat import POLARITY, FeatureInsertion
from advrecon.attacks.feature.units import feature_scores, run_feature_units

__all__ = [
    "CONTRAST_SCALE",
    "POLARITY",
    "FeatureAttackConfig",
    "FeatureInsertion",
    "FeatureOptions",
    "FeatureResult",
    "boxes_that_fit",
    "feature_attack",
    "feature_batch_groups",
    "feature_scores",
    "run_feature_units",
]
