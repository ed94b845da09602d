"""k-space spikes: a few corrupted k-space samples, the herringbone / corduroy artefact.

Physics. An electrostatic discharge (a spark from a loose contact, clothing, a failing light
bulb or gradient coil vibration) during the readout adds a short burst to the received signal.
All receiver channels are digitised at the same time, so the burst lands on *one* k-space
sample position ``(ky, kx)`` of every coil, with a coil-dependent amplitude and phase (how
strongly and with what delay it couples into each channel). In the image, a spike at offset
``(u, v)`` from the k-space centre with value ``s_j`` in coil ``j`` adds the complex sinusoid
``s_j / sqrt(H W) exp(2 pi i (u (y - H//2) / H + v (x - W//2) / W))`` (orthonormal ``fft2c``)
to that coil image: stripes of spatial frequency ``(u / H, v / W)`` across the whole image (Zhuo
and Gullapalli, "MR artifacts, safety, and quality control", RadioGraphics 26(1):275-297,
2006; Jin et al., Magn. Reson. Med. 78(1):327-340, 2017, remove them as sparse outliers).

Parametrisation. ``delta`` ``(n, C, H, W)`` complex, dense, non-zero at no more than ``count``
positions; a position carries one value per coil (the same sample of every coil, as a real
spike). Bound: ``|delta_j(p)| <= A = a max|k|`` for every coil ``j`` and position ``p``, with
``max|k|`` the largest magnitude of the slice's fully-sampled k-space over *all* coils (one
number per slice: a discharge couples into every channel with comparable strength, unrelated
to how much signal a coil sees, so the bound is an absolute level, not a fraction of each
coil's own peak). Spikes sit only on acquired samples (the mask's columns inside the acquired
padding): a spike elsewhere would never be measured. Action: ``k -> k + delta`` then the mask;
map back: the identity.

Search (:class:`~advrecon.attacks.spikes.search.GreedySpikes`): gradient-guided greedy
placement (``count`` rounds: the gradient of the region objective with respect to ``delta``;
a full-amplitude spike at the acquired position of largest first-order gain
``A sum_j |g_j(p)|`` with phases ``arg g_j(p)``), then ``refine_steps`` projected steps on the
chosen spikes' values (amplitude clamped to ``A``); the best evaluated point is returned. Cost:
``count + refine_steps`` forward+backward passes and one forward pass per item.

Baseline: ``n_random`` draws of ``count`` random acquired positions with random phases at the
full amplitude. Control: the fully-sampled ``k + delta``, RSS, crop (no model).

One concept a module: :mod:`~advrecon.attacks.spikes.threat` (:class:`KspaceSpikes`),
:mod:`~advrecon.attacks.spikes.search` (the greedy search),
:mod:`~advrecon.attacks.spikes.describe` (count, amplitude, position of the spikes),
:mod:`~advrecon.attacks.spikes.attack` (:func:`spikes_attack`),
:mod:`~advrecon.attacks.spikes.result` (:class:`SpikesResult`),
:mod:`~advrecon.attacks.spikes.config` (the section ``attacks.spikes``),
:mod:`~advrecon.attacks.spikes.units` (the runner's entry) and
:mod:`~advrecon.attacks.spikes.plugin` (the plug-in).
"""

from __future__ import annotations

from advrecon.attacks.spikes.attack import SpikesOptions, spikes_attack
from advrecon.attacks.spikes.config import AMPLITUDE_SCALE, SpikesAttackConfig, spikes_batch_groups
from advrecon.attacks.spikes.result import SpikesResult
from advrecon.attacks.spikes.search import GreedySpikes
from advrecon.attacks.spikes.threat import KspaceSpikes, acquired_support
from advrecon.attacks.spikes.units import run_spikes_units

__all__ = [
    "AMPLITUDE_SCALE",
    "GreedySpikes",
    "KspaceSpikes",
    "SpikesAttackConfig",
    "SpikesOptions",
    "SpikesResult",
    "acquired_support",
    "run_spikes_units",
    "spikes_attack",
    "spikes_batch_groups",
]
