"""SNR shift: added complex Gaussian k-space noise at ``m`` times the thermal noise level.

The distribution-shift baseline of the noise attack: a scan with lower SNR (a smaller voxel, a
shorter acquisition, a worse coil, a higher field of view in the phase direction) has more
white complex Gaussian noise on every acquired k-space sample. Receiver noise is white,
zero-mean, complex Gaussian and independent between k-space samples; its level per coil is the
thermal sigma ``sigma_i`` (Macovski, "Noise in MRI", Magn. Reson. Med. 36:494-497, 1996;
multicoil: Roemer et al., Magn. Reson. Med. 16:192-225, 1990). Adding ``z`` with
``E|z|^2 = m^2 sigma_i^2`` per sample raises the noise variance by ``1 + m^2``: the SNR falls by
``sqrt(1 + m^2)`` (``m = 1``: as a scan of half the averages; ``m = 3``: a tenth).

Parametrisation and unit. ``z`` ``(n, C, H, W)`` complex, zero off the support ``Omega``: the
acquired phase-encode columns ``[padding_left, padding_right)`` -- every sample of the
fully-sampled k-space inside the padding, before masking (default), or with ``measured_only``
only the columns the mask samples. The budget ``m`` (``sigma_multiple``) bounds each coil's
root mean square over ``Omega`` in units of that coil's thermal sigma,
``rms_i(z) = ||z_i|| / sqrt(n_Omega) <= m sigma_i``, with ``sigma_i`` from the image background
(:func:`advrecon.noise_level.estimate_noise_sigma`, per coil, or given). This is exactly the
noise attack's ``noise_to_thermal`` (``||z_i|| / (sigma_i sqrt(n_i))`` over the same support,
mean over coils; the row's ``noise_to_thermal`` is computed by the same function), so an
adversarial ``eta`` and a random ``m`` compare on one axis.

Where the noise goes. The model sees ``M (k + z)``, and ``M (k + z) = M (k + M z)``: noise on
the acquired but unsampled samples never reaches the model. The two choices of support thus
give the same reconstruction input for the same noise on the measured samples; they differ
only in (1) the control image (every acquired sample noisy, as a scanner records it, vs only
the sampled columns) and (2) the normalisation: with the default the RMS over all acquired
samples is exactly ``m sigma_i`` and the RMS over the measured ones is ``m sigma_i`` up to the
chi-square spread of a subset (relative ``1 / (2 sqrt(n_measured))``, 0.2 % on a 4x fastMRI
knee coil); with ``measured_only`` the measured RMS is exact. The default matches the noise
attack's default (``measured_only: false``), so both ``noise_to_thermal`` are RMS over the same
samples.

Feasible set and draws. Gaussian noise has no hard bound, so the threat class is defined by
its draws: a complex Gaussian on ``Omega`` rescaled per coil to ``rms_i = m sigma_i`` exactly
(a point of the sphere, as the noise attack's random baseline), and feasible means
``rms_i(z) <= m sigma_i (1 + 1e-6)`` for every coil and ``z = 0`` off ``Omega`` (the slack is
the float32 rounding of the rescaling). Rescaling removes the chi-square spread of a plain
draw's norm (relative ``1 / (2 sqrt(n_Omega))``, 0.1 % on a fastMRI coil), so a budget is the
same noise power on every draw and compares with the adversarial per-coil L2 balls.

Threat model: random only. There is no adversarial search: for each item ``n_draws`` draws are
reconstructed; the **worst** (lowest region SSIM) is reported in the ``adv_*`` columns (and its
image as ``adversarial``), the **mean** over the same draws in ``rand_mean_*`` and the per-metric
worst in ``rand_worst_*``. Every budget of a box scales the same draws (common random numbers),
so the curve over ``m`` is a scaling of fixed noise realisations. Control: the fully-sampled
``k + z`` of the reported draw, RSS, crop (no model). No gradient is used.

One module per concept: :mod:`~advrecon.attacks.snr.threat` (:class:`ThermalNoise`),
:mod:`~advrecon.attacks.snr.draws` (the draws, the worst, the summary),
:mod:`~advrecon.attacks.snr.batch` (the items of a call, the thermal sigma, the chunks),
:mod:`~advrecon.attacks.snr.attack` (:func:`snr_attack`), :mod:`~advrecon.attacks.snr.result`
(:class:`SnrResult`), :mod:`~advrecon.attacks.snr.config` (the section ``attacks.snr`` and its
batches), :mod:`~advrecon.attacks.snr.units` (the experiment runner's entry) and
:mod:`~advrecon.attacks.snr.plugin` (the plug-in declaration).
"""

from __future__ import annotations

from advrecon.attacks.snr.attack import SnrOptions, snr_attack
from advrecon.attacks.snr.batch import thermal_sigma
from advrecon.attacks.snr.config import RULE, SnrAttackConfig, snr_batch_groups
from advrecon.attacks.snr.draws import WorstDraw, worst_of_draws
from advrecon.attacks.snr.result import SnrResult
from advrecon.attacks.snr.threat import FEASIBLE_RTOL, ThermalNoise
from advrecon.attacks.snr.units import run_snr_units

__all__ = [
    "FEASIBLE_RTOL",
    "RULE",
    "SnrAttackConfig",
    "SnrOptions",
    "SnrResult",
    "ThermalNoise",
    "WorstDraw",
    "run_snr_units",
    "snr_attack",
    "snr_batch_groups",
    "thermal_sigma",
    "worst_of_draws",
]
