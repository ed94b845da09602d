"""Hallucinated features (false positives): k-space noise that draws a feature into the box.

Within the paper's per-coil k-space budget (``||z_i|| <= eta ||k_i||``, zero off the acquired
columns: :class:`advrecon.attacks.noise.KspaceNoise`, imported unchanged, its projection and
``l2`` step), push the reconstruction towards a target that holds a feature absent from the
data -- a ``blob`` (disc) or a ``line`` of ``size`` pixels in the centre of the box, amplitude
``contrast`` (percent of the mean target intensity in the box) -- while the rest of the image
stays as it was. With ``r(z) = f(M(k + z))``, the clean reconstruction ``r0 = f(M k)``, the
feature ``F`` and its support ``S_f``, the objective (maximised) is

    ``-mean_{S_f} (r(z) - (r0 + F))^2 - mu * mean_{outside S_f} (r(z) - r0)^2``.

The reference is the *clean reconstruction* ``r0`` rather than the fully-sampled ``X``: the
attack is asked to add the feature, not to repair the model's own errors, and "the rest stays
unchanged" means unchanged from what the model showed without the attack. Search: the generic
:class:`~advrecon.attacks.search.ProjectedGradient` (rule ``l2``, best iterate), random start on
the coils' spheres.

Reported (``halluc_*``, :func:`advrecon.attacks.feature.measures.measures` with ``D = r - r0``):
the fraction of the wanted feature that appears (``<D, F> / ||F||^2``), its contrast (percent
of the box mean; ``halluc_gain`` = that contrast per percent of ``eta``), its contrast-to-noise
ratio against the thermal noise of the magnitude image, and ``halluc_rest_percent`` (RMS of
``D`` outside ``S_f``, percent of the box mean); ``rand_halluc_*`` the same for random noise of
the same per-coil norm (mean over ``n_random`` draws); ``noise_to_thermal`` as for the noise
attack.

Modules: :mod:`.threat` (:class:`Hallucination`), :mod:`.chunk` (search + baseline + columns
of a chunk), :mod:`.attack` (:func:`hallucination_attack`), :mod:`.config` (the config section
and batch groups), :mod:`.units` (the runner's entry), :mod:`.plugin` (the plug-in). The result
is the feature attack's :class:`~advrecon.attacks.feature.result.FeatureResult`.
"""

from __future__ import annotations

from advrecon.attacks.hallucination.attack import HallucinationOptions, hallucination_attack
from advrecon.attacks.hallucination.config import (
    HallucinationAttackConfig,
    hallucination_batch_groups,
)
from advrecon.attacks.hallucination.threat import Hallucination
from advrecon.attacks.hallucination.units import run_hallucination_units

__all__ = [
    "Hallucination",
    "HallucinationAttackConfig",
    "HallucinationOptions",
    "hallucination_attack",
    "hallucination_batch_groups",
    "run_hallucination_units",
]
